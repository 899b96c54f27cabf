//! Payment initiation (Berlin Group PIS): the payment model and its status
//! machine, validation at the boundary, idempotency, the PSU's authorization with
//! risk-based SCA exemptions, and forwarding to the core exactly once through an
//! outbox.
//!
//! Lifecycle: `POST /v1/payments/{product}` → [`PaymentService::initiate`]
//! (validated, risk-scored, stored `RCVD`, or `RJCT` when the risk engine
//! refuses) → the PSU page ([`PaymentService::review`] scores again; the stricter
//! decision wins; [`PaymentService::approve`] moves it to `ACTC` and into the
//! outbox in one transaction) → [`worker::Forwarder`] submits it to the core
//! (`ACSC`/`ACSP`/`RJCT`).

mod error;
mod model;
mod repo;
mod request;
mod service;
pub mod worker;

pub use error::PaymentError;
pub use model::{Payment, PaymentStatus, Product};
pub use request::{
    MAX_CREDITOR_NAME, MAX_END_TO_END_ID, MAX_REMITTANCE, PaymentLimits, PaymentRequest,
};
/// Body parsing that names the offending field; the interbank credit body uses it too.
pub(crate) use request::{instructed_amount, object, only_fields, required, string, text};
pub use service::{
    Approval, PaymentService, PaymentSettings, PsuReview, REJECTED_BY_RISK, inspect,
};
pub use worker::{Forwarder, ForwarderSettings};
