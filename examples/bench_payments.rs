//! How many payments per second one gateway process carries end to end —
//! initiation, the PSU's approval on the consent page (login, review, one-time
//! code when the risk engine asks for it), forwarding to the core, executed
//! (`ACSC`) — against the raw commit rate of the same database measured in the
//! same run (single-row insert transactions through the same connection pool and
//! concurrency: the ceiling any durable write path shares).
//!
//! A payment counts only if every request of its flow succeeded (no 4xx, no 429)
//! and it reached `ACSC`. The gateway runs in this process on a fresh database
//! with rate limits out of the way; alice pays bob EUR 0.01 again and again. So
//! that velocity does not turn the run into rejections, `risk.reject_threshold` is
//! raised above 1: every payment is still scored twice and SCA is still asked when
//! the score says so.
//!
//! ```sh
//! cargo run --release --example bench_payments                       # SQLite
//! createdb -h 127.0.0.1 -U postgres obgw_bench
//! cargo run --release --example bench_payments -- --database postgres://postgres@127.0.0.1:5432/obgw_bench
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use base64::Engine;
use diesel::RunQueryDsl;
use obgw::app::{Application, Dependencies};
use obgw::config::{Config, QuotaConfig};
use obgw::store::{Store, StoreError};
use sha2::Digest;

#[path = "support/bench.rs"]
mod bench;
#[path = "support/psu.rs"]
mod psu;

use bench::{https, load};

struct Args {
    seconds: u64,
    concurrency: usize,
    database: Option<String>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        seconds: 10,
        concurrency: 16,
        database: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--seconds" => a.seconds = value.parse()?,
            "--concurrency" => a.concurrency = value.parse()?,
            "--database" => a.database = Some(value),
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    Ok(a)
}

/// One single-row insert transaction through the gateway's own store.
async fn commit_one(store: Store) -> bool {
    let id = uuid::Uuid::new_v4().simple().to_string();
    store
        .write(move |c| {
            diesel::sql_query(format!(
                "INSERT INTO bench_commits (id, payload) VALUES ('{id}', 'payment-sized row')"
            ))
            .execute(c)
            .map_err(StoreError::from)
        })
        .await
        .is_ok()
}

struct Flow {
    tpp: reqwest::Client,
    browser: reqwest::Client,
    public: String,
    mtls: String,
    token: String,
    debtor: String,
    creditor: String,
}

