//! `/v1/consents`: creating, reading, and deleting AIS consents as a TPP, over
//! real mTLS with real client-credentials tokens.

use serde_json::{Value, json};
use time::Duration;

use crate::helpers::{TestApp, json, tpp_code};

fn today(app: &TestApp) -> time::Date {
    obgw::clock::Clock::now(app.clock.as_ref()).date()
}

/// A valid consent body for alice's first account.
async fn consent_body(app: &TestApp) -> Value {
    let ibans = app.ibans_of("alice").await;
    json!({
        "access": {"balances": [{"iban": ibans[0]}]},
        "recurringIndicator": true,
        "validUntil": (today(app) + Duration::days(30)).to_string(),
        "frequencyPerDay": 4,
        "combinedServiceIndicator": false
    })
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    client: &reqwest::Client,
    token: &str,
    path: &str,
) -> reqwest::Response {
    client
        .request(method, format!("{}{path}", app.mtls_url))
        .bearer_auth(token)
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap()
}

async fn get_consent(app: &TestApp, token: &str, id: &str) -> reqwest::Response {
    send(
        app,
        reqwest::Method::GET,
        &app.tpp,
        token,
        &format!("/v1/consents/{id}"),
    )
    .await
}

async fn consent_status(app: &TestApp, token: &str, id: &str) -> String {
    let res = send(
        app,
        reqwest::Method::GET,
        &app.tpp,
        token,
        &format!("/v1/consents/{id}/status"),
    )
    .await;
    assert_eq!(res.status(), 200);
    json(res).await["consentStatus"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn delete_consent(app: &TestApp, token: &str, id: &str) -> reqwest::Response {
    send(
        app,
        reqwest::Method::DELETE,
        &app.tpp,
        token,
        &format!("/v1/consents/{id}"),
    )
    .await
}

/// POST /v1/consents with chosen headers (no defaults).
async fn post_raw(
    app: &TestApp,
    token: &str,
    headers: &[(&str, &str)],
    body: reqwest::Body,
) -> reqwest::Response {
    let mut req = app
        .tpp
        .post(format!("{}/v1/consents", app.mtls_url))
        .bearer_auth(token)
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .header("content-type", "application/json");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.body(body).send().await.unwrap()
}

#[tokio::test]
async fn creating_a_consent_answers_201_with_its_links() {
    let app = TestApp::spawn().await;
    let token = app.client_token("accounts").await;
    let res = app.post_consent(&token, &consent_body(&app).await).await;

    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["aspsp-sca-approach"], "REDIRECT");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let body = json(res).await;
    let id = body["consentId"].as_str().unwrap();
    assert_eq!(body["consentStatus"], "received");
    assert_eq!(body["_links"]["self"]["href"], location.as_str());
    assert_eq!(location, format!("{}/v1/consents/{id}", app.mtls_url));
    assert_eq!(
        body["_links"]["status"]["href"],
        format!("{location}/status")
    );
    assert_eq!(
        body["_links"]["scaOAuth"]["href"],
        format!(
            "{}/.well-known/oauth-authorization-server",
            app.state.issuer
        )
    );
}

#[tokio::test]
async fn a_consent_reads_back_as_the_bank_accepted_it() {
    let app = TestApp::spawn().await;
    let token = app.client_token("accounts").await;
    let mut body = consent_body(&app).await;
    body["validUntil"] = json!("9999-12-31");
    body["frequencyPerDay"] = json!(25);
    let created = json(app.post_consent(&token, &body).await).await;
    let id = created["consentId"].as_str().unwrap();

    let res = get_consent(&app, &token, id).await;
    assert_eq!(res.status(), 200);
    let read = json(res).await;
    let iban = &body["access"]["balances"][0]["iban"];
    assert_eq!(
        read["access"],
        json!({"accounts": [{"iban": iban}], "balances": [{"iban": iban}]})
    );
    assert_eq!(read["recurringIndicator"], true);
    assert_eq!(
        read["validUntil"],
        (today(&app) + Duration::days(180)).to_string()
    );
    assert_eq!(read["frequencyPerDay"], 4);
    assert_eq!(read["lastActionDate"], today(&app).to_string());
    assert_eq!(read["consentStatus"], "received");
    assert!(read["_links"].get("account").is_none());
    assert_eq!(consent_status(&app, &token, id).await, "received");
}

#[tokio::test]
async fn invalid_bodies_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let token = app.client_token("accounts").await;
    let base = consent_body(&app).await;
    let with = |field: &str, value: Value| {
        let mut b = base.clone();
        b[field] = value;
        b
    };
    let cases = [
        (
            with(
                "access",
                json!({"accounts": [{"bban": "370400440532013000"}]}),
            ),
            "access.accounts[0].bban",
        ),
        (with("psuName", json!("x")), "psuName"),
        (with("validUntil", json!("2000-01-01")), "validUntil"),
        (with("validUntil", json!(20301231)), "validUntil"),
        (
            with("recurringIndicator", json!("yes")),
            "recurringIndicator",
        ),
        (with("frequencyPerDay", json!(0)), "frequencyPerDay"),
        (
            with(
                "access",
                json!({"accounts": [{"iban": "DE00370400440532013000"}]}),
            ),
            "access.accounts[0].iban",
        ),
        (
            with(
                "access",
                json!({"balances": [{"iban": base["access"]["balances"][0]["iban"]}], "allPsd2": "allAccounts"}),
            ),
            "access.allPsd2",
        ),
    ];
    for (body, path) in cases {
        let res = app.post_consent(&token, &body).await;
        assert_eq!(res.status(), 400, "{path}");
        let err = json(res).await;
        assert_eq!(tpp_code(&err), "FORMAT_ERROR", "{path}");
        assert_eq!(err["tppMessages"][0]["path"], path);
    }
}

