//! Account information (`/v1/accounts…`): the Berlin Group shapes, consent
//! enforcement per access kind, transaction paging, and `frequencyPerDay` — each
//! test on both core adapters: the sandbox, and the HTTP adapter against the
//! in-process mock core (see [`on_both_cores`]).
//!
//! The bodies read the core only through `CoreBanking` (`app.state.core`), so
//! none is sandbox-only. They need no more than two accounts of alice's: the
//! mock core seeds two, the sandbox three.

pub mod berlin_group;

use std::collections::HashSet;

use obgw::clock::Clock;
use obgw::core::Account;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::helpers::{TestApp, json, tpp_code};
use berlin_group::{assert_valid, response_schema};

const PSU_IP: (&str, &str) = ("PSU-IP-Address", "192.0.2.10");

/// Runs each test body `async fn name(app: &TestApp)` on both core adapters, as
/// `name::on_the_sandbox` and `name::on_the_http_adapter` (the gateway with
/// `core.adapter = "http"` against a fresh mock core on the gateway's clock).
macro_rules! on_both_cores {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            use crate::helpers::TestApp;

            #[tokio::test]
            async fn on_the_sandbox() {
                let app = TestApp::spawn().await;
                super::$name(&app).await;
            }

            #[tokio::test]
            async fn on_the_http_adapter() {
                let app = TestApp::spawn_on_mock_core_sharing_the_clock().await;
                super::$name(&app).await;
            }
        }
    )+};
}

fn now(app: &TestApp) -> OffsetDateTime {
    app.clock.now()
}

/// A consent body for alice's accounts.
fn consent_body(app: &TestApp, access: Value, recurring: bool, frequency: u32) -> Value {
    json!({
        "access": access,
        "recurringIndicator": recurring,
        "validUntil": (now(app).date() + Duration::days(30)).to_string(),
        "frequencyPerDay": frequency,
    })
}

/// A TPP reading under one consent alice approved.
struct Reader<'a> {
    app: &'a TestApp,
    consent: String,
    token: String,
}

