//! The sandbox's demo data: PSUs `alice` and `bob`, their EUR accounts, a clearing
//! account, and months of realistic history (see `history`).
//!
//! Account numbers are fixed, so one bank code always gives the same IBANs; account
//! and transaction ids are random. The history is built in memory and written with
//! a few multi-row inserts, so seeding takes well under a second.

mod history;

use diesel::prelude::*;
use time::OffsetDateTime;

use super::credentials::hash_password;
use super::ledger::{KIND_CLEARING, KIND_CUSTOMER, LedgerError, insert_rows, new_id};
use crate::clock::Clock;
use crate::core::CoreError;
use crate::domain::Currency;
use crate::store::schema::{core_accounts, core_entries, core_psus, core_transactions};
use crate::store::{DbConn, Store, to_db_time};
use history::Journal;

/// How much history a fresh sandbox gets when the configuration does not say.
pub const DEFAULT_HISTORY_DAYS: u32 = 180;

/// Rows per insert statement: well under SQLite's and PostgreSQL's bind limits.
const CHUNK: usize = 400;

struct PsuSpec {
    username: &'static str,
    password: &'static str,
    display_name: &'static str,
}

#[rustfmt::skip]
const PSUS: [PsuSpec; 2] = [
    PsuSpec { username: "alice", password: "alice", display_name: "Alice Example" },
    PsuSpec { username: "bob", password: "bob", display_name: "Bob Example" },
];

struct AccountSpec {
    /// Index into [`PSUS`]; `None` is the bank's clearing account.
    owner: Option<usize>,
    number: u64,
    name: &'static str,
    product: &'static str,
    cash_account_type: &'static str,
}

/// In the order of the indices in `history` (`ALICE_GIRO` …).
#[rustfmt::skip]
const ACCOUNTS: [AccountSpec; 6] = [
    AccountSpec { owner: Some(0), number: 1_000_001, name: "Hauptkonto", product: "Girokonto", cash_account_type: "CACC" },
    AccountSpec { owner: Some(0), number: 1_000_002, name: "Sparkonto", product: "Tagesgeld", cash_account_type: "SVGS" },
    AccountSpec { owner: Some(0), number: 1_000_003, name: "Haushaltskonto", product: "Girokonto", cash_account_type: "CACC" },
    AccountSpec { owner: Some(1), number: 2_000_001, name: "Hauptkonto", product: "Girokonto", cash_account_type: "CACC" },
    AccountSpec { owner: Some(1), number: 2_000_002, name: "Sparkonto", product: "Tagesgeld", cash_account_type: "SVGS" },
    AccountSpec { owner: None, number: 9_000_000_000, name: "Clearing (SEPA)", product: "Clearing", cash_account_type: "CACC" },
];

/// Fills an empty sandbox; returns `Ok(false)` without writing if PSU `alice`
/// already exists.
///
/// Call it inside a write transaction (`store.write_blocking(|c| seed(c, ..))`).
/// If two processes seed one fresh database at once, the loser fails with a
/// unique violation on `core_psus`; inside the transaction that cannot become
/// `Ok(false)`, so the caller must treat that error as "already seeded".
/// [`seed_store`] does exactly that and is what start-up should use.
pub fn seed(
    conn: &mut DbConn,
    now: OffsetDateTime,
    bank_code: &str,
    history_days: u32,
) -> Result<bool, CoreError> {
    Ok(seed_conn(conn, now, bank_code, history_days)?)
}

