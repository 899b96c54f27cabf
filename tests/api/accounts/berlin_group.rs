//! Checks response bodies against the Berlin Group NextGenPSD2 1.3.11 OpenAPI
//! document (a copy in `tests/fixtures/`, CC-BY-4.0 by the Berlin Group), with a small validator for the part of
//! OpenAPI 3.0 / JSON Schema its schemas use: `$ref` into the document, `type`,
//! `required`, `properties`, `additionalProperties`, `items`, `enum`, `allOf`,
//! `anyOf`, `oneOf`, `maxLength`, and the `date` / `date-time` formats.
//! (`pattern` is not checked; the tests check amounts and IBANs themselves.)

use std::sync::OnceLock;

use serde_json::Value;

const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/berlin-group-psd2-api-1.3.11.yaml"
);

fn spec() -> &'static Value {
    static SPEC_JSON: OnceLock<Value> = OnceLock::new();
    SPEC_JSON.get_or_init(|| {
        let text = std::fs::read_to_string(SPEC)
            .unwrap_or_else(|e| panic!("the Berlin Group spec at {SPEC}: {e}"));
        serde_norway::from_str(&text).expect("the Berlin Group spec parses as YAML")
    })
}

/// The value a local reference (`#/components/…`) points at.
fn resolve(reference: &str) -> &'static Value {
    let pointer = reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("only local references: {reference}"));
    spec()
        .pointer(pointer)
        .unwrap_or_else(|| panic!("{reference} is not in the spec"))
}

/// The JSON schema of a named response of the spec
/// (`components/responses/<name>`).
pub fn response_schema(name: &str) -> String {
    format!("#/components/responses/{name}/content/application~1json/schema")
}

/// Asserts that `instance` satisfies the schema at `reference`.
pub fn assert_valid(instance: &Value, reference: &str) {
    let mut errors = Vec::new();
    check(instance, resolve(reference), "$", &mut errors);
    assert!(
        errors.is_empty(),
        "the body does not match {reference}:\n  {}\nbody: {instance:#}",
        errors.join("\n  ")
    );
}

fn type_matches(instance: &Value, ty: &str) -> bool {
    match ty {
        "object" => instance.is_object(),
        "array" => instance.is_array(),
        "string" => instance.is_string(),
        "integer" => instance.is_i64() || instance.is_u64(),
        "number" => instance.is_number(),
        "boolean" => instance.is_boolean(),
        "null" => instance.is_null(),
        other => panic!("unknown schema type {other}"),
    }
}

fn errors_of(instance: &Value, schema: &Value, path: &str) -> Vec<String> {
    let mut errors = Vec::new();
    check(instance, schema, path, &mut errors);
    errors
}

fn check(instance: &Value, schema: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        check(instance, resolve(reference), path, errors);
        return;
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            check(instance, s, path, errors);
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array)
        && !any.iter().any(|s| errors_of(instance, s, path).is_empty())
    {
        errors.push(format!("{path}: matches none of anyOf"));
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = one
            .iter()
            .filter(|s| errors_of(instance, s, path).is_empty())
            .count();
        if matching != 1 {
            errors.push(format!(
                "{path}: matches {matching} of oneOf, not exactly one"
            ));
        }
    }
    if let Some(ty) = schema.get("type").and_then(Value::as_str)
        && !type_matches(instance, ty)
    {
        errors.push(format!("{path}: expected {ty}, got {instance}"));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(instance)
    {
        errors.push(format!("{path}: {instance} is not one of {allowed:?}"));
    }
    if let Some(s) = instance.as_str() {
        check_string(s, schema, path, errors);
    }
    if let Some(items) = instance.as_array()
        && let Some(item_schema) = schema.get("items")
    {
        for (i, item) in items.iter().enumerate() {
            check(item, item_schema, &format!("{path}[{i}]"), errors);
        }
    }
    if let Some(object) = instance.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    errors.push(format!("{path}: required property {name} is missing"));
                }
            }
        }
        for (name, value) in object {
            let child = format!("{path}.{name}");
            match properties.and_then(|p| p.get(name)) {
                Some(property) => check(value, property, &child, errors),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        errors.push(format!("{child}: not a property of the schema"));
                    }
                    Some(extra @ Value::Object(_)) => check(value, extra, &child, errors),
                    // OpenAPI allows further properties unless it says otherwise;
                    // the gateway must not invent any, so they are reported too.
                    _ if properties.is_some() => {
                        errors.push(format!("{child}: not a property of the schema"));
                    }
                    _ => {}
                },
            }
        }
    }
}

fn check_string(s: &str, schema: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && s.chars().count() as u64 > max
    {
        errors.push(format!("{path}: longer than {max} characters"));
    }
    let format = schema.get("format").and_then(Value::as_str);
    let valid = match format {
        Some("date") => {
            time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).is_ok()
        }
        Some("date-time") => {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
        }
        _ => true,
    };
    if !valid {
        errors.push(format!("{path}: {s:?} is not a {}", format.unwrap_or("")));
    }
}

/// The validator itself must reject what the schemas forbid.
#[test]
fn the_validator_rejects_bodies_that_break_the_schema() {
    let balances = "#/components/schemas/readAccountBalanceResponse-200";
    assert_valid(
        &serde_json::json!({"balances": [{
            "balanceAmount": {"currency": "EUR", "amount": "1.00"},
            "balanceType": "expected",
            "referenceDate": "2026-11-28"
        }]}),
        balances,
    );
    for bad in [
        serde_json::json!({}),
        serde_json::json!({"balances": [{"balanceAmount": {"currency": "EUR", "amount": "1.00"}}]}),
        serde_json::json!({"balances": [{"balanceAmount": {"currency": "EUR", "amount": 1.0}, "balanceType": "expected"}]}),
        serde_json::json!({"balances": [{"balanceAmount": {"currency": "EUR", "amount": "1"}, "balanceType": "current"}]}),
        serde_json::json!({"balances": [{"balanceAmount": {"currency": "EUR", "amount": "1"}, "balanceType": "expected", "referenceDate": "28.11.2026"}]}),
        serde_json::json!({"balances": [], "extra": true}),
    ] {
        let mut errors = Vec::new();
        check(&bad, resolve(balances), "$", &mut errors);
        assert!(!errors.is_empty(), "{bad} passed");
    }
}
