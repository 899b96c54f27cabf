//! The ledger's storage operations. They are synchronous functions on a
//! [`DbConn`] so that several compose inside one transaction; [`super::SandboxCore`]
//! runs them on the blocking pool.
//!
//! Invariants every writer keeps: each transaction's entries sum to zero, and an
//! account's `balance_minor` equals the sum of its entries in booked transactions,
//! updated in the same database transaction that inserts them.

use diesel::prelude::*;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::core::{
    Account, AccountId, AccountStatus, BookingStatus, CoreError, Transaction, TransactionId,
    TransactionPage, TransactionQuery,
};
use crate::domain::{Currency, Iban, Money};
use crate::store::schema::{core_accounts, core_entries, core_transactions};
use crate::store::{DbConn, StoreError, from_db_time, is_unique_violation, to_db_time};

/// A multi-row insert. It cannot go through `DbConn` itself: diesel builds
/// SQLite's batch insert only for `SqliteConnection` (to cope with its lack of
/// `DEFAULT` in `VALUES`), so the statement is run on the inner connection.
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            DbConn::Pg(c) => diesel::insert_into($table).values($rows).execute(c),
            DbConn::Sqlite(c) => diesel::insert_into($table).values($rows).execute(c),
        }
    };
}
pub(super) use insert_rows;

pub(super) const KIND_CUSTOMER: &str = "customer";
pub(super) const KIND_CLEARING: &str = "clearing";
const STATUS_ENABLED: &str = "enabled";
pub(super) const BOOKED: &str = "booked";
const PENDING: &str = "pending";

/// What can go wrong below the trait. Kept apart from [`CoreError`] so callers
/// can still see a diesel unique violation (a lost race) before it is flattened.
#[derive(Debug, thiserror::Error)]
pub(super) enum LedgerError {
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("ledger data is inconsistent: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Invalid(String),
}

impl LedgerError {
    pub(super) fn is_unique_violation(&self) -> bool {
        match self {
            LedgerError::Db(e) | LedgerError::Store(StoreError::Query(e)) => is_unique_violation(e),
            _ => false,
        }
    }
}

impl From<LedgerError> for CoreError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Db(e) => CoreError::Unavailable(e.to_string()),
            LedgerError::Store(e) => CoreError::Unavailable(e.to_string()),
            LedgerError::Corrupt(m) | LedgerError::Invalid(m) => CoreError::Protocol(m),
        }
    }
}

/// The calendar day the ledger books on: UTC, so every instance agrees.
pub(super) fn business_date(now: OffsetDateTime) -> Date {
    now.to_offset(UtcOffset::UTC).date()
}

pub(super) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = core_accounts)]
pub(super) struct AccountRow {
    pub account_id: String,
    pub psu_id: Option<String>,
    pub iban: String,
    pub currency: String,
    pub name: String,
    pub product: String,
    pub cash_account_type: String,
    pub kind: String,
    pub status: String,
    pub balance_minor: i64,
}

impl AccountRow {
    pub(super) fn currency(&self) -> Result<Currency, LedgerError> {
        parse_currency(&self.currency)
    }

    pub(super) fn is_customer(&self) -> bool {
        self.kind == KIND_CUSTOMER
    }

    pub(super) fn is_enabled(&self) -> bool {
        self.status == STATUS_ENABLED
    }

    pub(super) fn to_account(&self) -> Result<Account, LedgerError> {
        let status = match self.status.as_str() {
            "enabled" => AccountStatus::Enabled,
            "blocked" => AccountStatus::Blocked,
            "deleted" => AccountStatus::Deleted,
            other => return Err(LedgerError::Corrupt(format!("account status {other:?}"))),
        };
        Ok(Account {
            id: AccountId(self.account_id.clone()),
            owner: self.psu_id.clone().map(crate::core::PsuId),
            iban: parse_iban(&self.iban)?,
            currency: self.currency()?,
            name: self.name.clone(),
            product: self.product.clone(),
            cash_account_type: self.cash_account_type.clone(),
            status,
        })
    }
}

fn parse_currency(code: &str) -> Result<Currency, LedgerError> {
    Currency::parse(code).map_err(|_| LedgerError::Corrupt(format!("currency {code:?}")))
}

fn parse_iban(iban: &str) -> Result<Iban, LedgerError> {
    Iban::parse(iban).map_err(|_| LedgerError::Corrupt("stored IBAN is invalid".into()))
}

