//! The body of `POST /interbank/v1/credits`, both ways: [`Credit::parse`] on the
//! receiving bank (every error names its field) and [`Credit::to_json`] on the
//! paying bank; and the answers, with ISO 20022 reason codes for refusals.
//!
//! ```json
//! {"paymentId": "…",
//!  "debtor": {"iban": "DE…", "name": "Alice Example"},
//!  "creditor": {"iban": "DE…", "name": "Bob Example"},
//!  "instructedAmount": {"currency": "EUR", "amount": "12.30"},
//!  "remittanceInformationUnstructured": "Invoice 42"}
//! ```

use serde_json::{Map, Value, json};

use super::InterbankError;
use crate::core::{CreditRefusal, IncomingCredit, PaymentId};
use crate::domain::{Iban, Money};
use crate::payments::{
    MAX_CREDITOR_NAME, MAX_REMITTANCE, instructed_amount, object, only_fields, required, string,
    text,
};

const FIELDS: [&str; 5] = [
    "paymentId",
    "debtor",
    "creditor",
    "instructedAmount",
    "remittanceInformationUnstructured",
];

/// The longest payment id accepted (the paying bank's id; this gateway's are UUIDs).
pub const MAX_PAYMENT_ID: usize = 64;

/// A credit transfer from a customer of the paying bank to a customer of the
/// receiving bank, as the two banks exchange it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credit {
    /// The paying bank's payment id: with the paying bank, the idempotency key.
    pub payment_id: PaymentId,
    pub debtor: Iban,
    /// Optional: the paying bank may not know its customer's name.
    pub debtor_name: Option<String>,
    pub creditor: Iban,
    pub creditor_name: String,
    pub amount: Money,
    pub remittance: Option<String>,
}

impl Credit {
    pub fn parse(body: &Value) -> Result<Credit, InterbankError> {
        let obj = object(body, "body")?;
        only_fields(obj, &FIELDS, "")?;
        let id = string(required(obj, "paymentId", "")?, "paymentId")?;
        let id_ok = !id.is_empty()
            && id.len() <= MAX_PAYMENT_ID
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !id_ok {
            return Err(InterbankError::format(
                "paymentId",
                format!("must be 1 to {MAX_PAYMENT_ID} letters, digits, '-', '_' or '.'"),
            ));
        }
        let (debtor, debtor_name) = party(obj, "debtor")?;
        let (creditor, creditor_name) = party(obj, "creditor")?;
        let creditor_name =
            creditor_name.ok_or_else(|| InterbankError::format("creditor.name", "is required"))?;
        if debtor == creditor {
            return Err(InterbankError::format(
                "creditor.iban",
                "must differ from debtor.iban",
            ));
        }
        Ok(Credit {
            payment_id: PaymentId(id.to_owned()),
            debtor,
            debtor_name,
            creditor,
            creditor_name,
            amount: instructed_amount(obj)?,
            remittance: text(obj, "remittanceInformationUnstructured", MAX_REMITTANCE)?,
        })
    }

    /// The wire form; [`Credit::parse`] reads it back to an equal credit.
    pub fn to_json(&self) -> Value {
        let mut debtor = json!({ "iban": self.debtor.as_str() });
        if let Some(name) = &self.debtor_name {
            debtor["name"] = json!(name);
        }
        let mut body = json!({
            "paymentId": self.payment_id.as_str(),
            "debtor": debtor,
            "creditor": { "iban": self.creditor.as_str(), "name": self.creditor_name },
            "instructedAmount": {
                "currency": self.amount.currency().as_str(),
                "amount": self.amount.amount_string(),
            },
        });
        if let Some(remittance) = &self.remittance {
            body["remittanceInformationUnstructured"] = json!(remittance);
        }
        body
    }

