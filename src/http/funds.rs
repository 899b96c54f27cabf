//! `POST /v1/funds-confirmations`: "are funds available for this amount?" for the
//! one account of a confirmation-of-funds consent (PSD2 Art. 65), asked with the
//! PSU's `PIIS:<consentId>` token.
//!
//! The steps, each refusing before the next runs:
//! 1. the [`Bearer`] extractor: a live token bound to the presenting certificate;
//! 2. the `Consent-ID` is the consent the token was issued for (else 401
//!    `CONSENT_INVALID`), the caller's (else 403 `CONSENT_UNKNOWN`) and `valid`
//!    now (else 401 `CONSENT_INVALID` / `CONSENT_EXPIRED`);
//! 3. the body parses (else 400 `FORMAT_ERROR` naming the field);
//! 4. the consent covers the account (and card) asked about: otherwise 401
//!    `CONSENT_INVALID`, the same whether the account exists or not, decided
//!    before the core is asked anything;
//! 5. only then the core answers (`CoreBanking::funds_available`); a failing core
//!    is 503.
//!
//! The answer is a yes or a no, never a balance.

use actix_web::{HttpRequest, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::consent::{ConsentId, FundsCheck, FundsConsent};
use crate::http::AppState;
use crate::http::accounts::{consent_id_header, core_failed};
use crate::http::auth::Bearer;
use crate::http::consents::AccountReferenceBody;
use crate::http::errors::{ApiError, TppErrorBody};
use crate::http::payments::Amount;

const TAG: &str = "Confirmation of funds";

/// Berlin Group `confirmationOfFunds`: the body of `POST /v1/funds-confirmations`.
/// Fields outside this schema are refused with `FORMAT_ERROR` naming them.
#[derive(Debug, Clone, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // Documents the body; it is parsed by `consent::FundsCheck`.
pub struct ConfirmationOfFunds {
    /// The consented account (IBAN only).
    pub account: AccountReferenceBody,
    /// The amount to check: `amount` is a decimal string with at most the
    /// currency's minor units (a JSON number is refused).
    pub instructed_amount: Amount,
    /// Must match the consent's `cardNumber` when both are given.
    #[schema(max_length = 35)]
    pub card_number: Option<String>,
    /// The merchant, as information.
    #[schema(max_length = 70)]
    pub payee: Option<String>,
}

/// The answer of a funds confirmation.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FundsConfirmation {
    /// `true` if the account's available funds cover the amount now.
    pub funds_available: bool,
}

/// The consent a funds check runs under: the `Consent-ID` header must name the
/// consent the PSU token was issued for, and it must be the caller's and valid
/// now.
async fn consent_for(
    req: &HttpRequest,
    bearer: &Bearer,
    state: &AppState,
) -> Result<FundsConsent, ApiError> {
    let header = consent_id_header(req)?;
    if header != bearer.require_piis()? {
        return Err(ApiError::unauthorized(
            "CONSENT_INVALID",
            "The access token was not issued for this consent.",
        ));
    }
    let id = ConsentId::parse(header)?;
    Ok(state
        .funds_consents
        .access_check(&bearer.client.client_id, &id, state.clock.now())
        .await?)
}

/// Confirms whether the consented account holds funds for an amount. Needs the
/// PSU's token for a `valid` confirmation-of-funds consent (scope
/// `PIIS:<consentId>`) and that consent's id in `Consent-ID`. Any account other
/// than the consented one is 401 `CONSENT_INVALID`, whether it exists or not.
#[utoipa::path(
    tag = TAG,
    security(("mtls" = [], "oauth2" = ["PIIS:<consentId>"])),
    params(
        ("X-Request-ID" = uuid::Uuid, Header, description = "A UUID identifying this request; echoed."),
        ("Consent-ID" = String, Header, description = "The confirmation-of-funds consent the token was issued for."),
    ),
    request_body(content = ConfirmationOfFunds, content_type = "application/json"),
    responses(
        (status = 200, body = FundsConfirmation),
        (status = 400, body = TppErrorBody, description = "`FORMAT_ERROR` naming the field"),
        (status = 401, body = TppErrorBody, description = "`TOKEN_INVALID`, `TOKEN_EXPIRED`, `CONSENT_EXPIRED`; `CONSENT_INVALID` when the consent is not valid, the token is for another consent, or the account (or card) is not the consented one"),
        (status = 403, body = TppErrorBody, description = "`CONSENT_UNKNOWN` (unknown, or another TPP's)"),
        (status = 503, body = TppErrorBody, description = "`SERVICE_UNAVAILABLE`: the core banking system did not answer"),
    )
)]
#[post("/v1/funds-confirmations")]
pub async fn confirm_funds(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
    body: web::Json<serde_json::Value>,
) -> Result<web::Json<FundsConfirmation>, ApiError> {
    let consent = consent_for(&req, &bearer, &state).await?;
    let check = FundsCheck::parse(&body)?;
    if !consent.covers(&check) {
        return Err(ApiError::unauthorized(
            "CONSENT_INVALID",
            "The consent does not cover this account (or card).",
        ));
    }
    let funds_available = state
        .core
        .funds_available(&check.account.iban, &check.amount)
        .await
        .map_err(core_failed)?;
    tracing::info!(
        consent.id = %consent.id,
        account = %check.account.iban.masked(),
        funds.available = funds_available,
        "funds confirmation answered"
    );
    Ok(web::Json(FundsConfirmation { funds_available }))
}
