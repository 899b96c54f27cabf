//! The consent lifecycle, written once for every kind of consent
//! ([`ConsentLifecycle`] over [`ConsentKind`]): each step is one transaction.
//! [`ConsentService`] runs it for AIS consents, [`FundsConsentService`] for
//! confirmation-of-funds consents; only creating and authorizing differ by kind.

use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::Arc;

use serde_json::Value;
use time::{OffsetDateTime, UtcOffset};

use super::error::ConsentError;
use super::funds::FundsConsent;
use super::kind::ConsentKind;
use super::model::{Consent, ConsentId, ConsentSettings, ConsentStatus, GrantedAccess};
use super::repo;
use super::request::CreateConsentRequest;
use crate::clock::Clock;
use crate::core::PsuId;
use crate::idempotency::{self, Claim, IdempotencyKey};
use crate::store::{DbConn, Store};

/// The `resource_kind` of AIS consents in the idempotency records.
pub const IDEMPOTENCY_KIND: &str = <Consent as ConsentKind>::IDEMPOTENCY_KIND;

/// How often a status change is re-decided when a concurrent change won the
/// conditional UPDATE (PostgreSQL only; SQLite write transactions are serial).
const MAX_ATTEMPTS: usize = 3;

/// The lifecycle of consents of kind `K` over the gateway's database. Cheap to
/// clone.
///
/// Reads report the effective status (time-driven transitions applied, see
/// [`Consent::effective_status`]); writes also persist it.
#[derive(Debug, Clone)]
pub struct ConsentLifecycle<K> {
    store: Store,
    clock: Arc<dyn Clock>,
    settings: Arc<ConsentSettings>,
    kind: PhantomData<fn() -> K>,
}

/// AIS consents (`/v1/consents`).
pub type ConsentService = ConsentLifecycle<Consent>;

/// Confirmation-of-funds consents (`/v2/consents/confirmation-of-funds`).
pub type FundsConsentService = ConsentLifecycle<FundsConsent>;

/// What a lifecycle step does to a consent in its effective status.
enum Step {
    /// Nothing (the step is a no-op in this status).
    Keep,
    To(ConsentStatus),
    /// `received` → `valid` for the PSU, with what was granted (as stored JSON).
    Authorize {
        psu: PsuId,
        granted: String,
    },
}

impl<K: ConsentKind> ConsentLifecycle<K> {
    pub fn new(store: Store, clock: Arc<dyn Clock>, settings: ConsentSettings) -> Self {
        ConsentLifecycle {
            store,
            clock,
            settings: Arc::new(settings),
            kind: PhantomData,
        }
    }

    pub fn settings(&self) -> &ConsentSettings {
        &self.settings
    }

    pub(super) fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Stores `fresh` (a `received` consent parsed from `body`) idempotently: the
    /// same key with the same body (as parsed JSON) within 24 h returns the
    /// consent the first request created, in its current status; the same key
    /// with another body is [`ConsentError::IdempotencyConflict`]. Concurrent
    /// duplicates create one consent.
    pub(super) async fn insert_idempotently(
        &self,
        fresh: K,
        key: &IdempotencyKey,
        body: &Value,
        now: OffsetDateTime,
    ) -> Result<K, ConsentError> {
        let request_hash = idempotency::request_hash(body);
        let key = key.clone();
        let settings = Arc::clone(&self.settings);
        let consent =
            idempotency::write_with_retry(&self.store, ConsentError::is_contended, move |conn| {
                let claim = idempotency::claim(
                    conn,
                    fresh.client_id(),
                    &key,
                    K::IDEMPOTENCY_KIND,
                    &request_hash,
                    fresh.id().as_str(),
                    now,
                )?;
                match claim {
                    Claim::New => {
                        fresh.insert(conn)?;
                        Ok(fresh.clone())
                    }
                    Claim::Replay { resource_id } => {
                        let id = ConsentId::parse(&resource_id)?;
                        let owner = Some(fresh.client_id());
                        apply(conn, &id, owner, now, &settings, |_: &K| Ok(Step::Keep))
                    }
                }
            })
            .await?;
        tracing::info!(consent.id = %consent.id(), consent.kind = K::KIND, consent.status = %consent.status(), "consent created or replayed");
        Ok(consent)
    }

