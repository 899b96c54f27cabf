//! The wire types of the core-banking protocol (`docs/core-adapter.md`,
//! `openapi/core-adapter.json`) and their conversions to and from the domain.
//!
//! JSON, camelCase; amounts are `{"currency": "EUR", "amount": "-12.30"}` with a
//! decimal string (never a JSON number); dates are `YYYY-MM-DD`, instants RFC 3339.
//! IBANs are parsed (mod-97) while deserializing, and as [`Iban`]s they mask
//! themselves in `Debug`, so a DTO printed by mistake does not leak one.
//! Both the adapter ([`super::HttpCore`]) and the reference server
//! ([`super::mock`]) use these types, so they cannot disagree.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::core::{
    Account, AccountId, AccountStatus, Balance, BalanceType, ChallengeId, PaymentId, PaymentOrder,
    PaymentOutcome, PsuId, RejectReason, ScaChallenge, ScaContext, ScaVerdict, Transaction,
    TransactionId, TransactionPage,
};
use crate::domain::{Currency, Iban, Money};

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// Why a body from the other side could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WireError(pub String);

fn bad(what: &str) -> WireError {
    WireError(format!("invalid {what}"))
}

/// Every error answer: a stable code and a human-readable message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmountDto {
    pub currency: String,
    /// A decimal string, optionally negative: `"-12.30"`.
    pub amount: String,
}

impl From<&Money> for AmountDto {
    fn from(m: &Money) -> Self {
        AmountDto {
            currency: m.currency().as_str().to_owned(),
            amount: m.amount_string(),
        }
    }
}

impl AmountDto {
    pub fn to_money(&self) -> Result<Money, WireError> {
        let currency = Currency::parse(&self.currency).map_err(|_| bad("currency"))?;
        let digits = self.amount.strip_prefix('-').unwrap_or(&self.amount);
        let well_formed = !digits.is_empty()
            && digits.len() <= 20
            && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && digits.bytes().filter(|b| *b == b'.').count() <= 1
            && !digits.starts_with('.')
            && !digits.ends_with('.');
        if !well_formed {
            return Err(bad("amount"));
        }
        let value: Decimal = self.amount.parse().map_err(|_| bad("amount"))?;
        Money::new(value, currency).map_err(|_| bad("amount"))
    }
}

pub fn parse_iban(s: &str) -> Result<Iban, WireError> {
    Iban::parse(s).map_err(|_| bad("IBAN"))
}

