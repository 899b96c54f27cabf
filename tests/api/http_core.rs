//! The HTTP core adapter against the reference mock core over real HTTP: the
//! gateway end to end, the failure modes (slow, failing, down, recovering), TLS
//! and mTLS to the core, and every trait method's mapping of the protocol.

use std::sync::Arc;
use std::time::{Duration, Instant};

use obgw::clock::ManualClock;
use obgw::config::HttpCoreConfig;
use obgw::core::http::mock::{MOCK_BANK_CODE, MOCK_OTP, MockCoreOptions, spawn_mock_core_with};
use obgw::core::http::{BreakerState, HttpCore};
use obgw::core::*;
use obgw::domain::{Currency, Iban, Money};
use obgw::secret::Secret;
use serde_json::Value;
use time::macros::date;

use crate::helpers::*;

async fn readyz(app: &TestApp) -> (u16, serde_json::Value) {
    let res = app.get_public("/readyz").await;
    (res.status().as_u16(), json(res).await)
}

/// An order from alice's first account to bob's first account.
async fn alice_pays_bob(core: &dyn CoreBanking, cents: i64) -> PaymentOrder {
    let alice = core.authenticate_psu("alice", &Secret::new("alice")).await;
    let bob = core.authenticate_psu("bob", &Secret::new("bob")).await;
    let alice = core.accounts(&alice.unwrap().unwrap()).await.unwrap();
    let bob = core.accounts(&bob.unwrap().unwrap()).await.unwrap();
    PaymentOrder {
        payment_id: PaymentId(uuid::Uuid::new_v4().to_string()),
        debtor: alice[0].iban.clone(),
        creditor: bob[0].iban.clone(),
        creditor_name: "Bob Example".into(),
        amount: Money::from_minor(cents, Currency::EUR),
        remittance: Some("Pizza".into()),
        instant: false,
    }
}

async fn booked_cents(core: &dyn CoreBanking, iban: &Iban) -> i64 {
    let account = core.account_by_iban(iban).await.unwrap().unwrap();
    let balances = core.balances(&account.id).await.unwrap();
    let booked = balances
        .iter()
        .find(|b| b.kind == BalanceType::ClosingBooked);
    booked.unwrap().amount.minor_units()
}

#[tokio::test]
async fn readyz_is_ok_and_names_the_http_adapter() {
    let app = TestApp::spawn_on_mock_core().await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["core"], "ok");
    assert_eq!(body["core_adapter"], "http");
}

