//! The ledger's self-check: the double-entry invariants, recomputed from entries.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::ledger::{BOOKED, LedgerError};
use crate::core::{AccountId, TransactionId};
use crate::store::DbConn;
use crate::store::schema::{core_accounts, core_entries, core_transactions};

/// The result of [`check_ledger`]: every way the books can disagree with
/// themselves. Empty lists mean the double-entry invariants hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerReport {
    pub accounts: usize,
    pub transactions: usize,
    /// Accounts whose stored balance differs from the sum of their booked entries.
    pub balance_mismatches: Vec<BalanceMismatch>,
    /// Transactions whose entries do not sum to zero, or that have fewer than two.
    pub unbalanced_transactions: Vec<TransactionId>,
    /// The sum of all stored balances; zero in a closed double-entry ledger.
    pub total_balance_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceMismatch {
    pub account: AccountId,
    pub stored_minor: i64,
    pub booked_entries_minor: i64,
}

impl LedgerReport {
    pub fn is_consistent(&self) -> bool {
        self.balance_mismatches.is_empty()
            && self.unbalanced_transactions.is_empty()
            && self.total_balance_minor == 0
    }
}

/// Recomputes every balance and every transaction's sum from the entries. Sums
/// are taken here rather than in SQL because PostgreSQL's `SUM(bigint)` is a
/// `numeric`, which the portable schema does not map; a sandbox ledger is small.
pub(super) fn check_ledger(conn: &mut DbConn) -> Result<LedgerReport, LedgerError> {
    let accounts: Vec<(String, i64)> = core_accounts::table
        .select((core_accounts::account_id, core_accounts::balance_minor))
        .order(core_accounts::account_id.asc())
        .load(conn)?;
    let transactions: Vec<String> = core_transactions::table
        .select(core_transactions::transaction_id)
        .load(conn)?;
    let entries: Vec<(String, String, i64, String)> = core_entries::table
        .inner_join(core_transactions::table)
        .select((
            core_entries::account_id,
            core_entries::transaction_id,
            core_entries::amount_minor,
            core_transactions::booking_status,
        ))
        .load(conn)?;

    let mut booked_by_account: BTreeMap<&str, i64> = BTreeMap::new();
    let mut by_transaction: BTreeMap<&str, (i64, usize)> =
        transactions.iter().map(|t| (t.as_str(), (0, 0))).collect();
    for (account, transaction, amount, status) in &entries {
        if status == BOOKED {
            *booked_by_account.entry(account).or_default() += amount;
        }
        let sum = by_transaction.entry(transaction).or_default();
        sum.0 += amount;
        sum.1 += 1;
    }
    let balance_mismatches = accounts
        .iter()
        .filter_map(|(id, stored)| {
            let booked = booked_by_account.get(id.as_str()).copied().unwrap_or(0);
            (booked != *stored).then(|| BalanceMismatch {
                account: AccountId(id.clone()),
                stored_minor: *stored,
                booked_entries_minor: booked,
            })
        })
        .collect();
    let unbalanced_transactions = by_transaction
        .iter()
        .filter(|(_, (sum, count))| *sum != 0 || *count < 2)
        .map(|(id, _)| TransactionId((*id).to_owned()))
        .collect();
    Ok(LedgerReport {
        accounts: accounts.len(),
        transactions: transactions.len(),
        balance_mismatches,
        unbalanced_transactions,
        total_balance_minor: accounts.iter().map(|(_, b)| b).sum(),
    })
}
