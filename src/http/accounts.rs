//! Account information (`/v1/accounts…`), read through the core adapter and only
//! within the PSU's consent.
//!
//! Every handler takes the same three steps:
//! 1. [`authorize`] — the one place that decides whether this request may read
//!    this account now: a live token bound to the presenting certificate (the
//!    [`Bearer`] extractor), the `Consent-ID` the token was issued for, `valid`
//!    and the caller's ([`consent_for`]), the account granted **for the access
//!    kind of the endpoint** (never by a consent for the account list only:
//!    `availableAccounts`, `availableAccountsWithBalance`), and a
//!    `frequencyPerDay` counter not yet spent;
//! 2. read the core (a failing core is 503 and nothing is counted);
//! 3. [`Permit::settle`] — count the read, atomically; only then is it served.
//!
//! Any account id outside the consent, whether it exists or not, is the same
//! 401 `CONSENT_INVALID`, decided before the core is asked anything.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, get, web};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, Duration};
use utoipa::{IntoParams, ToSchema};

use crate::consent::{
    AccessKind, Admission, AisAccess, AisEndpoint, AisRead, Charge, Consent, ConsentId,
    FrequencyError, FrequencyLimiter, ListingPage,
};
use crate::core::{
    Account, AccountId, AccountStatus, Balance, BookingStatus, CoreError, Transaction,
    TransactionId, TransactionPage, TransactionQuery,
};
use crate::domain::Money;
use crate::http::AppState;
use crate::http::auth::Bearer;
use crate::http::consents::psu_ip_address;
use crate::http::consents::{AccountReferenceBody, Href};
use crate::http::errors::{ApiError, TppErrorBody};

const TAG: &str = "Account information";
/// How far back `dateFrom` reaches when the TPP does not say.
const DEFAULT_PERIOD: Duration = Duration::days(90);
const DEFAULT_ITEMS_PER_PAGE: u32 = 100;
const MAX_ITEMS_PER_PAGE: u32 = 1000;

// ---------------------------------------------------------------------------
// Policy: may this request read this account now?
// ---------------------------------------------------------------------------

/// The consent a request may read under: the `Consent-ID` header must name the
/// consent the PSU token was issued for, and it must be valid now.
pub async fn consent_for(
    req: &HttpRequest,
    bearer: &Bearer,
    state: &AppState,
) -> Result<Consent, ApiError> {
    let header = consent_id_header(req)?;
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

/// The `Consent-ID` header, required.
pub(crate) fn consent_id_header(req: &HttpRequest) -> Result<&str, ApiError> {
    req.headers()
        .get("consent-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::format("The Consent-ID header is required.").with_path("Consent-ID")
        })
}

/// A read the consent allows now, and how it counts against `frequencyPerDay`.
#[derive(Debug)]
pub struct Permit {
    pub consent: Consent,
    read: AisRead,
    admission: Admission,
}

/// Decides whether the request may read `account` (or, for `None`, the account
/// list) through `endpoint`; see the module documentation. `page` identifies the
/// page of a transaction listing, whose further pages are not counted again.
pub async fn authorize(
    req: &HttpRequest,
    bearer: &Bearer,
    state: &AppState,
    endpoint: AisEndpoint,
    account: Option<&AccountId>,
    page: Option<ListingPage>,
) -> Result<Permit, ApiError> {
    let psu_present = psu_ip_address(req)?.is_some();
    let consent = consent_for(req, bearer, state).await?;
    if let Some(account) = account {
        let kind = endpoint.access_kind();
        if !reads_account(&consent, kind, account) {
            return Err(outside_consent(kind));
        }
    }
    let read = AisRead {
        consent: consent.id.clone(),
        endpoint,
        account: account.cloned(),
        page,
        charge: Charge::of(&consent, psu_present),
    };
    let admission = limiter(state)
        .check(&read, state.clock.now())
        .await
        .map_err(frequency_error)?;
    Ok(Permit {
        consent,
        read,
        admission,
    })
}

/// Whether `consent` lets the TPP read `account` through an endpoint of the
/// account itself (details, balances, transactions) needing `kind` access.
///
/// Berlin Group: `availableAccounts` and `availableAccountsWithBalance` grant
/// the account list only (with balances in it for the latter), never an
/// account's own endpoints, whatever ids the PSU picked for the list.
fn reads_account(consent: &Consent, kind: AccessKind, account: &AccountId) -> bool {
    let list_only = matches!(
        consent.access,
        AisAccess::AvailableAccounts(_) | AisAccess::AvailableAccountsWithBalance(_)
    );
    !list_only
        && consent
            .granted
            .as_ref()
            .is_some_and(|g| g.allows(kind, account))
}

