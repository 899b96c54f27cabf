//! Access-token signing keys: ES256 (P-256) key pairs kept in `signing_keys`,
//! named by `kid`, rotated without breaking tokens already issued.
//!
//! Lifecycle: the newest key with `retired_at IS NULL` signs. [`rotate_blocking`]
//! retires every active key and inserts a new one in one transaction. A retired key
//! keeps verifying (and stays in the JWKS) for `token_ttl + 60 s` after retirement,
//! so every token it signed expires before it disappears; afterwards its kid is
//! unknown.
//!
//! A `kid` is the RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key:
//! unique per key without coordination and checkable by any client from the JWKS.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use diesel::prelude::*;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::clock::Clock;
use crate::store::schema::signing_keys::dsl as sk;
use crate::store::{DbConn, Store, StoreError, from_db_time, to_db_time};

/// The only algorithm stored or accepted, as written in the `alg` column.
const ALG: &str = "ES256";
/// How long past the token lifetime a retired key still verifies. It must exceed
/// [`ACTIVE_REFRESH`] plus the verifier's leeway: a replica that has not yet seen a
/// rotation keeps signing with the old key for up to that long.
const RETIREMENT_GRACE: time::Duration = time::Duration::seconds(60);
/// How often the cache is reloaded anyway, to pick up rotations by other processes.
const ACTIVE_REFRESH: time::Duration = time::Duration::seconds(30);
/// The least time between reloads caused by an unknown kid, so forged kids cannot
/// turn every request into a database query.
const UNKNOWN_KID_REFRESH: time::Duration = time::Duration::seconds(5);

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing key cryptography failed: {0}")]
    Crypto(String),
    #[error("stored signing key {kid} is unusable: {reason}")]
    Corrupt { kid: String, reason: String },
    #[error("no active signing key")]
    NoActiveKey,
}

impl From<diesel::result::Error> for KeyError {
    fn from(e: diesel::result::Error) -> Self {
        KeyError::Store(StoreError::Query(e))
    }
}

/// Where access tokens get their signing key and verifiers their public keys.
#[async_trait]
pub trait KeyStore: Send + Sync + std::fmt::Debug + 'static {
    /// The key new tokens are signed with: the newest active one.
    async fn signing_key(&self) -> Result<Arc<SigningKey>, KeyError>;
    /// The key for `kid` if it may still verify tokens; `None` for unknown kids and
    /// for keys retired longer ago than any token they signed can live.
    async fn decoding_key(&self, kid: &str) -> Result<Option<Arc<DecodingKey>>, KeyError>;
    /// The public JWKs of every key that may still verify, for `/oauth/jwks`.
    async fn jwks(&self) -> Result<JwkSet, KeyError>;
}

/// A private key ready to sign. `Debug` prints only the kid.
pub struct SigningKey {
    pub kid: String,
    pub encoding: EncodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("encoding", &"[redacted]")
            .finish()
    }
}

/// One key parsed once, with its lifecycle. Cloning shares the parsed parts.
#[derive(Clone)]
struct KeyEntry {
    signing: Arc<SigningKey>,
    decoding: Arc<DecodingKey>,
    jwk: Jwk,
    retired_at: Option<OffsetDateTime>,
}

impl KeyEntry {
    fn kid(&self) -> &str {
        &self.signing.kid
    }

    /// Whether tokens signed by this key may still be valid at `now`.
    fn verifies_at(&self, now: OffsetDateTime, window: time::Duration) -> bool {
        self.retired_at
            .is_none_or(|retired| retired.checked_add(window).is_none_or(|end| now < end))
    }
}

/// `(kid, alg, private_key_der, public_key, created_at, retired_at)`; a tuple because
/// `as_returning`/`as_select` structs do not compile on the multi-connection.
type KeyRow = (
    String,
    String,
    String,
    String,
    PrimitiveDateTime,
    Option<PrimitiveDateTime>,
);

/// A fresh key pair in its stored form.
struct NewKey {
    kid: String,
    pkcs8: Vec<u8>,
    public: Vec<u8>,
}

