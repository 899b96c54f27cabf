//! The paying bank's side of the hop: which creditor IBANs belong to a peer bank
//! (by their German bank code), and `POST /interbank/v1/credits` to that peer over
//! mTLS with this bank's certificate.
//!
//! The call is safe to repeat: the peer deduplicates on (this bank, payment id)
//! and answers a replay with its first answer. So anything but a definite answer
//! (a timeout, a connection failure, a 5xx, an answer this side does not
//! understand) is [`HopError`], and the forwarding worker simply asks again later.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde::Deserialize;

use super::model::Credit;
use crate::config::InterbankConfig;
use crate::domain::Iban;

/// A peer bank this gateway sends credits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub bank_code: String,
    credits_url: Url,
}

/// A definite answer from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerAnswer {
    /// 201 `ACSC`: the creditor's account is credited.
    Credited { credit_id: String },
    /// 422 `RJCT`: refused for good, with the peer's ISO 20022 reason code.
    Refused { reason: String },
}

/// No definite answer: the credit may or may not have been booked; ask again.
#[derive(Debug, thiserror::Error)]
pub enum HopError {
    #[error("peer bank {bank_code} did not answer: {detail}")]
    Unreachable { bank_code: String, detail: String },
    #[error("peer bank {bank_code} answered {status} ({code})")]
    Unexpected {
        bank_code: String,
        status: u16,
        code: String,
    },
}

/// The interbank settings cannot be used (start-up error).
#[derive(Debug, thiserror::Error)]
pub enum PeerSetupError {
    #[error("interbank: cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("interbank: {0}")]
    Tls(String),
}

/// The configured peers and the mTLS client that reaches them.
#[derive(Debug, Clone)]
pub struct PeerBanks {
    http: reqwest::Client,
    peers: Arc<Vec<Peer>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerBody {
    status: Option<String>,
    credit_id: Option<String>,
    reason: Option<String>,
    #[serde(default)]
    tpp_messages: Vec<MessageBody>,
}

#[derive(Deserialize)]
struct MessageBody {
    code: String,
}

impl PeerBanks {
    /// The peers of `config`, or `None` when there are none. `default_ca` (the
    /// TPP CA bundle) verifies peers' server certificates unless `ca_cert` is set.
    pub fn from_config(
        config: &InterbankConfig,
        default_ca: &Path,
    ) -> Result<Option<PeerBanks>, PeerSetupError> {
        if config.peers.is_empty() {
            return Ok(None);
        }
        let ca = if config.ca_cert.as_os_str().is_empty() {
            default_ca
        } else {
            &config.ca_cert
        };
        let roots = reqwest::Certificate::from_pem_bundle(&read(ca)?)
            .map_err(|e| PeerSetupError::Tls(format!("CA bundle {}: {e}", ca.display())))?;
        if roots.is_empty() {
            return Err(PeerSetupError::Tls(format!(
                "{} holds no certificate",
                ca.display()
            )));
        }
        let mut pem = read(&config.client_cert)?;
        pem.push(b'\n');
        pem.extend(read(&config.client_key)?);
        let identity = reqwest::Identity::from_pem(&pem)
            .map_err(|e| PeerSetupError::Tls(format!("client_cert/client_key: {e}")))?;
        // Peers are banks under the configured CA only, never the public roots.
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .identity(identity)
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .timeout(Duration::from_millis(config.request_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("obgw/", env!("CARGO_PKG_VERSION")));
        for root in roots {
            builder = builder.add_root_certificate(root);
        }
        let http = builder
            .build()
            .map_err(|e| PeerSetupError::Tls(e.to_string()))?;
        let peers = config
            .peers
            .iter()
            .map(|p| {
                let base = p.base_url.trim_end_matches('/');
                Url::parse(&format!("{base}/interbank/v1/credits"))
                    .map(|credits_url| Peer {
                        bank_code: p.bank_code.clone(),
                        credits_url,
                    })
                    .map_err(|e| PeerSetupError::Tls(format!("base_url {base}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(PeerBanks {
            http,
            peers: Arc::new(peers),
        }))
    }

    /// The peer holding `creditor`, by the IBAN's German bank code.
    pub fn peer_for(&self, creditor: &Iban) -> Option<&Peer> {
        let code = creditor.german_bank_code()?;
        self.peers.iter().find(|p| p.bank_code == code)
    }

    /// Sends the credit; safe to repeat with the same payment id.
    #[tracing::instrument(skip_all, fields(payment.id = %credit.payment_id, interbank.peer = %peer.bank_code))]
    pub async fn send_credit(&self, peer: &Peer, credit: &Credit) -> Result<PeerAnswer, HopError> {
        let unreachable = |e: reqwest::Error| HopError::Unreachable {
            bank_code: peer.bank_code.clone(),
            detail: describe(&e),
        };
        let res = self
            .http
            .post(peer.credits_url.clone())
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
            .json(&credit.to_json())
            .send()
            .await
            .map_err(unreachable)?;
        let status = res.status();
        let body: Option<AnswerBody> = res.json().await.ok();
        let unexpected = |code: Option<String>| HopError::Unexpected {
            bank_code: peer.bank_code.clone(),
            status: status.as_u16(),
            code: code.unwrap_or_else(|| "-".into()),
        };
        match (status, body) {
            (StatusCode::CREATED, Some(b)) if b.status.as_deref() == Some("ACSC") => {
                Ok(PeerAnswer::Credited {
                    credit_id: b.credit_id.unwrap_or_default(),
                })
            }
            (StatusCode::UNPROCESSABLE_ENTITY, Some(b)) if b.status.as_deref() == Some("RJCT") => {
                Ok(PeerAnswer::Refused {
                    reason: b.reason.unwrap_or_else(|| "MS03".into()),
                })
            }
            (_, body) => {
                Err(unexpected(body.and_then(|b| {
                    b.tpp_messages.into_iter().next().map(|m| m.code)
                })))
            }
        }
    }
}

/// The error and its causes on one line, without the URL.
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn read(path: &Path) -> Result<Vec<u8>, PeerSetupError> {
    std::fs::read(path).map_err(|source| PeerSetupError::Read {
        path: path.display().to_string(),
        source,
    })
}
