//! [`ConsentService`]: every lifecycle step of an AIS consent, each one transaction.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::Value;
use time::{OffsetDateTime, UtcOffset};

use super::error::ConsentError;
use super::model::{Consent, ConsentId, ConsentSettings, ConsentStatus, GrantedAccess};
use super::repo;
use super::request::CreateConsentRequest;
use crate::clock::Clock;
use crate::core::PsuId;
use crate::idempotency::{self, Claim, IdempotencyKey};
use crate::store::{DbConn, Store};

/// The `resource_kind` of AIS consents in the idempotency records.
pub const IDEMPOTENCY_KIND: &str = "ais-consent";

/// How often a status change is re-decided when a concurrent change won the
/// conditional UPDATE (PostgreSQL only; SQLite write transactions are serial).
const MAX_ATTEMPTS: usize = 3;

/// The AIS consent lifecycle over the gateway's database. Cheap to clone.
///
/// Reads report the effective status (time-driven transitions applied, see
/// [`Consent::effective_status`]); writes also persist it.
#[derive(Debug, Clone)]
pub struct ConsentService {
    store: Store,
    clock: Arc<dyn Clock>,
    settings: Arc<ConsentSettings>,
}

/// What a lifecycle step does to a consent in its effective status.
enum Step {
    /// Nothing (the step is a no-op in this status).
    Keep,
    To(ConsentStatus),
    Authorize {
        psu: PsuId,
        granted: GrantedAccess,
    },
}

impl ConsentService {
    pub fn new(store: Store, clock: Arc<dyn Clock>, settings: ConsentSettings) -> ConsentService {
        ConsentService {
            store,
            clock,
            settings: Arc::new(settings),
        }
    }

    pub fn settings(&self) -> &ConsentSettings {
        &self.settings
    }