fn generate() -> Result<NewKey, KeyError> {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| KeyError::Crypto(e.to_string()))?;
    let public = pair.public_key_raw().to_vec();
    let kid = public_jwk(&public)?
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|e| KeyError::Crypto(e.to_string()))?;
    Ok(NewKey {
        kid,
        pkcs8: pair.serialize_der(),
        public,
    })
}

/// The public JWK of an uncompressed SEC1 P-256 point (`04 || x || y`), without kid.
fn public_jwk(point: &[u8]) -> Result<Jwk, KeyError> {
    let coordinates = match point.split_first() {
        Some((0x04, rest)) if rest.len() == 64 => rest,
        _ => return Err(KeyError::Crypto("not an uncompressed P-256 point".into())),
    };
    let (x, y) = coordinates.split_at(32);
    Ok(Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(KeyAlgorithm::ES256),
            ..CommonParameters::default()
        },
        algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
            key_type: EllipticCurveKeyType::EC,
            curve: EllipticCurve::P256,
            x: URL_SAFE_NO_PAD.encode(x),
            y: URL_SAFE_NO_PAD.encode(y),
        }),
    })
}

/// Parses a key pair once and checks that its halves belong together, so a corrupt
/// row fails here rather than as "bad signature" on every token.
fn parse_key(
    kid: String,
    pkcs8: &[u8],
    public: &[u8],
    retired_at: Option<OffsetDateTime>,
) -> Result<KeyEntry, KeyError> {
    let corrupt = |reason: String| KeyError::Corrupt {
        kid: kid.clone(),
        reason,
    };
    let encoding = EncodingKey::from_ec_der(pkcs8);
    let derived =
        Jwk::from_encoding_key(&encoding, Algorithm::ES256).map_err(|e| corrupt(e.to_string()))?;
    let mut jwk = public_jwk(public).map_err(|e| corrupt(e.to_string()))?;
    if derived.algorithm != jwk.algorithm {
        return Err(corrupt("private and public key do not match".into()));
    }
    jwk.common.key_id = Some(kid.clone());
    Ok(KeyEntry {
        decoding: Arc::new(DecodingKey::from_ec_der(public)),
        signing: Arc::new(SigningKey { kid, encoding }),
        jwk,
        retired_at,
    })
}

fn parse_row(row: KeyRow) -> Result<KeyEntry, KeyError> {
    let (kid, alg, private_b64, public_b64, _created_at, retired_at) = row;
    let decode = |b64: &str| {
        STANDARD.decode(b64).map_err(|e| KeyError::Corrupt {
            kid: kid.clone(),
            reason: e.to_string(),
        })
    };
    if alg != ALG {
        return Err(KeyError::Corrupt {
            kid,
            reason: format!("unsupported algorithm {alg}"),
        });
    }
    let (pkcs8, public) = (decode(&private_b64)?, decode(&public_b64)?);
    parse_key(kid, &pkcs8, &public, retired_at.map(from_db_time))
}

fn insert_key(conn: &mut DbConn, key: &NewKey, now: OffsetDateTime) -> Result<(), KeyError> {
    diesel::insert_into(sk::signing_keys)
        .values((
            sk::kid.eq(&key.kid),
            sk::alg.eq(ALG),
            sk::private_key_der.eq(STANDARD.encode(&key.pkcs8)),
            sk::public_key.eq(STANDARD.encode(&key.public)),
            sk::created_at.eq(to_db_time(now)),
            sk::retired_at.eq(None::<PrimitiveDateTime>),
        ))
        .execute(conn)?;
    Ok(())
}

/// The keys still able to verify (active, or retired after `cutoff`), newest first. Ties on
/// `created_at` break by kid so every replica picks the same signing key.
fn load_rows(conn: &mut DbConn, cutoff: PrimitiveDateTime) -> Result<Vec<KeyRow>, KeyError> {
    Ok(sk::signing_keys
        .filter(sk::retired_at.is_null().or(sk::retired_at.gt(cutoff)))
        .order((sk::created_at.desc(), sk::kid.desc()))
        .select((
            sk::kid,
            sk::alg,
            sk::private_key_der,
            sk::public_key,
            sk::created_at,
            sk::retired_at,
        ))
        .load::<KeyRow>(conn)?)
}

