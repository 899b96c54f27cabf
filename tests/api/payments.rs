//! Payment initiation end to end: validation, idempotency, the PSU's approval with
//! risk-based SCA, forwarding to the core exactly once, cancellation.

use std::time::Duration as StdDuration;

use obgw::domain::Iban;
use serde_json::{Value, json};

use crate::helpers::*;

pub const SEPA: &str = "sepa-credit-transfers";
pub const INSTANT: &str = "instant-sepa-credit-transfers";
pub const CROSS_BORDER: &str = "cross-border-credit-transfers";

/// A payee at another bank that nobody paid before (the n-th of its kind).
pub fn new_payee(n: u64) -> String {
    Iban::german("10010010", 7_000_000 + n)
        .unwrap()
        .as_str()
        .to_owned()
}

pub fn payment_body(debtor: &str, creditor: &str, amount: &str) -> Value {
    json!({
        "instructedAmount": {"currency": "EUR", "amount": amount},
        "debtorAccount": {"iban": debtor},
        "creditorAccount": {"iban": creditor},
        "creditorName": "Payee GmbH",
        "remittanceInformationUnstructured": "Invoice 42"
    })
}

/// How one PSU approval went.
#[derive(Debug)]
pub struct Approved {
    pub sca_asked: bool,
    pub code: String,
    pub verifier: String,
}

impl TestApp {
    /// POST /v1/payments/{product} as the demo TPP with a fresh client token.
    pub async fn post_payment(&self, product: &str, body: &Value, key: &str) -> reqwest::Response {
        let token = self.client_token("payments").await;
        self.post_payment_with(&token, product, body, key).await
    }

