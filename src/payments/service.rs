//! [`PaymentService`]: initiation, reads, cancellation, and the PSU's review and
//! decision. Forwarding to the core is the [`super::worker::Forwarder`]'s job.

use std::sync::Arc;

use rust_decimal::Decimal;
use serde_json::Value;
use time::{Duration, OffsetDateTime, UtcOffset};
use tokio::sync::Notify;

use super::error::PaymentError;
use super::model::{Payment, PaymentStatus, Product};
use super::repo;
use super::request::{PaymentLimits, PaymentRequest};
use crate::clock::Clock;
use crate::core::{
    Account, BalanceType, BookingStatus, CoreBanking, PaymentId, PsuId, TransactionQuery,
};
use crate::domain::{Currency, Money};
use crate::idempotency::{self, Claim, IdempotencyKey};
use crate::risk::{self, Decision, Exemption, ExemptionState, Outcome, RiskConfig, RiskFacts};
use crate::store::Store;

/// The `resource_kind` of payments in the idempotency records.
pub const IDEMPOTENCY_KIND: &str = "payment";
/// `reject_reason` of a payment the PSU did not authorize in time.
pub const AUTHORIZATION_TIMED_OUT: &str = "authorization-timeout";
/// `reject_reason` of a payment the risk engine refused at initiation.
pub const REJECTED_BY_RISK: &str = "risk";

/// What the payment lifecycle is configured with.
#[derive(Debug, Clone)]
pub struct PaymentSettings {
    pub limits: PaymentLimits,
    pub risk: RiskConfig,
    /// How long a payment waits for the PSU (`RCVD`) before it is `RJCT`.
    pub authorization_timeout: Duration,
}

/// The payment lifecycle over the gateway's database and the core. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PaymentService {
    store: Store,
    core: Arc<dyn CoreBanking>,
    clock: Arc<dyn Clock>,
    settings: Arc<PaymentSettings>,
    wake: Arc<Notify>,
}

/// What the PSU's consent page may do with a payment.
#[derive(Debug, Clone)]
pub enum PsuReview {
    /// The PSU does not own the debtor account: the payment was rejected.
    NotOwner,
    /// The payment is no longer awaiting authorization.
    Closed(PaymentStatus),
    /// The risk engine refused it at approval: the payment was rejected.
    Rejected,
    /// Show it; `sca` says whether the one-time code is required.
    Ready { payment: Box<Payment>, sca: bool },
}

/// The result of the PSU's approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// `ACTC`, queued for forwarding.
    Approved,
    /// The exemption no longer holds (a concurrent exempted payment used up the
    /// low-value allowance): ask for the one-time code.
    ScaNeeded,
    /// The payment was no longer `RCVD`.
    Closed,
}

fn today(now: OffsetDateTime) -> time::Date {
    now.to_offset(UtcOffset::UTC).date()
}

