//! Idempotent creation: one consent per client, key and body, kept 24 h, even
//! under concurrent duplicates.

use serde_json::json;
use time::Duration;

use super::*;
use crate::idempotency::{Claim, IdempotencyError, RETENTION, claim, request_hash};
use crate::store::schema::idempotency_keys;

#[tokio::test]
async fn the_same_key_and_body_return_the_same_consent_in_its_current_status() {
    let f = fixture();
    let first = f.create(TPP_A, "key-1", &body()).await.unwrap();
    f.clock.advance(Duration::minutes(1));
    let replay = f.create(TPP_A, "key-1", &body()).await.unwrap();
    assert_eq!(replay, first);

    let valid = f
        .consents
        .authorize(&first.id, &crate::core::PsuId("alice".into()), granted())
        .await
        .unwrap();
    let replay = f.create(TPP_A, "key-1", &body()).await.unwrap();
    assert_eq!(replay.id, first.id);
    assert_eq!(replay.status, ConsentStatus::Valid);
    assert_eq!(replay, valid);
}

#[tokio::test]
async fn bodies_are_compared_as_parsed_json() {
    let f = fixture();
    let first = f.create(TPP_A, "key-1", &body()).await.unwrap();
    let reordered: serde_json::Value = serde_json::from_str(&format!(
        r#"{{ "combinedServiceIndicator": false, "frequencyPerDay": 4,
             "validUntil": "2026-06-30", "recurringIndicator": true,
             "access": {{ "balances": [ {{ "iban": "{IBAN_A}" }} ] }} }}"#
    ))
    .unwrap();
    assert_eq!(
        f.create(TPP_A, "key-1", &reordered).await.unwrap().id,
        first.id
    );
}

#[tokio::test]
async fn the_same_key_with_another_body_is_a_conflict() {
    let f = fixture();
    let first = f.create(TPP_A, "key-1", &body()).await.unwrap();
    let mut other = body();
    other["frequencyPerDay"] = json!(2);
    assert!(matches!(
        f.create(TPP_A, "key-1", &other).await,
        Err(ConsentError::IdempotencyConflict)
    ));
    // The first consent is untouched.
    assert_eq!(f.consents.get(TPP_A, &first.id).await.unwrap(), first);
    let rows = f.count(|c| consents::table.count().get_result(c)).await;
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn keys_are_scoped_to_the_client() {
    let f = fixture();
    let a = f.create(TPP_A, "shared", &body()).await.unwrap();
    let b = f.create(TPP_B, "shared", &body()).await.unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!(b.client_id, TPP_B);
}

#[tokio::test]
async fn keys_are_forgotten_after_24_hours() {
    let f = fixture();
    let first = f.create(TPP_A, "key-1", &body()).await.unwrap();
    f.clock.advance(RETENTION - Duration::seconds(1));
    assert_eq!(
        f.create(TPP_A, "key-1", &body()).await.unwrap().id,
        first.id
    );
    f.clock.advance(Duration::seconds(1));
    let later = f.create(TPP_A, "key-1", &body()).await.unwrap();
    assert_ne!(later.id, first.id);
    assert_eq!(later.status, ConsentStatus::Received);
    // And after 24 h a different body is no conflict either.
    f.clock.advance(RETENTION);
    let mut other = body();
    other["frequencyPerDay"] = json!(2);
    assert!(f.create(TPP_A, "key-1", &other).await.is_ok());
}

#[tokio::test]
async fn a_refused_request_does_not_use_up_its_key() {
    let f = fixture();
    let mut bad = body();
    bad["validUntil"] = json!("2020-01-01");
    assert!(f.create(TPP_A, "key-1", &bad).await.is_err());
    assert!(f.create(TPP_A, "key-1", &body()).await.is_ok());
}

#[tokio::test]
async fn a_key_used_for_another_kind_of_resource_is_a_conflict() {
    let f = fixture();
    let first = f.create(TPP_A, "key-1", &body()).await.unwrap();
    let now = f.clock.now();
    let hash = request_hash(&body());
    let outcome =
        f.db.store
            .write(move |conn| claim(conn, TPP_A, &key("key-1"), "payment", &hash, "p-1", now))
            .await;
    assert!(matches!(outcome, Err(IdempotencyError::Conflict)));
    let hash = request_hash(&body());
    let outcome =
        f.db.store
            .write(move |conn| {
                claim(
                    conn,
                    TPP_A,
                    &key("key-1"),
                    IDEMPOTENCY_KIND,
                    &hash,
                    "other",
                    now,
                )
            })
            .await
            .unwrap();
    assert_eq!(
        outcome,
        Claim::Replay {
            resource_id: first.id.to_string()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_create_exactly_one_consent() {
    let f = fixture();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let consents = f.consents.clone();
            tokio::spawn(async move { consents.create(TPP_A, &key("race"), &body(), None).await })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap().unwrap().id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every request got the same consent");
    let rows = f.count(|c| consents::table.count().get_result(c)).await;
    assert_eq!(rows, 1);
    let keys = f
        .count(|c| idempotency_keys::table.count().get_result(c))
        .await;
    assert_eq!(keys, 1);
}
