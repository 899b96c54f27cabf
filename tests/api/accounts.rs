//! Account information (`/v1/accounts…`) against the sandbox core: the Berlin
//! Group shapes, consent enforcement per access kind, transaction paging, and
//! `frequencyPerDay`.

mod berlin_group;

use std::collections::HashSet;

use obgw::clock::Clock;
use obgw::core::Account;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::helpers::{TestApp, json, tpp_code};
use berlin_group::{assert_valid, response_schema};

const PSU_IP: (&str, &str) = ("PSU-IP-Address", "192.0.2.10");

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

#[tokio::test]
async fn the_account_list_matches_the_schema_and_shows_balances_only_where_granted() {
    let app = TestApp::spawn().await;
    let accounts = alice_accounts(&app).await;
    let access = json!({
        "accounts": ibans(&[&accounts[2]]),
        "balances": ibans(&[&accounts[0]]),
        "transactions": ibans(&[&accounts[1]]),
    });
    let reader = Reader::new(&app, &consent_body(&app, access, true, 4)).await;

    let list = reader.ok("/v1/accounts").await;
    assert_valid(&list, "#/components/schemas/accountList");
    let listed = list["accounts"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    for entry in listed {
        assert!(entry.get("balances").is_none(), "{entry}");
    }

    let list = reader.ok("/v1/accounts?withBalance=true").await;
    assert_valid(&list, "#/components/schemas/accountList");
    for account in &accounts {
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

#[tokio::test]
async fn account_details_match_the_schema() {
    let app = TestApp::spawn().await;
    let (accounts, body) = full_access(&app).await;
    let reader = Reader::new(&app, &body).await;
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

#[tokio::test]
async fn balances_match_the_schema_with_the_three_balance_types_as_decimal_strings() {
    let app = TestApp::spawn().await;
    let (accounts, body) = full_access(&app).await;
    let reader = Reader::new(&app, &body).await;
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
    let today = now(&app).date().to_string();
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

#[tokio::test]
async fn a_transaction_list_matches_the_schema_and_names_the_counterparty_by_direction() {
    let app = TestApp::spawn().await;
    let (accounts, body) = full_access(&app).await;
    let reader = Reader::new(&app, &body).await;
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
    let oldest = (now(&app).date() - Duration::days(90)).to_string();
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

#[tokio::test]
async fn transaction_details_match_the_schema_and_the_listed_entry() {
    let app = TestApp::spawn().await;
    let (accounts, body) = full_access(&app).await;
    let reader = Reader::new(&app, &body).await;
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

#[tokio::test]
async fn each_endpoint_needs_its_own_access_kind_for_the_account() {
    let app = TestApp::spawn().await;
    let accounts = alice_accounts(&app).await;
    let (balances_only, transactions_only, details_only) =
        (&accounts[0], &accounts[1], &accounts[2]);
    let access = json!({
        "accounts": ibans(&[details_only]),
        "balances": ibans(&[balances_only]),
        "transactions": ibans(&[transactions_only]),
    });
    let reader = Reader::new(&app, &consent_body(&app, access, true, 4)).await;
    let some_transaction = app
        .state
        .core
        .transactions(
            &balances_only.id,
            &obgw::core::TransactionQuery {
                status: obgw::core::BookingStatus::Booked,
                date_from: now(&app).date() - Duration::days(60),
                date_to: now(&app).date(),
                offset: 0,
                limit: 1,
            },
        )
        .await
        .unwrap()
        .transactions[0]
        .id
        .clone();

    for (account, path, allowed) in [
        (balances_only, "", true),
        (balances_only, "/balances", true),
        (balances_only, "/transactions?bookingStatus=booked", false),
        (
            balances_only,
            format!("/transactions/{some_transaction}").as_str(),
            false,
        ),
        (transactions_only, "", true),
        (transactions_only, "/balances", false),
        (
            transactions_only,
            "/transactions?bookingStatus=booked",
            true,
        ),
        (details_only, "", true),
        (details_only, "/balances", false),
        (details_only, "/transactions?bookingStatus=both", false),
    ] {
        let res = reader
            .get(&format!("/v1/accounts/{}{path}", account.id))
            .await;
        if allowed {
            assert_eq!(res.status(), 200, "{} {path}", account.name);
        } else {
            assert_eq!(res.status(), 401, "{} {path}", account.name);
            assert_eq!(tpp_code(&json(res).await), "CONSENT_INVALID");
        }
    }
}

#[tokio::test]
async fn another_psus_account_and_an_unknown_id_get_the_same_401_consent_invalid() {
    let app = TestApp::spawn().await;
    let (_, body) = full_access(&app).await;
    let reader = Reader::new(&app, &body).await;
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

#[tokio::test]
async fn an_expired_consent_is_consent_expired() {
    let app = TestApp::spawn().await;
    // A consent valid until today, read a few minutes before and after midnight
    // (UTC) with a token that is still live.
    let today = now(&app).date();
    app.clock
        .set(today.with_hms(23, 57, 0).unwrap().assume_utc());
    let accounts = alice_accounts(&app).await;
    let mut body = consent_body(&app, json!({"balances": ibans(&[&accounts[0]])}), true, 4);
    body["validUntil"] = json!(today.to_string());
    let reader = Reader::new(&app, &body).await;
    let path = format!("/v1/accounts/{}/balances", accounts[0].id);
    assert_eq!(reader.get(&path).await.status(), 200);

    app.clock.advance(Duration::minutes(4));
    assert_error(reader.get(&path).await, 401, "CONSENT_EXPIRED").await;
    assert_error(reader.get("/v1/accounts").await, 401, "CONSENT_EXPIRED").await;
}

#[tokio::test]
async fn a_revoked_consent_is_consent_invalid() {
    let app = TestApp::spawn().await;
    let (accounts, body) = full_access(&app).await;
    let reader = Reader::new(&app, &body).await;
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

#[tokio::test]
async fn bad_query_parameters_are_400_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let (accounts, body) = full_access(&app).await;
    let reader = Reader::new(&app, &body).await;
    let account = &accounts[0];
    let today = now(&app).date();
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

#[tokio::test]
async fn paging_through_the_whole_history_follows_next_links_without_gaps_or_duplicates() {
    let app = TestApp::spawn().await;
    let (accounts, body) = full_access(&app).await;
    let reader = Reader::new(&app, &body).await;
    let account = &accounts[0];
    let from = (now(&app).date() - Duration::days(400)).to_string();

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

#[tokio::test]
async fn the_fifth_read_of_a_four_per_day_consent_is_429_for_that_endpoint_and_account_only() {
    let app = TestApp::spawn().await;
    let (accounts, body) = full_access(&app).await;
    let reader = Reader::new(&app, &body).await;
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
    assert_eq!(retry_after, seconds_to_midnight(now(&app)));
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

#[tokio::test]
async fn reads_with_the_psu_present_do_not_count_on_a_recurring_consent() {
    let app = TestApp::spawn().await;
    let (accounts, body) = full_access(&app).await;
    let reader = Reader::new(&app, &body).await;
    let path = format!("/v1/accounts/{}", accounts[0].id);

    for _ in 0..6 {
        assert_eq!(reader.get_with_psu(&path).await.status(), 200);
    }
    for _ in 0..4 {
        reader.ok(&path).await;
    }
    assert_eq!(reader.get(&path).await.status(), 429);
}

#[tokio::test]
async fn a_one_off_consent_counts_every_read_even_with_the_psu_present() {
    let app = TestApp::spawn().await;
    let (accounts, _) = full_access(&app).await;
    let access = json!({"balances": ibans(&[&accounts[0]])});
    let reader = Reader::new(&app, &consent_body(&app, access, false, 1)).await;
    let path = format!("/v1/accounts/{}/balances", accounts[0].id);

    assert_eq!(reader.get_with_psu(&path).await.status(), 200);
    let res = reader.get_with_psu(&path).await;
    assert_error(res, 429, "ACCESS_EXCEEDED").await;
    assert_eq!(reader.get(&path).await.status(), 429);
}

#[tokio::test]
async fn the_counters_start_again_on_the_next_utc_day() {
    let app = TestApp::spawn().await;
    app.clock
        .set(now(&app).date().with_hms(23, 58, 0).unwrap().assume_utc());
    let (accounts, body) = full_access(&app).await;
    let reader = Reader::new(&app, &body).await;
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

#[tokio::test]
async fn following_next_links_does_not_count_again_but_reading_the_first_page_does() {
    let app = TestApp::spawn().await;
    let (accounts, body) = full_access(&app).await;
    let reader = Reader::new(&app, &body).await;
    let account = &accounts[0];
    let first_page = format!(
        "{}{}",
        app.mtls_url,
        transactions_path(account, "bookingStatus=booked&itemsPerPage=5")
    );

    // One counted listing, read to its 12th page.
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

#[tokio::test]
async fn failed_reads_do_not_count() {
    let app = TestApp::spawn().await;
    let (accounts, body) = full_access(&app).await;
    let reader = Reader::new(&app, &body).await;
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

#[tokio::test]
async fn concurrent_reads_never_exceed_the_frequency() {
    let app = TestApp::spawn().await;
    let (accounts, body) = full_access(&app).await;
    let reader = Reader::new(&app, &body).await;
    let path = format!("/v1/accounts/{}/balances", accounts[0].id);
    let statuses = futures_util::future::join_all((0..10).map(|_| reader.get(&path))).await;
    let ok = statuses.iter().filter(|r| r.status() == 200).count();
    let exceeded = statuses.iter().filter(|r| r.status() == 429).count();
    assert_eq!((ok, exceeded), (4, 6));
}