    /// Creates a `received` consent for `client_id` from a `POST /v1/consents`
    /// body, idempotently: the same key with the same body (as parsed JSON) within
    /// 24 h returns the consent the first request created, in its current status;
    /// the same key with another body is [`ConsentError::IdempotencyConflict`].
    /// Concurrent duplicates create one consent.
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
        let request_hash = idempotency::request_hash(body);
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
        let key = key.clone();
        let settings = Arc::clone(&self.settings);
        let consent =
            idempotency::write_with_retry(&self.store, ConsentError::is_contended, move |conn| {
                let claim = idempotency::claim(
                    conn,
                    &fresh.client_id,
                    &key,
                    IDEMPOTENCY_KIND,
                    &request_hash,
                    fresh.id.as_str(),
                    now,
                )?;
                match claim {
                    Claim::New => {
                        repo::insert(conn, &fresh)?;
                        Ok(fresh.clone())
                    }
                    Claim::Replay { resource_id } => {
                        let id = ConsentId::parse(&resource_id)?;
                        let owner = Some(fresh.client_id.as_str());
                        apply(conn, &id, owner, now, &settings, |_| Ok(Step::Keep))
                    }
                }
            })
            .await?;
        tracing::info!(consent.id = %consent.id, consent.status = %consent.status, "consent created or replayed");
        Ok(consent)
    }

    /// The consent `id` as `client_id` sees it: [`ConsentError::Unknown`] if it
    /// does not exist or belongs to another client.
    #[tracing::instrument(skip_all, fields(consent.id = %id))]
    pub async fn get(&self, client_id: &str, id: &ConsentId) -> Result<Consent, ConsentError> {
        let now = self.clock.now();
        self.read(id, Some(client_id), now).await
    }

    /// The consent `id` whoever owns it (for the PSU page and bank IT).
    #[tracing::instrument(skip_all, fields(consent.id = %id))]
    pub async fn find(&self, id: &ConsentId) -> Result<Consent, ConsentError> {
        let now = self.clock.now();
        self.read(id, None, now).await
    }

    /// The TPP deletes its consent (`DELETE /v1/consents/{id}`): `received` or
    /// `valid` become `terminatedByTpp`. Deleting a consent that is already
    /// finalised (rejected, revoked, expired, terminated) succeeds and leaves it
    /// as it is, so a retried DELETE is harmless and the recorded reason stays.
    #[tracing::instrument(skip_all, fields(consent.id = %id))]
    pub async fn terminate(
        &self,
        client_id: &str,
        id: &ConsentId,
    ) -> Result<Consent, ConsentError> {
        self.change(id, Some(client_id), |c| {
            Ok(if c.status.is_terminal() {
                Step::Keep
            } else {
                Step::To(ConsentStatus::TerminatedByTpp)
            })
        })
        .await
    }

    /// The PSU approved on the consent page: `received` → `valid`, recording the
    /// PSU and the accounts granted. Any other effective status (including a
    /// `received` consent past the authorization timeout, which is `rejected`) is
    /// [`ConsentError::StatusInvalid`].
    #[tracing::instrument(skip_all, fields(consent.id = %id, psu.id = %psu))]
    pub async fn authorize(
        &self,
        id: &ConsentId,
        psu: &PsuId,
        granted: GrantedAccess,
    ) -> Result<Consent, ConsentError> {
        let psu = psu.clone();
        let granted = granted.normalized();
        self.change(id, None, move |c| match c.status {
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
    pub async fn reject(&self, id: &ConsentId) -> Result<Consent, ConsentError> {
        self.change(id, None, |c| match c.status {
            ConsentStatus::Received => Ok(Step::To(ConsentStatus::Rejected)),
            ConsentStatus::Rejected => Ok(Step::Keep),
            other => Err(ConsentError::StatusInvalid(other)),
        })
        .await
    }

    /// Bank IT revokes on the PSU's behalf (`obgw consents revoke ID`):
    /// `valid` → `revokedByPsu`; anything else is [`ConsentError::StatusInvalid`].
    #[tracing::instrument(skip_all, fields(consent.id = %id))]
    pub async fn revoke_by_psu(&self, id: &ConsentId) -> Result<Consent, ConsentError> {
        self.change(id, None, |c| match c.status {
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
    ) -> Result<Consent, ConsentError> {
        let consent = self.read(id, Some(client_id), now).await?;
        match consent.status {
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
    ) -> Result<Consent, ConsentError> {
        let id = id.clone();
        let owner = owner.map(str::to_owned);
        let timeout = self.settings.authorization_timeout;
        self.store
            .read(move |conn| {
                let mut consent = load_owned(conn, &id, owner.as_deref())?;
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
    ) -> Result<Consent, ConsentError>
    where
        F: Fn(&Consent) -> Result<Step, ConsentError> + Send + 'static,
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

fn load_owned(
    conn: &mut DbConn,
    id: &ConsentId,
    owner: Option<&str>,
) -> Result<Consent, ConsentError> {
    repo::load(conn, id)?
        .filter(|c| owner.is_none_or(|o| c.client_id == o))
        .ok_or(ConsentError::Unknown)
}

/// Inside a write transaction: loads the consent, settles it at `now`, lets
/// `decide` choose a step for its effective status, and applies that step (or,
/// for [`Step::Keep`], persists the settled status) with a conditional UPDATE. A
/// lost UPDATE means a concurrent transaction changed the consent first; the
/// decision is then made again on the new status.
fn apply<F>(
    conn: &mut DbConn,
    id: &ConsentId,
    owner: Option<&str>,
    now: OffsetDateTime,
    settings: &ConsentSettings,
    decide: F,
) -> Result<Consent, ConsentError>
where
    F: Fn(&Consent) -> Result<Step, ConsentError>,
{
    let mut last_status = None;
    for _ in 0..MAX_ATTEMPTS {
        let mut consent = load_owned(conn, id, owner)?;
        let stored = consent.status;
        consent.settle(now, settings.authorization_timeout);
        let applied = match decide(&consent)? {
            Step::Keep if consent.status == stored => true,
            Step::Keep => {
                repo::set_status(conn, id, stored, consent.status, consent.status_changed_at)?
            }
            Step::To(to) => {
                let done = repo::set_status(conn, id, stored, to, now)?;
                if done {
                    consent.status = to;
                    consent.status_changed_at = now;
                }
                done
            }
            Step::Authorize { psu, granted } => {
                let done = stored == ConsentStatus::Received
                    && repo::set_authorized(conn, id, &psu, &granted, now)?;
                if done {
                    consent.status = ConsentStatus::Valid;
                    consent.status_changed_at = now;
                    consent.authorized_at = Some(now);
                    consent.psu_id = Some(psu);
                    consent.granted = Some(granted);
                }
                done
            }
        };
        if applied {
            return Ok(consent);
        }
        last_status = Some(consent.status);
    }
    Err(ConsentError::StatusInvalid(
        last_status.unwrap_or(ConsentStatus::Received),
    ))
}
