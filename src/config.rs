//! One typed configuration, loaded once (TOML file, then `OBGW_*` environment
//! overrides) and passed down. Every key and its default is documented in
//! `obgw.example.toml`, which a test keeps in sync with [`Config::default`].

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub tls: TlsConfig,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub oauth: OAuthConfig,
    pub core: CoreConfig,
    pub sandbox: SandboxConfig,
    pub consents: ConsentsConfig,
    pub psu: PsuConfig,
    pub metrics: MetricsConfig,
    pub rate_limits: RateLimitsConfig,
    pub payments: PaymentsConfig,
    pub risk: crate::risk::RiskConfig,
    pub interbank: InterbankConfig,
}

/// Between banks: the peer banks this gateway credits through their
/// `/interbank/v1/credits`, and how it authenticates to them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InterbankConfig {
    /// Peer banks: a payment whose creditor IBAN carries a peer's bank code is
    /// debited here and credited at that peer.
    pub peers: Vec<PeerBankConfig>,
    /// The PEM certificate chain this bank presents to its peers (each peer
    /// registers it as a client with scope `interbank`). Needed with peers.
    pub client_cert: PathBuf,
    /// The PEM private key of `client_cert`.
    pub client_key: PathBuf,
    /// A PEM CA bundle that peers' server certificates must chain to; empty
    /// means `tls.client_ca`.
    pub ca_cert: PathBuf,
    /// Time allowed to open a connection to a peer (TCP and TLS), in milliseconds.
    pub connect_timeout_ms: u64,
    /// Time allowed for one whole credit request and its answer, in milliseconds;
    /// less than `payments.claim_lease_seconds`, so a hop ends within its claim.
    pub request_timeout_ms: u64,
}

impl Default for InterbankConfig {
    fn default() -> Self {
        InterbankConfig {
            peers: Vec::new(),
            client_cert: PathBuf::new(),
            client_key: PathBuf::new(),
            ca_cert: PathBuf::new(),
            connect_timeout_ms: 1_000,
            request_timeout_ms: 5_000,
        }
    }
}

/// One peer bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerBankConfig {
    /// The peer's 8-digit bank code, as in its (German) IBANs.
    #[serde(deserialize_with = "bank_code")]
    pub bank_code: String,
    /// The peer's mTLS listener, e.g. `https://bank-b.example:8444`.
    pub base_url: String,
}

/// A bank code as text. The environment provider reads `OBGW_SANDBOX__BANK_CODE=
/// 99912346` as a number, and a bare TOML number is an easy slip too, so numbers
/// are accepted and written back with their 8 digits (leading zeros included).
fn bank_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Code {
        Text(String),
        Number(u64),
    }
    Ok(match Code::deserialize(d)? {
        Code::Text(text) => text,
        Code::Number(n) => format!("{n:08}"),
    })
}

fn is_bank_code(code: &str) -> bool {
    code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit())
}

