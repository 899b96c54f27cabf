//! Transport: routing, extractors, middleware, and mapping errors to the wire.
//!
//! Invariant: only `http/` knows about actix and wire JSON. Handlers extract, call
//! one domain function, and map the result. Routes are registered through
//! `utoipa-actix-web`, so a handler cannot be routed without being documented.

pub mod accounts;
pub mod auth;
pub mod consents;
pub mod errors;
pub mod funds;
pub mod funds_consents;
pub mod interbank;
pub mod middleware;
pub mod oauth;
pub mod ops;
pub mod payments;
pub mod psu;
pub mod whoami;

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use utoipa::OpenApi;
use utoipa::openapi::security::{
    AuthorizationCode, ClientCredentials, Flow, OAuth2, Scopes, SecurityScheme,
};
use utoipa_actix_web::AppExt;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::clock::Clock;
use crate::config::Config;
use crate::core::CoreBanking;
use crate::http::errors::{ApiError, OAuthError};
use crate::metrics::Metrics;
use crate::oauth::clients::ClientRegistry;
use crate::ratelimit::RateLimiter;
use crate::store::Store;

/// Everything handlers share, built once at start and passed as `web::Data`.
#[derive(Debug, Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub core: Arc<dyn CoreBanking>,
    pub clock: Arc<dyn Clock>,
    pub clients: ClientRegistry,
    pub metrics: Metrics,
    pub limiter: Arc<dyn RateLimiter>,
    /// The issuer URL (`https://<public address>` unless configured).
    pub issuer: String,
    /// Base URL of the mTLS listener.
    pub mtls_base_url: String,
    /// The authorization server (tokens, grants, the PSU page).
    pub oauth: crate::oauth::AuthServer,
    /// AIS consents.
    pub consents: crate::consent::ConsentService,
    /// Confirmation-of-funds consents.
    pub funds_consents: crate::consent::FundsConsentService,
    /// Payment initiation.
    pub payments: crate::payments::PaymentService,
    /// Credits from peer banks (`/interbank`).
    pub interbank: crate::interbank::InterbankService,
    /// Peer banks this gateway credits through; `None` without `[interbank] peers`.
    pub peers: Option<crate::interbank::PeerBanks>,
}

impl std::fmt::Debug for dyn CoreBanking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CoreBanking({})", self.name())
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "obgw — Open Banking gateway",
        description = "Berlin Group NextGenPSD2-style API (`/v1`, `/v2`) and the gateway's own OAuth 2.0 \
authorization server. Two listeners: the **public** one (TLS; PSU pages, discovery, docs, operations) and \
the **mTLS** one (a client certificate issued under the bank's TPP CA is required by the TLS handshake; \
every TPP call). Every `/v1` and `/v2` request carries `X-Request-ID` (a UUID), which is echoed. Errors \
on `/v1` are Berlin Group `tppMessages`; on `/oauth` they follow RFC 6749.",
        license(name = "Apache-2.0")
    ),
    servers(
        (url = "https://127.0.0.1:8443", description = "public listener (sandbox default)"),
        (url = "https://127.0.0.1:8444", description = "mTLS listener (sandbox default)")
    ),
    modifiers(&SecuritySchemes),
    components(schemas(errors::TppErrorBody, errors::TppMessage, errors::OAuthErrorBody))
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "mtls",
            SecurityScheme::MutualTls {
                description: Some(
                    "A TLS client certificate issued under the bank's TPP CA and registered for the \
client (RFC 8705 tls_client_auth). Required by the mTLS listener's handshake."
                        .into(),
                ),
                deprecated: None,
                extensions: None,
            },
        );
        let client_scopes = || {
            Scopes::from_iter([
                ("accounts", "Create AIS consents"),
                ("payments", "Initiate payments"),
                (
                    "fundsconfirmations",
                    "Create confirmation-of-funds consents",
                ),
            ])
        };
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [
                    Flow::ClientCredentials(ClientCredentials::new("/oauth/token", client_scopes())),
                    Flow::AuthorizationCode(AuthorizationCode::new(
                        "/oauth/authorize",
                        "/oauth/token",
                        Scopes::from_iter([
                            ("AIS:<consentId>", "Read what one AIS consent grants"),
                            (
                                "PIS:<paymentId>",
                                "Read the one payment the PSU authorized",
                            ),
                            (
                                "PIIS:<consentId>",
                                "Confirm funds on the account of one confirmation-of-funds consent",
                            ),
                        ]),
                    )),
                ],
                "Certificate-bound JWT access tokens (RFC 8705) from this gateway's authorization server. \
The token endpoint is on the mTLS listener; the authorization endpoint (the PSU page) on the public one. \
PKCE S256 is mandatory.",
            )),
        );
    }
}

