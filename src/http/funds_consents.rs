//! `/v2/consents/confirmation-of-funds`: Berlin Group CoF consent 2.0, created and
//! managed by the TPP with a client-credentials token (scope
//! `fundsconfirmations`), authorized by the PSU through the OAuth flow
//! (`scaOAuth` link, scope `PIIS:<consentId>`). Statuses, Idempotency-Key
//! semantics and error codes are those of AIS consents (`http::consents`).

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::consent::{ConsentId, FundsConsent, FundsConsentService};
use crate::http::AppState;
use crate::http::auth::Bearer;
use crate::http::consents::{
    AccountReferenceBody, ConsentCreated, ConsentStatusCode, ConsentStatusResponse, consent_id,
    created, idempotency_key, psu_ip_address,
};
use crate::http::errors::{ApiError, TppErrorBody};
use crate::oauth::clients::ClientScope;

const TAG: &str = "Confirmation of funds";

/// Berlin Group `consentsConfirmationOfFunds`: the body of
/// `POST /v2/consents/confirmation-of-funds`. Fields outside this schema are
/// refused with `FORMAT_ERROR` naming them. There is no `validUntil`: the consent
/// lasts the bank's maximum consent validity (180 days by default) from today,
/// or until `cardExpiryDate` if that comes first.
#[derive(Debug, Clone, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // Documents the body; it is parsed by `consent::FundsConsentRequest`.
pub struct FundsConsentRequestBody {
    /// The PSU's account funds may be confirmed for (IBAN only).
    pub account: AccountReferenceBody,
    /// The card the TPP issued for this account: 1 to 35 letters or digits (`*`
    /// for a masked number).
    #[schema(max_length = 35, example = "1234567891234")]
    pub card_number: Option<String>,
    /// Not in the past; the consent ends with it.
    #[schema(format = Date, example = "2026-12-31")]
    pub card_expiry_date: Option<String>,
    /// Shown to the PSU, e.g. the card's name.
    #[schema(max_length = 140, example = "MyMerchant Loyalty Card")]
    pub card_information: Option<String>,
    /// Shown to the PSU, e.g. the contract the card belongs to.
    #[schema(max_length = 140)]
    pub registration_information: Option<String>,
}

/// Berlin Group `consentConfirmationOfFundsContentResponse`, with the granted
/// `validUntil` and the `lastActionDate` as AIS consents report them.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FundsConsentInformation {
    pub account: AccountReferenceBody,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Date)]
    pub card_expiry_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_information: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_information: Option<String>,
    pub consent_status: ConsentStatusCode,
    /// The last day (UTC) the consent is valid.
    #[schema(format = Date, example = "2026-08-29")]
    pub valid_until: String,
    /// The day of the last status change.
    #[schema(format = Date, example = "2026-03-02")]
    pub last_action_date: String,
}

impl From<&FundsConsent> for FundsConsentInformation {
    fn from(c: &FundsConsent) -> Self {
        let access = &c.access;
        FundsConsentInformation {
            account: AccountReferenceBody {
                iban: access.account.iban.as_str().to_owned(),
                currency: access.account.currency.map(|c| c.as_str().to_owned()),
            },
            card_number: access.card_number.clone(),
            card_expiry_date: access.card_expiry_date.map(|d| d.to_string()),
            card_information: access.card_information.clone(),
            registration_information: access.registration_information.clone(),
            consent_status: c.status.into(),
            valid_until: c.valid_until.to_string(),
            last_action_date: c.last_action_date().to_string(),
        }
    }
}

fn self_href(state: &AppState, id: &ConsentId) -> String {
    format!(
        "{}/v2/consents/confirmation-of-funds/{id}",
        state.mtls_base_url
    )
}

fn service(state: &AppState) -> &FundsConsentService {
    &state.funds_consents
}