/// Retires every active key and inserts a new one, in one write transaction;
/// returns the new kid. Running replicas pick it up within 30 s, and tokens signed
/// by the old keys keep verifying until they expire.
pub fn rotate_blocking(store: &Store, now: OffsetDateTime) -> Result<String, KeyError> {
    let key = generate()?;
    store.write_blocking(|conn| {
        diesel::update(sk::signing_keys.filter(sk::retired_at.is_null()))
            .set(sk::retired_at.eq(Some(to_db_time(now))))
            .execute(conn)?;
        insert_key(conn, &key, now)
    })?;
    tracing::info!(key.kid = %key.kid, "rotated the access-token signing key");
    Ok(key.kid)
}

/// What the database said at the last reload.
#[derive(Default)]
struct Cache {
    /// Newest first.
    keys: Vec<KeyEntry>,
    /// The last reload attempt, successful or not.
    refreshed_at: Option<OffsetDateTime>,
}

/// The database-backed [`KeyStore`], caching parsed keys in memory.
pub struct DbKeyStore {
    store: Store,
    clock: Arc<dyn Clock>,
    /// `token_ttl + 60 s`: how long a retired key keeps verifying.
    window: time::Duration,
    cache: RwLock<Cache>,
}

impl std::fmt::Debug for DbKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbKeyStore")
            .field("store", &self.store)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl DbKeyStore {
    pub fn new(store: Store, clock: Arc<dyn Clock>, token_ttl: std::time::Duration) -> DbKeyStore {
        let ttl = time::Duration::try_from(token_ttl).unwrap_or(time::Duration::MAX);
        DbKeyStore {
            store,
            clock,
            window: ttl.saturating_add(RETIREMENT_GRACE),
            cache: RwLock::new(Cache::default()),
        }
    }

    /// Creates a key if none is active (a fresh database, or every key retired),
    /// then loads the cache. Two processes starting at once may both insert a key
    /// on PostgreSQL; that is harmless, since the newest signs and both verify.
    pub fn ensure_key_blocking(&self) -> Result<(), KeyError> {
        let now = self.clock.now();
        self.store.write_blocking(|conn| {
            let active: i64 = sk::signing_keys
                .filter(sk::retired_at.is_null())
                .count()
                .get_result(conn)?;
            if active == 0 {
                let key = generate()?;
                insert_key(conn, &key, now)?;
                tracing::info!(key.kid = %key.kid, "created the first access-token signing key");
            }
            Ok::<_, KeyError>(())
        })?;
        self.claim_refresh(now, time::Duration::ZERO);
        let cutoff = self.cutoff(now);
        let rows = self.store.read_blocking(|conn| load_rows(conn, cutoff))?;
        self.install(rows);
        Ok(())
    }

    /// Keys retired before this cannot have signed a token still valid at `now`.
    fn cutoff(&self, now: OffsetDateTime) -> PrimitiveDateTime {
        to_db_time(
            now.checked_sub(self.window)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        )
    }

    /// Marks a reload as started unless one started less than `min_interval` ago.
    /// The common "not due" answer takes only the read lock, as every verification
    /// asks; checking again and marking under the write lock means only one task
    /// reloads at a time.
    fn claim_refresh(&self, now: OffsetDateTime, min_interval: time::Duration) -> bool {
        // A clock that went backwards counts as due rather than stalling reloads.
        let due =
            |at: Option<OffsetDateTime>| at.is_none_or(|at| now < at || now - at >= min_interval);
        let last = self
            .cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .refreshed_at;
        if !due(last) {
            return false;
        }
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        let claimed = due(cache.refreshed_at);
        if claimed {
            cache.refreshed_at = Some(now);
        }
        claimed
    }

    /// Reloads from the database if the last reload is older than `min_interval`.
    async fn refresh(
        &self,
        now: OffsetDateTime,
        min_interval: time::Duration,
    ) -> Result<(), KeyError> {
        if !self.claim_refresh(now, min_interval) {
            return Ok(());
        }
        let cutoff = self.cutoff(now);
        let rows = self.store.read(move |conn| load_rows(conn, cutoff)).await?;
        self.install(rows);
        Ok(())
    }

    /// The periodic reload; a failure keeps the cached keys serving, since they
    /// were valid moments ago, unless there are none.
    async fn refresh_periodically(&self, now: OffsetDateTime) -> Result<(), KeyError> {
        match self.refresh(now, ACTIVE_REFRESH).await {
            Err(e) if self.snapshot().is_empty() => Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "reloading signing keys failed; keeping the cached ones");
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }

    /// Replaces the cache, reusing already-parsed keys so each key is parsed once.
    /// An unusable row is logged and skipped rather than taking every key down.
    fn install(&self, rows: Vec<KeyRow>) {
        let old = self.snapshot();
        let keys = rows
            .into_iter()
            .filter_map(|row| match old.iter().find(|k| k.kid() == row.0) {
                Some(known) => Some(KeyEntry {
                    retired_at: row.5.map(from_db_time),
                    ..known.clone()
                }),
                None => parse_row(row)
                    .inspect_err(|e| tracing::error!(error = %e, "skipping a signing key"))
                    .ok(),
            })
            .collect();
        self.cache.write().unwrap_or_else(|p| p.into_inner()).keys = keys;
    }

    fn snapshot(&self) -> Vec<KeyEntry> {
        self.cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys
            .clone()
    }

    /// The newest unretired key, as far as the cache knows.
    fn active(&self) -> Option<Arc<SigningKey>> {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        let key = cache.keys.iter().find(|k| k.retired_at.is_none())?;
        Some(key.signing.clone())
    }

    /// `None` if the kid is not cached; `Some(None)` if it is but can no longer
    /// verify.
    fn find(&self, kid: &str, now: OffsetDateTime) -> Option<Option<Arc<DecodingKey>>> {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        let key = cache.keys.iter().find(|k| k.kid() == kid)?;
        Some(
            key.verifies_at(now, self.window)
                .then(|| key.decoding.clone()),
        )
    }
}