#[tokio::test]
async fn alice_logs_in_on_the_psu_page_and_the_tpp_lists_her_accounts_from_the_core() {
    let app = TestApp::spawn_on_mock_core().await;
    let (consent_id, token) = app.alice_token().await;
    let token = token["access_token"].as_str().unwrap();

    let res = app.accounts_as(&app.tpp, token, &consent_id).await;
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    let accounts = body["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2, "{body}");
    let core_ids: Vec<String> = app
        .accounts_of("alice")
        .await
        .into_iter()
        .map(|a| a.id.0)
        .collect();
    for account in accounts {
        let iban = Iban::parse(account["iban"].as_str().unwrap()).unwrap();
        assert_eq!(
            iban.german_bank_code(),
            Some(MOCK_BANK_CODE),
            "served by the mock core"
        );
        assert!(core_ids.contains(&account["resourceId"].as_str().unwrap().to_owned()));
    }
}

#[tokio::test]
async fn a_slow_core_gives_a_fast_503_instead_of_a_hang() {
    let app = TestApp::spawn_on_mock_core_with(|c| c.core.http.request_timeout_ms = 300).await;
    let (consent_id, token) = app.alice_token().await;
    let token = token["access_token"].as_str().unwrap();

    app.core.set_delay(Duration::from_secs(3));
    let started = Instant::now();
    let res = app.accounts_as(&app.tpp, token, &consent_id).await;
    let took = started.elapsed();
    assert_eq!(res.status(), 503);
    assert_eq!(tpp_code(&json(res).await), "SERVICE_UNAVAILABLE");
    assert!(
        took < Duration::from_millis(1_500),
        "a timed-out read is not retried: {took:?}"
    );

    app.core.set_delay(Duration::ZERO);
    let res = app.accounts_as(&app.tpp, token, &consent_id).await;
    assert_eq!(
        res.status(),
        200,
        "a timeout alone does not open the circuit"
    );
}

#[tokio::test]
async fn a_failing_core_opens_the_circuit_and_a_recovered_one_closes_it_after_the_open_period() {
    let app = TestApp::spawn_on_mock_core_with(|c| {
        c.core.http.failure_threshold = 3;
        c.core.http.open_seconds = 30;
    })
    .await;
    let (consent_id, token) = app.alice_token().await;
    let token = token["access_token"].as_str().unwrap();

    app.core.set_failing(true);
    for _ in 0..3 {
        assert_eq!(readyz(&app).await.0, 503);
    }
    let seen = app.core.requests_seen();
    app.core.set_failing(false);

    // Open: the recovered core is not called until the open period is over.
    let (status, body) = readyz(&app).await;
    assert_eq!((status, body["core"].as_str()), (503, Some("unavailable")));
    let started = Instant::now();
    let res = app.accounts_as(&app.tpp, token, &consent_id).await;
    assert_eq!(res.status(), 503);
    assert!(started.elapsed() < Duration::from_millis(500), "fails fast");
    assert_eq!(
        app.core.requests_seen(),
        seen,
        "an open circuit does not touch the network"
    );

    // Half-open after the open period: the next call is the trial, and closes it.
    app.clock.advance(time::Duration::seconds(30));
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 200, "{body}");
    let res = app.accounts_as(&app.tpp, token, &consent_id).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_core_that_is_down_at_start_does_not_stop_the_gateway_and_is_used_once_up() {
    let mut core = obgw::core::http::mock::spawn_mock_core("127.0.0.1:0")
        .await
        .unwrap();
    core.stop().await;
    let app = TestApp::spawn_with(|c| use_http_core(c, &core.base_url())).await;

    let (status, body) = readyz(&app).await;
    assert_eq!((status, body["core"].as_str()), (503, Some("unavailable")));

    core.start().await.unwrap();
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 200, "{body}");
    let (consent_id, token) = app.alice_token().await;
    let res = app
        .accounts_as(
            &app.tpp,
            token["access_token"].as_str().unwrap(),
            &consent_id,
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_payment_submitted_twice_through_the_adapter_moves_money_once() {
    let app = TestApp::spawn_on_mock_core().await;
    let core = app.state.core.as_ref();
    let order = alice_pays_bob(core, 12_34).await;
    let before = booked_cents(core, &order.debtor).await;

    let first = core.submit_payment(&order).await.unwrap();
    let second = core.submit_payment(&order).await.unwrap();
    assert!(
        matches!(first, PaymentOutcome::Executed { .. }),
        "{first:?}"
    );
    assert_eq!(first, second);
    assert_eq!(app.core.executed_payments(), 1);
    assert_eq!(booked_cents(core, &order.debtor).await, before - 12_34);
    assert_eq!(
        core.payment_status(&order.payment_id).await.unwrap(),
        Some(first)
    );
}

#[tokio::test]
async fn a_timed_out_submission_is_unavailable_and_payment_status_reconciles_it() {
    let app = TestApp::spawn_on_mock_core_with(|c| c.core.http.request_timeout_ms = 300).await;
    let core = app.state.core.as_ref();
    let order = alice_pays_bob(core, 5_00).await;
    let unknown = PaymentId("never-submitted".into());
    assert_eq!(core.payment_status(&unknown).await.unwrap(), None);

    app.core.set_delay(Duration::from_secs(2));
    let seen = app.core.requests_seen();
    let result = core.submit_payment(&order).await;
    assert!(
        matches!(result, Err(CoreError::Unavailable(_))),
        "{result:?}"
    );
    assert_eq!(
        app.core.requests_seen(),
        seen + 1,
        "a payment is never retried"
    );

    app.core.set_delay(Duration::ZERO);
    let status = core.payment_status(&order.payment_id).await.unwrap();
    assert!(
        matches!(status, Some(PaymentOutcome::Executed { .. })),
        "{status:?}"
    );
    assert_eq!(core.submit_payment(&order).await.unwrap(), status.unwrap());
    assert_eq!(app.core.executed_payments(), 1);
}

fn adapter(base_url: &str, customize: impl FnOnce(&mut HttpCoreConfig)) -> HttpCore {
    obgw::tls::install_crypto_provider();
    let mut config = HttpCoreConfig {
        base_url: base_url.to_owned(),
        ..Default::default()
    };
    customize(&mut config);
    HttpCore::new(&config, Arc::new(ManualClock::starting_now())).unwrap()
}

#[tokio::test]
async fn every_trait_method_maps_the_protocol_both_ways() {
    let mock = obgw::core::http::mock::spawn_mock_core("127.0.0.1:0")
        .await
        .unwrap();
    let core = adapter(&mock.base_url(), |_| {});
    core.health().await.unwrap();

    let wrong = core
        .authenticate_psu("alice", &Secret::new("bob"))
        .await
        .unwrap();
    assert_eq!(wrong, None);
    let alice = core
        .authenticate_psu("alice", &Secret::new("alice"))
        .await
        .unwrap()
        .unwrap();
    let accounts = core.accounts(&alice).await.unwrap();
    assert_eq!(accounts.len(), 2);
    assert!(accounts.iter().all(|a| a.owner.as_ref() == Some(&alice)));
    assert!(
        core.accounts(&PsuId("nobody".into()))
            .await
            .unwrap()
            .is_empty()
    );
    let giro = &accounts[0];
    assert_eq!(core.account(&giro.id).await.unwrap().as_ref(), Some(giro));
    assert_eq!(
        core.account_by_iban(&giro.iban).await.unwrap().as_ref(),
        Some(giro)
    );
    let stranger = AccountId("../psus/x".into());
    assert_eq!(
        core.account(&stranger).await.unwrap(),
        None,
        "ids are path-encoded"
    );
    let outside = Iban::german("12345678", 42).unwrap();
    assert_eq!(core.account_by_iban(&outside).await.unwrap(), None);

    let balances = core.balances(&giro.id).await.unwrap();
    assert_eq!(balances.len(), 3);
    assert!(core.balances(&stranger).await.unwrap().is_empty());

    // Paging through the whole history: no gaps, no duplicates, newest first.
    let mut seen = Vec::new();
    let mut query = TransactionQuery {
        status: BookingStatus::Both,
        date_from: date!(2000 - 01 - 01),
        date_to: date!(2999 - 12 - 31),
        offset: 0,
        limit: 25,
    };
    loop {
        let page = core.transactions(&giro.id, &query).await.unwrap();
        seen.extend(page.transactions);
        if !page.has_more {
            break;
        }
        query.offset += 25;
    }
    assert!(seen.len() > 100, "months of history: {}", seen.len());
    assert!(
        seen.windows(2)
            .all(|w| w[0].booking_date >= w[1].booking_date)
    );
    let mut ids: Vec<_> = seen.iter().map(|t| t.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), seen.len());
    assert!(seen.iter().any(|t| !t.booked), "pending card payments");
    let one = &seen[seen.len() / 2];
    assert_eq!(
        core.transaction(&giro.id, &one.id).await.unwrap().as_ref(),
        Some(one)
    );
    let missing = TransactionId("nope".into());
    assert_eq!(core.transaction(&giro.id, &missing).await.unwrap(), None);

    let a_euro = Money::from_minor(100, Currency::EUR);
    assert!(core.funds_available(&giro.iban, &a_euro).await.unwrap());
    let a_fortune = Money::from_minor(100_000_000_000, Currency::EUR);
    assert!(!core.funds_available(&giro.iban, &a_fortune).await.unwrap());
    assert!(!core.funds_available(&outside, &a_euro).await.unwrap());

    let context = ScaContext::Consent {
        consent_id: "c-1".into(),
    };
    let other = ScaContext::Consent {
        consent_id: "c-2".into(),
    };
    let challenge = core.issue_sca_challenge(&alice, &context).await.unwrap();
    assert!(challenge.prompt.contains(MOCK_OTP));
    let verify = |ctx: &ScaContext, otp: &str| {
        let (core, id, psu) = (&core, challenge.id.clone(), alice.clone());
        let (ctx, otp) = (ctx.clone(), Secret::new(otp));
        async move { core.verify_sca(&id, &psu, &ctx, &otp).await.unwrap() }
    };
    assert_eq!(verify(&context, "000000").await, ScaVerdict::Invalid);
    assert_eq!(
        verify(&other, MOCK_OTP).await,
        ScaVerdict::Unusable,
        "bound to its context"
    );
    assert_eq!(verify(&context, MOCK_OTP).await, ScaVerdict::Verified);
    assert_eq!(
        verify(&context, MOCK_OTP).await,
        ScaVerdict::Unusable,
        "consumed"
    );
    let unknown = core
        .verify_sca(
            &ChallengeId("nope".into()),
            &alice,
            &context,
            &Secret::new(MOCK_OTP),
        )
        .await
        .unwrap();
    assert_eq!(unknown, ScaVerdict::Unusable);
    let nobody = core
        .issue_sca_challenge(&PsuId("nobody".into()), &context)
        .await;
    assert!(matches!(nobody, Err(CoreError::Protocol(_))), "{nobody:?}");

    let mut order = alice_pays_bob(&core, 1_000_000_000).await;
    let refused = core.submit_payment(&order).await.unwrap();
    assert_eq!(
        refused,
        PaymentOutcome::Rejected {
            reason: RejectReason::InsufficientFunds
        }
    );
    order.payment_id = PaymentId(uuid::Uuid::new_v4().to_string());
    order.amount = Money::from_minor(100, Currency::EUR);
    let paid = core.submit_payment(&order).await.unwrap();
    assert!(matches!(paid, PaymentOutcome::Executed { .. }));
    assert_eq!(core.breaker_state(), BreakerState::Closed);
}

#[tokio::test]
async fn reads_are_retried_after_a_502_to_504_but_nothing_with_an_effect_is() {
    let mock = obgw::core::http::mock::spawn_mock_core("127.0.0.1:0")
        .await
        .unwrap();
    let core = adapter(&mock.base_url(), |c| {
        c.read_retries = 2;
        c.failure_threshold = 100;
    });
    let order = alice_pays_bob(&core, 1_00).await;
    let psu = PsuId("p".into());
    let context = ScaContext::Consent {
        consent_id: "c".into(),
    };
    let otp = Secret::new(MOCK_OTP);

    mock.set_failing_with(503);
    let cases: Vec<(&str, u64)> = vec![
        ("account", 3),
        ("payment_status", 3),
        ("funds_available", 3),
        ("authenticate_psu", 1),
        ("issue_sca_challenge", 1),
        ("verify_sca", 1),
        ("submit_payment", 1),
    ];
    for (method, expected) in cases {
        let before = mock.requests_seen();
        let failed = match method {
            "account" => core.account(&AccountId("x".into())).await.is_err(),
            "payment_status" => core.payment_status(&order.payment_id).await.is_err(),
            "funds_available" => core
                .funds_available(&order.debtor, &order.amount)
                .await
                .is_err(),
            "authenticate_psu" => core.authenticate_psu("alice", &otp).await.is_err(),
            "issue_sca_challenge" => core.issue_sca_challenge(&psu, &context).await.is_err(),
            "verify_sca" => {
                let id = ChallengeId("c".into());
                core.verify_sca(&id, &psu, &context, &otp).await.is_err()
            }
            _ => core.submit_payment(&order).await.is_err(),
        };
        assert!(failed, "{method}");
        assert_eq!(mock.requests_seen() - before, expected, "{method}");
    }

    mock.set_failing(true);
    let before = mock.requests_seen();
    assert!(core.account(&AccountId("x".into())).await.is_err());
    assert_eq!(mock.requests_seen() - before, 1, "a 500 is not transient");
}

#[tokio::test]
async fn a_read_is_retried_while_the_core_restarts() {
    let mut mock = obgw::core::http::mock::spawn_mock_core("127.0.0.1:0")
        .await
        .unwrap();
    let core = Arc::new(adapter(&mock.base_url(), |c| {
        c.read_retries = 5;
        c.failure_threshold = 10;
    }));
    mock.stop().await;

    // The core comes back while the read backs off (50, 100, 200, 400, 800 ms).
    let read = {
        let core = core.clone();
        tokio::spawn(async move { core.account(&AccountId("x".into())).await })
    };
    tokio::time::sleep(Duration::from_millis(120)).await;
    mock.start().await.unwrap();
    assert_eq!(
        read.await.unwrap().unwrap(),
        None,
        "the retried read got its 404"
    );
}

#[tokio::test]
async fn the_core_is_reached_over_mtls_with_the_configured_ca_and_client_certificate() {
    obgw::tls::install_crypto_provider();
    let tls = obgw::tls::mtls_server_config(
        &cert_path("server.pem"),
        &cert_path("server.key"),
        &cert_path("ca.pem"),
    )
    .unwrap();
    let options = MockCoreOptions {
        tls: Some(tls),
        ..Default::default()
    };
    let mock = spawn_mock_core_with("127.0.0.1:0", options).await.unwrap();
    assert!(mock.base_url().starts_with("https://"));

    let with_cert = adapter(&mock.base_url(), |c| {
        c.ca_cert = cert_path("ca.pem");
        c.client_cert = cert_path("demo-tpp.pem");
        c.client_key = cert_path("demo-tpp.key");
    });
    with_cert.health().await.unwrap();

    let without_cert = adapter(&mock.base_url(), |c| c.ca_cert = cert_path("ca.pem"));
    let refused = without_cert.health().await;
    assert!(
        matches!(refused, Err(CoreError::Unavailable(_))),
        "{refused:?}"
    );

    let untrusted = adapter(&mock.base_url(), |c| {
        c.client_cert = cert_path("demo-tpp.pem");
        c.client_key = cert_path("demo-tpp.key");
    });
    let refused = untrusted.health().await;
    assert!(
        matches!(refused, Err(CoreError::Unavailable(_))),
        "public roots do not trust the dev CA"
    );
}

#[tokio::test]
async fn a_gateway_with_unreadable_core_tls_material_refuses_to_start() {
    let mut config = test_config();
    use_http_core(&mut config, "https://127.0.0.1:9");
    config.core.http.ca_cert = "/nonexistent/ca.pem".into();
    let result = obgw::app::Application::build(config).await;
    let err = result.err().expect("start refused").to_string();
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
}

fn to_json(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap()
}

/// Just enough JSON Schema (`$ref`, `oneOf`, `const`, `enum`, `type`,
/// `required`, `properties`, `additionalProperties: false`, `items`) to hold the
/// committed protocol spec to what the adapter and the mock really exchange.
fn conforms(spec: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        return conforms(spec, &spec["components"]["schemas"][name], value, at);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        let ok = options
            .iter()
            .filter(|s| conforms(spec, s, value, at).is_ok());
        return match ok.count() {
            1 => Ok(()),
            n => Err(format!("{at}: {n} oneOf branches match {value}")),
        };
    }
    if !schema["const"].is_null() && schema["const"] != *value {
        return Err(format!("{at}: {value} is not {}", schema["const"]));
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} not in {allowed:?}"));
    }
    let fits = match schema["type"].as_str() {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("boolean") => value.is_boolean(),
        Some("integer") => value.is_i64() || value.is_u64(),
        _ => true,
    };
    if !fits {
        return Err(format!("{at}: {value} is not of type {}", schema["type"]));
    }
    if let Some(object) = value.as_object().filter(|_| schema["type"] == "object") {
        let properties = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for key in schema["required"].as_array().into_iter().flatten() {
            let key = key.as_str().unwrap();
            if !object.contains_key(key) {
                return Err(format!("{at}: required {key} missing in {value}"));
            }
        }
        for (key, v) in object {
            match properties.get(key) {
                Some(s) => conforms(spec, s, v, &format!("{at}.{key}"))?,
                None if schema["additionalProperties"] == false => {
                    return Err(format!("{at}: {key} is not in the spec"));
                }
                None => return Err(format!("{at}: undocumented property {key}")),
            }
        }
    }
    for (i, item) in value.as_array().into_iter().flatten().enumerate() {
        conforms(spec, &schema["items"], item, &format!("{at}[{i}]"))?;
    }
    Ok(())
}

