//! JWT access tokens (RFC 9068), certificate-bound (RFC 8705), signed ES256.
//!
//! Verification is strict and ordered so that nothing about a token is trusted
//! before its signature is: the header is parsed by hand first (the `alg`
//! allow-list is exactly ES256, `typ` must be `at+jwt`, the `kid` must name a key we
//! hold), then jsonwebtoken checks the signature, then this module checks time
//! against the injected [`Clock`] (jsonwebtoken would read the wall clock), issuer,
//! audience and the certificate binding.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::oauth::keys::{KeyError, KeyStore};
use crate::secret::ct_eq;

/// Tolerated clock skew, in seconds, on `exp`, `nbf` and `iat`.
const LEEWAY: i64 = 5;
/// RFC 9068 §2.1: the `typ` header of a JWT access token.
const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// Our tokens are a few hundred bytes; refusing huge ones bounds the work an
/// anonymous caller can make us do before the signature check.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    /// The PSU for user tokens, the client id for client-credentials tokens.
    pub sub: String,
    /// Always the issuer: the gateway is its own resource server.
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    pub cnf: Confirmation,
}

/// RFC 8705 §3.1: the certificate the token is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    #[serde(rename = "x5t#S256")]
    pub x5t_s256: String,
}

/// What a grant asks to put into a token.
#[derive(Debug, Clone, Copy)]
pub struct NewToken<'a> {
    pub subject: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub consent_id: Option<&'a str>,
    pub payment_id: Option<&'a str>,
    /// `x5t#S256` of the client certificate the token is issued over.
    pub thumbprint: &'a str,
    /// A `jti` the grant already recorded (for revocation), or `None` for a fresh
    /// random UUID.
    pub jti: Option<&'a str>,
}

/// A signed token and what it says. `Debug` leaves the token out: it is a bearer
/// credential (bound, but still never logged).
#[derive(Clone)]
pub struct IssuedToken {
    pub token: String,
    pub claims: AccessClaims,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"[redacted]")
            .field("claims", &self.claims)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("access token is malformed")]
    Malformed,
    #[error("access token algorithm is not allowed")]
    AlgorithmNotAllowed,
    #[error("access token type is not at+jwt")]
    WrongType,
    #[error("access token signing key is unknown")]
    UnknownKey,
    #[error("access token signature is invalid")]
    BadSignature,
    #[error("access token has expired")]
    Expired,
    #[error("access token is not yet valid")]
    NotYetValid,
    #[error("access token issuer is wrong")]
    WrongIssuer,
    #[error("access token audience is wrong")]
    WrongAudience,
    #[error("access token is bound to another certificate")]
    CertificateMismatch,
    #[error("signing the access token failed: {0}")]
    Signing(String),
    #[error(transparent)]
    Keys(#[from] KeyError),
}

impl TokenError {
    /// Whether the client should be told `TOKEN_EXPIRED` rather than `TOKEN_INVALID`.
    pub fn is_expired(&self) -> bool {
        matches!(self, TokenError::Expired)
    }
}

