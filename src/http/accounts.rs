//! Account information (`/v1/accounts`), read through the core adapter and only
//! within the PSU's consent.

use actix_web::{HttpRequest, get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::consent::{AccessKind, Consent, ConsentId};
use crate::core::{Account, AccountStatus};
use crate::http::AppState;
use crate::http::auth::Bearer;
use crate::http::consents::Href;
use crate::http::errors::ApiError;

/// The consent a request may read under: the `Consent-ID` header must name the
/// consent the PSU token was issued for, and it must be valid now.
pub async fn consent_for(
    req: &HttpRequest,
    bearer: &Bearer,
    state: &AppState,
) -> Result<Consent, ApiError> {
    let header = req
        .headers()
        .get("consent-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::format("The Consent-ID header is required.").with_path("Consent-ID")
        })?;
    let token_consent = bearer.require_ais()?;
    if header != token_consent {
        return Err(ApiError::unauthorized(
            "CONSENT_INVALID",
            "The access token was not issued for this consent.",
        ));
    }
    let id = ConsentId::parse(header)?;
    Ok(state
        .consents
        .access_check(&bearer.client.client_id, &id, state.clock.now())
        .await?)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountLinks {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balances: Option<Href>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transactions: Option<Href>,
}

/// Berlin Group `accountDetails`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountDetails {
    /// The account's opaque id for `/v1/accounts/{accountId}` (never the IBAN).
    pub resource_id: String,
    pub iban: String,
    pub currency: String,
    pub name: String,
    pub product: String,
    pub cash_account_type: String,
    /// `enabled`, `blocked` or `deleted`.
    pub status: &'static str,
    #[serde(rename = "_links")]
    pub links: AccountLinks,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountList {
    pub accounts: Vec<AccountDetails>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct AccountListQuery {
    /// Not supported yet: balances are read per account.
    #[serde(default)]
    pub with_balance: Option<bool>,
}

fn details(account: Account, consent: &Consent) -> AccountDetails {
    let granted = consent.granted.clone().unwrap_or_default();
    let id = account.id.clone();
    AccountDetails {
        links: AccountLinks {
            balances: granted.allows(AccessKind::Balances, &id).then(|| Href {
                href: format!("/v1/accounts/{id}/balances"),
            }),
            transactions: granted.allows(AccessKind::Transactions, &id).then(|| Href {
                href: format!("/v1/accounts/{id}/transactions"),
            }),
        },
        resource_id: account.id.0,
        iban: account.iban.as_str().to_owned(),
        currency: account.currency.as_str().to_owned(),
        name: account.name,
        product: account.product,
        cash_account_type: account.cash_account_type,
        status: match account.status {
            AccountStatus::Enabled => "enabled",
            AccountStatus::Blocked => "blocked",
            AccountStatus::Deleted => "deleted",
        },
    }
}

/// The accounts the consent grants access to.
#[utoipa::path(
    tag = "Account information",
    security(("mtls" = []), ("oauth2" = ["AIS:<consentId>"])),
    params(
        AccountListQuery,
        ("X-Request-ID" = String, Header, description = "UUID of this request"),
        ("Consent-ID" = String, Header, description = "The AIS consent the token was issued for"),
        ("PSU-IP-Address" = Option<String>, Header, description = "Present when the PSU is actively using the TPP")
    ),
    responses(
        (status = 200, body = AccountList),
        (status = 400, body = crate::http::errors::TppErrorBody, description = "FORMAT_ERROR"),
        (status = 401, body = crate::http::errors::TppErrorBody, description = "TOKEN_INVALID, TOKEN_EXPIRED, CONSENT_INVALID, CONSENT_EXPIRED"),
        (status = 403, body = crate::http::errors::TppErrorBody, description = "CONSENT_UNKNOWN")
    )
)]
#[get("/v1/accounts")]
pub async fn list_accounts(
    req: HttpRequest,
    bearer: Bearer,
    _query: web::Query<AccountListQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<AccountList>, ApiError> {
    let consent = consent_for(&req, &bearer, &state).await?;
    let granted = consent.granted.clone().unwrap_or_default();
    let mut accounts = Vec::with_capacity(granted.accounts.len());
    for id in &granted.accounts {
        let account = state.core.account(id).await.map_err(|e| {
            tracing::warn!(error.cause = %e, "core unavailable");
            ApiError::unavailable()
        })?;
        if let Some(account) = account {
            accounts.push(details(account, &consent));
        }
    }
    Ok(web::Json(AccountList { accounts }))
}