/// One exchange with the mock core, checked against the spec: the request body
/// against the operation's request schema, the answer against the schema of
/// the status it came with (which must be documented).
struct SpecCheck {
    spec: Value,
    http: reqwest::Client,
    base: String,
    covered: std::collections::BTreeSet<(String, String)>,
}

impl SpecCheck {
    async fn call(
        &mut self,
        method: &str,
        template: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let op = &self.spec["paths"][template][method.to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {template} is documented");
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(body) = body {
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            conforms(
                &self.spec,
                schema,
                &body,
                &format!("{method} {template} body"),
            )
            .unwrap();
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let answer: Value = res.json().await.unwrap();
        let documented = &op["responses"][status.to_string()]["content"]["application/json"];
        assert!(
            documented.is_object(),
            "{method} {template} documents {status}"
        );
        let at = format!("{method} {template} {status}");
        conforms(&self.spec, &documented["schema"], &answer, &at).unwrap();
        self.covered
            .insert((method.to_owned(), template.to_owned()));
        (status, answer)
    }
}

#[tokio::test]
async fn the_committed_protocol_spec_describes_what_the_adapter_and_mock_core_exchange() {
    use obgw::core::http::protocol::*;
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/openapi/core-adapter.json"
    ));
    let spec: Value = serde_json::from_str(&text.unwrap()).expect("valid JSON");
    assert_eq!(spec["openapi"], "3.1.0");
    let mock = obgw::core::http::mock::spawn_mock_core("127.0.0.1:0")
        .await
        .unwrap();
    let mut check = SpecCheck {
        spec,
        http: reqwest::Client::new(),
        base: mock.base_url(),
        covered: Default::default(),
    };

