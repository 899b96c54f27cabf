//! Who is calling: the TPP client behind the connection's certificate, and a
//! bearer token bound to that certificate.
//!
//! Deny by default: no certificate, an unregistered or disabled client, a token
//! that fails any check, or a revoked token → 401 before a handler runs.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use crate::http::AppState;
use crate::http::errors::ApiError;
use crate::oauth::clients::{Client, ClientScope};
use crate::oauth::records;
use crate::oauth::scope::TokenScope;
use crate::oauth::tokens::AccessClaims;
use crate::tls::ClientCertificate;

/// The registered, active client the presented certificate identifies, and the
/// certificate itself.
#[derive(Debug, Clone)]
pub struct TppClient {
    pub client: Client,
    pub certificate: ClientCertificate,
}

/// Why no client could be established; rendered per surface by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthFailure {
    NoCertificate,
    Unregistered,
    Disabled,
}

impl From<ClientAuthFailure> for ApiError {
    fn from(failure: ClientAuthFailure) -> ApiError {
        match failure {
            ClientAuthFailure::NoCertificate => {
                ApiError::unauthorized("CERTIFICATE_MISSING", "A client certificate is required.")
            }
            ClientAuthFailure::Unregistered => ApiError::unauthorized(
                "CERTIFICATE_INVALID",
                "The client certificate is not registered for any client.",
            ),
            ClientAuthFailure::Disabled => {
                ApiError::unauthorized("CERTIFICATE_BLOCKED", "The client is disabled.")
            }
        }
    }
}

pub async fn identify_client(
    req: &HttpRequest,
) -> Result<Result<TppClient, ClientAuthFailure>, ApiError> {
    let Some(certificate) = req.conn_data::<ClientCertificate>().cloned() else {
        return Ok(Err(ClientAuthFailure::NoCertificate));
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(&"application state missing"))?;
    let client = state
        .clients
        .find_by_thumbprint(&certificate.thumbprint)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(match client {
        None => Err(ClientAuthFailure::Unregistered),
        Some(c) if !c.is_active() => Err(ClientAuthFailure::Disabled),
        Some(client) => Ok(TppClient {
            client,
            certificate,
        }),
    })
}

/// A verified, live, certificate-bound access token and its client.
#[derive(Debug, Clone)]
pub struct Bearer {
    pub client: Client,
    pub claims: AccessClaims,
    pub scope: TokenScope,
}

impl Bearer {
    /// Requires a client-credentials token carrying `scope`.
    pub fn require_client_scope(&self, scope: ClientScope) -> Result<(), ApiError> {
        match &self.scope {
            TokenScope::Client(scopes) if scopes.contains(&scope) => Ok(()),
            TokenScope::Client(_) => Err(ApiError::new(
                actix_web::http::StatusCode::FORBIDDEN,
                "SERVICE_BLOCKED",
                format!("The token lacks the scope {scope}."),
            )),
            _ => Err(ApiError::unauthorized(
                "TOKEN_INVALID",
                format!("A client-credentials token with scope {scope} is required."),
            )),
        }
    }

    /// Requires a PSU token for an AIS consent; returns its consent id.
    pub fn require_ais(&self) -> Result<&str, ApiError> {
        match &self.scope {
            TokenScope::Ais(id) => Ok(id),
            _ => Err(ApiError::unauthorized(
                "TOKEN_INVALID",
                "A PSU token for an AIS consent (scope AIS:<consentId>) is required.",
            )),
        }
    }

    /// Requires a PSU token for a confirmation-of-funds consent; returns its
    /// consent id.
    pub fn require_piis(&self) -> Result<&str, ApiError> {
        match &self.scope {
            TokenScope::Piis(id) => Ok(id),
            _ => Err(ApiError::unauthorized(
                "TOKEN_INVALID",
                "A PSU token for a confirmation-of-funds consent (scope PIIS:<consentId>) is required.",
            )),
        }
    }
}

fn invalid(text: &str) -> ApiError {
    ApiError::unauthorized("TOKEN_INVALID", text)
}

async fn bearer(req: HttpRequest) -> Result<Bearer, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(&"application state missing"))?;
    let tpp = identify_client(&req).await??;
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid("An access token is required (Authorization: Bearer …)."))?;
    let claims = state
        .oauth
        .tokens
        .verify(token, &tpp.certificate.thumbprint)
        .await
        .map_err(|e| {
            if e.is_expired() {
                ApiError::unauthorized("TOKEN_EXPIRED", "The access token has expired.")
            } else {
                invalid("The access token is not valid.")
            }
        })?;
    if claims.client_id != tpp.client.client_id {
        return Err(invalid("The access token was issued to another client."));
    }
    let scope = TokenScope::parse(&claims.scope)
        .ok_or_else(|| invalid("The access token has an unknown scope."))?;
    let jti = claims.jti.clone();
    let live = state
        .store
        .read(move |c| records::access_is_live(c, &jti).map_err(crate::store::StoreError::from))
        .await?;
    if !live {
        return Err(invalid("The access token has been revoked."));
    }
    Ok(Bearer {
        client: tpp.client,
        claims,
        scope,
    })
}

impl FromRequest for Bearer {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Bearer, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        Box::pin(bearer(req.clone()))
    }
}