    /// A digest of what the credit moves (payment id, both IBANs, amount,
    /// remittance): equal for the same credit however the JSON was spelled (key
    /// order, `"12.3"` vs `"12.30"`). The names are left out: they only inform,
    /// and a bank may spell its customer's name differently on a retry.
    pub fn fingerprint(&self) -> String {
        let text = [
            self.payment_id.as_str(),
            self.debtor.as_str(),
            self.creditor.as_str(),
            self.amount.currency().as_str(),
            &self.amount.amount_string(),
            self.remittance.as_deref().unwrap_or_default(),
        ]
        .join("\n");
        crate::secret::sha256_hex(&text)
    }

    /// The credit as the core books it, sent by `peer`.
    pub fn incoming(&self, peer: &str) -> IncomingCredit {
        IncomingCredit {
            peer: peer.to_owned(),
            payment_id: self.payment_id.clone(),
            debtor: self.debtor.clone(),
            debtor_name: self.debtor_name.clone(),
            creditor: self.creditor.clone(),
            creditor_name: self.creditor_name.clone(),
            amount: self.amount,
            remittance: self.remittance.clone(),
        }
    }
}

/// `{iban, name}`; the name is optional here, and required by the caller where
/// it must be.
fn party(obj: &Map<String, Value>, field: &str) -> Result<(Iban, Option<String>), InterbankError> {
    let party = object(required(obj, field, "")?, field)?;
    let prefix = format!("{field}.");
    only_fields(party, &["iban", "name"], &prefix)?;
    let path = format!("{field}.iban");
    let iban = Iban::parse(string(required(party, "iban", &prefix)?, &path)?).map_err(|_| {
        InterbankError::format(
            path.clone(),
            "is not a valid IBAN (country length and check digits)",
        )
    })?;
    let name = text(party, "name", MAX_CREDITOR_NAME).map_err(|e| match e {
        crate::payments::PaymentError::Format { message, .. } => {
            InterbankError::format(format!("{field}.name"), message)
        }
        other => InterbankError::from(other),
    })?;
    Ok((iban, name))
}

/// What the receiving bank answers a credit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditAnswer {
    /// `201 {"status": "ACSC", "creditId"}`: booked on the creditor's account.
    Accepted { credit_id: String },
    /// `422 {"status": "RJCT", "reason"}`: refused for good.
    Refused { reason: CreditRefusal },
}

impl CreditAnswer {
    /// The ISO 20022 transaction status: `ACSC` or `RJCT`.
    pub fn status(&self) -> &'static str {
        match self {
            CreditAnswer::Accepted { .. } => "ACSC",
            CreditAnswer::Refused { .. } => "RJCT",
        }
    }
}

/// The ISO 20022 `ExternalStatusReason1Code` of a refusal, as SEPA returns
/// carry it.
pub fn reason_code(reason: CreditRefusal) -> &'static str {
    match reason {
        // InvalidCreditorAccountNumber.
        CreditRefusal::UnknownCreditor => "AC03",
        // ClosedAccountNumber.
        CreditRefusal::AccountClosed => "AC04",
        // BlockedAccount.
        CreditRefusal::AccountBlocked => "AC06",
        // NotAllowedCurrency.
        CreditRefusal::CurrencyMismatch => "AM03",
        // NotSpecifiedReasonAgentGenerated.
        CreditRefusal::Other => "MS03",
    }
}

/// The inverse of [`reason_code`]; unknown codes read as `Other`.
pub fn refusal_of(code: &str) -> CreditRefusal {
    match code {
        "AC03" => CreditRefusal::UnknownCreditor,
        "AC04" => CreditRefusal::AccountClosed,
        "AC06" => CreditRefusal::AccountBlocked,
        "AM03" => CreditRefusal::CurrencyMismatch,
        _ => CreditRefusal::Other,
    }
}