impl PaymentService {
    pub fn new(
        store: Store,
        core: Arc<dyn CoreBanking>,
        clock: Arc<dyn Clock>,
        settings: PaymentSettings,
    ) -> PaymentService {
        PaymentService {
            store,
            core,
            clock,
            settings: Arc::new(settings),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Notified whenever a payment enters the outbox.
    pub fn wake_handle(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    pub fn settings(&self) -> &PaymentSettings {
        &self.settings
    }

    /// Initiates a payment for `client_id` (idempotently per `key`, 24 h): parses
    /// the body, checks the debtor account with the core, scores the risk and
    /// stores the payment `RCVD`, or `RJCT` when the risk engine refuses it (then
    /// [`PaymentError::Rejected`], also on a replay of that request).
    #[tracing::instrument(skip_all, fields(client.id = %client_id, payment.product = %product))]
    pub async fn initiate(
        &self,
        client_id: &str,
        key: &IdempotencyKey,
        product: Product,
        body: &Value,
        psu_ip_address: Option<String>,
    ) -> Result<Payment, PaymentError> {
        let now = self.clock.now();
        let request = PaymentRequest::parse(product, body, today(now), &self.settings.limits)?;
        let request_hash = idempotency::request_hash(body);

        let account = self
            .core
            .account_by_iban(&request.debtor)
            .await?
            .filter(|a| a.owner.is_some())
            .ok_or_else(|| {
                PaymentError::format(
                    "debtorAccount.iban",
                    "is not a customer account at this bank",
                )
            })?;
        if account.currency != request.amount.currency() {
            return Err(PaymentError::format(
                "instructedAmount.currency",
                format!("the debtor account is held in {}", account.currency),
            ));
        }
        let psu_id = account
            .owner
            .clone()
            .unwrap_or_else(|| PsuId(String::new()));
        let mut fresh = Payment {
            id: PaymentId(uuid::Uuid::new_v4().to_string()),
            client_id: client_id.to_owned(),
            product,
            status: PaymentStatus::Rcvd,
            debtor: request.debtor,
            creditor: request.creditor,
            creditor_name: request.creditor_name,
            amount: request.amount,
            remittance: request.remittance,
            end_to_end_id: request.end_to_end_id,
            psu_id,
            psu_ip_address,
            sca_exemption: None,
            reject_reason: None,
            core_transaction_id: None,
            created_at: now,
            status_changed_at: now,
            authorized_at: None,
        };
        let decision = self.assess(&fresh, Some(&account), None).await?;
        if decision.outcome == Outcome::Reject {
            fresh.status = PaymentStatus::Rjct;
            fresh.reject_reason = Some(REJECTED_BY_RISK.to_owned());
        }
        let key = key.clone();
        let explanation = risk::explain(&decision);
        let (outcome, score) = (decision.outcome.as_str(), decision.score);
        let payment =
            idempotency::write_with_retry(&self.store, PaymentError::is_contended, move |conn| {
                let claim = idempotency::claim(
                    conn,
                    &fresh.client_id,
                    &key,
                    IDEMPOTENCY_KIND,
                    &request_hash,
                    fresh.id.as_str(),
                    now,
                )?;
                match claim {
                    Claim::New => {
                        repo::insert(conn, &fresh)?;
                        repo::insert_decision(
                            conn,
                            fresh.id.as_str(),
                            "initiation",
                            outcome,
                            score,
                            &explanation,
                            now,
                        )?;
                        Ok(fresh.clone())
                    }
                    Claim::Replay { resource_id } => {
                        repo::find(conn, &resource_id)?.ok_or(PaymentError::Unknown)
                    }
                }
            })
            .await?;
        tracing::info!(
            payment.id = %payment.id,
            payment.status = %payment.status,
            risk.outcome = outcome,
            "payment initiated or replayed"
        );
        if payment.status == PaymentStatus::Rjct
            && payment.reject_reason.as_deref() == Some(REJECTED_BY_RISK)
        {
            return Err(PaymentError::Rejected);
        }
        Ok(payment)
    }

    /// The payment as `client_id` sees it under `product`; another client's or
    /// another product's is [`PaymentError::Unknown`].
    pub async fn get(
        &self,
        client_id: &str,
        product: Product,
        id: &str,
    ) -> Result<Payment, PaymentError> {
        let payment = self.find(id).await?;
        if payment.client_id != client_id || payment.product != product {
            return Err(PaymentError::Unknown);
        }
        Ok(payment)
    }

    /// Any payment by id (PSU page, bank IT). A payment left `RCVD` past the
    /// authorization timeout is rejected on the way (time-driven, like consents).
    pub async fn find(&self, id: &str) -> Result<Payment, PaymentError> {
        let pid = id.to_owned();
        let payment = self
            .store
            .read(move |c| repo::find(c, &pid))
            .await?
            .ok_or(PaymentError::Unknown)?;
        let now = self.clock.now();
        if payment.status != PaymentStatus::Rcvd
            || payment.created_at + self.settings.authorization_timeout > now
        {
            return Ok(payment);
        }
        let pid = id.to_owned();
        self.store
            .write(move |c| {
                repo::transition(
                    c,
                    &pid,
                    PaymentStatus::Rcvd,
                    PaymentStatus::Rjct,
                    Some(AUTHORIZATION_TIMED_OUT),
                    now,
                )?;
                repo::find(c, &pid)?.ok_or(PaymentError::Unknown)
            })
            .await
    }

    /// Cancels a payment of `client_id` (`CANC`): while `RCVD`, or `ACTC` and not
    /// yet claimed for forwarding. The outbox row is withdrawn by a conditional
    /// UPDATE in the same transaction as the status change, so a cancel racing the
    /// forwarding worker's claim never lets both win.
    pub async fn cancel(
        &self,
        client_id: &str,
        product: Product,
        id: &str,
    ) -> Result<(), PaymentError> {
        let payment = self.get(client_id, product, id).await?;
        let now = self.clock.now();
        let id = payment.id.0.clone();
        self.store
            .write(move |c| {
                let current = repo::find(c, &id)?.ok_or(PaymentError::Unknown)?;
                let cancelled = match current.status {
                    PaymentStatus::Rcvd => repo::transition(
                        c,
                        &id,
                        PaymentStatus::Rcvd,
                        PaymentStatus::Canc,
                        None,
                        now,
                    )?,
                    PaymentStatus::Actc => {
                        repo::withdraw(c, &id, now)?
                            && repo::transition(
                                c,
                                &id,
                                PaymentStatus::Actc,
                                PaymentStatus::Canc,
                                None,
                                now,
                            )?
                    }
                    _ => false,
                };
                if cancelled {
                    Ok(())
                } else {
                    Err(PaymentError::CancellationInvalid(current.status))
                }
            })
            .await?;
        tracing::info!(payment.id = %payment.id, "payment cancelled by the TPP");
        Ok(())
    }

    /// Whether `id` is `client_id`'s payment awaiting the PSU's authorization.
    pub async fn awaits_authorization(
        &self,
        client_id: &str,
        id: &str,
    ) -> Result<bool, PaymentError> {
        match self.find(id).await {
            Ok(p) => Ok(p.client_id == client_id && p.status == PaymentStatus::Rcvd),
            Err(PaymentError::Unknown) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The PSU logged in on the consent page: checks ownership, scores the risk
    /// again (the stricter of the two decisions wins) and says whether SCA is due.
    pub async fn review(&self, id: &str, psu: &PsuId) -> Result<PsuReview, PaymentError> {
        let payment = self.find(id).await?;
        if payment.status != PaymentStatus::Rcvd {
            return Ok(PsuReview::Closed(payment.status));
        }
        if &payment.psu_id != psu {
            self.reject(id, "psu-not-owner").await?;
            return Ok(PsuReview::NotOwner);
        }
        let account = self.core.account_by_iban(&payment.debtor).await?;
        let decision = self.assess(&payment, account.as_ref(), Some(id)).await?;
        let now = self.clock.now();
        let explanation = risk::explain(&decision);
        let pid = id.to_owned();
        let (outcome, score) = (decision.outcome.as_str(), decision.score);
        let initial = self
            .store
            .write(move |c| {
                repo::insert_decision(c, &pid, "approval", outcome, score, &explanation, now)?;
                repo::latest_outcome(c, &pid, "initiation")
            })
            .await?;
        let initial = match initial.as_deref() {
            Some("sca") => Outcome::Sca,
            Some("reject") => Outcome::Reject,
            _ => decision.outcome,
        };
        let effective = risk::stricter(initial, decision.outcome);
        let exemption = match effective {
            Outcome::Reject => {
                self.reject(id, "risk-at-approval").await?;
                return Ok(PsuReview::Rejected);
            }
            Outcome::Sca => None,
            Outcome::Exempt(e) => Some(e.as_str()),
        };
        let pid = id.to_owned();
        self.store
            .write(move |c| repo::set_exemption(c, &pid, exemption))
            .await?;
        Ok(PsuReview::Ready {
            payment: Box::new(payment),
            sca: exemption.is_none(),
        })
    }

    /// The PSU denied, or the payment cannot be approved: `RJCT`.
    pub async fn reject(&self, id: &str, reason: &str) -> Result<(), PaymentError> {
        let now = self.clock.now();
        let (id, reason) = (id.to_owned(), reason.to_owned());
        self.store
            .write(move |c| {
                repo::transition(
                    c,
                    &id,
                    PaymentStatus::Rcvd,
                    PaymentStatus::Rjct,
                    Some(&reason),
                    now,
                )
            })
            .await?;
        Ok(())
    }

    /// The PSU approved: `ACTC` and into the outbox, in one transaction. With
    /// `sca_passed` the Art. 16 counters start again and, if asked, the payee is
    /// trusted (Art. 13); without it, the exemption chosen at review must still
    /// hold (the low-value counters are taken by a conditional UPDATE).
    pub async fn approve(
        &self,
        id: &str,
        psu: &PsuId,
        sca_passed: bool,
        trust_payee: bool,
    ) -> Result<Approval, PaymentError> {
        let now = self.clock.now();
        let timeout = self.settings.authorization_timeout;
        let (id, psu) = (id.to_owned(), psu.0.clone());
        let approval = self
            .store
            .write(move |c| {
                let Some(payment) = repo::find(c, &id)? else {
                    return Err(PaymentError::Unknown);
                };
                if payment.status != PaymentStatus::Rcvd
                    || payment.psu_id.0 != psu
                    || payment.created_at + timeout <= now
                {
                    return Ok(Approval::Closed);
                }
                let exemption = if sca_passed {
                    repo::reset_counters(c, &psu, now)?;
                    if trust_payee {
                        repo::trust(c, &psu, payment.creditor.as_str(), now)?;
                    }
                    None
                } else {
                    match payment.sca_exemption.as_deref() {
                        Some(e) if e == Exemption::LowValue.as_str() => {
                            // PSD2 RTS Art. 16, re-checked atomically at approval.
                            let max_total =
                                Money::new(risk::LOW_VALUE_MAX_TOTAL_EUR, Currency::EUR)
                                    .map(|m| m.minor_units())
                                    .unwrap_or(0);
                            let max_count = i32::try_from(risk::LOW_VALUE_MAX_COUNT).unwrap_or(0);
                            let counted = payment.amount.currency() == Currency::EUR
                                && repo::count_low_value(
                                    c,
                                    &psu,
                                    payment.amount.minor_units(),
                                    max_count,
                                    max_total,
                                    now,
                                )?;
                            if !counted {
                                repo::set_exemption(c, &id, None)?;
                                return Ok(Approval::ScaNeeded);
                            }
                            Some(e.to_owned())
                        }
                        Some(e) => Some(e.to_owned()),
                        None => return Ok(Approval::ScaNeeded),
                    }
                };
                if !repo::authorize(c, &id, exemption.as_deref(), now)? {
                    return Ok(Approval::Closed);
                }
                repo::enqueue(c, &id, now)?;
                Ok(Approval::Approved)
            })
            .await?;
        if approval == Approval::Approved {
            self.wake.notify_one();
        }
        Ok(approval)
    }

    /// Gathers the facts about `payment` (from the core's view of the debtor
    /// `account` and the gateway's own records) and asks the risk engine.
    /// `except` leaves the payment itself out of the velocity counts once it is
    /// stored.
    async fn assess(
        &self,
        payment: &Payment,
        account: Option<&Account>,
        except: Option<&str>,
    ) -> Result<Decision, PaymentError> {
        let (facts, state) = self.facts(payment, account, except).await?;
        Ok(risk::decide(&facts, &state, &self.settings.risk))
    }

    async fn facts(
        &self,
        payment: &Payment,
        account: Option<&Account>,
        except: Option<&str>,
    ) -> Result<(RiskFacts, ExemptionState), PaymentError> {
        let now = self.clock.now();
        let (history, balance) = match account {
            Some(a) => {
                let query = TransactionQuery {
                    status: BookingStatus::Booked,
                    date_from: today(now) - Duration::days(90),
                    date_to: today(now),
                    offset: 0,
                    limit: 500,
                };
                let page = self.core.transactions(&a.id, &query).await?;
                let balances = self.core.balances(&a.id).await?;
                let available = balances
                    .iter()
                    .find(|b| b.kind == BalanceType::InterimAvailable)
                    .or_else(|| balances.first())
                    .map(|b| b.amount.amount());
                (page.transactions, available)
            }
            None => (Vec::new(), None),
        };
        let mut debits: Vec<Decimal> = history
            .iter()
            .filter(|t| t.amount.amount() < Decimal::ZERO)
            .map(|t| -t.amount.amount())
            .collect();
        debits.sort();
        let usual_amount = median(&debits);
        let payee_known = history.iter().any(|t| {
            t.amount.amount() < Decimal::ZERO
                && t.counterparty_iban.as_ref() == Some(&payment.creditor)
        });

        let psu = payment.psu_id.0.clone();
        let client = payment.client_id.clone();
        let creditor = payment.creditor.as_str().to_owned();
        let except = except.map(str::to_owned);
        let (last_hour, last_day, executed_via_tpp, (count, total), trusted) = self
            .store
            .read(move |c| {
                Ok::<_, PaymentError>((
                    repo::count_since(c, &psu, now - Duration::hours(1), except.as_deref())?,
                    repo::count_since(c, &psu, now - Duration::days(1), except.as_deref())?,
                    repo::executed_through(c, &psu, &client)?,
                    repo::exemption_counters(c, &psu)?,
                    repo::is_trusted(c, &psu, &creditor)?,
                ))
            })
            .await?;
        let facts = RiskFacts {
            amount: payment.amount.amount(),
            is_eur: payment.amount.currency() == Currency::EUR,
            usual_amount,
            payee_known: payee_known || trusted,
            payments_last_hour: u32::try_from(last_hour).unwrap_or(u32::MAX),
            payments_last_day: u32::try_from(last_day).unwrap_or(u32::MAX),
            cross_border: payment.product == Product::CrossBorderCreditTransfers
                || payment.creditor.country() != payment.debtor.country(),
            instant: payment.product.is_instant(),
            hour_utc: now.to_offset(UtcOffset::UTC).hour(),
            new_tpp: !executed_via_tpp,
            available_balance: balance,
        };
        let state = ExemptionState {
            low_value_count_since_sca: count,
            low_value_total_since_sca: Money::from_minor(total, Currency::EUR).amount(),
            payee_trusted: trusted,
        };
        Ok((facts, state))
    }
}

/// Everything bank IT needs about one payment, as JSON: the payment, every
/// risk decision with score, features and reasons, and its outbox row.
pub async fn inspect(store: &Store, id: &str) -> Result<Value, PaymentError> {
    let pid = id.to_owned();
    let (payment, decisions, outbox) = store
        .read(move |c| {
            let payment = repo::find(c, &pid)?.ok_or(PaymentError::Unknown)?;
            Ok::<_, PaymentError>((
                payment,
                repo::decisions(c, &pid)?,
                repo::outbox_json(c, &pid)?,
            ))
        })
        .await?;
    Ok(serde_json::json!({
        "paymentId": payment.id.0,
        "clientId": payment.client_id,
        "product": payment.product.as_str(),
        "transactionStatus": payment.status.as_str(),
        "debtorAccount": payment.debtor.masked(),
        "creditorAccount": payment.creditor.masked(),
        "creditorName": payment.creditor_name,
        "instructedAmount": {
            "currency": payment.amount.currency().as_str(),
            "amount": payment.amount.amount_string(),
        },
        "psuId": payment.psu_id.0,
        "scaExemption": payment.sca_exemption,
        "rejectReason": payment.reject_reason,
        "coreTransactionId": payment.core_transaction_id,
        "createdAt": payment.created_at.to_string(),
        "authorizedAt": payment.authorized_at.map(|t| t.to_string()),
        "riskDecisions": decisions,
        "outbox": outbox,
    }))
}

fn median(sorted: &[Decimal]) -> Option<Decimal> {
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[n / 2]),
        n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / Decimal::TWO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usual_amount_is_the_median_debit() {
        let d = |v: i64| Decimal::from(v);
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[d(5)]), Some(d(5)));
        assert_eq!(median(&[d(1), d(3), d(100)]), Some(d(3)));
        assert_eq!(median(&[d(2), d(4)]), Some(d(3)));
    }
}
