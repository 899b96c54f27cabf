//! Money between banks: credits from peers and reversals, each exactly once.

use super::*;
use crate::core::{CreditOutcome, CreditRefusal, IncomingCredit, Reversal};

impl Sandbox {
    fn credit(&self, payment_id: &str, creditor: Iban, amount: Money) -> IncomingCredit {
        IncomingCredit {
            peer: "bank-b".into(),
            payment_id: PaymentId(payment_id.to_owned()),
            debtor: Iban::german("99912346", 2_000_001).unwrap(),
            debtor_name: Some("Dora Debtor".into()),
            creditor,
            creditor_name: "Bob Example".into(),
            amount,
            remittance: Some("Miete".into()),
        }
    }

    fn set_status(&self, account: &Account, status: &str) {
        let (id, status) = (account.id.0.clone(), status.to_owned());
        self.store
            .write_blocking(move |c| {
                diesel::update(core_accounts::table.find(id))
                    .set(core_accounts::status.eq(status))
                    .execute(c)
                    .map_err(crate::store::StoreError::from)
            })
            .unwrap();
    }
}

#[tokio::test]
async fn a_credit_from_a_peer_moves_the_amount_from_clearing_to_the_payee_once() {
    let s = sandbox();
    let bob = s.accounts_of("bob").await.remove(0);
    let (bob_before, clearing_before) = (s.booked(&bob).await, s.clearing_balance());
    let credit = s.credit("ext-1", bob.iban.clone(), eur("40.10"));

    let outcome = s.core.receive_credit(&credit).await.unwrap();
    let CreditOutcome::Credited { transaction_id } = outcome.clone() else {
        panic!("{outcome:?}");
    };
    assert_eq!(s.core.receive_credit(&credit).await.unwrap(), outcome);

    assert_eq!(s.booked(&bob).await, bob_before + 4_010);
    assert_eq!(s.clearing_balance(), clearing_before - 4_010);
    let seen = s
        .core
        .transaction(&bob.id, &transaction_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.amount.minor_units(), 4_010);
    assert_eq!(seen.counterparty_name, "Dora Debtor");
    assert_eq!(seen.counterparty_iban, Some(credit.debtor.clone()));
    assert_eq!(seen.remittance, "Miete");

    let mut other_peer = credit.clone();
    other_peer.peer = "bank-c".into();
    assert_ne!(s.core.receive_credit(&other_peer).await.unwrap(), outcome);
    assert_eq!(s.booked(&bob).await, bob_before + 2 * 4_010);
    s.assert_consistent().await;
}

#[tokio::test]
async fn concurrent_duplicate_credits_book_once() {
    let s = sandbox();
    let bob = s.accounts_of("bob").await.remove(0);
    let before = s.booked(&bob).await;
    let credit = s.credit("ext-race", bob.iban.clone(), eur("2.50"));
    let runs: Vec<_> = (0..6)
        .map(|_| {
            let (core, credit) = (s.core.clone(), credit.clone());
            tokio::spawn(async move { core.receive_credit(&credit).await.unwrap() })
        })
        .collect();
    let mut outcomes = HashSet::new();
    for run in runs {
        outcomes.insert(format!("{:?}", run.await.unwrap()));
    }
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(s.booked(&bob).await, before + 250);
    s.assert_consistent().await;
}

