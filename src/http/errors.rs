//! The two wire formats for errors, mapped once at the edge.
//!
//! - `/v1`, `/v2`, `/interbank`: Berlin Group `{"tppMessages":[{category, code, text}]}`.
//! - `/oauth`: RFC 6749 `{"error", "error_description"}`.
//! - PSU pages: a small HTML page.
//!
//! A 5xx body never carries the cause; the cause is logged once, here.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// One Berlin Group message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TppMessage {
    /// `ERROR` or `WARNING`.
    #[schema(example = "ERROR")]
    pub category: &'static str,
    /// A Berlin Group message code, e.g. `FORMAT_ERROR`, `CONSENT_INVALID`.
    #[schema(example = "FORMAT_ERROR")]
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub text: String,
}

/// The Berlin Group error body.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TppErrorBody {
    pub tpp_messages: Vec<TppMessage>,
}

/// An error on the Berlin Group surface.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub text: String,
    pub path: Option<String>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, text: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            text: text.into(),
            path: None,
            retry_after: None,
        }
    }

    /// 400 `FORMAT_ERROR`, naming what was wrong.
    pub fn format(text: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "FORMAT_ERROR", text)
    }

    pub fn with_path(mut self, path: impl Into<String>) -> ApiError {
        self.path = Some(path.into());
        self
    }

    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "RESOURCE_UNKNOWN",
            "No such resource.",
        )
    }

    pub fn unauthorized(code: &'static str, text: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, code, text)
    }

    pub fn too_many(retry_after: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "ACCESS_EXCEEDED",
                "Too many requests; retry later.",
            )
        }
    }

    pub fn unavailable() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "The service is temporarily unavailable.",
        )
    }

    /// 500 with an opaque body; `cause` goes to the log only.
    pub fn internal(cause: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(error.cause = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            "An internal error occurred.",
        )
    }

    pub fn body(&self) -> TppErrorBody {
        TppErrorBody {
            tpp_messages: vec![TppMessage {
                category: "ERROR",
                code: self.code,
                path: self.path.clone(),
                text: self.text.clone(),
            }],
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.text)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        res.json(self.body())
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Pool(_) => {
                tracing::error!(error.cause = %e, "database unavailable");
                ApiError::unavailable()
            }
            other => ApiError::internal(&other),
        }
    }
}

/// The RFC 6749 §5.2 error body.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OAuthErrorBody {
    #[schema(example = "invalid_request")]
    pub error: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// An error on the `/oauth` surface.
#[derive(Debug, Clone)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: Option<String>,
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: Some(description.into()),
            retry_after: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn too_many(retry_after: u64) -> Self {
        OAuthError {
            retry_after: Some(retry_after),
            ..OAuthError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                "Too many requests; retry later.",
            )
        }
    }

    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error.cause = %cause, "internal error");
        OAuthError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "An internal error occurred.",
        )
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.error)
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        // RFC 6749 §5.1: error responses must not be cached either.
        res.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        res.json(OAuthErrorBody {
            error: self.error,
            error_description: self.description.clone(),
        })
    }
}

/// An error page for PSUs: plain HTML, no scripts, never a redirect.
pub fn html_error(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{t}</title></head><body><main><h1>{t}</h1><p>{m}</p></main></body></html>",
            t = html_escape(title),
            m = html_escape(message)
        ))
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Which error format a path's callers expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    BerlinGroup,
    OAuth,
    PsuPage,
}

impl Surface {
    pub fn of(path: &str) -> Surface {
        if path.starts_with("/oauth/authorize") {
            Surface::PsuPage
        } else if path.starts_with("/oauth/") || path.starts_with("/.well-known/") {
            Surface::OAuth
        } else {
            Surface::BerlinGroup
        }
    }

    /// The 429 response of this surface.
    pub fn too_many_requests(self, retry_after: u64) -> HttpResponse {
        match self {
            Surface::BerlinGroup => ApiError::too_many(retry_after).error_response(),
            Surface::OAuth => OAuthError::too_many(retry_after).error_response(),
            Surface::PsuPage => {
                let mut res = html_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many requests",
                    "Please wait a moment and try again.",
                );
                if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
                res
            }
        }
    }
}
