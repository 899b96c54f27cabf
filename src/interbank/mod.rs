//! Between banks (DESIGN.md "Between banks"): each gateway is its own bank with
//! its own bank code. A payment to a customer of a configured peer bank is debited
//! here and credited there through the peer's `POST /interbank/v1/credits`, on its
//! mTLS listener, with this bank's certificate, which the peer registered as a
//! client with scope `interbank`.
//!
//! ```text
//!  paying bank (payments::worker)                 receiving bank (http::interbank)
//!  core.submit_payment ─ Executed ─▶ ACSP
//!  PeerBanks::send_credit ── POST /interbank/v1/credits ──▶ InterbankService::receive
//!                                                           core.receive_credit
//!    201 ACSC  ◀───────────────────────────────────────────  (credited, once)
//!      └▶ payment ACSC
//!    422 RJCT  ◀───────────────────────────────────────────  (refused, for good)
//!      └▶ core.reverse_payment ─▶ payment RJCT
//!    timeout / 5xx / no answer: the outbox row stays in flight; after the lease the
//!      worker asks the core (Executed) and sends the same credit again.
//! ```
//!
//! Exactly once on both sides: the receiving core books a credit at most once per
//! (peer, payment id), and answers a replay with the first outcome (refusals
//! included, so a refusal the payer already reversed can never turn into a credit
//! later); the paying core reverses a payment at most once.
//!
//! - `model`: the wire body both ways and the answers (ISO 20022 reason codes);
//! - `service`: the receiving side;
//! - `repo`: the receiving side's record of each answer;
//! - `client`: the sending side: peers by bank code, the mTLS client.

mod client;
mod model;
mod repo;
mod service;

pub use client::{HopError, Peer, PeerAnswer, PeerBanks, PeerSetupError};
pub use model::{Credit, CreditAnswer, MAX_PAYMENT_ID, reason_code, refusal_text};
pub use service::InterbankService;

use crate::payments::PaymentError;
use crate::store::StoreError;

/// What can go wrong receiving a credit. The HTTP layer maps each variant to one
/// status and code (`http::interbank`).
#[derive(Debug, thiserror::Error)]
pub enum InterbankError {
    /// The body is malformed; `path` names the field.
    #[error("{path}: {message}")]
    Format { path: String, message: String },
    /// The peer already sent another credit under this payment id.
    #[error("the payment id was already used for a different credit")]
    Conflict,
    /// The core adapter cannot book credits from other banks.
    #[error("the core banking adapter does not support {0}")]
    Unsupported(&'static str),
    #[error("core banking system unavailable: {0}")]
    CoreUnavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl InterbankError {
    pub fn format(path: impl Into<String>, message: impl Into<String>) -> InterbankError {
        InterbankError::Format {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl From<PaymentError> for InterbankError {
    /// The body helpers shared with payments report only format errors.
    fn from(e: PaymentError) -> Self {
        match e {
            PaymentError::Format { path, message } => InterbankError::Format { path, message },
            PaymentError::Store(s) => InterbankError::Store(s),
            other => InterbankError::format("body", other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for InterbankError {
    fn from(e: diesel::result::Error) -> Self {
        InterbankError::Store(StoreError::Query(e))
    }
}
