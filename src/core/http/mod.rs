//! The HTTP core adapter: [`CoreBanking`] over a small JSON protocol that a bank
//! implements in front of its core, in any language (`docs/core-adapter.md`,
//! `openapi/core-adapter.json`).
//!
//! | trait method            | request                                             | "not found" (404) |
//! |-------------------------|-----------------------------------------------------|-------------------|
//! | `health`                | `GET /health`                                       | unavailable       |
//! | `authenticate_psu`      | `POST /psu/authenticate` (401: wrong credentials)   | —                 |
//! | `accounts`              | `GET /psus/{psuId}/accounts`                        | no accounts       |
//! | `account`               | `GET /accounts/{accountId}`                         | `None`            |
//! | `account_by_iban`       | `GET /accounts/by-iban/{iban}`                      | `None`            |
//! | `balances`              | `GET /accounts/{accountId}/balances`                | no balances       |
//! | `transactions`          | `GET /accounts/{accountId}/transactions?status=&dateFrom=&dateTo=&offset=&limit=` | empty page |
//! | `transaction`           | `GET /accounts/{accountId}/transactions/{txId}`     | `None`            |
//! | `funds_available`       | `POST /funds-check`                                 | `false`           |
//! | `issue_sca_challenge`   | `POST /sca/challenges`                              | protocol error    |
//! | `verify_sca`            | `POST /sca/challenges/{challengeId}/verify`         | `Unusable`        |
//! | `submit_payment`        | `PUT /payments/{paymentId}` (idempotent by id)      | —                 |
//! | `payment_status`        | `GET /payments/{paymentId}`                         | `None`            |
//!
//! Failure semantics, the same for every call: another 4xx is
//! [`CoreError::Protocol`] (the core is up but the exchange is wrong); a 5xx, a
//! timeout or a connection failure is [`CoreError::Unavailable`] and counts
//! towards the circuit breaker (`breaker`), which after `failure_threshold`
//! consecutive failures fails every call at once for `open_seconds`, then lets
//! one trial call decide. Reads (`GET`, and `POST /funds-check`) are retried
//! `read_retries` times after a connection failure or a 502/503/504. Nothing with
//! an effect is retried: a `PUT /payments/{id}` that times out surfaces as
//! `Unavailable`, and the gateway reconciles with `payment_status` — the id makes
//! a later resubmission safe, but that decision is the gateway's, not the
//! transport's.

mod breaker;
mod client;
pub mod mock;
pub mod protocol;

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};

use crate::clock::Clock;
use crate::config::HttpCoreConfig;
use crate::core::{
    Account, AccountId, Balance, BookingStatus, ChallengeId, CoreBanking, CoreError, PaymentId,
    PaymentOrder, PaymentOutcome, PsuId, ScaChallenge, ScaContext, ScaVerdict, Transaction,
    TransactionId, TransactionPage, TransactionQuery,
};
use crate::domain::{Iban, Money};
use crate::secret::Secret;
use client::{Call, CoreClient, Retry};
use protocol::{
    AccountDto, AccountList, Authenticated, BalanceList, ChallengeDto, ChallengeRequest,
    Credentials, FundsAnswer, FundsCheck, PaymentOrderDto, PaymentOutcomeDto, ScaContextDto,
    TransactionDto, TransactionPageDto, TransactionQueryDto, VerifyAnswer, VerifyRequest,
    WireError,
};

pub use breaker::{BreakerState, CircuitBreaker, Permit};
pub use client::HttpCoreError;

/// [`CoreBanking`] over HTTP. Cheap to share; every call is independent.
pub struct HttpCore {
    client: CoreClient,
}

impl HttpCore {
    /// Builds the client (reading the TLS material named in the configuration);
    /// does not contact the core, so the gateway starts while the core is down.
    pub fn new(config: &HttpCoreConfig, clock: Arc<dyn Clock>) -> Result<HttpCore, HttpCoreError> {
        Ok(HttpCore {
            client: CoreClient::new(config, clock)?,
        })
    }

    /// The circuit breaker's state, for operators and tests.
    pub fn breaker_state(&self) -> BreakerState {
        self.client.breaker_state()
    }
}

fn protocol(route: &'static str) -> impl Fn(WireError) -> CoreError {
    move |e| CoreError::Protocol(format!("{route}: {e}"))
}

/// An account read by id or IBAN must be the one asked for.
fn check(
    route: &'static str,
    account: Result<Option<Account>, WireError>,
    asked: impl Fn(&Account) -> bool,
) -> Result<Option<Account>, CoreError> {
    match account.map_err(protocol(route))? {
        Some(a) if !asked(&a) => Err(CoreError::Protocol(format!(
            "{route}: answered with another account"
        ))),
        found => Ok(found),
    }
}

