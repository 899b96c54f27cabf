//! `/v1/consents`: Berlin Group AIS consents, created and managed by the TPP with
//! a client-credentials token (scope `accounts`), authorized by the PSU through
//! the OAuth flow (`scaOAuth` link, scope `AIS:<consentId>`).
//!
//! Handlers extract, call one [`ConsentService`] method and map the result; the
//! wire shapes below mirror the standard's schemas.

use std::net::IpAddr;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::consent::{
    AccountReference, AisAccess, Consent, ConsentError, ConsentId, ConsentService, ConsentStatus,
};
use crate::http::AppState;
use crate::http::auth::Bearer;
use crate::http::errors::{ApiError, TppErrorBody};
use crate::idempotency::{self, IdempotencyKey};
use crate::oauth::clients::ClientScope;

const TAG: &str = "Account information consents";
const PSU_IP_ADDRESS: HeaderName = HeaderName::from_static("psu-ip-address");
const ASPSP_SCA_APPROACH: HeaderName = HeaderName::from_static("aspsp-sca-approach");

impl From<ConsentError> for ApiError {
    /// The Berlin Group code of each consent error, as adorsys XS2A maps them
    /// (except that another TPP's consent is 403 like an unknown one, so that
    /// existence is not revealed).
    fn from(e: ConsentError) -> ApiError {
        match e {
            ConsentError::Format { path, message } => {
                ApiError::format(format!("{path}: {message}")).with_path(path)
            }
            ConsentError::SessionsNotSupported => ApiError::new(
                StatusCode::BAD_REQUEST,
                "SESSIONS_NOT_SUPPORTED",
                "combinedServiceIndicator: combined AIS and PIS sessions are not supported.",
            )
            .with_path("combinedServiceIndicator"),
            ConsentError::IdempotencyConflict => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "FORMAT_ERROR",
                "The Idempotency-Key was already used in the last 24 hours with a different request body.",
            )
            .with_path(idempotency::HEADER),
            ConsentError::Contended => ApiError::unavailable(),
            ConsentError::Unknown => ApiError::new(
                StatusCode::FORBIDDEN,
                "CONSENT_UNKNOWN",
                "The consent is unknown.",
            ),
            ConsentError::Invalid(status) => ApiError::unauthorized(
                "CONSENT_INVALID",
                format!("The consent is {status}; it does not grant access."),
            ),
            ConsentError::Expired => {
                ApiError::unauthorized("CONSENT_EXPIRED", "The consent has expired.")
            }
            ConsentError::StatusInvalid(status) => ApiError::new(
                StatusCode::CONFLICT,
                "STATUS_INVALID",
                format!("The consent is {status}; that change is not possible."),
            ),
            ConsentError::Store(e) => ApiError::from(e),
        }
    }
}

/// Berlin Group `consentStatus`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ConsentStatusCode {
    Received,
    Valid,
    Rejected,
    RevokedByPsu,
    Expired,
    TerminatedByTpp,
}

impl From<ConsentStatus> for ConsentStatusCode {
    fn from(s: ConsentStatus) -> Self {
        match s {
            ConsentStatus::Received => ConsentStatusCode::Received,
            ConsentStatus::Valid => ConsentStatusCode::Valid,
            ConsentStatus::Rejected => ConsentStatusCode::Rejected,
            ConsentStatus::RevokedByPsu => ConsentStatusCode::RevokedByPsu,
            ConsentStatus::Expired => ConsentStatusCode::Expired,
            ConsentStatus::TerminatedByTpp => ConsentStatusCode::TerminatedByTpp,
        }
    }
}

/// Berlin Group `hrefType`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Href {
    #[schema(example = "https://127.0.0.1:8444/v1/consents/1234-wertiq-983")]
    pub href: String,
}

/// Berlin Group `accountReference` (only IBANs are supported).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountReferenceBody {
    #[schema(example = "DE89370400440532013000")]
    pub iban: String,
    /// ISO 4217, for a sub-account of a multi-currency account.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "EUR")]
    pub currency: Option<String>,
}

/// `allAccounts` or `allAccountsWithOwnerName`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum AccountsScopeCode {
    AllAccounts,
    AllAccountsWithOwnerName,
}

/// Berlin Group `accountAccess`: accounts by IBAN per access kind (an IBAN in
/// `balances` or `transactions` is implicitly in `accounts`), or exactly one of
/// `availableAccounts`, `availableAccountsWithBalance`, `allPsd2`. Empty lists
/// (bank-offered consents), `additionalInformation` and `restrictedTo` are not
/// supported.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountAccess {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<AccountReferenceBody>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balances: Option<Vec<AccountReferenceBody>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transactions: Option<Vec<AccountReferenceBody>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_accounts: Option<AccountsScopeCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_accounts_with_balance: Option<AccountsScopeCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub all_psd2: Option<AccountsScopeCode>,
}