impl Permit {
    /// Counts the read once the core has answered; the response may be served
    /// only if this succeeds.
    pub async fn settle(&self, state: &AppState) -> Result<(), ApiError> {
        limiter(state)
            .record(&self.read, self.admission, state.clock.now())
            .await
            .map_err(frequency_error)
    }

    /// Whether the consent granted `kind` for `account` (for the list, the
    /// balances shown in it).
    fn allows(&self, kind: AccessKind, account: &AccountId) -> bool {
        self.consent
            .granted
            .as_ref()
            .is_some_and(|g| g.allows(kind, account))
    }

    /// Whether the account's own `kind` endpoint may be read: what `_links`
    /// point to.
    fn reads(&self, kind: AccessKind, account: &AccountId) -> bool {
        reads_account(&self.consent, kind, account)
    }
}

fn limiter(state: &AppState) -> FrequencyLimiter {
    FrequencyLimiter::new(state.store.clone())
}

/// The same answer for every account id outside the consent, existing or not.
fn outside_consent(kind: AccessKind) -> ApiError {
    let what = match kind {
        AccessKind::Accounts => "account",
        AccessKind::Balances => "balance",
        AccessKind::Transactions => "transaction",
    };
    ApiError::unauthorized(
        "CONSENT_INVALID",
        format!("The consent does not grant {what} access to this account."),
    )
}

fn frequency_error(e: FrequencyError) -> ApiError {
    match e {
        FrequencyError::Exceeded { retry_after } => ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "ACCESS_EXCEEDED",
                "The consent's frequencyPerDay for this endpoint and account is used up \
                 until 00:00 UTC.",
            )
        },
        FrequencyError::Store(e) => ApiError::from(e),
    }
}

pub(crate) fn core_failed(e: CoreError) -> ApiError {
    tracing::warn!(error.cause = %e, "core banking call failed");
    ApiError::unavailable()
}

async fn account_or_404(state: &AppState, id: &AccountId) -> Result<Account, ApiError> {
    state
        .core
        .account(id)
        .await
        .map_err(core_failed)?
        .ok_or_else(ApiError::not_found)
}

/// The account's balances if `with_balance` and the consent grants them.
async fn balances_if(
    with_balance: bool,
    permit: &Permit,
    state: &AppState,
    id: &AccountId,
) -> Result<Option<Vec<BalanceBody>>, ApiError> {
    if !with_balance || !permit.allows(AccessKind::Balances, id) {
        return Ok(None);
    }
    let balances = state.core.balances(id).await.map_err(core_failed)?;
    Ok(Some(balances.into_iter().map(BalanceBody::from).collect()))
}

// ---------------------------------------------------------------------------
// Wire types (Berlin Group 1.3.11)
// ---------------------------------------------------------------------------

/// Berlin Group `amount`: the value is a decimal string, never a number.
#[derive(Debug, Serialize, ToSchema)]
pub struct AmountBody {
    #[schema(example = "EUR")]
    pub currency: String,
    #[schema(example = "-12.50")]
    pub amount: String,
}

impl From<Money> for AmountBody {
    fn from(m: Money) -> Self {
        AmountBody {
            currency: m.currency().as_str().to_owned(),
            amount: m.amount_string(),
        }
    }
}

/// Berlin Group `balance`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BalanceBody {
    pub balance_amount: AmountBody,
    /// `closingBooked`, `expected` or `interimAvailable`.
    #[schema(example = "closingBooked")]
    pub balance_type: &'static str,
    #[schema(format = Date, example = "2026-11-28")]
    pub reference_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime, example = "2026-11-28T09:30:00Z")]
    pub last_change_date_time: Option<String>,
}

impl From<Balance> for BalanceBody {
    fn from(b: Balance) -> Self {
        BalanceBody {
            balance_amount: b.amount.into(),
            balance_type: b.kind.as_str(),
            reference_date: b.reference_date.to_string(),
            last_change_date_time: b.last_change.and_then(|t| t.format(&Rfc3339).ok()),
        }
    }
}

/// Berlin Group `_linksAccountDetails`: present only for what the consent grants.
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
    /// With `withBalance=true`, if the consent grants balances for the account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balances: Option<Vec<BalanceBody>>,
    #[serde(rename = "_links")]
    pub links: AccountLinks,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountList {
    pub accounts: Vec<AccountDetails>,
}

/// The body of `GET /v1/accounts/{accountId}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountDetailsResponse {
    pub account: AccountDetails,
}

