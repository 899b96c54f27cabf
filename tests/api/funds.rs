//! Confirmation of funds with the PSU's consent (PSD2 Art. 65), end to end: the
//! TPP creates a confirmation-of-funds consent, the PSU authorizes it on the
//! consent page with scope `PIIS:<consentId>`, and the TPP asks
//! `POST /v1/funds-confirmations` about exactly that account.

use serde_json::{Value, json};
use time::Duration;

use crate::accounts::berlin_group::{assert_valid, response_schema};
use crate::helpers::*;

const CONSENTS: &str = "/v2/consents/confirmation-of-funds";

fn today(app: &TestApp) -> time::Date {
    obgw::clock::Clock::now(app.clock.as_ref()).date()
}

/// A consent body for alice's first account.
async fn consent_body(app: &TestApp) -> Value {
    let ibans = app.ibans_of("alice").await;
    json!({
        "account": {"iban": ibans[0]},
        "cardNumber": "1234567891234",
        "cardInformation": "Demo TPP debit card"
    })
}

fn check_body(iban: &str, amount: &str) -> Value {
    json!({
        "account": {"iban": iban},
        "instructedAmount": {"currency": "EUR", "amount": amount},
        "payee": "Corner Shop"
    })
}

/// A TPP call on the mTLS listener with a bearer token and a fresh X-Request-ID.
fn request(
    app: &TestApp,
    client: &reqwest::Client,
    method: reqwest::Method,
    path: &str,
    token: &str,
) -> reqwest::RequestBuilder {
    client
        .request(method, format!("{}{path}", app.mtls_url))
        .bearer_auth(token)
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
}

