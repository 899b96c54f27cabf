//! What a kind of consent brings to the one lifecycle `service.rs` runs for
//! every kind: its rows in `consents`, and what approving it grants. The status
//! machine, the time-driven transitions, idempotent creation and the conditional
//! UPDATEs are written once, over this trait.

use time::{Date, Duration, OffsetDateTime};

use super::error::ConsentError;
use super::model::{ConsentId, ConsentStatus};
use crate::store::DbConn;

/// A kind of Berlin Group consent stored in `consents`: AIS
/// ([`Consent`](super::Consent), kind `ais`) or confirmation of funds
/// ([`FundsConsent`](super::FundsConsent), kind `piis`).
pub trait ConsentKind: Clone + Send + Sync + 'static {
    /// The `consents.kind` of its rows; every query filters on it, so an id of
    /// one kind never names a consent of the other.
    const KIND: &'static str;
    /// The `resource_kind` of its Idempotency-Key records.
    const IDEMPOTENCY_KIND: &'static str;
    /// What the PSU grants on approval, stored as JSON in `granted_access`.
    type Grant: serde::Serialize + Clone + Send + Sync + 'static;

    fn id(&self) -> &ConsentId;
    /// The TPP client that created it; no other client may see or use it.
    fn client_id(&self) -> &str;
    fn status(&self) -> ConsentStatus;
    /// When `status` took its current value.
    fn status_changed_at(&self) -> OffsetDateTime;
    /// The last day (UTC) on which the consent is usable.
    fn valid_until(&self) -> Date;
    /// Applies the transitions time makes on its own at `now`; returns whether
    /// the status changed.
    fn settle(&mut self, now: OffsetDateTime, authorization_timeout: Duration) -> bool;

    /// The consent `id`, if it exists and is of this kind.
    fn load(conn: &mut DbConn, id: &ConsentId) -> Result<Option<Self>, ConsentError>;
    fn insert(&self, conn: &mut DbConn) -> Result<(), ConsentError>;
}