#[tokio::test]
async fn combined_service_sessions_are_not_supported() {
    let app = TestApp::spawn().await;
    let token = app.client_token("accounts").await;
    let mut body = consent_body(&app).await;
    body["combinedServiceIndicator"] = json!(true);
    let res = app.post_consent(&token, &body).await;
    assert_eq!(res.status(), 400);
    assert_eq!(tpp_code(&json(res).await), "SESSIONS_NOT_SUPPORTED");
}

#[tokio::test]
async fn malformed_json_is_a_format_error() {
    let app = TestApp::spawn().await;
    let token = app.client_token("accounts").await;
    let res = post_raw(
        &app,
        &token,
        &[("Idempotency-Key", "k1")],
        "{\"access\":".into(),
    )
    .await;
    assert_eq!(res.status(), 400);
    assert_eq!(tpp_code(&json(res).await), "FORMAT_ERROR");
}

#[tokio::test]
async fn the_idempotency_key_is_required_and_validated() {
    let app = TestApp::spawn().await;
    let token = app.client_token("accounts").await;
    let body = serde_json::to_vec(&consent_body(&app).await).unwrap();
    let long = "k".repeat(41);
    for headers in [
        vec![],
        vec![("Idempotency-Key", long.as_str())],
        vec![("Idempotency-Key", "")],
        vec![("Idempotency-Key", "a"), ("x-idempotency-key", "b")],
    ] {
        let res = post_raw(&app, &token, &headers, body.clone().into()).await;
        assert_eq!(res.status(), 400, "{headers:?}");
        let err = json(res).await;
        assert_eq!(tpp_code(&err), "FORMAT_ERROR");
        assert_eq!(err["tppMessages"][0]["path"], "Idempotency-Key");
    }
    let res = post_raw(
        &app,
        &token,
        &[("x-idempotency-key", "uk-style")],
        body.into(),
    )
    .await;
    assert_eq!(res.status(), 201, "the UK spelling is accepted");
}

