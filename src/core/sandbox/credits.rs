//! Money between banks: credits another bank sends (booked at most once per
//! sending peer and its payment id) and reversals of payments the payee's bank
//! refused (at most once per payment id). Like `payments`, each idempotency record
//! (`core_credits`, `core_reversals`) commits in the same transaction as the
//! entries it describes, and both run inside a write transaction.

use diesel::prelude::*;
use time::OffsetDateTime;

use super::ledger::{
    KIND_CLEARING, LedgerError, NewEntry, NewTransaction, account_by_iban, clearing_account,
    customer_only, insert_rows,
};
use super::payments::payment_outcome;
use crate::core::{
    CreditOutcome, CreditRefusal, IncomingCredit, PaymentId, PaymentOutcome, Reversal,
    TransactionId,
};
use crate::store::schema::{
    core_accounts, core_credits, core_entries, core_reversals, core_transactions,
};
use crate::store::{DbConn, to_db_time};

/// Books an incoming credit at most once. A concurrent duplicate fails on the
/// `core_credits` primary key (a unique violation the caller turns into a
/// re-read), rolling back its entries.
pub(super) fn receive_credit(
    conn: &mut DbConn,
    credit: &IncomingCredit,
    now: OffsetDateTime,
) -> Result<CreditOutcome, LedgerError> {
    if let Some(outcome) = credit_outcome(conn, &credit.peer, &credit.payment_id)? {
        return Ok(outcome);
    }
    let outcome = match book_credit(conn, credit, now)? {
        Ok(transaction_id) => CreditOutcome::Credited {
            transaction_id: TransactionId(transaction_id),
        },
        Err(reason) => CreditOutcome::Refused { reason },
    };
    let (status, reason, transaction_id) = match &outcome {
        CreditOutcome::Credited { transaction_id } => {
            ("credited", None, Some(transaction_id.as_str()))
        }
        CreditOutcome::Refused { reason } => ("refused", Some(refusal_code(*reason)), None),
    };
    diesel::insert_into(core_credits::table)
        .values((
            core_credits::peer_id.eq(&credit.peer),
            core_credits::payment_id.eq(credit.payment_id.as_str()),
            core_credits::debtor_iban.eq(credit.debtor.as_str()),
            core_credits::creditor_iban.eq(credit.creditor.as_str()),
            core_credits::amount_minor.eq(credit.amount.minor_units()),
            core_credits::currency.eq(credit.amount.currency().as_str()),
            core_credits::status.eq(status),
            core_credits::refusal_reason.eq(reason),
            core_credits::transaction_id.eq(transaction_id),
            core_credits::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(outcome)
}

/// Checks the creditor account and posts clearing → creditor; `Ok(Err(_))` is a
/// refusal.
fn book_credit(
    conn: &mut DbConn,
    credit: &IncomingCredit,
    now: OffsetDateTime,
) -> Result<Result<String, CreditRefusal>, LedgerError> {
    let amount = credit.amount.minor_units();
    if amount <= 0 {
        return Ok(Err(CreditRefusal::Other));
    }
    let Some(creditor) = customer_only(account_by_iban(conn, credit.creditor.as_str())?) else {
        return Ok(Err(CreditRefusal::UnknownCreditor));
    };
    if !creditor.is_enabled() {
        return Ok(Err(if creditor.status == "blocked" {
            CreditRefusal::AccountBlocked
        } else {
            CreditRefusal::AccountClosed
        }));
    }
    let currency = creditor.currency()?;
    if credit.amount.currency() != currency {
        return Ok(Err(CreditRefusal::CurrencyMismatch));
    }
    let Some(clearing) = clearing_account(conn, currency)? else {
        return Ok(Err(CreditRefusal::Other));
    };
    let debtor_name = credit.debtor_name.as_deref().unwrap_or_default();
    let remittance = credit.remittance.clone().unwrap_or_default();
    let tx = NewTransaction::new(true, now, currency, remittance);
    // The customer's row first, the clearing account last, as payments lock them.
    let entries = [
        NewEntry::new(
            &tx,
            &creditor.account_id,
            amount,
            debtor_name,
            Some(&credit.debtor),
        ),
        NewEntry::new(
            &tx,
            &clearing.account_id,
            -amount,
            debtor_name,
            Some(&credit.debtor),
        ),
    ];
    post(conn, &tx, &entries)?;
    Ok(Ok(tx.transaction_id))
}

fn post(conn: &mut DbConn, tx: &NewTransaction, entries: &[NewEntry]) -> Result<(), LedgerError> {
    diesel::insert_into(core_transactions::table)
        .values(tx)
        .execute(conn)?;
    insert_rows!(conn, core_entries::table, entries)?;
    for entry in entries {
        diesel::update(core_accounts::table.find(&entry.account_id))
            .set(core_accounts::balance_minor.eq(core_accounts::balance_minor + entry.amount_minor))
            .execute(conn)?;
    }
    Ok(())
}

/// The recorded outcome of a credit, if this peer sent this payment id before.
pub(super) fn credit_outcome(
    conn: &mut DbConn,
    peer: &str,
    payment_id: &PaymentId,
) -> Result<Option<CreditOutcome>, LedgerError> {
    let row: Option<(String, Option<String>, Option<String>)> = core_credits::table
        .find((peer, payment_id.as_str()))
        .select((
            core_credits::status,
            core_credits::refusal_reason,
            core_credits::transaction_id,
        ))
        .first(conn)
        .optional()?;
    let Some((status, reason, transaction_id)) = row else {
        return Ok(None);
    };
    Ok(Some(match (status.as_str(), transaction_id) {
        ("credited", Some(id)) => CreditOutcome::Credited {
            transaction_id: TransactionId(id),
        },
        ("refused", _) => CreditOutcome::Refused {
            reason: parse_refusal(reason.as_deref()),
        },
        (other, _) => return Err(LedgerError::Corrupt(format!("credit status {other:?}"))),
    }))
}

/// Gives an executed payment's money back with a compensating transaction: every
/// entry of the original, negated. Only payments whose money left the bank
/// (through the clearing account) are reversed; taking money back from another
/// customer of this bank is not the sandbox's call to make.
pub(super) fn reverse_payment(
    conn: &mut DbConn,
    id: &PaymentId,
    now: OffsetDateTime,
) -> Result<Reversal, LedgerError> {
    if let Some(transaction_id) = reversal_of(conn, id)? {
        return Ok(Reversal::Reversed { transaction_id });
    }
    let original = match payment_outcome(conn, id)? {
        None | Some(PaymentOutcome::Rejected { .. }) => return Ok(Reversal::NotExecuted),
        Some(PaymentOutcome::Pending { .. }) => {
            return Err(LedgerError::Invalid(
                "a pending payment cannot be reversed".into(),
            ));
        }
        Some(PaymentOutcome::Executed { transaction_id }) => transaction_id,
    };
    let entries: Vec<(String, i64, String, Option<String>, String)> = core_entries::table
        .inner_join(core_accounts::table)
        .filter(core_entries::transaction_id.eq(original.as_str()))
        .order(core_entries::entry_id.asc())
        .select((
            core_entries::account_id,
            core_entries::amount_minor,
            core_entries::counterparty_name,
            core_entries::counterparty_iban,
            core_accounts::kind,
        ))
        .load(conn)?;
    let left_the_bank = entries
        .iter()
        .any(|(_, amount, _, _, kind)| *amount > 0 && kind == KIND_CLEARING);
    if !left_the_bank {
        return Err(LedgerError::Invalid(
            "only payments to other banks can be reversed".into(),
        ));
    }
    let (currency, remittance): (String, String) = core_transactions::table
        .find(original.as_str())
        .select((core_transactions::currency, core_transactions::remittance))
        .first(conn)?;
    let currency = crate::domain::Currency::parse(&currency)
        .map_err(|_| LedgerError::Corrupt(format!("currency {currency:?}")))?;
    let tx = NewTransaction::new(true, now, currency, format!("Return: {remittance}"));
    let mut reversal: Vec<(bool, NewEntry)> = entries
        .iter()
        .map(|(account, amount, name, iban, kind)| {
            let mut entry = NewEntry::new(&tx, account, -amount, name, None);
            entry.counterparty_iban = iban.clone();
            (kind == KIND_CLEARING, entry)
        })
        .collect();
    // Customer rows before the clearing account, in the order payments lock them.
    reversal.sort_by_key(|(clearing, _)| *clearing);
    let reversal: Vec<NewEntry> = reversal.into_iter().map(|(_, entry)| entry).collect();
    post(conn, &tx, &reversal)?;
    diesel::insert_into(core_reversals::table)
        .values((
            core_reversals::payment_id.eq(id.as_str()),
            core_reversals::transaction_id.eq(&tx.transaction_id),
            core_reversals::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(Reversal::Reversed {
        transaction_id: TransactionId(tx.transaction_id),
    })
}

pub(super) fn reversal_of(
    conn: &mut DbConn,
    id: &PaymentId,
) -> Result<Option<TransactionId>, LedgerError> {
    Ok(core_reversals::table
        .find(id.as_str())
        .select(core_reversals::transaction_id)
        .first::<String>(conn)
        .optional()?
        .map(TransactionId))
}

fn refusal_code(reason: CreditRefusal) -> &'static str {
    match reason {
        CreditRefusal::UnknownCreditor => "unknown_creditor",
        CreditRefusal::AccountBlocked => "account_blocked",
        CreditRefusal::AccountClosed => "account_closed",
        CreditRefusal::CurrencyMismatch => "currency_mismatch",
        CreditRefusal::Other => "other",
    }
}

fn parse_refusal(code: Option<&str>) -> CreditRefusal {
    match code {
        Some("unknown_creditor") => CreditRefusal::UnknownCreditor,
        Some("account_blocked") => CreditRefusal::AccountBlocked,
        Some("account_closed") => CreditRefusal::AccountClosed,
        Some("currency_mismatch") => CreditRefusal::CurrencyMismatch,
        _ => CreditRefusal::Other,
    }
}