    check.call("GET", "/health", "/health", None).await;
    let creds = |password: &str| Credentials {
        username: "alice".into(),
        password: password.into(),
    };
    let (status, _) = check
        .call(
            "POST",
            "/psu/authenticate",
            "/psu/authenticate",
            Some(to_json(&creds("x"))),
        )
        .await;
    assert_eq!(status, 401);
    let (_, psu) = check
        .call(
            "POST",
            "/psu/authenticate",
            "/psu/authenticate",
            Some(to_json(&creds("alice"))),
        )
        .await;
    let psu = psu["psuId"].as_str().unwrap().to_owned();
    let (_, list) = check
        .call(
            "GET",
            "/psus/{psuId}/accounts",
            &format!("/psus/{psu}/accounts"),
            None,
        )
        .await;
    let (id, iban) = (
        list["accounts"][0]["id"].as_str().unwrap(),
        list["accounts"][0]["iban"].as_str().unwrap(),
    );
    let (id, iban) = (id.to_owned(), iban.to_owned());
    check
        .call(
            "GET",
            "/accounts/{accountId}",
            &format!("/accounts/{id}"),
            None,
        )
        .await;
    check
        .call("GET", "/accounts/{accountId}", "/accounts/nope", None)
        .await;
    check
        .call(
            "GET",
            "/accounts/by-iban/{iban}",
            &format!("/accounts/by-iban/{iban}"),
            None,
        )
        .await;
    check
        .call(
            "GET",
            "/accounts/{accountId}/balances",
            &format!("/accounts/{id}/balances"),
            None,
        )
        .await;
    let window = "status=both&dateFrom=2000-01-01&dateTo=2999-12-31&offset=0&limit=1000";
    let template = "/accounts/{accountId}/transactions";
    let (_, page) = check
        .call(
            "GET",
            template,
            &format!("/accounts/{id}/transactions?{window}"),
            None,
        )
        .await;
    let tx = page["transactions"][0]["id"].as_str().unwrap().to_owned();
    let template = "/accounts/{accountId}/transactions/{transactionId}";
    check
        .call(
            "GET",
            template,
            &format!("/accounts/{id}/transactions/{tx}"),
            None,
        )
        .await;

