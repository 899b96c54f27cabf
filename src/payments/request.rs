//! `POST /v1/payments/{product}` bodies, parsed from JSON by hand so that every
//! error names the field it is about, and nothing leaves this module unvalidated:
//! IBANs (country length + mod-97), ISO 4217 currencies with their minor units,
//! amounts as decimal strings (never JSON numbers, never floats).

use rust_decimal::Decimal;
use serde_json::{Map, Value};
use time::Date;
use time::macros::format_description;

use super::error::PaymentError;
use super::model::Product;
use crate::domain::{Currency, Iban, Money, MoneyError};

const FIELDS: [&str; 8] = [
    "instructedAmount",
    "debtorAccount",
    "creditorAccount",
    "creditorName",
    "creditorAgent",
    "remittanceInformationUnstructured",
    "endToEndIdentification",
    "requestedExecutionDate",
];

/// Berlin Group `Max70Text`.
pub const MAX_CREDITOR_NAME: usize = 70;
/// Berlin Group `Max140Text`.
pub const MAX_REMITTANCE: usize = 140;
/// Berlin Group `Max35Text`.
pub const MAX_END_TO_END_ID: usize = 35;

/// The limits a payment must stay within (bank configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentLimits {
    /// The largest amount accepted, in the payment's currency.
    pub max_amount: Decimal,
}

/// A valid payment initiation.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentRequest {
    pub product: Product,
    pub amount: Money,
    pub debtor: Iban,
    pub creditor: Iban,
    pub creditor_name: String,
    pub remittance: Option<String>,
    pub end_to_end_id: Option<String>,
}

impl PaymentRequest {
    /// Parses and validates a body for `product`. `today` is the bank's business
    /// date (UTC): a `requestedExecutionDate` other than today is refused.
    pub fn parse(
        product: Product,
        body: &Value,
        today: Date,
        limits: &PaymentLimits,
    ) -> Result<PaymentRequest, PaymentError> {
        let obj = object(body, "body")?;
        only_fields(obj, &FIELDS, "")?;

        let amount = instructed_amount(obj)?;
        let currency = amount.currency();
        if amount.amount() > limits.max_amount {
            return Err(PaymentError::format(
                "instructedAmount.amount",
                format!("must not exceed {} {currency}", limits.max_amount),
            ));
        }
        if product.is_sepa() && currency != Currency::EUR {
            return Err(PaymentError::format(
                "instructedAmount.currency",
                format!("{product} are in EUR only"),
            ));
        }

        let debtor = account(obj, "debtorAccount", currency)?;
        let creditor = account(obj, "creditorAccount", currency)?;
        if debtor == creditor {
            return Err(PaymentError::format(
                "creditorAccount.iban",
                "must differ from debtorAccount.iban",
            ));
        }

        let creditor_name = text(obj, "creditorName", MAX_CREDITOR_NAME)?
            .ok_or_else(|| PaymentError::format("creditorName", "is required"))?;
        let remittance = text(obj, "remittanceInformationUnstructured", MAX_REMITTANCE)?;
        let end_to_end_id = text(obj, "endToEndIdentification", MAX_END_TO_END_ID)?;
        if let Some(agent) = obj.get("creditorAgent").filter(|v| !v.is_null()) {
            let bic = string(agent, "creditorAgent")?;
            if !is_bic(bic) {
                return Err(PaymentError::format(
                    "creditorAgent",
                    "must be a BIC (8 or 11 characters)",
                ));
            }
        }
        if let Some(date) = obj.get("requestedExecutionDate").filter(|v| !v.is_null()) {
            let date = string(date, "requestedExecutionDate")?;
            let date =
                Date::parse(date, format_description!("[year]-[month]-[day]")).map_err(|_| {
                    PaymentError::format("requestedExecutionDate", "must be a date (YYYY-MM-DD)")
                })?;
            if date != today {
                return Err(PaymentError::ExecutionDateInvalid(format!(
                    "only immediate payments are supported: the date must be today ({today}) or absent"
                )));
            }
        }
        Ok(PaymentRequest {
            product,
            amount,
            debtor,
            creditor,
            creditor_name,
            remittance,
            end_to_end_id,
        })
    }
}

/// Berlin Group `instructedAmount`: an ISO 4217 currency and a positive decimal
/// **string** with at most the currency's minor units.
pub(crate) fn instructed_amount(obj: &Map<String, Value>) -> Result<Money, PaymentError> {
    let instructed = object(required(obj, "instructedAmount", "")?, "instructedAmount")?;
    only_fields(instructed, &["currency", "amount"], "instructedAmount.")?;
    let currency_text = string(
        required(instructed, "currency", "instructedAmount.")?,
        "instructedAmount.currency",
    )?;
    let currency = Currency::parse(currency_text).map_err(|_| {
        PaymentError::format(
            "instructedAmount.currency",
            "must be an ISO 4217 currency code",
        )
    })?;
    let amount_value = required(instructed, "amount", "instructedAmount.")?;
    let Value::String(amount_text) = amount_value else {
        return Err(PaymentError::format(
            "instructedAmount.amount",
            "must be a decimal string such as \"12.30\" (a JSON number is not accepted)",
        ));
    };
    let amount = Money::parse_positive(amount_text, currency).map_err(|e| {
        let message = match e {
            MoneyError::NotADecimal => "must be a decimal string such as \"12.30\"".to_owned(),
            MoneyError::TooManyDecimals => format!(
                "{currency} allows at most {} decimal places",
                currency.minor_units()
            ),
            MoneyError::NotPositive => "must be greater than zero".to_owned(),
            MoneyError::TooLarge => "is too large".to_owned(),
        };
        PaymentError::format("instructedAmount.amount", message)
    })?;
    Ok(amount)
}

