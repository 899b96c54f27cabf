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

/// A PKCE pair (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    use base64::Engine;
    use sha2::Digest;
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub const DEMO_REDIRECT: &str = "http://127.0.0.1:9090/callback";

/// The value of a hidden `csrf` input in a PSU page.
pub fn csrf_of(html: &str) -> Option<String> {
    let start = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// One query parameter of a redirect `Location`.
pub fn query_param(location: &str, name: &str) -> Option<String> {
    let query = location.split_once('?')?.1;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// A PSU's browser on the consent page: it keeps the session cookie and the
/// latest CSRF token, and submits the real forms.
pub struct PsuBrowser<'a> {
    pub app: &'a TestApp,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
}

impl<'a> PsuBrowser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        PsuBrowser {
            app,
            cookie: None,
            csrf: None,
        }
    }

    fn remember(&mut self, res: &reqwest::Response) {
        if let Some(c) = res
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
        {
            let pair = c.split(';').next().unwrap_or_default().to_owned();
            if !pair.ends_with('=') {
                self.cookie = Some(pair);
            }
        }
    }

    /// Opens `/oauth/authorize?query`; returns status, Location and body.
    pub async fn open(&mut self, query: &[(&str, &str)]) -> (u16, Option<String>, String) {
        let url = format!(
            "{}/oauth/authorize?{}",
            self.app.public_url,
            serde_urlencoded::to_string(query).unwrap()
        );
        let res = self.app.public.get(url).send().await.unwrap();
        self.remember(&res);
        self.read(res).await
    }

    async fn read(&mut self, res: reqwest::Response) -> (u16, Option<String>, String) {
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = res.text().await.unwrap();
        if let Some(csrf) = csrf_of(&body) {
            self.csrf = Some(csrf);
        }
        (status, location, body)
    }

    /// Posts a form to `/oauth/authorize/{step}` with the session cookie.
    pub async fn post(
        &mut self,
        step: &str,
        form: &[(&str, &str)],
    ) -> (u16, Option<String>, String) {
        let mut req = self
            .app
            .public
            .post(format!("{}/oauth/authorize/{step}", self.app.public_url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap());
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let res = req.send().await.unwrap();
        self.read(res).await
    }

    pub async fn login(&mut self, username: &str, password: &str) -> (u16, Option<String>, String) {
        let csrf = self.csrf.clone().unwrap_or_default();
        self.post(
            "login",
            &[
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    pub async fn approve(
        &mut self,
        otp: Option<&str>,
        accounts: &[&str],
    ) -> (u16, Option<String>, String) {
        let csrf = self.csrf.clone().unwrap_or_default();
        let mut form = vec![("csrf", csrf.as_str()), ("decision", "approve")];
        if let Some(otp) = otp {
            form.push(("otp", otp));
        }
        for a in accounts {
            form.push(("account", a));
        }
        self.post("decision", &form).await
    }

    pub async fn deny(&mut self) -> (u16, Option<String>, String) {
        let csrf = self.csrf.clone().unwrap_or_default();
        self.post("decision", &[("csrf", &csrf), ("decision", "deny")])
            .await
    }
}

/// The standard authorization query for a consent.
pub fn authorize_query<'q>(
    consent_id: &'q str,
    challenge: &'q str,
    scope: &'q str,
) -> Vec<(&'q str, &'q str)> {
    let _ = consent_id;
    vec![
        ("client_id", "demo-tpp"),
        ("response_type", "code"),
        ("redirect_uri", DEMO_REDIRECT),
        ("scope", scope),
        ("state", "st-123"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

impl TestApp {
    /// POST /oauth/token as `client` with a form.
    pub async fn token_with(
        &self,
        client: &reqwest::Client,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        client
            .post(format!("{}/oauth/token", self.mtls_url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap())
            .send()
            .await
            .unwrap()
    }

    /// A client-credentials token of the demo TPP.
    pub async fn client_token(&self, scope: &str) -> String {
        let res = self
            .token_with(
                &self.tpp,
                &[("grant_type", "client_credentials"), ("scope", scope)],
            )
            .await;
        assert_eq!(res.status(), 200);
        json(res).await["access_token"].as_str().unwrap().to_owned()
    }

    /// POST /v1/consents as the demo TPP with a fresh Idempotency-Key.
    pub async fn post_consent(&self, token: &str, body: &serde_json::Value) -> reqwest::Response {
        self.post_consent_as(&self.tpp, token, body, &uuid::Uuid::new_v4().to_string())
            .await
    }

    pub async fn post_consent_as(
        &self,
        client: &reqwest::Client,
        token: &str,
        body: &serde_json::Value,
        key: &str,
    ) -> reqwest::Response {
        client
            .post(format!("{}/v1/consents", self.mtls_url))
            .bearer_auth(token)
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
            .header("Idempotency-Key", key)
            .header("PSU-IP-Address", "192.0.2.10")
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// The IBANs of a sandbox PSU's accounts.
    pub async fn ibans_of(&self, user: &str) -> Vec<String> {
        let core = &self.state.core;
        let psu = core
            .authenticate_psu(user, &obgw::secret::Secret::new(user))
            .await
            .unwrap()
            .unwrap();
        core.accounts(&psu)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.iban.as_str().to_owned())
            .collect()
    }

    /// A `received` consent of the demo TPP for alice's first two accounts.
    pub async fn alice_consent(&self) -> String {
        let ibans = self.ibans_of("alice").await;
        let token = self.client_token("accounts").await;
        let body = serde_json::json!({
            "access": {
                "accounts": [{"iban": ibans[0]}, {"iban": ibans[1]}],
                "balances": [{"iban": ibans[0]}],
                "transactions": [{"iban": ibans[0]}]
            },
            "recurringIndicator": true,
            "validUntil": (obgw::clock::Clock::now(self.clock.as_ref()).date() + Duration::days(30)).to_string(),
            "frequencyPerDay": 4
        });
        let res = self.post_consent(&token, &body).await;
        assert_eq!(res.status(), 201);
        json(res).await["consentId"].as_str().unwrap().to_owned()
    }

    /// Runs alice through the consent page for `consent_id`; returns the code and
    /// the PKCE verifier.
    pub async fn alice_authorizes(&self, consent_id: &str) -> (String, String) {
        let (verifier, challenge) = pkce();
        let scope = format!("AIS:{consent_id}");
        let mut browser = PsuBrowser::new(self);
        let (status, _, _) = browser
            .open(&authorize_query(consent_id, &challenge, &scope))
            .await;
        assert_eq!(status, 200);
        let (status, _, page) = browser.login("alice", "alice").await;
        assert_eq!(status, 200, "{page}");
        let otp = page.contains("name=\"otp\"").then_some("123456");
        let (status, location, page) = browser.approve(otp, &[]).await;
        assert_eq!(status, 303, "{page}");
        let location = location.unwrap();
        (query_param(&location, "code").unwrap(), verifier)
    }

    /// Exchanges a code as the demo TPP.
    pub async fn exchange(&self, code: &str, verifier: &str) -> reqwest::Response {
        self.token_with(
            &self.tpp,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", DEMO_REDIRECT),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    /// A consent alice approved, and the demo TPP's token response for it.
    pub async fn alice_token(&self) -> (String, serde_json::Value) {
        let consent_id = self.alice_consent().await;
        let (code, verifier) = self.alice_authorizes(&consent_id).await;
        let res = self.exchange(&code, &verifier).await;
        assert_eq!(res.status(), 200);
        (consent_id, json(res).await)
    }

    /// GET /v1/accounts with a token and Consent-ID, as `client`.
    pub async fn accounts_as(
        &self,
        client: &reqwest::Client,
        token: &str,
        consent_id: &str,
    ) -> reqwest::Response {
        client
            .get(format!("{}/v1/accounts", self.mtls_url))
            .bearer_auth(token)
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
            .header("Consent-ID", consent_id)
            .send()
            .await
            .unwrap()
    }

    /// Registers a new TPP client through the CLI; returns its id and an HTTPS
    /// client presenting its certificate.
    pub fn register_tpp(&self, name: &str) -> (String, reqwest::Client) {
        let cert = new_tpp_cert(name);
        let dir = std::env::temp_dir().join(format!("obgw-cert-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let pem = dir.join("tpp.pem");
        std::fs::write(&pem, &cert.cert_pem).unwrap();
        let out = self.obgw(&[
            "clients",
            "add",
            "--name",
            name,
            "--redirect-uri",
            DEMO_REDIRECT,
            "--cert",
            pem.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["client_id"]
            .as_str()
            .unwrap()
            .to_owned();
        (id, client_with_identity(Some(&cert)))
    }
}

impl TestApp {
    /// Like `token_with`, but returns the transport error (a failed handshake).
    pub async fn token_with_result(
        &self,
        client: &reqwest::Client,
        form: &[(&str, &str)],
    ) -> Result<reqwest::Response, reqwest::Error> {
        client
            .post(format!("{}/oauth/token", self.mtls_url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap())
            .send()
            .await
    }

    /// POSTs a form to an mTLS path.
    pub async fn form(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        client
            .post(format!("{}{path}", self.mtls_url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap())
            .send()
            .await
            .unwrap()
    }
}

impl TestApp {
    /// A sandbox PSU's accounts as the core knows them (resource ids and IBANs),
    /// in IBAN order.
    pub async fn accounts_of(&self, user: &str) -> Vec<obgw::core::Account> {
        let core = &self.state.core;
        let psu = core
            .authenticate_psu(user, &obgw::secret::Secret::new(user))
            .await
            .unwrap()
            .unwrap();
        core.accounts(&psu).await.unwrap()
    }

    /// A consent of the demo TPP with this `POST /v1/consents` body, approved by
    /// alice; returns its id and the demo TPP's token response for it.
    pub async fn alice_token_for(&self, body: &serde_json::Value) -> (String, serde_json::Value) {
        let token = self.client_token("accounts").await;
        let res = self.post_consent(&token, body).await;
        assert_eq!(res.status(), 201);
        let consent_id = json(res).await["consentId"].as_str().unwrap().to_owned();
        let (code, verifier) = self.alice_authorizes(&consent_id).await;
        let res = self.exchange(&code, &verifier).await;
        assert_eq!(res.status(), 200);
        (consent_id, json(res).await)
    }

    /// An AIS GET (`/v1/accounts…`) as the demo TPP with a PSU token, its
    /// `Consent-ID`, a fresh `X-Request-ID`, and `headers`.
    pub async fn ais_get(
        &self,
        path: &str,
        token: &str,
        consent_id: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let url = if path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.mtls_url)
        };
        let mut req = self
            .tpp
            .get(url)
            .bearer_auth(token)
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
            .header("Consent-ID", consent_id);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.send().await.unwrap()
    }
}

/// The gateway on the HTTP core adapter, talking over real HTTP to an in-process
/// mock core (`obgw::core::http::mock`). Derefs to its `TestApp`. The circuit
/// breaker reads the gateway's clock: advance `clock` past `open_seconds`
/// instead of sleeping.
pub struct MockCoreApp {
    pub app: TestApp,
    /// The mock core, with its fault knobs (delay, 500s, stop/start).
    pub core: obgw::core::http::mock::MockCoreHandle,
}

impl std::ops::Deref for MockCoreApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

/// Points `config` at the core on `base_url` through the HTTP adapter.
pub fn use_http_core(config: &mut Config, base_url: &str) {
    config.core.adapter = obgw::config::CoreAdapterKind::Http;
    config.core.http.base_url = base_url.to_owned();
    config.core.http.connect_timeout_ms = 1_000;
    config.core.http.request_timeout_ms = 5_000;
}

impl TestApp {
    /// A fresh mock core, and the gateway on the HTTP adapter against it.
    pub async fn spawn_on_mock_core() -> MockCoreApp {
        TestApp::spawn_on_mock_core_with(|_| {}).await
    }

    /// Like `spawn_on_mock_core`, then `customize` (e.g. shorter timeouts).
    pub async fn spawn_on_mock_core_with(customize: impl FnOnce(&mut Config)) -> MockCoreApp {
        let core = obgw::core::http::mock::spawn_mock_core("127.0.0.1:0")
            .await
            .expect("mock core starts");
        let app = TestApp::spawn_with(|c| {
            use_http_core(c, &core.base_url());
            customize(c);
        })
        .await;
        MockCoreApp { app, core }
    }
}

/// A clock that reads the gateway's clock once it is known (before that, the
/// wall clock): the mock core then shares the gateway's notion of "today".
#[derive(Debug, Default)]
struct GatewayClock(std::sync::OnceLock<Arc<ManualClock>>);

impl obgw::clock::Clock for GatewayClock {
    fn now(&self) -> OffsetDateTime {
        match self.0.get() {
            Some(clock) => obgw::clock::Clock::now(clock.as_ref()),
            None => obgw::clock::Clock::now(&obgw::clock::SystemClock),
        }
    }
}

impl TestApp {
    /// Like `spawn_on_mock_core`, but the mock core reads the gateway's clock:
    /// moving `clock` moves both, as it moves the sandbox (e.g. the balances'
    /// `referenceDate` and the mock's challenge expiry follow it).
    pub async fn spawn_on_mock_core_sharing_the_clock() -> MockCoreApp {
        let clock = Arc::new(GatewayClock::default());
        let options = obgw::core::http::mock::MockCoreOptions {
            clock: clock.clone(),
            ..Default::default()
        };
        let core = obgw::core::http::mock::spawn_mock_core_with("127.0.0.1:0", options)
            .await
            .expect("mock core starts");
        let app = TestApp::spawn_with(|c| use_http_core(c, &core.base_url())).await;
        clock
            .0
            .set(app.clock.clone())
            .expect("the clock is set once");
        MockCoreApp { app, core }
    }

    /// Like `alice_token_for`, with alice picking `accounts` (resource ids) on
    /// the consent page, as `availableAccounts…`/`allPsd2` consents ask.
    pub async fn alice_token_picking(
        &self,
        body: &serde_json::Value,
        accounts: &[&str],
    ) -> (String, serde_json::Value) {
        let token = self.client_token("accounts").await;
        let res = self.post_consent(&token, body).await;
        assert_eq!(res.status(), 201);
        let consent_id = json(res).await["consentId"].as_str().unwrap().to_owned();
        let (verifier, challenge) = pkce();
        let scope = format!("AIS:{consent_id}");
        let mut browser = PsuBrowser::new(self);
        let (status, _, _) = browser
            .open(&authorize_query(&consent_id, &challenge, &scope))
            .await;
        assert_eq!(status, 200);
        let (status, _, page) = browser.login("alice", "alice").await;
        assert_eq!(status, 200, "{page}");
        let otp = page.contains("name=\"otp\"").then_some("123456");
        let (status, location, page) = browser.approve(otp, accounts).await;
        assert_eq!(status, 303, "{page}");
        let code = query_param(&location.unwrap(), "code").unwrap();
        let res = self.exchange(&code, &verifier).await;
        assert_eq!(res.status(), 200);
        (consent_id, json(res).await)
    }
}

impl TestApp {
    /// A consent's status as the demo TPP reads it (`GET /v1/consents/{id}/status`).
    pub async fn consent_status(&self, consent_id: &str) -> String {
        let token = self.client_token("accounts").await;
        let res = self
            .tpp
            .get(format!("{}/v1/consents/{consent_id}/status", self.mtls_url))
            .bearer_auth(&token)
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
            .send()
            .await
            .unwrap();
        json(res).await["consentStatus"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

impl TestApp {
    /// The refresh-token grant as the demo TPP.
    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.token_with(
            &self.tpp,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }
}
