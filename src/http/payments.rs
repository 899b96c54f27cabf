//! `/v1/payments/{paymentProduct}`: Berlin Group payment initiation. The TPP
//! creates a payment with a client-credentials token (scope `payments`); the PSU
//! authorizes it through the OAuth flow (`scaOAuth` link, scope
//! `PIS:<paymentId>`); the gateway forwards it to the core exactly once.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::auth::Bearer;
use crate::http::consents::{Href, idempotency_key, psu_ip_address};
use crate::http::errors::{ApiError, TppErrorBody};
use crate::idempotency;
use crate::oauth::clients::ClientScope;
use crate::oauth::scope::TokenScope;
use crate::payments::{Payment, PaymentError, PaymentStatus, Product};

const TAG: &str = "Payment initiation";
const ASPSP_SCA_APPROACH: HeaderName = HeaderName::from_static("aspsp-sca-approach");

impl From<PaymentError> for ApiError {
    /// The Berlin Group code of each payment error, as adorsys XS2A maps them.
    fn from(e: PaymentError) -> ApiError {
        match e {
            PaymentError::Format { path, message } => {
                ApiError::format(format!("{path}: {message}")).with_path(path)
            }
            PaymentError::ExecutionDateInvalid(text) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "EXECUTION_DATE_INVALID",
                format!("requestedExecutionDate: {text}"),
            )
            .with_path("requestedExecutionDate"),
            PaymentError::ProductUnknown => ApiError::new(
                StatusCode::NOT_FOUND,
                "PRODUCT_UNKNOWN",
                "The payment product is not offered. Use sepa-credit-transfers, \
                 instant-sepa-credit-transfers or cross-border-credit-transfers.",
            ),
            PaymentError::Rejected => ApiError::new(
                StatusCode::BAD_REQUEST,
                "PAYMENT_FAILED",
                "The payment was rejected by the bank (transactionStatus RJCT).",
            ),
            PaymentError::IdempotencyConflict => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "FORMAT_ERROR",
                "The Idempotency-Key was already used in the last 24 hours with a different request body.",
            )
            .with_path(idempotency::HEADER),
            PaymentError::Contended | PaymentError::CoreUnavailable(_) => ApiError::unavailable(),
            PaymentError::Unknown => ApiError::new(
                StatusCode::NOT_FOUND,
                "RESOURCE_UNKNOWN",
                "The payment is unknown.",
            ),
            PaymentError::CancellationInvalid(status) => ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "CANCELLATION_INVALID",
                format!("The payment is {status}; it can no longer be cancelled."),
            ),
            PaymentError::Store(e) => ApiError::from(e),
        }
    }
}

/// ISO 20022 `transactionStatus` as Berlin Group reports it.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum TransactionStatus {
    RCVD,
    ACTC,
    ACSP,
    ACSC,
    PDNG,
    RJCT,
    CANC,
}

impl From<PaymentStatus> for TransactionStatus {
    fn from(s: PaymentStatus) -> Self {
        match s {
            PaymentStatus::Rcvd => TransactionStatus::RCVD,
            PaymentStatus::Actc => TransactionStatus::ACTC,
            PaymentStatus::Acsp => TransactionStatus::ACSP,
            PaymentStatus::Acsc => TransactionStatus::ACSC,
            PaymentStatus::Pdng => TransactionStatus::PDNG,
            PaymentStatus::Rjct => TransactionStatus::RJCT,
            PaymentStatus::Canc => TransactionStatus::CANC,
        }
    }
}

/// Berlin Group `amount`: the amount is a decimal **string** (a JSON number is
/// refused) with at most the currency's minor units.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Amount {
    #[schema(example = "EUR")]
    pub currency: String,
    #[schema(example = "123.50", pattern = "^[0-9]{1,14}(\\.[0-9]{1,3})?$")]
    pub amount: String,
}

/// Berlin Group `accountReference` (IBAN only).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IbanReference {
    #[schema(example = "DE89370400440532013000")]
    pub iban: String,
}

