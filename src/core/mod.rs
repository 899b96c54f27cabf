//! The core-banking adapter: everything the gateway needs from the bank's systems
//! of record, behind one trait.
//!
//! Invariant: the gateway never reads or moves money except through
//! [`CoreBanking`]. The `sandbox` implementation is a real double-entry ledger in
//! the gateway's own database; bank IT plugs in their own implementation (in Rust,
//! through the library API) or a service speaking the HTTP adapter's protocol
//! (`core/http/`).
//!
//! Lifecycle of a payment as the core sees it:
//! 1. [`CoreBanking::issue_sca_challenge`] binds a one-time code to the payment's
//!    exact amount and payee (PSD2 RTS Art. 5, dynamic linking);
//! 2. [`CoreBanking::verify_sca`] checks the code against that same context;
//! 3. [`CoreBanking::submit_payment`] executes it, deduplicated by the payment id;
//!    calling it again with the same id never moves money twice;
//! 4. [`CoreBanking::payment_status`] answers "did you execute payment X?" after a
//!    timeout, so the gateway reconciles instead of resubmitting blindly.
//!
//! Between banks (`crate::interbank`), three optional methods with default
//! implementations: [`CoreBanking::receive_credit`] books a credit another bank
//! sends, at most once per (peer, payment id); [`CoreBanking::reverse_payment`]
//! gives an executed payment's money back to the debtor when the payee's bank
//! refuses it; [`CoreBanking::account_holder_name`] names the debtor to the peer.

pub mod http;
pub mod sandbox;

use async_trait::async_trait;
use time::{Date, OffsetDateTime};