fn references(list: &[AccountReference]) -> Option<Vec<AccountReferenceBody>> {
    (!list.is_empty()).then(|| {
        list.iter()
            .map(|r| AccountReferenceBody {
                iban: r.iban.as_str().to_owned(),
                currency: r.currency.map(|c| c.as_str().to_owned()),
            })
            .collect()
    })
}

impl From<&AisAccess> for AccountAccess {
    fn from(access: &AisAccess) -> Self {
        let scope = |s: &crate::consent::AccountsScope| match s {
            crate::consent::AccountsScope::AllAccounts => AccountsScopeCode::AllAccounts,
            crate::consent::AccountsScope::AllAccountsWithOwnerName => {
                AccountsScopeCode::AllAccountsWithOwnerName
            }
        };
        match access {
            AisAccess::Dedicated(d) => AccountAccess {
                accounts: references(d.accounts()),
                balances: references(d.balances()),
                transactions: references(d.transactions()),
                ..AccountAccess::default()
            },
            AisAccess::AvailableAccounts(s) => AccountAccess {
                available_accounts: Some(scope(s)),
                ..AccountAccess::default()
            },
            AisAccess::AvailableAccountsWithBalance(s) => AccountAccess {
                available_accounts_with_balance: Some(scope(s)),
                ..AccountAccess::default()
            },
            AisAccess::AllPsd2(s) => AccountAccess {
                all_psd2: Some(scope(s)),
                ..AccountAccess::default()
            },
        }
    }
}

/// Berlin Group `consents`: the body of `POST /v1/consents`. Fields outside this
/// schema are refused with `FORMAT_ERROR` naming them.
#[derive(Debug, Clone, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // Documents the body; it is parsed by `consent::CreateConsentRequest`.
pub struct ConsentRequest {
    pub access: AccountAccess,
    /// `true` for recurring access; `false` for a one-off access (then
    /// `frequencyPerDay` is 1).
    pub recurring_indicator: bool,
    /// The last day the consent is valid (inclusive, UTC). Dates beyond the bank's
    /// maximum validity (180 days by default) are lowered to it; `9999-12-31`
    /// asks for the maximum. Must not lie in the past.
    #[schema(format = Date, example = "2026-12-31")]
    pub valid_until: String,
    /// Accesses per day without the PSU; at least 1; lowered to the bank's maximum
    /// (4 by default).
    #[schema(minimum = 1, example = 4)]
    pub frequency_per_day: u32,
    /// Optional, default `false`; `true` is refused with `SESSIONS_NOT_SUPPORTED`.
    pub combined_service_indicator: Option<bool>,
}

/// `_links` of a created consent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsentLinks {
    /// The authorization server's metadata (RFC 8414); authorize with scope
    /// `AIS:<consentId>` (AIS consents) or `PIIS:<consentId>`
    /// (confirmation-of-funds consents).
    #[serde(rename = "scaOAuth")]
    pub sca_oauth: Href,
    #[serde(rename = "self")]
    pub self_: Href,
    pub status: Href,
}

/// Berlin Group `consentsResponse-201`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsentCreated {
    pub consent_status: ConsentStatusCode,
    #[schema(example = "3f1c9d3e-2b7a-4c43-9a53-1f0e5f3b8c21")]
    pub consent_id: String,
    #[serde(rename = "_links")]
    pub links: ConsentLinks,
}

/// `_links` of a consent read back.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsentInformationLinks {
    #[serde(rename = "self")]
    pub self_: Href,
    pub status: Href,
    /// The account list, while the consent is `valid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<Href>,
}

/// Berlin Group `consentInformationResponse-200_json`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsentInformation {
    /// The access as the bank accepted it (normalized).
    pub access: AccountAccess,
    pub recurring_indicator: bool,
    /// As granted: possibly lowered from the requested date.
    #[schema(format = Date, example = "2026-08-29")]
    pub valid_until: String,
    pub frequency_per_day: u32,
    /// The day of the last status change.
    #[schema(format = Date, example = "2026-03-02")]
    pub last_action_date: String,
    pub consent_status: ConsentStatusCode,
    #[serde(rename = "_links")]
    pub links: ConsentInformationLinks,
}

/// Berlin Group `consentStatusResponse-200`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsentStatusResponse {
    pub consent_status: ConsentStatusCode,
}

fn self_href(state: &AppState, id: &ConsentId) -> String {
    format!("{}/v1/consents/{id}", state.mtls_base_url)
}