    pub async fn post_payment_with(
        &self,
        token: &str,
        product: &str,
        body: &Value,
        key: &str,
    ) -> reqwest::Response {
        self.tpp
            .post(format!("{}/v1/payments/{product}", self.mtls_url))
            .bearer_auth(token)
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
            .header("Idempotency-Key", key)
            .header("PSU-IP-Address", "192.0.2.10")
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Initiates a payment that must be accepted; returns its id.
    pub async fn initiate(&self, product: &str, body: &Value) -> String {
        let res = self
            .post_payment(product, body, &uuid::Uuid::new_v4().to_string())
            .await;
        assert_eq!(res.status(), 201);
        json(res).await["paymentId"].as_str().unwrap().to_owned()
    }

    /// The PSU `user` opens the consent page for the payment and logs in;
    /// returns the browser and the review page.
    pub async fn psu_reviews_payment(
        &self,
        payment_id: &str,
        user: &str,
    ) -> (PsuBrowser<'_>, String, String) {
        let (verifier, challenge) = pkce();
        let scope = format!("PIS:{payment_id}");
        let mut browser = PsuBrowser::new(self);
        let (status, _, page) = browser
            .open(&authorize_query(payment_id, &challenge, &scope))
            .await;
        assert_eq!(status, 200, "{page}");
        let (_, _, page) = browser.login(user, user).await;
        (browser, page, verifier)
    }

    /// The PSU approves the payment (with the one-time code if it is asked, and
    /// ticking "trust this payee" if `trust`).
    pub async fn psu_approves_payment(
        &self,
        payment_id: &str,
        user: &str,
        trust: bool,
    ) -> Approved {
        let (mut browser, page, verifier) = self.psu_reviews_payment(payment_id, user).await;
        assert!(page.contains("Approve a payment"), "{page}");
        let sca_asked = page.contains("name=\"otp\"");
        let csrf = browser.csrf.clone().unwrap();
        let mut form = vec![("csrf", csrf.as_str()), ("decision", "approve")];
        if sca_asked {
            form.push(("otp", "123456"));
            if trust {
                form.push(("trust_payee", "on"));
            }
        }
        let (status, location, page) = browser.post("decision", &form).await;
        assert_eq!(status, 303, "{page}");
        let code = query_param(&location.unwrap(), "code").expect("an authorization code");
        Approved {
            sca_asked,
            code,
            verifier,
        }
    }

    /// A `/v1` call as the demo TPP with `token` and a fresh `X-Request-ID`.
    pub async fn tpp_call(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
    ) -> reqwest::Response {
        self.tpp
            .request(method, format!("{}{path}", self.mtls_url))
            .bearer_auth(token)
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
            .send()
            .await
            .unwrap()
    }

    /// The payment's status as the demo TPP reads it.
    pub async fn payment_status(&self, product: &str, payment_id: &str) -> String {
        let token = self.client_token("payments").await;
        let res = self
            .tpp_call(
                reqwest::Method::GET,
                &token,
                &format!("/v1/payments/{product}/{payment_id}/status"),
            )
            .await;
        assert_eq!(res.status(), 200);
        json(res).await["transactionStatus"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits (up to 10 s) until the forwarding worker has settled the payment.
    pub async fn settled_status(&self, product: &str, payment_id: &str) -> String {
        for _ in 0..200 {
            let status = self.payment_status(product, payment_id).await;
            if !["RCVD", "ACTC"].contains(&status.as_str()) {
                return status;
            }
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
        self.payment_status(product, payment_id).await
    }

    /// An account's booked balance in cents, as the core reports it.
    pub async fn booked_cents(&self, iban: &str) -> i64 {
        let core = &self.state.core;
        let account = core
            .account_by_iban(&Iban::parse(iban).unwrap())
            .await
            .unwrap()
            .unwrap();
        let balances = core.balances(&account.id).await.unwrap();
        balances
            .iter()
            .find(|b| b.kind == obgw::core::BalanceType::ClosingBooked)
            .unwrap()
            .amount
            .minor_units()
    }

    /// Initiates, approves as alice and waits for the outcome.
    pub async fn alice_pays(&self, product: &str, body: &Value) -> (String, Approved, String) {
        let id = self.initiate(product, body).await;
        let approved = self.psu_approves_payment(&id, "alice", false).await;
        let status = self.settled_status(product, &id).await;
        (id, approved, status)
    }

    /// `obgw payments show ID` as JSON.
    pub fn payment_shown(&self, payment_id: &str) -> Value {
        let out = self.obgw(&["payments", "show", payment_id]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

#[tokio::test]
async fn each_product_moves_the_ledger_by_exactly_the_amount() {
    let app = TestApp::spawn().await;
    let alice = app.ibans_of("alice").await;
    let bob = app.ibans_of("bob").await;
    for (product, creditor, amount, cents) in [
        (SEPA, bob[0].as_str(), "12.34", 1_234),
        (INSTANT, bob[0].as_str(), "7.01", 701),
        (CROSS_BORDER, "GB82WEST12345698765432", "15.50", 1_550),
    ] {
        let debtor_before = app.booked_cents(&alice[0]).await;
        let bob_before = app.booked_cents(&bob[0]).await;
        let (id, _, status) = app
            .alice_pays(product, &payment_body(&alice[0], creditor, amount))
            .await;
        assert_eq!(status, "ACSC", "{product}");
        assert_eq!(
            app.booked_cents(&alice[0]).await,
            debtor_before - cents,
            "{product}"
        );
        let bob_delta = app.booked_cents(&bob[0]).await - bob_before;
        let expected = if creditor == bob[0] { cents } else { 0 };
        assert_eq!(bob_delta, expected, "{product}");

        let token = app.client_token("payments").await;
        let res = app
            .tpp_call(
                reqwest::Method::GET,
                &token,
                &format!("/v1/payments/{product}/{id}"),
            )
            .await;
        assert_eq!(res.status(), 200);
        let body = json(res).await;
        assert_eq!(body["transactionStatus"], "ACSC");
        assert_eq!(
            body["instructedAmount"],
            json!({"currency": "EUR", "amount": amount})
        );
        assert_eq!(body["creditorAccount"]["iban"], creditor);
    }
}

#[tokio::test]
async fn an_initiation_answers_201_with_the_links_the_standard_names() {
    let app = TestApp::spawn().await;
    let alice = app.ibans_of("alice").await;
    let res = app
        .post_payment(
            SEPA,
            &payment_body(&alice[0], &new_payee(1), "10.00"),
            "k-links",
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["aspsp-sca-approach"], "REDIRECT");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let body = json(res).await;
    let id = body["paymentId"].as_str().unwrap();
    assert_eq!(body["transactionStatus"], "RCVD");
    assert_eq!(body["_links"]["self"]["href"], location);
    assert_eq!(
        location,
        format!("{}/v1/payments/{SEPA}/{id}", app.mtls_url)
    );
    assert_eq!(
        body["_links"]["status"]["href"],
        format!("{location}/status")
    );
    assert!(
        body["_links"]["scaOAuth"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/.well-known/oauth-authorization-server")
    );
}

#[tokio::test]
async fn every_malformed_initiation_is_a_400_naming_the_field_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.ibans_of("alice").await;
    let good = payment_body(&alice[0], &new_payee(2), "10.00");
    let with = |patch: Value| {
        let mut b = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let cases: Vec<(&str, &str, Value, u16, &str, &str)> = vec![
        (
            "amount as a JSON number",
            SEPA,
            with(json!({"instructedAmount": {"currency": "EUR", "amount": 10.5}})),
            400,
            "FORMAT_ERROR",
            "instructedAmount.amount",
        ),
        (
            "three decimals in EUR",
            SEPA,
            with(json!({"instructedAmount": {"currency": "EUR", "amount": "10.001"}})),
            400,
            "FORMAT_ERROR",
            "instructedAmount.amount",
        ),
        (
            "decimals in JPY",
            CROSS_BORDER,
            with(json!({"instructedAmount": {"currency": "JPY", "amount": "100.5"}})),
            400,
            "FORMAT_ERROR",
            "instructedAmount.amount",
        ),
        (
            "a negative amount",
            SEPA,
            with(json!({"instructedAmount": {"currency": "EUR", "amount": "-1.00"}})),
            400,
            "FORMAT_ERROR",
            "instructedAmount.amount",
        ),
        (
            "above the configured limit",
            SEPA,
            with(json!({"instructedAmount": {"currency": "EUR", "amount": "100000.01"}})),
            400,
            "FORMAT_ERROR",
            "instructedAmount.amount",
        ),
        (
            "an unknown currency",
            CROSS_BORDER,
            with(json!({"instructedAmount": {"currency": "XXY", "amount": "1.00"}})),
            400,
            "FORMAT_ERROR",
            "instructedAmount.currency",
        ),
        (
            "USD on a SEPA product",
            INSTANT,
            with(json!({"instructedAmount": {"currency": "USD", "amount": "1.00"}})),
            400,
            "FORMAT_ERROR",
            "instructedAmount.currency",
        ),
        (
            "a currency the debtor account does not hold",
            CROSS_BORDER,
            with(json!({"instructedAmount": {"currency": "USD", "amount": "1.00"}})),
            400,
            "FORMAT_ERROR",
            "instructedAmount.currency",
        ),
        (
            "a bad IBAN check digit",
            SEPA,
            with(json!({"creditorAccount": {"iban": "DE89370400440532013001"}})),
            400,
            "FORMAT_ERROR",
            "creditorAccount.iban",
        ),
        (
            "a debtor that is not our customer",
            SEPA,
            with(json!({"debtorAccount": {"iban": "DE89370400440532013000"}})),
            400,
            "FORMAT_ERROR",
            "debtorAccount.iban",
        ),
        (
            "paying oneself",
            SEPA,
            with(json!({"creditorAccount": {"iban": alice[0]}})),
            400,
            "FORMAT_ERROR",
            "creditorAccount.iban",
        ),
        (
            "a creditor name over 70 characters",
            SEPA,
            with(json!({"creditorName": "n".repeat(71)})),
            400,
            "FORMAT_ERROR",
            "creditorName",
        ),
        (
            "a remittance over 140 characters",
            SEPA,
            with(json!({"remittanceInformationUnstructured": "r".repeat(141)})),
            400,
            "FORMAT_ERROR",
            "remittanceInformationUnstructured",
        ),
        (
            "a field outside the schema",
            SEPA,
            with(json!({"ultimateDebtor": "x"})),
            400,
            "FORMAT_ERROR",
            "ultimateDebtor",
        ),
        (
            "a future execution date",
            SEPA,
            with(json!({"requestedExecutionDate": "2099-01-01"})),
            400,
            "EXECUTION_DATE_INVALID",
            "requestedExecutionDate",
        ),
        (
            "an unknown product",
            "sepa-direct-debits",
            good.clone(),
            404,
            "PRODUCT_UNKNOWN",
            "",
        ),
    ];
    for (name, product, body, status, code, path) in cases {
        let res = app
            .post_payment(product, &body, &uuid::Uuid::new_v4().to_string())
            .await;
        assert_eq!(res.status(), status, "{name}");
        let body = json(res).await;
        assert_eq!(tpp_code(&body), code, "{name}: {body}");
        let text = body["tppMessages"][0]["text"].as_str().unwrap();
        assert!(text.contains(path), "{name}: {text}");
    }
    // Malformed JSON, and a missing PSU-IP-Address.
    let token = app.client_token("payments").await;
    let res = app
        .tpp
        .post(format!("{}/v1/payments/{SEPA}", app.mtls_url))
        .bearer_auth(&token)
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .header("Idempotency-Key", "k-malformed")
        .header("PSU-IP-Address", "192.0.2.10")
        .header("content-type", "application/json")
        .body("{\"instructedAmount\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(tpp_code(&json(res).await), "FORMAT_ERROR");
    let res = app
        .tpp
        .post(format!("{}/v1/payments/{SEPA}", app.mtls_url))
        .bearer_auth(&token)
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .header("Idempotency-Key", "k-no-ip")
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body = json(res).await;
    assert!(
        body["tppMessages"][0]["text"]
            .as_str()
            .unwrap()
            .contains("PSU-IP-Address")
    );
}

#[tokio::test]
async fn initiating_needs_a_client_token_with_the_payments_scope() {
    let app = TestApp::spawn().await;
    let alice = app.ibans_of("alice").await;
    let body = payment_body(&alice[0], &new_payee(3), "10.00");
    let token = app.client_token("accounts").await;
    let res = app.post_payment_with(&token, SEPA, &body, "k-scope").await;
    assert_eq!(res.status(), 403);
    let res = app
        .post_payment_with("not-a-token", SEPA, &body, "k-scope")
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(tpp_code(&json(res).await), "TOKEN_INVALID");
}

#[tokio::test]
async fn a_replay_returns_the_same_payment_and_another_body_with_the_key_is_422() {
    let app = TestApp::spawn().await;
    let alice = app.ibans_of("alice").await;
    let body = payment_body(&alice[0], &new_payee(4), "10.00");
    let first = json(app.post_payment(SEPA, &body, "key-1").await).await;
    let res = app.post_payment(SEPA, &body, "key-1").await;
    assert_eq!(res.status(), 201);
    let again = json(res).await;
    assert_eq!(again["paymentId"], first["paymentId"]);

    // The replay reports the current status.
    let id = first["paymentId"].as_str().unwrap();
    app.psu_approves_payment(id, "alice", false).await;
    assert_eq!(app.settled_status(SEPA, id).await, "ACSC");
    let replay = json(app.post_payment(SEPA, &body, "key-1").await).await;
    assert_eq!(replay["paymentId"], first["paymentId"]);
    assert_eq!(replay["transactionStatus"], "ACSC");

    let other = payment_body(&alice[0], &new_payee(4), "10.01");
    let res = app.post_payment(SEPA, &other, "key-1").await;
    assert_eq!(res.status(), 422);
    assert_eq!(tpp_code(&json(res).await), "FORMAT_ERROR");
}

#[tokio::test]
async fn fifty_concurrent_duplicates_create_one_payment_and_one_debit() {
    let app = TestApp::spawn().await;
    let alice = app.ibans_of("alice").await;
    let bob = app.ibans_of("bob").await;
    let body = payment_body(&alice[0], &bob[0], "3.33");
    let token = app.client_token("payments").await;
    let before = app.booked_cents(&alice[0]).await;
    let requests = (0..50).map(|_| app.post_payment_with(&token, SEPA, &body, "dup-key"));
    let responses = futures_util::future::join_all(requests).await;
    let mut ids = std::collections::BTreeSet::new();
    for res in responses {
        assert_eq!(res.status(), 201);
        ids.insert(json(res).await["paymentId"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = ids.into_iter().next().unwrap();
    app.psu_approves_payment(&id, "alice", false).await;
    assert_eq!(app.settled_status(SEPA, &id).await, "ACSC");
    assert_eq!(app.booked_cents(&alice[0]).await, before - 333);
}

#[tokio::test]
async fn bob_cannot_approve_a_payment_from_alices_account() {
    let app = TestApp::spawn().await;
    let alice = app.ibans_of("alice").await;
    let before = app.booked_cents(&alice[0]).await;
    let id = app
        .initiate(SEPA, &payment_body(&alice[0], &new_payee(5), "20.00"))
        .await;
    let (_, page, _) = app.psu_reviews_payment(&id, "bob").await;
    assert!(page.contains("not yours"), "{page}");
    assert!(!page.contains("decision"), "no approve button: {page}");
    assert_eq!(app.payment_status(SEPA, &id).await, "RJCT");
    assert_eq!(app.booked_cents(&alice[0]).await, before);
}

#[tokio::test]
async fn a_psu_who_denies_leaves_the_payment_rejected_and_the_money_in_place() {
    let app = TestApp::spawn().await;
    let alice = app.ibans_of("alice").await;
    let before = app.booked_cents(&alice[0]).await;
    let id = app
        .initiate(SEPA, &payment_body(&alice[0], &new_payee(6), "20.00"))
        .await;
    let (mut browser, page, _) = app.psu_reviews_payment(&id, "alice").await;
    assert!(
        page.contains("20.00")
            && page.contains("EUR")
            && page.contains("Payee GmbH")
            && page.contains("Invoice 42"),
        "{page}"
    );
    let (status, location, _) = browser.deny().await;
    assert_eq!(status, 303);
    assert_eq!(
        query_param(&location.unwrap(), "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(app.payment_status(SEPA, &id).await, "RJCT");
    assert_eq!(app.booked_cents(&alice[0]).await, before);
    // Terminal: a later cancel cannot change it.
    let token = app.client_token("payments").await;
    let res = app
        .tpp_call(
            reqwest::Method::DELETE,
            &token,
            &format!("/v1/payments/{SEPA}/{id}"),
        )
        .await;
    assert_eq!(res.status(), 405);
    assert_eq!(tpp_code(&json(res).await), "CANCELLATION_INVALID");
}

#[tokio::test]
async fn insufficient_funds_end_the_payment_rejected_without_moving_money() {
    let app = TestApp::spawn_with(|c| {
        // Let the risk engine pass it to the core: the core must refuse it.
        c.risk.reject_threshold = 2.0;
    })
    .await;
    let alice = app.ibans_of("alice").await;
    let bob = app.ibans_of("bob").await;
    let before = app.booked_cents(&alice[0]).await;
    let (_, _, status) = app
        .alice_pays(SEPA, &payment_body(&alice[0], &bob[0], "99999.00"))
        .await;
    assert_eq!(status, "RJCT");
    assert_eq!(app.booked_cents(&alice[0]).await, before);
}

async fn delete_payment(app: &TestApp, product: &str, id: &str) -> reqwest::Response {
    let token = app.client_token("payments").await;
    app.tpp_call(
        reqwest::Method::DELETE,
        &token,
        &format!("/v1/payments/{product}/{id}"),
    )
    .await
}

#[tokio::test]
async fn a_payment_can_be_cancelled_until_it_is_claimed_for_forwarding() {
    let app = TestApp::spawn_with(|c| c.payments.run_forwarder = false).await;
    let forwarder = obgw::app::forwarder(&app.state);
    let alice = app.ibans_of("alice").await;
    let bob = app.ibans_of("bob").await;
    let before = app.booked_cents(&alice[0]).await;

    // RCVD → CANC; a second cancel is refused.
    let id = app
        .initiate(SEPA, &payment_body(&alice[0], &bob[0], "1.00"))
        .await;
    assert_eq!(delete_payment(&app, SEPA, &id).await.status(), 204);
    assert_eq!(app.payment_status(SEPA, &id).await, "CANC");
    assert_eq!(delete_payment(&app, SEPA, &id).await.status(), 405);

    // ACTC, not yet claimed → CANC, and the worker then forwards nothing.
    let id = app
        .initiate(SEPA, &payment_body(&alice[0], &bob[0], "2.00"))
        .await;
    app.psu_approves_payment(&id, "alice", false).await;
    assert_eq!(app.payment_status(SEPA, &id).await, "ACTC");
    assert_eq!(delete_payment(&app, SEPA, &id).await.status(), 204);
    assert_eq!(forwarder.pass().await.unwrap(), 0);
    assert_eq!(app.payment_status(SEPA, &id).await, "CANC");

    // Forwarded and executed → too late.
    let id = app
        .initiate(SEPA, &payment_body(&alice[0], &bob[0], "3.00"))
        .await;
    app.psu_approves_payment(&id, "alice", false).await;
    assert_eq!(forwarder.pass().await.unwrap(), 1);
    assert_eq!(app.payment_status(SEPA, &id).await, "ACSC");
    let res = delete_payment(&app, SEPA, &id).await;
    assert_eq!(res.status(), 405);
    assert_eq!(tpp_code(&json(res).await), "CANCELLATION_INVALID");
    assert_eq!(app.booked_cents(&alice[0]).await, before - 300);
}

#[tokio::test]
async fn a_cancel_racing_the_worker_never_lets_both_win() {
    let app = TestApp::spawn_with(|c| c.payments.run_forwarder = false).await;
    let forwarder = obgw::app::forwarder(&app.state);
    let alice = app.ibans_of("alice").await;
    let bob = app.ibans_of("bob").await;
    for round in 0..5 {
        let before = app.booked_cents(&alice[0]).await;
        let id = app
            .initiate(SEPA, &payment_body(&alice[0], &bob[0], "1.00"))
            .await;
        app.psu_approves_payment(&id, "alice", false).await;
        let (cancel, pass) = tokio::join!(delete_payment(&app, SEPA, &id), forwarder.pass());
        let cancelled = cancel.status() == 204;
        let forwarded = pass.unwrap() == 1;
        assert!(cancelled != forwarded, "round {round}: exactly one wins");
        let status = app.payment_status(SEPA, &id).await;
        let moved = before - app.booked_cents(&alice[0]).await;
        if cancelled {
            assert_eq!((status.as_str(), moved), ("CANC", 0), "round {round}");
        } else {
            assert_eq!((status.as_str(), moved), ("ACSC", 100), "round {round}");
        }
    }
}

#[tokio::test]
async fn the_pis_token_reads_its_own_payment_only() {
    let app = TestApp::spawn().await;
    let alice = app.ibans_of("alice").await;
    let bob = app.ibans_of("bob").await;
    let (id, approved, _) = app
        .alice_pays(SEPA, &payment_body(&alice[0], &bob[0], "1.50"))
        .await;
    let res = app.exchange(&approved.code, &approved.verifier).await;
    assert_eq!(res.status(), 200);
    let token = json(res).await;
    assert_eq!(token["scope"], format!("PIS:{id}"));
    assert!(token.get("refresh_token").is_none() || token["refresh_token"].is_null());
    let access = token["access_token"].as_str().unwrap();
    let app = &app;
    let get = |path: String| async move { app.tpp_call(reqwest::Method::GET, access, &path).await };
    let res = get(format!("/v1/payments/{SEPA}/{id}/status")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["transactionStatus"], "ACSC");
    let other = app
        .initiate(SEPA, &payment_body(&alice[0], &bob[0], "1.00"))
        .await;
    let res = get(format!("/v1/payments/{SEPA}/{other}/status")).await;
    assert_eq!(res.status(), 404);
    // Another product's path does not find it either.
    let res = get(format!("/v1/payments/{INSTANT}/{id}")).await;
    assert_eq!(res.status(), 404);
    assert_eq!(tpp_code(&json(res).await), "RESOURCE_UNKNOWN");
}

#[tokio::test]
async fn another_tpps_payment_is_unknown_to_it() {
    let app = TestApp::spawn().await;
    let alice = app.ibans_of("alice").await;
    let id = app
        .initiate(SEPA, &payment_body(&alice[0], &new_payee(7), "1.00"))
        .await;
    let (_, other) = app.register_tpp("Other TPP");
    let res = app
        .token_with(
            &other,
            &[("grant_type", "client_credentials"), ("scope", "payments")],
        )
        .await;
    let token = json(res).await["access_token"].as_str().unwrap().to_owned();
    let res = other
        .get(format!("{}/v1/payments/{SEPA}/{id}", app.mtls_url))
        .bearer_auth(&token)
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(tpp_code(&json(res).await), "RESOURCE_UNKNOWN");
}

#[tokio::test]
async fn the_otp_is_bound_to_the_payment_and_a_wrong_code_is_asked_again() {
    let app = TestApp::spawn().await;
    let alice = app.ibans_of("alice").await;
    // A large amount to a new payee: SCA is required.
    let id = app
        .initiate(SEPA, &payment_body(&alice[0], &new_payee(8), "900.00"))
        .await;
    let (mut browser, page, _) = app.psu_reviews_payment(&id, "alice").await;
    assert!(page.contains("name=\"otp\""), "{page}");
    assert!(
        page.contains("trust_payee"),
        "trust is offered with SCA: {page}"
    );
    let (status, _, page) = browser.approve(Some("000000"), &[]).await;
    assert_eq!(status, 200);
    assert!(page.contains("not correct"), "{page}");
    assert_eq!(app.payment_status(SEPA, &id).await, "RCVD");
    let (status, location, _) = browser.approve(Some("123456"), &[]).await;
    assert_eq!(status, 303);
    assert!(query_param(&location.unwrap(), "code").is_some());
    assert_eq!(app.settled_status(SEPA, &id).await, "ACSC");
}

#[tokio::test]
async fn a_payment_not_awaiting_authorization_cannot_be_authorized() {
    let app = TestApp::spawn().await;
    let alice = app.ibans_of("alice").await;
    let id = app
        .initiate(SEPA, &payment_body(&alice[0], &new_payee(9), "5.00"))
        .await;
    assert_eq!(delete_payment(&app, SEPA, &id).await.status(), 204);
    let (_, challenge) = pkce();
    let scope = format!("PIS:{id}");
    let mut browser = PsuBrowser::new(&app);
    let (status, location, _) = browser
        .open(&authorize_query(&id, &challenge, &scope))
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        query_param(&location.unwrap(), "error").as_deref(),
        Some("invalid_scope")
    );
}

#[tokio::test]
async fn bank_it_sees_every_risk_decision_with_its_score_features_and_reasons() {
    let app = TestApp::spawn().await;
    let alice = app.ibans_of("alice").await;
    let bob = app.ibans_of("bob").await;
    let (id, _, _) = app
        .alice_pays(SEPA, &payment_body(&alice[0], &bob[0], "4.00"))
        .await;
    let shown = app.payment_shown(&id);
    assert_eq!(shown["paymentId"], id.as_str());
    assert_eq!(shown["transactionStatus"], "ACSC");
    let decisions = shown["riskDecisions"].as_array().unwrap();
    let stages: Vec<&str> = decisions
        .iter()
        .map(|d| d["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["initiation", "approval"]);
    for d in decisions {
        let score = d["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score));
        assert!(
            d["explanation"]["features"]["amountVsBalance"].is_number(),
            "{d}"
        );
        assert!(d["explanation"]["reasons"].is_array());
    }
    assert_eq!(shown["outbox"]["state"], "done");
    // Account numbers are masked for bank IT's terminal too.
    assert!(!shown.to_string().contains(&alice[0]));
}

#[tokio::test]
async fn a_payment_the_psu_does_not_authorize_in_time_is_rejected() {
    let app = TestApp::spawn().await;
    let alice = app.ibans_of("alice").await;
    let id = app
        .initiate(SEPA, &payment_body(&alice[0], &new_payee(10), "5.00"))
        .await;
    app.clock.advance(time::Duration::minutes(16));
    assert_eq!(app.payment_status(SEPA, &id).await, "RJCT");
    let (_, challenge) = pkce();
    let scope = format!("PIS:{id}");
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
async fn a_psu_who_lingers_on_the_page_past_the_timeout_cannot_approve() {
    // The consent-page session would still be open; the payment is not.
    let app = TestApp::spawn_with(|c| c.psu.session_ttl = 3_600).await;
    let alice = app.ibans_of("alice").await;
    let before = app.booked_cents(&alice[0]).await;
    let id = app
        .initiate(SEPA, &payment_body(&alice[0], &new_payee(11), "5.00"))
        .await;
    let (mut browser, page, _) = app.psu_reviews_payment(&id, "alice").await;
    assert!(page.contains("Approve a payment"));
    app.clock.advance(time::Duration::minutes(16));
    let (status, location, page) = browser.approve(Some("123456"), &[]).await;
    assert_ne!(status, 303, "{page}");
    assert!(location.is_none());
    assert!(page.contains("no longer awaiting"), "{page}");
    assert_eq!(app.payment_status(SEPA, &id).await, "RJCT");
    assert_eq!(app.booked_cents(&alice[0]).await, before);
}

#[tokio::test]
async fn payment_responses_match_the_berlin_group_schemas() {
    use crate::accounts::berlin_group::assert_valid;
    let schema = |name: &str| format!("#/components/schemas/{name}");
    let app = TestApp::spawn().await;
    let alice = app.ibans_of("alice").await;
    let bob = app.ibans_of("bob").await;
    let res = app
        .post_payment(SEPA, &payment_body(&alice[0], &bob[0], "1.25"), "schema-1")
        .await;
    let created = json(res).await;
    assert_valid(&created, &schema("paymentInitationRequestResponse-201"));
    let id = created["paymentId"].as_str().unwrap();
    let token = app.client_token("payments").await;
    for (path, name) in [
        (
            format!("/v1/payments/{SEPA}/{id}"),
            "paymentInitiationWithStatusResponse",
        ),
        (
            format!("/v1/payments/{SEPA}/{id}/status"),
            "paymentInitiationStatusResponse-200_json",
        ),
    ] {
        let res = app.tpp_call(reqwest::Method::GET, &token, &path).await;
        assert_eq!(res.status(), 200);
        assert_valid(&json(res).await, &schema(name));
    }
    let res = app
        .post_payment(SEPA, &payment_body(&alice[0], "DE00", "1.25"), "schema-2")
        .await;
    assert_eq!(res.status(), 400);
    assert_valid(&json(res).await, &schema("Error400_NG_PIS"));
}
