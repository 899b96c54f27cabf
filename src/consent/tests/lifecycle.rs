//! The status machine end to end: creation, reads, PSU and TPP transitions, and
//! the transitions time makes.

use std::net::IpAddr;

use serde_json::json;
use time::Duration;
use time::macros::{date, datetime};

use super::*;
use crate::core::PsuId;

fn alice() -> PsuId {
    PsuId("alice".into())
}

#[tokio::test]
async fn a_new_consent_is_received_with_the_banks_limits_applied() {
    let f = fixture();
    let mut body = body();
    body["validUntil"] = json!("9999-12-31");
    body["frequencyPerDay"] = json!(50);
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    let created = f
        .consents
        .create(TPP_A, &key("k1"), &body, Some(ip))
        .await
        .unwrap();
    assert_eq!(created.status, ConsentStatus::Received);
    assert_eq!(
        created.valid_until,
        date!(2026 - 03 - 02) + Duration::days(180)
    );
    assert_eq!(created.frequency_per_day, 4);
    assert_eq!(created.psu_ip_address, Some(ip));
    assert_eq!(created.created_at, datetime!(2026-03-02 10:00 UTC));
    assert_eq!(
        created.access.to_value(),
        json!({"accounts": [{"iban": IBAN_A}], "balances": [{"iban": IBAN_A}]})
    );

    let read = f.consents.get(TPP_A, &created.id).await.unwrap();
    assert_eq!(read, created);
}

#[tokio::test]
async fn another_clients_consent_and_unknown_ids_are_unknown() {
    let f = fixture();
    let c = f.received().await;
    assert!(matches!(
        f.consents.get(TPP_B, &c.id).await,
        Err(ConsentError::Unknown)
    ));
    assert!(matches!(
        f.consents.terminate(TPP_B, &c.id).await,
        Err(ConsentError::Unknown)
    ));
    assert!(matches!(
        f.consents.access_check(TPP_B, &c.id, f.clock.now()).await,
        Err(ConsentError::Unknown)
    ));
    let nobody = ConsentId::generate();
    assert!(matches!(
        f.consents.get(TPP_A, &nobody).await,
        Err(ConsentError::Unknown)
    ));
    assert!(matches!(
        f.consents.find(&nobody).await,
        Err(ConsentError::Unknown)
    ));
    assert_eq!(
        f.consents.find(&c.id).await.unwrap().id,
        c.id,
        "find ignores the owner"
    );
}

#[tokio::test]
async fn the_psu_authorizes_a_received_consent_which_then_grants_access() {
    let f = fixture();
    let c = f.received().await;
    assert!(matches!(
        f.consents.access_check(TPP_A, &c.id, f.clock.now()).await,
        Err(ConsentError::Invalid(ConsentStatus::Received))
    ));
    f.clock.advance(Duration::minutes(3));
    let valid = f
        .consents
        .authorize(&c.id, &alice(), granted())
        .await
        .unwrap();
    assert_eq!(valid.status, ConsentStatus::Valid);
    assert_eq!(valid.psu_id, Some(alice()));
    assert_eq!(valid.authorized_at, Some(f.clock.now()));
    assert_eq!(valid.status_changed_at, f.clock.now());
    let expected = granted().normalized();
    assert_eq!(valid.granted.as_ref(), Some(&expected));
    assert_eq!(expected.accounts.len(), 1, "balances imply account access");

    let checked = f
        .consents
        .access_check(TPP_A, &c.id, f.clock.now())
        .await
        .unwrap();
    assert_eq!(checked, valid);
    assert_eq!(f.consents.get(TPP_A, &c.id).await.unwrap(), valid);
}

#[tokio::test]
async fn a_consent_is_authorized_at_most_once() {
    let f = fixture();
    let c = f.valid().await;
    let again = f
        .consents
        .authorize(&c.id, &PsuId("bob".into()), granted())
        .await;
    assert!(matches!(
        again,
        Err(ConsentError::StatusInvalid(ConsentStatus::Valid))
    ));
    assert_eq!(f.consents.find(&c.id).await.unwrap().psu_id, Some(alice()));
}