/// The `Idempotency-Key` (or UK `x-idempotency-key`) header, required.
pub(crate) fn idempotency_key(req: &HttpRequest) -> Result<IdempotencyKey, ApiError> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or_default())
    };
    let value = match (header(idempotency::HEADER), header(idempotency::UK_HEADER)) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::format(
                "Idempotency-Key and x-idempotency-key differ; send one of them.",
            )
            .with_path(idempotency::HEADER));
        }
        (Some(v), _) | (None, Some(v)) => v,
        (None, None) => {
            return Err(ApiError::format("The Idempotency-Key header is required.")
                .with_path(idempotency::HEADER));
        }
    };
    IdempotencyKey::parse(value)
        .map_err(|e| ApiError::format(e.to_string()).with_path(idempotency::HEADER))
}

/// The optional `PSU-IP-Address` header; when present it must be an IP address.
pub(crate) fn psu_ip_address(req: &HttpRequest) -> Result<Option<IpAddr>, ApiError> {
    req.headers()
        .get(PSU_IP_ADDRESS)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<IpAddr>().ok())
                .ok_or_else(|| {
                    ApiError::format("PSU-IP-Address must be an IPv4 or IPv6 address.")
                        .with_path("PSU-IP-Address")
                })
        })
        .transpose()
}

pub(crate) fn consent_id(raw: &str) -> Result<ConsentId, ApiError> {
    Ok(ConsentId::parse(raw)?)
}

fn service(state: &AppState) -> &ConsentService {
    &state.consents
}

/// Creates an AIS consent (`received`). The PSU then authorizes it through the
/// OAuth authorization-code flow with scope `AIS:<consentId>` at the server named
/// by `_links.scaOAuth`. Idempotent per `Idempotency-Key` for 24 hours: the same
/// key and body return the same consent (201, current status); the same key with
/// another body is 422.
#[utoipa::path(
    tag = TAG,
    security(("mtls" = [], "oauth2" = ["accounts"])),
    params(
        ("X-Request-ID" = uuid::Uuid, Header, description = "A UUID identifying this request; echoed."),
        ("Idempotency-Key" = String, Header, max_length = 40, description = "1 to 40 printable ASCII characters; `x-idempotency-key` is accepted too. Kept 24 hours per client."),
        ("PSU-IP-Address" = Option<String>, Header, description = "The PSU's IP address, if the PSU is present."),
    ),
    request_body(content = ConsentRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created (or replayed)", body = ConsentCreated,
            headers(("Location" = String, description = "The consent's URL (`_links.self.href`)"),
                    ("ASPSP-SCA-Approach" = String, description = "`REDIRECT` (OAuth)"))),
        (status = 400, description = "`FORMAT_ERROR` naming the field, or `SESSIONS_NOT_SUPPORTED`", body = TppErrorBody),
        (status = 401, description = "`TOKEN_INVALID`, `TOKEN_EXPIRED`", body = TppErrorBody),
        (status = 403, description = "The token lacks scope `accounts`", body = TppErrorBody),
        (status = 422, description = "`FORMAT_ERROR`: the Idempotency-Key was used with another body", body = TppErrorBody),
    )
)]
#[post("/v1/consents")]
pub async fn create_consent(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    bearer.require_client_scope(ClientScope::Accounts)?;
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

/// The 201 of a created (or replayed) consent of any kind: the body with its
/// links, `Location` and `ASPSP-SCA-Approach`.
pub(crate) fn created(
    state: &AppState,
    self_href: String,
    id: &ConsentId,
    status: ConsentStatus,
) -> HttpResponse {
    let body = ConsentCreated {
        consent_status: status.into(),
        consent_id: id.to_string(),
        links: ConsentLinks {
            sca_oauth: Href {
                href: format!("{}/.well-known/oauth-authorization-server", state.issuer),
            },
            status: Href {
                href: format!("{self_href}/status"),
            },
            self_: Href {
                href: self_href.clone(),
            },
        },
    };
    HttpResponse::Created()
        .insert_header((header::LOCATION, self_href))
        .insert_header((ASPSP_SCA_APPROACH, "REDIRECT"))
        .json(body)
}

/// Reads a consent of the calling TPP: the access as accepted, the granted
/// `validUntil` and `frequencyPerDay`, and the current status.
#[utoipa::path(
    tag = TAG,
    security(("mtls" = [], "oauth2" = ["accounts"])),
    params(
        ("consentId" = String, Path, description = "The id returned at creation."),
        ("X-Request-ID" = uuid::Uuid, Header, description = "A UUID identifying this request; echoed."),
    ),
    responses(
        (status = 200, body = ConsentInformation),
        (status = 401, description = "`TOKEN_INVALID`, `TOKEN_EXPIRED`", body = TppErrorBody),
        (status = 403, description = "`CONSENT_UNKNOWN` (unknown, or another TPP's)", body = TppErrorBody),
    )
)]
#[get("/v1/consents/{consentId}")]
pub async fn get_consent(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
) -> Result<web::Json<ConsentInformation>, ApiError> {
    bearer.require_client_scope(ClientScope::Accounts)?;
    let id = consent_id(&path)?;
    let consent = service(&state).get(&bearer.client.client_id, &id).await?;
    Ok(web::Json(information(&state, &consent)))
}