/// Routes of the public listener.
pub fn public_routes(cfg: &mut ServiceConfig) {
    cfg.service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics)
        .service(oauth::metadata)
        .service(oauth::jwks)
        .service(psu::authorize)
        .service(psu::login)
        .service(psu::decision);
}

/// Routes of the mTLS listener.
pub fn mtls_routes(cfg: &mut ServiceConfig) {
    cfg.service(whoami::whoami)
        .service(oauth::token)
        .service(oauth::par)
        .service(oauth::revoke)
        .service(oauth::introspect)
        .service(consents::create_consent)
        .service(consents::get_consent)
        .service(consents::get_consent_status)
        .service(consents::delete_consent)
        .service(accounts::list_accounts)
        .service(accounts::read_account_details)
        .service(accounts::read_balances)
        .service(accounts::list_transactions)
        .service(accounts::read_transaction_details)
        .service(payments::initiate_payment)
        .service(payments::get_payment)
        .service(payments::get_payment_status)
        .service(payments::cancel_payment)
        .service(funds_consents::create_funds_consent)
        .service(funds_consents::get_funds_consent)
        .service(funds_consents::get_funds_consent_status)
        .service(funds_consents::delete_funds_consent)
        .service(funds::confirm_funds)
        .service(interbank::receive_credit);
}

/// The OpenAPI document of both listeners, generated from the registered routes.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut spec) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(public_routes)
        .split_for_parts();
    let (_, mtls) = actix_web::App::new()
        .into_utoipa_app()
        .configure(mtls_routes)
        .split_for_parts();
    spec.merge(mtls);
    // utoipa-actix-web's default document carries its own info; ours wins.
    spec.info = ApiDoc::openapi().info;
    spec
}

/// The spec as the committed `openapi/openapi.json` holds it.
pub fn openapi_json() -> String {
    let mut text = openapi().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

/// `GET /openapi.json` (registered outside the documented routes).
pub async fn openapi_document(spec: web::Data<String>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(spec.get_ref().clone())
}

/// Malformed JSON, wrong types and oversized bodies on `/v1`: 400 `FORMAT_ERROR`
/// naming the problem (413 for size), never a 500.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _req| {
            let api = match &err {
                actix_web::error::JsonPayloadError::Overflow { .. }
                | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => ApiError::new(
                    actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "FORMAT_ERROR",
                    "The request body is too large.",
                ),
                actix_web::error::JsonPayloadError::ContentType => ApiError::new(
                    actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UNSUPPORTED_MEDIA_TYPE",
                    "Content-Type must be application/json.",
                ),
                actix_web::error::JsonPayloadError::Deserialize(e) => {
                    ApiError::format(format!("Invalid JSON body: {e}"))
                }
                _ => ApiError::format("Invalid JSON body."),
            };
            actix_web::error::InternalError::from_response(err, api.error_response()).into()
        })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let api = ApiError::format(format!("Invalid query parameters: {err}"));
        actix_web::error::InternalError::from_response(err, api.error_response()).into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| {
        let api = ApiError::format(format!("Invalid path parameter: {err}"));
        actix_web::error::InternalError::from_response(err, api.error_response()).into()
    })
}

/// Form bodies (the `/oauth` endpoints): RFC 6749 `invalid_request`.
pub fn form_config(limit: usize) -> web::FormConfig {
    web::FormConfig::default()
        .limit(limit)
        .error_handler(|err, _req| {
            let oauth = OAuthError::invalid_request(format!("Invalid form body: {err}"));
            actix_web::error::InternalError::from_response(err, oauth.error_response()).into()
        })
}

/// Unknown paths and methods: 404 in the surface's format.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    match errors::Surface::of(req.path()) {
        errors::Surface::OAuth => OAuthError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "invalid_request",
            "No such endpoint.",
        )
        .error_response(),
        errors::Surface::PsuPage => errors::html_error(
            actix_web::http::StatusCode::NOT_FOUND,
            "Not found",
            "This page does not exist.",
        ),
        errors::Surface::BerlinGroup => ApiError::not_found().error_response(),
    }
}
