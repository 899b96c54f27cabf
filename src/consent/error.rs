use super::model::ConsentStatus;
use crate::idempotency::IdempotencyError;
use crate::store::StoreError;

/// Everything that can go wrong with a consent. The HTTP layer maps each variant
/// to one Berlin Group code (`http::consents`); nothing here knows about HTTP.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    /// The request body is malformed; `path` names the offending field
    /// (`access.accounts[0].bban`).
    #[error("{path}: {message}")]
    Format { path: String, message: String },
    /// `combinedServiceIndicator: true`: AIS and PIS in one session.
    #[error("combined AIS and PIS sessions are not supported")]
    SessionsNotSupported,
    /// The Idempotency-Key was used in the last 24 h for a different request.
    #[error("the Idempotency-Key was already used for a different request")]
    IdempotencyConflict,
    /// A concurrent request with the same Idempotency-Key won a race; retried
    /// internally, so it only surfaces if the retry races again.
    #[error("a concurrent request with the same Idempotency-Key is in progress")]
    Contended,
    /// No such consent, or another client's (existence is not revealed).
    #[error("unknown consent")]
    Unknown,
    /// The consent exists but does not grant access now (not yet authorized, or
    /// rejected, revoked or terminated).
    #[error("the consent is {0}")]
    Invalid(ConsentStatus),
    /// The consent's `validUntil` has passed.
    #[error("the consent has expired")]
    Expired,
    /// A lifecycle step that the consent's current status does not allow (for
    /// example authorizing a consent that is no longer `received`).
    #[error("the consent is {0}; that change is not possible")]
    StatusInvalid(ConsentStatus),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ConsentError {
    pub(crate) fn format(path: impl Into<String>, message: impl Into<String>) -> ConsentError {
        ConsentError::Format {
            path: path.into(),
            message: message.into(),
        }
    }

    /// Whether the error is a lost idempotency race worth one more transaction.
    pub(crate) fn is_contended(&self) -> bool {
        matches!(self, ConsentError::Contended)
    }
}

impl From<IdempotencyError> for ConsentError {
    fn from(e: IdempotencyError) -> Self {
        match e {
            IdempotencyError::Conflict => ConsentError::IdempotencyConflict,
            IdempotencyError::Contended => ConsentError::Contended,
            IdempotencyError::Store(e) => ConsentError::Store(e),
        }
    }
}