fn information(state: &AppState, c: &Consent) -> ConsentInformation {
    let self_href = self_href(state, &c.id);
    ConsentInformation {
        access: AccountAccess::from(&c.access),
        recurring_indicator: c.recurring,
        valid_until: c.valid_until.to_string(),
        frequency_per_day: c.frequency_per_day,
        last_action_date: c.last_action_date().to_string(),
        consent_status: c.status.into(),
        links: ConsentInformationLinks {
            status: Href {
                href: format!("{self_href}/status"),
            },
            self_: Href { href: self_href },
            account: (c.status == ConsentStatus::Valid).then(|| Href {
                href: format!("{}/v1/accounts", state.mtls_base_url),
            }),
        },
    }
}

/// The current status of a consent of the calling TPP.
#[utoipa::path(
    tag = TAG,
    security(("mtls" = [], "oauth2" = ["accounts"])),
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
#[get("/v1/consents/{consentId}/status")]
pub async fn get_consent_status(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
) -> Result<web::Json<ConsentStatusResponse>, ApiError> {
    bearer.require_client_scope(ClientScope::Accounts)?;
    let id = consent_id(&path)?;
    let consent = service(&state).get(&bearer.client.client_id, &id).await?;
    Ok(web::Json(ConsentStatusResponse {
        consent_status: consent.status.into(),
    }))
}

/// Terminates a consent of the calling TPP (`terminatedByTpp`). A consent that is
/// already finalised (rejected, revoked, expired, terminated) keeps its status,
/// and the answer is 204 all the same.
#[utoipa::path(
    tag = TAG,
    security(("mtls" = [], "oauth2" = ["accounts"])),
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
#[delete("/v1/consents/{consentId}")]
pub async fn delete_consent(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    bearer.require_client_scope(ClientScope::Accounts)?;
    let id = consent_id(&path)?;
    service(&state)
        .terminate(&bearer.client.client_id, &id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::ResponseError;

    #[test]
    fn consent_errors_map_to_berlin_group_codes() {
        let cases: Vec<(ConsentError, u16, &str)> = vec![
            (
                ConsentError::format("access.accounts[0].bban", "only IBAN"),
                400,
                "FORMAT_ERROR",
            ),
            (
                ConsentError::SessionsNotSupported,
                400,
                "SESSIONS_NOT_SUPPORTED",
            ),
            (ConsentError::IdempotencyConflict, 422, "FORMAT_ERROR"),
            (ConsentError::Unknown, 403, "CONSENT_UNKNOWN"),
            (
                ConsentError::Invalid(ConsentStatus::Received),
                401,
                "CONSENT_INVALID",
            ),
            (ConsentError::Expired, 401, "CONSENT_EXPIRED"),
            (
                ConsentError::StatusInvalid(ConsentStatus::Rejected),
                409,
                "STATUS_INVALID",
            ),
        ];
        for (error, status, code) in cases {
            let api = ApiError::from(error);
            assert_eq!(api.status_code().as_u16(), status, "{code}");
            assert_eq!(api.code, code);
        }
    }

    #[test]
    fn format_errors_name_the_field() {
        let api = ApiError::from(ConsentError::format(
            "validUntil",
            "must not lie in the past",
        ));
        assert_eq!(api.path.as_deref(), Some("validUntil"));
        assert!(api.text.contains("validUntil"));
    }

    #[test]
    fn statuses_use_the_standards_spelling() {
        for status in ConsentStatus::ALL {
            let wire = serde_json::to_value(ConsentStatusCode::from(status)).unwrap();
            assert_eq!(wire, serde_json::json!(status.as_str()));
        }
    }

    #[test]
    fn access_is_rendered_in_the_standards_shape() {
        let body = serde_json::json!({
            "transactions": [{"iban": "DE89370400440532013000", "currency": "EUR"}]
        });
        let access = AisAccess::parse(&body).unwrap();
        let wire = serde_json::to_value(AccountAccess::from(&access)).unwrap();
        assert_eq!(wire, access.to_value());
        let all = AisAccess::parse(&serde_json::json!({"allPsd2": "allAccounts"})).unwrap();
        assert_eq!(
            serde_json::to_value(AccountAccess::from(&all)).unwrap(),
            all.to_value()
        );
    }
}
