//! Whatever fails between approval and the core, every payment ends executed
//! exactly once or rejected: never twice, never lost. The core is the HTTP
//! adapter's mock (fault knobs) here; `crash.rs` kills the real binary.

use std::time::Duration as StdDuration;

use time::Duration;

use crate::helpers::*;
use crate::payments::*;

/// The gateway on the mock core, forwarding only when the test runs a pass, with
/// a short core timeout.
async fn gateway() -> MockCoreApp {
    TestApp::spawn_on_mock_core_with(|c| {
        c.core.http.request_timeout_ms = 700;
        c.payments.run_forwarder = false;
    })
    .await
}

/// An approved (`ACTC`) payment of EUR 5 from alice to bob on the mock core.
async fn approved_payment(app: &MockCoreApp) -> (String, String, i64) {
    let alice = app.ibans_of("alice").await;
    let bob = app.ibans_of("bob").await;
    let before = app.booked_cents(&alice[0]).await;
    let id = app
        .initiate(SEPA, &payment_body(&alice[0], &bob[0], "5.00"))
        .await;
    app.psu_approves_payment(&id, "alice", false).await;
    assert_eq!(app.payment_status(SEPA, &id).await, "ACTC");
    (id, alice[0].clone(), before)
}

/// Once the lease has run out, the next pass reconciles the payment.
async fn reconcile(app: &MockCoreApp) {
    app.clock.advance(Duration::seconds(31));
    obgw::app::forwarder(&app.state).pass().await.unwrap();
}

#[tokio::test]
async fn a_submission_that_times_out_after_the_core_executed_it_is_reconciled_not_resubmitted() {
    let app = gateway().await;
    let (id, alice, before) = approved_payment(&app).await;
    let forwarder = obgw::app::forwarder(&app.state);

    app.core.set_delay(StdDuration::from_millis(1_500));
    forwarder.pass().await.unwrap();
    app.core.set_delay(StdDuration::ZERO);
    assert_eq!(app.core.executed_payments(), 1, "the core executed it");
    assert_eq!(
        app.payment_status(SEPA, &id).await,
        "ACTC",
        "outcome unknown: still in flight"
    );

    // Within the lease nobody touches it.
    assert_eq!(forwarder.pass().await.unwrap(), 0);
    reconcile(&app).await;
    assert_eq!(app.payment_status(SEPA, &id).await, "ACSC");
    assert_eq!(app.core.executed_payments(), 1, "never twice");
    assert_eq!(app.booked_cents(&alice).await, before - 500);
    let shown = app.payment_shown(&id);
    assert_eq!(shown["outbox"]["attempts"], 2);
    assert_eq!(shown["outbox"]["state"], "done");
}

#[tokio::test]
async fn a_submission_that_never_reached_the_core_is_submitted_once_the_core_is_back() {
    let mut app = gateway().await;
    let (id, alice, before) = approved_payment(&app).await;
    let forwarder = obgw::app::forwarder(&app.state);

    app.core.stop().await;
    forwarder.pass().await.unwrap();
    assert_eq!(app.payment_status(SEPA, &id).await, "ACTC");
    app.core.start().await.unwrap();
    assert_eq!(app.core.executed_payments(), 0);

    reconcile(&app).await;
    assert_eq!(app.payment_status(SEPA, &id).await, "ACSC");
    assert_eq!(app.core.executed_payments(), 1);
    assert_eq!(app.booked_cents(&alice).await, before - 500);
}

#[tokio::test]
async fn a_submission_that_times_out_before_the_core_executed_it_is_executed_once() {
    let app = gateway().await;
    let (id, alice, before) = approved_payment(&app).await;
    let forwarder = obgw::app::forwarder(&app.state);

    // The core holds the request past the gateway's timeout; whether it then
    // executes it late or never, the gateway cannot know.
    app.core.set_stall(StdDuration::from_millis(1_500));
    forwarder.pass().await.unwrap();
    app.core.set_stall(StdDuration::ZERO);
    assert_eq!(app.payment_status(SEPA, &id).await, "ACTC");
    tokio::time::sleep(StdDuration::from_millis(1_200)).await;

    reconcile(&app).await;
    assert_eq!(app.payment_status(SEPA, &id).await, "ACSC");
    assert_eq!(app.core.executed_payments(), 1, "once, late or not");
    assert_eq!(app.booked_cents(&alice).await, before - 500);
}

#[tokio::test]
async fn a_core_answering_500_leaves_the_payment_in_flight_until_it_recovers() {
    let app = gateway().await;
    let (id, alice, before) = approved_payment(&app).await;
    let forwarder = obgw::app::forwarder(&app.state);

    app.core.set_failing(true);
    forwarder.pass().await.unwrap();
    // Still failing at the next claim: the reconciliation cannot ask the core
    // either, so the payment waits; it is never marked failed on a guess.
    reconcile(&app).await;
    assert_eq!(app.payment_status(SEPA, &id).await, "ACTC");
    app.core.set_failing(false);

    reconcile(&app).await;
    assert_eq!(app.payment_status(SEPA, &id).await, "ACSC");
    assert_eq!(app.core.executed_payments(), 1);
    assert_eq!(app.booked_cents(&alice).await, before - 500);
}

#[tokio::test]
async fn a_payment_the_core_refuses_ends_rejected_and_moves_nothing() {
    let app = TestApp::spawn_on_mock_core_with(|c| c.risk.reject_threshold = 2.0).await;
    let alice = app.ibans_of("alice").await;
    let bob = app.ibans_of("bob").await;
    let before = app.booked_cents(&alice[0]).await;
    let (_, _, status) = app
        .alice_pays(SEPA, &payment_body(&alice[0], &bob[0], "99999.00"))
        .await;
    assert_eq!(status, "RJCT");
    assert_eq!(app.booked_cents(&alice[0]).await, before);
    assert_eq!(app.core.executed_payments(), 0);
}

#[tokio::test]
async fn two_workers_racing_for_the_same_payment_submit_it_once() {
    let app = gateway().await;
    let (id, alice, before) = approved_payment(&app).await;
    let (a, b) = (
        obgw::app::forwarder(&app.state),
        obgw::app::forwarder(&app.state),
    );
    let (ra, rb) = tokio::join!(a.pass(), b.pass());
    assert_eq!(ra.unwrap() + rb.unwrap(), 1, "exactly one claim wins");
    assert_eq!(app.payment_status(SEPA, &id).await, "ACSC");
    assert_eq!(app.core.executed_payments(), 1);
    assert_eq!(app.booked_cents(&alice).await, before - 500);
}
