//! The risk engine on real sandbox traffic: which payments need SCA, which are
//! exempt (PSD2 RTS Art. 13 trusted beneficiary, Art. 16 low value, Art. 18
//! transaction-risk analysis) and which are rejected. The scoring table itself is
//! unit-tested in `src/risk`.

use serde_json::Value;
use time::Duration;

use crate::helpers::*;
use crate::payments::*;

fn stage_outcomes(shown: &Value) -> Vec<(String, String)> {
    shown["riskDecisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["stage"].as_str().unwrap().to_owned(),
                d["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Alice pays `amount` to `creditor`; returns whether the one-time code was asked
/// and the exemption recorded on the executed payment.
async fn alice_pays_to(app: &TestApp, creditor: &str, amount: &str, trust: bool) -> (bool, Value) {
    let alice = app.ibans_of("alice").await;
    let id = app
        .initiate(SEPA, &payment_body(&alice[0], creditor, amount))
        .await;
    let approved = app.psu_approves_payment(&id, "alice", trust).await;
    assert_eq!(app.settled_status(SEPA, &id).await, "ACSC");
    let shown = app.payment_shown(&id);
    // Two hours later: the last hour's velocity starts again.
    app.clock.advance(Duration::hours(2));
    (approved.sca_asked, shown["scaExemption"].clone())
}

#[tokio::test]
async fn a_low_value_payment_to_a_new_payee_needs_no_one_time_code() {
    let app = TestApp::spawn().await;
    let alice = app.ibans_of("alice").await;
    let id = app
        .initiate(SEPA, &payment_body(&alice[0], &new_payee(1), "20.00"))
        .await;
    let (_, page, _) = app.psu_reviews_payment(&id, "alice").await;
    assert!(!page.contains("name=\"otp\""), "{page}");
    assert!(
        !page.contains("trust_payee"),
        "trusting a payee needs SCA: {page}"
    );
    let approved = app.psu_approves_payment_again(&id).await;
    assert!(!approved);
    assert_eq!(app.settled_status(SEPA, &id).await, "ACSC");
    let shown = app.payment_shown(&id);
    assert_eq!(shown["scaExemption"], "lowValue");
}

impl TestApp {
    /// Approves a payment whose review page is shown again from the start.
    async fn psu_approves_payment_again(&self, id: &str) -> bool {
        self.psu_approves_payment(id, "alice", false)
            .await
            .sca_asked
    }
}

#[tokio::test]
async fn the_low_value_exemption_ends_at_five_payments_and_starts_again_after_sca() {
    // Only the Art. 16 counters decide here: risk never asks for SCA and TRA is off.
    let app = TestApp::spawn_with(|c| {
        c.risk.sca_threshold = 0.6;
        c.risk.reject_threshold = 0.95;
        c.risk.tra_exemption = false;
    })
    .await;
    for n in 0..5 {
        let (sca, exemption) = alice_pays_to(&app, &new_payee(10 + n), "10.00", false).await;
        assert!(!sca, "payment {n} is exempt");
        assert_eq!(exemption, "lowValue");
    }
    let (sca, exemption) = alice_pays_to(&app, &new_payee(20), "10.00", false).await;
    assert!(sca, "the sixth since the last SCA needs it");
    assert!(exemption.is_null());
    let (sca, _) = alice_pays_to(&app, &new_payee(21), "10.00", false).await;
    assert!(!sca, "SCA reset the counters");
}

#[tokio::test]
async fn the_low_value_exemption_ends_when_the_total_would_pass_eur_100() {
    let app = TestApp::spawn_with(|c| {
        c.risk.sca_threshold = 0.6;
        c.risk.reject_threshold = 0.95;
        c.risk.tra_exemption = false;
    })
    .await;
    for n in 0..3 {
        let (sca, _) = alice_pays_to(&app, &new_payee(30 + n), "30.00", false).await;
        assert!(!sca, "payment {n}: EUR {} so far", 30 * (n + 1));
    }
    let (sca, _) = alice_pays_to(&app, &new_payee(33), "20.00", false).await;
    assert!(sca, "EUR 110 would pass the EUR 100 limit");
    let (sca, _) = alice_pays_to(&app, &new_payee(34), "30.01", false).await;
    assert!(sca, "above EUR 30 is never low value");
}

#[tokio::test]
async fn a_large_payment_to_a_new_payee_needs_sca() {
    let app = TestApp::spawn().await;
    let (sca, exemption) = alice_pays_to(&app, &new_payee(40), "900.00", false).await;
    assert!(sca);
    assert!(exemption.is_null());
}

#[tokio::test]
async fn a_very_risky_payment_is_rejected_with_payment_failed_and_kept_as_rjct() {
    let app = TestApp::spawn().await;
    let alice = app.ibans_of("alice").await;
    let before = app.booked_cents(&alice[0]).await;
    let body = serde_json::json!({
        "instructedAmount": {"currency": "EUR", "amount": "4500.00"},
        "debtorAccount": {"iban": alice[0]},
        "creditorAccount": {"iban": "GB82WEST12345698765432"},
        "creditorName": "Unknown Ltd"
    });
    let res = app.post_payment(CROSS_BORDER, &body, "risky-1").await;
    assert_eq!(res.status(), 400);
    let err = json(res).await;
    assert_eq!(tpp_code(&err), "PAYMENT_FAILED");
    // The TPP learns the fact, not the reasons.
    let text = err.to_string();
    assert!(
        !text.contains("score") && !text.contains("newPayee"),
        "{text}"
    );
    // A replay gets the same answer; the payment was kept, rejected, for bank IT.
    let res = app.post_payment(CROSS_BORDER, &body, "risky-1").await;
    assert_eq!(res.status(), 400);
    assert_eq!(tpp_code(&json(res).await), "PAYMENT_FAILED");
    assert_eq!(app.booked_cents(&alice[0]).await, before);
}

#[tokio::test]
async fn a_rejected_payment_is_on_record_with_its_score_and_reasons() {
    let app = TestApp::spawn().await;
    let alice = app.ibans_of("alice").await;
    let body = payment_body(&alice[0], &new_payee(50), "4500.00");
    let res = app.post_payment(SEPA, &body, "risky-2").await;
    assert_eq!(res.status(), 400);
    let id = app
        .state
        .store
        .read(|c| {
            use diesel::prelude::*;
            obgw::store::schema::payments::table
                .select(obgw::store::schema::payments::payment_id)
                .first::<String>(c)
                .map_err(obgw::store::StoreError::from)
        })
        .await
        .unwrap();
    let shown = app.payment_shown(&id);
    assert_eq!(shown["transactionStatus"], "RJCT");
    assert_eq!(
        stage_outcomes(&shown),
        [("initiation".into(), "reject".into())]
    );
    let decision = &shown["riskDecisions"][0];
    assert!(decision["score"].as_f64().unwrap() >= 0.9);
    let reasons = decision["explanation"]["reasons"].as_array().unwrap();
    assert!(reasons.iter().any(|r| r == "newPayee"), "{decision}");
}

#[tokio::test]
async fn a_payee_trusted_under_sca_is_exempt_later_and_an_untrusted_one_is_not() {
    let app = TestApp::spawn().await;
    let trusted = new_payee(60);
    let untrusted = new_payee(61);
    let (sca, _) = alice_pays_to(&app, &trusted, "300.00", true).await;
    assert!(sca);
    let (sca, _) = alice_pays_to(&app, &untrusted, "300.00", false).await;
    assert!(sca);
    let (sca, exemption) = alice_pays_to(&app, &trusted, "260.00", false).await;
    assert!(!sca);
    assert_eq!(exemption, "trustedBeneficiary");
    let (sca, exemption) = alice_pays_to(&app, &untrusted, "260.00", false).await;
    assert!(sca, "above the TRA threshold and not trusted");
    assert!(exemption.is_null());
}

#[tokio::test]
async fn a_routine_payment_to_a_known_payee_is_exempt_by_transaction_risk_analysis() {
    let app = TestApp::spawn().await;
    let payee = new_payee(70);
    alice_pays_to(&app, &payee, "25.00", false).await;
    let (sca, exemption) = alice_pays_to(&app, &payee, "25.00", false).await;
    assert!(!sca);
    assert_eq!(exemption, "transactionRiskAnalysis");
}

#[tokio::test]
async fn the_stricter_of_the_initiation_and_approval_decisions_wins() {
    let app = TestApp::spawn().await;
    let alice = app.ibans_of("alice").await;
    let id = app
        .initiate(SEPA, &payment_body(&alice[0], &new_payee(80), "20.00"))
        .await;
    // Six more payments in the same hour before the PSU approves the first.
    for n in 0..6 {
        app.initiate(SEPA, &payment_body(&alice[0], &new_payee(81 + n), "20.00"))
            .await;
    }
    let approved = app.psu_approves_payment(&id, "alice", false).await;
    assert!(approved.sca_asked, "the velocity at approval asks for SCA");
    let shown = app.payment_shown(&id);
    assert_eq!(
        stage_outcomes(&shown),
        [
            ("initiation".into(), "exempt".into()),
            ("approval".into(), "sca".into())
        ]
    );
}
