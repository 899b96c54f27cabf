//! One-time-code challenges with dynamic linking (PSD2 RTS Art. 5): a challenge
//! stores only the SHA-256 of the context it was issued for, so a code issued for
//! 10.00 EUR to payee X cannot authorize 10.01 EUR or payee Y.

use diesel::prelude::*;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

use super::ledger::{LedgerError, new_id};
use crate::core::{ChallengeId, PsuId, ScaChallenge, ScaContext, ScaVerdict};
use crate::secret::Secret;
use crate::store::schema::{core_psus, core_sca_challenges};
use crate::store::{DbConn, from_db_time, to_db_time};

/// The one code the sandbox accepts; DESIGN.md publishes it for demo users.
pub const SANDBOX_OTP: &str = "123456";
const VALIDITY: Duration = Duration::minutes(5);
/// Wrong codes a challenge tolerates before it becomes unusable.
const MAX_ATTEMPTS: i32 = 3;

fn context_hash(context: &ScaContext) -> String {
    Sha256::digest(context.canonical().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(super) fn issue(
    conn: &mut DbConn,
    psu: &PsuId,
    context: &ScaContext,
    now: OffsetDateTime,
) -> Result<ScaChallenge, LedgerError> {
    let known: Option<String> = core_psus::table
        .find(psu.as_str())
        .select(core_psus::psu_id)
        .first(conn)
        .optional()?;
    if known.is_none() {
        return Err(LedgerError::Invalid(
            "SCA challenge requested for an unknown PSU".into(),
        ));
    }
    let id = new_id();
    let created_at = to_db_time(now);
    let expires_at = to_db_time(now + VALIDITY);
    diesel::insert_into(core_sca_challenges::table)
        .values((
            core_sca_challenges::challenge_id.eq(&id),
            core_sca_challenges::psu_id.eq(psu.as_str()),
            core_sca_challenges::context_hash.eq(context_hash(context)),
            core_sca_challenges::attempts.eq(0),
            core_sca_challenges::created_at.eq(created_at),
            core_sca_challenges::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(ScaChallenge {
        id: ChallengeId(id),
        expires_at: from_db_time(expires_at),
        prompt: format!("Enter the one-time code (sandbox: {SANDBOX_OTP})"),
    })
}

/// Must run inside a write transaction. The updates are also guarded on the state
/// they read, so two concurrent verifications cannot both consume one challenge
/// even where the transaction does not serialise them (PostgreSQL read committed).
pub(super) fn verify(
    conn: &mut DbConn,
    challenge: &ChallengeId,
    psu: &PsuId,
    context: &ScaContext,
    otp: &Secret,
    now: OffsetDateTime,
) -> Result<ScaVerdict, LedgerError> {
    type Row = (
        String,
        String,
        i32,
        PrimitiveDateTime,
        Option<PrimitiveDateTime>,
    );
    let row: Option<Row> = core_sca_challenges::table
        .find(challenge.as_str())
        .select((
            core_sca_challenges::psu_id,
            core_sca_challenges::context_hash,
            core_sca_challenges::attempts,
            core_sca_challenges::expires_at,
            core_sca_challenges::consumed_at,
        ))
        .first(conn)
        .optional()?;
    let Some((owner, hash, attempts, expires_at, consumed_at)) = row else {
        return Ok(ScaVerdict::Unusable);
    };
    let usable = owner == psu.as_str()
        && consumed_at.is_none()
        && now < from_db_time(expires_at)
        && hash == context_hash(context)
        && attempts < MAX_ATTEMPTS;
    if !usable {
        return Ok(ScaVerdict::Unusable);
    }
    let unconsumed = core_sca_challenges::table
        .find(challenge.as_str())
        .filter(core_sca_challenges::consumed_at.is_null())
        .filter(core_sca_challenges::attempts.eq(attempts));
    if otp.ct_eq(SANDBOX_OTP) {
        let consumed = diesel::update(unconsumed)
            .set(core_sca_challenges::consumed_at.eq(Some(to_db_time(now))))
            .execute(conn)?;
        return Ok(if consumed == 1 {
            ScaVerdict::Verified
        } else {
            ScaVerdict::Unusable
        });
    }
    let counted = diesel::update(unconsumed)
        .set(core_sca_challenges::attempts.eq(attempts + 1))
        .execute(conn)?;
    Ok(if counted == 1 && attempts + 1 < MAX_ATTEMPTS {
        ScaVerdict::Invalid
    } else {
        ScaVerdict::Unusable
    })
}
