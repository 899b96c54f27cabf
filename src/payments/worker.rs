//! The forwarding worker: takes approved payments out of the outbox and submits
//! each to the core exactly once.
//!
//! Exactly once, whatever fails:
//! - a row is claimed with a conditional UPDATE (state and lease in the WHERE
//!   clause), so one worker of any replica owns it for the lease;
//! - the core deduplicates by the payment id, so even a second submission moves
//!   nothing twice;
//! - a submission that times out or errors leaves the row in flight; when its
//!   lease runs out (also after a crash) the next claim **asks the core first**
//!   ([`CoreBanking::payment_status`]) and only submits if the core never saw the
//!   payment;
//! - the payment's final status is written with a conditional UPDATE from
//!   `ACTC`/`ACSP`, so terminal statuses never change.
//!
//! A payment to a customer of a configured peer bank (`crate::interbank`) takes
//! one more step after the core executed it: `ACSP` while the peer is asked to
//! credit the payee, `ACSC` when it did, `RJCT` (the debit reversed) when it
//! refused. Without an answer the row stays in flight, and the next claim finds
//! the payment executed at the core and asks the peer again, never the core.
//!
//! For the crash test, `OBGW_FAILPOINT` (`before-submit` or `after-submit`) makes
//! the worker log `failpoint reached: <name>` and stop there, so that a test can
//! SIGKILL the process at exactly that point.

use std::sync::Arc;

use time::Duration;
use tokio::sync::Notify;

use super::error::PaymentError;
use super::model::{Payment, PaymentStatus};
use super::repo;
use crate::clock::Clock;
use crate::core::{
    CoreBanking, PaymentId, PaymentOrder, PaymentOutcome, RejectReason, TransactionId,
};
use crate::interbank::{Credit, Peer, PeerAnswer, PeerBanks};
use crate::store::Store;

/// The environment variable naming a failpoint (tests only).
pub const FAILPOINT_ENV: &str = "OBGW_FAILPOINT";

/// How the worker is tuned.
#[derive(Debug, Clone)]
pub struct ForwarderSettings {
    /// How long a claim is exclusive; after it, the row is reconciled.
    pub lease: Duration,
    /// How often the outbox is polled when nobody wakes the worker.
    pub poll_interval: std::time::Duration,
    /// How many rows one pass claims at most.
    pub batch: i64,
}

#[derive(Debug, Clone)]
pub struct Forwarder {
    store: Store,
    core: Arc<dyn CoreBanking>,
    clock: Arc<dyn Clock>,
    settings: ForwarderSettings,
    wake: Arc<Notify>,
    worker_id: String,
    failpoint: Option<String>,
    peers: Option<PeerBanks>,
}

/// What one forwarding attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forwarded {
    Final(PaymentStatus),
    /// The core's answer is unknown (timeout, error): reconcile after the lease.
    Unknown,
    /// Another worker won the claim, or the row was not due.
    NotClaimed,
}

fn reason_code(reason: RejectReason) -> &'static str {
    match reason {
        RejectReason::InsufficientFunds => "insufficient-funds",
        RejectReason::UnknownDebtor => "unknown-debtor",
        RejectReason::AccountBlocked => "account-blocked",
        RejectReason::CurrencyMismatch => "currency-mismatch",
        RejectReason::Other => "refused-by-core",
    }
}

impl Forwarder {
    pub fn new(
        store: Store,
        core: Arc<dyn CoreBanking>,
        clock: Arc<dyn Clock>,
        settings: ForwarderSettings,
        wake: Arc<Notify>,
    ) -> Forwarder {
        Forwarder {
            store,
            core,
            clock,
            settings,
            wake,
            worker_id: uuid::Uuid::new_v4().to_string(),
            failpoint: std::env::var(FAILPOINT_ENV).ok().filter(|s| !s.is_empty()),
            peers: None,
        }
    }

    /// Payments to these peer banks' customers are settled through them.
    pub fn with_peers(mut self, peers: Option<PeerBanks>) -> Forwarder {
        self.peers = peers;
        self
    }