#[tokio::test]
async fn the_same_key_and_body_return_the_same_consent() {
    let app = TestApp::spawn().await;
    let token = app.client_token("accounts").await;
    let body = consent_body(&app).await;
    let first = json(app.post_consent_as(&app.tpp, &token, &body, "idem-1").await).await;

    let res = app.post_consent_as(&app.tpp, &token, &body, "idem-1").await;
    assert_eq!(res.status(), 201);
    let again = json(res).await;
    assert_eq!(again["consentId"], first["consentId"]);

    // Key order does not matter: bodies are compared as parsed JSON.
    let text = serde_json::to_string(&body).unwrap();
    let reordered: Value = serde_json::from_str(&text).unwrap();
    let mut map: Vec<(String, Value)> =
        reordered.as_object().unwrap().clone().into_iter().collect();
    map.reverse();
    let raw = format!(
        "{{{}}}",
        map.iter()
            .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
            .collect::<Vec<_>>()
            .join(",")
    );
    let res = post_raw(&app, &token, &[("Idempotency-Key", "idem-1")], raw.into()).await;
    assert_eq!(res.status(), 201);
    assert_eq!(json(res).await["consentId"], first["consentId"]);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422() {
    let app = TestApp::spawn().await;
    let token = app.client_token("accounts").await;
    let body = consent_body(&app).await;
    assert_eq!(
        app.post_consent_as(&app.tpp, &token, &body, "idem-2")
            .await
            .status(),
        201
    );
    let mut other = body.clone();
    other["frequencyPerDay"] = json!(2);
    let res = app
        .post_consent_as(&app.tpp, &token, &other, "idem-2")
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(tpp_code(&json(res).await), "FORMAT_ERROR");
}

#[tokio::test]
async fn concurrent_duplicates_get_the_same_consent() {
    let app = TestApp::spawn().await;
    let token = app.client_token("accounts").await;
    let body = consent_body(&app).await;
    let requests = (0..8).map(|_| app.post_consent_as(&app.tpp, &token, &body, "race"));
    let responses = futures_util::future::join_all(requests).await;
    let mut ids = Vec::new();
    for res in responses {
        assert_eq!(res.status(), 201);
        ids.push(json(res).await["consentId"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1);
}

#[tokio::test]
async fn an_invalid_psu_ip_address_is_refused() {
    let app = TestApp::spawn().await;
    let token = app.client_token("accounts").await;
    let body = serde_json::to_vec(&consent_body(&app).await).unwrap();
    let res = post_raw(
        &app,
        &token,
        &[("Idempotency-Key", "ip"), ("PSU-IP-Address", "not-an-ip")],
        body.into(),
    )
    .await;
    assert_eq!(res.status(), 400);
    assert_eq!(json(res).await["tppMessages"][0]["path"], "PSU-IP-Address");
}

#[tokio::test]
async fn consents_need_a_client_token_with_scope_accounts() {
    let app = TestApp::spawn().await;
    let body = consent_body(&app).await;
    let res = app.post_consent("not-a-token", &body).await;
    assert_eq!(res.status(), 401);
    assert_eq!(tpp_code(&json(res).await), "TOKEN_INVALID");

    let payments = app.client_token("payments").await;
    let res = app.post_consent(&payments, &body).await;
    assert_eq!(res.status(), 403);

    let (consent_id, tokens) = app.alice_token().await;
    let user_token = tokens["access_token"].as_str().unwrap();
    let res = get_consent(&app, user_token, &consent_id).await;
    assert_eq!(res.status(), 401, "a PSU token cannot manage consents");
}

#[tokio::test]
async fn another_tpps_consent_is_unknown() {
    let app = TestApp::spawn().await;
    let token = app.client_token("accounts").await;
    let id = app.alice_consent().await;
    let (_, other) = app.register_tpp("Other TPP");
    let other_token = {
        let res = app
            .token_with(
                &other,
                &[("grant_type", "client_credentials"), ("scope", "accounts")],
            )
            .await;
        assert_eq!(res.status(), 200);
        json(res).await["access_token"].as_str().unwrap().to_owned()
    };
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        for path in [
            format!("/v1/consents/{id}"),
            format!("/v1/consents/{id}/status"),
        ] {
            if method == reqwest::Method::DELETE && path.ends_with("/status") {
                continue;
            }
            let res = send(&app, method.clone(), &other, &other_token, &path).await;
            assert_eq!(res.status(), 403, "{method} {path}");
            assert_eq!(tpp_code(&json(res).await), "CONSENT_UNKNOWN");
        }
    }
    assert_eq!(
        consent_status(&app, &token, &id).await,
        "received",
        "untouched"
    );

    for unknown in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".to_owned()] {
        let res = get_consent(&app, &token, &unknown).await;
        assert_eq!(res.status(), 403);
        assert_eq!(tpp_code(&json(res).await), "CONSENT_UNKNOWN");
    }
}

#[tokio::test]
async fn deleting_a_consent_terminates_it() {
    let app = TestApp::spawn().await;
    let token = app.client_token("accounts").await;
    let id = app.alice_consent().await;
    let res = delete_consent(&app, &token, &id).await;
    assert_eq!(res.status(), 204);
    assert!(res.bytes().await.unwrap().is_empty());
    assert_eq!(consent_status(&app, &token, &id).await, "terminatedByTpp");
    // Deleting again changes nothing and still answers 204.
    assert_eq!(delete_consent(&app, &token, &id).await.status(), 204);
    assert_eq!(consent_status(&app, &token, &id).await, "terminatedByTpp");
}

#[tokio::test]
async fn a_consent_not_authorized_in_time_is_rejected() {
    let app = TestApp::spawn().await;
    let id = app.alice_consent().await;
    app.clock.advance(Duration::minutes(14));
    // Access tokens live 5 minutes; each check takes a fresh one.
    let token = app.client_token("accounts").await;
    assert_eq!(consent_status(&app, &token, &id).await, "received");
    app.clock.advance(Duration::minutes(2));
    let token = app.client_token("accounts").await;
    assert_eq!(consent_status(&app, &token, &id).await, "rejected");
}

#[tokio::test]
async fn an_authorized_consent_is_valid_until_it_expires() {
    let app = TestApp::spawn().await;
    let (id, _) = app.alice_token().await;
    let token = app.client_token("accounts").await;
    let res = get_consent(&app, &token, &id).await;
    let read = json(res).await;
    assert_eq!(read["consentStatus"], "valid");
    assert_eq!(
        read["_links"]["account"]["href"],
        format!("{}/v1/accounts", app.mtls_url)
    );

    // alice_consent asks for 30 days.
    app.clock.advance(Duration::days(31));
    let token = app.client_token("accounts").await;
    assert_eq!(consent_status(&app, &token, &id).await, "expired");
}
