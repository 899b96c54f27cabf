use crate::idempotency::IdempotencyError;
use crate::store::StoreError;

use super::model::PaymentStatus;

/// Everything that can go wrong with a payment. The HTTP layer maps each variant
/// to one Berlin Group code (`http::payments`); nothing here knows about HTTP.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// The request body is malformed; `path` names the field.
    #[error("{path}: {message}")]
    Format { path: String, message: String },
    /// `requestedExecutionDate` other than today (only immediate payments).
    #[error("requestedExecutionDate: {0}")]
    ExecutionDateInvalid(String),
    /// The path names no payment product this bank offers.
    #[error("unknown payment product")]
    ProductUnknown,
    /// The payment was refused (risk engine or core). The reasons are for bank
    /// IT only; the TPP learns nothing more than the fact.
    #[error("the payment was rejected")]
    Rejected,
    #[error("the Idempotency-Key was already used for a different request")]
    IdempotencyConflict,
    #[error("a concurrent request with the same Idempotency-Key is in progress")]
    Contended,
    /// No such payment, another client's, or another product's.
    #[error("unknown payment")]
    Unknown,
    /// Cancelling is no longer possible in this status (or the payment was
    /// already claimed for forwarding).
    #[error("the payment is {0}; it can no longer be cancelled")]
    CancellationInvalid(PaymentStatus),
    /// The core could not be asked (account lookup, balances).
    #[error("core banking system unavailable: {0}")]
    CoreUnavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PaymentError {
    pub fn format(path: impl Into<String>, message: impl Into<String>) -> PaymentError {
        PaymentError::Format {
            path: path.into(),
            message: message.into(),
        }
    }

    pub fn is_contended(&self) -> bool {
        matches!(self, PaymentError::Contended)
    }
}

impl From<IdempotencyError> for PaymentError {
    fn from(e: IdempotencyError) -> Self {
        match e {
            IdempotencyError::Conflict => PaymentError::IdempotencyConflict,
            IdempotencyError::Contended => PaymentError::Contended,
            IdempotencyError::Store(s) => PaymentError::Store(s),
        }
    }
}

impl From<diesel::result::Error> for PaymentError {
    fn from(e: diesel::result::Error) -> Self {
        PaymentError::Store(StoreError::Query(e))
    }
}

impl From<crate::core::CoreError> for PaymentError {
    fn from(e: crate::core::CoreError) -> Self {
        PaymentError::CoreUnavailable(e.to_string())
    }
}