impl TestApp {
    /// POST /v2/consents/confirmation-of-funds as `client` with `key`.
    async fn post_funds_consent_as(
        &self,
        client: &reqwest::Client,
        token: &str,
        body: &Value,
        key: &str,
    ) -> reqwest::Response {
        request(self, client, reqwest::Method::POST, CONSENTS, token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Creates a confirmation-of-funds consent of the demo TPP; returns its id.
    async fn funds_consent(&self, body: &Value) -> String {
        let token = self.client_token("fundsconfirmations").await;
        let key = uuid::Uuid::new_v4().to_string();
        let res = self
            .post_funds_consent_as(&self.tpp, &token, body, &key)
            .await;
        assert_eq!(res.status(), 201);
        json(res).await["consentId"].as_str().unwrap().to_owned()
    }

    /// `user` opens the consent page for `PIIS:<consent_id>` and logs in;
    /// returns the browser, the page after login, and the PKCE verifier.
    async fn psu_reviews_funds_consent(
        &self,
        consent_id: &str,
        user: &str,
    ) -> (PsuBrowser<'_>, String, String) {
        let (verifier, challenge) = pkce();
        let scope = format!("PIIS:{consent_id}");
        let mut browser = PsuBrowser::new(self);
        let (status, _, page) = browser
            .open(&authorize_query(consent_id, &challenge, &scope))
            .await;
        assert_eq!(status, 200, "{page}");
        let (_, _, page) = browser.login(user, user).await;
        (browser, page, verifier)
    }

    /// Alice approves the consent; returns the demo TPP's token response.
    async fn alice_approves_funds_consent(&self, consent_id: &str) -> Value {
        let (mut browser, page, verifier) =
            self.psu_reviews_funds_consent(consent_id, "alice").await;
        let otp = page.contains("name=\"otp\"").then_some("123456");
        let (status, location, page) = browser.approve(otp, &[]).await;
        assert_eq!(status, 303, "{page}");
        let code = query_param(&location.unwrap(), "code").expect("an authorization code");
        let res = self.exchange(&code, &verifier).await;
        assert_eq!(res.status(), 200);
        json(res).await
    }

    /// POST /v1/funds-confirmations as the demo TPP.
    async fn confirm_funds(
        &self,
        token: &str,
        consent_id: &str,
        body: &Value,
    ) -> reqwest::Response {
        request(
            self,
            &self.tpp,
            reqwest::Method::POST,
            "/v1/funds-confirmations",
            token,
        )
        .header("Consent-ID", consent_id)
        .json(body)
        .send()
        .await
        .unwrap()
    }

    /// A consent's status as the demo TPP reads it.
    async fn funds_consent_status(&self, consent_id: &str) -> String {
        let token = self.client_token("fundsconfirmations").await;
        let path = format!("{CONSENTS}/{consent_id}/status");
        let res = request(self, &self.tpp, reqwest::Method::GET, &path, &token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        json(res).await["consentStatus"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

fn access_token(tokens: &Value) -> &str {
    tokens["access_token"].as_str().unwrap()
}

#[tokio::test]
async fn alice_lets_a_tpp_confirm_funds_on_one_account() {
    let app = TestApp::spawn().await;
    let iban = app.ibans_of("alice").await[0].clone();
    let token = app.client_token("fundsconfirmations").await;
    let res = app
        .post_funds_consent_as(&app.tpp, &token, &consent_body(&app).await, "cof-1")
        .await;

    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["aspsp-sca-approach"], "REDIRECT");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let created = json(res).await;
    let id = created["consentId"].as_str().unwrap().to_owned();
    assert_eq!(created["consentStatus"], "received");
    assert_eq!(location, format!("{}{CONSENTS}/{id}", app.mtls_url));
    assert_eq!(created["_links"]["self"]["href"], location.as_str());
    assert_eq!(
        created["_links"]["status"]["href"],
        format!("{location}/status")
    );
    assert_eq!(
        created["_links"]["scaOAuth"]["href"],
        format!(
            "{}/.well-known/oauth-authorization-server",
            app.state.issuer
        )
    );

    let read = json(
        request(
            &app,
            &app.tpp,
            reqwest::Method::GET,
            &format!("{CONSENTS}/{id}"),
            &token,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(read["account"], json!({"iban": iban}));
    assert_eq!(read["cardNumber"], "1234567891234");
    assert_eq!(read["consentStatus"], "received");
    assert_eq!(
        read["validUntil"],
        (today(&app) + Duration::days(180)).to_string()
    );

    // The page names the TPP, exactly the account, what may be asked and until when.
    let (mut browser, page, verifier) = app.psu_reviews_funds_consent(&id, "alice").await;
    assert!(page.contains("Demo TPP"), "{page}");
    assert!(page.contains(&iban), "{page}");
    assert!(page.contains("enough money"), "{page}");
    assert!(page.contains("ending 1234"), "{page}");
    assert!(
        page.contains(read["validUntil"].as_str().unwrap()),
        "{page}"
    );
    for other in &app.ibans_of("alice").await[1..] {
        assert!(!page.contains(other.as_str()), "only the consented account");
    }
    assert!(
        page.contains("name=\"otp\""),
        "the first consent for this TPP asks the code"
    );
    let (status, location, page) = browser.approve(Some("123456"), &[]).await;
    assert_eq!(status, 303, "{page}");
    let location = location.unwrap();
    assert_eq!(query_param(&location, "state").as_deref(), Some("st-123"));
    let code = query_param(&location, "code").unwrap();
    assert_eq!(app.funds_consent_status(&id).await, "valid");

    let res = app.exchange(&code, &verifier).await;
    assert_eq!(res.status(), 200);
    let tokens = json(res).await;
    assert_eq!(tokens["scope"], format!("PIIS:{id}"));
    let psu_token = access_token(&tokens);

    let small = check_body(&iban, "12.30");
    assert_valid(&small, "#/components/schemas/confirmationOfFunds");
    let res = app.confirm_funds(psu_token, &id, &small).await;
    assert_eq!(res.status(), 200);
    let answer = json(res).await;
    assert_valid(&answer, &response_schema("OK_200_ConfirmationOfFunds"));
    assert_eq!(answer, json!({"fundsAvailable": true}));
    let res = app
        .confirm_funds(psu_token, &id, &check_body(&iban, "999999999.99"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await, json!({"fundsAvailable": false}));
}

#[tokio::test]
async fn the_piis_token_is_refreshed_while_the_consent_is_valid() {
    let app = TestApp::spawn().await;
    let iban = app.ibans_of("alice").await[0].clone();
    let id = app.funds_consent(&consent_body(&app).await).await;
    let tokens = app.alice_approves_funds_consent(&id).await;

    // Access tokens live 5 minutes; a card payment a week later refreshes first.
    app.clock.advance(Duration::days(7));
    let res = app
        .confirm_funds(access_token(&tokens), &id, &check_body(&iban, "1.00"))
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(tpp_code(&json(res).await), "TOKEN_EXPIRED");
    let res = app.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(res.status(), 200);
    let fresh = json(res).await;
    assert_eq!(fresh["scope"], format!("PIIS:{id}"));
    let res = app
        .confirm_funds(access_token(&fresh), &id, &check_body(&iban, "1.00"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["fundsAvailable"], true);
}

#[tokio::test]
async fn the_same_key_and_body_return_the_same_consent_and_another_body_is_422() {
    let app = TestApp::spawn().await;
    let token = app.client_token("fundsconfirmations").await;
    let body = consent_body(&app).await;
    let first = json(
        app.post_funds_consent_as(&app.tpp, &token, &body, "idem")
            .await,
    )
    .await;

    let res = app
        .post_funds_consent_as(&app.tpp, &token, &body, "idem")
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(json(res).await["consentId"], first["consentId"]);

    let mut other = body.clone();
    other["cardNumber"] = json!("9999");
    let res = app
        .post_funds_consent_as(&app.tpp, &token, &other, "idem")
        .await;
    assert_eq!(res.status(), 422);
    let err = json(res).await;
    assert_eq!(tpp_code(&err), "FORMAT_ERROR");
    assert_eq!(err["tppMessages"][0]["path"], "Idempotency-Key");

    // A key spent on an AIS consent is not reused for a funds consent either.
    let ais_token = app.client_token("accounts").await;
    let ais = json!({
        "access": {"balances": [{"iban": body["account"]["iban"]}]},
        "recurringIndicator": true,
        "validUntil": (today(&app) + Duration::days(30)).to_string(),
        "frequencyPerDay": 4
    });
    let res = app
        .post_consent_as(&app.tpp, &ais_token, &ais, "shared")
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post_funds_consent_as(&app.tpp, &token, &body, "shared")
        .await;
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn any_account_but_the_consented_one_is_consent_invalid() {
    let app = TestApp::spawn().await;
    let alice = app.ibans_of("alice").await;
    let bob = app.ibans_of("bob").await;
    let id = app.funds_consent(&consent_body(&app).await).await;
    let tokens = app.alice_approves_funds_consent(&id).await;
    let token = access_token(&tokens);

    let nobodys = obgw::domain::Iban::german("10010010", 7_777_777).unwrap();
    let mut other_card = check_body(&alice[0], "1.00");
    other_card["cardNumber"] = json!("9999888877776666");
    let cases = [
        ("alice's other account", check_body(&alice[1], "1.00")),
        ("bob's account", check_body(&bob[0], "1.00")),
        ("an account of no one", check_body(nobodys.as_str(), "1.00")),
        ("another card", other_card),
    ];
    let mut texts = Vec::new();
    for (case, body) in cases {
        let res = app.confirm_funds(token, &id, &body).await;
        assert_eq!(res.status(), 401, "{case}");
        let err = json(res).await;
        assert_eq!(tpp_code(&err), "CONSENT_INVALID", "{case}");
        texts.push(err["tppMessages"][0]["text"].clone());
    }
    texts.dedup();
    assert_eq!(
        texts.len(),
        1,
        "the same answer whether the account exists or not"
    );

    // The consent's own account still answers.
    let res = app
        .confirm_funds(token, &id, &check_body(&alice[0], "1.00"))
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn only_the_psus_piis_token_for_that_consent_confirms_funds() {
    let app = TestApp::spawn().await;
    let iban = app.ibans_of("alice").await[0].clone();
    let id = app.funds_consent(&consent_body(&app).await).await;
    let tokens = app.alice_approves_funds_consent(&id).await;
    let body = check_body(&iban, "1.00");

    let (ais_consent, ais_tokens) = app.alice_token().await;
    let client_token = app.client_token("fundsconfirmations").await;
    for (case, token, consent) in [
        ("an AIS token", access_token(&ais_tokens), id.as_str()),
        (
            "an AIS token for its own consent",
            access_token(&ais_tokens),
            ais_consent.as_str(),
        ),
        ("a client token", client_token.as_str(), id.as_str()),
        ("no token", "not-a-token", id.as_str()),
    ] {
        let res = app.confirm_funds(token, consent, &body).await;
        assert_eq!(res.status(), 401, "{case}");
        assert_eq!(tpp_code(&json(res).await), "TOKEN_INVALID", "{case}");
    }

    // The PIIS token of another consent of the same TPP.
    let other = app.funds_consent(&consent_body(&app).await).await;
    let res = app
        .confirm_funds(access_token(&tokens), &other, &body)
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(tpp_code(&json(res).await), "CONSENT_INVALID");

    let res = request(
        &app,
        &app.tpp,
        reqwest::Method::POST,
        "/v1/funds-confirmations",
        access_token(&tokens),
    )
    .json(&body)
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 400, "Consent-ID is required");
    assert_eq!(json(res).await["tppMessages"][0]["path"], "Consent-ID");
}

#[tokio::test]
async fn another_tpps_funds_consent_is_unknown() {
    let app = TestApp::spawn().await;
    let id = app.funds_consent(&consent_body(&app).await).await;
    let (_, other) = app.register_tpp("Other TPP");
    let res = app
        .token_with(
            &other,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "fundsconfirmations"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let other_token = json(res).await["access_token"].as_str().unwrap().to_owned();
    for (method, path) in [
        (reqwest::Method::GET, format!("{CONSENTS}/{id}")),
        (reqwest::Method::GET, format!("{CONSENTS}/{id}/status")),
        (reqwest::Method::DELETE, format!("{CONSENTS}/{id}")),
    ] {
        let res = request(&app, &other, method.clone(), &path, &other_token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{method} {path}");
        assert_eq!(tpp_code(&json(res).await), "CONSENT_UNKNOWN");
    }
    assert_eq!(app.funds_consent_status(&id).await, "received", "untouched");

    // Unknown ids, and AIS consent ids, are unknown here too.
    let token = app.client_token("fundsconfirmations").await;
    let ais = app.alice_consent().await;
    for unknown in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".into(), ais] {
        let path = format!("{CONSENTS}/{unknown}");
        let res = request(&app, &app.tpp, reqwest::Method::GET, &path, &token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{unknown}");
        assert_eq!(tpp_code(&json(res).await), "CONSENT_UNKNOWN");
    }

    // Nor can the other TPP send a PSU to authorize it.
    let (other_id, _) = app.register_tpp("Third TPP");
    let (_, challenge) = pkce();
    let scope = format!("PIIS:{id}");
    let mut query = authorize_query(&id, &challenge, &scope);
    query[0] = ("client_id", other_id.as_str());
    let (status, location, _) = PsuBrowser::new(&app).open(&query).await;
    assert_eq!(status, 303);
    assert_eq!(
        query_param(&location.unwrap(), "error").as_deref(),
        Some("invalid_scope")
    );
}

#[tokio::test]
async fn bob_cannot_authorize_a_consent_for_alices_account() {
    let app = TestApp::spawn().await;
    let id = app.funds_consent(&consent_body(&app).await).await;
    let (_, page, _) = app.psu_reviews_funds_consent(&id, "bob").await;
    assert!(page.contains("not yours"), "{page}");
    assert!(
        page.contains("access_denied"),
        "a link back to the TPP: {page}"
    );
    assert_eq!(app.funds_consent_status(&id).await, "rejected");
}

#[tokio::test]
async fn denying_rejects_the_consent() {
    let app = TestApp::spawn().await;
    let id = app.funds_consent(&consent_body(&app).await).await;
    let (mut browser, page, _) = app.psu_reviews_funds_consent(&id, "alice").await;
    assert!(page.contains("Deny"), "{page}");
    let (status, location, _) = browser.deny().await;
    assert_eq!(status, 303);
    let location = location.unwrap();
    assert!(location.starts_with(DEMO_REDIRECT));
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some("st-123"));
    assert_eq!(app.funds_consent_status(&id).await, "rejected");
}

#[tokio::test]
async fn a_deleted_consent_confirms_no_funds() {
    let app = TestApp::spawn().await;
    let iban = app.ibans_of("alice").await[0].clone();
    let id = app.funds_consent(&consent_body(&app).await).await;
    let tokens = app.alice_approves_funds_consent(&id).await;

    let token = app.client_token("fundsconfirmations").await;
    let path = format!("{CONSENTS}/{id}");
    let res = request(&app, &app.tpp, reqwest::Method::DELETE, &path, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(app.funds_consent_status(&id).await, "terminatedByTpp");
    let res = request(&app, &app.tpp, reqwest::Method::DELETE, &path, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204, "deleting again is harmless");

    let res = app
        .confirm_funds(access_token(&tokens), &id, &check_body(&iban, "1.00"))
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(tpp_code(&json(res).await), "CONSENT_INVALID");
    let res = app.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(res.status(), 400);
    assert_eq!(json(res).await["error"], "invalid_grant");
}

#[tokio::test]
async fn bank_it_revokes_a_funds_consent_on_the_psus_behalf() {
    let app = TestApp::spawn().await;
    let iban = app.ibans_of("alice").await[0].clone();
    let id = app.funds_consent(&consent_body(&app).await).await;
    let tokens = app.alice_approves_funds_consent(&id).await;

    let out = app.obgw(&["consents", "revoke", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["consentStatus"], "revokedByPsu");
    assert_eq!(shown["confirmationOfFunds"], true);

    let res = app
        .confirm_funds(access_token(&tokens), &id, &check_body(&iban, "1.00"))
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(tpp_code(&json(res).await), "CONSENT_INVALID");
}

#[tokio::test]
async fn a_consent_not_authorized_in_time_is_rejected() {
    let app = TestApp::spawn().await;
    let id = app.funds_consent(&consent_body(&app).await).await;
    app.clock.advance(Duration::minutes(14));
    assert_eq!(app.funds_consent_status(&id).await, "received");
    app.clock.advance(Duration::minutes(2));
    assert_eq!(app.funds_consent_status(&id).await, "rejected");

    // The PSU can no longer be sent to authorize it.
    let (_, challenge) = pkce();
    let scope = format!("PIIS:{id}");
    let (status, location, _) = PsuBrowser::new(&app)
        .open(&authorize_query(&id, &challenge, &scope))
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        query_param(&location.unwrap(), "error").as_deref(),
        Some("invalid_scope")
    );
}

#[tokio::test]
async fn a_consent_ends_with_the_card_and_then_is_expired() {
    let app = TestApp::spawn().await;
    let iban = app.ibans_of("alice").await[0].clone();
    // Late in the evening, so a token taken now outlives the consent's last day.
    let evening = today(&app).with_hms(23, 57, 0).unwrap().assume_utc();
    app.clock.set(evening);
    let mut body = consent_body(&app).await;
    body["cardExpiryDate"] = json!(today(&app).to_string());
    let id = app.funds_consent(&body).await;
    let tokens = app.alice_approves_funds_consent(&id).await;
    let res = app
        .confirm_funds(access_token(&tokens), &id, &check_body(&iban, "1.00"))
        .await;
    assert_eq!(res.status(), 200);

    app.clock.advance(Duration::minutes(4));
    let res = app
        .confirm_funds(access_token(&tokens), &id, &check_body(&iban, "1.00"))
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(tpp_code(&json(res).await), "CONSENT_EXPIRED");
    assert_eq!(app.funds_consent_status(&id).await, "expired");
    let res = app.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn invalid_consent_bodies_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let token = app.client_token("fundsconfirmations").await;
    let base = consent_body(&app).await;
    let with = |field: &str, value: Value| {
        let mut b = base.clone();
        b[field] = value;
        b
    };
    let yesterday = (today(&app) - Duration::days(1)).to_string();
    let cases = [
        (
            with("account", json!({"iban": "DE00370400440532013000"})),
            "account.iban",
        ),
        (
            with("account", json!({"bban": "370400440532013000"})),
            "account.bban",
        ),
        (with("validUntil", json!("2030-01-01")), "validUntil"),
        (with("cardNumber", json!("x".repeat(36))), "cardNumber"),
        (with("cardExpiryDate", json!(yesterday)), "cardExpiryDate"),
        (
            with("cardInformation", json!("x".repeat(141))),
            "cardInformation",
        ),
        (
            with("registrationInformation", json!(42)),
            "registrationInformation",
        ),
        (json!({"cardNumber": "1234"}), "account"),
    ];
    for (body, path) in cases {
        let key = uuid::Uuid::new_v4().to_string();
        let res = app
            .post_funds_consent_as(&app.tpp, &token, &body, &key)
            .await;
        assert_eq!(res.status(), 400, "{path}");
        let err = json(res).await;
        assert_eq!(tpp_code(&err), "FORMAT_ERROR", "{path}");
        assert_eq!(err["tppMessages"][0]["path"], path);
    }
}

#[tokio::test]
async fn invalid_funds_checks_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let iban = app.ibans_of("alice").await[0].clone();
    let id = app.funds_consent(&consent_body(&app).await).await;
    let tokens = app.alice_approves_funds_consent(&id).await;
    let base = check_body(&iban, "1.00");
    let with = |field: &str, value: Value| {
        let mut b = base.clone();
        b[field] = value;
        b
    };
    let amount = |v: Value| with("instructedAmount", v);
    let cases = [
        (
            amount(json!({"currency": "EUR", "amount": 12.3})),
            "instructedAmount.amount",
        ),
        (
            amount(json!({"currency": "EUR", "amount": "1.234"})),
            "instructedAmount.amount",
        ),
        (
            amount(json!({"currency": "EUR", "amount": "0"})),
            "instructedAmount.amount",
        ),
        (
            amount(json!({"currency": "EURO", "amount": "1"})),
            "instructedAmount.currency",
        ),
        (
            with("account", json!({"iban": "DE00370400440532013000"})),
            "account.iban",
        ),
        (with("creditorName", json!("x")), "creditorName"),
        (with("payee", json!("x".repeat(71))), "payee"),
    ];
    for (body, path) in cases {
        let res = app.confirm_funds(access_token(&tokens), &id, &body).await;
        assert_eq!(res.status(), 400, "{path}");
        let err = json(res).await;
        assert_eq!(tpp_code(&err), "FORMAT_ERROR", "{path}");
        assert_eq!(err["tppMessages"][0]["path"], path);
    }
}

#[tokio::test]
async fn funds_consents_need_a_client_token_with_scope_fundsconfirmations() {
    let app = TestApp::spawn().await;
    let body = consent_body(&app).await;
    let res = app
        .post_funds_consent_as(&app.tpp, "not-a-token", &body, "k")
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(tpp_code(&json(res).await), "TOKEN_INVALID");

    let accounts = app.client_token("accounts").await;
    let res = app
        .post_funds_consent_as(&app.tpp, &accounts, &body, "k")
        .await;
    assert_eq!(res.status(), 403);

    let token = app.client_token("fundsconfirmations").await;
    let res = request(&app, &app.tpp, reqwest::Method::POST, CONSENTS, &token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "Idempotency-Key is required");
    assert_eq!(json(res).await["tppMessages"][0]["path"], "Idempotency-Key");

    let res = app
        .tpp
        .post(format!("{}{CONSENTS}", app.mtls_url))
        .bearer_auth(&token)
        .header("Idempotency-Key", "k")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "X-Request-ID is required on /v2");
}

#[tokio::test]
async fn funds_are_confirmed_through_the_http_core_adapter_too() {
    let app = TestApp::spawn_on_mock_core_sharing_the_clock().await;
    let alice = app.ibans_of("alice").await;
    let id = app.funds_consent(&consent_body(&app).await).await;
    let tokens = app.alice_approves_funds_consent(&id).await;
    let token = access_token(&tokens);
    for (amount, available) in [("1.00", true), ("999999999.99", false)] {
        let res = app
            .confirm_funds(token, &id, &check_body(&alice[0], amount))
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(json(res).await["fundsAvailable"], available, "{amount}");
    }
    let res = app
        .confirm_funds(token, &id, &check_body(&alice[1], "1.00"))
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(tpp_code(&json(res).await), "CONSENT_INVALID");
}

#[tokio::test]
async fn a_wrong_one_time_code_is_asked_again_and_grants_nothing() {
    let app = TestApp::spawn().await;
    let id = app.funds_consent(&consent_body(&app).await).await;
    let (mut browser, page, verifier) = app.psu_reviews_funds_consent(&id, "alice").await;
    assert!(page.contains("name=\"otp\""), "{page}");

    let (status, location, page) = browser.approve(Some("000000"), &[]).await;
    assert_eq!(status, 200, "the page again, no redirect");
    assert!(location.is_none());
    assert!(page.contains("not correct"), "{page}");
    assert!(page.contains("name=\"otp\""), "{page}");
    assert_eq!(app.funds_consent_status(&id).await, "received");

    let (status, location, page) = browser.approve(Some("123456"), &[]).await;
    assert_eq!(status, 303, "{page}");
    let code = query_param(&location.unwrap(), "code").unwrap();
    assert_eq!(app.exchange(&code, &verifier).await.status(), 200);
    assert_eq!(app.funds_consent_status(&id).await, "valid");
}

#[tokio::test]
async fn the_one_time_code_is_asked_as_for_ais_consents_once_per_tpp() {
    let app = TestApp::spawn().await;
    // alice passed SCA for the demo TPP on an AIS consent.
    app.alice_token().await;
    let id = app.funds_consent(&consent_body(&app).await).await;
    let (mut browser, page, _) = app.psu_reviews_funds_consent(&id, "alice").await;
    assert!(!page.contains("name=\"otp\""), "{page}");
    let (status, _, page) = browser.approve(None, &[]).await;
    assert_eq!(status, 303, "{page}");
    assert_eq!(app.funds_consent_status(&id).await, "valid");

    // After the renewal period (180 days) it is asked again.
    app.clock.advance(Duration::days(181));
    let id = app.funds_consent(&consent_body(&app).await).await;
    let (_, page, _) = app.psu_reviews_funds_consent(&id, "alice").await;
    assert!(page.contains("name=\"otp\""), "{page}");
}
