//! `TestApp`: the real gateway on port 0 with a fresh database, real TLS and real
//! certificates, and HTTP clients that present them.
//!
//! Backends: SQLite by default (a fresh file per test); PostgreSQL when
//! `OBGW_TEST_DATABASE_URL` is set (a fresh schema per test in that database).

use std::path::PathBuf;
use std::sync::{Arc, Once};

use diesel::Connection;
use diesel::connection::SimpleConnection;
use obgw::app::{Application, Dependencies};
use obgw::clock::ManualClock;
use obgw::config::Config;
use obgw::tls::devcerts::{self, LeafKind, PemPair};
use time::{Duration, OffsetDateTime};

pub const CERTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/certs");

pub fn cert_path(name: &str) -> PathBuf {
    PathBuf::from(CERTS).join(name)
}

pub fn read_cert(name: &str) -> String {
    std::fs::read_to_string(cert_path(name)).expect("dev certificate present")
}

/// The dev CA, from `certs/`, for minting more TPP certificates.
pub fn dev_ca() -> PemPair {
    PemPair {
        cert_pem: read_cert("ca.pem"),
        key_pem: read_cert("ca.key"),
    }
}

pub fn now() -> OffsetDateTime {
    #[allow(clippy::disallowed_methods)]
    OffsetDateTime::now_utc()
}

/// A fresh TPP client certificate signed by the dev CA.
pub fn new_tpp_cert(name: &str) -> PemPair {
    devcerts::generate_leaf(
        &dev_ca(),
        LeafKind::Client,
        name,
        now() - Duration::days(1),
        now() + Duration::days(30),
    )
    .unwrap()
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var("TEST_LOG").is_ok() {
            obgw::telemetry::init(&obgw::config::LogConfig {
                filter: "debug".into(),
                ..Default::default()
            });
        }
    });
}

/// A database URL no other test uses.
pub fn fresh_database_url() -> String {
    match std::env::var("OBGW_TEST_DATABASE_URL") {
        Ok(base) if !base.is_empty() => {
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            let mut conn = diesel::PgConnection::establish(&base).expect("reach test PostgreSQL");
            conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
                .unwrap();
            let sep = if base.contains('?') { '&' } else { '?' };
            format!("{base}{sep}options=-csearch_path%3D{schema}")
        }
        _ => {
            let dir = std::env::temp_dir().join("obgw-tests");
            std::fs::create_dir_all(&dir).unwrap();
            dir.join(format!("{}.db", uuid::Uuid::new_v4()))
                .to_string_lossy()
                .into_owned()
        }
    }
}

/// The configuration every test starts from: port 0, fresh database, one worker.
pub fn test_config() -> Config {
    let mut config = Config::default();
    config.server.public_addr = "127.0.0.1:0".into();
    config.server.mtls_addr = "127.0.0.1:0".into();
    config.server.workers = 1;
    config.database.url = fresh_database_url();
    config.database.max_connections = 4;
    config.tls.server_cert = cert_path("server.pem");
    config.tls.server_key = cert_path("server.key");
    config.tls.client_ca = cert_path("ca.pem");
    config.sandbox.demo_client_cert = cert_path("demo-tpp.pem");
    config
}

pub struct TestApp {
    pub public_url: String,
    pub mtls_url: String,
    pub config: Config,
    /// The gateway's clock; tests move it instead of sleeping.
    #[allow(dead_code)]
    pub clock: Arc<ManualClock>,
    /// The demo TPP's HTTPS client (presents `certs/demo-tpp.pem`).
    pub tpp: reqwest::Client,
    /// A client without a certificate, for the public listener.
    pub public: reqwest::Client,
    pub state: obgw::http::AppState,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(customize: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = test_config();
        customize(&mut config);
        TestApp::spawn_config(config).await
    }

    pub async fn spawn_config(config: Config) -> TestApp {
        init_logs();
        let clock = Arc::new(ManualClock::starting_now());
        let app = Application::build_with(
            config.clone(),
            Dependencies {
                clock: Some(clock.clone()),
                core: None,
            },
        )
        .await
        .expect("gateway starts");
        let public_url = format!("https://{}", app.public_addr());
        let mtls_url = format!("https://{}", app.mtls_addr());
        let state = app.state().clone();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            public_url,
            mtls_url,
            config,
            clock,
            tpp: client_with_identity(Some(&PemPair {
                cert_pem: read_cert("demo-tpp.pem"),
                key_pem: read_cert("demo-tpp.key"),
            })),
            public: client_with_identity(None),
            state,
        }
    }

    pub async fn get_public(&self, path: &str) -> reqwest::Response {
        self.public
            .get(format!("{}{path}", self.public_url))
            .send()
            .await
            .expect("public listener answers")
    }

    /// A `/v1`-style GET as the demo TPP with a fresh `X-Request-ID`.
    pub async fn get_mtls(&self, path: &str) -> reqwest::Response {
        self.tpp
            .get(format!("{}{path}", self.mtls_url))
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
            .send()
            .await
            .expect("mTLS listener answers")
    }

    /// Runs the real `obgw` binary against this app's database.
    pub fn obgw(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_obgw"))
            .args(args)
            .env("OBGW_DATABASE_URL", &self.config.database.url)
            .env("OBGW_LOG", "warn")
            .output()
            .expect("obgw binary runs")
    }
}

/// An HTTPS client trusting the dev CA, optionally presenting a client certificate.
pub fn client_with_identity(identity: Option<&PemPair>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(read_cert("ca.pem").as_bytes()).unwrap();
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30));
    if let Some(pair) = identity {
        let pem = format!("{}{}", pair.cert_pem, pair.key_pem);
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

pub async fn json(res: reqwest::Response) -> serde_json::Value {
    res.json().await.expect("a JSON body")
}

/// The first Berlin Group error code in a `tppMessages` body.
pub fn tpp_code(body: &serde_json::Value) -> &str {
    body["tppMessages"][0]["code"].as_str().unwrap_or("<none>")
}
