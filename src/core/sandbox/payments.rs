//! Payment execution, at most once per payment id (STYLE.md §12: idempotency is
//! storage). The `core_payments` row is the idempotency record and commits in the
//! same transaction as the entries it describes, so a replay after a crash or a
//! timeout returns the first outcome instead of moving money again.

use diesel::prelude::*;
use time::OffsetDateTime;

use super::ledger::{
    AccountRow, LedgerError, NewEntry, NewTransaction, account_by_iban, balance_figures,
    clearing_account, customer_only, insert_rows,
};
use crate::core::{PaymentId, PaymentOrder, PaymentOutcome, RejectReason, TransactionId};
use crate::store::schema::{
    core_accounts, core_entries, core_payments, core_psus, core_transactions,
};
use crate::store::{DbConn, to_db_time};

/// The account holder's name (the PSU's), or the account's own name.
pub(super) fn display_name(conn: &mut DbConn, account: &AccountRow) -> Result<String, LedgerError> {
    let Some(psu) = account.psu_id.as_deref() else {
        return Ok(account.name.clone());
    };
    let name: Option<String> = core_psus::table
        .find(psu)
        .select(core_psus::display_name)
        .first(conn)
        .optional()?;
    Ok(name.unwrap_or_else(|| account.name.clone()))
}

/// Executes an order at most once. Must run inside a write transaction: the
/// payment record, the entries and both balance updates commit together or not
/// at all. A concurrent duplicate fails on the `core_payments` primary key and
/// surfaces as a unique violation, which the caller turns into a re-read.
pub(super) fn submit_payment(
    conn: &mut DbConn,
    order: &PaymentOrder,
    now: OffsetDateTime,
) -> Result<PaymentOutcome, LedgerError> {
    if let Some(outcome) = payment_outcome(conn, &order.payment_id)? {
        return Ok(outcome);
    }
    match execute(conn, order, now)? {
        Ok(transaction_id) => {
            record_payment(conn, order, now, Ok(&transaction_id))?;
            Ok(PaymentOutcome::Executed {
                transaction_id: TransactionId(transaction_id),
            })
        }
        Err(reason) => {
            record_payment(conn, order, now, Err(reason))?;
            Ok(PaymentOutcome::Rejected { reason })
        }
    }
}

/// Checks the order and posts it; `Ok(Err(_))` is a business rejection.
fn execute(
    conn: &mut DbConn,
    order: &PaymentOrder,
    now: OffsetDateTime,
) -> Result<Result<String, RejectReason>, LedgerError> {
    let amount = order.amount.minor_units();
    // Paying one's own account would book two entries on it and move nothing.
    if amount <= 0 || order.debtor == order.creditor {
        return Ok(Err(RejectReason::Other));
    }
    // No-op updates take the row locks of both accounts before anything is read
    // (PostgreSQL), so two payments from one account cannot both spend the same
    // funds. Locking in IBAN order keeps opposite transfers from deadlocking; the
    // clearing account is only ever locked last. SQLite's IMMEDIATE transaction
    // already serialises writers.
    let mut parties = [order.debtor.as_str(), order.creditor.as_str()];
    parties.sort_unstable();
    for iban in parties {
        diesel::update(core_accounts::table.filter(core_accounts::iban.eq(iban)))
            .set(core_accounts::balance_minor.eq(core_accounts::balance_minor))
            .execute(conn)?;
    }
    let Some(debtor) = customer_only(account_by_iban(conn, order.debtor.as_str())?) else {
        return Ok(Err(RejectReason::UnknownDebtor));
    };
    if !debtor.is_enabled() {
        return Ok(Err(RejectReason::AccountBlocked));
    }
    let currency = debtor.currency()?;
    if order.amount.currency() != currency {
        return Ok(Err(RejectReason::CurrencyMismatch));
    }
    if balance_figures(conn, &debtor)?.available() < amount {
        return Ok(Err(RejectReason::InsufficientFunds));
    }
    let internal = customer_only(account_by_iban(conn, order.creditor.as_str())?);
    let (credit_account, credit_party_name, credit_party_iban) = match internal {
        Some(creditor) => {
            if !creditor.is_enabled() {
                return Ok(Err(RejectReason::Other));
            }
            if creditor.currency()? != currency {
                return Ok(Err(RejectReason::CurrencyMismatch));
            }
            let name = display_name(conn, &debtor)?;
            (creditor, name, Some(order.debtor.clone()))
        }
        None => match clearing_account(conn, currency)? {
            Some(clearing) => (
                clearing,
                order.creditor_name.clone(),
                Some(order.creditor.clone()),
            ),
            None => return Ok(Err(RejectReason::Other)),
        },
    };
    let remittance = order.remittance.clone().unwrap_or_default();
    let tx = NewTransaction::new(true, now, currency, remittance);
    let entries = [
        NewEntry::new(
            &tx,
            &debtor.account_id,
            -amount,
            &order.creditor_name,
            Some(&order.creditor),
        ),
        NewEntry::new(
            &tx,
            &credit_account.account_id,
            amount,
            &credit_party_name,
            credit_party_iban.as_ref(),
        ),
    ];
    diesel::insert_into(core_transactions::table)
        .values(&tx)
        .execute(conn)?;
    insert_rows!(conn, core_entries::table, &entries[..])?;
    for entry in &entries {
        diesel::update(core_accounts::table.find(&entry.account_id))
            .set(core_accounts::balance_minor.eq(core_accounts::balance_minor + entry.amount_minor))
            .execute(conn)?;
    }
    Ok(Ok(tx.transaction_id))
}

