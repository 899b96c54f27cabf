//! Deletes authorization-server rows that can no longer matter, so the tables stay
//! the size of the live traffic. A row is kept a day past its expiry, so a replay
//! of an expired code or refresh token is still recognised (and revokes) for a
//! while, and bank IT can inspect recent history.

use diesel::prelude::*;
use time::{Duration, OffsetDateTime};

use crate::store::schema::{
    access_tokens, authorization_codes, authz_sessions, login_failures, par_requests,
    refresh_tokens,
};
use crate::store::{DbConn, to_db_time};

/// How long an expired row is kept.
pub const GRACE: Duration = Duration::days(1);

/// Removes what expired more than [`GRACE`] ago; returns how many rows went.
pub fn purge_expired(conn: &mut DbConn, now: OffsetDateTime) -> QueryResult<usize> {
    let cutoff = to_db_time(now - GRACE);
    let mut removed = 0;
    removed += diesel::delete(
        authorization_codes::table.filter(authorization_codes::expires_at.lt(cutoff)),
    )
    .execute(conn)?;
    removed += diesel::delete(authz_sessions::table.filter(authz_sessions::expires_at.lt(cutoff)))
        .execute(conn)?;
    removed += diesel::delete(par_requests::table.filter(par_requests::expires_at.lt(cutoff)))
        .execute(conn)?;
    removed += diesel::delete(access_tokens::table.filter(access_tokens::expires_at.lt(cutoff)))
        .execute(conn)?;
    removed += diesel::delete(refresh_tokens::table.filter(refresh_tokens::expires_at.lt(cutoff)))
        .execute(conn)?;
    removed += diesel::delete(
        login_failures::table
            .filter(login_failures::last_failure.lt(cutoff))
            .filter(
                login_failures::blocked_until
                    .is_null()
                    .or(login_failures::blocked_until.lt(cutoff)),
            ),
    )
    .execute(conn)?;
    removed += crate::idempotency::purge_expired(conn, now)
        .map_err(|e| diesel::result::Error::QueryBuilderError(e.to_string().into()))?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::testing::Scratch;

    fn insert_code(conn: &mut DbConn, hash: &str, expires_at: OffsetDateTime) {
        diesel::insert_into(authorization_codes::table)
            .values((
                authorization_codes::code_hash.eq(hash),
                authorization_codes::client_id.eq("c"),
                authorization_codes::redirect_uri.eq("https://x/cb"),
                authorization_codes::code_challenge.eq("x"),
                authorization_codes::scope.eq("AIS:x"),
                authorization_codes::psu_id.eq("p"),
                authorization_codes::created_at.eq(to_db_time(expires_at)),
                authorization_codes::expires_at.eq(to_db_time(expires_at)),
            ))
            .execute(conn)
            .unwrap();
    }

    #[test]
    fn rows_expired_longer_than_the_grace_period_are_purged_and_live_ones_kept() {
        let (_scratch, url) = Scratch::new("housekeeping");
        let store = Store::connect(&url, 2).unwrap();
        store.migrate().unwrap();
        let now = time::macros::datetime!(2026-11-28 12:00 UTC);
        store
            .write_blocking(|c| {
                insert_code(c, "long-gone", now - Duration::days(2));
                insert_code(c, "just-expired", now - Duration::hours(1));
                insert_code(c, "live", now + Duration::seconds(30));
                Ok::<_, crate::store::StoreError>(())
            })
            .unwrap();
        let removed = store
            .write_blocking(|c| purge_expired(c, now).map_err(crate::store::StoreError::from))
            .unwrap();
        assert_eq!(removed, 1);
        let left: Vec<String> = store
            .read_blocking(|c| {
                authorization_codes::table
                    .select(authorization_codes::code_hash)
                    .order(authorization_codes::code_hash.asc())
                    .load(c)
                    .map_err(crate::store::StoreError::from)
            })
            .unwrap();
        assert_eq!(left, vec!["just-expired".to_owned(), "live".to_owned()]);
    }
}
