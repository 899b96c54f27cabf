//! Seeding, accounts, authentication, balances and transaction history.

use super::*;

#[tokio::test]
async fn seeding_twice_seeds_once_and_leaves_the_data_unchanged() {
    let s = sandbox();
    let before = s.row_counts();
    assert_eq!(before[0], 2);
    assert_eq!(before[1], 6);
    assert!(before[2] > 250, "{before:?}");
    assert_eq!(before[3], before[2] * 2);

    assert!(!seed_store(&s.store, s.clock.as_ref(), BANK_CODE, 30).unwrap());
    let now = s.clock.now();
    let again = s
        .store
        .write_blocking(|c| seed(c, now, BANK_CODE, 30))
        .unwrap();
    assert!(!again);
    assert_eq!(s.row_counts(), before);
}

#[tokio::test]
async fn the_seeded_ledger_balances_and_customer_balances_are_positive() {
    let s = sandbox();
    s.assert_consistent().await;
    for user in ["alice", "bob"] {
        for account in s.accounts_of(user).await {
            for balance in s.core.balances(&account.id).await.unwrap() {
                assert!(balance.amount.minor_units() > 0, "{user} {balance:?}");
            }
        }
    }
}

#[tokio::test]
async fn alice_has_eur_accounts_with_valid_ibans_of_this_bank_in_iban_order() {
    let s = sandbox();
    let psu = s.login("alice").await;
    let accounts = s.core.accounts(&psu).await.unwrap();
    assert!(accounts.len() >= 2);
    let mut sorted = accounts.clone();
    sorted.sort_by(|a, b| a.iban.cmp(&b.iban));
    assert_eq!(accounts, sorted);
    for account in &accounts {
        assert_eq!(account.currency, Currency::EUR);
        assert_eq!(account.owner.as_ref(), Some(&psu));
        assert_eq!(Iban::parse(account.iban.as_str()).unwrap(), account.iban);
        assert_eq!(account.iban.german_bank_code(), Some(BANK_CODE));
        assert_eq!(
            s.core.account(&account.id).await.unwrap().as_ref(),
            Some(account)
        );
        assert_eq!(
            s.core
                .account_by_iban(&account.iban)
                .await
                .unwrap()
                .as_ref(),
            Some(account)
        );
    }
    let types: HashSet<_> = accounts
        .iter()
        .map(|a| a.cash_account_type.as_str())
        .collect();
    assert_eq!(types, HashSet::from(["CACC", "SVGS"]));

    // Fixed account numbers: another instance with this bank code has the same IBANs.
    let other = sandbox();
    let other_accounts = other
        .core
        .accounts(&other.login("alice").await)
        .await
        .unwrap();
    let ibans = |accounts: &[Account]| accounts.iter().map(|a| a.iban.clone()).collect::<Vec<_>>();
    assert_eq!(ibans(&other_accounts), ibans(&accounts));
    assert_ne!(other_accounts[0].id, accounts[0].id);
}

#[tokio::test]
async fn the_clearing_account_is_not_visible_through_the_trait() {
    let s = sandbox();
    let iban = Iban::german(BANK_CODE, 9_000_000_000).unwrap();
    assert_eq!(s.core.account_by_iban(&iban).await.unwrap(), None);
}

#[tokio::test]
async fn only_the_right_password_authenticates_a_psu() {
    let s = sandbox();
    let auth = |u: &'static str, p: &'static str| {
        let core = s.core.clone();
        async move { core.authenticate_psu(u, &Secret::new(p)).await.unwrap() }
    };
    assert!(auth("alice", "alice").await.is_some());
    assert!(auth("bob", "bob").await.is_some());
    assert_ne!(auth("alice", "alice").await, auth("bob", "bob").await);
    assert_eq!(auth("alice", "wrong").await, None);
    assert_eq!(auth("alice", "bob").await, None);
    assert_eq!(auth("mallory", "alice").await, None);
    assert_eq!(auth("", "").await, None);
}

#[tokio::test]
async fn passwords_are_stored_only_as_salted_argon2id_hashes() {
    let s = sandbox();
    let hashes: Vec<String> = s
        .store
        .read_blocking(|c| {
            core_psus::table
                .select(core_psus::password_hash)
                .load(c)
                .map_err(crate::store::StoreError::from)
        })
        .unwrap();
    assert_eq!(hashes.len(), 2);
    assert!(
        hashes.iter().all(|h| h.starts_with("$argon2id$")),
        "{hashes:?}"
    );
    assert_ne!(hashes[0], hashes[1]);
}

#[tokio::test]
async fn balances_are_booked_expected_and_available_as_of_today() {
    let s = sandbox();
    let giro = s.accounts_of("alice").await.remove(0);
    let balances = s.core.balances(&giro.id).await.unwrap();
    let kinds: Vec<_> = balances.iter().map(|b| b.kind).collect();
    assert_eq!(
        kinds,
        [
            BalanceType::ClosingBooked,
            BalanceType::Expected,
            BalanceType::InterimAvailable
        ]
    );
    let pending: i64 = s
        .core
        .transactions(&giro.id, &everything(BookingStatus::Pending))
        .await
        .unwrap()
        .transactions
        .iter()
        .map(|t| t.amount.minor_units())
        .sum();
    assert!(pending < 0, "the seed leaves pending card payments");
    let [booked, expected, available] = [0, 1, 2].map(|i| balances[i].amount.minor_units());
    assert_eq!(expected, booked + pending);
    assert_eq!(available, booked + pending);
    for b in &balances {
        assert_eq!(b.reference_date, date!(2026 - 06 - 15));
        assert_eq!(b.amount.currency(), Currency::EUR);
        assert!(b.last_change.unwrap() <= s.clock.now());
    }
    assert!(balances[0].last_change < balances[1].last_change);
    assert_eq!(
        s.core.balances(&AccountId("nope".into())).await.unwrap(),
        vec![]
    );
}

