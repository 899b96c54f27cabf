//! The two confirmation-of-funds bodies, parsed from JSON by hand so that every
//! error names the field it is about: the consent (`consentsConfirmationOfFunds`)
//! and the funds check (`confirmationOfFunds`).

use serde_json::{Map, Value};
use time::macros::format_description;
use time::{Date, Duration};

use super::{FundsAccess, FundsCheck};
use crate::consent::access::{parse_reference, reference_value};
use crate::consent::error::ConsentError;
use crate::consent::model::ConsentSettings;
use crate::domain::{Currency, Money, MoneyError};

const CONSENT_FIELDS: [&str; 5] = [
    "account",
    "cardNumber",
    "cardExpiryDate",
    "cardInformation",
    "registrationInformation",
];
const CHECK_FIELDS: [&str; 4] = ["account", "instructedAmount", "cardNumber", "payee"];

/// Berlin Group `Max35Text` for `cardNumber`.
const MAX_CARD_NUMBER: usize = 35;
/// Berlin Group `Max140Text` for `cardInformation` and `registrationInformation`.
const MAX_INFORMATION: usize = 140;
/// Berlin Group `Max70Text` for `payee`.
const MAX_PAYEE: usize = 70;

/// A valid request for a new confirmation-of-funds consent, with the bank's
/// limits applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundsConsentRequest {
    pub access: FundsAccess,
    /// `today + max_validity_days`, or the card's expiry date if earlier.
    pub valid_until: Date,
}

impl FundsConsentRequest {
    /// Parses and validates a consent body. `today` is the current UTC date: a
    /// `cardExpiryDate` may not lie before it.
    pub fn parse(
        body: &Value,
        today: Date,
        settings: &ConsentSettings,
    ) -> Result<FundsConsentRequest, ConsentError> {
        let access = FundsAccess::parse(body)?;
        let latest = today
            .checked_add(Duration::days(settings.max_validity_days))
            .unwrap_or(Date::MAX);
        let valid_until = match access.card_expiry_date {
            Some(expiry) if expiry < today => {
                return Err(ConsentError::format(
                    "cardExpiryDate",
                    "the card has expired",
                ));
            }
            Some(expiry) => expiry.min(latest),
            None => latest,
        };
        Ok(FundsConsentRequest {
            access,
            valid_until,
        })
    }
}

impl FundsAccess {
    /// Parses the body of `POST /v2/consents/confirmation-of-funds` (and the
    /// stored form): `account` (an IBAN reference) is required; `cardNumber`,
    /// `cardExpiryDate`, `cardInformation` and `registrationInformation` are
    /// optional; any other field is a [`ConsentError::Format`] naming it.
    pub fn parse(body: &Value) -> Result<FundsAccess, ConsentError> {
        let obj = object(body)?;
        only_fields(obj, &CONSENT_FIELDS)?;
        let account = parse_reference(required(obj, "account")?, "account")?;
        let card_expiry_date = match present(obj, "cardExpiryDate") {
            None => None,
            Some(Value::String(s)) => Some(
                Date::parse(s, format_description!("[year]-[month]-[day]")).map_err(|_| {
                    ConsentError::format("cardExpiryDate", "must be a date (YYYY-MM-DD)")
                })?,
            ),
            Some(_) => {
                return Err(ConsentError::format(
                    "cardExpiryDate",
                    "must be a date string (YYYY-MM-DD)",
                ));
            }
        };
        Ok(FundsAccess {
            account,
            card_number: card_number(obj)?,
            card_expiry_date,
            card_information: text(obj, "cardInformation", MAX_INFORMATION)?,
            registration_information: text(obj, "registrationInformation", MAX_INFORMATION)?,
        })
    }

    /// The Berlin Group JSON of this access (as stored; the fields of the
    /// consent as `GET /v2/consents/confirmation-of-funds/{id}` returns them).
    pub fn to_value(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("account".into(), reference_value(&self.account));
        let mut put = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                obj.insert(name.into(), Value::String(v));
            }
        };
        put("cardNumber", self.card_number.clone());
        put(
            "cardExpiryDate",
            self.card_expiry_date.map(|d| d.to_string()),
        );
        put("cardInformation", self.card_information.clone());
        put(
            "registrationInformation",
            self.registration_information.clone(),
        );
        Value::Object(obj)
    }
}

