//! Confirmation-of-funds consents run the same lifecycle as AIS consents, in the
//! same table, without ever being mistaken for one.

use serde_json::json;
use time::Duration;
use time::macros::date;

use super::*;
use crate::core::{AccountId, PsuId};

fn funds_service(f: &Fixture) -> FundsConsentService {
    FundsConsentService::new(
        f.db.store.clone(),
        f.clock.clone(),
        ConsentSettings::default(),
    )
}

fn funds_body() -> Value {
    json!({"account": {"iban": IBAN_A}, "cardNumber": "1234567891234"})
}

#[tokio::test]
async fn a_funds_consent_is_received_then_valid_for_the_granted_account() {
    let f = fixture();
    let funds = funds_service(&f);
    let created = funds
        .create(TPP_A, &key("f1"), &funds_body(), None)
        .await
        .unwrap();
    assert_eq!(created.status, ConsentStatus::Received);
    assert_eq!(
        created.valid_until,
        date!(2026 - 03 - 02) + Duration::days(180)
    );
    assert_eq!(created.access.to_value(), funds_body());
    assert_eq!(funds.get(TPP_A, &created.id).await.unwrap(), created);
    assert!(matches!(
        funds.access_check(TPP_A, &created.id, f.clock.now()).await,
        Err(ConsentError::Invalid(ConsentStatus::Received))
    ));

    let account = AccountId("acc-1".into());
    let valid = funds
        .authorize(&created.id, &PsuId("alice".into()), account.clone())
        .await
        .unwrap();
    assert_eq!(valid.status, ConsentStatus::Valid);
    assert_eq!(valid.granted, Some(FundsGrant { account }));
    assert_eq!(
        funds
            .access_check(TPP_A, &created.id, f.clock.now())
            .await
            .unwrap(),
        valid
    );

    funds.terminate(TPP_A, &created.id).await.unwrap();
    assert!(matches!(
        funds.access_check(TPP_A, &created.id, f.clock.now()).await,
        Err(ConsentError::Invalid(ConsentStatus::TerminatedByTpp))
    ));
}

#[tokio::test]
async fn an_ais_consent_id_is_unknown_to_funds_and_the_other_way_round() {
    let f = fixture();
    let funds = funds_service(&f);
    let ais = f.received().await;
    let cof = funds
        .create(TPP_A, &key("f2"), &funds_body(), None)
        .await
        .unwrap();
    assert!(matches!(
        funds.get(TPP_A, &ais.id).await,
        Err(ConsentError::Unknown)
    ));
    assert!(matches!(
        funds.terminate(TPP_A, &ais.id).await,
        Err(ConsentError::Unknown)
    ));
    assert!(matches!(
        f.consents.get(TPP_A, &cof.id).await,
        Err(ConsentError::Unknown)
    ));
    assert!(matches!(
        f.consents
            .authorize(&cof.id, &PsuId("alice".into()), granted())
            .await,
        Err(ConsentError::Unknown)
    ));
    assert_eq!(f.stored_status(&ais.id).await, "received");
    assert_eq!(f.stored_status(&cof.id).await, "received");
}

#[tokio::test]
async fn an_idempotency_key_used_for_an_ais_consent_conflicts_for_a_funds_consent() {
    let f = fixture();
    let funds = funds_service(&f);
    f.create(TPP_A, "shared", &body()).await.unwrap();
    assert!(matches!(
        funds
            .create(TPP_A, &key("shared"), &funds_body(), None)
            .await,
        Err(ConsentError::IdempotencyConflict)
    ));
    let first = funds
        .create(TPP_A, &key("funds-key"), &funds_body(), None)
        .await
        .unwrap();
    let again = funds
        .create(TPP_A, &key("funds-key"), &funds_body(), None)
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
}

#[tokio::test]
async fn a_funds_consent_not_authorized_in_time_is_rejected_and_stays_so() {
    let f = fixture();
    let funds = funds_service(&f);
    let c = funds
        .create(TPP_A, &key("f3"), &funds_body(), None)
        .await
        .unwrap();
    f.clock.advance(Duration::minutes(16));
    assert_eq!(
        funds.get(TPP_A, &c.id).await.unwrap().status,
        ConsentStatus::Rejected
    );
    assert!(matches!(
        funds
            .authorize(&c.id, &PsuId("alice".into()), AccountId("acc-1".into()))
            .await,
        Err(ConsentError::StatusInvalid(ConsentStatus::Rejected))
    ));
    // Rejecting persists what time decided.
    funds.reject(&c.id).await.unwrap();
    assert_eq!(f.stored_status(&c.id).await, "rejected");
}
