//! The `ais_access_counts` and `ais_listings` tables.
//!
//! Counting is two statements in one write transaction, portable across SQLite,
//! PostgreSQL and the PostgreSQL-compatible distributed databases (no upsert with
//! an update clause, no advisory locks):
//! 1. `INSERT … (calls = 0) ON CONFLICT DO NOTHING` makes sure the day's row exists;
//!    a concurrent inserter of the same key waits for the first and then does
//!    nothing;
//! 2. `UPDATE … SET calls = calls + 1 WHERE <key> AND calls < limit` takes one call
//!    if one is left. The row lock serializes concurrent updates and each re-reads
//!    `calls` after the previous one committed, so at most `limit` succeed.
//!
//! Rows of earlier days are deleted when a consent's first row of a new day is
//! inserted, so the tables hold at most a day or two per consent.

use diesel::prelude::*;
use time::Date;

use super::AisEndpoint;
use crate::consent::ConsentId;
use crate::store::schema::{ais_access_counts, ais_listings};
use crate::store::{DbConn, StoreError, insert_ignoring_conflicts};

/// The account column of the account list, which names no account.
const NO_ACCOUNT: &str = "";

/// The key of one counter: consent, endpoint, account and UTC day.
pub(super) struct CounterKey<'a> {
    pub consent: &'a ConsentId,
    pub endpoint: AisEndpoint,
    pub account: Option<&'a str>,
    pub day: Date,
}

impl CounterKey<'_> {
    fn account(&self) -> &str {
        self.account.unwrap_or(NO_ACCOUNT)
    }
}

/// Calls counted so far under `key` (0 if none).
pub(super) fn calls(conn: &mut DbConn, key: &CounterKey<'_>) -> Result<u32, StoreError> {
    let calls: Option<i32> = ais_access_counts::table
        .find((
            key.consent.as_str(),
            key.endpoint.as_str(),
            key.account(),
            key.day,
        ))
        .select(ais_access_counts::calls)
        .first(conn)
        .optional()?;
    Ok(calls.map_or(0, |n| u32::try_from(n).unwrap_or(0)))
}

/// Takes one call under `key` if fewer than `limit` were taken; returns whether it
/// did. Must run inside a write transaction.
pub(super) fn take_call(
    conn: &mut DbConn,
    key: &CounterKey<'_>,
    limit: u32,
) -> Result<bool, StoreError> {
    let inserted = insert_ignoring_conflicts!(
        conn,
        diesel::insert_into(ais_access_counts::table).values((
            ais_access_counts::consent_id.eq(key.consent.as_str()),
            ais_access_counts::endpoint.eq(key.endpoint.as_str()),
            ais_access_counts::account_id.eq(key.account()),
            ais_access_counts::day.eq(key.day),
            ais_access_counts::calls.eq(0),
        ))
    )?;
    if inserted > 0 {
        diesel::delete(
            ais_access_counts::table
                .filter(ais_access_counts::consent_id.eq(key.consent.as_str()))
                .filter(ais_access_counts::day.lt(key.day)),
        )
        .execute(conn)?;
    }
    let limit = i32::try_from(limit).unwrap_or(i32::MAX);
    let taken = diesel::update(
        ais_access_counts::table
            .find((
                key.consent.as_str(),
                key.endpoint.as_str(),
                key.account(),
                key.day,
            ))
            .filter(ais_access_counts::calls.lt(limit)),
    )
    .set(ais_access_counts::calls.eq(ais_access_counts::calls + 1))
    .execute(conn)?;
    Ok(taken == 1)
}

/// Whether `listing` was served under `consent` for `account` on `day`.
pub(super) fn listing_served(
    conn: &mut DbConn,
    consent: &ConsentId,
    account: &str,
    day: Date,
    listing: &str,
) -> Result<bool, StoreError> {
    let found: Option<String> = ais_listings::table
        .find((consent.as_str(), account, day, listing))
        .select(ais_listings::listing)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Records that `listing` was served; idempotent.
pub(super) fn record_listing(
    conn: &mut DbConn,
    consent: &ConsentId,
    account: &str,
    day: Date,
    listing: &str,
) -> Result<(), StoreError> {
    let inserted = insert_ignoring_conflicts!(
        conn,
        diesel::insert_into(ais_listings::table).values((
            ais_listings::consent_id.eq(consent.as_str()),
            ais_listings::account_id.eq(account),
            ais_listings::day.eq(day),
            ais_listings::listing.eq(listing),
        ))
    )?;
    if inserted > 0 {
        diesel::delete(
            ais_listings::table
                .filter(ais_listings::consent_id.eq(consent.as_str()))
                .filter(ais_listings::day.lt(day)),
        )
        .execute(conn)?;
    }
    Ok(())
}
