//! Cross-cutting request handling, outermost first:
//! 1. [`observe`]: request id (validate, generate, echo), tracing span, access log,
//!    metrics;
//! 2. [`rate_limit`]: the keyed limiter, answering 429 in the surface's format.

use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpMessage, ResponseError, web};
use tracing::Instrument;
use uuid::Uuid;

use crate::http::AppState;
use crate::http::errors::{ApiError, Surface};
use crate::ratelimit::LimitedAction;
use crate::tls::ClientCertificate;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Which listener a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Public,
    Mtls,
}

impl Listener {
    pub fn as_str(&self) -> &'static str {
        match self {
            Listener::Public => "public",
            Listener::Mtls => "mtls",
        }
    }
}

/// The request's `X-Request-ID`: the caller's, or generated when absent where the
/// contract allows that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId(pub Uuid);

impl FromRequest for RequestId {
    type Error = Error;
    type Future = std::future::Ready<Result<Self, Error>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let id = req
            .extensions()
            .get::<RequestId>()
            .copied()
            .unwrap_or_else(|| RequestId(Uuid::new_v4()));
        std::future::ready(Ok(id))
    }
}

/// Berlin Group paths where `X-Request-ID` is mandatory.
fn requires_request_id(path: &str) -> bool {
    path.starts_with("/v1/") || path.starts_with("/v2/") || path == "/v1" || path == "/v2"
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let started = Instant::now();
    let listener = req
        .app_data::<web::Data<Listener>>()
        .map_or(Listener::Public, |l| *l.get_ref());
    let supplied = req
        .headers()
        .get(X_REQUEST_ID)
        .map(|v| v.to_str().ok().and_then(|s| Uuid::parse_str(s.trim()).ok()));
    let request_id = match supplied {
        Some(Some(id)) => id,
        _ => Uuid::new_v4(),
    };
    let rejection = match supplied {
        _ if !requires_request_id(req.path()) => None,
        None => Some("The X-Request-ID header is required."),
        Some(None) => Some("The X-Request-ID header must be a UUID."),
        Some(Some(_)) => None,
    };
    req.extensions_mut().insert(RequestId(request_id));

    let method = req.method().to_string();
    let span = tracing::info_span!(
        "http.request",
        request_id = %request_id,
        http.method = %method,
        http.path = %req.path(),
        listener = listener.as_str(),
    );

    async move {
        let mut res = match rejection {
            Some(text) => {
                let (http_req, _) = req.into_parts();
                let body = ApiError::format(text)
                    .with_path("X-Request-ID")
                    .error_response();
                ServiceResponse::new(http_req, body).map_into_right_body()
            }
            None => next.call(req).await?.map_into_left_body(),
        };
        if let Ok(v) = HeaderValue::from_str(&request_id.to_string()) {
            res.headers_mut().insert(X_REQUEST_ID, v);
        }
        let status = res.status().as_u16();
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        let elapsed = started.elapsed();
        if let Some(state) = res.request().app_data::<web::Data<AppState>>() {
            state.metrics.observe(
                listener.as_str(),
                &method,
                &route,
                status,
                elapsed.as_secs_f64(),
            );
        }
        tracing::info!(
            http.status = status,
            http.route = %route,
            latency_ms = elapsed.as_millis() as u64,
            "request"
        );
        Ok(res)
    }
    .instrument(span)
    .await
}

/// Paths that probes and scrapers call; never limited.
fn exempt(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let path = req.path().to_owned();
    let listener = req
        .app_data::<web::Data<Listener>>()
        .map_or(Listener::Public, |l| *l.get_ref());
    let verdict = match req.app_data::<web::Data<AppState>>() {
        Some(state) if !exempt(&path) => {
            let (action, key) = match listener {
                Listener::Mtls => {
                    let action = if path.starts_with("/oauth/") {
                        LimitedAction::OAuth
                    } else {
                        LimitedAction::TppApi
                    };
                    let key = req
                        .conn_data::<ClientCertificate>()
                        .map(|c| c.thumbprint.clone())
                        .unwrap_or_default();
                    (action, key)
                }
                Listener::Public => {
                    let key = req
                        .peer_addr()
                        .map(|a| a.ip().to_string())
                        .unwrap_or_default();
                    (LimitedAction::Public, key)
                }
            };
            state.limiter.check(action, &key)
        }
        _ => Ok(()),
    };
    match verdict {
        Ok(()) => Ok(next.call(req).await?.map_into_left_body()),
        Err(retry) => {
            tracing::warn!(retry_after = retry.seconds(), "rate limited");
            let (http_req, _) = req.into_parts();
            let res = Surface::of(&path).too_many_requests(retry.seconds());
            Ok(ServiceResponse::new(http_req, res).map_into_right_body())
        }
    }
}