#[async_trait]
impl CoreBanking for HttpCore {
    fn name(&self) -> &'static str {
        "http"
    }

    /// Fails at once while the breaker is open, so `/readyz` shows an open
    /// circuit without waiting for a timeout; once it is due, `/readyz` probes
    /// are what lets a recovered core close it even without TPP traffic.
    async fn health(&self) -> Result<(), CoreError> {
        let reply = self
            .client
            .send(Call::new(Method::GET, "GET /health", &["health"]))
            .await?;
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(CoreError::Unavailable(reply.describe()))
        }
    }

    async fn authenticate_psu(
        &self,
        username: &str,
        password: &Secret,
    ) -> Result<Option<PsuId>, CoreError> {
        const ROUTE: &str = "POST /psu/authenticate";
        let body = Credentials {
            username: username.to_owned(),
            password: password.expose().to_owned(),
        };
        let call = Call::new(Method::POST, ROUTE, &["psu", "authenticate"]).body(&body)?;
        let reply = self.client.send(call).await?;
        if reply.status == StatusCode::UNAUTHORIZED {
            return Ok(None);
        }
        let ok: Authenticated = reply.json()?;
        if ok.psu_id.is_empty() {
            return Err(CoreError::Protocol(format!("{ROUTE}: empty psuId")));
        }
        Ok(Some(PsuId(ok.psu_id)))
    }

    async fn accounts(&self, psu: &PsuId) -> Result<Vec<Account>, CoreError> {
        const ROUTE: &str = "GET /psus/{psuId}/accounts";
        let call = Call::read(ROUTE, &["psus", psu.as_str(), "accounts"]);
        let Some(list) = self
            .client
            .send(call)
            .await?
            .json_or_none::<AccountList>()?
        else {
            return Ok(Vec::new());
        };
        let mut accounts: Vec<Account> = list
            .accounts
            .into_iter()
            .map(AccountDto::into_account)
            .collect::<Result<_, _>>()
            .map_err(protocol(ROUTE))?;
        // The PSU page trusts this list to decide what a PSU may consent to, so
        // another owner's account is refused; an omitted owner is this PSU.
        for account in &mut accounts {
            match &account.owner {
                None => account.owner = Some(psu.clone()),
                Some(owner) if owner != psu => {
                    let e = format!("{ROUTE}: an account of another owner");
                    return Err(CoreError::Protocol(e));
                }
                Some(_) => {}
            }
        }
        Ok(accounts)
    }

    async fn account(&self, id: &AccountId) -> Result<Option<Account>, CoreError> {
        const ROUTE: &str = "GET /accounts/{accountId}";
        let call = Call::read(ROUTE, &["accounts", id.as_str()]);
        let dto = self.client.send(call).await?.json_or_none::<AccountDto>()?;
        let account = dto.map(AccountDto::into_account).transpose();
        check(ROUTE, account, |a| a.id == *id)
    }

    async fn account_by_iban(&self, iban: &Iban) -> Result<Option<Account>, CoreError> {
        const ROUTE: &str = "GET /accounts/by-iban/{iban}";
        let call = Call::read(ROUTE, &["accounts", "by-iban", iban.as_str()]);
        let dto = self.client.send(call).await?.json_or_none::<AccountDto>()?;
        let account = dto.map(AccountDto::into_account).transpose();
        check(ROUTE, account, |a| a.iban == *iban)
    }

    async fn balances(&self, id: &AccountId) -> Result<Vec<Balance>, CoreError> {
        const ROUTE: &str = "GET /accounts/{accountId}/balances";
        let call = Call::read(ROUTE, &["accounts", id.as_str(), "balances"]);
        let Some(list) = self
            .client
            .send(call)
            .await?
            .json_or_none::<BalanceList>()?
        else {
            return Ok(Vec::new());
        };
        list.balances
            .into_iter()
            .map(|b| b.into_balance())
            .collect::<Result<_, _>>()
            .map_err(protocol(ROUTE))
    }

    async fn transactions(
        &self,
        id: &AccountId,
        query: &TransactionQuery,
    ) -> Result<TransactionPage, CoreError> {
        const ROUTE: &str = "GET /accounts/{accountId}/transactions";
        let q = TransactionQueryDto {
            status: match query.status {
                BookingStatus::Booked => "booked",
                BookingStatus::Pending => "pending",
                BookingStatus::Both => "both",
            }
            .to_owned(),
            date_from: query.date_from,
            date_to: query.date_to,
            offset: query.offset,
            limit: query.limit,
        };
        let call = Call::read(ROUTE, &["accounts", id.as_str(), "transactions"]).query(&q)?;
        let Some(page) = self
            .client
            .send(call)
            .await?
            .json_or_none::<TransactionPageDto>()?
        else {
            return Ok(TransactionPage {
                transactions: Vec::new(),
                has_more: false,
            });
        };
        let page = page.into_page().map_err(protocol(ROUTE))?;
        if page.transactions.len() > query.limit as usize {
            return Err(CoreError::Protocol(format!(
                "{ROUTE}: more transactions than the limit"
            )));
        }
        Ok(page)
    }

    async fn transaction(
        &self,
        account: &AccountId,
        id: &TransactionId,
    ) -> Result<Option<Transaction>, CoreError> {
        const ROUTE: &str = "GET /accounts/{accountId}/transactions/{transactionId}";
        let segments = ["accounts", account.as_str(), "transactions", id.as_str()];
        let call = Call::read(ROUTE, &segments);
        let dto = self
            .client
            .send(call)
            .await?
            .json_or_none::<TransactionDto>()?;
        dto.map(TransactionDto::into_transaction)
            .transpose()
            .map_err(protocol(ROUTE))
    }

    async fn funds_available(&self, account: &Iban, amount: &Money) -> Result<bool, CoreError> {
        const ROUTE: &str = "POST /funds-check";
        let body = FundsCheck {
            iban: account.clone(),
            amount: amount.into(),
        };
        // A question, not an effect: safe to ask again.
        let call = Call::new(Method::POST, ROUTE, &["funds-check"])
            .body(&body)?
            .retry(Retry::Read);
        let answer = self
            .client
            .send(call)
            .await?
            .json_or_none::<FundsAnswer>()?;
        Ok(answer.is_some_and(|a| a.funds_available))
    }

    async fn issue_sca_challenge(
        &self,
        psu: &PsuId,
        context: &ScaContext,
    ) -> Result<ScaChallenge, CoreError> {
        const ROUTE: &str = "POST /sca/challenges";
        let body = ChallengeRequest {
            psu_id: psu.0.clone(),
            context: ScaContextDto::from(context),
        };
        let call = Call::new(Method::POST, ROUTE, &["sca", "challenges"]).body(&body)?;
        let dto: ChallengeDto = self.client.send(call).await?.json()?;
        dto.into_challenge().map_err(protocol(ROUTE))
    }

    async fn verify_sca(
        &self,
        challenge: &ChallengeId,
        psu: &PsuId,
        context: &ScaContext,
        otp: &Secret,
    ) -> Result<ScaVerdict, CoreError> {
        const ROUTE: &str = "POST /sca/challenges/{challengeId}/verify";
        let body = VerifyRequest {
            psu_id: psu.0.clone(),
            context: ScaContextDto::from(context),
            otp: otp.expose().to_owned(),
        };
        let segments = ["sca", "challenges", challenge.as_str(), "verify"];
        let call = Call::new(Method::POST, ROUTE, &segments).body(&body)?;
        let answer = self
            .client
            .send(call)
            .await?
            .json_or_none::<VerifyAnswer>()?;
        Ok(answer.map_or(ScaVerdict::Unusable, ScaVerdict::from))
    }

    #[tracing::instrument(skip_all, fields(payment.id = %order.payment_id))]
    async fn submit_payment(&self, order: &PaymentOrder) -> Result<PaymentOutcome, CoreError> {
        const ROUTE: &str = "PUT /payments/{paymentId}";
        let body = PaymentOrderDto::from(order);
        let call =
            Call::new(Method::PUT, ROUTE, &["payments", order.payment_id.as_str()]).body(&body)?;
        let dto: PaymentOutcomeDto = self.client.send(call).await?.json()?;
        let outcome = dto.into_outcome().map_err(protocol(ROUTE))?;
        tracing::info!(payment.outcome = ?outcome, "core payment processed");
        Ok(outcome)
    }

    async fn payment_status(&self, id: &PaymentId) -> Result<Option<PaymentOutcome>, CoreError> {
        const ROUTE: &str = "GET /payments/{paymentId}";
        let call = Call::read(ROUTE, &["payments", id.as_str()]);
        let dto = self
            .client
            .send(call)
            .await?
            .json_or_none::<PaymentOutcomeDto>()?;
        dto.map(PaymentOutcomeDto::into_outcome)
            .transpose()
            .map_err(protocol(ROUTE))
    }
}