/// Berlin Group `paymentInitiation_json` for the three credit-transfer products.
/// Fields outside this schema are refused with `FORMAT_ERROR` naming them.
#[derive(Debug, Clone, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // Documents the body; it is parsed by `payments::PaymentRequest`.
pub struct PaymentInitiation {
    pub instructed_amount: Amount,
    pub debtor_account: IbanReference,
    pub creditor_account: IbanReference,
    /// At most 70 characters.
    #[schema(max_length = 70, example = "Merchant GmbH")]
    pub creditor_name: String,
    /// Optional BIC of the creditor's bank.
    #[schema(example = "COBADEFFXXX")]
    pub creditor_agent: Option<String>,
    /// At most 140 characters.
    #[schema(max_length = 140, example = "Invoice 42")]
    pub remittance_information_unstructured: Option<String>,
    /// At most 35 characters.
    #[schema(max_length = 35)]
    pub end_to_end_identification: Option<String>,
    /// Only today (or absent): future-dated payments are refused with
    /// `EXECUTION_DATE_INVALID`.
    #[schema(format = Date)]
    pub requested_execution_date: Option<String>,
}

/// `_links` of an initiated payment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentLinks {
    /// The authorization server's metadata (RFC 8414); authorize with scope
    /// `PIS:<paymentId>`.
    #[serde(rename = "scaOAuth")]
    pub sca_oauth: Href,
    #[serde(rename = "self")]
    pub self_: Href,
    pub status: Href,
}

/// Berlin Group `paymentInitationRequestResponse-201`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentInitiated {
    pub transaction_status: TransactionStatus,
    #[schema(example = "3f1c9d3e-2b7a-4c43-9a53-1f0e5f3b8c21")]
    pub payment_id: String,
    #[serde(rename = "_links")]
    pub links: PaymentLinks,
}

/// Berlin Group `paymentInitiationWithStatusResponse`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentInformation {
    pub debtor_account: IbanReference,
    pub instructed_amount: Amount,
    pub creditor_account: IbanReference,
    pub creditor_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remittance_information_unstructured: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_to_end_identification: Option<String>,
    pub transaction_status: TransactionStatus,
}

/// Berlin Group `paymentInitiationStatusResponse-200_json`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentStatusResponse {
    pub transaction_status: TransactionStatus,
}

fn product(raw: &str) -> Result<Product, ApiError> {
    Product::parse(raw).ok_or_else(|| PaymentError::ProductUnknown.into())
}

fn self_href(state: &AppState, p: &Payment) -> String {
    format!("{}/v1/payments/{}/{}", state.mtls_base_url, p.product, p.id)
}

/// A `payments` client token, or the PSU's `PIS:<paymentId>` token for this payment.
fn may_read(bearer: &Bearer, payment_id: &str) -> Result<(), ApiError> {
    match &bearer.scope {
        TokenScope::Pis(id) if id == payment_id => Ok(()),
        TokenScope::Pis(_) => Err(PaymentError::Unknown.into()),
        _ => bearer.require_client_scope(ClientScope::Payments),
    }
}