/// Berlin Group `readAccountBalanceResponse-200`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalancesResponse {
    pub account: AccountReferenceBody,
    pub balances: Vec<BalanceBody>,
}

/// Berlin Group `_linksTransactionDetails`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionLinks {
    pub transaction_details: Href,
}

/// Berlin Group `transactions` (one transaction's details). A debit names the
/// creditor, a credit the debtor.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionBody {
    pub transaction_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_to_end_id: Option<String>,
    /// Only for booked transactions.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Date, example = "2026-11-27")]
    pub booking_date: Option<String>,
    #[schema(format = Date, example = "2026-11-27")]
    pub value_date: String,
    /// Signed from the account's point of view: negative is a debit.
    pub transaction_amount: AmountBody,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creditor_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creditor_account: Option<AccountReferenceBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debtor_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debtor_account: Option<AccountReferenceBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remittance_information_unstructured: Option<String>,
    #[serde(rename = "_links")]
    pub links: TransactionLinks,
}

/// Berlin Group `_linksAccountReport`. Page links carry every query parameter of
/// the listing (dates resolved), so following them reads the same listing.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportLinks {
    pub account: Href,
    pub first: Href,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<Href>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<Href>,
}

/// Berlin Group `accountReport`: `booked` for `booked` and `both`, `pending` for
/// `pending` and `both`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booked: Option<Vec<TransactionBody>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<Vec<TransactionBody>>,
    #[serde(rename = "_links")]
    pub links: ReportLinks,
}

/// Berlin Group `transactionsResponse-200_json`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionsResponse {
    pub account: AccountReferenceBody,
    pub transactions: AccountReport,
    /// With `withBalance=true`, if the consent grants balances for the account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balances: Option<Vec<BalanceBody>>,
}

/// The body of `GET /v1/accounts/{accountId}/transactions/{transactionId}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionDetailsResponse {
    pub transactions_details: TransactionBody,
}

fn account_url(state: &AppState, id: &AccountId) -> String {
    format!("{}/v1/accounts/{id}", state.mtls_base_url)
}

fn reference(account: &Account) -> AccountReferenceBody {
    AccountReferenceBody {
        iban: account.iban.as_str().to_owned(),
        currency: Some(account.currency.as_str().to_owned()),
    }
}