impl FundsCheck {
    /// Parses a `POST /v1/funds-confirmations` body: `account` (an IBAN
    /// reference) and `instructedAmount` (`currency`, and `amount` as a decimal
    /// string with at most the currency's minor units) are required; `cardNumber`
    /// and `payee` are optional; any other field is refused naming it.
    pub fn parse(body: &Value) -> Result<FundsCheck, ConsentError> {
        let obj = object(body)?;
        only_fields(obj, &CHECK_FIELDS)?;
        let account = parse_reference(required(obj, "account")?, "account")?;
        let amount = instructed_amount(required(obj, "instructedAmount")?)?;
        Ok(FundsCheck {
            account,
            amount,
            card_number: card_number(obj)?,
            payee: text(obj, "payee", MAX_PAYEE)?,
        })
    }
}

fn instructed_amount(value: &Value) -> Result<Money, ConsentError> {
    let obj = value
        .as_object()
        .ok_or_else(|| ConsentError::format("instructedAmount", "must be an object"))?;
    if let Some(other) = obj
        .keys()
        .find(|k| !["currency", "amount"].contains(&k.as_str()))
    {
        return Err(ConsentError::format(
            format!("instructedAmount.{other}"),
            "is not a field of amount",
        ));
    }
    let currency = match obj.get("currency") {
        None | Some(Value::Null) => {
            return Err(ConsentError::format(
                "instructedAmount.currency",
                "is required",
            ));
        }
        Some(Value::String(s)) => Currency::parse(s).map_err(|_| {
            ConsentError::format(
                "instructedAmount.currency",
                "must be an ISO 4217 currency code",
            )
        })?,
        Some(_) => {
            return Err(ConsentError::format(
                "instructedAmount.currency",
                "must be a string",
            ));
        }
    };
    let text = match obj.get("amount") {
        None | Some(Value::Null) => {
            return Err(ConsentError::format(
                "instructedAmount.amount",
                "is required",
            ));
        }
        Some(Value::String(s)) => s,
        Some(_) => {
            return Err(ConsentError::format(
                "instructedAmount.amount",
                "must be a decimal string such as \"12.30\" (a JSON number is not accepted)",
            ));
        }
    };
    Money::parse_positive(text, currency).map_err(|e| {
        let message = match e {
            MoneyError::NotADecimal => "must be a decimal string such as \"12.30\"".to_owned(),
            MoneyError::TooManyDecimals => format!(
                "{currency} allows at most {} decimal places",
                currency.minor_units()
            ),
            MoneyError::NotPositive => "must be greater than zero".to_owned(),
            MoneyError::TooLarge => "is too large".to_owned(),
        };
        ConsentError::format("instructedAmount.amount", message)
    })
}

fn object(body: &Value) -> Result<&Map<String, Value>, ConsentError> {
    body.as_object()
        .ok_or_else(|| ConsentError::format("body", "must be a JSON object"))
}

/// Refuses fields outside `allowed`, naming all of them (the path is the first).
fn only_fields(obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), ConsentError> {
    let unknown: Vec<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| !allowed.contains(k))
        .collect();
    match unknown.first() {
        Some(first) => Err(ConsentError::format(
            *first,
            format!("unknown field(s): {}", unknown.join(", ")),
        )),
        None => Ok(()),
    }
}

/// A field's value, with `null` counting as absent.
fn present<'a>(obj: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    obj.get(field).filter(|v| !v.is_null())
}

fn required<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<&'a Value, ConsentError> {
    present(obj, field).ok_or_else(|| ConsentError::format(field, "is required"))
}

/// An optional free-text field: a non-blank string of at most `max`
/// characters, without control characters.
fn text(obj: &Map<String, Value>, field: &str, max: usize) -> Result<Option<String>, ConsentError> {
    let Some(value) = present(obj, field) else {
        return Ok(None);
    };
    let s = value
        .as_str()
        .ok_or_else(|| ConsentError::format(field, "must be a string"))?;
    crate::domain::check_free_text(s, max).map_err(|m| ConsentError::format(field, m))?;
    Ok(Some(s.to_owned()))
}