#[tokio::test]
async fn refused_credits_move_nothing_and_stay_refused() {
    let s = sandbox();
    let mut bob = s.accounts_of("bob").await;
    let (giro, savings) = (bob.remove(0), bob.remove(0));
    s.set_status(&savings, "blocked");
    let clearing = Iban::german(BANK_CODE, 9_000_000_000).unwrap();
    let usd = Money::parse_positive("5.00", Currency::parse("USD").unwrap()).unwrap();
    let cases = [
        (
            s.credit(
                "r-unknown",
                Iban::german(BANK_CODE, 4_444_444).unwrap(),
                eur("1.00"),
            ),
            CreditRefusal::UnknownCreditor,
        ),
        (
            s.credit("r-clearing", clearing, eur("1.00")),
            CreditRefusal::UnknownCreditor,
        ),
        (
            s.credit("r-blocked", savings.iban.clone(), eur("1.00")),
            CreditRefusal::AccountBlocked,
        ),
        (
            s.credit("r-usd", giro.iban.clone(), usd),
            CreditRefusal::CurrencyMismatch,
        ),
    ];
    let counts = s.row_counts();
    let before = s.booked(&giro).await;
    for (credit, reason) in &cases {
        let expected = CreditOutcome::Refused { reason: *reason };
        assert_eq!(s.core.receive_credit(credit).await.unwrap(), expected);
    }
    // A refusal is final: unblocking the account does not turn a replay into a credit.
    s.set_status(&savings, "enabled");
    for (credit, reason) in &cases {
        let expected = CreditOutcome::Refused { reason: *reason };
        assert_eq!(s.core.receive_credit(credit).await.unwrap(), expected);
    }
    assert_eq!(s.row_counts(), counts);
    assert_eq!(s.booked(&giro).await, before);
    s.assert_consistent().await;
}

#[tokio::test]
async fn a_reversal_gives_an_external_payment_back_exactly_once() {
    let s = sandbox();
    let alice = s.accounts_of("alice").await.remove(0);
    let (before, clearing_before) = (s.booked(&alice).await, s.clearing_balance());
    let order = s.order(
        "to-peer",
        &alice,
        Iban::german("99912346", 2_000_001).unwrap(),
        eur("19.99"),
    );
    s.core.submit_payment(&order).await.unwrap();
    assert_eq!(s.booked(&alice).await, before - 1_999);

    let runs: Vec<_> = (0..4)
        .map(|_| {
            let (core, id) = (s.core.clone(), order.payment_id.clone());
            tokio::spawn(async move { core.reverse_payment(&id).await.unwrap() })
        })
        .collect();
    let mut reversals = HashSet::new();
    for run in runs {
        let reversal = run.await.unwrap();
        assert!(
            matches!(reversal, Reversal::Reversed { .. }),
            "{reversal:?}"
        );
        reversals.insert(format!("{reversal:?}"));
    }
    assert_eq!(reversals.len(), 1, "{reversals:?}");
    assert_eq!(s.booked(&alice).await, before);
    assert_eq!(s.clearing_balance(), clearing_before);
    let Reversal::Reversed { transaction_id } =
        s.core.reverse_payment(&order.payment_id).await.unwrap()
    else {
        panic!("reversed before");
    };
    let seen = s
        .core
        .transaction(&alice.id, &transaction_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.amount.minor_units(), 1_999);
    assert_eq!(seen.remittance, "Return: Rechnung 42");
    s.assert_consistent().await;
}

#[tokio::test]
async fn only_executed_payments_that_left_the_bank_can_be_reversed() {
    let s = sandbox();
    let alice = s.accounts_of("alice").await.remove(0);
    let bob = s.accounts_of("bob").await.remove(0);
    let internal = s.order("internal", &alice, bob.iban.clone(), eur("1.00"));
    s.core.submit_payment(&internal).await.unwrap();
    let refused = s.order("refused", &alice, bob.iban.clone(), eur("99999999.00"));
    s.core.submit_payment(&refused).await.unwrap();
    let counts = s.row_counts();

    assert!(matches!(
        s.core.reverse_payment(&internal.payment_id).await,
        Err(CoreError::Protocol(_))
    ));
    for id in [refused.payment_id, PaymentId("never".into())] {
        assert_eq!(
            s.core.reverse_payment(&id).await.unwrap(),
            Reversal::NotExecuted
        );
    }
    assert_eq!(s.row_counts(), counts);
    s.assert_consistent().await;
}

#[tokio::test]
async fn the_holder_name_is_the_psus_display_name() {
    let s = sandbox();
    let alice = s.accounts_of("alice").await.remove(0);
    assert_eq!(
        s.core.account_holder_name(&alice.iban).await.unwrap(),
        Some("Alice Example".to_owned())
    );
    let stranger = Iban::german("10020030", 1).unwrap();
    assert_eq!(s.core.account_holder_name(&stranger).await.unwrap(), None);
}