    let iban = Iban::parse(&iban).unwrap();
    let amount = Money::from_minor(1_00, Currency::EUR);
    let funds = FundsCheck {
        iban: iban.clone(),
        amount: (&amount).into(),
    };
    check
        .call(
            "POST",
            "/funds-check",
            "/funds-check",
            Some(to_json(&funds)),
        )
        .await;

    for context in [
        ScaContext::Consent {
            consent_id: "c-1".into(),
        },
        ScaContext::Payment {
            payment_id: PaymentId("p-1".into()),
            amount,
            payee: iban.clone(),
        },
    ] {
        let context = ScaContextDto::from(&context);
        let issue = ChallengeRequest {
            psu_id: psu.clone(),
            context: context.clone(),
        };
        let (_, challenge) = check
            .call(
                "POST",
                "/sca/challenges",
                "/sca/challenges",
                Some(to_json(&issue)),
            )
            .await;
        let verify = VerifyRequest {
            psu_id: psu.clone(),
            context,
            otp: MOCK_OTP.into(),
        };
        let path = format!(
            "/sca/challenges/{}/verify",
            challenge["challengeId"].as_str().unwrap()
        );
        let template = "/sca/challenges/{challengeId}/verify";
        let (_, verdict) = check
            .call("POST", template, &path, Some(to_json(&verify)))
            .await;
        assert_eq!(verdict["verdict"], "verified");
    }

