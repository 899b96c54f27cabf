//! The sandbox core: a double-entry ledger in the gateway's own database.
//!
//! It is a real implementation of [`CoreBanking`], not a mock: balances are
//! derived from entries, payments move money between accounts in one database
//! transaction, and SCA codes are bound to what they authorize. Only the one-time
//! code is fake ([`SANDBOX_OTP`]).
//!
//! - `ledger`: accounts, entries, balances and transaction history;
//! - `payments`: executing payment orders at most once;
//! - `credits`: credits from peer banks and reversals of refused payments, each
//!   at most once;
//! - `check`: the consistency check of the double-entry invariants;
//! - `sca`: one-time-code challenges with dynamic linking;
//! - `credentials`: argon2id password hashes;
//! - [`seed`]: the demo PSUs, accounts and months of history.
//!
//! Money leaving or entering the bank is booked against a *clearing* account, so
//! every transaction has two entries summing to zero even when the payee banks
//! elsewhere. The clearing account is never visible through the trait.

mod check;
mod credentials;
mod credits;
mod ledger;
mod payments;
mod sca;
pub mod seed;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;

use crate::clock::Clock;
use crate::core::{
    Account, AccountId, Balance, BalanceType, ChallengeId, CoreBanking, CoreError, CreditOutcome,
    IncomingCredit, PaymentId, PaymentOrder, PaymentOutcome, PsuId, Reversal, ScaChallenge,
    ScaContext, ScaVerdict, Transaction, TransactionId, TransactionPage, TransactionQuery,
};
use crate::domain::{Iban, Money};
use crate::secret::Secret;
use crate::store::{DbConn, Store};
use ledger::LedgerError;

pub use check::{BalanceMismatch, LedgerReport};
pub use sca::SANDBOX_OTP;
pub use seed::{DEFAULT_HISTORY_DAYS, seed, seed_store};

/// The sandbox [`CoreBanking`] implementation over the gateway's [`Store`].
#[derive(Debug, Clone)]
pub struct SandboxCore {
    store: Store,
    clock: Arc<dyn Clock>,
}

impl SandboxCore {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> SandboxCore {
        SandboxCore { store, clock }
    }

    /// Recomputes balances and transaction sums from the entries; for tests and
    /// operators who want proof that the books balance.
    pub async fn check_ledger(&self) -> Result<LedgerReport, CoreError> {
        self.read(check::check_ledger).await
    }

    async fn read<T, F>(&self, f: F) -> Result<T, CoreError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, LedgerError> + Send + 'static,
        T: Send + 'static,
    {
        self.store.read(f).await.map_err(CoreError::from)
    }

    async fn write<T, F>(&self, f: F) -> Result<T, LedgerError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, LedgerError> + Send + 'static,
        T: Send + 'static,
    {
        self.store.write(f).await
    }
}

#[async_trait]
impl CoreBanking for SandboxCore {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    async fn health(&self) -> Result<(), CoreError> {
        Ok(self.store.ping().await?)
    }

    async fn authenticate_psu(
        &self,
        username: &str,
        password: &Secret,
    ) -> Result<Option<PsuId>, CoreError> {
        let username = username.to_owned();
        let stored = self
            .read(move |c| credentials::stored_hash(c, &username))
            .await?;
        let password = password.clone();
        tokio::task::spawn_blocking(move || credentials::verify(stored, &password))
            .await
            .map_err(|_| CoreError::Unavailable("password verification task failed".into()))?
    }

    async fn accounts(&self, psu: &PsuId) -> Result<Vec<Account>, CoreError> {
        let psu = psu.clone();
        self.read(move |c| {
            ledger::accounts_of(c, psu.as_str())?
                .iter()
                .map(ledger::AccountRow::to_account)
                .collect()
        })
        .await
    }

    async fn account(&self, id: &AccountId) -> Result<Option<Account>, CoreError> {
        let id = id.clone();
        self.read(move |c| {
            ledger::customer_only(ledger::account_by_id(c, id.as_str())?)
                .map(|a| a.to_account())
                .transpose()
        })
        .await
    }

    async fn account_by_iban(&self, iban: &Iban) -> Result<Option<Account>, CoreError> {
        let iban = iban.clone();
        self.read(move |c| {
            ledger::customer_only(ledger::account_by_iban(c, iban.as_str())?)
                .map(|a| a.to_account())
                .transpose()
        })
        .await
    }

    /// `closingBooked` and `expected` change with any entry, so their last change
    /// is the newest entry; the booked balance's is the newest booked entry.
    async fn balances(&self, id: &AccountId) -> Result<Vec<Balance>, CoreError> {
        let id = id.clone();
        let today = ledger::business_date(self.clock.now());
        self.read(move |c| {
            let Some(account) = ledger::customer_only(ledger::account_by_id(c, id.as_str())?)
            else {
                return Ok(Vec::new());
            };
            let currency = account.currency()?;
            let figures = ledger::balance_figures(c, &account)?;
            let balance = |kind, minor, last_change| Balance {
                kind,
                amount: Money::from_minor(minor, currency),
                reference_date: today,
                last_change,
            };
            Ok(vec![
                balance(
                    BalanceType::ClosingBooked,
                    figures.booked,
                    figures.last_booked_change,
                ),
                balance(
                    BalanceType::Expected,
                    figures.expected(),
                    figures.last_change,
                ),
                balance(
                    BalanceType::InterimAvailable,
                    figures.available(),
                    figures.last_change,
                ),
            ])
        })
        .await
    }