/// Creates a confirmation-of-funds consent (`received`). The PSU then authorizes
/// it through the OAuth authorization-code flow with scope `PIIS:<consentId>` at
/// the server named by `_links.scaOAuth`. Idempotent per `Idempotency-Key` for 24
/// hours, as `POST /v1/consents`.
#[utoipa::path(
    tag = TAG,
    security(("mtls" = [], "oauth2" = ["fundsconfirmations"])),
    params(
        ("X-Request-ID" = uuid::Uuid, Header, description = "A UUID identifying this request; echoed."),
        ("Idempotency-Key" = String, Header, max_length = 40, description = "1 to 40 printable ASCII characters; `x-idempotency-key` is accepted too. Kept 24 hours per client."),
        ("PSU-IP-Address" = Option<String>, Header, description = "The PSU's IP address, if the PSU is present."),
    ),
    request_body(content = FundsConsentRequestBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Created (or replayed)", body = ConsentCreated,
            headers(("Location" = String, description = "The consent's URL (`_links.self.href`)"),
                    ("ASPSP-SCA-Approach" = String, description = "`REDIRECT` (OAuth)"))),
        (status = 400, description = "`FORMAT_ERROR` naming the field", body = TppErrorBody),
        (status = 401, description = "`TOKEN_INVALID`, `TOKEN_EXPIRED`", body = TppErrorBody),
        (status = 403, description = "The token lacks scope `fundsconfirmations`", body = TppErrorBody),
        (status = 422, description = "`FORMAT_ERROR`: the Idempotency-Key was used with another body", body = TppErrorBody),
    )
)]
#[post("/v2/consents/confirmation-of-funds")]
pub async fn create_funds_consent(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    bearer.require_client_scope(ClientScope::FundsConfirmations)?;
    let key = idempotency_key(&req)?;
    let psu_ip = psu_ip_address(&req)?;
    let consent = service(&state)
        .create(&bearer.client.client_id, &key, &body, psu_ip)
        .await?;
    Ok(created(
        &state,
        self_href(&state, &consent.id),
        &consent.id,
        consent.status,
    ))
}

/// Reads a confirmation-of-funds consent of the calling TPP: the account and card
/// as accepted, the status, and until when it is valid.
#[utoipa::path(
    tag = TAG,
    security(("mtls" = [], "oauth2" = ["fundsconfirmations"])),
    params(
        ("consentId" = String, Path, description = "The id returned at creation."),
        ("X-Request-ID" = uuid::Uuid, Header, description = "A UUID identifying this request; echoed."),
    ),
    responses(
        (status = 200, body = FundsConsentInformation),
        (status = 401, description = "`TOKEN_INVALID`, `TOKEN_EXPIRED`", body = TppErrorBody),
        (status = 403, description = "`CONSENT_UNKNOWN` (unknown, or another TPP's)", body = TppErrorBody),
    )
)]
#[get("/v2/consents/confirmation-of-funds/{consentId}")]
pub async fn get_funds_consent(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
) -> Result<web::Json<FundsConsentInformation>, ApiError> {
    bearer.require_client_scope(ClientScope::FundsConfirmations)?;
    let id = consent_id(&path)?;
    let consent = service(&state).get(&bearer.client.client_id, &id).await?;
    Ok(web::Json(FundsConsentInformation::from(&consent)))
}

/// The current status of a confirmation-of-funds consent of the calling TPP.
#[utoipa::path(
    tag = TAG,
    security(("mtls" = [], "oauth2" = ["fundsconfirmations"])),
    params(
        ("consentId" = String, Path, description = "The id returned at creation."),
        ("X-Request-ID" = uuid::Uuid, Header, description = "A UUID identifying this request; echoed."),
    ),
    responses(
        (status = 200, body = ConsentStatusResponse),
        (status = 401, description = "`TOKEN_INVALID`, `TOKEN_EXPIRED`", body = TppErrorBody),
        (status = 403, description = "`CONSENT_UNKNOWN` (unknown, or another TPP's)", body = TppErrorBody),
    )
)]
#[get("/v2/consents/confirmation-of-funds/{consentId}/status")]
pub async fn get_funds_consent_status(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
) -> Result<web::Json<ConsentStatusResponse>, ApiError> {
    bearer.require_client_scope(ClientScope::FundsConfirmations)?;
    let id = consent_id(&path)?;
    let consent = service(&state).get(&bearer.client.client_id, &id).await?;
    Ok(web::Json(ConsentStatusResponse {
        consent_status: consent.status.into(),
    }))
}

/// Terminates a confirmation-of-funds consent of the calling TPP
/// (`terminatedByTpp`); funds can no longer be confirmed with it. A consent that
/// is already finalised keeps its status, and the answer is 204 all the same.
#[utoipa::path(
    tag = TAG,
    security(("mtls" = [], "oauth2" = ["fundsconfirmations"])),
    params(
        ("consentId" = String, Path, description = "The id returned at creation."),
        ("X-Request-ID" = uuid::Uuid, Header, description = "A UUID identifying this request; echoed."),
    ),
    responses(
        (status = 204, description = "Terminated"),
        (status = 401, description = "`TOKEN_INVALID`, `TOKEN_EXPIRED`", body = TppErrorBody),
        (status = 403, description = "`CONSENT_UNKNOWN` (unknown, or another TPP's)", body = TppErrorBody),
    )
)]
#[delete("/v2/consents/confirmation-of-funds/{consentId}")]
pub async fn delete_funds_consent(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    bearer.require_client_scope(ClientScope::FundsConfirmations)?;
    let id = consent_id(&path)?;
    service(&state)
        .terminate(&bearer.client.client_id, &id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