/// The PSU's own (customer) accounts, in a stable order.
pub(super) fn accounts_of(conn: &mut DbConn, psu: &str) -> Result<Vec<AccountRow>, LedgerError> {
    Ok(core_accounts::table
        .filter(core_accounts::psu_id.eq(psu))
        .filter(core_accounts::kind.eq(KIND_CUSTOMER))
        .order(core_accounts::iban.asc())
        .select(AccountRow::as_select())
        .load(conn)?)
}

pub(super) fn account_by_id(
    conn: &mut DbConn,
    id: &str,
) -> Result<Option<AccountRow>, LedgerError> {
    Ok(core_accounts::table
        .find(id)
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?)
}

/// Any account with this IBAN, the clearing account included.
pub(super) fn account_by_iban(
    conn: &mut DbConn,
    iban: &str,
) -> Result<Option<AccountRow>, LedgerError> {
    Ok(core_accounts::table
        .filter(core_accounts::iban.eq(iban))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?)
}

/// Only customer accounts are visible through the trait; the clearing account is
/// the bank's own bookkeeping.
pub(super) fn customer_only(row: Option<AccountRow>) -> Option<AccountRow> {
    row.filter(AccountRow::is_customer)
}

pub(super) fn clearing_account(
    conn: &mut DbConn,
    currency: Currency,
) -> Result<Option<AccountRow>, LedgerError> {
    Ok(core_accounts::table
        .filter(core_accounts::kind.eq(KIND_CLEARING))
        .filter(core_accounts::currency.eq(currency.as_str()))
        .order(core_accounts::account_id.asc())
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?)
}

/// The figures the three balance types are computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BalanceFigures {
    pub booked: i64,
    pub pending_credits: i64,
    /// Zero or negative.
    pub pending_debits: i64,
    pub last_booked_change: Option<OffsetDateTime>,
    pub last_change: Option<OffsetDateTime>,
}

impl BalanceFigures {
    pub(super) fn expected(&self) -> i64 {
        self.booked + self.pending_credits + self.pending_debits
    }

    /// Pending debits already reserve money; pending credits are not yet spendable.
    pub(super) fn available(&self) -> i64 {
        self.booked + self.pending_debits
    }
}

pub(super) fn balance_figures(
    conn: &mut DbConn,
    account: &AccountRow,
) -> Result<BalanceFigures, LedgerError> {
    let id = account.account_id.as_str();
    let pending: Vec<i64> = core_entries::table
        .inner_join(core_transactions::table)
        .filter(core_entries::account_id.eq(id))
        .filter(core_transactions::booking_status.eq(PENDING))
        .select(core_entries::amount_minor)
        .load(conn)?;
    let last_booked_change: Option<PrimitiveDateTime> = core_entries::table
        .inner_join(core_transactions::table)
        .filter(core_entries::account_id.eq(id))
        .filter(core_transactions::booking_status.eq(BOOKED))
        .order(core_transactions::created_at.desc())
        .select(core_transactions::created_at)
        .first(conn)
        .optional()?;
    let last_change: Option<PrimitiveDateTime> = core_entries::table
        .inner_join(core_transactions::table)
        .filter(core_entries::account_id.eq(id))
        .order(core_transactions::created_at.desc())
        .select(core_transactions::created_at)
        .first(conn)
        .optional()?;
    Ok(BalanceFigures {
        booked: account.balance_minor,
        pending_credits: pending.iter().filter(|a| **a > 0).sum(),
        pending_debits: pending.iter().filter(|a| **a < 0).sum(),
        last_booked_change: last_booked_change.map(from_db_time),
        last_change: last_change.map(from_db_time),
    })
}

type EntryViewColumns = (
    core_transactions::transaction_id,
    core_transactions::booking_status,
    core_transactions::booking_date,
    core_transactions::value_date,
    core_transactions::currency,
    core_transactions::remittance,
    core_transactions::end_to_end_id,
    core_entries::amount_minor,
    core_entries::counterparty_name,
    core_entries::counterparty_iban,
);

/// One account's entry seen together with its transaction.
const ENTRY_VIEW: EntryViewColumns = (
    core_transactions::transaction_id,
    core_transactions::booking_status,
    core_transactions::booking_date,
    core_transactions::value_date,
    core_transactions::currency,
    core_transactions::remittance,
    core_transactions::end_to_end_id,
    core_entries::amount_minor,
    core_entries::counterparty_name,
    core_entries::counterparty_iban,
);