#[tokio::test]
async fn a_consent_not_authorized_in_time_is_rejected() {
    let f = fixture();
    let c = f.received().await;
    f.clock
        .advance(Duration::minutes(15) - Duration::seconds(1));
    assert_eq!(
        f.consents.get(TPP_A, &c.id).await.unwrap().status,
        ConsentStatus::Received
    );
    f.clock.advance(Duration::seconds(1));
    let read = f.consents.get(TPP_A, &c.id).await.unwrap();
    assert_eq!(read.status, ConsentStatus::Rejected);
    assert_eq!(read.status_changed_at, c.created_at + Duration::minutes(15));
    assert!(matches!(
        f.consents.authorize(&c.id, &alice(), granted()).await,
        Err(ConsentError::StatusInvalid(ConsentStatus::Rejected))
    ));
    assert!(matches!(
        f.consents.access_check(TPP_A, &c.id, f.clock.now()).await,
        Err(ConsentError::Invalid(ConsentStatus::Rejected))
    ));
    // Reads report it at once; the next write persists it.
    assert_eq!(f.stored_status(&c.id).await, "received");
    let after_delete = f.consents.terminate(TPP_A, &c.id).await.unwrap();
    assert_eq!(after_delete.status, ConsentStatus::Rejected);
    assert_eq!(f.stored_status(&c.id).await, "rejected");
}

#[tokio::test]
async fn a_valid_consent_expires_after_its_valid_until_day() {
    let f = fixture();
    let mut b = body();
    b["validUntil"] = json!("2026-03-03");
    let c = f.create(TPP_A, "exp", &b).await.unwrap();
    let c = f
        .consents
        .authorize(&c.id, &alice(), granted())
        .await
        .unwrap();

    f.clock.set(datetime!(2026-03-03 23:59:59 UTC));
    assert!(
        f.consents
            .access_check(TPP_A, &c.id, f.clock.now())
            .await
            .is_ok()
    );
    f.clock.set(datetime!(2026-03-04 00:00 UTC));
    assert!(matches!(
        f.consents.access_check(TPP_A, &c.id, f.clock.now()).await,
        Err(ConsentError::Expired)
    ));
    let read = f.consents.get(TPP_A, &c.id).await.unwrap();
    assert_eq!(read.status, ConsentStatus::Expired);
    assert_eq!(read.last_action_date(), date!(2026 - 03 - 04));

    // access_check judges at the instant it is given.
    let earlier = datetime!(2026-03-03 12:00 UTC);
    assert!(f.consents.access_check(TPP_A, &c.id, earlier).await.is_ok());

    // Deleting an expired consent leaves it expired, and persists that.
    let deleted = f.consents.terminate(TPP_A, &c.id).await.unwrap();
    assert_eq!(deleted.status, ConsentStatus::Expired);
    assert_eq!(f.stored_status(&c.id).await, "expired");
}

#[tokio::test]
async fn the_tpp_terminates_received_and_valid_consents() {
    let f = fixture();
    for c in [f.received().await, f.valid().await] {
        f.clock.advance(Duration::minutes(1));
        let t = f.consents.terminate(TPP_A, &c.id).await.unwrap();
        assert_eq!(t.status, ConsentStatus::TerminatedByTpp);
        assert_eq!(t.status_changed_at, f.clock.now());
        assert!(matches!(
            f.consents.access_check(TPP_A, &c.id, f.clock.now()).await,
            Err(ConsentError::Invalid(ConsentStatus::TerminatedByTpp))
        ));
        // A repeated DELETE succeeds and changes nothing.
        f.clock.advance(Duration::minutes(1));
        let again = f.consents.terminate(TPP_A, &c.id).await.unwrap();
        assert_eq!(again, t);
    }
}

