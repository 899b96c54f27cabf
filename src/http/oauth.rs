//! `/oauth/*` and discovery. Thin: parse the form, authenticate the client by its
//! certificate, call `oauth::AuthServer`, render RFC 6749 JSON.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::auth::{ClientAuthFailure, TppClient, identify_client};
use crate::http::errors::{OAuthError, OAuthErrorBody};
use crate::oauth::OAuthFailure;
use crate::oauth::authorize::AuthorizeParams;
use crate::oauth::grants::{TokenParams, TokenResponse};
use crate::oauth::revocation::Introspection;

impl From<OAuthFailure> for OAuthError {
    fn from(f: OAuthFailure) -> Self {
        let status = match &f {
            OAuthFailure::InvalidClient(_) => StatusCode::UNAUTHORIZED,
            OAuthFailure::ServerError(cause) => return OAuthError::internal(cause),
            _ => StatusCode::BAD_REQUEST,
        };
        let description = match &f {
            OAuthFailure::InvalidRequest(d)
            | OAuthFailure::InvalidClient(d)
            | OAuthFailure::InvalidGrant(d)
            | OAuthFailure::UnauthorizedClient(d)
            | OAuthFailure::InvalidScope(d) => d.clone(),
            OAuthFailure::UnsupportedGrantType => "grant_type is not supported".into(),
            OAuthFailure::ServerError(_) => String::new(),
        };
        OAuthError::new(status, f.code(), description)
    }
}

/// Parses an `application/x-www-form-urlencoded` body into pairs.
fn form_pairs(req: &HttpRequest, body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    serde_urlencoded::from_bytes(body)
        .map_err(|_| OAuthError::invalid_request("malformed form body"))
}

/// `tls_client_auth`: the certificate must be registered to an active client.
async fn authenticate(req: &HttpRequest) -> Result<TppClient, OAuthError> {
    match identify_client(req).await {
        Ok(Ok(tpp)) => Ok(tpp),
        Ok(Err(ClientAuthFailure::Disabled)) => Err(OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "the client is disabled",
        )),
        Ok(Err(_)) => Err(OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "the client certificate is not registered",
        )),
        Err(e) => Err(OAuthError::internal(&e)),
    }
}

fn no_store(mut res: HttpResponse) -> HttpResponse {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The token endpoint's form, for documentation.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct TokenForm {
    /// `client_credentials`, `authorization_code` or `refresh_token`.
    grant_type: String,
    /// Optional; must match the certificate's client.
    client_id: Option<String>,
    /// client_credentials: a subset of `accounts payments fundsconfirmations`.
    scope: Option<String>,
    /// authorization_code: the code from the redirect.
    code: Option<String>,
    /// authorization_code: exactly the redirect URI of the authorization request.
    redirect_uri: Option<String>,
    /// authorization_code: the PKCE verifier (S256).
    code_verifier: Option<String>,
    /// refresh_token: the current refresh token (it is rotated).
    refresh_token: Option<String>,
}

/// Token endpoint (RFC 6749 §3.2). Client authentication is `tls_client_auth`
/// (RFC 8705): the certificate of this mTLS connection. Access tokens are JWTs
/// bound to that certificate (`cnf.x5t#S256`).
#[utoipa::path(
    tag = "OAuth 2.0",
    security(("mtls" = [])),
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, body = OAuthErrorBody, description = "invalid_request, invalid_grant, invalid_scope, unsupported_grant_type"),
        (status = 401, body = OAuthErrorBody, description = "invalid_client"),
        (status = 429, body = OAuthErrorBody)
    )
)]
#[post("/oauth/token")]
pub async fn token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let tpp = authenticate(&req).await?;
    let params = TokenParams::from_pairs(form_pairs(&req, &body)?)?;
    let response = state
        .oauth
        .token(&tpp.client, &tpp.certificate.thumbprint, params)
        .await?;
    Ok(no_store(HttpResponse::Ok().json(response)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParResponse {
    #[schema(example = "urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c")]
    pub request_uri: String,
    pub expires_in: u64,
}

/// The authorization request's parameters, for documentation.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct AuthorizationRequestForm {
    client_id: Option<String>,
    /// `code`.
    response_type: String,
    /// Exactly one registered redirect URI.
    redirect_uri: String,
    /// `AIS:<consentId>`, `PIS:<paymentId>` or `PIIS:<consentId>`.
    scope: String,
    state: Option<String>,
    /// BASE64URL(SHA-256(code_verifier)).
    code_challenge: String,
    /// `S256` (`plain` is refused).
    code_challenge_method: String,
}

/// Pushed authorization request (RFC 9126). Returns a single-use `request_uri`
/// for `/oauth/authorize?client_id=…&request_uri=…`.
#[utoipa::path(
    tag = "OAuth 2.0",
    security(("mtls" = [])),
    request_body(content = AuthorizationRequestForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, body = ParResponse),
        (status = 400, body = OAuthErrorBody),
        (status = 401, body = OAuthErrorBody)
    )
)]
#[post("/oauth/par")]
pub async fn par(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let tpp = authenticate(&req).await?;
    let params = AuthorizeParams::from_pairs(form_pairs(&req, &body)?)
        .map_err(OAuthError::invalid_request)?;
    let (request_uri, expires_in) = state.oauth.push(&tpp.client, params).await?;
    Ok(no_store(HttpResponse::Created().json(ParResponse {
        request_uri,
        expires_in,
    })))
}