    /// The consent `id` as `client_id` sees it: [`ConsentError::Unknown`] if it
    /// does not exist, is of another kind, or belongs to another client.
    #[tracing::instrument(skip_all, fields(consent.id = %id))]
    pub async fn get(&self, client_id: &str, id: &ConsentId) -> Result<K, ConsentError> {
        let now = self.clock.now();
        self.read(id, Some(client_id), now).await
    }

    /// The consent `id` whoever owns it (for the PSU page and bank IT).
    #[tracing::instrument(skip_all, fields(consent.id = %id))]
    pub async fn find(&self, id: &ConsentId) -> Result<K, ConsentError> {
        let now = self.clock.now();
        self.read(id, None, now).await
    }

    /// The TPP deletes its consent: `received` or `valid` become
    /// `terminatedByTpp`. Deleting a consent that is already finalised
    /// (rejected, revoked, expired, terminated) succeeds and leaves it as it is,
    /// so a retried DELETE is harmless and the recorded reason stays.
    #[tracing::instrument(skip_all, fields(consent.id = %id))]
    pub async fn terminate(&self, client_id: &str, id: &ConsentId) -> Result<K, ConsentError> {
        self.change(id, Some(client_id), |c: &K| {
            Ok(if c.status().is_terminal() {
                Step::Keep
            } else {
                Step::To(ConsentStatus::TerminatedByTpp)
            })
        })
        .await
    }

    /// The PSU approved on the consent page: `received` → `valid`, recording the
    /// PSU and what was granted. Any other effective status (including a
    /// `received` consent past the authorization timeout, which is `rejected`) is
    /// [`ConsentError::StatusInvalid`].
    pub(super) async fn authorize_with(
        &self,
        id: &ConsentId,
        psu: &PsuId,
        granted: &K::Grant,
    ) -> Result<K, ConsentError> {
        let granted =
            serde_json::to_string(granted).map_err(|e| repo::corrupt("granted_access", e))?;
        let psu = psu.clone();
        self.change(id, None, move |c: &K| match c.status() {
            ConsentStatus::Received => Ok(Step::Authorize {
                psu: psu.clone(),
                granted: granted.clone(),
            }),
            other => Err(ConsentError::StatusInvalid(other)),
        })
        .await
    }

    /// The PSU denied, or the bank refused (the PSU does not own a named account):
    /// `received` → `rejected`. Rejecting a rejected consent is a no-op.
    #[tracing::instrument(skip_all, fields(consent.id = %id))]
    pub async fn reject(&self, id: &ConsentId) -> Result<K, ConsentError> {
        self.change(id, None, |c: &K| match c.status() {
            ConsentStatus::Received => Ok(Step::To(ConsentStatus::Rejected)),
            ConsentStatus::Rejected => Ok(Step::Keep),
            other => Err(ConsentError::StatusInvalid(other)),
        })
        .await
    }

    /// Bank IT revokes on the PSU's behalf (`obgw consents revoke ID`):
    /// `valid` → `revokedByPsu`; anything else is [`ConsentError::StatusInvalid`].
    #[tracing::instrument(skip_all, fields(consent.id = %id))]
    pub async fn revoke_by_psu(&self, id: &ConsentId) -> Result<K, ConsentError> {
        self.change(id, None, |c: &K| match c.status() {
            ConsentStatus::Valid => Ok(Step::To(ConsentStatus::RevokedByPsu)),
            other => Err(ConsentError::StatusInvalid(other)),
        })
        .await
    }

    /// The consent `id` if `client_id` may use it at `now`: it is the client's and
    /// its effective status is `valid`. Otherwise [`ConsentError::Unknown`],
    /// [`ConsentError::Expired`], or [`ConsentError::Invalid`] with the status.
    #[tracing::instrument(skip_all, fields(consent.id = %id))]
    pub async fn access_check(
        &self,
        client_id: &str,
        id: &ConsentId,
        now: OffsetDateTime,
    ) -> Result<K, ConsentError> {
        let consent = self.read(id, Some(client_id), now).await?;
        match consent.status() {
            ConsentStatus::Valid => Ok(consent),
            ConsentStatus::Expired => Err(ConsentError::Expired),
            other => Err(ConsentError::Invalid(other)),
        }
    }

