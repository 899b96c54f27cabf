//! The gateway's own OAuth 2.0 authorization server (FAPI 2.0-style: PKCE S256,
//! certificate-bound tokens, PAR, `iss` in the authorization response).
//!
//! The authorization-code flow (RFC 6749 §4.1) and the functions that implement
//! each step:
//!
//! ```text
//! +----------+
//! | Resource |
//! |   Owner  |   (the PSU, on the public listener's consent page)
//! +----------+
//!      ^
//!     (B) login, review, one-time code     authorize::AuthServer::login / decide
//! +----|-----+          Client Identifier      +---------------+
//! |         -+----(A)-- & Redirection URI ---->|               |  authorize::AuthServer::start
//! |  User-   |                                 | Authorization |  (or par::push first, RFC 9126)
//! |  Agent  -+----(B)-- User authenticates --->|     Server    |
//! |          |                                 |               |
//! |         -+----(C)-- Authorization Code ---<|               |  authorize::redirect_with_code
//! +-|----|---+          (+ state, iss)         +---------------+
//!   |    |                                         ^      v
//!  (A)  (C)                                        |      |
//!   |    |                                         |      |
//!   ^    v                                         |      |
//! +---------+                                      |      |
//! |         |>---(D)-- Authorization Code ---------'      |  grants::AuthServer::token
//! |  Client |          & Redirection URI                  |  (mTLS, tls_client_auth, PKCE)
//! |  (TPP)  |          & code_verifier                    |
//! |         |<---(E)----- Access Token -------------------'  tokens::TokenService::issue
//! +---------+       (+ Refresh Token for AIS)
//! ```
//!
//! Resource servers check tokens with `tokens::TokenService::verify` plus
//! `records::access_is_live` (revocation), in `http::auth`.

pub mod authorize;
pub mod clients;
mod cof_page;
mod consent_page;
pub mod grants;
pub mod housekeeping;
pub mod keys;
mod payment_page;
pub mod pkce;
pub mod records;
pub mod revocation;
pub mod scope;
pub mod throttle;
pub mod tokens;

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::consent::ConsentService;
use crate::core::CoreBanking;
use crate::oauth::clients::ClientRegistry;
use crate::oauth::throttle::LoginThrottle;
use crate::oauth::tokens::TokenService;
use crate::store::{Store, StoreError};

/// An OAuth failure as RFC 6749 names it; `http/` renders it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthFailure {
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    #[error("server_error")]
    ServerError(String),
}

impl OAuthFailure {
    pub fn code(&self) -> &'static str {
        match self {
            OAuthFailure::InvalidRequest(_) => "invalid_request",
            OAuthFailure::InvalidClient(_) => "invalid_client",
            OAuthFailure::InvalidGrant(_) => "invalid_grant",
            OAuthFailure::UnauthorizedClient(_) => "unauthorized_client",
            OAuthFailure::UnsupportedGrantType => "unsupported_grant_type",
            OAuthFailure::InvalidScope(_) => "invalid_scope",
            OAuthFailure::ServerError(_) => "server_error",
        }
    }
}

impl From<StoreError> for OAuthFailure {
    fn from(e: StoreError) -> Self {
        OAuthFailure::ServerError(e.to_string())
    }
}

impl From<diesel::result::Error> for OAuthFailure {
    fn from(e: diesel::result::Error) -> Self {
        OAuthFailure::ServerError(e.to_string())
    }
}

/// Lifetimes and switches, from `[oauth]` and `[psu]`.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    pub code_ttl: time::Duration,
    pub par_ttl: time::Duration,
    pub require_par: bool,
    pub session_ttl: time::Duration,
    pub sca_renewal: time::Duration,
}

impl OAuthSettings {
    pub fn from_config(config: &Config) -> OAuthSettings {
        let secs = |s: u64| time::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 2));
        OAuthSettings {
            code_ttl: secs(config.oauth.code_ttl),
            par_ttl: secs(config.oauth.par_ttl),
            require_par: config.oauth.require_par,
            session_ttl: secs(config.psu.session_ttl),
            sca_renewal: time::Duration::days(i64::from(config.oauth.sca_renewal_days)),
        }
    }
}

/// The authorization server: everything behind `/oauth/*` and the PSU page.
#[derive(Debug, Clone)]
pub struct AuthServer {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub clients: ClientRegistry,
    pub tokens: Arc<TokenService>,
    /// The signing keys, for the JWKS.
    pub keys: Arc<dyn crate::oauth::keys::KeyStore>,
    pub consents: ConsentService,
    pub funds_consents: crate::consent::FundsConsentService,
    pub payments: crate::payments::PaymentService,
    pub core: Arc<dyn CoreBanking>,
    pub throttle: LoginThrottle,
    pub settings: OAuthSettings,
    /// The issuer URL, also the `iss` of authorization responses (RFC 9207).
    pub issuer: String,
}