fn details(
    account: Account,
    permit: &Permit,
    state: &AppState,
    balances: Option<Vec<BalanceBody>>,
) -> AccountDetails {
    let id = account.id.clone();
    let link = |kind, path: &str| {
        permit.reads(kind, &id).then(|| Href {
            href: format!("{}/{path}", account_url(state, &id)),
        })
    };
    AccountDetails {
        links: AccountLinks {
            balances: link(AccessKind::Balances, "balances"),
            transactions: link(AccessKind::Transactions, "transactions"),
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
        balances,
    }
}

fn transaction_body(t: Transaction, account_url: &str) -> TransactionBody {
    let debit = t.amount.minor_units() < 0;
    let name = Some(t.counterparty_name).filter(|n| !n.is_empty());
    let party = t.counterparty_iban.map(|iban| AccountReferenceBody {
        iban: iban.as_str().to_owned(),
        currency: None,
    });
    let (creditor, debtor) = if debit {
        ((name, party), (None, None))
    } else {
        ((None, None), (name, party))
    };
    TransactionBody {
        links: TransactionLinks {
            transaction_details: Href {
                href: format!("{account_url}/transactions/{}", t.id),
            },
        },
        transaction_id: t.id.0,
        end_to_end_id: t.end_to_end_id,
        booking_date: t.booked.then(|| t.booking_date.to_string()),
        value_date: t.value_date.to_string(),
        transaction_amount: t.amount.into(),
        creditor_name: creditor.0,
        creditor_account: creditor.1,
        debtor_name: debtor.0,
        debtor_account: debtor.1,
        remittance_information_unstructured: Some(t.remittance).filter(|r| !r.is_empty()),
    }
}

// ---------------------------------------------------------------------------
// The transaction-list query
// ---------------------------------------------------------------------------

/// The `bookingStatus` values this bank serves.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // Documents the parameter; parsing is in `TransactionListing`.
pub enum BookingStatusParam {
    Booked,
    Pending,
    Both,
}

/// The request headers every AIS read carries (documentation only: the handlers
/// read them through `Bearer`, `consent_for` and `psu_ip_address`).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct AisHeaders {
    /// A UUID identifying this request; echoed.
    #[param(rename = "X-Request-ID")]
    x_request_id: uuid::Uuid,
    /// The AIS consent the token was issued for.
    #[param(rename = "Consent-ID")]
    consent_id: String,
    /// Present exactly when the PSU asked for this read; such reads do not count
    /// against a recurring consent's frequencyPerDay.
    #[param(rename = "PSU-IP-Address")]
    psu_ip_address: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AccountQuery {
    /// Include the account's balances, if the consent grants them.
    pub with_balance: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct TransactionListQuery {
    /// Required. `booked`, `pending` or `both` (`information` and `all` are not
    /// supported: 400 `PARAMETER_NOT_SUPPORTED`).
    #[param(value_type = BookingStatusParam, inline, required = true)]
    pub booking_status: Option<String>,
    /// First booking date, inclusive (UTC, `YYYY-MM-DD`). Default: 90 days before
    /// today.
    #[param(value_type = Option<String>, format = Date)]
    pub date_from: Option<String>,
    /// Last booking date, inclusive (UTC, `YYYY-MM-DD`). Default: today. Not
    /// before `dateFrom`.
    #[param(value_type = Option<String>, format = Date)]
    pub date_to: Option<String>,
    /// Transactions per page, 1 to 1000. Default: 100.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub items_per_page: Option<String>,
    /// The page, from 0. Follow `transactions._links.next` rather than building
    /// it: pages after the first of a listing already served today do not count
    /// against `frequencyPerDay` again.
    #[param(value_type = Option<u32>, minimum = 0)]
    pub page_index: Option<String>,
    /// Include the account's balances, if the consent grants them.
    #[param(value_type = Option<bool>)]
    pub with_balance: Option<String>,
    /// Delta reports are not supported (400 `PARAMETER_NOT_SUPPORTED`).
    #[param(value_type = Option<String>)]
    pub entry_reference_from: Option<String>,
    /// Delta reports are not supported (400 `PARAMETER_NOT_SUPPORTED`).
    #[param(value_type = Option<bool>)]
    pub delta_list: Option<String>,
}

/// A parsed, resolved transaction-list query.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TransactionListing {
    status: BookingStatus,
    date_from: Date,
    date_to: Date,
    items_per_page: u32,
    page_index: u32,
    with_balance: bool,
}

fn not_supported(param: &str, text: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "PARAMETER_NOT_SUPPORTED", text).with_path(param)
}

fn parse_date(param: &str, value: &str) -> Result<Date, ApiError> {
    Date::parse(value, format_description!("[year]-[month]-[day]")).map_err(|_| {
        ApiError::format(format!("{param} must be a date (YYYY-MM-DD).")).with_path(param)
    })
}

fn parse_number(param: &str, value: &str, min: u32, max: u32) -> Result<u32, ApiError> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            ApiError::format(format!("{param} must be an integer from {min} to {max}."))
                .with_path(param)
        })
}