/// The header fields verification looks at, parsed by hand: jsonwebtoken's
/// `Header` cannot even represent `alg: none`, which must be refused as a
/// disallowed algorithm, not as noise.
#[derive(Deserialize)]
struct JoseHeader {
    alg: String,
    typ: Option<String>,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

fn parse_header(token: &str) -> Result<JoseHeader, TokenError> {
    let mut parts = token.split('.');
    let (Some(encoded), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let json = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| TokenError::Malformed)?;
    let header: JoseHeader = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    if header.alg != "ES256" {
        return Err(TokenError::AlgorithmNotAllowed);
    }
    // RFC 7515 §4.1.11: extensions we do not understand must not be ignored.
    if header.crit.is_some() {
        return Err(TokenError::Malformed);
    }
    // RFC 7515 §4.1.9: `typ` is a media type, compared case-insensitively, and
    // the `application/` prefix may be left out.
    let typ = header
        .typ
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if typ.strip_prefix("application/").unwrap_or(&typ) != ACCESS_TOKEN_TYPE {
        return Err(TokenError::WrongType);
    }
    Ok(header)
}

/// Issues and verifies the gateway's access tokens.
pub struct TokenService {
    keys: Arc<dyn KeyStore>,
    clock: Arc<dyn Clock>,
    issuer: String,
    ttl: std::time::Duration,
    validation: Validation,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("keys", &self.keys)
            .field("issuer", &self.issuer)
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl TokenService {
    pub fn new(
        keys: Arc<dyn KeyStore>,
        clock: Arc<dyn Clock>,
        issuer: String,
        ttl: std::time::Duration,
    ) -> TokenService {
        // jsonwebtoken checks only the signature; its claim checks read the wall
        // clock, so they are all off and `check_claims` does them with ours.
        let mut validation = Validation::new(Algorithm::ES256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation.leeway = 0;
        TokenService {
            keys,
            clock,
            issuer,
            ttl,
            validation,
        }
    }

    pub fn ttl(&self) -> std::time::Duration {
        self.ttl
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Signs a token for `t`, valid from now for the configured lifetime.
    pub async fn issue(&self, t: NewToken<'_>) -> Result<IssuedToken, TokenError> {
        let key = self.keys.signing_key().await?;
        let now = self.clock.now().unix_timestamp();
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: t.subject.to_owned(),
            aud: self.issuer.clone(),
            exp: now.saturating_add(ttl),
            iat: now,
            nbf: now,
            jti: t
                .jti
                .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned),
            client_id: t.client_id.to_owned(),
            scope: t.scope.to_owned(),
            consent_id: t.consent_id.map(str::to_owned),
            payment_id: t.payment_id.map(str::to_owned),
            cnf: Confirmation {
                x5t_s256: t.thumbprint.to_owned(),
            },
        };
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header.kid = Some(key.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding)
            .map_err(|e| TokenError::Signing(e.to_string()))?;
        Ok(IssuedToken { token, claims })
    }

    /// Checks `token` completely and that it is bound to the certificate whose
    /// `x5t#S256` is `presented_thumbprint`. Revocation is the caller's concern.
    pub async fn verify(
        &self,
        token: &str,
        presented_thumbprint: &str,
    ) -> Result<AccessClaims, TokenError> {
        let header = parse_header(token)?;
        let kid = header.kid.ok_or(TokenError::Malformed)?;
        let key = self
            .keys
            .decoding_key(&kid)
            .await?
            .ok_or(TokenError::UnknownKey)?;
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &key, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAlgorithm => TokenError::AlgorithmNotAllowed,
                ErrorKind::InvalidEcdsaKey => {
                    TokenError::Keys(KeyError::Crypto(format!("verification key for {kid}: {e}")))
                }
                _ => TokenError::Malformed,
            })?
            .claims;
        self.check_claims(&claims, presented_thumbprint)?;
        Ok(claims)
    }

    fn check_claims(&self, claims: &AccessClaims, thumbprint: &str) -> Result<(), TokenError> {
        let now = self.clock.now().unix_timestamp();
        if claims.exp <= now - LEEWAY {
            return Err(TokenError::Expired);
        }
        if claims.nbf > now + LEEWAY || claims.iat > now + LEEWAY {
            return Err(TokenError::NotYetValid);
        }
        if claims.iss != self.issuer {
            return Err(TokenError::WrongIssuer);
        }
        if claims.aud != self.issuer {
            return Err(TokenError::WrongAudience);
        }
        if !ct_eq(claims.cnf.x5t_s256.as_bytes(), thumbprint.as_bytes()) {
            return Err(TokenError::CertificateMismatch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::oauth::keys::tests::TempDb;
    use crate::oauth::keys::{DbKeyStore, MemoryKeyStore, rotate_blocking};
    use jsonwebtoken::EncodingKey;
    use jsonwebtoken::jwk::AlgorithmParameters;
    use serde_json::json;
    use time::macros::datetime;

    const ISSUER: &str = "https://gateway.example";
    const TTL: std::time::Duration = std::time::Duration::from_secs(300);
    const CERT: &str = "x5t-of-the-tpp-certificate";

    fn request() -> NewToken<'static> {
        NewToken {
            subject: "psu-1",
            client_id: "tpp-1",
            scope: "AIS:consent-1",
            consent_id: Some("consent-1"),
            payment_id: None,
            thumbprint: CERT,
            jti: None,
        }
    }

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(datetime!(2026-12-01 10:00 UTC)))
    }

