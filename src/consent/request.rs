//! `POST /v1/consents` bodies, parsed from JSON by hand so that every error names
//! the field it is about.

use serde_json::Value;
use time::macros::format_description;
use time::{Date, Duration};

use super::access::AisAccess;
use super::error::ConsentError;
use super::model::ConsentSettings;

const FIELDS: [&str; 5] = [
    "access",
    "recurringIndicator",
    "validUntil",
    "frequencyPerDay",
    "combinedServiceIndicator",
];

/// A valid request for a new AIS consent, with the bank's limits applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateConsentRequest {
    pub access: AisAccess,
    pub recurring: bool,
    /// The requested `validUntil`, lowered to `today + max_validity_days` when it
    /// lies beyond that (so `9999-12-31`, "as long as possible", becomes today +
    /// 180 days by default). This capped date is stored and returned.
    pub valid_until: Date,
    /// The requested `frequencyPerDay`, lowered to `max_frequency_per_day` (as
    /// XS2A lowers it to its profile's maximum), and 1 for a one-off consent.
    pub frequency_per_day: u32,
}

impl CreateConsentRequest {
    /// Parses and validates a consent request body. `today` is the current UTC
    /// date: `validUntil` may not lie before it.
    ///
    /// Required: `access`, `recurringIndicator` (boolean), `validUntil` (ISO date),
    /// `frequencyPerDay` (integer ≥ 1). Optional: `combinedServiceIndicator`
    /// (boolean, default false; `true` is [`ConsentError::SessionsNotSupported`]).
    /// Any other field is a [`ConsentError::Format`] naming it.
    pub fn parse(
        body: &Value,
        today: Date,
        settings: &ConsentSettings,
    ) -> Result<CreateConsentRequest, ConsentError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ConsentError::format("body", "must be a JSON object"))?;
        let unknown: Vec<&str> = obj
            .keys()
            .map(String::as_str)
            .filter(|k| !FIELDS.contains(k))
            .collect();
        if let Some(first) = unknown.first() {
            return Err(ConsentError::format(
                *first,
                format!("unknown field(s): {}", unknown.join(", ")),
            ));
        }

        let access = AisAccess::parse(required(body, "access")?)?;
        let recurring = boolean(required(body, "recurringIndicator")?, "recurringIndicator")?;

        let valid_until = match required(body, "validUntil")? {
            Value::String(s) => Date::parse(s, format_description!("[year]-[month]-[day]"))
                .map_err(|_| ConsentError::format("validUntil", "must be a date (YYYY-MM-DD)"))?,
            _ => {
                return Err(ConsentError::format(
                    "validUntil",
                    "must be a date string (YYYY-MM-DD)",
                ));
            }
        };
        if valid_until < today {
            return Err(ConsentError::format(
                "validUntil",
                "must not lie in the past",
            ));
        }
        let latest = today
            .checked_add(Duration::days(settings.max_validity_days))
            .unwrap_or(Date::MAX);
        let valid_until = valid_until.min(latest);

        let frequency = required(body, "frequencyPerDay")?
            .as_u64()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                ConsentError::format("frequencyPerDay", "must be an integer of at least 1")
            })?;
        let frequency_per_day = if recurring {
            u32::try_from(frequency)
                .unwrap_or(u32::MAX)
                .min(settings.max_frequency_per_day.max(1))
        } else {
            1
        };

        let combined = match body.get("combinedServiceIndicator") {
            None | Some(Value::Null) => false,
            Some(v) => boolean(v, "combinedServiceIndicator")?,
        };
        if combined {
            return Err(ConsentError::SessionsNotSupported);
        }

        Ok(CreateConsentRequest {
            access,
            recurring,
            valid_until,
            frequency_per_day,
        })
    }
}

fn required<'a>(body: &'a Value, field: &str) -> Result<&'a Value, ConsentError> {
    match body.get(field) {
        None | Some(Value::Null) => Err(ConsentError::format(field, "is required")),
        Some(v) => Ok(v),
    }
}

