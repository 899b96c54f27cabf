//! Confirmation-of-funds consents in `consents` (rows of kind `piis`). The
//! account and card are stored in `access` as the request's own JSON; the
//! granted account id in `granted_access`. `recurring` and `frequency_per_day`
//! have no meaning for them and are stored as `true` and 0.

use std::net::IpAddr;

use diesel::prelude::*;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime};

use super::{FundsAccess, FundsConsent, FundsGrant};
use crate::consent::error::ConsentError;
use crate::consent::kind::ConsentKind;
use crate::consent::model::{ConsentId, ConsentStatus};
use crate::consent::repo::corrupt;
use crate::core::PsuId;
use crate::store::schema::consents;
use crate::store::{DbConn, from_db_time, to_db_time};

const KIND: &str = "piis";

type Row = (
    String,
    String,
    String,
    String,
    Option<String>,
    Date,
    Option<String>,
    Option<String>,
    PrimitiveDateTime,
    PrimitiveDateTime,
    Option<PrimitiveDateTime>,
);

impl ConsentKind for FundsConsent {
    const KIND: &'static str = KIND;
    const IDEMPOTENCY_KIND: &'static str = "piis-consent";
    type Grant = FundsGrant;

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
        FundsConsent::settle(self, now, authorization_timeout)
    }

    fn load(conn: &mut DbConn, id: &ConsentId) -> Result<Option<Self>, ConsentError> {
        consents::table
            .filter(consents::consent_id.eq(id.as_str()))
            .filter(consents::kind.eq(KIND))
            .select((
                consents::consent_id,
                consents::client_id,
                consents::status,
                consents::access,
                consents::granted_access,
                consents::valid_until,
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

    fn insert(&self, conn: &mut DbConn) -> Result<(), ConsentError> {
        let granted = self
            .granted
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| corrupt("granted_access", e))?;
        diesel::insert_into(consents::table)
            .values((
                consents::consent_id.eq(self.id.as_str()),
                consents::client_id.eq(&self.client_id),
                consents::kind.eq(KIND),
                consents::status.eq(self.status.as_str()),
                consents::access.eq(self.access.to_value().to_string()),
                consents::granted_access.eq(granted),
                consents::recurring.eq(true),
                consents::valid_until.eq(self.valid_until),
                consents::frequency_per_day.eq(0),
                consents::psu_id.eq(self.psu_id.as_ref().map(PsuId::as_str)),
                consents::psu_ip_address.eq(self.psu_ip_address.map(|ip| ip.to_string())),
                consents::created_at.eq(to_db_time(self.created_at)),
                consents::status_changed_at.eq(to_db_time(self.status_changed_at)),
                consents::authorized_at.eq(self.authorized_at.map(to_db_time)),
            ))
            .execute(conn)?;
        Ok(())
    }
}

fn from_row(row: Row) -> Result<FundsConsent, ConsentError> {
    let (
        id,
        client_id,
        status,
        access,
        granted,
        valid_until,
        psu_id,
        psu_ip,
        created_at,
        status_changed_at,
        authorized_at,
    ) = row;
    let status = ConsentStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?;
    let access = serde_json::from_str(&access)
        .map_err(|e| corrupt("access", e))
        .and_then(|v| FundsAccess::parse(&v).map_err(|e| corrupt("access", e)))?;
    let granted = granted
        .map(|g| serde_json::from_str::<FundsGrant>(&g).map_err(|e| corrupt("granted_access", e)))
        .transpose()?;
    let psu_ip_address = psu_ip
        .map(|ip| {
            ip.parse::<IpAddr>()
                .map_err(|e| corrupt("psu_ip_address", e))
        })
        .transpose()?;
    Ok(FundsConsent {
        id: ConsentId::parse(&id).map_err(|_| corrupt("consent_id", &id))?,
        client_id,
        status,
        access,
        granted,
        valid_until,
        psu_id: psu_id.map(PsuId),
        psu_ip_address,
        created_at: from_db_time(created_at),
        status_changed_at: from_db_time(status_changed_at),
        authorized_at: authorized_at.map(from_db_time),
    })
}