    fn service() -> (TokenService, Arc<ManualClock>, Arc<MemoryKeyStore>) {
        let (clock, keys) = (clock(), Arc::new(MemoryKeyStore::generate().unwrap()));
        let tokens = TokenService::new(keys.clone(), clock.clone(), ISSUER.into(), TTL);
        (tokens, clock, keys)
    }

    fn kid_of(token: &str) -> String {
        jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Signs arbitrary claims with the store's real key under header `typ`.
    async fn sign(keys: &MemoryKeyStore, typ: &str, claims: &AccessClaims) -> String {
        let key = keys.signing_key().await.unwrap();
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(typ.into());
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
    }

    async fn jwks_kids(keys: &dyn KeyStore) -> Vec<String> {
        let jwks = keys.jwks().await.unwrap().keys;
        let mut kids: Vec<String> = jwks.into_iter().filter_map(|k| k.common.key_id).collect();
        kids.sort();
        kids
    }

    #[tokio::test]
    async fn an_issued_token_verifies_with_its_claims() {
        let (tokens, _, keys) = service();
        let issued = tokens.issue(request()).await.unwrap();
        let header = jsonwebtoken::decode_header(&issued.token).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some(keys.kid()));
        let claims = &issued.claims;
        assert_eq!((claims.iss.as_str(), claims.aud.as_str()), (ISSUER, ISSUER));
        assert_eq!(
            (claims.iat, claims.nbf),
            (claims.exp - 300, claims.exp - 300)
        );
        assert_eq!(claims.cnf.x5t_s256, CERT);
        assert!(uuid::Uuid::parse_str(&claims.jti).is_ok());
        assert_eq!(
            tokens.verify(&issued.token, CERT).await.unwrap(),
            issued.claims
        );
        assert!(!format!("{issued:?}").contains(&issued.token));
    }

    #[tokio::test]
    async fn a_token_without_a_signature_algorithm_is_refused() {
        let (tokens, _, keys) = service();
        let claims = tokens.issue(request()).await.unwrap().claims;
        let header = json!({"alg": "none", "typ": "at+jwt", "kid": keys.kid()});
        let body = serde_json::to_vec(&claims).unwrap();
        for signature in ["", "AAAA"] {
            let token = format!(
                "{}.{}.{signature}",
                b64(header.to_string().as_bytes()),
                b64(&body)
            );
            let err = tokens.verify(&token, CERT).await.unwrap_err();
            assert!(matches!(err, TokenError::AlgorithmNotAllowed), "{err:?}");
        }
    }

