//! The `payments`, `payment_outbox`, `risk_decisions`, `psu_exemption_counters`
//! and `trusted_payees` tables. Every status change is a conditional UPDATE on the
//! status the caller expects, so two concurrent changes cannot both win.

use diesel::prelude::*;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::error::PaymentError;
use super::model::{Payment, PaymentStatus, Product};
use crate::core::{PaymentId, PsuId};
use crate::domain::{Currency, Iban, Money};
use crate::store::schema::{
    payment_outbox, payments, psu_exemption_counters, risk_decisions, trusted_payees,
};
use crate::store::{DbConn, StoreError, from_db_time, insert_ignoring_conflicts, to_db_time};

#[derive(Queryable)]
struct PaymentRow {
    payment_id: String,
    client_id: String,
    product: String,
    status: String,
    debtor_iban: String,
    creditor_iban: String,
    creditor_name: String,
    amount: String,
    _amount_minor: i64,
    currency: String,
    remittance: Option<String>,
    end_to_end_id: Option<String>,
    psu_id: String,
    psu_ip_address: Option<String>,
    sca_exemption: Option<String>,
    reject_reason: Option<String>,
    core_transaction_id: Option<String>,
    created_at: PrimitiveDateTime,
    status_changed_at: PrimitiveDateTime,
    authorized_at: Option<PrimitiveDateTime>,
}

/// A stored value that does not parse: the database was changed behind the
/// gateway's back.
fn corrupt(what: &str, detail: impl std::fmt::Display) -> PaymentError {
    PaymentError::Store(StoreError::Query(
        diesel::result::Error::DeserializationError(
            format!("corrupt payments.{what}: {detail}").into(),
        ),
    ))
}

impl TryFrom<PaymentRow> for Payment {
    type Error = PaymentError;

    fn try_from(r: PaymentRow) -> Result<Payment, PaymentError> {
        let currency = Currency::parse(&r.currency).map_err(|e| corrupt("currency", e))?;
        let amount = r
            .amount
            .parse()
            .ok()
            .and_then(|a| Money::new(a, currency).ok())
            .ok_or_else(|| corrupt("amount", &r.amount))?;
        Ok(Payment {
            id: PaymentId(r.payment_id),
            client_id: r.client_id,
            product: Product::parse(&r.product).ok_or_else(|| corrupt("product", &r.product))?,
            status: PaymentStatus::parse(&r.status).ok_or_else(|| corrupt("status", &r.status))?,
            debtor: Iban::parse(&r.debtor_iban).map_err(|e| corrupt("debtor_iban", e))?,
            creditor: Iban::parse(&r.creditor_iban).map_err(|e| corrupt("creditor_iban", e))?,
            creditor_name: r.creditor_name,
            amount,
            remittance: r.remittance,
            end_to_end_id: r.end_to_end_id,
            psu_id: PsuId(r.psu_id),
            psu_ip_address: r.psu_ip_address,
            sca_exemption: r.sca_exemption,
            reject_reason: r.reject_reason,
            core_transaction_id: r.core_transaction_id,
            created_at: from_db_time(r.created_at),
            status_changed_at: from_db_time(r.status_changed_at),
            authorized_at: r.authorized_at.map(from_db_time),
        })
    }
}

