//! PSU passwords: argon2id PHC strings, verified so that an unknown username costs
//! as much time as a wrong password.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use diesel::prelude::*;

use super::ledger::LedgerError;
use crate::core::{CoreError, PsuId};
use crate::secret::Secret;
use crate::store::DbConn;
use crate::store::schema::core_psus;

/// Hashes with argon2id and the crate's default (OWASP-recommended) parameters.
pub(super) fn hash_password(password: &str) -> Result<String, LedgerError> {
    // A v4 UUID is 122 random bits from the OS, which is all a salt needs; it
    // avoids pulling in another random-number crate.
    let salt = SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes())
        .map_err(|e| LedgerError::Invalid(format!("password salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| LedgerError::Invalid(format!("password hashing: {e}")))
}

/// A hash of nothing in particular with the same parameters as real ones, so that
/// verifying against it takes as long as verifying a real PSU's password.
fn dummy_hash() -> Option<&'static str> {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    DUMMY
        .get_or_init(|| hash_password("obgw-sandbox-dummy-password").ok())
        .as_deref()
}

/// The PSU id and PHC hash for a username, if it exists.
pub(super) fn stored_hash(
    conn: &mut DbConn,
    username: &str,
) -> Result<Option<(String, String)>, LedgerError> {
    Ok(core_psus::table
        .filter(core_psus::username.eq(username))
        .select((core_psus::psu_id, core_psus::password_hash))
        .first(conn)
        .optional()?)
}

/// `stored` is the result of [`stored_hash`] and PHC hash for the username, if it exists. Blocking:
/// argon2 is deliberately slow, so call this off the async threads.
pub(super) fn verify(
    stored: Option<(String, String)>,
    password: &Secret,
) -> Result<Option<PsuId>, CoreError> {
    let argon2 = Argon2::default();
    let Some((psu_id, phc)) = stored else {
        if let Some(dummy) = dummy_hash().and_then(|d| PasswordHash::new(d).ok()) {
            // The result is irrelevant; only the time spent matters.
            let _ = argon2.verify_password(password.expose().as_bytes(), &dummy);
        }
        return Ok(None);
    };
    let parsed = PasswordHash::new(&phc)
        .map_err(|_| CoreError::Protocol("stored password hash is malformed".into()))?;
    let ok = argon2
        .verify_password(password.expose().as_bytes(), &parsed)
        .is_ok();
    Ok(ok.then_some(PsuId(psu_id)))
}