    async fn transactions(
        &self,
        id: &AccountId,
        query: &TransactionQuery,
    ) -> Result<TransactionPage, CoreError> {
        let id = id.clone();
        let query = query.clone();
        self.read(move |c| ledger::transactions(c, id.as_str(), &query))
            .await
    }

    async fn transaction(
        &self,
        account: &AccountId,
        id: &TransactionId,
    ) -> Result<Option<Transaction>, CoreError> {
        let account = account.clone();
        let id = id.clone();
        self.read(move |c| ledger::transaction(c, account.as_str(), id.as_str()))
            .await
    }

    async fn funds_available(&self, account: &Iban, amount: &Money) -> Result<bool, CoreError> {
        let iban = account.clone();
        let amount = *amount;
        self.read(move |c| {
            let Some(account) = ledger::customer_only(ledger::account_by_iban(c, iban.as_str())?)
            else {
                return Ok(false);
            };
            if account.currency()? != amount.currency() {
                return Ok(false);
            }
            Ok(ledger::balance_figures(c, &account)?.available() >= amount.minor_units())
        })
        .await
    }

    async fn issue_sca_challenge(
        &self,
        psu: &PsuId,
        context: &ScaContext,
    ) -> Result<ScaChallenge, CoreError> {
        let (psu, context, now) = (psu.clone(), context.clone(), self.clock.now());
        Ok(self
            .write(move |c| sca::issue(c, &psu, &context, now))
            .await?)
    }

    async fn verify_sca(
        &self,
        challenge: &ChallengeId,
        psu: &PsuId,
        context: &ScaContext,
        otp: &Secret,
    ) -> Result<ScaVerdict, CoreError> {
        let (challenge, psu, context) = (challenge.clone(), psu.clone(), context.clone());
        let (otp, now) = (otp.clone(), self.clock.now());
        Ok(self
            .write(move |c| sca::verify(c, &challenge, &psu, &context, &otp, now))
            .await?)
    }

    #[tracing::instrument(skip_all, fields(payment.id = %order.payment_id))]
    async fn submit_payment(&self, order: &PaymentOrder) -> Result<PaymentOutcome, CoreError> {
        let owned = order.clone();
        let now = self.clock.now();
        let outcome = match self
            .write(move |c| payments::submit_payment(c, &owned, now))
            .await
        {
            Ok(outcome) => outcome,
            // A concurrent submission with the same id committed first; this
            // one rolled back, and the winner's outcome is the answer.
            Err(e) if e.is_unique_violation() => self
                .payment_status(&order.payment_id)
                .await?
                .ok_or_else(|| CoreError::from(e))?,
            Err(e) => return Err(e.into()),
        };
        tracing::info!(payment.outcome = ?outcome, "sandbox payment processed");
        Ok(outcome)
    }

    async fn payment_status(&self, id: &PaymentId) -> Result<Option<PaymentOutcome>, CoreError> {
        let id = id.clone();
        self.read(move |c| payments::payment_outcome(c, &id)).await
    }

    #[tracing::instrument(skip_all, fields(payment.id = %credit.payment_id, interbank.peer = %credit.peer))]
    async fn receive_credit(&self, credit: &IncomingCredit) -> Result<CreditOutcome, CoreError> {
        let owned = credit.clone();
        let now = self.clock.now();
        let outcome = match self
            .write(move |c| credits::receive_credit(c, &owned, now))
            .await
        {
            Ok(outcome) => outcome,
            // A concurrent duplicate committed first; its outcome is the answer.
            Err(e) if e.is_unique_violation() => {
                let (peer, id) = (credit.peer.clone(), credit.payment_id.clone());
                self.read(move |c| credits::credit_outcome(c, &peer, &id))
                    .await?
                    .ok_or_else(|| CoreError::from(e))?
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(credit.outcome = ?outcome, "sandbox credit processed");
        Ok(outcome)
    }

    #[tracing::instrument(skip_all, fields(payment.id = %id))]
    async fn reverse_payment(&self, id: &PaymentId) -> Result<Reversal, CoreError> {
        let (owned, now) = (id.clone(), self.clock.now());
        let reversal = match self
            .write(move |c| credits::reverse_payment(c, &owned, now))
            .await
        {
            Ok(reversal) => reversal,
            Err(e) if e.is_unique_violation() => {
                let id = id.clone();
                self.read(move |c| credits::reversal_of(c, &id))
                    .await?
                    .map(|transaction_id| Reversal::Reversed { transaction_id })
                    .ok_or_else(|| CoreError::from(e))?
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(reversal = ?reversal, "sandbox payment reversal processed");
        Ok(reversal)
    }

    async fn account_holder_name(&self, iban: &Iban) -> Result<Option<String>, CoreError> {
        let iban = iban.clone();
        self.read(move |c| {
            ledger::customer_only(ledger::account_by_iban(c, iban.as_str())?)
                .map(|account| payments::display_name(c, &account))
                .transpose()
        })
        .await
    }
}