impl InterbankConfig {
    fn validate(&self, own_bank_code: &str, lease_seconds: u64) -> Result<(), ConfigError> {
        let err = |msg: String| Err(ConfigError(format!("interbank.{msg}")));
        if self.connect_timeout_ms == 0 || self.request_timeout_ms == 0 {
            return err("connect_timeout_ms and request_timeout_ms must be positive".into());
        }
        // Only a configured peer is ever called: the bound matters only then.
        if !self.peers.is_empty() && self.request_timeout_ms >= lease_seconds.saturating_mul(1_000)
        {
            return err(
                "request_timeout_ms must be shorter than payments.claim_lease_seconds".into(),
            );
        }
        let (cert, key) = (
            self.client_cert.as_os_str().is_empty(),
            self.client_key.as_os_str().is_empty(),
        );
        if cert != key {
            return err("client_cert and client_key must be set together".into());
        }
        if !self.peers.is_empty() && cert {
            return err("peers need client_cert and client_key (this bank's certificate)".into());
        }
        let mut seen = Vec::new();
        for peer in &self.peers {
            let code = &peer.bank_code;
            if !is_bank_code(code) {
                return err(format!("peers: bank_code {code:?} must be 8 digits"));
            }
            if code == own_bank_code {
                return err(format!("peers: {code} is this bank's own bank code"));
            }
            if seen.contains(&code) {
                return err(format!("peers: bank_code {code} is listed twice"));
            }
            seen.push(code);
            match reqwest::Url::parse(&peer.base_url) {
                Ok(url) if url.scheme() == "https" && url.host_str().is_some() => {}
                _ => return err(format!("peers: base_url of {code} must be an https:// URL")),
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentsConfig {
    /// The largest amount one payment may carry, as a decimal string in the
    /// payment's currency; larger amounts are refused with FORMAT_ERROR.
    pub max_amount: String,
    /// Seconds a forwarding worker owns an outbox row; when it runs out (the core
    /// did not answer, or the gateway died) the next claim reconciles with the core.
    pub claim_lease_seconds: u64,
    /// Milliseconds between outbox polls when no approval wakes the worker.
    pub poll_interval_ms: u64,
    /// Seconds a payment may wait for the PSU's authorization (RCVD) before it is
    /// rejected (RJCT).
    pub authorization_timeout: u64,
    /// Run the forwarding worker in this process. Turn it off on replicas that
    /// should only serve the API (at least one replica must forward).
    pub run_forwarder: bool,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        PaymentsConfig {
            max_amount: "100000".into(),
            claim_lease_seconds: 30,
            poll_interval_ms: 500,
            authorization_timeout: 900,
            run_forwarder: true,
        }
    }
}

impl PaymentsConfig {
    /// `max_amount` as a decimal (validated by [`Config::validate`]).
    pub fn max_amount(&self) -> rust_decimal::Decimal {
        self.max_amount
            .parse()
            .unwrap_or(rust_decimal::Decimal::ZERO)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// The public listener: TLS without client certificates (PSU pages, docs, ops).
    pub public_addr: String,
    /// The mTLS listener: every TPP call; a client certificate is required.
    pub mtls_addr: String,
    /// HTTP worker threads per listener; 0 means one per CPU core.
    pub workers: usize,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            public_addr: "127.0.0.1:8443".into(),
            mtls_addr: "127.0.0.1:8444".into(),
            workers: 0,
            max_body_bytes: 64 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// The server certificate chain (PEM) both listeners present.
    pub server_cert: PathBuf,
    /// The server's private key (PEM).
    pub server_key: PathBuf,
    /// The CA bundle (PEM) TPP client certificates must chain to.
    pub client_ca: PathBuf,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            server_cert: "certs/server.pem".into(),
            server_key: "certs/server.key".into(),
            client_ca: "certs/ca.pem".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// A SQLite path (or `sqlite://PATH`), or a `postgres://` URL.
    pub url: String,
    /// Pooled connections.
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "data/obgw.db".into(),
            max_connections: 8,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing `EnvFilter` directive, e.g. `info` or `obgw=debug,info`.
    pub filter: String,
    /// `pretty` (human) or `json` (one object a line); logs go to stdout.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            filter: "info".into(),
            format: LogFormat::Pretty,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuthConfig {
    /// The issuer URL; empty means `https://<public address as bound>`.
    pub issuer: String,
    /// Access-token lifetime in seconds.
    pub access_token_ttl: u64,
    /// Authorization-code lifetime in seconds (at most 60).
    pub code_ttl: u64,
    /// Refuse plain authorization requests; require PAR (RFC 9126).
    pub require_par: bool,
    /// Lifetime of a pushed authorization request's `request_uri`, seconds (at most 600).
    pub par_ttl: u64,
    /// Days after a PSU's last SCA for a TPP when the one-time code is asked again and
    /// refresh-token families end (PSD2 RTS Art. 10a).
    pub sca_renewal_days: u32,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            issuer: String::new(),
            access_token_ttl: 300,
            code_ttl: 60,
            require_par: false,
            par_ttl: 90,
            sca_renewal_days: 180,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsentsConfig {
    /// The highest `frequencyPerDay` granted; higher requests are lowered to it.
    pub max_frequency_per_day: u32,
    /// Seconds a `received` consent may wait for the PSU before it becomes `rejected`.
    pub authorization_timeout: u64,
    /// The longest validity granted, in days (`validUntil` 9999-12-31 is lowered to it).
    pub max_validity_days: u32,
}

impl Default for ConsentsConfig {
    fn default() -> Self {
        ConsentsConfig {
            max_frequency_per_day: 4,
            authorization_timeout: 900,
            max_validity_days: 180,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PsuConfig {
    /// Failed logins in a row before the username is blocked (RTS Art. 4(3)(b): at most 5).
    pub max_failed_logins: u32,
    /// How long a blocked username stays blocked, in seconds.
    pub login_block_seconds: u64,
    /// How long a PSU has to finish the consent page, in seconds.
    pub session_ttl: u64,
}

impl Default for PsuConfig {
    fn default() -> Self {
        PsuConfig {
            max_failed_logins: 5,
            login_block_seconds: 900,
            session_ttl: 900,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CoreAdapterKind {
    /// The built-in ledger in the gateway's own database.
    Sandbox,
    /// A REST client to the bank's core (`[core.http]`, `docs/core-adapter.md`).
    Http,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoreConfig {
    /// Which core-banking adapter serves accounts and payments.
    pub adapter: CoreAdapterKind,
    /// The HTTP adapter's settings; read only when `adapter = "http"`.
    pub http: HttpCoreConfig,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            adapter: CoreAdapterKind::Sandbox,
            http: HttpCoreConfig::default(),
        }
    }
}

/// The HTTP core adapter: where the bank's core is, how long to wait for it, how
/// to trust it, and when to stop calling it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpCoreConfig {
    /// The core's base URL (`http://` or `https://`); paths are appended to it.
    pub base_url: String,
    /// Time allowed to open a connection (TCP and TLS), in milliseconds.
    pub connect_timeout_ms: u64,
    /// Time allowed for one whole request and its response, in milliseconds.
    pub request_timeout_ms: u64,
    /// Extra attempts for idempotent reads after a connection failure or a
    /// 502/503/504; never for authentication, SCA or payments.
    pub read_retries: u32,
    /// A PEM CA bundle to trust for an `https://` core instead of the public
    /// roots; empty means the public roots.
    pub ca_cert: PathBuf,
    /// A PEM certificate chain the gateway presents to the core (mTLS); empty
    /// means none. Needs `client_key`.
    pub client_cert: PathBuf,
    /// The PEM private key of `client_cert`.
    pub client_key: PathBuf,
    /// Consecutive failed calls (unreachable, timed out, 5xx) that open the
    /// circuit breaker; while open, calls fail at once without reaching the core.
    pub failure_threshold: u32,
    /// Seconds the breaker stays open before one trial call may close it again.
    pub open_seconds: u64,
}

impl Default for HttpCoreConfig {
    fn default() -> Self {
        HttpCoreConfig {
            base_url: "http://127.0.0.1:9100".into(),
            connect_timeout_ms: 1_000,
            request_timeout_ms: 5_000,
            read_retries: 2,
            ca_cert: PathBuf::new(),
            client_cert: PathBuf::new(),
            client_key: PathBuf::new(),
            failure_threshold: 5,
            open_seconds: 30,
        }
    }
}

impl HttpCoreConfig {
    /// The most `read_retries` allowed: retries multiply the latency a TPP sees.
    pub const MAX_READ_RETRIES: u32 = 5;

    fn validate(&self) -> Result<(), ConfigError> {
        let err = |msg: &str| Err(ConfigError(format!("core.http.{msg}")));
        let https = match reqwest::Url::parse(&self.base_url) {
            Ok(url) if url.host_str().is_some() && url.scheme() == "https" => true,
            Ok(url) if url.host_str().is_some() && url.scheme() == "http" => false,
            _ => return err("base_url must be an http:// or https:// URL"),
        };
        if self.connect_timeout_ms == 0 || self.request_timeout_ms == 0 {
            return err("connect_timeout_ms and request_timeout_ms must be positive");
        }
        if self.read_retries > Self::MAX_READ_RETRIES {
            return err("read_retries must be at most 5");
        }
        if self.failure_threshold == 0 || self.open_seconds == 0 {
            return err("failure_threshold and open_seconds must be at least 1");
        }
        let (cert, key) = (
            self.client_cert.as_os_str().is_empty(),
            self.client_key.as_os_str().is_empty(),
        );
        if cert != key {
            return err("client_cert and client_key must be set together");
        }
        let tls_material = !cert || !self.ca_cert.as_os_str().is_empty();
        if tls_material && !https {
            return err("ca_cert and client_cert need an https:// base_url");
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// The 8-digit bank code in this instance's IBANs (`DEkk` + bank code + account).
    #[serde(deserialize_with = "bank_code")]
    pub bank_code: String,
    /// Seed the demo PSUs, accounts and history on first start.
    pub seed: bool,
    /// Days of transaction history the seed generates.
    pub history_days: u32,
    /// Register (and keep bound) the `demo-tpp` client to `demo_client_cert`.
    pub demo_client: bool,
    /// The demo TPP's certificate (PEM).
    pub demo_client_cert: PathBuf,
    /// The demo TPP's registered redirect URI.
    pub demo_redirect_uri: String,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            bank_code: "99912345".into(),
            seed: true,
            history_days: 180,
            demo_client: true,
            demo_client_cert: "certs/demo-tpp.pem".into(),
            demo_redirect_uri: "http://127.0.0.1:9090/callback".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `/metrics` to non-loopback callers too.
    pub allow_remote: bool,
}

/// A token-bucket quota: a sustained rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaConfig {
    pub per_second: u32,
    pub burst: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitsConfig {
    /// `/v1`, `/v2` and other TPP API calls on the mTLS listener, per TPP client.
    pub tpp_api: QuotaConfig,
    /// `/oauth/*` on the mTLS listener, per TPP client.
    pub oauth: QuotaConfig,
    /// Everything on the public listener, per source IP.
    pub public: QuotaConfig,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        RateLimitsConfig {
            tpp_api: QuotaConfig {
                per_second: 100,
                burst: 200,
            },
            oauth: QuotaConfig {
                per_second: 20,
                burst: 40,
            },
            public: QuotaConfig {
                per_second: 20,
                burst: 60,
            },
        }
    }
}

/// Short environment names DESIGN.md promises, mapped to their keys.
const ENV_ALIASES: &[(&str, &str)] = &[
    ("public_addr", "server.public_addr"),
    ("mtls_addr", "server.mtls_addr"),
    ("database_url", "database.url"),
    ("log", "log.filter"),
    ("log_format", "log.format"),
    ("issuer", "oauth.issuer"),
    ("access_token_ttl", "oauth.access_token_ttl"),
];

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Loads defaults, then the TOML file (if given), then the environment:
    /// the aliases above, and `OBGW_SECTION__KEY` for any other key
    /// (e.g. `OBGW_SANDBOX__BANK_CODE`). Other `OBGW_*` variables are ignored.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!("{} does not exist", path.display())));
            }
            figment = figment.merge(Toml::file(path));
        }
        let env = Env::prefixed("OBGW_").filter_map(|key| {
            let key = key.as_str().to_ascii_lowercase();
            if let Some((_, target)) = ENV_ALIASES.iter().find(|(alias, _)| *alias == key) {
                Some((*target).to_owned().into())
            } else if key.contains("__") {
                Some(key.replace("__", ".").into())
            } else {
                None
            }
        });
        let config: Config = figment
            .merge(env)
            .extract()
            .map_err(|e| ConfigError(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bank_code = &self.sandbox.bank_code;
        if !is_bank_code(bank_code) {
            return Err(ConfigError("sandbox.bank_code must be 8 digits".into()));
        }
        for (name, q) in [
            ("tpp_api", self.rate_limits.tpp_api),
            ("oauth", self.rate_limits.oauth),
            ("public", self.rate_limits.public),
        ] {
            if q.per_second == 0 || q.burst == 0 {
                return Err(ConfigError(format!(
                    "rate_limits.{name}: per_second and burst must be at least 1"
                )));
            }
        }
        if self.oauth.access_token_ttl == 0 {
            return Err(ConfigError(
                "oauth.access_token_ttl must be positive".into(),
            ));
        }
        self.core.http.validate()?;
        match self.payments.max_amount.parse::<rust_decimal::Decimal>() {
            Ok(d) if d > rust_decimal::Decimal::ZERO => {}
            _ => {
                return Err(ConfigError(
                    "payments.max_amount must be a positive decimal string".into(),
                ));
            }
        }
        self.risk
            .validate()
            .map_err(|e| ConfigError(format!("risk.{} {}", e.key, e.problem)))?;
        if self.payments.claim_lease_seconds == 0
            || self.payments.poll_interval_ms == 0
            || self.payments.authorization_timeout == 0
        {
            return Err(ConfigError(
                "payments.claim_lease_seconds, poll_interval_ms and authorization_timeout must be positive"
                    .into(),
            ));
        }
        self.interbank
            .validate(bank_code, self.payments.claim_lease_seconds)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_documents_every_key_with_its_default() {
        let text = include_str!("../obgw.example.toml");
        let from_file: Config = toml::from_str(text).expect("example parses into Config");
        assert_eq!(
            from_file,
            Config::default(),
            "example values must be the defaults"
        );

        // Every key the struct has appears in the file, not merely defaulted.
        let file_value: toml::Value = toml::from_str(text).unwrap();
        let default_value = toml::Value::try_from(Config::default()).unwrap();
        assert_eq!(file_value, default_value, "example must list every key");
    }

    #[test]
    fn the_http_core_settings_are_checked() {
        let with = |f: fn(&mut HttpCoreConfig)| {
            let mut config = Config::default();
            f(&mut config.core.http);
            config.validate()
        };
        assert!(with(|_| {}).is_ok());
        assert!(with(|h| h.base_url = "https://core.bank.example/obgw".into()).is_ok());
        assert!(with(|h| h.base_url = "ftp://core".into()).is_err());
        assert!(with(|h| h.base_url = "core:9100".into()).is_err());
        assert!(with(|h| h.request_timeout_ms = 0).is_err());
        assert!(with(|h| h.read_retries = 6).is_err());
        assert!(with(|h| h.failure_threshold = 0).is_err());
        assert!(with(|h| h.client_cert = "c.pem".into()).is_err());
        assert!(
            with(|h| {
                h.client_cert = "c.pem".into();
                h.client_key = "c.key".into();
            })
            .is_err(),
            "mTLS over plain http"
        );
        assert!(
            with(|h| {
                h.base_url = "https://core:9100".into();
                h.client_cert = "c.pem".into();
                h.client_key = "c.key".into();
            })
            .is_ok()
        );
    }

    #[test]
    fn the_interbank_settings_are_checked() {
        let peer = |code: &str, url: &str| PeerBankConfig {
            bank_code: code.into(),
            base_url: url.into(),
        };
        let with = |f: &dyn Fn(&mut InterbankConfig)| {
            let mut config = Config::default();
            config.interbank.client_cert = "bank.pem".into();
            config.interbank.client_key = "bank.key".into();
            f(&mut config.interbank);
            config.validate()
        };
        assert!(Config::default().validate().is_ok());
        assert!(with(&|i| i.peers = vec![peer("99912346", "https://127.0.0.1:9444")]).is_ok());
        assert!(with(&|i| i.peers = vec![peer("9991234", "https://b")]).is_err());
        assert!(
            with(&|i| i.peers = vec![peer("99912345", "https://b")]).is_err(),
            "own code"
        );
        assert!(with(&|i| i.peers = vec![peer("99912346", "http://b")]).is_err());
        assert!(
            with(&|i| i.peers = vec![peer("99912346", "https://b"), peer("99912346", "https://c")])
                .is_err()
        );
        assert!(
            with(&|i| {
                i.peers = vec![peer("99912346", "https://b")];
                i.client_key = PathBuf::new();
            })
            .is_err()
        );
        assert!(
            with(&|i| {
                i.peers = vec![peer("99912346", "https://b")];
                i.client_cert = PathBuf::new();
                i.client_key = PathBuf::new();
            })
            .is_err()
        );
        assert!(
            with(&|i| {
                i.peers = vec![peer("99912346", "https://b")];
                i.request_timeout_ms = 30_000;
            })
            .is_err(),
            "outlives the lease"
        );
        assert!(
            with(&|i| i.request_timeout_ms = 30_000).is_ok(),
            "no peer is ever called"
        );
    }

    #[test]
    fn a_bank_code_given_as_a_number_keeps_its_eight_digits() {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(
                "[sandbox]\nbank_code = 1234567\n[interbank]\npeers = [{ bank_code = 99912346, base_url = \"https://b\" }]",
            ))
            .extract()
            .unwrap();
        assert_eq!(config.sandbox.bank_code, "01234567");
        assert_eq!(config.interbank.peers[0].bank_code, "99912346");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Config>("[server]\npublic_adr = \"x\"").is_err());
    }
}