pub fn insert(conn: &mut DbConn, p: &Payment) -> Result<(), PaymentError> {
    diesel::insert_into(payments::table)
        .values((
            payments::payment_id.eq(p.id.as_str()),
            payments::client_id.eq(&p.client_id),
            payments::product.eq(p.product.as_str()),
            payments::status.eq(p.status.as_str()),
            payments::debtor_iban.eq(p.debtor.as_str()),
            payments::creditor_iban.eq(p.creditor.as_str()),
            payments::creditor_name.eq(&p.creditor_name),
            payments::amount.eq(p.amount.amount_string()),
            payments::amount_minor.eq(p.amount.minor_units()),
            payments::currency.eq(p.amount.currency().as_str()),
            payments::remittance.eq(&p.remittance),
            payments::end_to_end_id.eq(&p.end_to_end_id),
            payments::psu_id.eq(p.psu_id.as_str()),
            payments::psu_ip_address.eq(&p.psu_ip_address),
            payments::sca_exemption.eq(&p.sca_exemption),
            payments::reject_reason.eq(&p.reject_reason),
            payments::core_transaction_id.eq(&p.core_transaction_id),
            payments::created_at.eq(to_db_time(p.created_at)),
            payments::status_changed_at.eq(to_db_time(p.status_changed_at)),
            payments::authorized_at.eq(p.authorized_at.map(to_db_time)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConn, id: &str) -> Result<Option<Payment>, PaymentError> {
    payments::table
        .find(id)
        .select(payments::all_columns)
        .first::<PaymentRow>(conn)
        .optional()?
        .map(Payment::try_from)
        .transpose()
}

/// Moves a payment from `from` to `to` if it is still in `from`; whether it did.
pub fn transition(
    conn: &mut DbConn,
    id: &str,
    from: PaymentStatus,
    to: PaymentStatus,
    reject_reason: Option<&str>,
    now: OffsetDateTime,
) -> Result<bool, PaymentError> {
    let n = diesel::update(
        payments::table
            .filter(payments::payment_id.eq(id))
            .filter(payments::status.eq(from.as_str())),
    )
    .set((
        payments::status.eq(to.as_str()),
        payments::status_changed_at.eq(to_db_time(now)),
        payments::reject_reason.eq(reject_reason),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// A PSU's payments created at or after `since` (all statuses), excluding `except`.
pub fn count_since(
    conn: &mut DbConn,
    psu: &str,
    since: OffsetDateTime,
    except: Option<&str>,
) -> Result<i64, PaymentError> {
    let mut q = payments::table
        .filter(payments::psu_id.eq(psu))
        .filter(payments::created_at.ge(to_db_time(since)))
        .into_boxed();
    if let Some(id) = except {
        q = q.filter(payments::payment_id.ne(id));
    }
    Ok(q.count().get_result(conn)?)
}

/// Whether the PSU ever had a payment executed through `client_id`.
pub fn executed_through(
    conn: &mut DbConn,
    psu: &str,
    client_id: &str,
) -> Result<bool, PaymentError> {
    let n: i64 = payments::table
        .filter(payments::psu_id.eq(psu))
        .filter(payments::client_id.eq(client_id))
        .filter(payments::status.eq_any(["ACSC", "ACSP"]))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

pub fn insert_decision(
    conn: &mut DbConn,
    payment_id: &str,
    stage: &str,
    outcome: &str,
    score: f64,
    explanation: &serde_json::Value,
    now: OffsetDateTime,
) -> Result<(), PaymentError> {
    diesel::insert_into(risk_decisions::table)
        .values((
            risk_decisions::decision_id.eq(uuid::Uuid::new_v4().to_string()),
            risk_decisions::payment_id.eq(payment_id),
            risk_decisions::stage.eq(stage),
            risk_decisions::outcome.eq(outcome),
            risk_decisions::score.eq(format!("{score:.6}")),
            risk_decisions::explanation.eq(explanation.to_string()),
            risk_decisions::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The stored decisions of a payment, oldest first, as JSON for bank IT.
pub fn decisions(
    conn: &mut DbConn,
    payment_id: &str,
) -> Result<Vec<serde_json::Value>, PaymentError> {
    let rows: Vec<(String, String, String, String, PrimitiveDateTime)> = risk_decisions::table
        .filter(risk_decisions::payment_id.eq(payment_id))
        .order((
            risk_decisions::created_at.asc(),
            risk_decisions::stage.desc(),
            risk_decisions::decision_id.asc(),
        ))
        .select((
            risk_decisions::stage,
            risk_decisions::outcome,
            risk_decisions::score,
            risk_decisions::explanation,
            risk_decisions::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(stage, outcome, score, explanation, at)| {
            serde_json::json!({
                "stage": stage,
                "outcome": outcome,
                "score": score.parse::<f64>().unwrap_or(f64::NAN),
                "decidedAt": from_db_time(at).to_string(),
                "explanation": serde_json::from_str::<serde_json::Value>(&explanation)
                    .unwrap_or(serde_json::Value::String(explanation)),
            })
        })
        .collect())
}

/// The Art. 16 counters: low-value exemptions since the last SCA and their total
/// in EUR cents.
pub fn exemption_counters(conn: &mut DbConn, psu: &str) -> Result<(u32, i64), PaymentError> {
    let row: Option<(i32, i64)> = psu_exemption_counters::table
        .find(psu)
        .select((
            psu_exemption_counters::low_value_count,
            psu_exemption_counters::low_value_total_minor,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map_or((0, 0), |(n, total)| (u32::try_from(n).unwrap_or(0), total)))
}

fn ensure_counters(conn: &mut DbConn, psu: &str, now: OffsetDateTime) -> Result<(), PaymentError> {
    // A concurrent first approval for the same PSU inserts nothing and moves on.
    insert_ignoring_conflicts!(
        conn,
        diesel::insert_into(psu_exemption_counters::table).values((
            psu_exemption_counters::psu_id.eq(psu),
            psu_exemption_counters::low_value_count.eq(0),
            psu_exemption_counters::low_value_total_minor.eq(0i64),
            psu_exemption_counters::updated_at.eq(to_db_time(now)),
        ))
    )?;
    Ok(())
}

/// The PSU passed SCA: the Art. 16 count starts again.
pub fn reset_counters(
    conn: &mut DbConn,
    psu: &str,
    now: OffsetDateTime,
) -> Result<(), PaymentError> {
    ensure_counters(conn, psu, now)?;
    diesel::update(psu_exemption_counters::table.find(psu))
        .set((
            psu_exemption_counters::low_value_count.eq(0),
            psu_exemption_counters::low_value_total_minor.eq(0i64),
            psu_exemption_counters::updated_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Counts one more low-value exemption of `amount_minor` EUR cents, only if the
/// counters stay within `max_count` payments and `max_total_minor` cents; whether
/// it did. A conditional UPDATE, so concurrent approvals cannot overrun the limits.
pub fn count_low_value(
    conn: &mut DbConn,
    psu: &str,
    amount_minor: i64,
    max_count: i32,
    max_total_minor: i64,
    now: OffsetDateTime,
) -> Result<bool, PaymentError> {
    ensure_counters(conn, psu, now)?;
    let n = diesel::update(
        psu_exemption_counters::table
            .filter(psu_exemption_counters::psu_id.eq(psu))
            .filter(psu_exemption_counters::low_value_count.lt(max_count))
            .filter(
                psu_exemption_counters::low_value_total_minor.le(max_total_minor - amount_minor),
            ),
    )
    .set((
        psu_exemption_counters::low_value_count.eq(psu_exemption_counters::low_value_count + 1),
        psu_exemption_counters::low_value_total_minor
            .eq(psu_exemption_counters::low_value_total_minor + amount_minor),
        psu_exemption_counters::updated_at.eq(to_db_time(now)),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn is_trusted(conn: &mut DbConn, psu: &str, creditor: &str) -> Result<bool, PaymentError> {
    let n: i64 = trusted_payees::table
        .filter(trusted_payees::psu_id.eq(psu))
        .filter(trusted_payees::creditor_iban.eq(creditor))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

pub fn trust(
    conn: &mut DbConn,
    psu: &str,
    creditor: &str,
    now: OffsetDateTime,
) -> Result<(), PaymentError> {
    insert_ignoring_conflicts!(
        conn,
        diesel::insert_into(trusted_payees::table).values((
            trusted_payees::psu_id.eq(psu),
            trusted_payees::creditor_iban.eq(creditor),
            trusted_payees::created_at.eq(to_db_time(now)),
        ))
    )?;
    Ok(())
}

/// Outbox row states.
pub mod outbox_state {
    pub const PENDING: &str = "pending";
    pub const IN_FLIGHT: &str = "in_flight";
    pub const DONE: &str = "done";
    pub const CANCELLED: &str = "cancelled";
}

pub fn enqueue(
    conn: &mut DbConn,
    payment_id: &str,
    now: OffsetDateTime,
) -> Result<(), PaymentError> {
    diesel::insert_into(payment_outbox::table)
        .values((
            payment_outbox::payment_id.eq(payment_id),
            payment_outbox::state.eq(outbox_state::PENDING),
            payment_outbox::attempts.eq(0),
            payment_outbox::created_at.eq(to_db_time(now)),
            payment_outbox::updated_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Takes a pending (never claimed) outbox row out of the queue; whether it was
/// still pending. The cancel's half of the check-and-set against the worker.
pub fn withdraw(
    conn: &mut DbConn,
    payment_id: &str,
    now: OffsetDateTime,
) -> Result<bool, PaymentError> {
    let n = diesel::update(
        payment_outbox::table
            .filter(payment_outbox::payment_id.eq(payment_id))
            .filter(payment_outbox::state.eq(outbox_state::PENDING)),
    )
    .set((
        payment_outbox::state.eq(outbox_state::CANCELLED),
        payment_outbox::updated_at.eq(to_db_time(now)),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Outbox rows a worker may claim now: pending ones, and in-flight ones whose
/// lease has run out (their worker died, or the core did not answer).
pub fn due(
    conn: &mut DbConn,
    now: OffsetDateTime,
    limit: i64,
) -> Result<Vec<String>, PaymentError> {
    Ok(payment_outbox::table
        .filter(
            payment_outbox::state
                .eq(outbox_state::PENDING)
                .or(payment_outbox::state
                    .eq(outbox_state::IN_FLIGHT)
                    .and(payment_outbox::lease_until.lt(to_db_time(now)))),
        )
        .order(payment_outbox::created_at.asc())
        .select(payment_outbox::payment_id)
        .limit(limit)
        .load(conn)?)
}

/// Claims one outbox row for `worker` until `lease_until` with a conditional
/// UPDATE (portable: no `SKIP LOCKED`); returns the attempt number if this worker
/// won, `None` if another did.
pub fn claim(
    conn: &mut DbConn,
    payment_id: &str,
    worker: &str,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> Result<Option<i32>, PaymentError> {
    let n = diesel::update(
        payment_outbox::table
            .filter(payment_outbox::payment_id.eq(payment_id))
            .filter(
                payment_outbox::state
                    .eq(outbox_state::PENDING)
                    .or(payment_outbox::state
                        .eq(outbox_state::IN_FLIGHT)
                        .and(payment_outbox::lease_until.lt(to_db_time(now)))),
            ),
    )
    .set((
        payment_outbox::state.eq(outbox_state::IN_FLIGHT),
        payment_outbox::claimed_by.eq(worker),
        payment_outbox::lease_until.eq(to_db_time(lease_until)),
        payment_outbox::attempts.eq(payment_outbox::attempts + 1),
        payment_outbox::updated_at.eq(to_db_time(now)),
    ))
    .execute(conn)?;
    if n == 0 {
        return Ok(None);
    }
    let attempts: i32 = payment_outbox::table
        .find(payment_id)
        .select(payment_outbox::attempts)
        .first(conn)?;
    Ok(Some(attempts))
}

/// Notes why an attempt did not finish; the row stays in flight until its lease
/// runs out, then the next claim reconciles with the core.
pub fn attempt_failed(
    conn: &mut DbConn,
    payment_id: &str,
    worker: &str,
    error: &str,
    now: OffsetDateTime,
) -> Result<(), PaymentError> {
    diesel::update(
        payment_outbox::table
            .filter(payment_outbox::payment_id.eq(payment_id))
            .filter(payment_outbox::claimed_by.eq(worker)),
    )
    .set((
        payment_outbox::last_error.eq(error),
        payment_outbox::updated_at.eq(to_db_time(now)),
    ))
    .execute(conn)?;
    Ok(())
}

/// Keeps an in-flight row for a later status check (settlement pending).
pub fn recheck_at(
    conn: &mut DbConn,
    payment_id: &str,
    at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), PaymentError> {
    diesel::update(payment_outbox::table.find(payment_id))
        .set((
            payment_outbox::state.eq(outbox_state::IN_FLIGHT),
            payment_outbox::lease_until.eq(to_db_time(at)),
            payment_outbox::updated_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn finish_outbox(
    conn: &mut DbConn,
    payment_id: &str,
    now: OffsetDateTime,
) -> Result<(), PaymentError> {
    diesel::update(payment_outbox::table.find(payment_id))
        .set((
            payment_outbox::state.eq(outbox_state::DONE),
            payment_outbox::lease_until.eq(None::<PrimitiveDateTime>),
            payment_outbox::updated_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The outbox row of a payment as JSON (for `obgw payments show`).
pub fn outbox_json(
    conn: &mut DbConn,
    payment_id: &str,
) -> Result<Option<serde_json::Value>, PaymentError> {
    type OutboxRow = (
        String,
        i32,
        Option<String>,
        Option<PrimitiveDateTime>,
        Option<String>,
    );
    let row: Option<OutboxRow> = payment_outbox::table
        .find(payment_id)
        .select((
            payment_outbox::state,
            payment_outbox::attempts,
            payment_outbox::claimed_by,
            payment_outbox::lease_until,
            payment_outbox::last_error,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(state, attempts, claimed_by, lease, error)| {
        serde_json::json!({
            "state": state,
            "attempts": attempts,
            "claimedBy": claimed_by,
            "leaseUntil": lease.map(|t| from_db_time(t).to_string()),
            "lastError": error,
        })
    }))
}

/// Records the core's answer on an `ACTC`/`ACSP` payment: its new status, the
/// core's transaction id or the reason it refused. Terminal statuses never change.
pub fn record_outcome(
    conn: &mut DbConn,
    payment_id: &str,
    to: PaymentStatus,
    core_transaction_id: Option<&str>,
    reject_reason: Option<&str>,
    now: OffsetDateTime,
) -> Result<bool, PaymentError> {
    let n = diesel::update(
        payments::table
            .filter(payments::payment_id.eq(payment_id))
            .filter(payments::status.eq_any(["ACTC", "ACSP"])),
    )
    .set((
        payments::status.eq(to.as_str()),
        payments::status_changed_at.eq(to_db_time(now)),
        payments::core_transaction_id.eq(core_transaction_id),
        payments::reject_reason.eq(reject_reason),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Marks a `RCVD` payment approved (`ACTC`) with the exemption it used, if any.
pub fn authorize(
    conn: &mut DbConn,
    payment_id: &str,
    exemption: Option<&str>,
    now: OffsetDateTime,
) -> Result<bool, PaymentError> {
    let n = diesel::update(
        payments::table
            .filter(payments::payment_id.eq(payment_id))
            .filter(payments::status.eq(PaymentStatus::Rcvd.as_str())),
    )
    .set((
        payments::status.eq(PaymentStatus::Actc.as_str()),
        payments::status_changed_at.eq(to_db_time(now)),
        payments::authorized_at.eq(Some(to_db_time(now))),
        payments::sca_exemption.eq(exemption),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Remembers the approval-time decision's exemption on a `RCVD` payment, for the
/// PSU's decision step.
pub fn set_exemption(
    conn: &mut DbConn,
    payment_id: &str,
    exemption: Option<&str>,
) -> Result<(), PaymentError> {
    diesel::update(
        payments::table
            .filter(payments::payment_id.eq(payment_id))
            .filter(payments::status.eq(PaymentStatus::Rcvd.as_str())),
    )
    .set(payments::sca_exemption.eq(exemption))
    .execute(conn)?;
    Ok(())
}

/// The latest risk outcome stored for a payment at `stage`.
pub fn latest_outcome(
    conn: &mut DbConn,
    payment_id: &str,
    stage: &str,
) -> Result<Option<String>, PaymentError> {
    Ok(risk_decisions::table
        .filter(risk_decisions::payment_id.eq(payment_id))
        .filter(risk_decisions::stage.eq(stage))
        .order(risk_decisions::created_at.desc())
        .select(risk_decisions::outcome)
        .first(conn)
        .optional()?)
}
