//! The receiving bank: a peer's credit is parsed, answered from the record if
//! the peer sent this payment id before, and otherwise booked by the core (which
//! deduplicates the money itself) and recorded.

use std::sync::Arc;

use serde_json::Value;

use super::InterbankError;
use super::model::{Credit, CreditAnswer};
use super::repo::{self, Answered};
use crate::clock::Clock;
use crate::core::{CoreBanking, CoreError, CreditOutcome};
use crate::store::{Store, StoreError, is_unique_violation};

#[derive(Debug, Clone)]
pub struct InterbankService {
    store: Store,
    core: Arc<dyn CoreBanking>,
    clock: Arc<dyn Clock>,
}

impl InterbankService {
    pub fn new(store: Store, core: Arc<dyn CoreBanking>, clock: Arc<dyn Clock>) -> Self {
        InterbankService { store, core, clock }
    }

    /// Answers a credit from `peer` (a registered peer bank's client id).
    /// Idempotent on (peer, paymentId): a replay gets the first answer and moves
    /// nothing; another credit under the same payment id is a conflict.
    #[tracing::instrument(skip_all, fields(interbank.peer = %peer, payment.id))]
    pub async fn receive(&self, peer: &str, body: &Value) -> Result<CreditAnswer, InterbankError> {
        let credit = Credit::parse(body)?;
        tracing::Span::current().record("payment.id", credit.payment_id.as_str());
        let fingerprint = credit.fingerprint();
        if let Some(answered) = self.recorded(peer, &credit).await? {
            return same_credit(answered, &fingerprint);
        }
        // The core books at most once per (peer, payment id), also when this
        // races a duplicate: both get its one outcome.
        let answer = match self.core.receive_credit(&credit.incoming(peer)).await {
            Ok(CreditOutcome::Credited { transaction_id }) => CreditAnswer::Accepted {
                credit_id: transaction_id.0,
            },
            Ok(CreditOutcome::Refused { reason }) => CreditAnswer::Refused { reason },
            Err(CoreError::Unsupported(what)) => return Err(InterbankError::Unsupported(what)),
            Err(e) => return Err(InterbankError::CoreUnavailable(e.to_string())),
        };
        let answered = Answered {
            fingerprint: fingerprint.clone(),
            answer,
        };
        let (owned, now) = (answered.clone(), self.clock.now());
        let (p, id) = (peer.to_owned(), credit.payment_id.0.clone());
        // One statement, so no transaction: a lost race is a plain unique violation.
        let recorded = self
            .store
            .read(move |c| match repo::insert(c, &p, &id, &owned, now) {
                Ok(()) => Ok(true),
                Err(e) if is_unique_violation(&e) => Ok(false),
                Err(e) => Err(InterbankError::Store(StoreError::Query(e))),
            })
            .await?;
        if !recorded {
            // A racing duplicate recorded first; its record is the answer.
            let first = self
                .recorded(peer, &credit)
                .await?
                .ok_or(InterbankError::Store(StoreError::Query(
                    diesel::result::Error::NotFound,
                )))?;
            return same_credit(first, &fingerprint);
        }
        tracing::info!(
            creditor = %credit.creditor.masked(),
            interbank.status = answered.answer.status(),
            "interbank credit answered"
        );
        Ok(answered.answer)
    }

    async fn recorded(
        &self,
        peer: &str,
        credit: &Credit,
    ) -> Result<Option<Answered>, InterbankError> {
        let (peer, id) = (peer.to_owned(), credit.payment_id.0.clone());
        self.store.read(move |c| repo::find(c, &peer, &id)).await
    }
}

fn same_credit(answered: Answered, fingerprint: &str) -> Result<CreditAnswer, InterbankError> {
    if answered.fingerprint == fingerprint {
        Ok(answered.answer)
    } else {
        Err(InterbankError::Conflict)
    }
}