impl TransactionListing {
    /// Parses the query; dates default relative to `today` (UTC).
    fn parse(q: &TransactionListQuery, today: Date) -> Result<TransactionListing, ApiError> {
        for (param, value) in [
            ("entryReferenceFrom", &q.entry_reference_from),
            ("deltaList", &q.delta_list),
        ] {
            if value.is_some() {
                return Err(not_supported(
                    param,
                    format!("{param}: delta reports are not supported by this bank."),
                ));
            }
        }
        let status = match q.booking_status.as_deref() {
            None => {
                return Err(
                    ApiError::format("bookingStatus is required.").with_path("bookingStatus")
                );
            }
            Some("booked") => BookingStatus::Booked,
            Some("pending") => BookingStatus::Pending,
            Some("both") => BookingStatus::Both,
            Some(other @ ("information" | "all")) => {
                return Err(not_supported(
                    "bookingStatus",
                    format!("bookingStatus '{other}' is not supported by this bank."),
                ));
            }
            Some(_) => {
                return Err(
                    ApiError::format("bookingStatus must be booked, pending or both.")
                        .with_path("bookingStatus"),
                );
            }
        };
        let date_from = match &q.date_from {
            Some(v) => parse_date("dateFrom", v)?,
            None => today - DEFAULT_PERIOD,
        };
        let date_to = match &q.date_to {
            Some(v) => parse_date("dateTo", v)?,
            None => today,
        };
        if date_from > date_to {
            return Err(ApiError::format("dateTo must not be before dateFrom.").with_path("dateTo"));
        }
        let items_per_page = match &q.items_per_page {
            Some(v) => parse_number("itemsPerPage", v, 1, MAX_ITEMS_PER_PAGE)?,
            None => DEFAULT_ITEMS_PER_PAGE,
        };
        let page_index = match &q.page_index {
            Some(v) => parse_number("pageIndex", v, 0, u32::MAX)?,
            None => 0,
        };
        let with_balance = match q.with_balance.as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(
                    ApiError::format("withBalance must be true or false.").with_path("withBalance")
                );
            }
        };
        Ok(TransactionListing {
            status,
            date_from,
            date_to,
            items_per_page,
            page_index,
            with_balance,
        })
    }

    fn status_str(&self) -> &'static str {
        match self.status {
            BookingStatus::Booked => "booked",
            BookingStatus::Pending => "pending",
            BookingStatus::Both => "both",
        }
    }

    /// The listing's identity for `frequencyPerDay`: everything but the page.
    fn page(&self) -> ListingPage {
        ListingPage {
            listing: format!(
                "{}|{}|{}|{}",
                self.status_str(),
                self.date_from,
                self.date_to,
                self.items_per_page
            ),
            page: self.page_index,
        }
    }

    fn query(&self) -> TransactionQuery {
        TransactionQuery {
            status: self.status,
            date_from: self.date_from,
            date_to: self.date_to,
            offset: u64::from(self.page_index) * u64::from(self.items_per_page),
            limit: self.items_per_page,
        }
    }

    /// The URL of page `page` of this listing.
    fn href(&self, base: &str, page: u32) -> Href {
        let mut params = vec![
            ("bookingStatus", self.status_str().to_owned()),
            ("dateFrom", self.date_from.to_string()),
            ("dateTo", self.date_to.to_string()),
            ("itemsPerPage", self.items_per_page.to_string()),
        ];
        if self.with_balance {
            params.push(("withBalance", "true".to_owned()));
        }
        params.push(("pageIndex", page.to_string()));
        let query = serde_urlencoded::to_string(params).unwrap_or_default();
        Href {
            href: format!("{base}/transactions?{query}"),
        }
    }

    /// The Berlin Group `accountReport` of one page of this listing, for the
    /// account at `base`: transactions in the core's order, split by status.
    fn report(&self, page: TransactionPage, base: &str) -> AccountReport {
        let (mut booked, mut pending) = (Vec::new(), Vec::new());
        for t in page.transactions {
            let list = if t.booked { &mut booked } else { &mut pending };
            list.push(transaction_body(t, base));
        }
        let index = self.page_index;
        let links = ReportLinks {
            account: Href {
                href: base.to_owned(),
            },
            first: self.href(base, 0),
            previous: index.checked_sub(1).map(|p| self.href(base, p)),
            next: page
                .has_more
                .then(|| index.checked_add(1))
                .flatten()
                .map(|p| self.href(base, p)),
        };
        let (booked, pending) = match self.status {
            BookingStatus::Booked => (Some(booked), None),
            BookingStatus::Pending => (None, Some(pending)),
            BookingStatus::Both => (Some(booked), Some(pending)),
        };
        AccountReport {
            booked,
            pending,
            links,
        }
    }
}

fn today(state: &AppState) -> Date {
    crate::consent::utc_day(state.clock.now())
}

// ---------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------