    async fn read(
        &self,
        id: &ConsentId,
        owner: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<K, ConsentError> {
        let id = id.clone();
        let owner = owner.map(str::to_owned);
        let timeout = self.settings.authorization_timeout;
        self.store
            .read(move |conn| {
                let mut consent = load_owned::<K>(conn, &id, owner.as_deref())?;
                consent.settle(now, timeout);
                Ok(consent)
            })
            .await
    }

    async fn change<F>(
        &self,
        id: &ConsentId,
        owner: Option<&str>,
        decide: F,
    ) -> Result<K, ConsentError>
    where
        F: Fn(&K) -> Result<Step, ConsentError> + Send + 'static,
    {
        let now = self.clock.now();
        let id = id.clone();
        let owner = owner.map(str::to_owned);
        let settings = Arc::clone(&self.settings);
        self.store
            .write(move |conn| apply(conn, &id, owner.as_deref(), now, &settings, decide))
            .await
    }
}

impl ConsentService {
    /// Creates a `received` AIS consent for `client_id` from a `POST /v1/consents`
    /// body, idempotently (see [`ConsentLifecycle::insert_idempotently`]).
    #[tracing::instrument(skip_all, fields(client.id = %client_id))]
    pub async fn create(
        &self,
        client_id: &str,
        key: &IdempotencyKey,
        body: &Value,
        psu_ip_address: Option<IpAddr>,
    ) -> Result<Consent, ConsentError> {
        let now = self.clock.now();
        let today = now.to_offset(UtcOffset::UTC).date();
        let request = CreateConsentRequest::parse(body, today, &self.settings)?;
        let fresh = Consent {
            id: ConsentId::generate(),
            client_id: client_id.to_owned(),
            status: ConsentStatus::Received,
            access: request.access,
            granted: None,
            recurring: request.recurring,
            valid_until: request.valid_until,
            frequency_per_day: request.frequency_per_day,
            psu_id: None,
            psu_ip_address,
            created_at: now,
            status_changed_at: now,
            authorized_at: None,
        };
        self.insert_idempotently(fresh, key, body, now).await
    }

    /// The PSU approved on the consent page: `received` → `valid`, recording the
    /// PSU and the accounts granted (see [`ConsentLifecycle::authorize_with`]).
    #[tracing::instrument(skip_all, fields(consent.id = %id, psu.id = %psu))]
    pub async fn authorize(
        &self,
        id: &ConsentId,
        psu: &PsuId,
        granted: GrantedAccess,
    ) -> Result<Consent, ConsentError> {
        self.authorize_with(id, psu, &granted.normalized()).await
    }
}

fn load_owned<K: ConsentKind>(
    conn: &mut DbConn,
    id: &ConsentId,
    owner: Option<&str>,
) -> Result<K, ConsentError> {
    K::load(conn, id)?
        .filter(|c| owner.is_none_or(|o| c.client_id() == o))
        .ok_or(ConsentError::Unknown)
}

/// Inside a write transaction: loads the consent, settles it at `now`, lets
/// `decide` choose a step for its effective status, and applies that step (or,
/// for [`Step::Keep`], persists the settled status) with a conditional UPDATE. A
/// lost UPDATE means a concurrent transaction changed the consent first; the
/// decision is then made again on the new status. A consent that was changed is
/// read back in the same transaction, so the caller sees exactly what is stored.
fn apply<K, F>(
    conn: &mut DbConn,
    id: &ConsentId,
    owner: Option<&str>,
    now: OffsetDateTime,
    settings: &ConsentSettings,
    decide: F,
) -> Result<K, ConsentError>
where
    K: ConsentKind,
    F: Fn(&K) -> Result<Step, ConsentError>,
{
    let timeout = settings.authorization_timeout;
    let mut last_status = None;
    for _ in 0..MAX_ATTEMPTS {
        let mut consent = load_owned::<K>(conn, id, owner)?;
        let stored = consent.status();
        consent.settle(now, timeout);
        let settled = consent.status();
        let applied = match decide(&consent)? {
            Step::Keep if settled == stored => return Ok(consent),
            Step::Keep => repo::set_status(
                conn,
                K::KIND,
                id,
                stored,
                settled,
                consent.status_changed_at(),
            )?,
            Step::To(to) => repo::set_status(conn, K::KIND, id, stored, to, now)?,
            Step::Authorize { psu, granted } => {
                stored == ConsentStatus::Received
                    && repo::set_authorized(conn, K::KIND, id, &psu, &granted, now)?
            }
        };
        if applied {
            let mut changed = load_owned::<K>(conn, id, owner)?;
            changed.settle(now, timeout);
            return Ok(changed);
        }
        last_status = Some(settled);
    }
    Err(ConsentError::StatusInvalid(
        last_status.unwrap_or(ConsentStatus::Received),
    ))
}