impl<'a> Reader<'a> {
    async fn new(app: &'a TestApp, body: &Value) -> Reader<'a> {
        let (consent, tokens) = app.alice_token_for(body).await;
        Reader {
            app,
            consent,
            token: tokens["access_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Reads without the PSU (counted).
    async fn get(&self, path: &str) -> reqwest::Response {
        self.app
            .ais_get(path, &self.token, &self.consent, &[])
            .await
    }

    /// Reads with the PSU present (`PSU-IP-Address`).
    async fn get_with_psu(&self, path: &str) -> reqwest::Response {
        self.app
            .ais_get(path, &self.token, &self.consent, &[PSU_IP])
            .await
    }

    /// A read that must succeed; its body.
    async fn ok(&self, path: &str) -> Value {
        let res = self.get(path).await;
        let status = res.status();
        let body = json(res).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }
}

/// alice's accounts: the current account with the longest history first, then
/// the others in IBAN order.
async fn alice_accounts(app: &TestApp) -> Vec<Account> {
    let mut accounts = app.accounts_of("alice").await;
    let main = accounts
        .iter()
        .position(|a| a.name == "Hauptkonto")
        .unwrap();
    let first = accounts.remove(main);
    accounts.insert(0, first);
    accounts
}

fn ibans(accounts: &[&Account]) -> Value {
    accounts
        .iter()
        .map(|a| json!({"iban": a.iban.as_str()}))
        .collect()
}

/// A consent for every kind of access to alice's accounts.
async fn full_access(app: &TestApp) -> (Vec<Account>, Value) {
    let accounts = alice_accounts(app).await;
    let all: Vec<&Account> = accounts.iter().collect();
    let access = json!({"balances": ibans(&all), "transactions": ibans(&all)});
    let body = consent_body(app, access, true, 4);
    (accounts, body)
}

/// Asserts a Berlin Group `amountValue`: a decimal string, never a number.
fn assert_amount(amount: &Value) {
    let s = amount["amount"]
        .as_str()
        .unwrap_or_else(|| panic!("{amount}"));
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    assert!(
        (1..=14).contains(&whole.len())
            && fraction.len() <= 3
            && whole
                .chars()
                .chain(fraction.chars())
                .all(|c| c.is_ascii_digit()),
        "{s}"
    );
    assert_eq!(amount["currency"], "EUR");
}

fn transactions_path(account: &Account, query: &str) -> String {
    format!("/v1/accounts/{}/transactions?{query}", account.id)
}

fn ids_of(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|l| {
            l.iter()
                .map(|t| t["transactionId"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn assert_error(res: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status(), status);
    let body = json(res).await;
    assert_eq!(tpp_code(&body), code, "{body}");
    body
}

// ---------------------------------------------------------------------------
// Happy paths, checked against the Berlin Group schemas
// ---------------------------------------------------------------------------

on_both_cores!(the_account_list_matches_the_schema_and_shows_balances_only_where_granted);
async fn the_account_list_matches_the_schema_and_shows_balances_only_where_granted(app: &TestApp) {
    let accounts = alice_accounts(app).await;
    let access = json!({
        "balances": ibans(&[&accounts[0]]),
        "transactions": ibans(&[&accounts[1]]),
    });
    let reader = Reader::new(app, &consent_body(app, access, true, 4)).await;

    let list = reader.ok("/v1/accounts").await;
    assert_valid(&list, "#/components/schemas/accountList");
    let listed = list["accounts"].as_array().unwrap();
    // Only the consented accounts (the sandbox's alice has a third one).
    assert_eq!(listed.len(), 2);
    for entry in listed {
        assert!(entry.get("balances").is_none(), "{entry}");
    }

    let list = reader.ok("/v1/accounts?withBalance=true").await;
    assert_valid(&list, "#/components/schemas/accountList");
    for account in &accounts[..2] {
        let entry = list["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["resourceId"] == account.id.as_str())
            .unwrap();
        assert_eq!(entry["iban"], account.iban.as_str());
        assert_ne!(entry["resourceId"], entry["iban"]);
        let base = format!("{}/v1/accounts/{}", app.mtls_url, account.id);
        let with_balances = account.id == accounts[0].id;
        assert_eq!(entry.get("balances").is_some(), with_balances, "{entry}");
        assert_eq!(
            entry["_links"].get("balances").is_some(),
            with_balances,
            "{entry}"
        );
        if with_balances {
            assert_eq!(
                entry["_links"]["balances"]["href"],
                format!("{base}/balances")
            );
            for balance in entry["balances"].as_array().unwrap() {
                assert_amount(&balance["balanceAmount"]);
            }
        }
        let with_transactions = account.id == accounts[1].id;
        assert_eq!(
            entry["_links"].get("transactions").is_some(),
            with_transactions,
            "{entry}"
        );
    }
}

on_both_cores!(account_details_match_the_schema);
async fn account_details_match_the_schema(app: &TestApp) {
    let (accounts, body) = full_access(app).await;
    let reader = Reader::new(app, &body).await;
    let account = &accounts[0];

    let body = reader.ok(&format!("/v1/accounts/{}", account.id)).await;
    assert_valid(&body, &response_schema("OK_200_AccountDetails"));
    let details = &body["account"];
    assert_eq!(details["resourceId"], account.id.as_str());
    assert_eq!(details["iban"], account.iban.as_str());
    assert_eq!(details["currency"], "EUR");
    assert_eq!(details["cashAccountType"], "CACC");
    assert_eq!(details["status"], "enabled");
    assert!(details.get("balances").is_none());
    assert_eq!(
        details["_links"]["transactions"]["href"],
        format!("{}/v1/accounts/{}/transactions", app.mtls_url, account.id)
    );

    let body = reader
        .ok(&format!("/v1/accounts/{}?withBalance=true", account.id))
        .await;
    assert_valid(&body, &response_schema("OK_200_AccountDetails"));
    assert_eq!(body["account"]["balances"].as_array().unwrap().len(), 3);
}

on_both_cores!(balances_match_the_schema_with_the_three_balance_types_as_decimal_strings);
async fn balances_match_the_schema_with_the_three_balance_types_as_decimal_strings(app: &TestApp) {
    let (accounts, body) = full_access(app).await;
    let reader = Reader::new(app, &body).await;
    let account = &accounts[0];

    let body = reader
        .ok(&format!("/v1/accounts/{}/balances", account.id))
        .await;
    assert_valid(&body, "#/components/schemas/readAccountBalanceResponse-200");
    assert_eq!(
        body["account"],
        json!({"iban": account.iban.as_str(), "currency": "EUR"})
    );
    let balances = body["balances"].as_array().unwrap();
    let types: Vec<&str> = balances
        .iter()
        .map(|b| b["balanceType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["closingBooked", "expected", "interimAvailable"]);
    let today = now(app).date().to_string();
    for balance in balances {
        assert_amount(&balance["balanceAmount"]);
        assert_eq!(balance["referenceDate"], today.as_str());
    }
    // The core is the source of truth: the same figures, to the cent.
    let core = app.state.core.balances(&account.id).await.unwrap();
    for (wire, core) in balances.iter().zip(core) {
        assert_eq!(wire["balanceAmount"]["amount"], core.amount.amount_string());
    }
}

on_both_cores!(a_transaction_list_matches_the_schema_and_names_the_counterparty_by_direction);
async fn a_transaction_list_matches_the_schema_and_names_the_counterparty_by_direction(
    app: &TestApp,
) {
    let (accounts, body) = full_access(app).await;
    let reader = Reader::new(app, &body).await;
    let account = &accounts[0];

    let body = reader
        .ok(&transactions_path(account, "bookingStatus=both"))
        .await;
    assert_valid(&body, "#/components/schemas/transactionsResponse-200_json");
    assert_eq!(body["account"]["iban"], account.iban.as_str());
    let report = &body["transactions"];
    let booked = report["booked"].as_array().unwrap();
    let pending = report["pending"].as_array().unwrap();
    assert!(!booked.is_empty() && !pending.is_empty(), "{report}");
    let oldest = (now(app).date() - Duration::days(90)).to_string();
    for t in booked {
        assert!(t["bookingDate"].as_str().unwrap() >= oldest.as_str(), "{t}");
    }
    for t in pending {
        assert!(t.get("bookingDate").is_none(), "{t}");
    }
    for t in booked.iter().chain(pending) {
        assert_amount(&t["transactionAmount"]);
        let debit = t["transactionAmount"]["amount"]
            .as_str()
            .unwrap()
            .starts_with('-');
        let (named, other) = if debit {
            ("creditorName", "debtorName")
        } else {
            ("debtorName", "creditorName")
        };
        assert!(t.get(named).is_some() && t.get(other).is_none(), "{t}");
        assert_eq!(
            t["_links"]["transactionDetails"]["href"],
            format!(
                "{}/v1/accounts/{}/transactions/{}",
                app.mtls_url,
                account.id,
                t["transactionId"].as_str().unwrap()
            )
        );
    }
    let base = format!("{}/v1/accounts/{}", app.mtls_url, account.id);
    assert_eq!(report["_links"]["account"]["href"], base.as_str());
    assert!(report["_links"].get("previous").is_none());

    // Booked only and pending only leave the other list out.
    let body = reader
        .ok(&transactions_path(
            account,
            "bookingStatus=booked&withBalance=true",
        ))
        .await;
    assert_valid(&body, "#/components/schemas/transactionsResponse-200_json");
    assert!(body["transactions"].get("pending").is_none());
    assert_eq!(
        ids_of(&body["transactions"]["booked"]),
        ids_of(&json!(booked))
    );
    assert_eq!(body["balances"].as_array().unwrap().len(), 3);
    let body = reader
        .ok(&transactions_path(account, "bookingStatus=pending"))
        .await;
    assert!(body["transactions"].get("booked").is_none());
    assert_eq!(
        ids_of(&body["transactions"]["pending"]),
        ids_of(&json!(pending))
    );
}

on_both_cores!(transaction_details_match_the_schema_and_the_listed_entry);
async fn transaction_details_match_the_schema_and_the_listed_entry(app: &TestApp) {
    let (accounts, body) = full_access(app).await;
    let reader = Reader::new(app, &body).await;
    let account = &accounts[0];
    let list = reader
        .ok(&transactions_path(
            account,
            "bookingStatus=booked&itemsPerPage=3",
        ))
        .await;
    let listed = list["transactions"]["booked"][1].clone();

    let href = listed["_links"]["transactionDetails"]["href"]
        .as_str()
        .unwrap();
    let body = reader.ok(href).await;
    assert_valid(&body, &response_schema("OK_200_TransactionDetails"));
    assert_eq!(body["transactionsDetails"], listed);

    let res = reader
        .get(&format!(
            "/v1/accounts/{}/transactions/no-such-transaction",
            account.id
        ))
        .await;
    assert_error(res, 404, "RESOURCE_UNKNOWN").await;
}

// ---------------------------------------------------------------------------
// Consent enforcement
// ---------------------------------------------------------------------------

on_both_cores!(each_endpoint_needs_its_own_access_kind_for_the_account);
async fn each_endpoint_needs_its_own_access_kind_for_the_account(app: &TestApp) {
    let accounts = alice_accounts(app).await;
    let (a, b) = (&accounts[0], &accounts[1]);
    // `a` with balances only and `b` with transactions only; under a second
    // consent, `a` with details only.
    let access = json!({"balances": ibans(&[a]), "transactions": ibans(&[b])});
    let split = Reader::new(app, &consent_body(app, access, true, 4)).await;
    let access = json!({"accounts": ibans(&[a])});
    let details_only = Reader::new(app, &consent_body(app, access, true, 4)).await;
    let some_transaction = app
        .state
        .core
        .transactions(
            &a.id,
            &obgw::core::TransactionQuery {
                status: obgw::core::BookingStatus::Booked,
                date_from: now(app).date() - Duration::days(60),
                date_to: now(app).date(),
                offset: 0,
                limit: 1,
            },
        )
        .await
        .unwrap()
        .transactions[0]
        .id
        .clone();
    let transaction = format!("/transactions/{some_transaction}");

    for (reader, what, account, path, allowed) in [
        (&split, "balances only", a, "", true),
        (&split, "balances only", a, "/balances", true),
        (
            &split,
            "balances only",
            a,
            "/transactions?bookingStatus=booked",
            false,
        ),
        (&split, "balances only", a, transaction.as_str(), false),
        (&split, "transactions only", b, "", true),
        (&split, "transactions only", b, "/balances", false),
        (
            &split,
            "transactions only",
            b,
            "/transactions?bookingStatus=booked",
            true,
        ),
        (&details_only, "details only", a, "", true),
        (&details_only, "details only", a, "/balances", false),
        (
            &details_only,
            "details only",
            a,
            "/transactions?bookingStatus=both",
            false,
        ),
        (
            &details_only,
            "details only",
            a,
            transaction.as_str(),
            false,
        ),
    ] {
        let res = reader
            .get(&format!("/v1/accounts/{}{path}", account.id))
            .await;
        if allowed {
            assert_eq!(res.status(), 200, "{what}: {path}");
        } else {
            assert_eq!(res.status(), 401, "{what}: {path}");
            assert_eq!(tpp_code(&json(res).await), "CONSENT_INVALID");
        }
    }

    // Links name only what the consent grants.
    let body = details_only.ok(&format!("/v1/accounts/{}", a.id)).await;
    assert_eq!(body["account"]["_links"], json!({}), "{body}");
}

/// A consent for the account list only, approved by alice picking both of her
/// first two accounts; the reader and those accounts.
async fn list_only<'a>(app: &'a TestApp, access: Value) -> (Reader<'a>, Vec<Account>) {
    let accounts = alice_accounts(app).await;
    let picked: Vec<&str> = accounts[..2].iter().map(|a| a.id.as_str()).collect();
    let (consent, tokens) = app
        .alice_token_picking(&consent_body(app, access, true, 4), &picked)
        .await;
    let reader = Reader {
        app,
        consent,
        token: tokens["access_token"].as_str().unwrap().to_owned(),
    };
    (reader, accounts[..2].to_vec())
}

/// Every endpoint of the account itself answers 401 `CONSENT_INVALID`.
async fn assert_no_account_endpoint(reader: &Reader<'_>, account: &Account) {
    let some_transaction = reader
        .app
        .state
        .core
        .transactions(
            &account.id,
            &obgw::core::TransactionQuery {
                status: obgw::core::BookingStatus::Booked,
                date_from: now(reader.app).date() - Duration::days(60),
                date_to: now(reader.app).date(),
                offset: 0,
                limit: 1,
            },
        )
        .await
        .unwrap()
        .transactions[0]
        .id
        .clone();
    for suffix in [
        String::new(),
        "?withBalance=true".into(),
        "/balances".into(),
        "/transactions?bookingStatus=both".into(),
        "/transactions?bookingStatus=booked&withBalance=true".into(),
        format!("/transactions/{some_transaction}"),
    ] {
        let path = format!("/v1/accounts/{}{suffix}", account.id);
        for res in [reader.get(&path).await, reader.get_with_psu(&path).await] {
            assert_eq!(res.status(), 401, "{} {suffix}", account.name);
            assert_eq!(tpp_code(&json(res).await), "CONSENT_INVALID", "{suffix}");
        }
    }
}

on_both_cores!(an_available_accounts_consent_grants_the_account_list_only);
async fn an_available_accounts_consent_grants_the_account_list_only(app: &TestApp) {
    let (reader, accounts) = list_only(app, json!({"availableAccounts": "allAccounts"})).await;

    for path in ["/v1/accounts", "/v1/accounts?withBalance=true"] {
        let list = reader.ok(path).await;
        assert_valid(&list, "#/components/schemas/accountList");
        let listed = list["accounts"].as_array().unwrap();
        let ids: HashSet<&str> = listed
            .iter()
            .map(|e| e["resourceId"].as_str().unwrap())
            .collect();
        assert_eq!(ids, accounts.iter().map(|a| a.id.as_str()).collect());
        for entry in listed {
            assert!(entry.get("balances").is_none(), "{path}: {entry}");
            // No links to endpoints the consent does not open.
            assert_eq!(entry["_links"], json!({}), "{path}: {entry}");
        }
    }
    for account in &accounts {
        assert_no_account_endpoint(&reader, account).await;
    }
}

on_both_cores!(an_available_accounts_with_balance_consent_lists_balances_but_opens_no_account);
async fn an_available_accounts_with_balance_consent_lists_balances_but_opens_no_account(
    app: &TestApp,
) {
    let access = json!({"availableAccountsWithBalance": "allAccounts"});
    let (reader, accounts) = list_only(app, access).await;

    let list = reader.ok("/v1/accounts").await;
    for entry in list["accounts"].as_array().unwrap() {
        assert!(entry.get("balances").is_none(), "{entry}");
        assert_eq!(entry["_links"], json!({}), "{entry}");
    }
    let list = reader.ok("/v1/accounts?withBalance=true").await;
    assert_valid(&list, "#/components/schemas/accountList");
    let listed = list["accounts"].as_array().unwrap();
    assert_eq!(listed.len(), accounts.len());
    for account in &accounts {
        let entry = listed
            .iter()
            .find(|e| e["resourceId"] == account.id.as_str())
            .unwrap_or_else(|| panic!("{} listed", account.name));
        let balances = entry["balances"].as_array().unwrap();
        let core = app.state.core.balances(&account.id).await.unwrap();
        assert_eq!(balances.len(), core.len(), "{entry}");
        for (wire, core) in balances.iter().zip(core) {
            assert_amount(&wire["balanceAmount"]);
            assert_eq!(wire["balanceType"], core.kind.as_str());
            assert_eq!(wire["balanceAmount"]["amount"], core.amount.amount_string());
        }
        // The balances are shown in the list, not linked to.
        assert_eq!(entry["_links"], json!({}), "{entry}");
    }
    for account in &accounts {
        assert_no_account_endpoint(&reader, account).await;
    }
}

on_both_cores!(another_psus_account_and_an_unknown_id_get_the_same_401_consent_invalid);
async fn another_psus_account_and_an_unknown_id_get_the_same_401_consent_invalid(app: &TestApp) {
    let (_, body) = full_access(app).await;
    let reader = Reader::new(app, &body).await;
    let bobs = app.accounts_of("bob").await[0].id.clone();
    let unknown = uuid::Uuid::new_v4().to_string();

    for suffix in [
        "",
        "/balances",
        "/transactions?bookingStatus=both",
        "/transactions/some-transaction",
    ] {
        let mut bodies = Vec::new();
        for id in [bobs.as_str(), unknown.as_str()] {
            let res = reader.get(&format!("/v1/accounts/{id}{suffix}")).await;
            bodies.push(assert_error(res, 401, "CONSENT_INVALID").await);
        }
        assert_eq!(bodies[0], bodies[1], "{suffix}");
    }
}

on_both_cores!(an_expired_consent_is_consent_expired);
async fn an_expired_consent_is_consent_expired(app: &TestApp) {
    // A consent valid until today, read a few minutes before and after midnight
    // (UTC) with a token that is still live.
    let today = now(app).date();
    app.clock
        .set(today.with_hms(23, 57, 0).unwrap().assume_utc());
    let accounts = alice_accounts(app).await;
    let mut body = consent_body(app, json!({"balances": ibans(&[&accounts[0]])}), true, 4);
    body["validUntil"] = json!(today.to_string());
    let reader = Reader::new(app, &body).await;
    let path = format!("/v1/accounts/{}/balances", accounts[0].id);
    assert_eq!(reader.get(&path).await.status(), 200);

    app.clock.advance(Duration::minutes(4));
    assert_error(reader.get(&path).await, 401, "CONSENT_EXPIRED").await;
    assert_error(reader.get("/v1/accounts").await, 401, "CONSENT_EXPIRED").await;
}

on_both_cores!(a_revoked_consent_is_consent_invalid);
async fn a_revoked_consent_is_consent_invalid(app: &TestApp) {
    let (accounts, body) = full_access(app).await;
    let reader = Reader::new(app, &body).await;
    let path = format!(
        "/v1/accounts/{}/transactions?bookingStatus=booked",
        accounts[0].id
    );
    assert_eq!(reader.get(&path).await.status(), 200);

    let out = app.obgw(&["consents", "revoke", &reader.consent]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_error(reader.get(&path).await, 401, "CONSENT_INVALID").await;
}

on_both_cores!(bad_query_parameters_are_400_naming_the_parameter);
async fn bad_query_parameters_are_400_naming_the_parameter(app: &TestApp) {
    let (accounts, body) = full_access(app).await;
    let reader = Reader::new(app, &body).await;
    let account = &accounts[0];
    let today = now(app).date();
    let tomorrow = (today + Duration::days(1)).to_string();
    let today = today.to_string();

    for (query, code, path) in [
        ("", "FORMAT_ERROR", "bookingStatus"),
        ("bookingStatus=everything", "FORMAT_ERROR", "bookingStatus"),
        (
            "bookingStatus=information",
            "PARAMETER_NOT_SUPPORTED",
            "bookingStatus",
        ),
        (
            "bookingStatus=booked&dateFrom=2026-02-30",
            "FORMAT_ERROR",
            "dateFrom",
        ),
        (
            "bookingStatus=booked&dateFrom=01.01.2026",
            "FORMAT_ERROR",
            "dateFrom",
        ),
        (
            "bookingStatus=booked&dateTo=tomorrow",
            "FORMAT_ERROR",
            "dateTo",
        ),
        (
            format!("bookingStatus=booked&dateFrom={tomorrow}&dateTo={today}").as_str(),
            "FORMAT_ERROR",
            "dateTo",
        ),
        (
            format!("bookingStatus=booked&dateFrom={tomorrow}").as_str(),
            "FORMAT_ERROR",
            "dateTo",
        ),
        (
            "bookingStatus=booked&itemsPerPage=1001",
            "FORMAT_ERROR",
            "itemsPerPage",
        ),
        (
            "bookingStatus=booked&pageIndex=first",
            "FORMAT_ERROR",
            "pageIndex",
        ),
        (
            "bookingStatus=booked&withBalance=yes",
            "FORMAT_ERROR",
            "withBalance",
        ),
        (
            "bookingStatus=booked&entryReferenceFrom=abc",
            "PARAMETER_NOT_SUPPORTED",
            "entryReferenceFrom",
        ),
    ] {
        let res = reader.get(&transactions_path(account, query)).await;
        assert_eq!(res.status(), 400, "{query}");
        let body = json(res).await;
        assert_eq!(tpp_code(&body), code, "{query}: {body}");
        assert_eq!(body["tppMessages"][0]["path"], path, "{query}: {body}");
    }

    // A one-day window is fine.
    let body = reader
        .ok(&transactions_path(
            account,
            &format!("bookingStatus=booked&dateFrom={today}&dateTo={today}"),
        ))
        .await;
    for t in body["transactions"]["booked"].as_array().unwrap() {
        assert_eq!(t["bookingDate"], today.as_str());
    }

    let res = app
        .ais_get(
            "/v1/accounts",
            &reader.token,
            &reader.consent,
            &[("PSU-IP-Address", "not-an-ip")],
        )
        .await;
    let body = assert_error(res, 400, "FORMAT_ERROR").await;
    assert_eq!(body["tppMessages"][0]["path"], "PSU-IP-Address");
}

on_both_cores!(paging_through_the_whole_history_follows_next_links_without_gaps_or_duplicates);
async fn paging_through_the_whole_history_follows_next_links_without_gaps_or_duplicates(
    app: &TestApp,
) {
    let (accounts, body) = full_access(app).await;
    let reader = Reader::new(app, &body).await;
    let account = &accounts[0];
    let from = (now(app).date() - Duration::days(400)).to_string();

    let all = reader
        .ok(&transactions_path(
            account,
            &format!("bookingStatus=both&dateFrom={from}&itemsPerPage=1000"),
        ))
        .await;
    assert!(all["transactions"]["_links"].get("next").is_none());
    let mut expected = ids_of(&all["transactions"]["pending"]);
    expected.extend(ids_of(&all["transactions"]["booked"]));
    assert!(expected.len() > 100, "{} transactions", expected.len());

    let mut seen = Vec::new();
    let mut next = Some(format!(
        "{}{}",
        app.mtls_url,
        transactions_path(
            account,
            &format!("bookingStatus=both&dateFrom={from}&itemsPerPage=7")
        )
    ));
    let mut pages = 0;
    while let Some(url) = next {
        let page = reader.ok(&url).await;
        assert_valid(&page, "#/components/schemas/transactionsResponse-200_json");
        let report = &page["transactions"];
        let mut ids = ids_of(&report["pending"]);
        ids.extend(ids_of(&report["booked"]));
        let links = &report["_links"];
        next = links
            .get("next")
            .map(|n| n["href"].as_str().unwrap().to_owned());
        if next.is_some() {
            assert_eq!(ids.len(), 7, "page {pages}");
        }
        assert!(
            links["first"]["href"]
                .as_str()
                .unwrap()
                .ends_with("&pageIndex=0")
        );
        match pages {
            0 => assert!(links.get("previous").is_none()),
            p => assert!(
                links["previous"]["href"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("&pageIndex={}", p - 1))
            ),
        }
        seen.extend(ids);
        pages += 1;
    }
    assert_eq!(pages, expected.len().div_ceil(7));
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no duplicates");
    // The same transactions; within a page, pending ones are listed apart from
    // booked ones, so compare as sets and the booked order separately.
    assert_eq!(unique, expected.iter().collect::<HashSet<_>>());
    let expected_booked = ids_of(&all["transactions"]["booked"]);
    let booked: HashSet<&String> = expected_booked.iter().collect();
    let booked_order: Vec<&String> = seen.iter().filter(|id| booked.contains(id)).collect();
    assert_eq!(booked_order, expected_booked.iter().collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------
// frequencyPerDay
// ---------------------------------------------------------------------------

/// Whole seconds to the next 00:00 UTC, rounded up (never too early).
fn seconds_to_midnight(at: OffsetDateTime) -> i64 {
    let midnight = (at.date() + Duration::days(1)).midnight().assume_utc();
    let left = midnight - at;
    left.whole_seconds() + i64::from(left.subsec_nanoseconds() > 0)
}

on_both_cores!(the_fifth_read_of_a_four_per_day_consent_is_429_for_that_endpoint_and_account_only);
async fn the_fifth_read_of_a_four_per_day_consent_is_429_for_that_endpoint_and_account_only(
    app: &TestApp,
) {
    let (accounts, body) = full_access(app).await;
    let reader = Reader::new(app, &body).await;
    let (a, b) = (&accounts[0], &accounts[1]);
    let balances_a = format!("/v1/accounts/{}/balances", a.id);

    for _ in 0..4 {
        reader.ok(&balances_a).await;
    }
    let res = reader.get(&balances_a).await;
    assert_eq!(res.status(), 429);
    let retry_after: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry_after, seconds_to_midnight(now(app)));
    assert_eq!(tpp_code(&json(res).await), "ACCESS_EXCEEDED");

    // Other accounts and other endpoints have counters of their own.
    reader.ok(&format!("/v1/accounts/{}/balances", b.id)).await;
    reader.ok(&format!("/v1/accounts/{}", a.id)).await;
    reader
        .ok(&transactions_path(a, "bookingStatus=booked"))
        .await;
    reader.ok("/v1/accounts").await;
    // With the PSU present, a recurring consent is not limited.
    assert_eq!(reader.get_with_psu(&balances_a).await.status(), 200);
    assert_eq!(reader.get(&balances_a).await.status(), 429);
}

on_both_cores!(reads_with_the_psu_present_do_not_count_on_a_recurring_consent);
async fn reads_with_the_psu_present_do_not_count_on_a_recurring_consent(app: &TestApp) {
    let (accounts, body) = full_access(app).await;
    let reader = Reader::new(app, &body).await;
    let path = format!("/v1/accounts/{}", accounts[0].id);

    for _ in 0..6 {
        assert_eq!(reader.get_with_psu(&path).await.status(), 200);
    }
    for _ in 0..4 {
        reader.ok(&path).await;
    }
    assert_eq!(reader.get(&path).await.status(), 429);
}

on_both_cores!(a_one_off_consent_counts_every_read_even_with_the_psu_present);
async fn a_one_off_consent_counts_every_read_even_with_the_psu_present(app: &TestApp) {
    let (accounts, _) = full_access(app).await;
    let access = json!({"balances": ibans(&[&accounts[0]])});
    let reader = Reader::new(app, &consent_body(app, access, false, 1)).await;
    let path = format!("/v1/accounts/{}/balances", accounts[0].id);

    assert_eq!(reader.get_with_psu(&path).await.status(), 200);
    let res = reader.get_with_psu(&path).await;
    assert_error(res, 429, "ACCESS_EXCEEDED").await;
    assert_eq!(reader.get(&path).await.status(), 429);
}

on_both_cores!(the_counters_start_again_on_the_next_utc_day);
async fn the_counters_start_again_on_the_next_utc_day(app: &TestApp) {
    app.clock
        .set(now(app).date().with_hms(23, 58, 0).unwrap().assume_utc());
    let (accounts, body) = full_access(app).await;
    let reader = Reader::new(app, &body).await;
    let path = format!("/v1/accounts/{}/balances", accounts[0].id);
    for _ in 0..4 {
        reader.ok(&path).await;
    }
    let res = reader.get(&path).await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "120");

    app.clock.advance(Duration::minutes(2));
    for _ in 0..4 {
        reader.ok(&path).await;
    }
    assert_eq!(reader.get(&path).await.status(), 429);
}

on_both_cores!(following_next_links_does_not_count_again_but_reading_the_first_page_does);
async fn following_next_links_does_not_count_again_but_reading_the_first_page_does(app: &TestApp) {
    let (accounts, body) = full_access(app).await;
    let reader = Reader::new(app, &body).await;
    let account = &accounts[0];
    let first_page = format!(
        "{}{}",
        app.mtls_url,
        transactions_path(account, "bookingStatus=booked&itemsPerPage=3")
    );

    // One counted listing, read to its 13th page (small pages: the mock core's
    // 90 days hold fewer bookings than the sandbox's).
    let mut url = first_page.clone();
    for _ in 0..12 {
        let page = reader.ok(&url).await;
        url = page["transactions"]["_links"]["next"]["href"]
            .as_str()
            .unwrap()
            .to_owned();
    }
    // Going back is free too: it is a page of the same listing.
    let page = reader.ok(&url).await;
    let previous = page["transactions"]["_links"]["previous"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    reader.ok(&previous).await;

    // A later page of a listing not started today counts like a first page.
    reader
        .ok(&transactions_path(
            account,
            "bookingStatus=booked&itemsPerPage=6&pageIndex=2",
        ))
        .await;
    // Reading the newest transactions again always counts: 2 + 2 = 4.
    reader.ok(&first_page).await;
    reader.ok(&first_page).await;
    assert_error(reader.get(&first_page).await, 429, "ACCESS_EXCEEDED").await;
    // Further pages of the listing stay free.
    reader.ok(&previous).await;
}

on_both_cores!(failed_reads_do_not_count);
async fn failed_reads_do_not_count(app: &TestApp) {
    let (accounts, body) = full_access(app).await;
    let reader = Reader::new(app, &body).await;
    let account = &accounts[0];
    let unknown = format!("/v1/accounts/{}/transactions/unknown", account.id);
    for _ in 0..5 {
        assert_error(reader.get(&unknown).await, 404, "RESOURCE_UNKNOWN").await;
    }
    let list = reader
        .ok(&transactions_path(
            account,
            "bookingStatus=booked&itemsPerPage=1",
        ))
        .await;
    let href = list["transactions"]["booked"][0]["_links"]["transactionDetails"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..4 {
        reader.ok(&href).await;
    }
    assert_error(reader.get(&href).await, 429, "ACCESS_EXCEEDED").await;
}

on_both_cores!(concurrent_reads_never_exceed_the_frequency);
async fn concurrent_reads_never_exceed_the_frequency(app: &TestApp) {
    let (accounts, body) = full_access(app).await;
    let reader = Reader::new(app, &body).await;
    let path = format!("/v1/accounts/{}/balances", accounts[0].id);
    let statuses = futures_util::future::join_all((0..10).map(|_| reader.get(&path))).await;
    let ok = statuses.iter().filter(|r| r.status() == 200).count();
    let exceeded = statuses.iter().filter(|r| r.status() == 429).count();
    assert_eq!((ok, exceeded), (4, 6));
}