pub(crate) fn object<'a>(
    value: &'a Value,
    path: &str,
) -> Result<&'a Map<String, Value>, PaymentError> {
    value
        .as_object()
        .ok_or_else(|| PaymentError::format(path, "must be a JSON object"))
}

pub(crate) fn only_fields(
    obj: &Map<String, Value>,
    allowed: &[&str],
    prefix: &str,
) -> Result<(), PaymentError> {
    let unknown: Vec<String> = obj
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| format!("{prefix}{k}"))
        .collect();
    match unknown.first() {
        Some(first) => Err(PaymentError::format(
            first.clone(),
            format!("unknown field(s): {}", unknown.join(", ")),
        )),
        None => Ok(()),
    }
}

pub(crate) fn required<'a>(
    obj: &'a Map<String, Value>,
    field: &str,
    prefix: &str,
) -> Result<&'a Value, PaymentError> {
    match obj.get(field) {
        None | Some(Value::Null) => Err(PaymentError::format(
            format!("{prefix}{field}"),
            "is required",
        )),
        Some(v) => Ok(v),
    }
}

pub(crate) fn string<'a>(value: &'a Value, path: &str) -> Result<&'a str, PaymentError> {
    value
        .as_str()
        .ok_or_else(|| PaymentError::format(path, "must be a string"))
}