use crate::domain::{Currency, Iban, Money};
use crate::secret::Secret;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// The core's identifier of a bank customer (PSU).
    PsuId
);
id_type!(
    /// An account's opaque resource id (never the IBAN).
    AccountId
);
id_type!(
    /// A booked or pending transaction's id, unique within the core.
    TransactionId
);
id_type!(
    /// The gateway's payment id, which the core uses as its idempotency key.
    PaymentId
);
id_type!(
    /// A one-time-code challenge issued by the core.
    ChallengeId
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub owner: Option<PsuId>,
    pub iban: Iban,
    pub currency: Currency,
    pub name: String,
    pub product: String,
    /// ISO 20022 ExternalCashAccountType1Code, e.g. `CACC`, `SVGS`.
    pub cash_account_type: String,
    pub status: AccountStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    Enabled,
    Blocked,
    Deleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BalanceType {
    ClosingBooked,
    Expected,
    InterimAvailable,
}

impl BalanceType {
    pub fn as_str(&self) -> &'static str {
        match self {
            BalanceType::ClosingBooked => "closingBooked",
            BalanceType::Expected => "expected",
            BalanceType::InterimAvailable => "interimAvailable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub kind: BalanceType,
    pub amount: Money,
    pub reference_date: Date,
    pub last_change: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingStatus {
    Booked,
    Pending,
    Both,
}

/// A window over an account's transactions, newest first, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionQuery {
    pub status: BookingStatus,
    pub date_from: Date,
    pub date_to: Date,
    pub offset: u64,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub id: TransactionId,
    pub booked: bool,
    pub booking_date: Date,
    pub value_date: Date,
    /// Signed from the account's point of view: negative is a debit.
    pub amount: Money,
    pub counterparty_name: String,
    pub counterparty_iban: Option<Iban>,
    pub remittance: String,
    pub end_to_end_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionPage {
    pub transactions: Vec<Transaction>,
    /// Whether more transactions follow this page in the same window.
    pub has_more: bool,
}

/// What a one-time code authorizes. The code is bound to this exact context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScaContext {
    /// Granting a TPP access (an AIS or confirmation-of-funds consent).
    Consent { consent_id: String },
    /// Executing one payment: amount, currency and payee are part of the binding.
    Payment {
        payment_id: PaymentId,
        amount: Money,
        payee: Iban,
    },
}

impl ScaContext {
    /// A canonical text of the context, which the core hashes into the challenge.
    pub fn canonical(&self) -> String {
        match self {
            ScaContext::Consent { consent_id } => format!("consent|{consent_id}"),
            ScaContext::Payment {
                payment_id,
                amount,
                payee,
            } => format!(
                "payment|{payment_id}|{}|{}|{payee}",
                amount.amount_string(),
                amount.currency()
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaChallenge {
    pub id: ChallengeId,
    pub expires_at: OffsetDateTime,
    /// Text to show the PSU next to the code field.
    pub prompt: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaVerdict {
    Verified,
    /// Wrong code; the PSU may try again.
    Invalid,
    /// The challenge is unknown, used, expired, bound to another context, or has
    /// seen too many wrong codes. A new challenge is needed.
    Unusable,
}

/// A payment order as the core executes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentOrder {
    pub payment_id: PaymentId,
    pub debtor: Iban,
    pub creditor: Iban,
    pub creditor_name: String,
    pub amount: Money,
    pub remittance: Option<String>,
    pub instant: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Settled on the debtor's account (`ACSC`).
    Executed { transaction_id: TransactionId },
    /// Accepted, settlement still pending (`ACSP`).
    Pending { transaction_id: TransactionId },
    /// Refused by the core (`RJCT`); nothing moved.
    Rejected { reason: RejectReason },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    InsufficientFunds,
    UnknownDebtor,
    AccountBlocked,
    CurrencyMismatch,
    Other,
}

/// A credit another bank sends to one of this bank's accounts (the receiving
/// half of an interbank transfer): the paying bank has debited its customer and
/// asks this bank to credit the payee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingCredit {
    /// Who sends it: the peer bank's registered client id. Together with
    /// `payment_id` it is the idempotency key.
    pub peer: String,
    /// The paying bank's payment id.
    pub payment_id: PaymentId,
    pub debtor: Iban,
    /// The debtor's name, when the paying bank knows it.
    pub debtor_name: Option<String>,
    pub creditor: Iban,
    pub creditor_name: String,
    pub amount: Money,
    pub remittance: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditOutcome {
    /// Booked on the creditor's account.
    Credited { transaction_id: TransactionId },
    /// Not booked, for good: a replay gets the same refusal.
    Refused { reason: CreditRefusal },
}

/// Why a bank refuses an incoming credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditRefusal {
    /// No customer account with the creditor IBAN here.
    UnknownCreditor,
    AccountBlocked,
    AccountClosed,
    /// The creditor account is kept in another currency.
    CurrencyMismatch,
    Other,
}

/// What [`CoreBanking::reverse_payment`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reversal {
    /// The compensating transaction that gave the money back to the debtor; the
    /// same one on every call.
    Reversed { transaction_id: TransactionId },
    /// The core never executed the payment (unknown or rejected): nothing moved,
    /// so nothing is given back.
    NotExecuted,
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The core could not be reached or did not answer in time. For a payment
    /// submission the outcome is unknown and must be reconciled.
    #[error("core banking system unavailable: {0}")]
    Unavailable(String),
    /// The core answered, but not in a way the adapter understands.
    #[error("core banking protocol error: {0}")]
    Protocol(String),
    /// The adapter does not offer this (optional) operation.
    #[error("the core banking adapter does not support {0}")]
    Unsupported(&'static str),
}

impl From<crate::store::StoreError> for CoreError {
    fn from(e: crate::store::StoreError) -> Self {
        CoreError::Unavailable(e.to_string())
    }
}

impl From<diesel::result::Error> for CoreError {
    fn from(e: diesel::result::Error) -> Self {
        CoreError::Unavailable(e.to_string())
    }
}

/// The bank's core systems as the gateway sees them. Implementations must be
/// cheap to share (`Arc<dyn CoreBanking>`) and safe to call concurrently.
#[async_trait]
pub trait CoreBanking: Send + Sync + 'static {
    /// A short name for logs and `/readyz` (`"sandbox"`, `"http"`, …).
    fn name(&self) -> &'static str;

    /// Whether the core is reachable now.
    async fn health(&self) -> Result<(), CoreError>;

    /// Checks a PSU's credentials. `Ok(None)` means wrong username or password;
    /// the gateway counts failures, the core need not.
    async fn authenticate_psu(
        &self,
        username: &str,
        password: &Secret,
    ) -> Result<Option<PsuId>, CoreError>;

    /// The PSU's own accounts.
    async fn accounts(&self, psu: &PsuId) -> Result<Vec<Account>, CoreError>;

    async fn account(&self, id: &AccountId) -> Result<Option<Account>, CoreError>;

    async fn account_by_iban(&self, iban: &Iban) -> Result<Option<Account>, CoreError>;

    async fn balances(&self, id: &AccountId) -> Result<Vec<Balance>, CoreError>;

    async fn transactions(
        &self,
        id: &AccountId,
        query: &TransactionQuery,
    ) -> Result<TransactionPage, CoreError>;

    async fn transaction(
        &self,
        account: &AccountId,
        id: &TransactionId,
    ) -> Result<Option<Transaction>, CoreError>;

    /// Whether `amount` could be debited from the account now.
    async fn funds_available(&self, account: &Iban, amount: &Money) -> Result<bool, CoreError>;

    /// Issues a one-time code for the PSU, bound to `context`.
    async fn issue_sca_challenge(
        &self,
        psu: &PsuId,
        context: &ScaContext,
    ) -> Result<ScaChallenge, CoreError>;

    /// Verifies a one-time code against the challenge and the context it must be
    /// bound to. A verified challenge is consumed.
    async fn verify_sca(
        &self,
        challenge: &ChallengeId,
        psu: &PsuId,
        context: &ScaContext,
        otp: &Secret,
    ) -> Result<ScaVerdict, CoreError>;

    /// Executes a payment at most once per `order.payment_id`. A second call with
    /// the same id returns the first call's outcome and moves nothing.
    async fn submit_payment(&self, order: &PaymentOrder) -> Result<PaymentOutcome, CoreError>;

    /// The outcome of an earlier submission, or `None` if the core never saw it.
    async fn payment_status(&self, id: &PaymentId) -> Result<Option<PaymentOutcome>, CoreError>;

    /// Books a credit another bank sends, at most once per
    /// (`credit.peer`, `credit.payment_id`): the outcome, credited or refused, is
    /// recorded in the same transaction as the booking, and every later call with
    /// that pair returns it and moves nothing (also when calls race). Money comes
    /// from the bank's clearing account for the currency.
    ///
    /// Optional: needed only when peer banks send credits here (`/interbank`).
    async fn receive_credit(&self, credit: &IncomingCredit) -> Result<CreditOutcome, CoreError> {
        let _ = credit;
        Err(CoreError::Unsupported("receiving interbank credits"))
    }

    /// Gives an executed payment's money back to the debtor with a compensating
    /// transaction (clearing account → debtor), at most once per payment id; a
    /// repeated call returns the same reversal. The gateway calls it when the
    /// payee's bank refused the credit.
    ///
    /// Optional: needed only for payments to peer banks (`[interbank]`).
    async fn reverse_payment(&self, id: &PaymentId) -> Result<Reversal, CoreError> {
        let _ = id;
        Err(CoreError::Unsupported("reversing payments"))
    }

    /// The name of an account's holder, which the gateway passes on to a peer
    /// bank as the debtor's name. `None` when unknown.
    ///
    /// Optional: without it, interbank credits carry no debtor name.
    async fn account_holder_name(&self, iban: &Iban) -> Result<Option<String>, CoreError> {
        let _ = iban;
        Ok(None)
    }
}
