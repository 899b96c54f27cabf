//! The transport under [`super::HttpCore`]: one reqwest client (timeouts, TLS,
//! optional mTLS), the circuit breaker around every call, bounded retries for
//! idempotent reads, and the mapping of transport outcomes to [`CoreError`].
//!
//! Error texts name the route template (`GET /accounts/by-iban/{iban}`), never the
//! URL, because URLs carry IBANs and account ids.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use super::breaker::{BreakerState, CircuitBreaker};
use super::protocol::ErrorBody;
use crate::clock::Clock;
use crate::config::HttpCoreConfig;
use crate::core::CoreError;

/// Why the adapter could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum HttpCoreError {
    #[error("core.http.base_url {0:?} is not an http(s) URL")]
    BaseUrl(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("core.http TLS material: {0}")]
    Tls(String),
}

/// Whether a failed call may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Retry {
    /// An idempotent read: retried after a connection failure or a 502/503/504.
    Read,
    /// Anything with an effect, or whose timing matters: never retried.
    Never,
}

/// One call: a method, its route template for logs and errors, the path
/// segments (percent-encoded here, so an id can never change the path), an
/// optional query string and JSON body.
pub(super) struct Call {
    pub method: Method,
    pub route: &'static str,
    pub segments: Vec<String>,
    pub query: Option<String>,
    pub body: Option<serde_json::Value>,
    pub retry: Retry,
}

impl Call {
    pub fn new(method: Method, route: &'static str, segments: &[&str]) -> Self {
        Call {
            method,
            route,
            segments: segments.iter().map(|s| (*s).to_owned()).collect(),
            query: None,
            body: None,
            retry: Retry::Never,
        }
    }

    /// An idempotent read, retried after transient failures.
    pub fn read(route: &'static str, segments: &[&str]) -> Self {
        Call {
            retry: Retry::Read,
            ..Call::new(Method::GET, route, segments)
        }
    }

    pub fn query(mut self, query: &impl serde::Serialize) -> Result<Self, CoreError> {
        let q = serde_urlencoded::to_string(query)
            .map_err(|e| CoreError::Protocol(format!("{}: query: {e}", self.route)))?;
        self.query = Some(q);
        Ok(self)
    }

    pub fn body(mut self, body: &impl serde::Serialize) -> Result<Self, CoreError> {
        let v = serde_json::to_value(body)
            .map_err(|e| CoreError::Protocol(format!("{}: body: {e}", self.route)))?;
        self.body = Some(v);
        Ok(self)
    }

    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }
}

/// A response the core gave: its status and body.
pub(super) struct Reply {
    pub route: &'static str,
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body of a 2xx as `T`; any other status is a protocol error.
    pub fn json<T: DeserializeOwned>(self) -> Result<T, CoreError> {
        if !self.status.is_success() {
            return Err(self.unexpected());
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            CoreError::Protocol(format!("{}: unreadable response body: {e}", self.route))
        })
    }

    /// Like [`Reply::json`], with 404 meaning "no such thing".
    pub fn json_or_none<T: DeserializeOwned>(self) -> Result<Option<T>, CoreError> {
        if self.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        self.json().map(Some)
    }

    /// A status the protocol does not give this call, as a protocol error.
    pub fn unexpected(&self) -> CoreError {
        CoreError::Protocol(self.describe())
    }

    /// The route, status and the core's error code. The code is kept (it is
    /// the core's own vocabulary); the message is not, as it may quote request
    /// data.
    pub fn describe(&self) -> String {
        let code = serde_json::from_slice::<ErrorBody>(&self.body)
            .map(|b| b.error)
            .unwrap_or_else(|_| "-".into());
        let status = self.status.as_u16();
        format!(
            "{}: unexpected status {status} (error {code:?})",
            self.route
        )
    }
}

pub(super) struct CoreClient {
    http: reqwest::Client,
    base: Url,
    breaker: CircuitBreaker,
    read_retries: u32,
}