#[tokio::test]
async fn pages_of_seven_walk_the_whole_history_without_gaps_or_duplicates() {
    let s = sandbox();
    let giro = s.accounts_of("alice").await.remove(0);
    let all = s
        .core
        .transactions(&giro.id, &everything(BookingStatus::Both))
        .await
        .unwrap();
    assert!(!all.has_more);
    assert!(all.transactions.len() > 100);
    let mut paged = Vec::new();
    let mut query = everything(BookingStatus::Both);
    query.limit = 7;
    loop {
        let page = s.core.transactions(&giro.id, &query).await.unwrap();
        assert!(page.transactions.len() <= 7);
        paged.extend(page.transactions.iter().map(|t| t.id.clone()));
        query.offset += 7;
        if !page.has_more {
            break;
        }
    }
    let ids: Vec<_> = all.transactions.iter().map(|t| t.id.clone()).collect();
    assert_eq!(paged, ids);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    assert!(
        all.transactions
            .windows(2)
            .all(|w| w[0].booking_date >= w[1].booking_date)
    );
}

#[tokio::test]
async fn status_and_date_filters_bound_the_window() {
    let s = sandbox();
    let giro = s.accounts_of("alice").await.remove(0);
    let pending = s
        .core
        .transactions(&giro.id, &everything(BookingStatus::Pending))
        .await
        .unwrap();
    assert!(
        (2..=3).contains(&pending.transactions.len()),
        "{}",
        pending.transactions.len()
    );
    assert!(
        pending
            .transactions
            .iter()
            .all(|t| !t.booked && t.amount.minor_units() < 0)
    );
    let today = date!(2026 - 06 - 15);
    assert!(
        pending
            .transactions
            .iter()
            .all(|t| t.booking_date >= today - Duration::days(2))
    );

    let booked = s
        .core
        .transactions(&giro.id, &everything(BookingStatus::Booked))
        .await
        .unwrap();
    assert!(booked.transactions.iter().all(|t| t.booked));

    let (from, to): (Date, Date) = (date!(2026 - 05 - 01), date!(2026 - 05 - 31));
    let query = TransactionQuery {
        date_from: from,
        date_to: to,
        ..everything(BookingStatus::Both)
    };
    let may = s
        .core
        .transactions(&giro.id, &query)
        .await
        .unwrap()
        .transactions;
    assert!(!may.is_empty());
    assert!(may.iter().all(|t| (from..=to).contains(&t.booking_date)));
    let expected = booked
        .transactions
        .iter()
        .filter(|t| (from..=to).contains(&t.booking_date))
        .count();
    assert_eq!(may.len(), expected);
    // Salary and rent are in every month's window.
    assert!(
        may.iter()
            .any(|t| t.remittance.starts_with("LOHN/GEHALT") && t.amount.minor_units() > 0)
    );
    assert!(
        may.iter()
            .any(|t| t.remittance.starts_with("Miete") && t.amount.minor_units() < 0)
    );
}

#[tokio::test]
async fn a_transaction_is_visible_only_from_an_account_it_touches() {
    let s = sandbox();
    let alice = s.accounts_of("alice").await;
    let tx = s
        .core
        .transactions(&alice[0].id, &everything(BookingStatus::Booked))
        .await
        .unwrap();
    let first = tx.transactions.last().unwrap();
    assert_eq!(
        s.core
            .transaction(&alice[0].id, &first.id)
            .await
            .unwrap()
            .as_ref(),
        Some(first)
    );
    assert_eq!(
        s.core.transaction(&alice[1].id, &first.id).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn funds_are_available_up_to_the_available_balance_in_the_account_currency() {
    let s = sandbox();
    let giro = s.accounts_of("alice").await.remove(0);
    let balances = s.core.balances(&giro.id).await.unwrap();
    let available = balances[2].amount;
    assert!(
        s.core
            .funds_available(&giro.iban, &available)
            .await
            .unwrap()
    );
    let one_cent_more = Money::from_minor(available.minor_units() + 1, Currency::EUR);
    assert!(
        !s.core
            .funds_available(&giro.iban, &one_cent_more)
            .await
            .unwrap()
    );
    let usd = Money::parse_positive("1.00", Currency::parse("USD").unwrap()).unwrap();
    assert!(!s.core.funds_available(&giro.iban, &usd).await.unwrap());
    let stranger = Iban::german("10020030", 80).unwrap();
    assert!(
        !s.core
            .funds_available(&stranger, &eur("1.00"))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn the_core_names_itself_and_reports_healthy() {
    let s = sandbox();
    assert_eq!(s.core.name(), "sandbox");
    s.core.health().await.unwrap();
}