impl Flow {
    /// Initiation → approval on the consent page → executed; false on any
    /// non-2xx answer or an outcome other than ACSC.
    async fn pay(&self) -> anyhow::Result<()> {
        let created: serde_json::Value = self
            .tpp
            .post(format!("{}/v1/payments/sepa-credit-transfers", self.mtls))
            .bearer_auth(&self.token)
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
            .header("Idempotency-Key", uuid::Uuid::new_v4().simple().to_string())
            .header("PSU-IP-Address", "127.0.0.1")
            .json(&serde_json::json!({
                "instructedAmount": {"currency": "EUR", "amount": "0.01"},
                "debtorAccount": {"iban": self.debtor},
                "creditorAccount": {"iban": self.creditor},
                "creditorName": "Bob",
                "remittanceInformationUnstructured": "bench"
            }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = created["paymentId"].as_str().unwrap_or_default().to_owned();
        let verifier = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        let url = format!(
            "{}/oauth/authorize?{}",
            self.public,
            serde_urlencoded::to_string([
                ("client_id", "demo-tpp"),
                ("response_type", "code"),
                ("redirect_uri", "http://127.0.0.1:9090/callback"),
                ("scope", &format!("PIS:{id}")),
                ("state", "bench"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ])?
        );
        let location = psu::play_psu(&self.browser, &url, "alice", "alice").await?;
        if !location.contains("code=") {
            anyhow::bail!("not approved: {location}");
        }
        let status_url = format!(
            "{}/v1/payments/sepa-credit-transfers/{id}/status",
            self.mtls
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let status: serde_json::Value = self
                .tpp
                .get(&status_url)
                .bearer_auth(&self.token)
                .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            match status["transactionStatus"].as_str() {
                Some("ACSC") => return Ok(()),
                Some("RCVD" | "ACTC" | "ACSP") => {
                    tokio::time::sleep(Duration::from_millis(5)).await
                }
                other => anyhow::bail!("payment ended {other:?}"),
            }
        }
        anyhow::bail!("payment not executed within 30 s")
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let mut config = Config::default();
    config.server.public_addr = "127.0.0.1:0".into();
    config.server.mtls_addr = "127.0.0.1:0".into();
    config.database.url = a.database.clone().unwrap_or_else(|| {
        std::env::temp_dir()
            .join(format!("obgw-bench-{}.db", uuid::Uuid::new_v4()))
            .to_string_lossy()
            .into_owned()
    });
    config.database.max_connections = 16;
    config.oauth.access_token_ttl = 3600;
    config.risk.reject_threshold = 2.0;
    let unlimited = QuotaConfig {
        per_second: 1_000_000,
        burst: 1_000_000,
    };
    config.rate_limits.tpp_api = unlimited;
    config.rate_limits.oauth = unlimited;
    config.rate_limits.public = unlimited;
    let app = Application::build_with(config, Dependencies::default())
        .await
        .context("starting the gateway")?;
    let public = format!("https://{}", app.public_addr());
    let mtls = format!("https://{}", app.mtls_addr());
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());

    let core = &state.core;
    let psu = |name: &'static str| async move {
        let id = core
            .authenticate_psu(name, &obgw::secret::Secret::new(name))
            .await?
            .ok_or_else(|| anyhow!("no sandbox PSU {name}"))?;
        let accounts = core.accounts(&id).await?;
        accounts
            .first()
            .map(|acc| acc.iban.as_str().to_owned())
            .ok_or_else(|| anyhow!("{name} has no account"))
    };
    let (debtor, creditor) = (psu("alice").await?, psu("bob").await?);

    let tpp = https(true)?;
    let token: serde_json::Value = tpp
        .post(format!("{mtls}/oauth/token"))
        .form(&[("grant_type", "client_credentials"), ("scope", "payments")])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let flow = Arc::new(Flow {
        tpp,
        browser: https(false)?,
        public,
        mtls,
        token: token["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        debtor,
        creditor,
    });

    println!(
        "concurrency={} seconds={} database={:?}",
        a.concurrency,
        a.seconds,
        state.store.backend()
    );
    state
        .store
        .write(|c| {
            diesel::sql_query(
                "CREATE TABLE IF NOT EXISTS bench_commits (id TEXT PRIMARY KEY, payload TEXT NOT NULL)",
            )
            .execute(c)
            .map_err(StoreError::from)
        })
        .await?;
    let store = state.store.clone();
    let (ok0, err0, commits) =
        load(a.seconds, a.concurrency, move || commit_one(store.clone())).await;
    println!(
        "baseline: insert transactions {ok0:>8} ok {err0:>6} failed {commits:>9.1} commits/s  1.000x"
    );

    let errors = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::<
        String,
        u64,
    >::new()));
    let (ok1, err1, payments) = {
        let errors = errors.clone();
        load(a.seconds, a.concurrency, move || {
            let (flow, errors) = (flow.clone(), errors.clone());
            async move {
                match flow.pay().await {
                    Ok(()) => true,
                    Err(e) => {
                        let mut errors = errors.lock().unwrap_or_else(|p| p.into_inner());
                        *errors
                            .entry(e.to_string().chars().take(80).collect())
                            .or_default() += 1;
                        false
                    }
                }
            }
        })
        .await
    };
    println!(
        "payments end to end (ACSC)    {ok1:>8} ok {err1:>6} failed {payments:>9.1} payments/s {:.3}x",
        payments / commits
    );
    for (error, n) in errors.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        println!("  failed {n}x: {error}");
    }
    Ok(())
}
