//! Specifications of the consent lifecycle against a real database: a fresh
//! SQLite file, or a fresh PostgreSQL schema when `OBGW_TEST_DATABASE_URL` is set.
//! This file holds the fixture (also used by `idempotency`'s tests); the
//! specifications are grouped by topic.

use crate::store::testing::Scratch;
use std::sync::Arc;

use diesel::prelude::*;
use serde_json::{Value, json};
use time::macros::datetime;

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::idempotency::IdempotencyKey;
use crate::store::schema::{consents, tpp_clients};
use crate::store::{Store, to_db_time};

mod funds;
mod idempotency;
mod lifecycle;

/// The two TPP clients every test database knows.
pub(crate) const TPP_A: &str = "tpp-a";
pub(crate) const TPP_B: &str = "tpp-b";
pub(crate) const IBAN_A: &str = "DE89370400440532013000";

/// A migrated database with clients [`TPP_A`] and [`TPP_B`] registered.
pub(crate) struct TestDb {
    pub store: Store,
    _scratch: Scratch,
}

impl TestDb {
    pub fn new() -> TestDb {
        let (scratch, url) = Scratch::new("consent");
        let store = Store::connect(&url, 8).unwrap();
        store.migrate().unwrap();
        let now = to_db_time(datetime!(2026-01-01 00:00 UTC));
        store
            .write_blocking(|conn| {
                for id in [TPP_A, TPP_B] {
                    diesel::insert_into(tpp_clients::table)
                        .values((
                            tpp_clients::client_id.eq(id),
                            tpp_clients::name.eq(id),
                            tpp_clients::cert_thumbprint.eq(format!("thumb-{id}")),
                            tpp_clients::cert_subject.eq(format!("CN={id}")),
                            tpp_clients::redirect_uris.eq("[\"https://tpp.example/cb\"]"),
                            tpp_clients::scopes.eq("accounts"),
                            tpp_clients::status.eq("active"),
                            tpp_clients::created_at.eq(now),
                            tpp_clients::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                }
                Ok::<_, crate::store::StoreError>(())
            })
            .unwrap();
        TestDb {
            store,
            _scratch: scratch,
        }
    }
}

/// A consent service over a fresh database, with a clock the test moves.
struct Fixture {
    db: TestDb,
    clock: Arc<ManualClock>,
    consents: ConsentService,
}

fn fixture() -> Fixture {
    let db = TestDb::new();
    let clock = Arc::new(ManualClock::new(datetime!(2026-03-02 10:00 UTC)));
    let consents = ConsentService::new(db.store.clone(), clock.clone(), ConsentSettings::default());
    Fixture {
        db,
        clock,
        consents,
    }
}

fn body() -> Value {
    json!({
        "access": {"balances": [{"iban": IBAN_A}]},
        "recurringIndicator": true,
        "validUntil": "2026-06-30",
        "frequencyPerDay": 4,
        "combinedServiceIndicator": false,
    })
}

fn key(s: &str) -> IdempotencyKey {
    IdempotencyKey::parse(s).unwrap()
}

fn granted() -> GrantedAccess {
    GrantedAccess {
        accounts: vec![],
        balances: vec![crate::core::AccountId("acc-1".into())],
        transactions: vec![],
    }
}

impl Fixture {
    async fn create(&self, client: &str, k: &str, body: &Value) -> Result<Consent, ConsentError> {
        self.consents.create(client, &key(k), body, None).await
    }

    /// A fresh `received` consent of [`TPP_A`].
    async fn received(&self) -> Consent {
        let k = uuid::Uuid::new_v4().simple().to_string();
        self.create(TPP_A, &k, &body()).await.unwrap()
    }

    /// A fresh `valid` consent of [`TPP_A`].
    async fn valid(&self) -> Consent {
        let c = self.received().await;
        self.consents
            .authorize(&c.id, &crate::core::PsuId("alice".into()), granted())
            .await
            .unwrap()
    }

    /// The status as stored, without settling.
    async fn stored_status(&self, id: &ConsentId) -> String {
        let id = id.as_str().to_owned();
        self.db
            .store
            .read(move |conn| {
                consents::table
                    .filter(consents::consent_id.eq(id))
                    .select(consents::status)
                    .first::<String>(conn)
                    .map_err(crate::store::StoreError::from)
            })
            .await
            .unwrap()
    }

    async fn count<T>(&self, count: T) -> i64
    where
        T: Fn(&mut crate::store::DbConn) -> QueryResult<i64> + Send + 'static,
    {
        self.db
            .store
            .read(move |conn| count(conn).map_err(crate::store::StoreError::from))
            .await
            .unwrap()
    }
}
