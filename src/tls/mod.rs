//! TLS for both listeners: rustls server configurations, client-certificate
//! verification against the TPP CA bundle, and the verified certificate's identity.
//!
//! Invariant: a request on the mTLS listener only reaches a handler if its TLS
//! handshake presented a client certificate that chains to a configured CA, is
//! within its validity period and allows client authentication; verification
//! happens in rustls (webpki), never in handlers. Handlers read the result as a
//! [`ClientCertificate`] from the connection data.

pub mod devcerts;

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("invalid TLS configuration: {0}")]
    Config(String),
}

/// The crypto provider every rustls object in this process uses (ring). Installed
/// once at start; harmless to call again.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read_err = |reason: String| TlsError::Read {
        path: path.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| read_err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read_err(e.to_string()))?;
    if certs.is_empty() {
        return Err(read_err("no certificate in file".into()));
    }
    Ok(certs)
}

pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// The public listener: server authentication only.
pub fn public_server_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, TlsError> {
    rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(load_certs(cert)?, load_key(key)?)
        .map_err(|e| TlsError::Config(e.to_string()))
}

/// The mTLS listener: a client certificate chaining to `client_ca` is mandatory.
/// Anonymous clients, unknown issuers and expired certificates fail the handshake.
pub fn mtls_server_config(
    cert: &Path,
    key: &Path,
    client_ca: &Path,
) -> Result<rustls::ServerConfig, TlsError> {
    let mut roots = RootCertStore::empty();
    for ca in load_certs(client_ca)? {
        roots
            .add(ca)
            .map_err(|e| TlsError::Config(format!("client CA bundle: {e}")))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(load_certs(cert)?, load_key(key)?)
        .map_err(|e| TlsError::Config(e.to_string()))
}

/// The SHA-256 thumbprint of a DER certificate, base64url without padding: the
/// `x5t#S256` value of RFC 8705 §3.1.
pub fn thumbprint(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

/// The client certificate a TLS handshake verified, as handlers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// `x5t#S256`: base64url SHA-256 of the DER certificate.
    pub thumbprint: String,
    /// The subject distinguished name, for display and logs.
    pub subject: String,
}

impl ClientCertificate {
    pub fn from_der(der: &[u8]) -> ClientCertificate {
        let subject = x509_parser::parse_x509_certificate(der)
            .map(|(_, cert)| cert.subject().to_string())
            .unwrap_or_default();
        ClientCertificate {
            thumbprint: thumbprint(der),
            subject,
        }
    }

    /// Reads a PEM certificate file (the first certificate in it), as bank IT
    /// passes it to `obgw clients add --cert`.
    pub fn from_pem_file(path: &Path) -> Result<ClientCertificate, TlsError> {
        let certs = load_certs(path)?;
        Ok(ClientCertificate::from_der(certs[0].as_ref()))
    }
}

/// actix `on_connect` hook: records the verified client certificate of a TLS
/// connection in the connection's extensions.
pub fn record_client_certificate(conn: &dyn std::any::Any, ext: &mut actix_web::dev::Extensions) {
    type Stream = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
    if let Some(tls) = conn.downcast_ref::<Stream>() {
        let (_, session) = tls.get_ref();
        if let Some(leaf) = session.peer_certificates().and_then(|c| c.first()) {
            ext.insert(ClientCertificate::from_der(leaf.as_ref()));
        }
    }
}
