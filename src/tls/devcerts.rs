//! Development certificates for the sandbox (`obgw certs`): a dev CA, a server
//! certificate for `localhost`/`127.0.0.1`, and the demo TPP's client certificate.
//! Never for production: the CA key is committed so anyone can mint TPP certificates.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

#[derive(Debug, thiserror::Error)]
pub enum DevCertError {
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("cannot write {0}: {1}")]
    Io(String, std::io::Error),
}

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct PemPair {
    pub cert_pem: String,
    pub key_pem: String,
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "obgw sandbox (development only)");
    dn.push(DnType::CommonName, common_name);
    dn
}

fn validity(params: &mut CertificateParams, now: OffsetDateTime, days: i64) {
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(days);
}

/// A new self-signed CA, valid for ten years.
pub fn generate_ca(now: OffsetDateTime) -> Result<PemPair, DevCertError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = dn("obgw dev CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    validity(&mut params, now, 3650);
    let key = KeyPair::generate()?;
    let ca = CertifiedIssuer::self_signed(params, key)?;
    Ok(PemPair {
        cert_pem: ca.pem(),
        key_pem: ca.key().serialize_pem(),
    })
}

/// Which side of TLS a leaf certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafKind {
    Server,
    Client,
}

/// A leaf certificate signed by the CA in `ca`, valid from `not_before` to
/// `not_after` (tests mint expired ones this way).
pub fn generate_leaf(
    ca: &PemPair,
    kind: LeafKind,
    common_name: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<PemPair, DevCertError> {
    let ca_key = KeyPair::from_pem(&ca.key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, ca_key)?;
    let mut params = match kind {
        LeafKind::Server => {
            let mut p = CertificateParams::new(vec!["localhost".to_owned()])?;
            p.subject_alt_names
                .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            p
        }
        LeafKind::Client => {
            let mut p = CertificateParams::new(Vec::<String>::new())?;
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            p
        }
    };
    params.distinguished_name = dn(common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.not_before = not_before;
    params.not_after = not_after;
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    Ok(PemPair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Regenerates every file in `dir`: `ca.pem`/`ca.key`, `server.pem`/`server.key`,
/// `demo-tpp.pem`/`demo-tpp.key`. Leaves are valid for ten years.
pub fn write_dev_certs(dir: &Path, now: OffsetDateTime) -> Result<(), DevCertError> {
    let ca = generate_ca(now)?;
    let ten_years = now + Duration::days(3650);
    let server = generate_leaf(
        &ca,
        LeafKind::Server,
        "localhost",
        now - Duration::days(1),
        ten_years,
    )?;
    let demo = generate_leaf(
        &ca,
        LeafKind::Client,
        "demo-tpp",
        now - Duration::days(1),
        ten_years,
    )?;
    std::fs::create_dir_all(dir).map_err(|e| DevCertError::Io(dir.display().to_string(), e))?;
    for (name, contents) in [
        ("ca.pem", &ca.cert_pem),
        ("ca.key", &ca.key_pem),
        ("server.pem", &server.cert_pem),
        ("server.key", &server.key_pem),
        ("demo-tpp.pem", &demo.cert_pem),
        ("demo-tpp.key", &demo.key_pem),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, contents)
            .map_err(|e| DevCertError::Io(path.display().to_string(), e))?;
    }
    Ok(())
}