#[async_trait]
impl KeyStore for DbKeyStore {
    async fn signing_key(&self) -> Result<Arc<SigningKey>, KeyError> {
        let now = self.clock.now();
        self.refresh_periodically(now).await?;
        if let Some(key) = self.active() {
            return Ok(key);
        }
        self.refresh(now, UNKNOWN_KID_REFRESH).await?;
        self.active().ok_or(KeyError::NoActiveKey)
    }

    async fn decoding_key(&self, kid: &str) -> Result<Option<Arc<DecodingKey>>, KeyError> {
        let now = self.clock.now();
        self.refresh_periodically(now).await?;
        if let Some(found) = self.find(kid, now) {
            return Ok(found);
        }
        // Perhaps another replica rotated moments ago.
        self.refresh(now, UNKNOWN_KID_REFRESH).await?;
        Ok(self.find(kid, now).flatten())
    }

    async fn jwks(&self) -> Result<JwkSet, KeyError> {
        let now = self.clock.now();
        // Always fresh: verifiers fetch the JWKS to learn a key rotated by any
        // replica, and the endpoint is cached by them (Cache-Control), not hot.
        if let Err(e) = self.refresh(now, time::Duration::ZERO).await {
            if self.snapshot().is_empty() {
                return Err(e);
            }
            tracing::warn!(error = %e, "reloading signing keys failed; publishing the cached ones");
        }
        let keys = self.snapshot().into_iter();
        Ok(JwkSet {
            keys: keys
                .filter(|k| k.verifies_at(now, self.window))
                .map(|k| k.jwk)
                .collect(),
        })
    }
}

/// An in-memory [`KeyStore`] with one key that never retires, for tests.
pub struct MemoryKeyStore {
    key: KeyEntry,
}

impl std::fmt::Debug for MemoryKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryKeyStore")
            .field("kid", &self.key.kid())
            .finish()
    }
}

impl MemoryKeyStore {
    pub fn generate() -> Result<MemoryKeyStore, KeyError> {
        let new = generate()?;
        let key = parse_key(new.kid, &new.pkcs8, &new.public, None)?;
        Ok(MemoryKeyStore { key })
    }

    pub fn kid(&self) -> &str {
        self.key.kid()
    }
}

