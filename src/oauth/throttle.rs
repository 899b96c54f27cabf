//! Brute-force protection for PSU logins (PSD2 RTS Art. 4(3)(b)): after at most
//! five failed attempts in a row a username is blocked for a while. Kept in the
//! database, so every replica sees the same count.

use diesel::prelude::*;
use time::{Duration, OffsetDateTime};

use crate::store::schema::login_failures;
use crate::store::{Store, StoreError, from_db_time, to_db_time};

#[derive(Debug, Clone)]
pub struct LoginThrottle {
    store: Store,
    max_failures: u32,
    block_for: Duration,
}

/// Whether a username may try to log in now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginGate {
    Open,
    Blocked { retry_after: u64 },
}

/// Usernames are compared case-insensitively; the key is never logged.
fn key(username: &str) -> String {
    username.trim().to_lowercase()
}

impl LoginThrottle {
    pub fn new(store: Store, max_failures: u32, block_seconds: u64) -> LoginThrottle {
        LoginThrottle {
            store,
            max_failures: max_failures.max(1),
            block_for: Duration::seconds(i64::try_from(block_seconds).unwrap_or(i64::MAX / 2)),
        }
    }

    pub async fn gate(&self, username: &str, now: OffsetDateTime) -> Result<LoginGate, StoreError> {
        let username = key(username);
        let blocked_until: Option<Option<time::PrimitiveDateTime>> = self
            .store
            .read(move |c| {
                login_failures::table
                    .filter(login_failures::username.eq(username))
                    .select(login_failures::blocked_until)
                    .first(c)
                    .optional()
                    .map_err(StoreError::from)
            })
            .await?;
        Ok(match blocked_until.flatten().map(from_db_time) {
            Some(until) if until > now => LoginGate::Blocked {
                retry_after: u64::try_from((until - now).whole_seconds())
                    .unwrap_or(1)
                    .max(1),
            },
            _ => LoginGate::Open,
        })
    }

    /// Counts a failure; returns the gate after it (blocked once the limit is hit).
    pub async fn record_failure(
        &self,
        username: &str,
        now: OffsetDateTime,
    ) -> Result<LoginGate, StoreError> {
        let username = key(username);
        let max = i32::try_from(self.max_failures).unwrap_or(5);
        let block_for = self.block_for;
        self.store
            .write(move |c| {
                let current: Option<(i32, Option<time::PrimitiveDateTime>)> = login_failures::table
                    .filter(login_failures::username.eq(&username))
                    .select((login_failures::failures, login_failures::blocked_until))
                    .first(c)
                    .optional()?;
                // A block that has run out starts a fresh count.
                let previous = match current {
                    Some((_, Some(until))) if from_db_time(until) <= now => 0,
                    Some((n, _)) => n,
                    None => 0,
                };
                let failures = previous + 1;
                let blocked_until = (failures >= max).then(|| to_db_time(now + block_for));
                if current.is_some() {
                    diesel::update(
                        login_failures::table.filter(login_failures::username.eq(&username)),
                    )
                    .set((
                        login_failures::failures.eq(failures),
                        login_failures::blocked_until.eq(blocked_until),
                        login_failures::last_failure.eq(to_db_time(now)),
                    ))
                    .execute(c)?;
                } else {
                    diesel::insert_into(login_failures::table)
                        .values((
                            login_failures::username.eq(&username),
                            login_failures::failures.eq(failures),
                            login_failures::blocked_until.eq(blocked_until),
                            login_failures::last_failure.eq(to_db_time(now)),
                        ))
                        .execute(c)?;
                }
                Ok(match blocked_until {
                    Some(_) => LoginGate::Blocked {
                        retry_after: u64::try_from(block_for.whole_seconds()).unwrap_or(1),
                    },
                    None => LoginGate::Open,
                })
            })
            .await
    }

    pub async fn record_success(&self, username: &str) -> Result<(), StoreError> {
        let username = key(username);
        self.store
            .write(move |c| {
                diesel::delete(login_failures::table.filter(login_failures::username.eq(username)))
                    .execute(c)?;
                Ok(())
            })
            .await
    }
}