#[tokio::test]
async fn the_psu_rejects_a_received_consent() {
    let f = fixture();
    let c = f.received().await;
    let r = f.consents.reject(&c.id).await.unwrap();
    assert_eq!(r.status, ConsentStatus::Rejected);
    assert_eq!(
        f.consents.reject(&c.id).await.unwrap(),
        r,
        "rejecting again is a no-op"
    );
    let v = f.valid().await;
    assert!(matches!(
        f.consents.reject(&v.id).await,
        Err(ConsentError::StatusInvalid(ConsentStatus::Valid))
    ));
}

#[tokio::test]
async fn bank_it_revokes_only_valid_consents() {
    let f = fixture();
    let received = f.received().await;
    assert!(matches!(
        f.consents.revoke_by_psu(&received.id).await,
        Err(ConsentError::StatusInvalid(ConsentStatus::Received))
    ));
    let v = f.valid().await;
    let revoked = f.consents.revoke_by_psu(&v.id).await.unwrap();
    assert_eq!(revoked.status, ConsentStatus::RevokedByPsu);
    assert!(matches!(
        f.consents.access_check(TPP_A, &v.id, f.clock.now()).await,
        Err(ConsentError::Invalid(ConsentStatus::RevokedByPsu))
    ));
    assert!(matches!(
        f.consents.revoke_by_psu(&v.id).await,
        Err(ConsentError::StatusInvalid(ConsentStatus::RevokedByPsu))
    ));
}

#[tokio::test]
async fn terminal_states_never_change() {
    let f = fixture();
    let rejected = f.received().await;
    f.consents.reject(&rejected.id).await.unwrap();
    let revoked = f.valid().await;
    f.consents.revoke_by_psu(&revoked.id).await.unwrap();
    let terminated = f.valid().await;
    f.consents.terminate(TPP_A, &terminated.id).await.unwrap();
    let timed_out = f.received().await;
    f.clock.advance(Duration::hours(1));
    let expired = f.valid().await;
    f.clock.advance(Duration::days(365));

    let cases = [
        (rejected.id, ConsentStatus::Rejected),
        (revoked.id, ConsentStatus::RevokedByPsu),
        (terminated.id, ConsentStatus::TerminatedByTpp),
        (timed_out.id, ConsentStatus::Rejected),
        (expired.id, ConsentStatus::Expired),
    ];
    for (id, status) in cases {
        let before = f.consents.find(&id).await.unwrap();
        assert_eq!(before.status, status);
        assert!(
            f.consents
                .authorize(&id, &alice(), granted())
                .await
                .is_err()
        );
        assert!(f.consents.revoke_by_psu(&id).await.is_err());
        let _ = f.consents.reject(&id).await;
        assert_eq!(f.consents.terminate(TPP_A, &id).await.unwrap(), before);
        assert_eq!(f.consents.find(&id).await.unwrap(), before, "{status}");
        assert_eq!(f.stored_status(&id).await, status.as_str());
    }
}

#[tokio::test]
async fn one_off_consents_allow_one_access_a_day() {
    let f = fixture();
    let mut b = body();
    b["recurringIndicator"] = json!(false);
    let c = f.create(TPP_A, "once", &b).await.unwrap();
    assert!(!c.recurring);
    assert_eq!(c.frequency_per_day, 1);
}

#[tokio::test]
async fn invalid_bodies_create_nothing() {
    let f = fixture();
    let mut b = body();
    b["combinedServiceIndicator"] = json!(true);
    assert!(matches!(
        f.create(TPP_A, "k", &b).await,
        Err(ConsentError::SessionsNotSupported)
    ));
    let mut b = body();
    b["access"] = json!({"accounts": [{"bban": "x"}]});
    assert!(matches!(
        f.create(TPP_A, "k", &b).await,
        Err(ConsentError::Format { path, .. }) if path == "access.accounts[0].bban"
    ));
    let rows = f.count(|c| consents::table.count().get_result(c)).await;
    assert_eq!(rows, 0);
}