/// An optional free-text field: a non-blank string of at most `max` characters,
/// without control characters.
pub(crate) fn text(
    obj: &Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<Option<String>, PaymentError> {
    let Some(value) = obj.get(field).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let s = string(value, field)?;
    crate::domain::check_free_text(s, max).map_err(|m| PaymentError::format(field, m))?;
    Ok(Some(s.to_owned()))
}

/// Berlin Group `accountReference`, IBAN only, with an optional currency that
/// must match the payment's.
fn account(
    obj: &Map<String, Value>,
    field: &str,
    currency: Currency,
) -> Result<Iban, PaymentError> {
    let reference = object(required(obj, field, "")?, field)?;
    let prefix = format!("{field}.");
    only_fields(reference, &["iban", "currency"], &prefix)?;
    let iban_path = format!("{field}.iban");
    let iban = string(required(reference, "iban", &prefix)?, &iban_path)?;
    let iban = Iban::parse(iban).map_err(|_| {
        PaymentError::format(
            iban_path.clone(),
            "is not a valid IBAN (country length and check digits)",
        )
    })?;
    if let Some(c) = reference.get("currency").filter(|v| !v.is_null()) {
        let path = format!("{field}.currency");
        let c = Currency::parse(string(c, &path)?)
            .map_err(|_| PaymentError::format(path.clone(), "must be an ISO 4217 currency code"))?;
        if c != currency {
            return Err(PaymentError::format(
                path,
                "must match instructedAmount.currency",
            ));
        }
    }
    Ok(iban)
}

fn is_bic(s: &str) -> bool {
    (s.len() == 8 || s.len() == 11)
        && s[..6].bytes().all(|b| b.is_ascii_uppercase())
        && s[6..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 28);

    fn limits() -> PaymentLimits {
        PaymentLimits {
            max_amount: Decimal::from(100_000),
        }
    }

    fn body() -> Value {
        json!({
            "instructedAmount": {"currency": "EUR", "amount": "123.50"},
            "debtorAccount": {"iban": "DE89370400440532013000"},
            "creditorAccount": {"iban": "DE02120300000000202051"},
            "creditorName": "Merchant GmbH",
            "remittanceInformationUnstructured": "Invoice 42"
        })
    }

    fn parse(product: Product, body: &Value) -> Result<PaymentRequest, PaymentError> {
        PaymentRequest::parse(product, body, TODAY, &limits())
    }

    fn path_of(result: Result<PaymentRequest, PaymentError>) -> String {
        match result {
            Err(PaymentError::Format { path, .. }) => path,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn a_complete_sepa_payment_parses_into_types() {
        let p = parse(Product::SepaCreditTransfers, &body()).unwrap();
        assert_eq!(p.amount.amount_string(), "123.50");
        assert_eq!(p.amount.minor_units(), 12_350);
        assert_eq!(p.debtor.as_str(), "DE89370400440532013000");
        assert_eq!(p.creditor_name, "Merchant GmbH");
        assert_eq!(p.remittance.as_deref(), Some("Invoice 42"));
    }

    #[test]
    fn every_invalid_field_is_named_in_the_error() {
        let cases: Vec<(&str, Value, &str)> = vec![
            (
                "number amount",
                json!({"amount": 10.5}),
                "instructedAmount.amount",
            ),
            (
                "three decimals in EUR",
                json!({"amount": "10.001"}),
                "instructedAmount.amount",
            ),
            ("zero", json!({"amount": "0.00"}), "instructedAmount.amount"),
            (
                "negative",
                json!({"amount": "-5"}),
                "instructedAmount.amount",
            ),
            (
                "exponent",
                json!({"amount": "1e3"}),
                "instructedAmount.amount",
            ),
            (
                "over the limit",
                json!({"amount": "100000.01"}),
                "instructedAmount.amount",
            ),
            (
                "unknown currency",
                json!({"currency": "XYZ"}),
                "instructedAmount.currency",
            ),
            (
                "lower-case currency",
                json!({"currency": "eur"}),
                "instructedAmount.currency",
            ),
            (
                "USD on SEPA",
                json!({"currency": "USD"}),
                "instructedAmount.currency",
            ),
        ];
        for (name, patch, path) in cases {
            let mut b = body();
            for (k, v) in patch.as_object().unwrap() {
                b["instructedAmount"][k] = v.clone();
            }
            assert_eq!(
                path_of(parse(Product::SepaCreditTransfers, &b)),
                path,
                "{name}"
            );
        }
        let field_cases: Vec<(&str, Value, &str)> = vec![
            (
                "bad check digits",
                json!({"debtorAccount": {"iban": "DE89370400440532013001"}}),
                "debtorAccount.iban",
            ),
            (
                "wrong country length",
                json!({"creditorAccount": {"iban": "DE0212030000000020205"}}),
                "creditorAccount.iban",
            ),
            (
                "bban instead of iban",
                json!({"debtorAccount": {"bban": "370400440532013000"}}),
                "debtorAccount.bban",
            ),
            (
                "same accounts",
                json!({"creditorAccount": {"iban": "DE89 3704 0044 0532 0130 00"}}),
                "creditorAccount.iban",
            ),
            (
                "account currency differs",
                json!({"debtorAccount": {"iban": "DE89370400440532013000", "currency": "USD"}}),
                "debtorAccount.currency",
            ),
            (
                "creditor name too long",
                json!({"creditorName": "x".repeat(71)}),
                "creditorName",
            ),
            (
                "creditor name missing",
                json!({"creditorName": null}),
                "creditorName",
            ),
            (
                "creditor name blank",
                json!({"creditorName": "  "}),
                "creditorName",
            ),
            (
                "remittance too long",
                json!({"remittanceInformationUnstructured": "r".repeat(141)}),
                "remittanceInformationUnstructured",
            ),
            (
                "remittance not a string",
                json!({"remittanceInformationUnstructured": 42}),
                "remittanceInformationUnstructured",
            ),
            (
                "end-to-end id too long",
                json!({"endToEndIdentification": "e".repeat(36)}),
                "endToEndIdentification",
            ),
            (
                "bad BIC",
                json!({"creditorAgent": "notabic"}),
                "creditorAgent",
            ),
            (
                "bad date",
                json!({"requestedExecutionDate": "28.11.2026"}),
                "requestedExecutionDate",
            ),
            (
                "unknown field",
                json!({"chargeBearer": "SLEV"}),
                "chargeBearer",
            ),
            (
                "missing amount object",
                json!({"instructedAmount": null}),
                "instructedAmount",
            ),
        ];
        for (name, patch, path) in field_cases {
            let mut b = body();
            for (k, v) in patch.as_object().unwrap() {
                if v.is_null() {
                    b.as_object_mut().unwrap().remove(k);
                } else {
                    b[k] = v.clone();
                }
            }
            assert_eq!(
                path_of(parse(Product::SepaCreditTransfers, &b)),
                path,
                "{name}"
            );
        }
        assert_eq!(
            path_of(parse(Product::SepaCreditTransfers, &json!([1]))),
            "body"
        );
    }

    #[test]
    fn an_execution_date_other_than_today_is_refused_with_its_own_code() {
        let mut b = body();
        b["requestedExecutionDate"] = json!("2026-11-29");
        assert!(matches!(
            parse(Product::SepaCreditTransfers, &b),
            Err(PaymentError::ExecutionDateInvalid(_))
        ));
        b["requestedExecutionDate"] = json!("2026-11-28");
        assert!(parse(Product::SepaCreditTransfers, &b).is_ok());
    }

    #[test]
    fn cross_border_payments_take_any_currency_with_its_own_minor_units() {
        let mut b = body();
        b["instructedAmount"] = json!({"currency": "JPY", "amount": "1500"});
        let p = parse(Product::CrossBorderCreditTransfers, &b).unwrap();
        assert_eq!(p.amount.minor_units(), 1500);
        b["instructedAmount"] = json!({"currency": "JPY", "amount": "1500.5"});
        assert_eq!(
            path_of(parse(Product::CrossBorderCreditTransfers, &b)),
            "instructedAmount.amount"
        );
        b["instructedAmount"] = json!({"currency": "USD", "amount": "10.25"});
        assert!(parse(Product::CrossBorderCreditTransfers, &b).is_ok());
    }
}
