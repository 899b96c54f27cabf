//! The `consents` table: rows of kind `ais` here, the status changes of every
//! kind too. Every status change is a conditional UPDATE on the status the caller
//! read, so two concurrent changes cannot both win.

use std::net::IpAddr;

use diesel::prelude::*;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime};

use super::access::AisAccess;
use super::error::ConsentError;
use super::kind::ConsentKind;
use super::model::{Consent, ConsentId, ConsentStatus, GrantedAccess};
use crate::core::PsuId;
use crate::store::schema::consents;
use crate::store::{DbConn, StoreError, from_db_time, to_db_time};

/// The `kind` of AIS consents (the table also holds confirmation-of-funds ones).
const KIND: &str = "ais";

impl ConsentKind for Consent {
    const KIND: &'static str = KIND;
    const IDEMPOTENCY_KIND: &'static str = "ais-consent";
    type Grant = GrantedAccess;

    fn id(&self) -> &ConsentId {
        &self.id
    }

    fn client_id(&self) -> &str {
        &self.client_id
    }

    fn status(&self) -> ConsentStatus {
        self.status
    }

    fn status_changed_at(&self) -> OffsetDateTime {
        self.status_changed_at
    }

    fn valid_until(&self) -> Date {
        self.valid_until
    }

    fn settle(&mut self, now: OffsetDateTime, authorization_timeout: Duration) -> bool {
        Consent::settle(self, now, authorization_timeout)
    }

    fn load(conn: &mut DbConn, id: &ConsentId) -> Result<Option<Self>, ConsentError> {
        load(conn, id)
    }

    fn insert(&self, conn: &mut DbConn) -> Result<(), ConsentError> {
        insert(conn, self)
    }
}

impl From<diesel::result::Error> for ConsentError {
    fn from(e: diesel::result::Error) -> Self {
        ConsentError::Store(StoreError::Query(e))
    }
}

type Row = (
    String,
    String,
    String,
    String,
    Option<String>,
    bool,
    Date,
    i32,
    Option<String>,
    Option<String>,
    PrimitiveDateTime,
    PrimitiveDateTime,
    Option<PrimitiveDateTime>,
);

/// A stored value that does not parse: the database was changed behind the
/// gateway's back. Reported as a deserialization error of the query.
pub(super) fn corrupt(what: &str, detail: impl std::fmt::Display) -> ConsentError {
    ConsentError::Store(StoreError::Query(
        diesel::result::Error::DeserializationError(
            format!("corrupt consents.{what}: {detail}").into(),
        ),
    ))
}

fn from_row(row: Row) -> Result<Consent, ConsentError> {
    let (
        id,
        client_id,
        status,
        access,
        granted,
        recurring,
        valid_until,
        frequency,
        psu_id,
        psu_ip,
        created_at,
        status_changed_at,
        authorized_at,
    ) = row;
    let status = ConsentStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?;
    let access = serde_json::from_str(&access)
        .map_err(|e| corrupt("access", e))
        .and_then(|v| AisAccess::parse(&v).map_err(|e| corrupt("access", e)))?;
    let granted = granted
        .map(|g| {
            serde_json::from_str::<GrantedAccess>(&g).map_err(|e| corrupt("granted_access", e))
        })
        .transpose()?;
    let psu_ip_address = psu_ip
        .map(|ip| {
            ip.parse::<IpAddr>()
                .map_err(|e| corrupt("psu_ip_address", e))
        })
        .transpose()?;
    Ok(Consent {
        id: ConsentId::parse(&id).map_err(|_| corrupt("consent_id", &id))?,
        client_id,
        status,
        access,
        granted,
        recurring,
        valid_until,
        frequency_per_day: u32::try_from(frequency)
            .map_err(|_| corrupt("frequency_per_day", frequency))?,
        psu_id: psu_id.map(PsuId),
        psu_ip_address,
        created_at: from_db_time(created_at),
        status_changed_at: from_db_time(status_changed_at),
        authorized_at: authorized_at.map(from_db_time),
    })
}

fn load(conn: &mut DbConn, id: &ConsentId) -> Result<Option<Consent>, ConsentError> {
    consents::table
        .filter(consents::consent_id.eq(id.as_str()))
        .filter(consents::kind.eq(KIND))
        .select((
            consents::consent_id,
            consents::client_id,
            consents::status,
            consents::access,
            consents::granted_access,
            consents::recurring,
            consents::valid_until,
            consents::frequency_per_day,
            consents::psu_id,
            consents::psu_ip_address,
            consents::created_at,
            consents::status_changed_at,
            consents::authorized_at,
        ))
        .first::<Row>(conn)
        .optional()?
        .map(from_row)
        .transpose()
}

fn insert(conn: &mut DbConn, c: &Consent) -> Result<(), ConsentError> {
    let granted = c
        .granted
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| corrupt("granted_access", e))?;
    diesel::insert_into(consents::table)
        .values((
            consents::consent_id.eq(c.id.as_str()),
            consents::client_id.eq(&c.client_id),
            consents::kind.eq(KIND),
            consents::status.eq(c.status.as_str()),
            consents::access.eq(c.access.to_value().to_string()),
            consents::granted_access.eq(granted),
            consents::recurring.eq(c.recurring),
            consents::valid_until.eq(c.valid_until),
            consents::frequency_per_day.eq(i32::try_from(c.frequency_per_day).unwrap_or(i32::MAX)),
            consents::psu_id.eq(c.psu_id.as_ref().map(PsuId::as_str)),
            consents::psu_ip_address.eq(c.psu_ip_address.map(|ip| ip.to_string())),
            consents::created_at.eq(to_db_time(c.created_at)),
            consents::status_changed_at.eq(to_db_time(c.status_changed_at)),
            consents::authorized_at.eq(c.authorized_at.map(to_db_time)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Moves the consent of `kind` from `from` to `to`; false if its status is no
/// longer `from`.
pub(super) fn set_status(
    conn: &mut DbConn,
    kind: &str,
    id: &ConsentId,
    from: ConsentStatus,
    to: ConsentStatus,
    at: OffsetDateTime,
) -> Result<bool, ConsentError> {
    let updated = diesel::update(
        consents::table
            .filter(consents::consent_id.eq(id.as_str()))
            .filter(consents::kind.eq(kind))
            .filter(consents::status.eq(from.as_str())),
    )
    .set((
        consents::status.eq(to.as_str()),
        consents::status_changed_at.eq(to_db_time(at)),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Moves the consent of `kind` from `received` to `valid` for `psu` with what it
/// granted (JSON); false if it is no longer `received`.
pub(super) fn set_authorized(
    conn: &mut DbConn,
    kind: &str,
    id: &ConsentId,
    psu: &PsuId,
    granted: &str,
    at: OffsetDateTime,
) -> Result<bool, ConsentError> {
    let updated = diesel::update(
        consents::table
            .filter(consents::consent_id.eq(id.as_str()))
            .filter(consents::kind.eq(kind))
            .filter(consents::status.eq(ConsentStatus::Received.as_str())),
    )
    .set((
        consents::status.eq(ConsentStatus::Valid.as_str()),
        consents::status_changed_at.eq(to_db_time(at)),
        consents::authorized_at.eq(Some(to_db_time(at))),
        consents::psu_id.eq(Some(psu.as_str())),
        consents::granted_access.eq(Some(granted)),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}
