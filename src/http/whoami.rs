//! `GET /whoami` on the mTLS listener: which registered client the presented
//! certificate identifies. A TPP developer's first check that mTLS works.

use actix_web::{HttpRequest, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::errors::ApiError;
use crate::tls::ClientCertificate;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateInfo {
    /// `x5t#S256`: base64url SHA-256 of the DER certificate (RFC 8705).
    #[serde(rename = "x5t#S256")]
    pub x5t_s256: String,
    pub subject: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WhoAmI {
    pub certificate: CertificateInfo,
    /// The client this certificate is bound to, if bank IT registered it.
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    /// `active` or `disabled`, when registered.
    pub client_status: Option<String>,
}

/// The verified client certificate of this connection and the TPP client bound to it.
#[utoipa::path(
    tag = "TPP identity",
    security(("mtls" = [])),
    responses(
        (status = 200, body = WhoAmI),
        (status = 401, description = "No client certificate (only behind a misconfigured proxy)", body = crate::http::errors::TppErrorBody)
    )
)]
#[get("/whoami")]
pub async fn whoami(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<web::Json<WhoAmI>, ApiError> {
    let cert = req
        .conn_data::<ClientCertificate>()
        .cloned()
        .ok_or_else(|| {
            ApiError::unauthorized("CERTIFICATE_MISSING", "A client certificate is required.")
        })?;
    let client = state
        .clients
        .find_by_thumbprint(&cert.thumbprint)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(web::Json(WhoAmI {
        client_id: client.as_ref().map(|c| c.client_id.clone()),
        client_name: client.as_ref().map(|c| c.name.clone()),
        client_status: client.as_ref().map(|c| {
            if c.is_active() {
                "active".to_owned()
            } else {
                "disabled".to_owned()
            }
        }),
        certificate: CertificateInfo {
            x5t_s256: cert.thumbprint,
            subject: cert.subject,
        },
    }))
}
