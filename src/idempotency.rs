//! Idempotency-Key records (UK Open Banking semantics), stored with the resource
//! they created (STYLE.md §12: idempotency is storage, not memory).
//!
//! A key is scoped to the client and kept [`RETENTION`] (24 h). Within that time:
//! - same key, same body (compared as parsed JSON), same kind of resource: the
//!   request is a replay; no new resource, the caller answers 201 with the stored
//!   resource in its current status;
//! - same key, anything else: [`IdempotencyError::Conflict`] (422 on the wire).
//!
//! After 24 h the old record counts as absent and is replaced.
//!
//! # How a creating endpoint uses it
//! ```text
//! write_with_retry(store, is_contended, move |conn| {       // one transaction
//!     match claim(conn, client, &key, KIND, &hash, &new_id, now)? {
//!         Claim::New => insert the resource with id new_id,
//!         Claim::Replay { resource_id } => load resource_id,
//!     }
//! })
//! ```
//! Concurrent duplicates never create two resources. On SQLite the write
//! transactions begin `IMMEDIATE` and run one after the other, so the second sees
//! the first's record and replays. On PostgreSQL the second insert of the same
//! `(client_id, idem_key)` waits for the first transaction and then fails with a
//! unique violation, which [`claim`] reports as [`IdempotencyError::Contended`];
//! [`write_with_retry`] runs the whole transaction once more, and that run sees the
//! committed record and replays.

use std::fmt;
use std::sync::Arc;

use diesel::prelude::*;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::store::schema::idempotency_keys;
use crate::store::{DbConn, Store, StoreError, is_unique_violation, to_db_time};

/// The Berlin Group / gateway header name.
pub const HEADER: &str = "Idempotency-Key";
/// The UK Open Banking spelling, accepted too.
pub const UK_HEADER: &str = "x-idempotency-key";
/// How long a key is remembered.
pub const RETENTION: Duration = Duration::hours(24);
/// The longest key accepted (UK Open Banking: 40 characters).
pub const MAX_KEY_LEN: usize = 40;

/// A validated `Idempotency-Key` header value: 1 to 40 printable ASCII characters,
/// no spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

/// Why a header value is not a usable idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Idempotency-Key must be 1 to 40 printable ASCII characters without spaces (x-idempotency-key is accepted too)"
)]
pub struct InvalidIdempotencyKey;