/// Seeds in its own write transaction, treating a lost race as already seeded.
pub fn seed_store(
    store: &Store,
    clock: &dyn Clock,
    bank_code: &str,
    history_days: u32,
) -> Result<bool, CoreError> {
    let now = clock.now();
    match store.write_blocking(|c| seed_conn(c, now, bank_code, history_days)) {
        Ok(seeded) => Ok(seeded),
        Err(e) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn seed_conn(
    conn: &mut DbConn,
    now: OffsetDateTime,
    bank_code: &str,
    history_days: u32,
) -> Result<bool, LedgerError> {
    let existing: Option<String> = core_psus::table
        .filter(core_psus::username.eq(PSUS[0].username))
        .select(core_psus::psu_id)
        .first(conn)
        .optional()?;
    if existing.is_some() {
        return Ok(false);
    }
    let journal = Journal::generate(now, bank_code, history_days)?;
    let created_at = to_db_time(journal.opened_at);
    let psu_ids: Vec<String> = PSUS.iter().map(|_| new_id()).collect();
    let mut psus = Vec::with_capacity(PSUS.len());
    for (spec, id) in PSUS.iter().zip(&psu_ids) {
        psus.push((
            core_psus::psu_id.eq(id.clone()),
            core_psus::username.eq(spec.username),
            core_psus::password_hash.eq(hash_password(spec.password)?),
            core_psus::display_name.eq(spec.display_name),
            core_psus::created_at.eq(created_at),
        ));
    }
    insert_rows!(conn, core_psus::table, &psus)?;

    let accounts: Vec<_> = ACCOUNTS
        .iter()
        .zip(
            journal
                .ids
                .iter()
                .zip(&journal.ibans)
                .zip(&journal.balances),
        )
        .map(|(spec, ((id, iban), balance))| {
            let kind = if spec.owner.is_some() {
                KIND_CUSTOMER
            } else {
                KIND_CLEARING
            };
            (
                core_accounts::account_id.eq(id.clone()),
                core_accounts::psu_id.eq(spec.owner.and_then(|o| psu_ids.get(o).cloned())),
                core_accounts::iban.eq(iban.as_str().to_owned()),
                core_accounts::currency.eq(Currency::EUR.as_str()),
                core_accounts::name.eq(spec.name),
                core_accounts::product.eq(spec.product),
                core_accounts::cash_account_type.eq(spec.cash_account_type),
                core_accounts::kind.eq(kind),
                core_accounts::status.eq("enabled"),
                core_accounts::balance_minor.eq(*balance),
                core_accounts::created_at.eq(created_at),
            )
        })
        .collect();
    insert_rows!(conn, core_accounts::table, &accounts)?;
    for chunk in journal.transactions.chunks(CHUNK) {
        insert_rows!(conn, core_transactions::table, chunk)?;
    }
    for chunk in journal.entries.chunks(CHUNK) {
        insert_rows!(conn, core_entries::table, chunk)?;
    }
    tracing::info!(
        transactions = journal.transactions.len(),
        history_days,
        "seeded the sandbox core"
    );
    Ok(true)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::history::{ALICE_GIRO, CLEARING, Journal};
    use super::*;

    #[test]
    fn the_history_is_deterministic_and_never_overdraws() {
        let now = datetime!(2026-06-15 10:30 UTC);
        let a = Journal::generate(now, "99912345", DEFAULT_HISTORY_DAYS).unwrap();
        let b = Journal::generate(now, "99912345", DEFAULT_HISTORY_DAYS).unwrap();
        assert_eq!(a.refused, 0);
        assert_eq!(a.balances, b.balances);
        assert_eq!(a.ibans, b.ibans);
        let texts = |j: &Journal| {
            j.transactions
                .iter()
                .map(|t| t.remittance.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(texts(&a), texts(&b));
        assert!(a.transactions.len() > 250, "{}", a.transactions.len());
        for (i, (booked, pending)) in a.balances.iter().zip(&a.pending_debits).enumerate() {
            if i != CLEARING {
                assert!(booked + pending > 0, "account {i}: {booked} {pending}");
            }
        }
        assert_eq!(a.balances.iter().sum::<i64>(), 0);
        assert!(a.balances[ALICE_GIRO] > 100_000);
    }

    #[test]
    fn no_history_length_or_start_date_needs_to_drop_a_payment() {
        let base = datetime!(2026-01-01 00:00 UTC);
        for offset in (0..400).step_by(7) {
            for days in [1, 7, 30, 180, 365] {
                let now = base + time::Duration::days(offset) + time::Duration::hours(offset % 24);
                let j = Journal::generate(now, "99912345", days).unwrap();
                assert_eq!(j.refused, 0, "{now} {days}");
            }
        }
    }

    #[test]
    fn history_is_in_time_order_and_ends_with_pending_payments_before_now() {
        let now = datetime!(2026-06-15 00:10 UTC);
        let j = Journal::generate(now, "99912345", 30).unwrap();
        let times: Vec<_> = j.transactions.iter().map(|t| t.created_at).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]));
        assert!(*times.last().unwrap() < to_db_time(now));
        let pending = j
            .transactions
            .iter()
            .filter(|t| t.booking_status == "pending")
            .count();
        assert!((6..=9).contains(&pending), "{pending}");
        assert!(
            j.transactions
                .iter()
                .rev()
                .take(pending)
                .all(|t| t.booking_status == "pending")
        );
    }

    #[test]
    fn an_invalid_bank_code_is_refused() {
        let now = datetime!(2026-06-15 10:30 UTC);
        assert!(Journal::generate(now, "1234", 10).is_err());
    }
}