/// For the people reading the refusal (`tppMessages[].text`).
pub fn refusal_text(reason: CreditRefusal) -> &'static str {
    match reason {
        CreditRefusal::UnknownCreditor => "The creditor account is not held at this bank.",
        CreditRefusal::AccountClosed => "The creditor account is closed.",
        CreditRefusal::AccountBlocked => "The creditor account is blocked.",
        CreditRefusal::CurrencyMismatch => "The creditor account is kept in another currency.",
        CreditRefusal::Other => "The credit cannot be booked.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> Value {
        json!({
            "paymentId": "3f1c9d3e-2b7a-4c43-9a53-1f0e5f3b8c21",
            "debtor": {"iban": "DE89370400440532013000", "name": "Alice Example"},
            "creditor": {"iban": "DE02120300000000202051", "name": "Bob Example"},
            "instructedAmount": {"currency": "EUR", "amount": "12.3"},
            "remittanceInformationUnstructured": "Invoice 42"
        })
    }

    #[test]
    fn a_credit_round_trips_through_its_wire_form() {
        let credit = Credit::parse(&body()).unwrap();
        assert_eq!(credit.amount.minor_units(), 1230);
        assert_eq!(Credit::parse(&credit.to_json()).unwrap(), credit);
        let mut no_names = body();
        no_names["debtor"] = json!({"iban": "DE89370400440532013000"});
        no_names
            .as_object_mut()
            .unwrap()
            .remove("remittanceInformationUnstructured");
        let credit = Credit::parse(&no_names).unwrap();
        assert_eq!(Credit::parse(&credit.to_json()).unwrap(), credit);
    }

    #[test]
    fn the_fingerprint_ignores_spelling_but_not_content() {
        let a = Credit::parse(&body()).unwrap();
        let mut respelled = body();
        respelled["instructedAmount"]["amount"] = json!("12.30");
        assert_eq!(
            Credit::parse(&respelled).unwrap().fingerprint(),
            a.fingerprint()
        );
        respelled["debtor"]["name"] = json!("A. Example");
        assert_eq!(
            Credit::parse(&respelled).unwrap().fingerprint(),
            a.fingerprint()
        );
        let mut other = body();
        other["instructedAmount"]["amount"] = json!("12.31");
        assert_ne!(
            Credit::parse(&other).unwrap().fingerprint(),
            a.fingerprint()
        );
    }

    /// Breaks a valid body in one way.
    type Breakage = fn(&mut Value);

    #[test]
    fn every_malformed_credit_names_its_field() {
        let cases: Vec<(&str, Breakage)> = vec![
            ("body", |b| *b = json!([])),
            ("paymentId", |b| b["paymentId"] = json!("")),
            ("paymentId", |b| b["paymentId"] = json!("a/b")),
            ("paymentId", |b| b["paymentId"] = json!(42)),
            ("debtor", |b| b["debtor"] = Value::Null),
            ("debtor.iban", |b| b["debtor"]["iban"] = json!("DE00")),
            ("debtor.name", |b| b["debtor"]["name"] = json!(" ")),
            ("debtor.bic", |b| b["debtor"]["bic"] = json!("X")),
            ("creditor.name", |b| b["creditor"]["name"] = Value::Null),
            ("creditor.iban", |b| {
                b["creditor"]["iban"] = json!("DE89370400440532013000");
            }),
            ("instructedAmount.amount", |b| {
                b["instructedAmount"]["amount"] = json!(12.3);
            }),
            ("instructedAmount.amount", |b| {
                b["instructedAmount"]["amount"] = json!("1.001");
            }),
            ("instructedAmount.currency", |b| {
                b["instructedAmount"]["currency"] = json!("EURO");
            }),
            ("remittanceInformationUnstructured", |b| {
                b["remittanceInformationUnstructured"] = json!("x".repeat(141));
            }),
            ("endToEndId", |b| b["endToEndId"] = json!("E2E")),
        ];
        for (path, break_it) in cases {
            let mut b = body();
            break_it(&mut b);
            match Credit::parse(&b) {
                Err(InterbankError::Format { path: p, .. }) => assert_eq!(p, path),
                other => panic!("{path}: {other:?}"),
            }
        }
    }

    #[test]
    fn reason_codes_round_trip() {
        for r in [
            CreditRefusal::UnknownCreditor,
            CreditRefusal::AccountClosed,
            CreditRefusal::AccountBlocked,
            CreditRefusal::CurrencyMismatch,
            CreditRefusal::Other,
        ] {
            assert_eq!(refusal_of(reason_code(r)), r);
        }
    }
}