impl IdempotencyKey {
    pub fn parse(value: &str) -> Result<IdempotencyKey, InvalidIdempotencyKey> {
        let valid =
            (1..=MAX_KEY_LEN).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic());
        if valid {
            Ok(IdempotencyKey(value.to_owned()))
        } else {
            Err(InvalidIdempotencyKey)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Hex SHA-256 of the body in canonical JSON (object keys sorted at every level,
/// no insignificant whitespace), so two bodies that parse to the same JSON value
/// hash alike whatever their key order or formatting.
pub fn request_hash(body: &serde_json::Value) -> String {
    let mut canonical = String::new();
    write_canonical(body, &mut canonical);
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        // Scalars print the same way whatever map ordering serde_json was built with.
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The outcome of [`claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key was free: its record now points at the caller's new resource id,
    /// and the caller must create that resource in the same transaction.
    New,
    /// The same request was made before: answer with this resource.
    Replay { resource_id: String },
}

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// The key was used in the last 24 h for another body or another kind of
    /// resource.
    #[error("the Idempotency-Key was already used for a different request")]
    Conflict,
    /// A concurrent transaction inserted the same key first (PostgreSQL). Running
    /// the whole transaction again replays its result; see [`write_with_retry`].
    #[error("a concurrent request with the same Idempotency-Key is in progress")]
    Contended,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for IdempotencyError {
    fn from(e: diesel::result::Error) -> Self {
        IdempotencyError::Store(StoreError::Query(e))
    }
}

/// Claims `key` for a new resource of `kind`, inside the caller's write
/// transaction. See the module documentation for the protocol.
pub fn claim(
    conn: &mut DbConn,
    client_id: &str,
    key: &IdempotencyKey,
    kind: &str,
    request_hash: &str,
    new_resource_id: &str,
    now: OffsetDateTime,
) -> Result<Claim, IdempotencyError> {
    let this_key = idempotency_keys::client_id
        .eq(client_id)
        .and(idempotency_keys::idem_key.eq(key.as_str()));
    // A record older than the retention is as good as absent.
    diesel::delete(
        idempotency_keys::table
            .filter(this_key)
            .filter(idempotency_keys::created_at.le(to_db_time(now - RETENTION))),
    )
    .execute(conn)?;
    let existing = idempotency_keys::table
        .filter(this_key)
        .select((
            idempotency_keys::resource_kind,
            idempotency_keys::request_hash,
            idempotency_keys::resource_id,
        ))
        .first::<(String, String, String)>(conn)
        .optional()?;
    if let Some((stored_kind, stored_hash, resource_id)) = existing {
        return if stored_kind == kind && stored_hash == request_hash {
            Ok(Claim::Replay { resource_id })
        } else {
            Err(IdempotencyError::Conflict)
        };
    }
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::client_id.eq(client_id),
            idempotency_keys::idem_key.eq(key.as_str()),
            idempotency_keys::resource_kind.eq(kind),
            idempotency_keys::request_hash.eq(request_hash),
            idempotency_keys::resource_id.eq(new_resource_id),
            idempotency_keys::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)
        .map_err(|e| {
            if is_unique_violation(&e) {
                IdempotencyError::Contended
            } else {
                e.into()
            }
        })?;
    Ok(Claim::New)
}

/// Deletes every record older than the retention; returns how many went. Records
/// are also replaced lazily by [`claim`], so this only keeps the table small.
pub fn purge_expired(conn: &mut DbConn, now: OffsetDateTime) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::created_at.le(to_db_time(now - RETENTION))),
    )
    .execute(conn)?)
}

/// Runs `f` in a write transaction and, if it fails with an error `contended`
/// recognises (a lost race on an idempotency key), runs it once more in a fresh
/// transaction, which then sees the winner's committed record.
pub async fn write_with_retry<T, E, F>(
    store: &Store,
    contended: fn(&E) -> bool,
    f: F,
) -> Result<T, E>
where
    F: Fn(&mut DbConn) -> Result<T, E> + Send + Sync + 'static,
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    let f = Arc::new(f);
    let first = {
        let f = Arc::clone(&f);
        store.write(move |conn| f(conn)).await
    };
    match first {
        Err(e) if contended(&e) => {
            tracing::debug!("idempotency key contended; retrying the transaction");
            store.write(move |conn| f(conn)).await
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_of_1_to_40_printable_ascii_characters_are_accepted() {
        for ok in [
            "a",
            "0123456789012345678901234567890123456789",
            "abc-DEF_123.~!#",
        ] {
            assert_eq!(IdempotencyKey::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn empty_long_spaced_or_non_ascii_keys_are_rejected() {
        let long = "x".repeat(41);
        for bad in ["", long.as_str(), "a b", " a", "a\tb", "ключ", "a\u{7f}"] {
            assert_eq!(
                IdempotencyKey::parse(bad),
                Err(InvalidIdempotencyKey),
                "{bad:?}"
            );
        }
        assert!(
            InvalidIdempotencyKey
                .to_string()
                .contains("Idempotency-Key")
        );
    }

    #[test]
    fn bodies_that_parse_alike_hash_alike() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"b": 1, "a": {"y": [1, {"q": 2, "p": 3}], "x": null}}"#)
                .unwrap();
        let b: serde_json::Value =
            serde_json::from_str(r#"{"a":{"x":null,"y":[1,{"p":3,"q":2}]},"b":1}"#).unwrap();
        assert_eq!(request_hash(&a), request_hash(&b));
        assert_eq!(request_hash(&a).len(), 64);
    }

    #[test]
    fn bodies_that_differ_hash_differently() {
        let base = json!({"a": [1, 2], "b": "x"});
        for other in [
            json!({"a": [2, 1], "b": "x"}),
            json!({"a": [1, 2], "b": "y"}),
            json!({"a": [1, 2], "b": "x", "c": null}),
            json!({"a": [1, 2]}),
            json!({"a": ["1", 2], "b": "x"}),
        ] {
            assert_ne!(request_hash(&base), request_hash(&other), "{other}");
        }
    }

    #[test]
    fn canonical_form_escapes_keys_and_strings() {
        let mut out = String::new();
        write_canonical(&json!({"b\"": "é\n", "a": [true, 1.5]}), &mut out);
        assert_eq!(out, r#"{"a":[true,1.5],"b\"":"é\n"}"#);
    }
}