fn boolean(value: &Value, field: &str) -> Result<bool, ConsentError> {
    value
        .as_bool()
        .ok_or_else(|| ConsentError::format(field, "must be true or false"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::access::{AccountsScope, DedicatedAccess};
    use serde_json::json;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 03 - 02);
    const A: &str = "DE89370400440532013000";

    fn valid() -> Value {
        json!({
            "access": {"accounts": [{"iban": A}]},
            "recurringIndicator": true,
            "validUntil": "2026-06-30",
            "frequencyPerDay": 4,
            "combinedServiceIndicator": false,
        })
    }

    fn with(field: &str, value: Value) -> Value {
        let mut body = valid();
        body[field] = value;
        body
    }

    fn without(field: &str) -> Value {
        let mut body = valid();
        body.as_object_mut().unwrap().remove(field);
        body
    }

    fn parse(body: &Value) -> Result<CreateConsentRequest, ConsentError> {
        CreateConsentRequest::parse(body, TODAY, &ConsentSettings::default())
    }

    #[test]
    fn a_complete_request_is_parsed() {
        let req = parse(&valid()).unwrap();
        assert!(req.recurring);
        assert_eq!(req.valid_until, date!(2026 - 06 - 30));
        assert_eq!(req.frequency_per_day, 4);
        assert!(matches!(req.access, AisAccess::Dedicated(_)));
    }

    #[test]
    fn combined_service_indicator_is_optional() {
        assert!(parse(&without("combinedServiceIndicator")).is_ok());
    }

    #[test]
    fn the_farthest_valid_until_is_capped_to_the_maximum_validity() {
        let req = parse(&with("validUntil", json!("9999-12-31"))).unwrap();
        assert_eq!(req.valid_until, TODAY + Duration::days(180));
        let req = parse(&with("validUntil", json!("2026-12-01"))).unwrap();
        assert_eq!(req.valid_until, TODAY + Duration::days(180));
        let req = parse(&with("validUntil", json!("2026-03-02"))).unwrap();
        assert_eq!(req.valid_until, TODAY, "today is still allowed");
    }

    #[test]
    fn frequency_above_the_maximum_is_lowered_to_it() {
        assert_eq!(
            parse(&with("frequencyPerDay", json!(100)))
                .unwrap()
                .frequency_per_day,
            4
        );
        assert_eq!(
            parse(&with("frequencyPerDay", json!(u64::MAX)))
                .unwrap()
                .frequency_per_day,
            4
        );
        assert_eq!(
            parse(&with("frequencyPerDay", json!(2)))
                .unwrap()
                .frequency_per_day,
            2
        );
        let settings = ConsentSettings {
            max_frequency_per_day: 10,
            ..ConsentSettings::default()
        };
        let req = CreateConsentRequest::parse(&with("frequencyPerDay", json!(7)), TODAY, &settings)
            .unwrap();
        assert_eq!(req.frequency_per_day, 7);
    }

    #[test]
    fn a_one_off_consent_gets_frequency_one() {
        let mut body = with("recurringIndicator", json!(false));
        body["frequencyPerDay"] = json!(4);
        let req = parse(&body).unwrap();
        assert!(!req.recurring);
        assert_eq!(req.frequency_per_day, 1);
    }

    #[test]
    fn global_access_is_accepted_alone() {
        let req = parse(&with("access", json!({"availableAccounts": "allAccounts"}))).unwrap();
        assert_eq!(
            req.access,
            AisAccess::AvailableAccounts(AccountsScope::AllAccounts)
        );
    }

    #[test]
    fn combined_service_sessions_are_not_supported() {
        assert!(matches!(
            parse(&with("combinedServiceIndicator", json!(true))),
            Err(ConsentError::SessionsNotSupported)
        ));
    }

    #[test]
    fn each_invalid_body_is_refused_naming_the_field() {
        let b = |s: &str| -> Value { serde_json::from_str(s).unwrap() };
        let cases: Vec<(&str, Value, &str)> = vec![
            ("not an object", json!([1]), "body"),
            (
                "unknown top-level field",
                with("psuId", json!("x")),
                "psuId",
            ),
            ("access missing", without("access"), "access"),
            ("access null", with("access", Value::Null), "access"),
            (
                "access not an object",
                with("access", json!("all")),
                "access",
            ),
            ("access empty", with("access", json!({})), "access"),
            (
                "unknown access field",
                with("access", json!({"cards": []})),
                "access.cards",
            ),
            (
                "additionalInformation",
                with(
                    "access",
                    json!({"accounts": [{"iban": A}], "additionalInformation": {}}),
                ),
                "access.additionalInformation",
            ),
            (
                "restrictedTo",
                with(
                    "access",
                    json!({"allPsd2": "allAccounts", "restrictedTo": ["CACC"]}),
                ),
                "access.restrictedTo",
            ),
            (
                "accounts not an array",
                with("access", json!({"accounts": {"iban": A}})),
                "access.accounts",
            ),
            (
                "accounts empty",
                with("access", json!({"accounts": []})),
                "access.accounts",
            ),
            (
                "balances empty",
                with("access", json!({"accounts": [{"iban": A}], "balances": []})),
                "access.balances",
            ),
            (
                "reference not an object",
                with("access", json!({"accounts": [A]})),
                "access.accounts[0]",
            ),
            (
                "bban reference",
                with(
                    "access",
                    json!({"accounts": [{"iban": A}, {"bban": "370400440532013000"}]}),
                ),
                "access.accounts[1].bban",
            ),
            (
                "pan reference",
                with("access", json!({"balances": [{"pan": "4111111111111111"}]})),
                "access.balances[0].pan",
            ),
            (
                "maskedPan reference",
                with(
                    "access",
                    json!({"transactions": [{"maskedPan": "411111******1111"}]}),
                ),
                "access.transactions[0].maskedPan",
            ),
            (
                "msisdn reference",
                with("access", json!({"accounts": [{"msisdn": "+49170"}]})),
                "access.accounts[0].msisdn",
            ),
            (
                "iban missing",
                with("access", json!({"accounts": [{"currency": "EUR"}]})),
                "access.accounts[0].iban",
            ),
            (
                "iban not a string",
                with("access", json!({"accounts": [{"iban": 42}]})),
                "access.accounts[0].iban",
            ),
            (
                "iban invalid",
                with(
                    "access",
                    json!({"accounts": [{"iban": "DE00370400440532013000"}]}),
                ),
                "access.accounts[0].iban",
            ),
            (
                "currency invalid",
                with(
                    "access",
                    json!({"accounts": [{"iban": A, "currency": "EURO"}]}),
                ),
                "access.accounts[0].currency",
            ),
            (
                "unknown reference field",
                with("access", json!({"accounts": [{"iban": A, "name": "x"}]})),
                "access.accounts[0].name",
            ),
            (
                "dedicated with allPsd2",
                with(
                    "access",
                    json!({"accounts": [{"iban": A}], "allPsd2": "allAccounts"}),
                ),
                "access.allPsd2",
            ),
            (
                "dedicated with availableAccounts",
                with(
                    "access",
                    json!({"balances": [{"iban": A}], "availableAccounts": "allAccounts"}),
                ),
                "access.availableAccounts",
            ),
            (
                "two global kinds",
                with(
                    "access",
                    json!({"availableAccounts": "allAccounts", "allPsd2": "allAccounts"}),
                ),
                "access.allPsd2",
            ),
            (
                "bad global value",
                with("access", json!({"allPsd2": "everything"})),
                "access.allPsd2",
            ),
            (
                "recurringIndicator missing",
                without("recurringIndicator"),
                "recurringIndicator",
            ),
            (
                "recurringIndicator a string",
                with("recurringIndicator", json!("true")),
                "recurringIndicator",
            ),
            ("validUntil missing", without("validUntil"), "validUntil"),
            (
                "validUntil a number",
                with("validUntil", json!(20260630)),
                "validUntil",
            ),
            (
                "validUntil not a date",
                with("validUntil", json!("2026-02-30")),
                "validUntil",
            ),
            (
                "validUntil a date-time",
                with("validUntil", json!("2026-06-30T00:00:00Z")),
                "validUntil",
            ),
            (
                "validUntil in the past",
                with("validUntil", json!("2026-03-01")),
                "validUntil",
            ),
            (
                "frequencyPerDay missing",
                without("frequencyPerDay"),
                "frequencyPerDay",
            ),
            (
                "frequencyPerDay zero",
                with("frequencyPerDay", json!(0)),
                "frequencyPerDay",
            ),
            (
                "frequencyPerDay negative",
                with("frequencyPerDay", json!(-1)),
                "frequencyPerDay",
            ),
            (
                "frequencyPerDay fractional",
                with("frequencyPerDay", json!(1.5)),
                "frequencyPerDay",
            ),
            (
                "frequencyPerDay a string",
                with("frequencyPerDay", json!("4")),
                "frequencyPerDay",
            ),
            (
                "combinedServiceIndicator a string",
                with("combinedServiceIndicator", json!("false")),
                "combinedServiceIndicator",
            ),
            ("body a string", b(r#""consent""#), "body"),
        ];
        for (case, body, expected_path) in cases {
            match parse(&body) {
                Err(ConsentError::Format { path, message }) => {
                    assert_eq!(path, expected_path, "{case}: {message}");
                    assert!(!message.is_empty(), "{case}");
                }
                other => {
                    panic!("{case}: expected a format error at {expected_path}, got {other:?}")
                }
            }
        }
    }

    #[test]
    fn unknown_fields_are_all_named() {
        let mut body = with("psuId", json!("x"));
        body["tppRedirectUri"] = json!("y");
        let Err(ConsentError::Format { message, .. }) = parse(&body) else {
            panic!("format error expected")
        };
        assert!(
            message.contains("psuId") && message.contains("tppRedirectUri"),
            "{message}"
        );
    }

    #[test]
    fn access_lists_are_normalized() {
        let body = with("access", json!({"transactions": [{"iban": A}]}));
        let AisAccess::Dedicated(d) = parse(&body).unwrap().access else {
            panic!("dedicated expected")
        };
        let expected = DedicatedAccess::new(vec![], vec![], d.transactions().to_vec()).unwrap();
        assert_eq!(d, expected);
        assert_eq!(d.accounts().len(), 1);
    }
}
