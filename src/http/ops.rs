//! Operations endpoints on the public listener: liveness, readiness, metrics.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::errors::ApiError;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: the process is up and serving.
#[utoipa::path(tag = "Operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` when every check passed, else `unavailable`.
    #[schema(example = "ready")]
    pub status: &'static str,
    /// The database round trip: `ok` or `unavailable`.
    pub database: &'static str,
    /// The core-banking adapter's health check: `ok` or `unavailable`.
    pub core: &'static str,
    /// Which core-banking adapter is configured.
    #[schema(example = "sandbox")]
    pub core_adapter: &'static str,
}

/// Readiness: the database and the core-banking adapter are reachable.
#[utoipa::path(
    tag = "Operations",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness))
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = match state.store.ping().await {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(error.cause = %e, "readiness: database unavailable");
            "unavailable"
        }
    };
    let core = match state.core.health().await {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(error.cause = %e, "readiness: core unavailable");
            "unavailable"
        }
    };
    let ready = database == "ok" && core == "ok";
    let body = Readiness {
        status: if ready { "ready" } else { "unavailable" },
        database,
        core,
        core_adapter: state.core.name(),
    };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Prometheus metrics (text format). Loopback callers only, unless
/// `metrics.allow_remote` is set.
#[utoipa::path(
    tag = "Operations",
    responses(
        (status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String),
        (status = 403, description = "Caller is not on loopback", body = crate::http::errors::TppErrorBody)
    )
)]
#[get("/metrics")]
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let loopback = req.peer_addr().is_some_and(|a| a.ip().is_loopback());
    if !loopback && !state.config.metrics.allow_remote {
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "Metrics are served to loopback callers only.",
        ));
    }
    let text = state.metrics.render().map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