    #[tokio::test]
    async fn an_hmac_token_keyed_with_our_public_key_is_refused() {
        let (tokens, _, keys) = service();
        let claims = tokens.issue(request()).await.unwrap().claims;
        let jwks = keys.jwks().await.unwrap();
        let AlgorithmParameters::EllipticCurve(ec) = &jwks.keys[0].algorithm else {
            panic!("not an EC key")
        };
        let xy = [
            URL_SAFE_NO_PAD.decode(&ec.x).unwrap(),
            URL_SAFE_NO_PAD.decode(&ec.y).unwrap(),
        ]
        .concat();
        let sec1 = [vec![4u8], xy.clone()].concat();
        let jwk_json = serde_json::to_vec(&jwks.keys[0]).unwrap();
        for secret in [sec1, xy, jwk_json] {
            let mut header = Header::new(Algorithm::HS256);
            header.typ = Some("at+jwt".into());
            header.kid = Some(keys.kid().into());
            let key = EncodingKey::from_secret(&secret).unwrap();
            let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
            let err = tokens.verify(&token, CERT).await.unwrap_err();
            assert!(matches!(err, TokenError::AlgorithmNotAllowed), "{err:?}");
        }
    }

    #[tokio::test]
    async fn a_token_with_a_tampered_payload_is_refused() {
        let (tokens, _, _) = service();
        let issued = tokens.issue(request()).await.unwrap();
        let parts: Vec<&str> = issued.token.split('.').collect();
        let mut claims = issued.claims.clone();
        claims.scope = "AIS:someone-elses-consent".into();
        let payload = b64(&serde_json::to_vec(&claims).unwrap());
        let forged = format!("{}.{payload}.{}", parts[0], parts[2]);
        let err = tokens.verify(&forged, CERT).await.unwrap_err();
        assert!(matches!(err, TokenError::BadSignature), "{err:?}");
    }

    #[tokio::test]
    async fn a_token_signed_by_a_key_we_do_not_hold_is_refused() {
        let (tokens, clock, _) = service();
        let stranger = Arc::new(MemoryKeyStore::generate().unwrap());
        let theirs = TokenService::new(stranger, clock, ISSUER.into(), TTL);
        let token = theirs.issue(request()).await.unwrap().token;
        let err = tokens.verify(&token, CERT).await.unwrap_err();
        assert!(matches!(err, TokenError::UnknownKey), "{err:?}");
    }

    #[tokio::test]
    async fn malformed_headers_and_shapes_are_refused() {
        let (tokens, _, keys) = service();
        let claims = tokens.issue(request()).await.unwrap().claims;
        let mut missing_kid = Header::new(Algorithm::ES256);
        missing_kid.typ = Some("at+jwt".into());
        let key = keys.signing_key().await.unwrap();
        let no_kid = jsonwebtoken::encode(&missing_kid, &claims, &key.encoding).unwrap();
        for token in ["", "abc", "a.b", "a.b.c.d", "!!.e30.sig", no_kid.as_str()] {
            let err = tokens.verify(token, CERT).await.unwrap_err();
            assert!(matches!(err, TokenError::Malformed), "{token}: {err:?}");
        }
        let err = tokens
            .verify(&sign(&keys, "JWT", &claims).await, CERT)
            .await
            .unwrap_err();
        assert!(matches!(err, TokenError::WrongType), "{err:?}");
        for typ in ["at+jwt", "AT+JWT", "application/at+jwt"] {
            assert!(
                tokens
                    .verify(&sign(&keys, typ, &claims).await, CERT)
                    .await
                    .is_ok(),
                "{typ}"
            );
        }
    }

    #[tokio::test]
    async fn a_token_expires_after_its_lifetime_plus_five_seconds_of_leeway() {
        let (tokens, clock, _) = service();
        let token = tokens.issue(request()).await.unwrap().token;
        clock.advance(time::Duration::seconds(304));
        assert!(tokens.verify(&token, CERT).await.is_ok());
        clock.advance(time::Duration::seconds(1));
        let err = tokens.verify(&token, CERT).await.unwrap_err();
        assert!(err.is_expired(), "{err:?}");
    }