fn record_payment(
    conn: &mut DbConn,
    order: &PaymentOrder,
    now: OffsetDateTime,
    result: Result<&str, RejectReason>,
) -> Result<(), LedgerError> {
    let (status, reason, transaction_id) = match result {
        Ok(transaction_id) => ("executed", None, Some(transaction_id)),
        Err(reason) => ("rejected", Some(reject_reason_code(reason)), None),
    };
    diesel::insert_into(core_payments::table)
        .values((
            core_payments::payment_id.eq(order.payment_id.as_str()),
            core_payments::debtor_iban.eq(order.debtor.as_str()),
            core_payments::creditor_iban.eq(order.creditor.as_str()),
            core_payments::amount_minor.eq(order.amount.minor_units()),
            core_payments::currency.eq(order.amount.currency().as_str()),
            core_payments::status.eq(status),
            core_payments::reject_reason.eq(reason),
            core_payments::transaction_id.eq(transaction_id),
            core_payments::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The recorded outcome of a submission, if the core has seen this payment id.
pub(super) fn payment_outcome(
    conn: &mut DbConn,
    id: &PaymentId,
) -> Result<Option<PaymentOutcome>, LedgerError> {
    let row: Option<(String, Option<String>, Option<String>)> = core_payments::table
        .find(id.as_str())
        .select((
            core_payments::status,
            core_payments::reject_reason,
            core_payments::transaction_id,
        ))
        .first(conn)
        .optional()?;
    let Some((status, reason, transaction_id)) = row else {
        return Ok(None);
    };
    let tx = || {
        transaction_id
            .clone()
            .map(TransactionId)
            .ok_or_else(|| LedgerError::Corrupt("settled payment without transaction".into()))
    };
    let outcome = match status.as_str() {
        "executed" => PaymentOutcome::Executed {
            transaction_id: tx()?,
        },
        "pending" => PaymentOutcome::Pending {
            transaction_id: tx()?,
        },
        "rejected" => PaymentOutcome::Rejected {
            reason: parse_reject_reason(reason.as_deref()),
        },
        other => return Err(LedgerError::Corrupt(format!("payment status {other:?}"))),
    };
    Ok(Some(outcome))
}

fn reject_reason_code(reason: RejectReason) -> &'static str {
    match reason {
        RejectReason::InsufficientFunds => "insufficient_funds",
        RejectReason::UnknownDebtor => "unknown_debtor",
        RejectReason::AccountBlocked => "account_blocked",
        RejectReason::CurrencyMismatch => "currency_mismatch",
        RejectReason::Other => "other",
    }
}

fn parse_reject_reason(code: Option<&str>) -> RejectReason {
    match code {
        Some("insufficient_funds") => RejectReason::InsufficientFunds,
        Some("unknown_debtor") => RejectReason::UnknownDebtor,
        Some("account_blocked") => RejectReason::AccountBlocked,
        Some("currency_mismatch") => RejectReason::CurrencyMismatch,
        _ => RejectReason::Other,
    }
}