impl CoreClient {
    pub fn new(config: &HttpCoreConfig, clock: Arc<dyn Clock>) -> Result<Self, HttpCoreError> {
        let base = Url::parse(&config.base_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base())
            .ok_or_else(|| HttpCoreError::BaseUrl(config.base_url.clone()))?;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .timeout(Duration::from_millis(config.request_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("obgw/", env!("CARGO_PKG_VERSION")));
        if !config.ca_cert.as_os_str().is_empty() {
            let pem = read(&config.ca_cert)?;
            let roots = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| HttpCoreError::Tls(format!("ca_cert: {e}")))?;
            if roots.is_empty() {
                return Err(HttpCoreError::Tls("ca_cert holds no certificate".into()));
            }
            // A private core CA replaces the public roots: nobody else may pose
            // as the core.
            builder = builder.tls_built_in_root_certs(false);
            for root in roots {
                builder = builder.add_root_certificate(root);
            }
        }
        if !config.client_cert.as_os_str().is_empty() {
            let mut pem = read(&config.client_cert)?;
            pem.push(b'\n');
            pem.extend(read(&config.client_key)?);
            let identity = reqwest::Identity::from_pem(&pem)
                .map_err(|e| HttpCoreError::Tls(format!("client_cert/client_key: {e}")))?;
            builder = builder.identity(identity);
        }
        let http = builder
            .build()
            .map_err(|e| HttpCoreError::Tls(e.to_string()))?;
        let open_for = time::Duration::seconds(i64::try_from(config.open_seconds).unwrap_or(60));
        Ok(CoreClient {
            http,
            base,
            breaker: CircuitBreaker::new(config.failure_threshold, open_for, clock),
            read_retries: config.read_retries,
        })
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    fn url(&self, call: &Call) -> Result<Url, CoreError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| CoreError::Protocol("base URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(&call.segments);
        if let Some(query) = &call.query {
            url.set_query(Some(query));
        }
        Ok(url)
    }

    /// Sends a call through the breaker, retrying reads a bounded number of
    /// times with a short backoff. Any answer below 500 is returned to the
    /// caller to interpret; 5xx, timeouts and connection failures are
    /// [`CoreError::Unavailable`].
    pub async fn send(&self, call: Call) -> Result<Reply, CoreError> {
        let url = self.url(&call)?;
        let route = call.route;
        let mut attempt = 0;
        loop {
            let Some(permit) = self.breaker.try_acquire() else {
                return Err(CoreError::Unavailable(format!(
                    "{route}: circuit open, core not called"
                )));
            };
            let mut req = self.http.request(call.method.clone(), url.clone());
            if let Some(body) = &call.body {
                req = req.json(body);
            }
            let (error, transient) = match exchange(req).await {
                Ok((status, body)) if !status.is_server_error() => {
                    permit.success();
                    tracing::debug!(
                        core.route = route,
                        core.status = status.as_u16(),
                        "core answered"
                    );
                    return Ok(Reply {
                        route,
                        status,
                        body,
                    });
                }
                Ok((status, _)) => {
                    permit.failure();
                    let transient = matches!(status.as_u16(), 502..=504);
                    (
                        format!("{route}: core answered {}", status.as_u16()),
                        transient,
                    )
                }
                Err(e) => {
                    permit.failure();
                    // A refused or reset connection is worth another try; a
                    // timeout (connecting or reading) is not: the core is slow
                    // or unreachable, and asking again multiplies the wait.
                    let transient = e.is_connect() && !e.is_timeout();
                    (format!("{route}: {}", describe(&e)), transient)
                }
            };
            if call.retry == Retry::Read && transient && attempt < self.read_retries {
                tracing::debug!(
                    core.route = route,
                    core.attempt = attempt,
                    error.cause = %error,
                    "retrying core read"
                );
                tokio::time::sleep(Duration::from_millis(50 << attempt.min(4))).await;
                attempt += 1;
                continue;
            }
            return Err(CoreError::Unavailable(error));
        }
    }
}

async fn exchange(req: reqwest::RequestBuilder) -> Result<(StatusCode, Vec<u8>), reqwest::Error> {
    let res = req.send().await?;
    let status = res.status();
    Ok((status, res.bytes().await?.to_vec()))
}

/// The error and its causes, without the URL.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "transport error"
    };
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause = cause.to_string();
        if !text.ends_with(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        source = source.and_then(std::error::Error::source);
    }
    text
}

fn read(path: &Path) -> Result<Vec<u8>, HttpCoreError> {
    std::fs::read(path).map_err(|source| HttpCoreError::Read {
        path: path.display().to_string(),
        source,
    })
}