#[async_trait]
impl KeyStore for MemoryKeyStore {
    async fn signing_key(&self) -> Result<Arc<SigningKey>, KeyError> {
        Ok(self.key.signing.clone())
    }

    async fn decoding_key(&self, kid: &str) -> Result<Option<Arc<DecodingKey>>, KeyError> {
        Ok((kid == self.key.kid()).then(|| self.key.decoding.clone()))
    }

    async fn jwks(&self) -> Result<JwkSet, KeyError> {
        Ok(JwkSet {
            keys: vec![self.key.jwk.clone()],
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use time::macros::datetime;

    /// A migrated SQLite file in the temp directory, removed on drop.
    pub(crate) struct TempDb {
        pub store: Store,
        path: std::path::PathBuf,
    }

    impl TempDb {
        pub fn new() -> TempDb {
            let file = format!("obgw-keys-{}.db", uuid::Uuid::new_v4());
            let path = std::env::temp_dir().join(file);
            let store = Store::connect(path.to_str().unwrap(), 2).unwrap();
            store.migrate().unwrap();
            TempDb { store, path }
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let mut p = self.path.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(p);
            }
        }
    }

    fn active_kids(store: &Store) -> Vec<String> {
        store
            .read_blocking(|c| {
                sk::signing_keys
                    .filter(sk::retired_at.is_null())
                    .select(sk::kid)
                    .load::<String>(c)
                    .map_err(KeyError::from)
            })
            .unwrap()
    }

    #[tokio::test]
    async fn the_jwks_publishes_public_keys_named_by_their_thumbprint() {
        let keys = MemoryKeyStore::generate().unwrap();
        let jwks = keys.jwks().await.unwrap();
        let json = serde_json::to_value(&jwks).unwrap();
        let jwk = &json["keys"][0];
        assert_eq!(jwk["kid"], keys.kid());
        assert_eq!(jwk["alg"], "ES256");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert!(jwk.get("d").is_none(), "private part leaked: {jwk}");
        let thumbprint = jwks.keys[0].thumbprint(ThumbprintHash::SHA256).unwrap();
        assert_eq!(thumbprint, keys.kid());
    }

    #[tokio::test]
    async fn debug_output_never_shows_key_material() {
        let keys = MemoryKeyStore::generate().unwrap();
        let key = keys.signing_key().await.unwrap();
        let printed = format!("{key:?} {keys:?}");
        assert_eq!(
            format!("{key:?}"),
            format!(
                "SigningKey {{ kid: {:?}, encoding: \"[redacted]\" }}",
                key.kid
            )
        );
        assert!(!printed.contains(&STANDARD.encode(key.encoding.as_bytes())));
    }

    #[test]
    fn starting_twice_creates_one_key_and_rotating_leaves_one_active() {
        let db = TempDb::new();
        let clock = Arc::new(ManualClock::new(datetime!(2026-12-01 10:00 UTC)));
        let ttl = std::time::Duration::from_secs(300);
        DbKeyStore::new(db.store.clone(), clock.clone(), ttl)
            .ensure_key_blocking()
            .unwrap();
        DbKeyStore::new(db.store.clone(), clock.clone(), ttl)
            .ensure_key_blocking()
            .unwrap();
        assert_eq!(active_kids(&db.store).len(), 1);

        let new_kid = rotate_blocking(&db.store, clock.now()).unwrap();
        assert_eq!(active_kids(&db.store), [new_kid]);
    }

    #[test]
    fn a_corrupt_key_row_is_refused_with_its_kid() {
        let row: KeyRow = (
            "k1".into(),
            ALG.into(),
            STANDARD.encode(b"not a key"),
            STANDARD.encode([4u8; 65]),
            to_db_time(datetime!(2026-12-01 10:00 UTC)),
            None,
        );
        assert!(matches!(parse_row(row), Err(KeyError::Corrupt { kid, .. }) if kid == "k1"));

        let (one, other) = (generate().unwrap(), generate().unwrap());
        let mismatched = parse_key("k2".into(), &one.pkcs8, &other.public, None);
        assert!(matches!(mismatched, Err(KeyError::Corrupt { kid, .. }) if kid == "k2"));
    }
}
