//! Specifications of the sandbox core, each against a freshly seeded database:
//! a SQLite file, or a PostgreSQL schema when `OBGW_TEST_DATABASE_URL` is set.
//! This file holds the fixture; the specifications are grouped by topic.

use crate::store::testing::Scratch;
use std::collections::HashSet;
use std::sync::Arc;

use diesel::prelude::*;
use time::macros::{date, datetime};
use time::{Date, Duration};

use super::seed::{DEFAULT_HISTORY_DAYS, seed, seed_store};
use super::*;
use crate::clock::ManualClock;
use crate::core::{BookingStatus, RejectReason};
use crate::domain::Currency;
use crate::store::schema::{core_accounts, core_entries, core_psus, core_transactions};

mod accounts;
mod credits;
mod payments;
mod sca;

const BANK_CODE: &str = "99912345";

struct Sandbox {
    core: SandboxCore,
    store: Store,
    clock: Arc<ManualClock>,
    /// Held for its `Drop`, which removes the database.
    _scratch: Scratch,
}

fn sandbox() -> Sandbox {
    let (scratch, url) = Scratch::new("sandbox");
    let store = Store::connect(&url, 4).unwrap();
    store.migrate().unwrap();
    let clock = Arc::new(ManualClock::new(datetime!(2026-06-15 10:30 UTC)));
    assert!(seed_store(&store, clock.as_ref(), BANK_CODE, DEFAULT_HISTORY_DAYS).unwrap());
    let core = SandboxCore::new(store.clone(), clock.clone());
    Sandbox {
        core,
        store,
        clock,
        _scratch: scratch,
    }
}

fn eur(amount: &str) -> Money {
    Money::parse_positive(amount, Currency::EUR).unwrap()
}

fn everything(status: BookingStatus) -> TransactionQuery {
    TransactionQuery {
        status,
        date_from: date!(2000 - 01 - 01),
        date_to: date!(2100 - 01 - 01),
        offset: 0,
        limit: 100_000,
    }
}

impl Sandbox {
    async fn login(&self, user: &str) -> PsuId {
        self.core
            .authenticate_psu(user, &Secret::new(user))
            .await
            .unwrap()
            .unwrap()
    }

    /// The PSU's accounts, current account (`Hauptkonto`) first.
    async fn accounts_of(&self, user: &str) -> Vec<Account> {
        let psu = self.login(user).await;
        let mut accounts = self.core.accounts(&psu).await.unwrap();
        accounts.sort_by_key(|a| a.name != "Hauptkonto");
        accounts
    }

    async fn booked(&self, account: &Account) -> i64 {
        let balances = self.core.balances(&account.id).await.unwrap();
        balances
            .iter()
            .find(|b| b.kind == BalanceType::ClosingBooked)
            .unwrap()
            .amount
            .minor_units()
    }

    fn clearing_balance(&self) -> i64 {
        self.store
            .read_blocking(|c| {
                core_accounts::table
                    .filter(core_accounts::kind.eq("clearing"))
                    .select(core_accounts::balance_minor)
                    .first::<i64>(c)
                    .map_err(crate::store::StoreError::from)
            })
            .unwrap()
    }

    fn row_counts(&self) -> [i64; 4] {
        self.store
            .read_blocking(|c| {
                Ok::<_, crate::store::StoreError>([
                    core_psus::table.count().get_result(c)?,
                    core_accounts::table.count().get_result(c)?,
                    core_transactions::table.count().get_result(c)?,
                    core_entries::table.count().get_result(c)?,
                ])
            })
            .unwrap()
    }

    async fn assert_consistent(&self) {
        let report = self.core.check_ledger().await.unwrap();
        assert!(report.is_consistent(), "{report:#?}");
    }

    fn order(&self, id: &str, debtor: &Account, creditor: Iban, amount: Money) -> PaymentOrder {
        PaymentOrder {
            payment_id: PaymentId(id.to_owned()),
            debtor: debtor.iban.clone(),
            creditor,
            creditor_name: "Payee".into(),
            amount,
            remittance: Some("Rechnung 42".into()),
            instant: false,
        }
    }
}
