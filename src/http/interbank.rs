//! `POST /interbank/v1/credits` on the mTLS listener: a peer bank credits one of
//! this bank's customers (`crate::interbank`). The caller is a registered client
//! with scope `interbank`, identified by its certificate alone; there is no token.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::auth::identify_client;
use crate::http::errors::{ApiError, TppErrorBody, TppMessage};
use crate::http::payments::Amount;
use crate::interbank::{CreditAnswer, InterbankError, reason_code, refusal_text};
use crate::oauth::clients::Client;

const TAG: &str = "Interbank";

impl From<InterbankError> for ApiError {
    fn from(e: InterbankError) -> ApiError {
        match e {
            InterbankError::Format { path, message } => {
                ApiError::format(format!("{path}: {message}")).with_path(path)
            }
            InterbankError::Conflict => ApiError::new(
                StatusCode::CONFLICT,
                "FORMAT_ERROR",
                "This paymentId was already used for a different credit.",
            )
            .with_path("paymentId"),
            InterbankError::Unsupported(_) => ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "SERVICE_INVALID",
                "This bank does not accept interbank credits.",
            ),
            InterbankError::CoreUnavailable(cause) => {
                tracing::warn!(error.cause = %cause, "interbank credit: core unavailable");
                ApiError::unavailable()
            }
            InterbankError::Store(e) => ApiError::from(e),
        }
    }
}

/// The calling peer bank: a registered, active client with scope `interbank`.
#[derive(Debug, Clone)]
pub struct PeerBank(pub Client);

async fn peer_bank(req: HttpRequest) -> Result<PeerBank, ApiError> {
    let tpp = identify_client(&req).await??;
    if !tpp.client.is_peer_bank() {
        // Deliberately 403: the certificate is known, the peer-bank role is not
        // registered for it.
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "ROLE_INVALID",
            "The client certificate is not registered for a peer bank (scope interbank).",
        ));
    }
    Ok(PeerBank(tpp.client))
}

impl FromRequest for PeerBank {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<PeerBank, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        Box::pin(peer_bank(req.clone()))
    }
}

/// An account holder at one of the two banks.
#[derive(Debug, Clone, ToSchema)]
#[allow(dead_code)] // Documents the body; it is parsed by `interbank::Credit`.
pub struct Party {
    #[schema(example = "DE89370400440532013000")]
    pub iban: String,
    /// At most 70 characters; required for the creditor, optional for the debtor.
    #[schema(max_length = 70, example = "Alice Example")]
    pub name: Option<String>,
}

/// A credit transfer from a customer of the calling bank to a customer of this
/// bank. Fields outside this schema are refused with `FORMAT_ERROR` naming them.
#[derive(Debug, Clone, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // Documents the body; it is parsed by `interbank::Credit`.
pub struct InterbankCredit {
    /// The calling bank's payment id (1 to 64 of `A-Z a-z 0-9 - _ .`): with the
    /// calling bank, the idempotency key.
    #[schema(example = "3f1c9d3e-2b7a-4c43-9a53-1f0e5f3b8c21")]
    pub payment_id: String,
    pub debtor: Party,
    pub creditor: Party,
    pub instructed_amount: Amount,
    /// At most 140 characters.
    #[schema(max_length = 140, example = "Invoice 42")]
    pub remittance_information_unstructured: Option<String>,
}

/// `201`: the creditor's account is credited.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreditAccepted {
    #[schema(example = "ACSC")]
    pub status: &'static str,
    /// This bank's booking of the credit.
    pub credit_id: String,
}

/// `422`: refused for good; a replay gets the same refusal.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreditRefused {
    #[schema(example = "RJCT")]
    pub status: &'static str,
    /// ISO 20022 status reason: `AC03` (no such account here), `AC04` (closed),
    /// `AC06` (blocked), `AM03` (other currency), `MS03` (other).
    #[schema(example = "AC03")]
    pub reason: &'static str,
    pub tpp_messages: Vec<TppMessage>,
}

/// Credits one of this bank's accounts on behalf of a peer bank, whose customer
/// the peer has already debited. Idempotent on (calling bank, `paymentId`): a
/// replay gets the first answer, accepted or refused, and never credits twice, so
/// a caller that saw no answer asks again with the same body.
#[utoipa::path(
    tag = TAG,
    security(("mtls" = [])),
    params(
        ("X-Request-ID" = Option<uuid::Uuid>, Header, description = "A UUID identifying this request; echoed (generated when absent)."),
    ),
    request_body(content = InterbankCredit, content_type = "application/json"),
    responses(
        (status = 201, description = "Credited (or replayed)", body = CreditAccepted),
        (status = 400, description = "`FORMAT_ERROR` naming the field", body = TppErrorBody),
        (status = 401, description = "`CERTIFICATE_INVALID` (not registered), `CERTIFICATE_BLOCKED` (disabled)", body = TppErrorBody),
        (status = 403, description = "`ROLE_INVALID`: the client is not a peer bank (scope `interbank`)", body = TppErrorBody),
        (status = 409, description = "`FORMAT_ERROR`: the `paymentId` was already used for a different credit", body = TppErrorBody),
        (status = 422, description = "Refused (`RJCT`) with an ISO 20022 reason", body = CreditRefused),
        (status = 501, description = "`SERVICE_INVALID`: this bank's core does not take interbank credits", body = TppErrorBody),
        (status = 503, description = "`SERVICE_UNAVAILABLE`: ask again later", body = TppErrorBody),
    )
)]
#[post("/interbank/v1/credits")]
pub async fn receive_credit(
    peer: PeerBank,
    state: web::Data<AppState>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let answer = state.interbank.receive(&peer.0.client_id, &body).await?;
    Ok(match answer {
        CreditAnswer::Accepted { credit_id } => HttpResponse::Created().json(CreditAccepted {
            status: "ACSC",
            credit_id,
        }),
        CreditAnswer::Refused { reason } => {
            HttpResponse::UnprocessableEntity().json(CreditRefused {
                status: "RJCT",
                reason: reason_code(reason),
                tpp_messages: vec![TppMessage {
                    category: "ERROR",
                    code: "PAYMENT_FAILED",
                    path: Some("creditor".into()),
                    text: refusal_text(reason).into(),
                }],
            })
        }
    })
}