/// `Debug` redacts the password.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let username = &self.username;
        write!(
            f,
            "Credentials {{ username: {username:?}, password: [redacted] }}"
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authenticated {
    pub psu_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatusDto {
    Enabled,
    Blocked,
    Deleted,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountDto {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psu_id: Option<String>,
    pub iban: Iban,
    pub currency: String,
    pub name: String,
    pub product: String,
    /// ISO 20022 ExternalCashAccountType1Code: `CACC`, `SVGS`, …
    pub cash_account_type: String,
    pub status: AccountStatusDto,
}

impl From<&Account> for AccountDto {
    fn from(a: &Account) -> Self {
        AccountDto {
            id: a.id.0.clone(),
            psu_id: a.owner.as_ref().map(|p| p.0.clone()),
            iban: a.iban.clone(),
            currency: a.currency.as_str().to_owned(),
            name: a.name.clone(),
            product: a.product.clone(),
            cash_account_type: a.cash_account_type.clone(),
            status: match a.status {
                AccountStatus::Enabled => AccountStatusDto::Enabled,
                AccountStatus::Blocked => AccountStatusDto::Blocked,
                AccountStatus::Deleted => AccountStatusDto::Deleted,
            },
        }
    }
}

impl AccountDto {
    pub fn into_account(self) -> Result<Account, WireError> {
        if self.id.is_empty() {
            return Err(bad("account id"));
        }
        Ok(Account {
            id: AccountId(self.id),
            owner: self.psu_id.map(PsuId),
            iban: self.iban,
            currency: Currency::parse(&self.currency).map_err(|_| bad("currency"))?,
            name: self.name,
            product: self.product,
            cash_account_type: self.cash_account_type,
            status: match self.status {
                AccountStatusDto::Enabled => AccountStatus::Enabled,
                AccountStatusDto::Blocked => AccountStatus::Blocked,
                AccountStatusDto::Deleted => AccountStatus::Deleted,
            },
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountList {
    pub accounts: Vec<AccountDto>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BalanceTypeDto {
    ClosingBooked,
    Expected,
    InterimAvailable,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceDto {
    #[serde(rename = "type")]
    pub kind: BalanceTypeDto,
    pub amount: AmountDto,
    #[serde(with = "iso_date")]
    pub reference_date: Date,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_change_date_time: Option<OffsetDateTime>,
}

impl From<&Balance> for BalanceDto {
    fn from(b: &Balance) -> Self {
        BalanceDto {
            kind: match b.kind {
                BalanceType::ClosingBooked => BalanceTypeDto::ClosingBooked,
                BalanceType::Expected => BalanceTypeDto::Expected,
                BalanceType::InterimAvailable => BalanceTypeDto::InterimAvailable,
            },
            amount: (&b.amount).into(),
            reference_date: b.reference_date,
            last_change_date_time: b.last_change,
        }
    }
}

impl BalanceDto {
    pub fn into_balance(self) -> Result<Balance, WireError> {
        Ok(Balance {
            kind: match self.kind {
                BalanceTypeDto::ClosingBooked => BalanceType::ClosingBooked,
                BalanceTypeDto::Expected => BalanceType::Expected,
                BalanceTypeDto::InterimAvailable => BalanceType::InterimAvailable,
            },
            amount: self.amount.to_money()?,
            reference_date: self.reference_date,
            last_change: self.last_change_date_time,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BalanceList {
    pub balances: Vec<BalanceDto>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryStatus {
    Booked,
    Pending,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionDto {
    pub id: String,
    pub status: EntryStatus,
    #[serde(with = "iso_date")]
    pub booking_date: Date,
    #[serde(with = "iso_date")]
    pub value_date: Date,
    /// Signed from the account's point of view: negative is a debit.
    pub amount: AmountDto,
    pub counterparty_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterparty_iban: Option<Iban>,
    pub remittance: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_to_end_id: Option<String>,
}

impl From<&Transaction> for TransactionDto {
    fn from(t: &Transaction) -> Self {
        TransactionDto {
            id: t.id.0.clone(),
            status: if t.booked {
                EntryStatus::Booked
            } else {
                EntryStatus::Pending
            },
            booking_date: t.booking_date,
            value_date: t.value_date,
            amount: (&t.amount).into(),
            counterparty_name: t.counterparty_name.clone(),
            counterparty_iban: t.counterparty_iban.clone(),
            remittance: t.remittance.clone(),
            end_to_end_id: t.end_to_end_id.clone(),
        }
    }
}

impl TransactionDto {
    pub fn into_transaction(self) -> Result<Transaction, WireError> {
        if self.id.is_empty() {
            return Err(bad("transaction id"));
        }
        Ok(Transaction {
            id: TransactionId(self.id),
            booked: self.status == EntryStatus::Booked,
            booking_date: self.booking_date,
            value_date: self.value_date,
            amount: self.amount.to_money()?,
            counterparty_name: self.counterparty_name,
            counterparty_iban: self.counterparty_iban,
            remittance: self.remittance,
            end_to_end_id: self.end_to_end_id,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionPageDto {
    pub transactions: Vec<TransactionDto>,
    pub has_more: bool,
}

impl From<&TransactionPage> for TransactionPageDto {
    fn from(p: &TransactionPage) -> Self {
        TransactionPageDto {
            transactions: p.transactions.iter().map(Into::into).collect(),
            has_more: p.has_more,
        }
    }
}

impl TransactionPageDto {
    pub fn into_page(self) -> Result<TransactionPage, WireError> {
        Ok(TransactionPage {
            transactions: self
                .transactions
                .into_iter()
                .map(TransactionDto::into_transaction)
                .collect::<Result<_, _>>()?,
            has_more: self.has_more,
        })
    }
}

/// The query string of `GET /accounts/{id}/transactions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionQueryDto {
    /// `booked`, `pending` or `both`.
    pub status: String,
    #[serde(with = "iso_date")]
    pub date_from: Date,
    #[serde(with = "iso_date")]
    pub date_to: Date,
    #[serde(default)]
    pub offset: u64,
    #[serde(default = "default_limit")]
    pub limit: u32,
}

fn default_limit() -> u32 {
    100
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FundsCheck {
    pub iban: Iban,
    pub amount: AmountDto,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FundsAnswer {
    pub funds_available: bool,
}

/// What a one-time code authorizes; the core binds the challenge to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "lowercase",
    rename_all_fields = "camelCase"
)]
pub enum ScaContextDto {
    Consent {
        consent_id: String,
    },
    Payment {
        payment_id: String,
        amount: AmountDto,
        payee: Iban,
    },
}

impl From<&ScaContext> for ScaContextDto {
    fn from(c: &ScaContext) -> Self {
        match c {
            ScaContext::Consent { consent_id } => ScaContextDto::Consent {
                consent_id: consent_id.clone(),
            },
            ScaContext::Payment {
                payment_id,
                amount,
                payee,
            } => ScaContextDto::Payment {
                payment_id: payment_id.0.clone(),
                amount: amount.into(),
                payee: payee.clone(),
            },
        }
    }
}

impl ScaContextDto {
    pub fn to_context(&self) -> Result<ScaContext, WireError> {
        Ok(match self {
            ScaContextDto::Consent { consent_id } => ScaContext::Consent {
                consent_id: consent_id.clone(),
            },
            ScaContextDto::Payment {
                payment_id,
                amount,
                payee,
            } => ScaContext::Payment {
                payment_id: PaymentId(payment_id.clone()),
                amount: amount.to_money()?,
                payee: payee.clone(),
            },
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeRequest {
    pub psu_id: String,
    pub context: ScaContextDto,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeDto {
    pub challenge_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub prompt: String,
}

impl From<&ScaChallenge> for ChallengeDto {
    fn from(c: &ScaChallenge) -> Self {
        ChallengeDto {
            challenge_id: c.id.0.clone(),
            expires_at: c.expires_at,
            prompt: c.prompt.clone(),
        }
    }
}

impl ChallengeDto {
    pub fn into_challenge(self) -> Result<ScaChallenge, WireError> {
        if self.challenge_id.is_empty() {
            return Err(bad("challenge id"));
        }
        Ok(ScaChallenge {
            id: ChallengeId(self.challenge_id),
            expires_at: self.expires_at,
            prompt: self.prompt,
        })
    }
}

/// `Debug` redacts the one-time code.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyRequest {
    pub psu_id: String,
    pub context: ScaContextDto,
    pub otp: String,
}

impl std::fmt::Debug for VerifyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyRequest")
            .field("psu_id", &self.psu_id)
            .field("context", &self.context)
            .field("otp", &"[redacted]")
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictDto {
    Verified,
    Invalid,
    Unusable,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerifyAnswer {
    pub verdict: VerdictDto,
}

impl From<ScaVerdict> for VerifyAnswer {
    fn from(v: ScaVerdict) -> Self {
        VerifyAnswer {
            verdict: match v {
                ScaVerdict::Verified => VerdictDto::Verified,
                ScaVerdict::Invalid => VerdictDto::Invalid,
                ScaVerdict::Unusable => VerdictDto::Unusable,
            },
        }
    }
}

impl From<VerifyAnswer> for ScaVerdict {
    fn from(v: VerifyAnswer) -> Self {
        match v.verdict {
            VerdictDto::Verified => ScaVerdict::Verified,
            VerdictDto::Invalid => ScaVerdict::Invalid,
            VerdictDto::Unusable => ScaVerdict::Unusable,
        }
    }
}

/// The body of `PUT /payments/{paymentId}`; the path carries the id.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentOrderDto {
    pub debtor_iban: Iban,
    pub creditor_iban: Iban,
    pub creditor_name: String,
    pub amount: AmountDto,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remittance: Option<String>,
    #[serde(default)]
    pub instant: bool,
}

impl From<&PaymentOrder> for PaymentOrderDto {
    fn from(o: &PaymentOrder) -> Self {
        PaymentOrderDto {
            debtor_iban: o.debtor.clone(),
            creditor_iban: o.creditor.clone(),
            creditor_name: o.creditor_name.clone(),
            amount: (&o.amount).into(),
            remittance: o.remittance.clone(),
            instant: o.instant,
        }
    }
}

impl PaymentOrderDto {
    pub fn into_order(self, payment_id: &str) -> Result<PaymentOrder, WireError> {
        Ok(PaymentOrder {
            payment_id: PaymentId(payment_id.to_owned()),
            debtor: self.debtor_iban,
            creditor: self.creditor_iban,
            creditor_name: self.creditor_name,
            amount: self.amount.to_money()?,
            remittance: self.remittance,
            instant: self.instant,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentStatusDto {
    Executed,
    Pending,
    Rejected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RejectReasonDto {
    InsufficientFunds,
    UnknownDebtor,
    AccountBlocked,
    CurrencyMismatch,
    /// Any other reason, including ones a newer core may add.
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentOutcomeDto {
    pub status: PaymentStatusDto,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reject_reason: Option<RejectReasonDto>,
}

impl From<&PaymentOutcome> for PaymentOutcomeDto {
    fn from(o: &PaymentOutcome) -> Self {
        let (status, tx, reason) = match o {
            PaymentOutcome::Executed { transaction_id } => {
                (PaymentStatusDto::Executed, Some(transaction_id), None)
            }
            PaymentOutcome::Pending { transaction_id } => {
                (PaymentStatusDto::Pending, Some(transaction_id), None)
            }
            PaymentOutcome::Rejected { reason } => (
                PaymentStatusDto::Rejected,
                None,
                Some(match reason {
                    RejectReason::InsufficientFunds => RejectReasonDto::InsufficientFunds,
                    RejectReason::UnknownDebtor => RejectReasonDto::UnknownDebtor,
                    RejectReason::AccountBlocked => RejectReasonDto::AccountBlocked,
                    RejectReason::CurrencyMismatch => RejectReasonDto::CurrencyMismatch,
                    RejectReason::Other => RejectReasonDto::Other,
                }),
            ),
        };
        PaymentOutcomeDto {
            status,
            transaction_id: tx.map(|t| t.0.clone()),
            reject_reason: reason,
        }
    }
}

impl PaymentOutcomeDto {
    pub fn into_outcome(self) -> Result<PaymentOutcome, WireError> {
        let transaction_id = || {
            self.transaction_id
                .clone()
                .filter(|t| !t.is_empty())
                .map(TransactionId)
                .ok_or_else(|| bad("payment outcome: transactionId missing"))
        };
        Ok(match self.status {
            PaymentStatusDto::Executed => PaymentOutcome::Executed {
                transaction_id: transaction_id()?,
            },
            PaymentStatusDto::Pending => PaymentOutcome::Pending {
                transaction_id: transaction_id()?,
            },
            PaymentStatusDto::Rejected => PaymentOutcome::Rejected {
                reason: match self.reject_reason.unwrap_or(RejectReasonDto::Other) {
                    RejectReasonDto::InsufficientFunds => RejectReason::InsufficientFunds,
                    RejectReasonDto::UnknownDebtor => RejectReason::UnknownDebtor,
                    RejectReasonDto::AccountBlocked => RejectReason::AccountBlocked,
                    RejectReasonDto::CurrencyMismatch => RejectReason::CurrencyMismatch,
                    RejectReasonDto::Other => RejectReason::Other,
                },
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_signed_decimal_strings_with_the_currency_s_decimals() {
        let dto = |a: &str| AmountDto {
            currency: "EUR".into(),
            amount: a.into(),
        };
        assert_eq!(dto("-12.30").to_money().unwrap().minor_units(), -1230);
        assert_eq!(dto("7").to_money().unwrap().minor_units(), 700);
        for bad in [
            "", "-", "1e3", "1.234", "12,30", ".5", "5.", "+1", "--1", " 1",
        ] {
            assert!(dto(bad).to_money().is_err(), "{bad:?}");
        }
        let m = Money::from_minor(-1230, Currency::EUR);
        assert_eq!(AmountDto::from(&m), dto("-12.30"));
    }

    #[test]
    fn sca_contexts_are_tagged_by_kind() {
        let ctx = ScaContext::Payment {
            payment_id: PaymentId("p-1".into()),
            amount: Money::from_minor(1000, Currency::EUR),
            payee: Iban::german("99912345", 1).unwrap(),
        };
        let json = serde_json::to_value(ScaContextDto::from(&ctx)).unwrap();
        assert_eq!(json["kind"], "payment");
        assert_eq!(json["paymentId"], "p-1");
        assert_eq!(json["amount"]["amount"], "10.00");
        let back: ScaContextDto = serde_json::from_value(json).unwrap();
        assert_eq!(back.to_context().unwrap(), ctx);
    }

    #[test]
    fn an_unknown_reject_reason_is_other() {
        let dto: PaymentOutcomeDto =
            serde_json::from_str(r#"{"status":"rejected","rejectReason":"sanctionsHit"}"#).unwrap();
        assert_eq!(
            dto.into_outcome().unwrap(),
            PaymentOutcome::Rejected {
                reason: RejectReason::Other
            }
        );
        let dto: PaymentOutcomeDto = serde_json::from_str(r#"{"status":"executed"}"#).unwrap();
        assert!(
            dto.into_outcome().is_err(),
            "executed needs a transaction id"
        );
    }
}