/// Initiates a payment (`RCVD`). The PSU then authorizes it through the OAuth
/// authorization-code flow with scope `PIS:<paymentId>` at the server named by
/// `_links.scaOAuth`; the risk engine decides whether a one-time code is needed.
/// A payment the risk engine refuses is kept as `RJCT` and answered with
/// `PAYMENT_FAILED`. Idempotent per `Idempotency-Key` for 24 hours.
#[utoipa::path(
    tag = TAG,
    security(("mtls" = [], "oauth2" = ["payments"])),
    params(
        ("paymentProduct" = String, Path, description = "`sepa-credit-transfers`, `instant-sepa-credit-transfers` or `cross-border-credit-transfers`"),
        ("X-Request-ID" = uuid::Uuid, Header, description = "A UUID identifying this request; echoed."),
        ("Idempotency-Key" = String, Header, max_length = 40, description = "1 to 40 printable ASCII characters; `x-idempotency-key` is accepted too. Kept 24 hours per client."),
        ("PSU-IP-Address" = String, Header, description = "The PSU's IP address (required)."),
    ),
    request_body(content = PaymentInitiation, content_type = "application/json"),
    responses(
        (status = 201, description = "Created (or replayed)", body = PaymentInitiated,
            headers(("Location" = String, description = "The payment's URL (`_links.self.href`)"),
                    ("ASPSP-SCA-Approach" = String, description = "`REDIRECT` (OAuth)"))),
        (status = 400, description = "`FORMAT_ERROR` naming the field, `EXECUTION_DATE_INVALID`, or `PAYMENT_FAILED` (rejected; kept as `RJCT`)", body = TppErrorBody),
        (status = 401, description = "`TOKEN_INVALID`, `TOKEN_EXPIRED`", body = TppErrorBody),
        (status = 403, description = "The token lacks scope `payments`", body = TppErrorBody),
        (status = 404, description = "`PRODUCT_UNKNOWN`", body = TppErrorBody),
        (status = 422, description = "`FORMAT_ERROR`: the Idempotency-Key was used with another body", body = TppErrorBody),
    )
)]
#[post("/v1/payments/{paymentProduct}")]
pub async fn initiate_payment(
    req: HttpRequest,
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    bearer.require_client_scope(ClientScope::Payments)?;
    let product = product(&path)?;
    let key = idempotency_key(&req)?;
    let psu_ip = psu_ip_address(&req)?.ok_or_else(|| {
        ApiError::format("The PSU-IP-Address header is required for payments.")
            .with_path("PSU-IP-Address")
    })?;
    let payment = state
        .payments
        .initiate(
            &bearer.client.client_id,
            &key,
            product,
            &body,
            Some(psu_ip.to_string()),
        )
        .await?;
    let self_href = self_href(&state, &payment);
    let created = PaymentInitiated {
        transaction_status: payment.status.into(),
        payment_id: payment.id.to_string(),
        links: PaymentLinks {
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
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, self_href))
        .insert_header((ASPSP_SCA_APPROACH, "REDIRECT"))
        .json(created))
}

/// Reads a payment of the calling TPP with its current status.
#[utoipa::path(
    tag = TAG,
    security(("mtls" = [], "oauth2" = ["payments"])),
    params(
        ("paymentProduct" = String, Path, description = "The product the payment was initiated with."),
        ("paymentId" = String, Path, description = "The id returned at initiation."),
        ("X-Request-ID" = uuid::Uuid, Header, description = "A UUID identifying this request; echoed."),
    ),
    responses(
        (status = 200, body = PaymentInformation),
        (status = 401, description = "`TOKEN_INVALID`, `TOKEN_EXPIRED`", body = TppErrorBody),
        (status = 404, description = "`RESOURCE_UNKNOWN` (unknown, another TPP's, or another product's), `PRODUCT_UNKNOWN`", body = TppErrorBody),
    )
)]
#[get("/v1/payments/{paymentProduct}/{paymentId}")]
pub async fn get_payment(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<(String, String)>,
) -> Result<web::Json<PaymentInformation>, ApiError> {
    let (product_raw, id) = path.into_inner();
    let product = product(&product_raw)?;
    may_read(&bearer, &id)?;
    let p = state
        .payments
        .get(&bearer.client.client_id, product, &id)
        .await?;
    Ok(web::Json(PaymentInformation {
        debtor_account: IbanReference {
            iban: p.debtor.as_str().to_owned(),
        },
        instructed_amount: Amount {
            currency: p.amount.currency().as_str().to_owned(),
            amount: p.amount.amount_string(),
        },
        creditor_account: IbanReference {
            iban: p.creditor.as_str().to_owned(),
        },
        creditor_name: p.creditor_name,
        remittance_information_unstructured: p.remittance,
        end_to_end_identification: p.end_to_end_id,
        transaction_status: p.status.into(),
    }))
}