    /// Runs until the process ends: a pass over the due rows whenever a payment
    /// is approved, and at least every poll interval.
    pub async fn run(self) {
        loop {
            if let Err(e) = self.pass().await {
                tracing::warn!(error = %e, "payment forwarding pass failed");
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
    }

    /// One pass: claims and forwards every due row; returns how many it handled.
    pub async fn pass(&self) -> Result<usize, PaymentError> {
        let now = self.clock.now();
        let batch = self.settings.batch;
        let due = self.store.read(move |c| repo::due(c, now, batch)).await?;
        let mut handled = 0;
        for id in due {
            if self.forward(&id).await? != Forwarded::NotClaimed {
                handled += 1;
            }
        }
        Ok(handled)
    }

    async fn failpoint(&self, name: &str) {
        if self.failpoint.as_deref() == Some(name) {
            tracing::warn!("failpoint reached: {name}");
            std::future::pending::<()>().await;
        }
    }

    /// Claims and forwards one payment.
    pub async fn forward(&self, payment_id: &str) -> Result<Forwarded, PaymentError> {
        let now = self.clock.now();
        let lease_until = now + self.settings.lease;
        let (id, worker) = (payment_id.to_owned(), self.worker_id.clone());
        let claimed = self
            .store
            .write(move |c| repo::claim(c, &id, &worker, now, lease_until))
            .await?;
        let Some(attempt) = claimed else {
            return Ok(Forwarded::NotClaimed);
        };
        let id = payment_id.to_owned();
        let Some(payment) = self.store.read(move |c| repo::find(c, &id)).await? else {
            return Err(PaymentError::Unknown);
        };
        if !matches!(payment.status, PaymentStatus::Actc | PaymentStatus::Acsp) {
            // Already final (e.g. recorded just before a crash): only the outbox row
            // was left behind.
            self.finish_outbox(payment_id).await?;
            return Ok(Forwarded::Final(payment.status));
        }
        let pid = PaymentId(payment_id.to_owned());
        // A row claimed before (a timeout, an error, a crash, or settlement still
        // pending) is reconciled: ask the core what became of it first.
        if attempt > 1 || payment.status == PaymentStatus::Acsp {
            match self.core.payment_status(&pid).await {
                Ok(Some(outcome)) => return self.settle(&payment, outcome).await,
                Ok(None) => {
                    tracing::info!(payment.id = %payment_id, attempt, "core never saw the payment; submitting");
                }
                Err(e) => return self.unknown(payment_id, &e.to_string()).await,
            }
        }
        self.failpoint("before-submit").await;
        let order = PaymentOrder {
            payment_id: pid,
            debtor: payment.debtor.clone(),
            creditor: payment.creditor.clone(),
            creditor_name: payment.creditor_name.clone(),
            amount: payment.amount,
            remittance: payment.remittance.clone(),
            instant: payment.product.is_instant(),
        };
        match self.core.submit_payment(&order).await {
            Ok(outcome) => {
                self.failpoint("after-submit").await;
                self.settle(&payment, outcome).await
            }
            Err(e) => self.unknown(payment_id, &e.to_string()).await,
        }
    }

    /// The core's outcome decides, except that a payment executed towards a peer
    /// bank's customer is settled only once the peer has answered.
    async fn settle(
        &self,
        payment: &Payment,
        outcome: PaymentOutcome,
    ) -> Result<Forwarded, PaymentError> {
        let to_peer = self
            .peers
            .as_ref()
            .and_then(|peers| Some((peers, peers.peer_for(&payment.creditor)?)));
        match (outcome, to_peer) {
            (PaymentOutcome::Executed { transaction_id }, Some((peers, peer))) => {
                self.hop(payment, &transaction_id, peers, peer).await
            }
            (outcome, _) => self.record(payment.id.as_str(), outcome).await,
        }
    }

    /// The money has left the debtor's account (`ACSP`); the peer credits the
    /// payee (`ACSC`) or refuses, and the core gives the money back (`RJCT`).
    /// Anything else leaves the row in flight until its lease runs out.
    async fn hop(
        &self,
        payment: &Payment,
        transaction_id: &TransactionId,
        peers: &PeerBanks,
        peer: &Peer,
    ) -> Result<Forwarded, PaymentError> {
        let id = payment.id.as_str();
        let first_hop = payment.status == PaymentStatus::Actc;
        if first_hop
            && !self
                .hop_status(id, PaymentStatus::Acsp, transaction_id, None)
                .await?
        {
            return Ok(Forwarded::NotClaimed);
        }
        // A core that cannot answer now is asked again with the next attempt.
        let debtor_name = match self.core.account_holder_name(&payment.debtor).await {
            Ok(name) => name,
            Err(e) => return self.unknown(id, &e.to_string()).await,
        };
        let credit = Credit {
            payment_id: payment.id.clone(),
            debtor: payment.debtor.clone(),
            debtor_name,
            creditor: payment.creditor.clone(),
            creditor_name: payment.creditor_name.clone(),
            amount: payment.amount,
            remittance: payment.remittance.clone(),
        };
        let status = match peers.send_credit(peer, &credit).await {
            Ok(PeerAnswer::Credited { .. }) => {
                self.hop_status(id, PaymentStatus::Acsc, transaction_id, None)
                    .await?;
                PaymentStatus::Acsc
            }
            Ok(PeerAnswer::Refused { reason }) => {
                if let Err(e) = self.core.reverse_payment(&payment.id).await {
                    let error = format!("peer bank refused ({reason}); reversal failed: {e}");
                    return self.unknown(id, &error).await;
                }
                let reason = format!("refused-by-peer-bank:{reason}");
                self.hop_status(id, PaymentStatus::Rjct, transaction_id, Some(reason))
                    .await?;
                PaymentStatus::Rjct
            }
            Err(e) => return self.unknown(id, &e.to_string()).await,
        };
        tracing::info!(payment.id = %id, interbank.peer = %peer.bank_code, payment.status = %status, "peer bank answered");
        Ok(Forwarded::Final(status))
    }

    /// Writes a status of the interbank hop (closing the outbox row when it is
    /// final); whether the payment was still `ACTC`/`ACSP`.
    async fn hop_status(
        &self,
        payment_id: &str,
        to: PaymentStatus,
        transaction_id: &TransactionId,
        reject_reason: Option<String>,
    ) -> Result<bool, PaymentError> {
        let now = self.clock.now();
        let (id, tx) = (payment_id.to_owned(), transaction_id.0.clone());
        self.store
            .write(move |c| {
                let changed = repo::record_outcome(
                    c,
                    &id,
                    to,
                    Some(tx.as_str()),
                    reject_reason.as_deref(),
                    now,
                )?;
                if to.is_terminal() {
                    repo::finish_outbox(c, &id, now)?;
                }
                Ok::<_, PaymentError>(changed)
            })
            .await
    }

    async fn unknown(&self, payment_id: &str, error: &str) -> Result<Forwarded, PaymentError> {
        tracing::warn!(payment.id = %payment_id, error, "outcome unknown (core or peer bank); will reconcile after the lease");
        let now = self.clock.now();
        let (id, worker, error) = (
            payment_id.to_owned(),
            self.worker_id.clone(),
            error.to_owned(),
        );
        self.store
            .write(move |c| repo::attempt_failed(c, &id, &worker, &error, now))
            .await?;
        Ok(Forwarded::Unknown)
    }

    async fn finish_outbox(&self, payment_id: &str) -> Result<(), PaymentError> {
        let now = self.clock.now();
        let id = payment_id.to_owned();
        self.store
            .write(move |c| repo::finish_outbox(c, &id, now))
            .await
    }

    /// Writes the core's outcome: the payment's status and the outbox row, in one
    /// transaction.
    async fn record(
        &self,
        payment_id: &str,
        outcome: PaymentOutcome,
    ) -> Result<Forwarded, PaymentError> {
        let now = self.clock.now();
        let recheck = now + self.settings.lease;
        let id = payment_id.to_owned();
        let status = self
            .store
            .write(move |c| {
                let status = match &outcome {
                    PaymentOutcome::Executed { transaction_id } => {
                        repo::record_outcome(
                            c,
                            &id,
                            PaymentStatus::Acsc,
                            Some(transaction_id.as_str()),
                            None,
                            now,
                        )?;
                        repo::finish_outbox(c, &id, now)?;
                        PaymentStatus::Acsc
                    }
                    PaymentOutcome::Pending { transaction_id } => {
                        repo::record_outcome(
                            c,
                            &id,
                            PaymentStatus::Acsp,
                            Some(transaction_id.as_str()),
                            None,
                            now,
                        )?;
                        repo::recheck_at(c, &id, recheck, now)?;
                        PaymentStatus::Acsp
                    }
                    PaymentOutcome::Rejected { reason } => {
                        repo::record_outcome(
                            c,
                            &id,
                            PaymentStatus::Rjct,
                            None,
                            Some(reason_code(*reason)),
                            now,
                        )?;
                        repo::finish_outbox(c, &id, now)?;
                        PaymentStatus::Rjct
                    }
                };
                Ok::<_, PaymentError>(status)
            })
            .await?;
        tracing::info!(payment.id = %payment_id, payment.status = %status, "core answered");
        Ok(Forwarded::Final(status))
    }
}
