//! The `interbank_credits` table: what each peer sent under a payment id and
//! what it was answered.

use diesel::prelude::*;
use time::OffsetDateTime;

use super::InterbankError;
use super::model::{CreditAnswer, reason_code, refusal_of};
use crate::store::schema::interbank_credits;
use crate::store::{DbConn, StoreError, to_db_time};

/// A stored answer and the fingerprint of the credit it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    pub fingerprint: String,
    pub answer: CreditAnswer,
}

pub fn find(
    conn: &mut DbConn,
    peer: &str,
    payment_id: &str,
) -> Result<Option<Answered>, InterbankError> {
    let row: Option<(String, String, Option<String>, Option<String>)> = interbank_credits::table
        .find((peer, payment_id))
        .select((
            interbank_credits::fingerprint,
            interbank_credits::status,
            interbank_credits::credit_id,
            interbank_credits::reason,
        ))
        .first(conn)
        .optional()?;
    let Some((fingerprint, status, credit_id, reason)) = row else {
        return Ok(None);
    };
    let answer = match (status.as_str(), credit_id) {
        ("ACSC", Some(credit_id)) => CreditAnswer::Accepted { credit_id },
        ("RJCT", _) => CreditAnswer::Refused {
            reason: refusal_of(reason.as_deref().unwrap_or_default()),
        },
        (other, _) => {
            return Err(InterbankError::Store(StoreError::Query(
                diesel::result::Error::DeserializationError(
                    format!("corrupt interbank_credits.status {other:?}").into(),
                ),
            )));
        }
    };
    Ok(Some(Answered {
        fingerprint,
        answer,
    }))
}

/// Records the answer; a concurrent duplicate fails with a unique violation.
pub fn insert(
    conn: &mut DbConn,
    peer: &str,
    payment_id: &str,
    answered: &Answered,
    now: OffsetDateTime,
) -> Result<(), diesel::result::Error> {
    let (credit_id, reason) = match &answered.answer {
        CreditAnswer::Accepted { credit_id } => (Some(credit_id.as_str()), None),
        CreditAnswer::Refused { reason } => (None, Some(reason_code(*reason))),
    };
    diesel::insert_into(interbank_credits::table)
        .values((
            interbank_credits::peer_client_id.eq(peer),
            interbank_credits::payment_id.eq(payment_id),
            interbank_credits::fingerprint.eq(&answered.fingerprint),
            interbank_credits::status.eq(answered.answer.status()),
            interbank_credits::credit_id.eq(credit_id),
            interbank_credits::reason.eq(reason),
            interbank_credits::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}