/// The current status of a payment of the calling TPP.
#[utoipa::path(
    tag = TAG,
    security(("mtls" = [], "oauth2" = ["payments"])),
    params(
        ("paymentProduct" = String, Path, description = "The product the payment was initiated with."),
        ("paymentId" = String, Path, description = "The id returned at initiation."),
        ("X-Request-ID" = uuid::Uuid, Header, description = "A UUID identifying this request; echoed."),
    ),
    responses(
        (status = 200, body = PaymentStatusResponse),
        (status = 401, description = "`TOKEN_INVALID`, `TOKEN_EXPIRED`", body = TppErrorBody),
        (status = 404, description = "`RESOURCE_UNKNOWN`, `PRODUCT_UNKNOWN`", body = TppErrorBody),
    )
)]
#[get("/v1/payments/{paymentProduct}/{paymentId}/status")]
pub async fn get_payment_status(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<(String, String)>,
) -> Result<web::Json<PaymentStatusResponse>, ApiError> {
    let (product_raw, id) = path.into_inner();
    let product = product(&product_raw)?;
    may_read(&bearer, &id)?;
    let p = state
        .payments
        .get(&bearer.client.client_id, product, &id)
        .await?;
    Ok(web::Json(PaymentStatusResponse {
        transaction_status: p.status.into(),
    }))
}

/// Cancels a payment of the calling TPP (`CANC`) while it is `RCVD`, or `ACTC`
/// and not yet claimed for forwarding to the core; otherwise 405
/// `CANCELLATION_INVALID`. No authorization of the cancellation is needed.
#[utoipa::path(
    tag = TAG,
    security(("mtls" = [], "oauth2" = ["payments"])),
    params(
        ("paymentProduct" = String, Path, description = "The product the payment was initiated with."),
        ("paymentId" = String, Path, description = "The id returned at initiation."),
        ("X-Request-ID" = uuid::Uuid, Header, description = "A UUID identifying this request; echoed."),
    ),
    responses(
        (status = 204, description = "Cancelled"),
        (status = 401, description = "`TOKEN_INVALID`, `TOKEN_EXPIRED`", body = TppErrorBody),
        (status = 404, description = "`RESOURCE_UNKNOWN`, `PRODUCT_UNKNOWN`", body = TppErrorBody),
        (status = 405, description = "`CANCELLATION_INVALID`: already forwarded, executed, rejected or cancelled", body = TppErrorBody),
    )
)]
#[delete("/v1/payments/{paymentProduct}/{paymentId}")]
pub async fn cancel_payment(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    bearer.require_client_scope(ClientScope::Payments)?;
    let (product_raw, id) = path.into_inner();
    let product = product(&product_raw)?;
    state
        .payments
        .cancel(&bearer.client.client_id, product, &id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::ResponseError;

    #[test]
    fn payment_errors_map_to_berlin_group_codes() {
        let cases: Vec<(PaymentError, u16, &str)> = vec![
            (
                PaymentError::format("creditorName", "is required"),
                400,
                "FORMAT_ERROR",
            ),
            (
                PaymentError::ExecutionDateInvalid("x".into()),
                400,
                "EXECUTION_DATE_INVALID",
            ),
            (PaymentError::ProductUnknown, 404, "PRODUCT_UNKNOWN"),
            (PaymentError::Rejected, 400, "PAYMENT_FAILED"),
            (PaymentError::IdempotencyConflict, 422, "FORMAT_ERROR"),
            (PaymentError::Unknown, 404, "RESOURCE_UNKNOWN"),
            (
                PaymentError::CancellationInvalid(PaymentStatus::Acsc),
                405,
                "CANCELLATION_INVALID",
            ),
        ];
        for (error, status, code) in cases {
            let api = ApiError::from(error);
            assert_eq!(api.status_code().as_u16(), status, "{code}");
            assert_eq!(api.code, code);
        }
    }

    #[test]
    fn statuses_use_the_iso_20022_codes() {
        for s in PaymentStatus::ALL {
            let wire = serde_json::to_value(TransactionStatus::from(s)).unwrap();
            assert_eq!(wire, serde_json::json!(s.as_str()));
        }
    }
}
