//! Between banks: two gateways on loopback, each its own bank with its own bank
//! code and database. Bank A (99912345) has bank B (99912346) as a peer; B has
//! A's bank certificate registered as an `interbank` client. A's forwarding
//! worker is driven by hand (`run_forwarder = false`) and its clock moved past
//! the claim lease instead of sleeping.

use std::path::PathBuf;
use std::sync::Arc;

use obgw::config::PeerBankConfig;
use obgw::core::sandbox::SandboxCore;
use obgw::domain::Iban;
use obgw::tls::devcerts::PemPair;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::payments::{SEPA, payment_body};

const BANK_B: &str = "99912346";

/// A bank's certificate (minted under the dev CA) and the files holding it.
struct BankCert {
    cert: PathBuf,
    key: PathBuf,
    pair: PemPair,
}

fn bank_cert(name: &str) -> BankCert {
    let pair = new_tpp_cert(name);
    let dir = std::env::temp_dir().join(format!("obgw-bank-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("bank.pem"), dir.join("bank.key"));
    std::fs::write(&cert, &pair.cert_pem).unwrap();
    std::fs::write(&key, &pair.key_pem).unwrap();
    BankCert { cert, key, pair }
}

/// Bank B, optionally on a given mTLS address, with bank A's certificate
/// registered as a peer bank through the CLI (no redirect URI needed).
async fn spawn_bank_b(bank_a: &BankCert, mtls_addr: Option<&str>) -> TestApp {
    let b = TestApp::spawn_with(|c| {
        c.sandbox.bank_code = BANK_B.into();
        if let Some(addr) = mtls_addr {
            c.server.mtls_addr = addr.into();
        }
    })
    .await;
    let out = b.obgw(&[
        "clients",
        "add",
        "--name",
        "Bank A",
        "--cert",
        bank_a.cert.to_str().unwrap(),
        "--scopes",
        "interbank",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    b
}

/// Bank A with bank B at `peer_url`; its forwarding worker runs only when a
/// test calls `forward`.
async fn spawn_bank_a(bank_a: &BankCert, peer_url: &str) -> TestApp {
    TestApp::spawn_with(|c| {
        c.payments.run_forwarder = false;
        c.interbank.peers = vec![PeerBankConfig {
            bank_code: BANK_B.into(),
            base_url: peer_url.into(),
        }];
        c.interbank.client_cert = bank_a.cert.clone();
        c.interbank.client_key = bank_a.key.clone();
        c.interbank.connect_timeout_ms = 1_000;
        c.interbank.request_timeout_ms = 2_000;
    })
    .await
}

struct Banks {
    a: TestApp,
    b: TestApp,
    /// HTTPS client presenting bank A's certificate, to call B directly.
    as_bank_a: reqwest::Client,
}

async fn two_banks() -> Banks {
    let cert = bank_cert("Bank A");
    let b = spawn_bank_b(&cert, None).await;
    let a = spawn_bank_a(&cert, &b.mtls_url).await;
    Banks {
        a,
        b,
        as_bank_a: client_with_identity(Some(&cert.pair)),
    }
}

/// One pass of A's forwarding worker; how many payments it handled.
async fn forward(app: &TestApp) -> usize {
    obgw::app::forwarder(&app.state).pass().await.unwrap()
}

/// Alice at `app` initiates and approves a SEPA payment to `creditor`; it waits
/// in the outbox (`ACTC`).
async fn alice_approves(app: &TestApp, creditor: &str, amount: &str) -> String {
    let alice = app.ibans_of("alice").await.remove(0);
    let id = app
        .initiate(SEPA, &payment_body(&alice, creditor, amount))
        .await;
    app.psu_approves_payment(&id, "alice", false).await;
    assert_eq!(app.payment_status(SEPA, &id).await, "ACTC");
    id
}

async fn assert_books_balance(app: &TestApp) {
    let report = SandboxCore::new(app.state.store.clone(), Arc::new(obgw::clock::SystemClock))
        .check_ledger()
        .await
        .unwrap();
    assert!(report.is_consistent(), "{report:#?}");
}

async fn post_credit(client: &reqwest::Client, bank: &TestApp, body: &Value) -> reqwest::Response {
    client
        .post(format!("{}/interbank/v1/credits", bank.mtls_url))
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .json(body)
        .send()
        .await
        .unwrap()
}

fn credit_body(payment_id: &str, creditor: &str, amount: &str) -> Value {
    json!({
        "paymentId": payment_id,
        "debtor": {"iban": Iban::german("99912345", 1_000_001).unwrap().as_str(), "name": "Alice Example"},
        "creditor": {"iban": creditor, "name": "Bob Example"},
        "instructedAmount": {"currency": "EUR", "amount": amount},
        "remittanceInformationUnstructured": "Invoice 42"
    })
}

#[tokio::test]
async fn a_payment_to_a_peer_banks_customer_leaves_a_once_and_arrives_at_b_once() {
    let Banks { a, b, .. } = two_banks().await;
    let alice = a.ibans_of("alice").await.remove(0);
    let bob = b.ibans_of("bob").await.remove(0);
    assert_eq!(Iban::parse(&bob).unwrap().german_bank_code(), Some(BANK_B));
    let (alice_before, bob_before) = (a.booked_cents(&alice).await, b.booked_cents(&bob).await);

    let id = alice_approves(&a, &bob, "25.00").await;
    assert_eq!(forward(&a).await, 1);

    assert_eq!(a.payment_status(SEPA, &id).await, "ACSC");
    assert_eq!(a.booked_cents(&alice).await, alice_before - 2_500);
    assert_eq!(b.booked_cents(&bob).await, bob_before + 2_500);
    // Nothing is left to forward, and nothing moves again.
    a.clock.advance(time::Duration::hours(1));
    assert_eq!(forward(&a).await, 0);
    assert_eq!(a.booked_cents(&alice).await, alice_before - 2_500);
    assert_eq!(b.booked_cents(&bob).await, bob_before + 2_500);

    // Bob's bank books it with the payer's name, IBAN and reference.
    let bob_account = b.accounts_of("bob").await.remove(0);
    let page = b
        .state
        .core
        .transactions(
            &bob_account.id,
            &obgw::core::TransactionQuery {
                status: obgw::core::BookingStatus::Booked,
                date_from: time::macros::date!(2000 - 01 - 01),
                date_to: time::macros::date!(2100 - 01 - 01),
                offset: 0,
                limit: 5,
            },
        )
        .await
        .unwrap();
    let credit = page
        .transactions
        .iter()
        .find(|t| t.remittance == "Invoice 42")
        .expect("the credit is booked at B");
    assert_eq!(credit.amount.minor_units(), 2_500);
    assert_eq!(credit.counterparty_name, "Alice Example");
    assert_eq!(credit.counterparty_iban.as_ref().unwrap().as_str(), alice);
    assert_books_balance(&a).await;
    assert_books_balance(&b).await;
}

#[tokio::test]
async fn a_hop_that_times_out_is_asked_again_after_the_lease_and_credits_once() {
    let cert = bank_cert("Bank A");
    // B's future address, where for now a listener accepts connections and never
    // answers (the kernel completes the handshake; nobody reads).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let a = spawn_bank_a(&cert, &format!("https://{addr}")).await;
    let alice = a.ibans_of("alice").await.remove(0);
    let bob = Iban::german(BANK_B, 2_000_001).unwrap().as_str().to_owned();
    let alice_before = a.booked_cents(&alice).await;

    let id = alice_approves(&a, &bob, "7.50").await;
    assert_eq!(forward(&a).await, 1);
    // Debited at A, not yet credited at B: settlement in process.
    assert_eq!(a.payment_status(SEPA, &id).await, "ACSP");
    assert_eq!(a.booked_cents(&alice).await, alice_before - 750);
    let outbox = &a.payment_shown(&id)["outbox"];
    assert_eq!(outbox["state"], "in_flight");
    assert!(
        outbox["lastError"]
            .as_str()
            .unwrap()
            .contains("did not answer"),
        "{outbox}"
    );
    // Within the lease nobody asks again.
    assert_eq!(forward(&a).await, 0);

    // B comes up at that address; after the lease A asks again.
    drop(silent);
    let b = spawn_bank_b(&cert, Some(&addr)).await;
    assert!(b.ibans_of("bob").await.contains(&bob));
    let bob_before = b.booked_cents(&bob).await;
    let lease = a.config.payments.claim_lease_seconds as i64;
    a.clock.advance(time::Duration::seconds(lease + 1));
    assert_eq!(forward(&a).await, 1);

    assert_eq!(a.payment_status(SEPA, &id).await, "ACSC");
    assert_eq!(a.payment_shown(&id)["outbox"]["attempts"], 2);
    assert_eq!(a.booked_cents(&alice).await, alice_before - 750);
    assert_eq!(b.booked_cents(&bob).await, bob_before + 750);
    a.clock.advance(time::Duration::seconds(lease + 1));
    assert_eq!(forward(&a).await, 0);
    assert_eq!(b.booked_cents(&bob).await, bob_before + 750);
    assert_books_balance(&a).await;
    assert_books_balance(&b).await;
}

#[tokio::test]
async fn a_refusal_by_the_peer_reverses_the_debit_once_and_rejects_the_payment() {
    let Banks { a, b, .. } = two_banks().await;
    let alice = a.ibans_of("alice").await.remove(0);
    let nobody_at_b = Iban::german(BANK_B, 5_555_555).unwrap().as_str().to_owned();
    let alice_before = a.booked_cents(&alice).await;

    let id = alice_approves(&a, &nobody_at_b, "30.00").await;
    assert_eq!(forward(&a).await, 1);

    assert_eq!(a.payment_status(SEPA, &id).await, "RJCT");
    assert_eq!(a.booked_cents(&alice).await, alice_before);
    let shown = a.payment_shown(&id);
    assert_eq!(shown["rejectReason"], "refused-by-peer-bank:AC03");
    assert_eq!(shown["outbox"]["state"], "done");
    // The reversal is a booking of its own: alice sees the debit and the return.
    let alice_account = a.accounts_of("alice").await.remove(0);
    let page = a
        .state
        .core
        .transactions(
            &alice_account.id,
            &obgw::core::TransactionQuery {
                status: obgw::core::BookingStatus::Booked,
                date_from: time::macros::date!(2000 - 01 - 01),
                date_to: time::macros::date!(2100 - 01 - 01),
                offset: 0,
                limit: 5,
            },
        )
        .await
        .unwrap();
    let amounts: Vec<i64> = page
        .transactions
        .iter()
        .filter(|t| t.remittance.ends_with("Invoice 42"))
        .map(|t| t.amount.minor_units())
        .collect();
    assert_eq!(amounts.iter().sum::<i64>(), 0, "{amounts:?}");
    assert_eq!(amounts.len(), 2, "{amounts:?}");

    a.clock.advance(time::Duration::hours(1));
    assert_eq!(forward(&a).await, 0);
    assert_eq!(a.booked_cents(&alice).await, alice_before);
    assert_books_balance(&a).await;
    assert_books_balance(&b).await;
}

#[tokio::test]
async fn a_replayed_credit_gets_the_first_answer_and_credits_once() {
    let Banks { b, as_bank_a, .. } = two_banks().await;
    let bob = b.ibans_of("bob").await.remove(0);
    let before = b.booked_cents(&bob).await;

    let body = credit_body(&uuid::Uuid::new_v4().to_string(), &bob, "12.34");
    let first = post_credit(&as_bank_a, &b, &body).await;
    assert_eq!(first.status(), 201);
    let first = json(first).await;
    assert_eq!(first["status"], "ACSC");
    assert!(first["creditId"].as_str().is_some_and(|id| !id.is_empty()));
    let replay = post_credit(&as_bank_a, &b, &body).await;
    assert_eq!(replay.status(), 201);
    assert_eq!(json(replay).await, first);
    assert_eq!(b.booked_cents(&bob).await, before + 1_234);

    // Another credit under the same payment id is a conflict, and moves nothing.
    let mut other = body.clone();
    other["instructedAmount"]["amount"] = json!("99.00");
    let res = post_credit(&as_bank_a, &b, &other).await;
    assert_eq!(res.status(), 409);
    assert_eq!(tpp_code(&json(res).await), "FORMAT_ERROR");

    // Concurrent duplicates: one credit, one answer for all.
    let racing = credit_body(&uuid::Uuid::new_v4().to_string(), &bob, "1.00");
    let runs: Vec<_> = (0..8)
        .map(|_| {
            let (client, url, body) = (
                as_bank_a.clone(),
                format!("{}/interbank/v1/credits", b.mtls_url),
                racing.clone(),
            );
            tokio::spawn(async move {
                let res = client.post(url).json(&body).send().await.unwrap();
                (res.status().as_u16(), res.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut answers = std::collections::HashSet::new();
    for run in runs {
        let (status, body) = run.await.unwrap();
        assert_eq!(status, 201, "{body}");
        answers.insert(body.to_string());
    }
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(b.booked_cents(&bob).await, before + 1_234 + 100);

    // A refusal is replayed too.
    let nobody = Iban::german(BANK_B, 5_555_555).unwrap().as_str().to_owned();
    let refused = credit_body(&uuid::Uuid::new_v4().to_string(), &nobody, "5.00");
    let first = post_credit(&as_bank_a, &b, &refused).await;
    assert_eq!(first.status(), 422);
    let first = json(first).await;
    assert_eq!(first["status"], "RJCT");
    assert_eq!(first["reason"], "AC03");
    let replay = post_credit(&as_bank_a, &b, &refused).await;
    assert_eq!(replay.status(), 422);
    assert_eq!(json(replay).await, first);
    assert_books_balance(&b).await;
}

#[tokio::test]
async fn a_credit_is_refused_with_a_reason_when_the_account_cannot_receive_it() {
    use diesel::prelude::*;
    use obgw::store::schema::core_accounts;

    let Banks { b, as_bank_a, .. } = two_banks().await;
    let bob = b.ibans_of("bob").await;
    let blocked = bob[1].clone();
    b.state
        .store
        .write(move |c| {
            diesel::update(core_accounts::table.filter(core_accounts::iban.eq(blocked)))
                .set(core_accounts::status.eq("blocked"))
                .execute(c)
                .map_err(obgw::store::StoreError::from)
        })
        .await
        .unwrap();
    let mut usd = credit_body("usd-1", &bob[0], "5.00");
    usd["instructedAmount"]["currency"] = json!("USD");
    let cases = [
        (
            credit_body(
                "unknown-1",
                Iban::german(BANK_B, 4_242).unwrap().as_str(),
                "5.00",
            ),
            "AC03",
        ),
        (credit_body("blocked-1", &bob[1], "5.00"), "AC06"),
        (usd, "AM03"),
    ];
    let before = (b.booked_cents(&bob[0]).await, b.booked_cents(&bob[1]).await);
    for (body, reason) in cases {
        let res = post_credit(&as_bank_a, &b, &body).await;
        assert_eq!(res.status(), 422, "{reason}");
        let answer = json(res).await;
        assert_eq!(answer["status"], "RJCT");
        assert_eq!(answer["reason"], reason);
        assert_eq!(tpp_code(&answer), "PAYMENT_FAILED");
    }
    let after = (b.booked_cents(&bob[0]).await, b.booked_cents(&bob[1]).await);
    assert_eq!(after, before);
}

#[tokio::test]
async fn a_malformed_credit_is_a_400_naming_the_field() {
    let Banks { b, as_bank_a, .. } = two_banks().await;
    let bob = b.ibans_of("bob").await.remove(0);
    let cases: Vec<(&str, Value)> = vec![
        ("paymentId", {
            let mut v = credit_body("x", &bob, "1.00");
            v.as_object_mut().unwrap().remove("paymentId");
            v
        }),
        ("creditor.iban", credit_body("x", "DE00123", "1.00")),
        ("instructedAmount.amount", {
            let mut v = credit_body("x", &bob, "1.00");
            v["instructedAmount"]["amount"] = json!(1.0);
            v
        }),
        ("creditor.name", {
            let mut v = credit_body("x", &bob, "1.00");
            v["creditor"].as_object_mut().unwrap().remove("name");
            v
        }),
        ("purpose", {
            let mut v = credit_body("x", &bob, "1.00");
            v["purpose"] = json!("GDDS");
            v
        }),
    ];
    let before = b.booked_cents(&bob).await;
    for (path, body) in cases {
        let res = post_credit(&as_bank_a, &b, &body).await;
        assert_eq!(res.status(), 400, "{path}");
        let answer = json(res).await;
        assert_eq!(tpp_code(&answer), "FORMAT_ERROR");
        assert_eq!(answer["tppMessages"][0]["path"], path, "{answer}");
    }
    assert_eq!(b.booked_cents(&bob).await, before);
}

#[tokio::test]
async fn only_a_registered_peer_bank_may_send_credits() {
    let Banks { b, as_bank_a, .. } = two_banks().await;
    let bob = b.ibans_of("bob").await.remove(0);
    let before = b.booked_cents(&bob).await;
    let body = credit_body(&uuid::Uuid::new_v4().to_string(), &bob, "3.00");

    let stranger = client_with_identity(Some(&new_tpp_cert("Bank X")));
    let res = post_credit(&stranger, &b, &body).await;
    assert_eq!(res.status(), 401);
    assert_eq!(tpp_code(&json(res).await), "CERTIFICATE_INVALID");

    // A TPP is registered, but not as a peer bank.
    let res = post_credit(&b.tpp, &b, &body).await;
    assert_eq!(res.status(), 403);
    assert_eq!(tpp_code(&json(res).await), "ROLE_INVALID");
    let (_, tpp) = b.register_tpp("Acme Budgeting");
    let res = post_credit(&tpp, &b, &body).await;
    assert_eq!(res.status(), 403);

    // The peer bank authenticates with its certificate alone; it gets no token.
    let res = b
        .token_with(&as_bank_a, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(json(res).await["error"], "invalid_scope");
    let res = b
        .token_with(
            &as_bank_a,
            &[("grant_type", "client_credentials"), ("scope", "interbank")],
        )
        .await;
    assert_eq!(res.status(), 400);

    // A disabled peer is refused.
    let listed: Value = serde_json::from_slice(&b.obgw(&["clients", "list"]).stdout).unwrap();
    let peer = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Bank A")
        .unwrap();
    assert_eq!(peer["scopes"], json!(["interbank"]));
    assert_eq!(peer["redirect_uris"], json!([]));
    let out = b.obgw(&["clients", "disable", peer["client_id"].as_str().unwrap()]);
    assert!(out.status.success());
    let res = post_credit(&as_bank_a, &b, &body).await;
    assert_eq!(res.status(), 401);
    assert_eq!(tpp_code(&json(res).await), "CERTIFICATE_BLOCKED");

    assert_eq!(b.booked_cents(&bob).await, before);
}

#[test]
fn a_peer_bank_is_registered_without_a_redirect_uri_but_never_as_a_tpp_too() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_obgw"))
        .args([
            "clients",
            "add",
            "--name",
            "Bank C",
            "--cert",
            bank_cert("Bank C").cert.to_str().unwrap(),
            "--scopes",
            "interbank,payments",
        ])
        .env("OBGW_DATABASE_URL", fresh_database_url())
        .env("OBGW_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("interbank scope is for peer banks"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
