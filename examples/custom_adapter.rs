//! Bank IT's own core-banking adapter, in Rust: implement
//! `obgw::core::CoreBanking` (here a tiny in-memory core with one customer,
//! carol/carol, one account, and the one-time code 000000) and start the gateway
//! with it through the library API, exactly as `obgw serve` starts with the
//! built-in adapters. `cargo run --example custom_adapter`, then create an AIS
//! consent for carol's IBAN as in the README and log in as carol on the PSU page.
//! A real adapter calls the bank's systems where this one answers from memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use obgw::app::{Application, Dependencies};
use obgw::clock::{Clock, SystemClock};
use obgw::core::*;
use obgw::domain::{Currency, Iban, Money};
use obgw::secret::{Secret, sha256_hex};

const EUR: Currency = Currency::EUR;

struct TinyCore {
    carol: PsuId,
    account: Account,
    /// Outcomes by payment id: a repeated submission returns the first outcome.
    payments: Mutex<HashMap<PaymentId, PaymentOutcome>>,
}

impl TinyCore {
    fn mine(&self, yes: bool) -> Option<Account> {
        yes.then(|| self.account.clone())
    }
    fn payments(&self) -> Result<MutexGuard<'_, HashMap<PaymentId, PaymentOutcome>>, CoreError> {
        (self.payments.lock()).map_err(|_| CoreError::Unavailable("poisoned".into()))
    }
}

#[async_trait]
impl CoreBanking for TinyCore {
    fn name(&self) -> &'static str {
        "tiny"
    }
    async fn health(&self) -> Result<(), CoreError> {
        Ok(())
    }
    async fn authenticate_psu(&self, user: &str, pw: &Secret) -> Result<Option<PsuId>, CoreError> {
        Ok((user == "carol" && pw.ct_eq("carol")).then(|| self.carol.clone()))
    }
    async fn accounts(&self, psu: &PsuId) -> Result<Vec<Account>, CoreError> {
        Ok(self.mine(*psu == self.carol).into_iter().collect())
    }
    async fn account(&self, id: &AccountId) -> Result<Option<Account>, CoreError> {
        Ok(self.mine(*id == self.account.id))
    }
    async fn account_by_iban(&self, iban: &Iban) -> Result<Option<Account>, CoreError> {
        Ok(self.mine(*iban == self.account.iban))
    }
    async fn balances(&self, id: &AccountId) -> Result<Vec<Balance>, CoreError> {
        let (amount, reference_date) = (Money::from_minor(100_000, EUR), SystemClock.now().date());
        let (kind, last_change) = (BalanceType::ClosingBooked, None);
        let balance = Balance {
            kind,
            amount,
            reference_date,
            last_change,
        };
        Ok(self
            .mine(*id == self.account.id)
            .map(|_| balance)
            .into_iter()
            .collect())
    }
    async fn transactions(
        &self,
        _: &AccountId,
        _: &TransactionQuery,
    ) -> CoreResult<TransactionPage> {
        Ok(TransactionPage {
            transactions: Vec::new(),
            has_more: false,
        })
    }
    async fn transaction(
        &self,
        _: &AccountId,
        _: &TransactionId,
    ) -> CoreResult<Option<Transaction>> {
        Ok(None)
    }
    async fn funds_available(&self, iban: &Iban, amount: &Money) -> Result<bool, CoreError> {
        let within = amount.currency() == EUR && amount.minor_units() <= 100_000;
        Ok(*iban == self.account.iban && within)
    }
    /// The challenge id is the hash of what the code authorizes (dynamic linking).
    async fn issue_sca_challenge(&self, _: &PsuId, ctx: &ScaContext) -> CoreResult<ScaChallenge> {
        let expires_at = SystemClock.now() + time::Duration::minutes(5);
        let (id, prompt) = (
            ChallengeId(sha256_hex(&ctx.canonical())),
            "Enter 000000".into(),
        );
        Ok(ScaChallenge {
            id,
            expires_at,
            prompt,
        })
    }
    async fn verify_sca(
        &self,
        id: &ChallengeId,
        _: &PsuId,
        ctx: &ScaContext,
        otp: &Secret,
    ) -> Result<ScaVerdict, CoreError> {
        let ok = id.0 == sha256_hex(&ctx.canonical()) && otp.ct_eq("000000");
        Ok(if ok {
            ScaVerdict::Verified
        } else {
            ScaVerdict::Invalid
        })
    }
    /// A real core books the payment here, once per id.
    async fn submit_payment(&self, order: &PaymentOrder) -> Result<PaymentOutcome, CoreError> {
        let transaction_id = TransactionId(format!("tx-{}", order.payment_id));
        let executed = PaymentOutcome::Executed { transaction_id };
        Ok(self
            .payments()?
            .entry(order.payment_id.clone())
            .or_insert(executed)
            .clone())
    }
    async fn payment_status(&self, id: &PaymentId) -> Result<Option<PaymentOutcome>, CoreError> {
        Ok(self.payments()?.get(id).cloned())
    }
}

type CoreResult<T> = Result<T, CoreError>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut config = obgw::config::Config::load(None)?;
    config.sandbox.seed = false; // this core brings its own data
    obgw::telemetry::init(&config.log);
    let carol = PsuId("carol".into());
    let account = Account {
        id: AccountId("acc-carol-1".into()),
        owner: Some(carol.clone()),
        iban: Iban::german("99955555", 4_711)?,
        currency: EUR,
        name: "Carol's current account".into(),
        product: "Girokonto".into(),
        cash_account_type: "CACC".into(),
        status: AccountStatus::Enabled,
    };
    let core = TinyCore {
        carol,
        account,
        payments: Mutex::default(),
    };
    let deps = Dependencies {
        core: Some(Arc::new(core)),
        ..Default::default()
    };
    let app = Application::build_with(config, deps).await?;
    Ok(app.run_until_stopped().await?)
}
