//! Issued-token records: every access token's `jti` and every refresh token's hash
//! are stored, so revocation (RFC 7009), code replay and refresh-token reuse take
//! effect at once, in every replica.

use diesel::prelude::*;
use time::OffsetDateTime;

use crate::store::schema::{access_tokens, refresh_tokens};
use crate::store::{DbConn, to_db_time};

pub struct AccessRecord<'a> {
    pub jti: &'a str,
    pub client_id: &'a str,
    pub subject: &'a str,
    pub scope: &'a str,
    pub code_hash: Option<&'a str>,
    pub family_id: Option<&'a str>,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

pub fn insert_access(conn: &mut DbConn, r: &AccessRecord<'_>) -> QueryResult<()> {
    diesel::insert_into(access_tokens::table)
        .values((
            access_tokens::jti.eq(r.jti),
            access_tokens::client_id.eq(r.client_id),
            access_tokens::subject.eq(r.subject),
            access_tokens::scope.eq(r.scope),
            access_tokens::code_hash.eq(r.code_hash),
            access_tokens::family_id.eq(r.family_id),
            access_tokens::issued_at.eq(to_db_time(r.issued_at)),
            access_tokens::expires_at.eq(to_db_time(r.expires_at)),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Whether an access token was issued here and not revoked since.
pub fn access_is_live(conn: &mut DbConn, jti: &str) -> QueryResult<bool> {
    access_tokens::table
        .filter(access_tokens::jti.eq(jti))
        .filter(access_tokens::revoked_at.is_null())
        .count()
        .get_result::<i64>(conn)
        .map(|n| n > 0)
}

/// The client an access token was issued to, if it is known.
pub fn access_owner(conn: &mut DbConn, jti: &str) -> QueryResult<Option<String>> {
    access_tokens::table
        .filter(access_tokens::jti.eq(jti))
        .select(access_tokens::client_id)
        .first(conn)
        .optional()
}

pub fn revoke_access(conn: &mut DbConn, jti: &str, now: OffsetDateTime) -> QueryResult<usize> {
    diesel::update(
        access_tokens::table
            .filter(access_tokens::jti.eq(jti))
            .filter(access_tokens::revoked_at.is_null()),
    )
    .set(access_tokens::revoked_at.eq(to_db_time(now)))
    .execute(conn)
}

/// Revokes everything issued from one authorization code (a replayed code).
pub fn revoke_by_code(conn: &mut DbConn, code_hash: &str, now: OffsetDateTime) -> QueryResult<()> {
    diesel::update(
        access_tokens::table
            .filter(access_tokens::code_hash.eq(code_hash))
            .filter(access_tokens::revoked_at.is_null()),
    )
    .set(access_tokens::revoked_at.eq(to_db_time(now)))
    .execute(conn)?;
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::code_hash.eq(code_hash))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(to_db_time(now)))
    .execute(conn)?;
    Ok(())
}

/// Revokes a whole refresh-token family and the access tokens it produced.
pub fn revoke_family(conn: &mut DbConn, family_id: &str, now: OffsetDateTime) -> QueryResult<()> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(to_db_time(now)))
    .execute(conn)?;
    diesel::update(
        access_tokens::table
            .filter(access_tokens::family_id.eq(family_id))
            .filter(access_tokens::revoked_at.is_null()),
    )
    .set(access_tokens::revoked_at.eq(to_db_time(now)))
    .execute(conn)?;
    Ok(())
}

/// Revokes every token issued for one scope (a consent ended or was revoked).
pub fn revoke_scope(conn: &mut DbConn, scope: &str, now: OffsetDateTime) -> QueryResult<()> {
    diesel::update(
        access_tokens::table
            .filter(access_tokens::scope.eq(scope))
            .filter(access_tokens::revoked_at.is_null()),
    )
    .set(access_tokens::revoked_at.eq(to_db_time(now)))
    .execute(conn)?;
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::scope.eq(scope))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(to_db_time(now)))
    .execute(conn)?;
    Ok(())
}

pub struct RefreshRecord<'a> {
    pub token_hash: &'a str,
    pub family_id: &'a str,
    pub client_id: &'a str,
    pub psu_id: &'a str,
    pub scope: &'a str,
    pub code_hash: Option<&'a str>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

pub fn insert_refresh(conn: &mut DbConn, r: &RefreshRecord<'_>) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::token_hash.eq(r.token_hash),
            refresh_tokens::family_id.eq(r.family_id),
            refresh_tokens::client_id.eq(r.client_id),
            refresh_tokens::psu_id.eq(r.psu_id),
            refresh_tokens::scope.eq(r.scope),
            refresh_tokens::code_hash.eq(r.code_hash),
            refresh_tokens::created_at.eq(to_db_time(r.created_at)),
            refresh_tokens::expires_at.eq(to_db_time(r.expires_at)),
        ))
        .execute(conn)
        .map(|_| ())
}

/// A stored refresh token, as the grant and introspection see it.
#[derive(Debug, Clone, Queryable)]
pub struct StoredRefresh {
    pub token_hash: String,
    pub family_id: String,
    pub client_id: String,
    pub psu_id: String,
    pub scope: String,
    pub code_hash: Option<String>,
    pub created_at: time::PrimitiveDateTime,
    pub expires_at: time::PrimitiveDateTime,
    pub rotated_at: Option<time::PrimitiveDateTime>,
    pub revoked_at: Option<time::PrimitiveDateTime>,
}

pub fn find_refresh(conn: &mut DbConn, token_hash: &str) -> QueryResult<Option<StoredRefresh>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(refresh_tokens::all_columns)
        .first(conn)
        .optional()
}

/// Marks a refresh token used; false if another request rotated it first.
pub fn rotate_refresh(
    conn: &mut DbConn,
    token_hash: &str,
    now: OffsetDateTime,
) -> QueryResult<bool> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .filter(refresh_tokens::rotated_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::rotated_at.eq(to_db_time(now)))
    .execute(conn)
    .map(|n| n == 1)
}
