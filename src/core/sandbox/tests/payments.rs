//! Payment execution: exactly once, exactly the amount, or not at all.

use super::*;

#[tokio::test]
async fn an_internal_payment_moves_exactly_the_amount_to_the_payee_once() {
    let s = sandbox();
    let alice = s.accounts_of("alice").await.remove(0);
    let bob = s.accounts_of("bob").await.remove(0);
    let (alice_before, bob_before, clearing_before) = (
        s.booked(&alice).await,
        s.booked(&bob).await,
        s.clearing_balance(),
    );
    let order = s.order("pay-1", &alice, bob.iban.clone(), eur("12.34"));

    let outcome = s.core.submit_payment(&order).await.unwrap();
    let PaymentOutcome::Executed { transaction_id } = outcome.clone() else {
        panic!("{outcome:?}");
    };
    assert_eq!(s.core.submit_payment(&order).await.unwrap(), outcome);
    assert_eq!(
        s.core.payment_status(&order.payment_id).await.unwrap(),
        Some(outcome)
    );

    assert_eq!(s.booked(&alice).await, alice_before - 1234);
    assert_eq!(s.booked(&bob).await, bob_before + 1234);
    assert_eq!(s.clearing_balance(), clearing_before);
    let seen_by_bob = s
        .core
        .transaction(&bob.id, &transaction_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen_by_bob.amount.minor_units(), 1234);
    assert_eq!(seen_by_bob.counterparty_name, "Alice Example");
    assert_eq!(seen_by_bob.counterparty_iban, Some(alice.iban.clone()));
    assert_eq!(seen_by_bob.remittance, "Rechnung 42");
    let seen_by_alice = s
        .core
        .transaction(&alice.id, &transaction_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen_by_alice.amount.minor_units(), -1234);
    assert!(seen_by_alice.booked);
    assert_eq!(seen_by_alice.booking_date, date!(2026 - 06 - 15));
    s.assert_consistent().await;
}

#[tokio::test]
async fn an_external_payment_leaves_the_bank_through_the_clearing_account() {
    let s = sandbox();
    let bob = s.accounts_of("bob").await.remove(0);
    let (bob_before, clearing_before) = (s.booked(&bob).await, s.clearing_balance());
    let order = s.order(
        "pay-ext",
        &bob,
        Iban::german("10020030", 77).unwrap(),
        eur("250.00"),
    );
    let outcome = s.core.submit_payment(&order).await.unwrap();
    assert!(
        matches!(outcome, PaymentOutcome::Executed { .. }),
        "{outcome:?}"
    );
    assert_eq!(s.core.submit_payment(&order).await.unwrap(), outcome);
    assert_eq!(s.booked(&bob).await, bob_before - 25_000);
    assert_eq!(s.clearing_balance(), clearing_before + 25_000);
    s.assert_consistent().await;
}

#[tokio::test]
async fn concurrent_duplicate_submissions_move_money_once() {
    let s = sandbox();
    let alice = s.accounts_of("alice").await.remove(0);
    let before = s.booked(&alice).await;
    let order = s.order(
        "pay-race",
        &alice,
        Iban::german("10020030", 78).unwrap(),
        eur("1.00"),
    );
    let runs: Vec<_> = (0..6)
        .map(|_| {
            let (core, order) = (s.core.clone(), order.clone());
            tokio::spawn(async move { core.submit_payment(&order).await.unwrap() })
        })
        .collect();
    let mut outcomes = HashSet::new();
    for run in runs {
        outcomes.insert(format!("{:?}", run.await.unwrap()));
    }
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(s.booked(&alice).await, before - 100);
    s.assert_consistent().await;
}

#[tokio::test]
async fn concurrent_opposite_transfers_all_settle_and_keep_the_books_balanced() {
    let s = sandbox();
    let alice = s.accounts_of("alice").await.remove(0);
    let bob = s.accounts_of("bob").await.remove(0);
    let before = (s.booked(&alice).await, s.booked(&bob).await);
    let runs: Vec<_> = (0..8)
        .map(|i| {
            let (from, to) = if i % 2 == 0 {
                (&alice, &bob)
            } else {
                (&bob, &alice)
            };
            let amount = eur(if i % 2 == 0 { "3.00" } else { "1.00" });
            let order = s.order(&format!("swap-{i}"), from, to.iban.clone(), amount);
            let core = s.core.clone();
            tokio::spawn(async move { core.submit_payment(&order).await.unwrap() })
        })
        .collect();
    for run in runs {
        let outcome = run.await.unwrap();
        assert!(
            matches!(outcome, PaymentOutcome::Executed { .. }),
            "{outcome:?}"
        );
    }
    let after = (s.booked(&alice).await, s.booked(&bob).await);
    assert_eq!(after, (before.0 - 800, before.1 + 800));
    s.assert_consistent().await;
}

#[tokio::test]
async fn rejected_payments_move_nothing_and_stay_rejected() {
    let s = sandbox();
    let alice = s.accounts_of("alice").await.remove(0);
    let bob = s.accounts_of("bob").await.remove(0);
    let stranger = Iban::german("10020030", 79).unwrap();
    let usd = Money::parse_positive("5.00", Currency::parse("USD").unwrap()).unwrap();
    let mut unknown = s.order("rej-unknown", &alice, bob.iban.clone(), eur("5.00"));
    unknown.debtor = stranger.clone();
    let cases = [
        (
            s.order("rej-funds", &alice, bob.iban.clone(), eur("1000000.00")),
            RejectReason::InsufficientFunds,
        ),
        (
            s.order("rej-usd", &alice, bob.iban.clone(), usd),
            RejectReason::CurrencyMismatch,
        ),
        (unknown, RejectReason::UnknownDebtor),
        (
            s.order("rej-self", &alice, alice.iban.clone(), eur("5.00")),
            RejectReason::Other,
        ),
    ];
    let counts = s.row_counts();
    let (alice_before, bob_before) = (s.booked(&alice).await, s.booked(&bob).await);
    for (order, reason) in cases {
        let expected = PaymentOutcome::Rejected { reason };
        assert_eq!(
            s.core.submit_payment(&order).await.unwrap(),
            expected,
            "{reason:?}"
        );
        assert_eq!(
            s.core.submit_payment(&order).await.unwrap(),
            expected,
            "{reason:?}"
        );
        assert_eq!(
            s.core.payment_status(&order.payment_id).await.unwrap(),
            Some(expected)
        );
    }
    assert_eq!(s.row_counts(), counts);
    assert_eq!(
        (s.booked(&alice).await, s.booked(&bob).await),
        (alice_before, bob_before)
    );
    assert_eq!(
        s.core
            .payment_status(&PaymentId("never".into()))
            .await
            .unwrap(),
        None
    );
    s.assert_consistent().await;
}