#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct TokenOnlyForm {
    token: String,
    /// `access_token` or `refresh_token` (a hint only).
    token_type_hint: Option<String>,
}

fn token_param(pairs: Vec<(String, String)>) -> Result<String, OAuthError> {
    let mut tokens = pairs
        .into_iter()
        .filter(|(k, _)| k == "token")
        .map(|(_, v)| v);
    match (tokens.next(), tokens.next()) {
        (Some(t), None) if !t.is_empty() => Ok(t),
        (Some(_), Some(_)) => Err(OAuthError::invalid_request("token given more than once")),
        _ => Err(OAuthError::invalid_request("token is required")),
    }
}

/// Token revocation (RFC 7009). A refresh token revokes its whole family.
/// Unknown tokens, and other clients' tokens, are answered 200 and left alone.
#[utoipa::path(
    tag = "OAuth 2.0",
    security(("mtls" = [])),
    request_body(content = TokenOnlyForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Revoked, or nothing to revoke"), (status = 401, body = OAuthErrorBody))
)]
#[post("/oauth/revoke")]
pub async fn revoke(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let tpp = authenticate(&req).await?;
    let presented = token_param(form_pairs(&req, &body)?)?;
    state
        .oauth
        .revoke(&tpp.client, &tpp.certificate.thumbprint, &presented)
        .await?;
    Ok(no_store(HttpResponse::Ok().finish()))
}

/// Token introspection (RFC 7662), for the client's own tokens.
#[utoipa::path(
    tag = "OAuth 2.0",
    security(("mtls" = [])),
    request_body(content = TokenOnlyForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = Introspection), (status = 401, body = OAuthErrorBody))
)]
#[post("/oauth/introspect")]
pub async fn introspect(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let tpp = authenticate(&req).await?;
    let presented = token_param(form_pairs(&req, &body)?)?;
    let result = state
        .oauth
        .introspect(&tpp.client, &tpp.certificate.thumbprint, &presented)
        .await?;
    Ok(no_store(HttpResponse::Ok().json(result)))
}

/// RFC 8414 metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub pushed_authorization_request_endpoint: String,
    pub require_pushed_authorization_requests: bool,
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
    pub response_types_supported: Vec<&'static str>,
    pub response_modes_supported: Vec<&'static str>,
    pub grant_types_supported: Vec<&'static str>,
    pub code_challenge_methods_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    pub introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    pub scopes_supported: Vec<&'static str>,
    pub tls_client_certificate_bound_access_tokens: bool,
    pub authorization_response_iss_parameter_supported: bool,
    #[schema(value_type = Object)]
    pub mtls_endpoint_aliases: serde_json::Value,
}

/// Authorization-server metadata (RFC 8414). Client-facing endpoints are on the
/// mTLS listener and repeated in `mtls_endpoint_aliases` (RFC 8705 §5).
#[utoipa::path(tag = "OAuth 2.0", responses((status = 200, body = ServerMetadata)))]
#[get("/.well-known/oauth-authorization-server")]
pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let issuer = state.issuer.clone();
    let mtls = state.mtls_base_url.clone();
    let token_endpoint = format!("{mtls}/oauth/token");
    let par_endpoint = format!("{mtls}/oauth/par");
    let revocation_endpoint = format!("{mtls}/oauth/revoke");
    let introspection_endpoint = format!("{mtls}/oauth/introspect");
    HttpResponse::Ok().json(ServerMetadata {
        authorization_endpoint: format!("{issuer}/oauth/authorize"),
        jwks_uri: format!("{issuer}/oauth/jwks"),
        mtls_endpoint_aliases: serde_json::json!({
            "token_endpoint": token_endpoint,
            "pushed_authorization_request_endpoint": par_endpoint,
            "revocation_endpoint": revocation_endpoint,
            "introspection_endpoint": introspection_endpoint,
        }),
        token_endpoint,
        pushed_authorization_request_endpoint: par_endpoint,
        require_pushed_authorization_requests: state.config.oauth.require_par,
        revocation_endpoint,
        introspection_endpoint,
        issuer,
        response_types_supported: vec!["code"],
        response_modes_supported: vec!["query"],
        grant_types_supported: vec!["authorization_code", "client_credentials", "refresh_token"],
        code_challenge_methods_supported: vec!["S256"],
        token_endpoint_auth_methods_supported: vec!["tls_client_auth"],
        revocation_endpoint_auth_methods_supported: vec!["tls_client_auth"],
        introspection_endpoint_auth_methods_supported: vec!["tls_client_auth"],
        scopes_supported: vec![
            "accounts",
            "payments",
            "fundsconfirmations",
            "AIS:<consentId>",
            "PIS:<paymentId>",
            "PIIS:<consentId>",
        ],
        tls_client_certificate_bound_access_tokens: true,
        authorization_response_iss_parameter_supported: true,
    })
}

/// The public keys that verify access tokens (RFC 7517). Rotated keys stay here
/// until every token they signed has expired.
#[utoipa::path(tag = "OAuth 2.0", responses((status = 200, description = "A JWK Set", content_type = "application/json")))]
#[get("/oauth/jwks")]
pub async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, OAuthError> {
    let set = state
        .oauth
        .keys
        .jwks()
        .await
        .map_err(|e| OAuthError::internal(&e))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .json(set))
}