/// The accounts the consent grants access to, with their balances on
/// `withBalance=true` where the consent grants those (also under
/// `availableAccountsWithBalance`). `_links` point only to the account
/// endpoints the consent lets the TPP read: none for `availableAccounts` and
/// `availableAccountsWithBalance`, which grant this list only.
#[utoipa::path(
    tag = TAG,
    operation_id = "getAccountList",
    security(("mtls" = [], "oauth2" = ["AIS:<consentId>"])),
    params(
        AccountQuery,
        AisHeaders,
    ),
    responses(
        (status = 200, body = AccountList),
        (status = 400, body = TppErrorBody, description = "`FORMAT_ERROR`"),
        (status = 401, body = TppErrorBody, description = "`TOKEN_INVALID`, `TOKEN_EXPIRED`, `CONSENT_INVALID`, `CONSENT_EXPIRED`"),
        (status = 403, body = TppErrorBody, description = "`CONSENT_UNKNOWN` (unknown, or another TPP's)"),
        (status = 429, body = TppErrorBody, description = "`ACCESS_EXCEEDED`: frequencyPerDay used up for this endpoint",
            headers(("Retry-After" = u64, description = "Seconds until 00:00 UTC"))),
        (status = 503, body = TppErrorBody, description = "`SERVICE_UNAVAILABLE`: the core banking system did not answer"),
    )
)]
#[get("/v1/accounts")]
pub async fn list_accounts(
    req: HttpRequest,
    bearer: Bearer,
    query: web::Query<AccountQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<AccountList>, ApiError> {
    let permit = authorize(&req, &bearer, &state, AisEndpoint::AccountList, None, None).await?;
    let with_balance = query.with_balance.unwrap_or(false);
    let ids = permit
        .consent
        .granted
        .as_ref()
        .map(|g| g.accounts.clone())
        .unwrap_or_default();
    let mut accounts = Vec::with_capacity(ids.len());
    for id in &ids {
        let Some(account) = state.core.account(id).await.map_err(core_failed)? else {
            continue;
        };
        let balances = balances_if(with_balance, &permit, &state, id).await?;
        accounts.push(details(account, &permit, &state, balances));
    }
    permit.settle(&state).await?;
    Ok(web::Json(AccountList { accounts }))
}

/// One account's details.
#[utoipa::path(
    tag = TAG,
    operation_id = "readAccountDetails",
    security(("mtls" = [], "oauth2" = ["AIS:<consentId>"])),
    params(
        ("accountId" = String, Path, description = "The account's `resourceId`."),
        AccountQuery,
        AisHeaders,
    ),
    responses(
        (status = 200, body = AccountDetailsResponse),
        (status = 400, body = TppErrorBody, description = "`FORMAT_ERROR`"),
        (status = 401, body = TppErrorBody, description = "`TOKEN_INVALID`, `TOKEN_EXPIRED`, `CONSENT_EXPIRED`; `CONSENT_INVALID`, also for any account the consent does not grant (existing or not), and for every account under a consent for the account list only (`availableAccounts`, `availableAccountsWithBalance`)"),
        (status = 403, body = TppErrorBody, description = "`CONSENT_UNKNOWN` (unknown, or another TPP's)"),
        (status = 404, body = TppErrorBody, description = "`RESOURCE_UNKNOWN`: a consented account the core no longer knows"),
        (status = 429, body = TppErrorBody, description = "`ACCESS_EXCEEDED`: frequencyPerDay used up for this endpoint and account",
            headers(("Retry-After" = u64, description = "Seconds until 00:00 UTC"))),
        (status = 503, body = TppErrorBody, description = "`SERVICE_UNAVAILABLE`: the core banking system did not answer"),
    )
)]
#[get("/v1/accounts/{accountId}")]
pub async fn read_account_details(
    req: HttpRequest,
    bearer: Bearer,
    path: web::Path<String>,
    query: web::Query<AccountQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<AccountDetailsResponse>, ApiError> {
    let id = AccountId(path.into_inner());
    let endpoint = AisEndpoint::AccountDetails;
    let permit = authorize(&req, &bearer, &state, endpoint, Some(&id), None).await?;
    let account = account_or_404(&state, &id).await?;
    let with_balance = query.with_balance.unwrap_or(false);
    let balances = balances_if(with_balance, &permit, &state, &id).await?;
    permit.settle(&state).await?;
    Ok(web::Json(AccountDetailsResponse {
        account: details(account, &permit, &state, balances),
    }))
}

/// An account's balances: `closingBooked`, `expected` and `interimAvailable`.
#[utoipa::path(
    tag = TAG,
    operation_id = "getBalances",
    security(("mtls" = [], "oauth2" = ["AIS:<consentId>"])),
    params(
        ("accountId" = String, Path, description = "The account's `resourceId`."),
        AisHeaders,
    ),
    responses(
        (status = 200, body = BalancesResponse),
        (status = 400, body = TppErrorBody, description = "`FORMAT_ERROR`"),
        (status = 401, body = TppErrorBody, description = "`TOKEN_INVALID`, `TOKEN_EXPIRED`, `CONSENT_EXPIRED`; `CONSENT_INVALID`, also for any account without balance access in the consent (existing or not), and for every account under a consent for the account list only (`availableAccounts`, `availableAccountsWithBalance`)"),
        (status = 403, body = TppErrorBody, description = "`CONSENT_UNKNOWN` (unknown, or another TPP's)"),
        (status = 404, body = TppErrorBody, description = "`RESOURCE_UNKNOWN`: a consented account the core no longer knows"),
        (status = 429, body = TppErrorBody, description = "`ACCESS_EXCEEDED`: frequencyPerDay used up for this endpoint and account",
            headers(("Retry-After" = u64, description = "Seconds until 00:00 UTC"))),
        (status = 503, body = TppErrorBody, description = "`SERVICE_UNAVAILABLE`: the core banking system did not answer"),
    )
)]
#[get("/v1/accounts/{accountId}/balances")]
pub async fn read_balances(
    req: HttpRequest,
    bearer: Bearer,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<BalancesResponse>, ApiError> {
    let id = AccountId(path.into_inner());
    let permit = authorize(
        &req,
        &bearer,
        &state,
        AisEndpoint::Balances,
        Some(&id),
        None,
    )
    .await?;
    let account = account_or_404(&state, &id).await?;
    let balances = state.core.balances(&id).await.map_err(core_failed)?;
    permit.settle(&state).await?;
    Ok(web::Json(BalancesResponse {
        account: reference(&account),
        balances: balances.into_iter().map(BalanceBody::from).collect(),
    }))
}

/// An account's transactions by booking date, newest first, a page at a time.
/// Follow `transactions._links.next` for the next page: further pages of a
/// listing already served today are not counted against `frequencyPerDay`.
#[utoipa::path(
    tag = TAG,
    operation_id = "getTransactionList",
    security(("mtls" = [], "oauth2" = ["AIS:<consentId>"])),
    params(
        ("accountId" = String, Path, description = "The account's `resourceId`."),
        TransactionListQuery,
        AisHeaders,
    ),
    responses(
        (status = 200, body = TransactionsResponse),
        (status = 400, body = TppErrorBody, description = "`FORMAT_ERROR` naming the parameter (also for `dateTo` before `dateFrom`); `PARAMETER_NOT_SUPPORTED` for bookingStatus `information`/`all` and delta reports"),
        (status = 401, body = TppErrorBody, description = "`TOKEN_INVALID`, `TOKEN_EXPIRED`, `CONSENT_EXPIRED`; `CONSENT_INVALID`, also for any account without transaction access in the consent (existing or not), and for every account under a consent for the account list only (`availableAccounts`, `availableAccountsWithBalance`)"),
        (status = 403, body = TppErrorBody, description = "`CONSENT_UNKNOWN` (unknown, or another TPP's)"),
        (status = 404, body = TppErrorBody, description = "`RESOURCE_UNKNOWN`: a consented account the core no longer knows"),
        (status = 429, body = TppErrorBody, description = "`ACCESS_EXCEEDED`: frequencyPerDay used up for this endpoint and account",
            headers(("Retry-After" = u64, description = "Seconds until 00:00 UTC"))),
        (status = 503, body = TppErrorBody, description = "`SERVICE_UNAVAILABLE`: the core banking system did not answer"),
    )
)]
#[get("/v1/accounts/{accountId}/transactions")]
pub async fn list_transactions(
    req: HttpRequest,
    bearer: Bearer,
    path: web::Path<String>,
    query: web::Query<TransactionListQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<TransactionsResponse>, ApiError> {
    let id = AccountId(path.into_inner());
    let listing = TransactionListing::parse(&query, today(&state))?;
    let endpoint = AisEndpoint::Transactions;
    let permit = authorize(
        &req,
        &bearer,
        &state,
        endpoint,
        Some(&id),
        Some(listing.page()),
    )
    .await?;
    let account = account_or_404(&state, &id).await?;
    let page = state
        .core
        .transactions(&id, &listing.query())
        .await
        .map_err(core_failed)?;
    let balances = balances_if(listing.with_balance, &permit, &state, &id).await?;
    permit.settle(&state).await?;
    Ok(web::Json(TransactionsResponse {
        account: reference(&account),
        transactions: listing.report(page, &account_url(&state, &id)),
        balances,
    }))
}

/// One transaction of an account.
#[utoipa::path(
    tag = TAG,
    operation_id = "getTransactionDetails",
    security(("mtls" = [], "oauth2" = ["AIS:<consentId>"])),
    params(
        ("accountId" = String, Path, description = "The account's `resourceId`."),
        ("transactionId" = String, Path, description = "A `transactionId` from the account's transaction list."),
        AisHeaders,
    ),
    responses(
        (status = 200, body = TransactionDetailsResponse),
        (status = 400, body = TppErrorBody, description = "`FORMAT_ERROR`"),
        (status = 401, body = TppErrorBody, description = "`TOKEN_INVALID`, `TOKEN_EXPIRED`, `CONSENT_EXPIRED`; `CONSENT_INVALID`, also for any account without transaction access in the consent (existing or not), and for every account under a consent for the account list only (`availableAccounts`, `availableAccountsWithBalance`)"),
        (status = 403, body = TppErrorBody, description = "`CONSENT_UNKNOWN` (unknown, or another TPP's)"),
        (status = 404, body = TppErrorBody, description = "`RESOURCE_UNKNOWN`: no such transaction on this account"),
        (status = 429, body = TppErrorBody, description = "`ACCESS_EXCEEDED`: frequencyPerDay used up for this endpoint and account",
            headers(("Retry-After" = u64, description = "Seconds until 00:00 UTC"))),
        (status = 503, body = TppErrorBody, description = "`SERVICE_UNAVAILABLE`: the core banking system did not answer"),
    )
)]
#[get("/v1/accounts/{accountId}/transactions/{transactionId}")]
pub async fn read_transaction_details(
    req: HttpRequest,
    bearer: Bearer,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<web::Json<TransactionDetailsResponse>, ApiError> {
    let (account, transaction) = path.into_inner();
    let (id, transaction) = (AccountId(account), TransactionId(transaction));
    let endpoint = AisEndpoint::TransactionDetails;
    let permit = authorize(&req, &bearer, &state, endpoint, Some(&id), None).await?;
    let found = state
        .core
        .transaction(&id, &transaction)
        .await
        .map_err(core_failed)?
        .ok_or_else(ApiError::not_found)?;
    permit.settle(&state).await?;
    Ok(web::Json(TransactionDetailsResponse {
        transactions_details: transaction_body(found, &account_url(&state, &id)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn query(pairs: &[(&str, &str)]) -> TransactionListQuery {
        let q = serde_urlencoded::to_string(pairs).unwrap();
        serde_urlencoded::from_str(&q).unwrap()
    }

    const TODAY: Date = date!(2026 - 11 - 28);

    #[test]
    fn dates_default_to_the_last_90_days_and_pages_to_100_items() {
        let l = TransactionListing::parse(&query(&[("bookingStatus", "booked")]), TODAY).unwrap();
        assert_eq!(l.date_from, date!(2026 - 08 - 30));
        assert_eq!(l.date_to, TODAY);
        assert_eq!((l.items_per_page, l.page_index), (100, 0));
        assert_eq!(l.page().listing, "booked|2026-08-30|2026-11-28|100");
    }

    #[test]
    fn unhappy_queries_name_the_parameter() {
        for (pairs, code, path) in [
            (vec![], "FORMAT_ERROR", "bookingStatus"),
            (
                vec![("bookingStatus", "BOOKED")],
                "FORMAT_ERROR",
                "bookingStatus",
            ),
            (
                vec![("bookingStatus", "information")],
                "PARAMETER_NOT_SUPPORTED",
                "bookingStatus",
            ),
            (
                vec![("bookingStatus", "all")],
                "PARAMETER_NOT_SUPPORTED",
                "bookingStatus",
            ),
            (
                vec![("bookingStatus", "both"), ("dateFrom", "2026-13-01")],
                "FORMAT_ERROR",
                "dateFrom",
            ),
            (
                vec![("bookingStatus", "both"), ("dateTo", "yesterday")],
                "FORMAT_ERROR",
                "dateTo",
            ),
            (
                vec![
                    ("bookingStatus", "both"),
                    ("dateFrom", "2026-11-02"),
                    ("dateTo", "2026-11-01"),
                ],
                "FORMAT_ERROR",
                "dateTo",
            ),
            (
                vec![("bookingStatus", "both"), ("itemsPerPage", "1001")],
                "FORMAT_ERROR",
                "itemsPerPage",
            ),
            (
                vec![("bookingStatus", "both"), ("itemsPerPage", "0")],
                "FORMAT_ERROR",
                "itemsPerPage",
            ),
            (
                vec![("bookingStatus", "both"), ("pageIndex", "-1")],
                "FORMAT_ERROR",
                "pageIndex",
            ),
            (
                vec![("bookingStatus", "both"), ("deltaList", "true")],
                "PARAMETER_NOT_SUPPORTED",
                "deltaList",
            ),
        ] {
            let err = TransactionListing::parse(&query(&pairs), TODAY).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{pairs:?}");
            assert_eq!(
                (err.code, err.path.as_deref()),
                (code, Some(path)),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn page_links_carry_the_whole_resolved_query() {
        let l = TransactionListing::parse(
            &query(&[
                ("bookingStatus", "both"),
                ("itemsPerPage", "7"),
                ("pageIndex", "2"),
                ("withBalance", "true"),
            ]),
            TODAY,
        )
        .unwrap();
        assert_eq!(
            l.href("https://gw/v1/accounts/a1", 3).href,
            "https://gw/v1/accounts/a1/transactions?bookingStatus=both&dateFrom=2026-08-30\
             &dateTo=2026-11-28&itemsPerPage=7&withBalance=true&pageIndex=3"
        );
        assert_eq!(l.query().offset, 14);
    }
}
