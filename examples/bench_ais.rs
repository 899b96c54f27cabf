//! How many AIS reads per second one gateway process sustains, as a ratio against
//! a baseline measured in the same run (`GET /healthz` over TLS: the cost of the
//! transport alone).
//!
//! The gateway runs in this process (port 0, a fresh database, rate limits raised
//! out of the way); a real TPP flow gets a PSU token for a recurring `allPsd2`
//! consent, and then `--concurrency` tasks call `GET /v1/accounts` with
//! `PSU-IP-Address` (so `frequencyPerDay` does not count) for `--seconds`.
//!
//! ```sh
//! cargo run --release --example bench_ais                       # sandbox core (SQLite)
//! cargo run --release --example bench_ais -- --adapter http     # HTTP adapter + in-process mock core
//! cargo run --release --example bench_ais -- --database postgres://postgres@127.0.0.1:5432/obgw_bench
//! ```

use anyhow::{Context, anyhow};
use base64::Engine;
use obgw::app::{Application, Dependencies};
use obgw::config::{Config, CoreAdapterKind, QuotaConfig};
use sha2::Digest;

#[path = "support/bench.rs"]
mod bench;
#[path = "support/psu.rs"]
mod psu;

use bench::{https, load};

struct Args {
    adapter: String,
    seconds: u64,
    concurrency: usize,
    database: Option<String>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        adapter: "sandbox".into(),
        seconds: 10,
        concurrency: 32,
        database: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--adapter" => a.adapter = value,
            "--seconds" => a.seconds = value.parse()?,
            "--concurrency" => a.concurrency = value.parse()?,
            "--database" => a.database = Some(value),
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    Ok(a)
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
    let unlimited = QuotaConfig {
        per_second: 1_000_000,
        burst: 1_000_000,
    };
    config.rate_limits.tpp_api = unlimited;
    config.rate_limits.oauth = unlimited;
    config.rate_limits.public = unlimited;
    let _mock = if a.adapter == "http" {
        let mock = obgw::core::http::mock::spawn_mock_core("127.0.0.1:0").await?;
        config.core.adapter = CoreAdapterKind::Http;
        config.core.http.base_url = mock.base_url();
        Some(mock)
    } else {
        None
    };
    let app = Application::build_with(config, Dependencies::default())
        .await
        .context("starting the gateway")?;
    let public = format!("https://{}", app.public_addr());
    let mtls = format!("https://{}", app.mtls_addr());
    tokio::spawn(app.run_until_stopped());

    // A PSU token through the real flow.
    let tpp = https(true)?;
    let token: serde_json::Value = tpp
        .post(format!("{mtls}/oauth/token"))
        .form(&[("grant_type", "client_credentials"), ("scope", "accounts")])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let until = (obgw::clock::Clock::now(&obgw::clock::SystemClock).date()
        + time::Duration::days(30))
    .to_string();
    let consent: serde_json::Value = tpp
        .post(format!("{mtls}/v1/consents"))
        .bearer_auth(token["access_token"].as_str().unwrap_or_default())
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .header("PSU-IP-Address", "127.0.0.1")
        .json(
            &serde_json::json!({"access": {"allPsd2": "allAccounts"}, "recurringIndicator": true,
                                  "validUntil": until, "frequencyPerDay": 4}),
        )
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let consent_id = consent["consentId"].as_str().unwrap_or_default().to_owned();
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let redirect = "http://127.0.0.1:9090/callback";
    let url = format!(
        "{public}/oauth/authorize?{}",
        serde_urlencoded::to_string([
            ("client_id", "demo-tpp"),
            ("response_type", "code"),
            ("redirect_uri", redirect),
            ("scope", &format!("AIS:{consent_id}")),
            ("state", "bench"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])?
    );
    let location = psu::play_psu(&https(false)?, &url, "alice", "alice").await?;
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let code = serde_urlencoded::from_str::<Vec<(String, String)>>(query)?
        .into_iter()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v)
        .ok_or_else(|| anyhow!("no code"))?;
    let tokens: serde_json::Value = tpp
        .post(format!("{mtls}/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", &verifier),
        ])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let access = tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    println!(
        "adapter={} concurrency={} seconds={} database={}",
        a.adapter,
        a.concurrency,
        a.seconds,
        if a.database.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    );
    let client = https(false)?;
    let healthz = format!("{public}/healthz");
    let (ok0, err0, base) = load(a.seconds, a.concurrency, move || {
        let (client, url) = (client.clone(), healthz.clone());
        async move {
            client
                .get(url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    println!("baseline GET /healthz       {ok0:>8} ok {err0:>6} failed {base:>9.0} req/s  1.00x");

    let accounts = format!("{mtls}/v1/accounts");
    let (ok1, err1, ais) = load(a.seconds, a.concurrency, move || {
        let (client, url, access, consent) = (
            tpp.clone(),
            accounts.clone(),
            access.clone(),
            consent_id.clone(),
        );
        async move {
            client
                .get(url)
                .bearer_auth(access)
                .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
                .header("Consent-ID", consent)
                .header("PSU-IP-Address", "127.0.0.1")
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    println!(
        "AIS GET /v1/accounts        {ok1:>8} ok {err1:>6} failed {ais:>9.0} req/s  {:.2}x",
        ais / base
    );
    Ok(())
}