    let order = PaymentOrder {
        payment_id: PaymentId("p-1".into()),
        debtor: iban.clone(),
        creditor: Iban::german("12345678", 99).unwrap(),
        creditor_name: "Someone Else".into(),
        amount,
        remittance: Some("Thanks".into()),
        instant: true,
    };
    let put = to_json(&PaymentOrderDto::from(&order));
    assert_eq!(
        check
            .call(
                "PUT",
                "/payments/{paymentId}",
                "/payments/p-1",
                Some(put.clone())
            )
            .await
            .0,
        201
    );
    assert_eq!(
        check
            .call("PUT", "/payments/{paymentId}", "/payments/p-1", Some(put))
            .await
            .0,
        200
    );
    let mut broke = PaymentOrderDto::from(&order);
    broke.amount = (&Money::from_minor(1_000_000_000_000, Currency::EUR)).into();
    let (_, refused) = check
        .call(
            "PUT",
            "/payments/{paymentId}",
            "/payments/p-2",
            Some(to_json(&broke)),
        )
        .await;
    assert_eq!(refused["rejectReason"], "insufficientFunds");
    check
        .call("GET", "/payments/{paymentId}", "/payments/p-1", None)
        .await;
    check
        .call("GET", "/payments/{paymentId}", "/payments/never", None)
        .await;

    let documented: std::collections::BTreeSet<(String, String)> = check.spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_ascii_uppercase(), path.clone()))
        })
        .collect();
    assert_eq!(
        check.covered, documented,
        "every documented operation was exercised"
    );
}
