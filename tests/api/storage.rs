use std::sync::Arc;

use obgw::core::sandbox::{LedgerReport, SandboxCore};
use obgw::store::Store;

use crate::helpers::*;

#[tokio::test]
async fn migrations_apply_on_a_fresh_database_and_a_second_run_applies_nothing() {
    let url = fresh_database_url();
    let store = Store::connect(&url, 2).unwrap();
    assert!(store.migrate().unwrap() >= 1);
    assert_eq!(store.migrate().unwrap(), 0);
    store.ping().await.unwrap();
}

#[tokio::test]
async fn the_sandbox_seed_is_idempotent_across_restarts_and_the_ledger_balances() {
    let config = test_config();
    let first = TestApp::spawn_config(config.clone()).await;
    let report = ledger(&first).await;
    assert!(report.is_consistent(), "{report:?}");
    assert!(
        report.transactions > 100,
        "several months of history: {report:?}"
    );

    // A restart on the same database seeds nothing more.
    let second = TestApp::spawn_config(config).await;
    let again = ledger(&second).await;
    assert!(again.is_consistent(), "{again:?}");
    assert_eq!(again.transactions, report.transactions);
    assert_eq!(again.accounts, report.accounts);
}

#[tokio::test]
async fn the_sandbox_psus_have_at_least_two_eur_accounts_with_valid_ibans() {
    let app = TestApp::spawn().await;
    let core = &app.state.core;
    for (user, password) in [("alice", "alice"), ("bob", "bob")] {
        let psu = core
            .authenticate_psu(user, &obgw::secret::Secret::new(password))
            .await
            .unwrap()
            .expect("sandbox PSU logs in");
        let accounts = core.accounts(&psu).await.unwrap();
        assert!(accounts.len() >= 2, "{user}");
        for a in accounts {
            assert_eq!(a.currency.as_str(), "EUR");
            assert_eq!(
                a.iban.german_bank_code(),
                Some(app.config.sandbox.bank_code.as_str())
            );
            assert!(obgw::domain::Iban::parse(a.iban.as_str()).is_ok());
        }
    }
}

async fn ledger(app: &TestApp) -> LedgerReport {
    SandboxCore::new(app.state.store.clone(), Arc::new(obgw::clock::SystemClock))
        .check_ledger()
        .await
        .unwrap()
}