/// The optional `cardNumber`: 1 to 35 ASCII letters or digits, `*` allowed for
/// a masked number.
fn card_number(obj: &Map<String, Value>) -> Result<Option<String>, ConsentError> {
    let Some(value) = present(obj, "cardNumber") else {
        return Ok(None);
    };
    let s = value
        .as_str()
        .ok_or_else(|| ConsentError::format("cardNumber", "must be a string"))?;
    let valid = (1..=MAX_CARD_NUMBER).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'*');
    if !valid {
        return Err(ConsentError::format(
            "cardNumber",
            format!("must be 1 to {MAX_CARD_NUMBER} letters or digits (`*` for a masked number)"),
        ));
    }
    Ok(Some(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 03 - 02);
    const A: &str = "DE89370400440532013000";

    fn consent_body() -> Value {
        json!({
            "account": {"iban": A},
            "cardNumber": "1234567891234",
            "cardExpiryDate": "2026-06-30",
            "cardInformation": "MyMerchant Loyalty Card",
            "registrationInformation": "Your contract Number 1234 with MyMerchant is completed with the registration with your bank.",
        })
    }

    fn check_body() -> Value {
        json!({
            "account": {"iban": A},
            "instructedAmount": {"currency": "EUR", "amount": "123.45"},
            "cardNumber": "1234567891234",
            "payee": "Check24",
        })
    }

    fn with(mut body: Value, field: &str, value: Value) -> Value {
        body[field] = value;
        body
    }

    fn without(mut body: Value, field: &str) -> Value {
        body.as_object_mut().unwrap().remove(field);
        body
    }

    fn parse_consent(body: &Value) -> Result<FundsConsentRequest, ConsentError> {
        FundsConsentRequest::parse(body, TODAY, &ConsentSettings::default())
    }

    fn expect_format_error(result: Result<impl std::fmt::Debug, ConsentError>, expected: &str) {
        match result {
            Err(ConsentError::Format { path, message }) => {
                assert_eq!(path, expected, "{message}");
                assert!(!message.is_empty());
            }
            other => panic!("expected a format error at {expected}, got {other:?}"),
        }
    }

    #[test]
    fn a_complete_consent_request_is_parsed_and_lasts_until_the_card_expires() {
        let req = parse_consent(&consent_body()).unwrap();
        assert_eq!(req.access.account.iban.as_str(), A);
        assert_eq!(req.access.card_number.as_deref(), Some("1234567891234"));
        assert_eq!(req.access.card_expiry_date, Some(date!(2026 - 06 - 30)));
        assert_eq!(req.valid_until, date!(2026 - 06 - 30));
    }

    #[test]
    fn an_account_alone_is_enough_and_lasts_the_maximum_validity() {
        let req = parse_consent(&json!({"account": {"iban": A}})).unwrap();
        assert_eq!(req.access.card_number, None);
        assert_eq!(req.valid_until, TODAY + Duration::days(180));
        let far = with(consent_body(), "cardExpiryDate", json!("2030-12-31"));
        assert_eq!(
            parse_consent(&far).unwrap().valid_until,
            TODAY + Duration::days(180)
        );
    }

    #[test]
    fn the_stored_form_parses_back_to_the_same_access() {
        for body in [
            consent_body(),
            json!({"account": {"iban": A, "currency": "USD"}}),
        ] {
            let access = FundsAccess::parse(&body).unwrap();
            assert_eq!(access.to_value(), body);
            assert_eq!(FundsAccess::parse(&access.to_value()).unwrap(), access);
        }
    }

    #[test]
    fn each_invalid_consent_body_is_refused_naming_the_field() {
        let long = |n: usize| json!("x".repeat(n));
        let cases: Vec<(Value, &str)> = vec![
            (json!([]), "body"),
            (without(consent_body(), "account"), "account"),
            (with(consent_body(), "account", json!(A)), "account"),
            (
                with(
                    consent_body(),
                    "account",
                    json!({"iban": "DE00370400440532013000"}),
                ),
                "account.iban",
            ),
            (
                with(
                    consent_body(),
                    "account",
                    json!({"bban": "370400440532013000"}),
                ),
                "account.bban",
            ),
            (with(consent_body(), "access", json!({})), "access"),
            (
                with(consent_body(), "validUntil", json!("2026-04-01")),
                "validUntil",
            ),
            (
                with(consent_body(), "cardNumber", json!(1234)),
                "cardNumber",
            ),
            (with(consent_body(), "cardNumber", json!("")), "cardNumber"),
            (
                with(consent_body(), "cardNumber", json!("1234 5678")),
                "cardNumber",
            ),
            (with(consent_body(), "cardNumber", long(36)), "cardNumber"),
            (
                with(consent_body(), "cardExpiryDate", json!("2026-02-30")),
                "cardExpiryDate",
            ),
            (
                with(consent_body(), "cardExpiryDate", json!("2026-03-01")),
                "cardExpiryDate",
            ),
            (
                with(consent_body(), "cardExpiryDate", json!(20260630)),
                "cardExpiryDate",
            ),
            (
                with(consent_body(), "cardInformation", long(141)),
                "cardInformation",
            ),
            (
                with(consent_body(), "cardInformation", json!("  ")),
                "cardInformation",
            ),
            (
                with(consent_body(), "registrationInformation", json!("a\u{0}b")),
                "registrationInformation",
            ),
        ];
        for (body, path) in cases {
            expect_format_error(parse_consent(&body), path);
        }
        // The longest values are accepted.
        let longest = with(
            with(consent_body(), "cardNumber", long(35)),
            "cardInformation",
            long(140),
        );
        assert!(parse_consent(&longest).is_ok());
    }

    #[test]
    fn unknown_fields_are_all_named() {
        let body = with(
            with(consent_body(), "validUntil", json!("2026-04-01")),
            "frequencyPerDay",
            json!(4),
        );
        let Err(ConsentError::Format { message, .. }) = parse_consent(&body) else {
            panic!("format error expected")
        };
        assert!(
            message.contains("validUntil") && message.contains("frequencyPerDay"),
            "{message}"
        );
    }

    #[test]
    fn a_complete_funds_check_is_parsed() {
        let check = FundsCheck::parse(&check_body()).unwrap();
        assert_eq!(check.account.iban.as_str(), A);
        assert_eq!(check.amount.amount_string(), "123.45");
        assert_eq!(check.amount.currency(), Currency::EUR);
        assert_eq!(check.card_number.as_deref(), Some("1234567891234"));
        assert_eq!(check.payee.as_deref(), Some("Check24"));
        let minimal = without(without(check_body(), "cardNumber"), "payee");
        assert!(FundsCheck::parse(&minimal).is_ok());
    }

    #[test]
    fn each_invalid_funds_check_is_refused_naming_the_field() {
        let amount = |v: Value| with(check_body(), "instructedAmount", v);
        let cases: Vec<(Value, &str)> = vec![
            (json!("x"), "body"),
            (without(check_body(), "account"), "account"),
            (
                with(
                    check_body(),
                    "account",
                    json!({"iban": "DE00370400440532013000"}),
                ),
                "account.iban",
            ),
            (
                with(check_body(), "account", json!({"iban": A, "name": "x"})),
                "account.name",
            ),
            (
                without(check_body(), "instructedAmount"),
                "instructedAmount",
            ),
            (amount(json!("12.00")), "instructedAmount"),
            (
                amount(json!({"amount": "1.00"})),
                "instructedAmount.currency",
            ),
            (
                amount(json!({"currency": "EURO", "amount": "1.00"})),
                "instructedAmount.currency",
            ),
            (
                amount(json!({"currency": "EUR"})),
                "instructedAmount.amount",
            ),
            (
                amount(json!({"currency": "EUR", "amount": 12.5})),
                "instructedAmount.amount",
            ),
            (
                amount(json!({"currency": "EUR", "amount": "1.234"})),
                "instructedAmount.amount",
            ),
            (
                amount(json!({"currency": "JPY", "amount": "1.5"})),
                "instructedAmount.amount",
            ),
            (
                amount(json!({"currency": "EUR", "amount": "0"})),
                "instructedAmount.amount",
            ),
            (
                amount(json!({"currency": "EUR", "amount": "-5"})),
                "instructedAmount.amount",
            ),
            (
                amount(json!({"currency": "EUR", "amount": "1e3"})),
                "instructedAmount.amount",
            ),
            (
                amount(json!({"currency": "EUR", "amount": "1", "fx": 1})),
                "instructedAmount.fx",
            ),
            (with(check_body(), "payee", json!("x".repeat(71))), "payee"),
            (
                with(check_body(), "cardNumber", json!("12-34")),
                "cardNumber",
            ),
            (
                with(check_body(), "creditorName", json!("x")),
                "creditorName",
            ),
        ];
        for (body, path) in cases {
            expect_format_error(FundsCheck::parse(&body), path);
        }
    }
}