#[derive(Debug, Queryable)]
struct EntryView {
    transaction_id: String,
    booking_status: String,
    booking_date: Date,
    value_date: Date,
    currency: String,
    remittance: String,
    end_to_end_id: Option<String>,
    amount_minor: i64,
    counterparty_name: String,
    counterparty_iban: Option<String>,
}

impl EntryView {
    fn into_transaction(self) -> Result<Transaction, LedgerError> {
        let currency = parse_currency(&self.currency)?;
        Ok(Transaction {
            id: TransactionId(self.transaction_id),
            booked: self.booking_status == BOOKED,
            booking_date: self.booking_date,
            value_date: self.value_date,
            amount: Money::from_minor(self.amount_minor, currency),
            counterparty_name: self.counterparty_name,
            counterparty_iban: self
                .counterparty_iban
                .as_deref()
                .map(parse_iban)
                .transpose()?,
            remittance: self.remittance,
            end_to_end_id: self.end_to_end_id,
        })
    }
}

/// A page of the account's entries, newest first. The order is total (the
/// transaction id and entry id break ties), so consecutive pages neither skip nor
/// repeat a transaction.
pub(super) fn transactions(
    conn: &mut DbConn,
    account: &str,
    query: &TransactionQuery,
) -> Result<TransactionPage, LedgerError> {
    let statuses = match query.status {
        BookingStatus::Booked => vec![BOOKED],
        BookingStatus::Pending => vec![PENDING],
        BookingStatus::Both => vec![BOOKED, PENDING],
    };
    let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
    let limit = i64::from(query.limit);
    let mut rows: Vec<EntryView> = core_entries::table
        .inner_join(core_transactions::table)
        .filter(core_entries::account_id.eq(account))
        .filter(core_transactions::booking_status.eq_any(statuses))
        .filter(core_transactions::booking_date.ge(query.date_from))
        .filter(core_transactions::booking_date.le(query.date_to))
        .order((
            core_transactions::booking_date.desc(),
            core_transactions::created_at.desc(),
            core_transactions::transaction_id.desc(),
            core_entries::entry_id.desc(),
        ))
        .select(ENTRY_VIEW)
        .offset(offset)
        .limit(limit + 1)
        .load(conn)?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let transactions = rows
        .into_iter()
        .map(EntryView::into_transaction)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TransactionPage {
        transactions,
        has_more,
    })
}

/// The transaction as seen from `account`, if the account takes part in it.
pub(super) fn transaction(
    conn: &mut DbConn,
    account: &str,
    transaction: &str,
) -> Result<Option<Transaction>, LedgerError> {
    let row: Option<EntryView> = core_entries::table
        .inner_join(core_transactions::table)
        .filter(core_entries::account_id.eq(account))
        .filter(core_entries::transaction_id.eq(transaction))
        .order(core_entries::entry_id.asc())
        .select(ENTRY_VIEW)
        .first(conn)
        .optional()?;
    row.map(EntryView::into_transaction).transpose()
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = core_transactions)]
pub(super) struct NewTransaction {
    pub transaction_id: String,
    pub booking_status: String,
    pub booking_date: Date,
    pub value_date: Date,
    pub created_at: PrimitiveDateTime,
    pub currency: String,
    pub remittance: String,
    pub end_to_end_id: Option<String>,
}

impl NewTransaction {
    pub(super) fn new(
        booked: bool,
        at: OffsetDateTime,
        currency: Currency,
        remittance: String,
    ) -> Self {
        let date = business_date(at);
        NewTransaction {
            transaction_id: new_id(),
            booking_status: if booked { BOOKED } else { PENDING }.to_owned(),
            booking_date: date,
            value_date: date,
            created_at: to_db_time(at),
            currency: currency.as_str().to_owned(),
            remittance,
            end_to_end_id: None,
        }
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = core_entries)]
pub(super) struct NewEntry {
    pub entry_id: String,
    pub transaction_id: String,
    pub account_id: String,
    pub amount_minor: i64,
    pub counterparty_name: String,
    pub counterparty_iban: Option<String>,
}

impl NewEntry {
    pub(super) fn new(
        tx: &NewTransaction,
        account: &str,
        amount: i64,
        name: &str,
        iban: Option<&Iban>,
    ) -> Self {
        NewEntry {
            entry_id: new_id(),
            transaction_id: tx.transaction_id.clone(),
            account_id: account.to_owned(),
            amount_minor: amount,
            counterparty_name: name.to_owned(),
            counterparty_iban: iban.map(|i| i.as_str().to_owned()),
        }
    }
}
