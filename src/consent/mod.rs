//! Berlin Group consents: AIS consents and confirmation-of-funds consents
//! (`funds`), the model, their lifecycle, and who may read what.
//!
//! Invariant: this module is the one place that decides whether a consent grants
//! access now ([`ConsentLifecycle::access_check`], [`FundsConsent::covers`]). It
//! knows nothing of HTTP; the only storage code is in the `repo.rs` files. The
//! lifecycle below is written once ([`ConsentLifecycle`] over [`ConsentKind`])
//! and runs for both kinds.
//!
//! ```text
//!  POST /v1/consents ─► received ──PSU approves (authorize)──► valid ──validUntil passes──► expired
//!                         │  │                                  │  │
//!                         │  ├─PSU denies (reject)─► rejected   │  └─obgw consents revoke─► revokedByPsu
//!                         │  └─not authorized in time─► rejected│
//!                         └──────────── DELETE (terminate) ─────┴──────────────────────────► terminatedByTpp
//! ```
//! `rejected`, `revokedByPsu`, `expired` and `terminatedByTpp` are final. The two
//! transitions time makes on its own (authorization timeout, expiry) are computed
//! against the injected clock whenever a consent is read, and persisted by the
//! next write, so reads never report a stale status. Every other transition is a
//! conditional UPDATE on the status it was decided from.

mod access;
mod error;
mod frequency;
mod funds;
mod kind;
mod model;
mod repo;
mod request;
mod service;

#[cfg(test)]
pub(crate) mod tests;

pub use access::{AccountReference, AccountsScope, AisAccess, DedicatedAccess};
pub use error::ConsentError;
pub use frequency::{
    Admission, AisEndpoint, AisRead, Charge, FrequencyError, FrequencyLimiter, ListingPage, utc_day,
};
pub use funds::{FundsAccess, FundsCheck, FundsConsent, FundsConsentRequest, FundsGrant};
pub use kind::ConsentKind;
pub use model::{AccessKind, Consent, ConsentId, ConsentSettings, ConsentStatus, GrantedAccess};
pub use request::CreateConsentRequest;
pub use service::{ConsentLifecycle, ConsentService, FundsConsentService, IDEMPOTENCY_KIND};