    #[tokio::test]
    async fn a_token_from_the_future_is_not_yet_valid() {
        let (tokens, clock, _) = service();
        let token = tokens.issue(request()).await.unwrap().token;
        clock.advance(time::Duration::seconds(-5));
        assert!(tokens.verify(&token, CERT).await.is_ok());
        clock.advance(time::Duration::seconds(-1));
        let err = tokens.verify(&token, CERT).await.unwrap_err();
        assert!(
            matches!(err, TokenError::NotYetValid) && !err.is_expired(),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_token_for_another_issuer_or_audience_is_refused() {
        let (tokens, _, keys) = service();
        let claims = tokens.issue(request()).await.unwrap().claims;
        let other_iss = AccessClaims {
            iss: "https://evil.example".into(),
            ..claims.clone()
        };
        let other_aud = AccessClaims {
            aud: "https://other-rs.example".into(),
            ..claims
        };
        let err = tokens
            .verify(&sign(&keys, "at+jwt", &other_iss).await, CERT)
            .await;
        assert!(matches!(err, Err(TokenError::WrongIssuer)), "{err:?}");
        let err = tokens
            .verify(&sign(&keys, "at+jwt", &other_aud).await, CERT)
            .await;
        assert!(matches!(err, Err(TokenError::WrongAudience)), "{err:?}");
    }

    #[tokio::test]
    async fn a_token_presented_with_another_certificate_is_refused() {
        let (tokens, _, _) = service();
        let token = tokens.issue(request()).await.unwrap().token;
        let err = tokens.verify(&token, "x5t-of-another-certificate").await;
        assert!(
            matches!(err, Err(TokenError::CertificateMismatch)),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn tokens_signed_before_a_rotation_verify_until_the_old_key_ages_out() {
        let (db, clock) = (TempDb::new(), clock());
        let keys = Arc::new(DbKeyStore::new(db.store.clone(), clock.clone(), TTL));
        keys.ensure_key_blocking().unwrap();
        let tokens = TokenService::new(keys.clone(), clock.clone(), ISSUER.into(), TTL);
        let old = tokens.issue(request()).await.unwrap();
        let old_kid = kid_of(&old.token);

        let new_kid = rotate_blocking(&db.store, clock.now()).unwrap();
        assert_eq!(tokens.verify(&old.token, CERT).await.unwrap(), old.claims);

        // The rotation was another process's; this one reloads every 30 s.
        clock.advance(time::Duration::seconds(31));
        let new = tokens.issue(request()).await.unwrap();
        assert_eq!(kid_of(&new.token), new_kid);
        let mut both = vec![new_kid.clone(), old_kid];
        both.sort();
        assert_eq!(jwks_kids(keys.as_ref()).await, both);
        assert!(tokens.verify(&old.token, CERT).await.is_ok());

        // Past ttl + 60 s since the rotation, nothing the old key signed is valid.
        clock.advance(time::Duration::seconds(300 + 60));
        assert_eq!(jwks_kids(keys.as_ref()).await, [new_kid]);
        let err = tokens.verify(&old.token, CERT).await;
        assert!(matches!(err, Err(TokenError::UnknownKey)), "{err:?}");
    }

    #[tokio::test]
    async fn a_key_from_another_replica_is_looked_up_at_most_every_five_seconds() {
        let (db, clock) = (TempDb::new(), clock());
        let here = Arc::new(DbKeyStore::new(db.store.clone(), clock.clone(), TTL));
        here.ensure_key_blocking().unwrap();
        let verifier = TokenService::new(here, clock.clone(), ISSUER.into(), TTL);
        rotate_blocking(&db.store, clock.now()).unwrap();
        let there = Arc::new(DbKeyStore::new(db.store.clone(), clock.clone(), TTL));
        there.ensure_key_blocking().unwrap();
        let issuer = TokenService::new(there, clock.clone(), ISSUER.into(), TTL);
        let token = issuer.issue(request()).await.unwrap().token;

        let err = verifier.verify(&token, CERT).await;
        assert!(matches!(err, Err(TokenError::UnknownKey)), "{err:?}");
        clock.advance(time::Duration::seconds(5));
        assert!(verifier.verify(&token, CERT).await.is_ok());
    }
}
