//! `frequencyPerDay` (PSD2 RTS Art. 36(5)): how often a TPP may read account
//! information on its own, without the PSU asking for it.
//!
//! # Counting rules
//! - A read is counted per **consent, endpoint, account and UTC day**. The
//!   endpoints are the five of [`AisEndpoint`]; the account list has no account.
//!   Each counter allows the consent's `frequencyPerDay` reads (1 for a one-off
//!   consent) and starts again at 00:00 UTC.
//! - **Only successful reads count**: the handler checks the counter
//!   ([`FrequencyLimiter::check`]), reads the core, and only then counts the read
//!   ([`FrequencyLimiter::record`]). A read that fails (the core is down, the
//!   transaction is unknown, the consent does not cover it) is not counted.
//! - A read that would go over the limit is refused with
//!   [`FrequencyError::Exceeded`] and nothing is served. The check before reading
//!   keeps a spent counter from reaching the core at all; the count after reading
//!   is atomic, so concurrent reads that passed the check cannot overshoot either.
//! - With the PSU present (`PSU-IP-Address` given), reads under a **recurring**
//!   consent are neither counted nor limited ([`Charge::PsuPresent`]); under a
//!   **one-off** consent every read counts, the header notwithstanding.
//! - **Follow-up pages are free.** A transaction listing is identified by its
//!   query — `bookingStatus`, `dateFrom`, `dateTo` and `itemsPerPage`, which every
//!   `_links` page link carries, dates resolved — and served page by page
//!   (`pageIndex`). Once a page of a listing has been served for a consent and
//!   account on a UTC day (counted, or read with the PSU present), every *further*
//!   page (`pageIndex > 0`) of that same listing on that day is free. Page 0 always
//!   counts, so re-reading an account's newest transactions is never free, and a
//!   page of a listing that nobody started today counts like page 0.
//!
//! Counters live in the database (`repo`), so they survive restarts and hold
//! across gateway replicas.

mod repo;

use time::{Date, OffsetDateTime, UtcOffset};

use super::model::{AccessKind, Consent, ConsentId};
use crate::core::AccountId;
use crate::store::{Store, StoreError};

/// The account-information endpoints, each counted on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AisEndpoint {
    /// `GET /v1/accounts`
    AccountList,
    /// `GET /v1/accounts/{accountId}`
    AccountDetails,
    /// `GET /v1/accounts/{accountId}/balances`
    Balances,
    /// `GET /v1/accounts/{accountId}/transactions`
    Transactions,
    /// `GET /v1/accounts/{accountId}/transactions/{transactionId}`
    TransactionDetails,
}

impl AisEndpoint {
    pub fn as_str(&self) -> &'static str {
        match self {
            AisEndpoint::AccountList => "accounts",
            AisEndpoint::AccountDetails => "account",
            AisEndpoint::Balances => "balances",
            AisEndpoint::Transactions => "transactions",
            AisEndpoint::TransactionDetails => "transaction",
        }
    }

    /// The access kind a consent must grant for an account to read it here.
    pub fn access_kind(&self) -> AccessKind {
        match self {
            AisEndpoint::AccountList | AisEndpoint::AccountDetails => AccessKind::Accounts,
            AisEndpoint::Balances => AccessKind::Balances,
            AisEndpoint::Transactions | AisEndpoint::TransactionDetails => AccessKind::Transactions,
        }
    }
}

/// How a read is charged against `frequencyPerDay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    /// The PSU is present on a recurring consent: not counted, not limited.
    PsuPresent,
    /// Counted; at most `limit` per counter and UTC day.
    Counted { limit: u32 },
}

impl Charge {
    /// The charge of a read under `consent`, with or without the PSU present.
    pub fn of(consent: &Consent, psu_present: bool) -> Charge {
        if consent.recurring && psu_present {
            Charge::PsuPresent
        } else {
            Charge::Counted {
                limit: consent.frequency_per_day.max(1),
            }
        }
    }
}

/// One page of a transaction listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingPage {
    /// The listing's identity: its query with dates resolved
    /// (`bookingStatus|dateFrom|dateTo|itemsPerPage`).
    pub listing: String,
    /// `pageIndex`, from 0.
    pub page: u32,
}

/// One account-information read, as `frequencyPerDay` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AisRead {
    pub consent: ConsentId,
    pub endpoint: AisEndpoint,
    /// `None` for the account list.
    pub account: Option<AccountId>,
    /// For transaction lists: which page of which listing.
    pub page: Option<ListingPage>,
    pub charge: Charge,
}

/// What [`FrequencyLimiter::check`] decided for a read; pass it to
/// [`FrequencyLimiter::record`] once the read succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The read will be counted.
    Count { limit: u32 },
    /// The PSU is present on a recurring consent.
    PsuPresent,
    /// A further page of a listing already served today.
    FollowUpPage,
}

#[derive(Debug, thiserror::Error)]
pub enum FrequencyError {
    /// The counter for this consent, endpoint and account is spent for today.
    #[error("frequencyPerDay exceeded; retry in {retry_after} s")]
    Exceeded {
        /// Seconds until the counter starts again (00:00 UTC).
        retry_after: u64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for FrequencyError {
    fn from(e: diesel::result::Error) -> Self {
        FrequencyError::Store(StoreError::Query(e))
    }
}

/// The UTC day `now` falls on; counters start again when it changes.
pub fn utc_day(now: OffsetDateTime) -> Date {
    now.to_offset(UtcOffset::UTC).date()
}

/// Whole seconds from `now` to the next 00:00 UTC (at least 1).
pub fn seconds_to_next_utc_day(now: OffsetDateTime) -> u64 {
    let now = now.to_offset(UtcOffset::UTC);
    let next = now
        .date()
        .next_day()
        .map_or(now, |d| d.midnight().assume_utc());
    let left = next - now;
    let secs = left.whole_seconds() + i64::from(left.subsec_nanoseconds() > 0);
    u64::try_from(secs).unwrap_or(1).max(1)
}

/// The `frequencyPerDay` counters over the gateway's database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FrequencyLimiter {
    store: Store,
}

impl FrequencyLimiter {
    pub fn new(store: Store) -> FrequencyLimiter {
        FrequencyLimiter { store }
    }

    /// Before reading: decides how `read` is charged and refuses it if it would be
    /// counted and its counter is already spent today.
    #[tracing::instrument(skip_all, fields(consent.id = %read.consent, ais.endpoint = read.endpoint.as_str()))]
    pub async fn check(
        &self,
        read: &AisRead,
        now: OffsetDateTime,
    ) -> Result<Admission, FrequencyError> {
        let limit = match read.charge {
            Charge::PsuPresent => return Ok(Admission::PsuPresent),
            Charge::Counted { limit } => limit,
        };
        let read = read.clone();
        let day = utc_day(now);
        let used = self
            .store
            .read(move |conn| -> Result<Option<u32>, FrequencyError> {
                if let (Some(page), Some(account)) = (&read.page, &read.account)
                    && page.page > 0
                    && repo::listing_served(
                        conn,
                        &read.consent,
                        account.as_str(),
                        day,
                        &page.listing,
                    )?
                {
                    return Ok(None);
                }
                Ok(Some(repo::calls(conn, &key(&read, day))?))
            })
            .await?;
        match used {
            None => Ok(Admission::FollowUpPage),
            Some(used) if used >= limit => Err(FrequencyError::Exceeded {
                retry_after: seconds_to_next_utc_day(now),
            }),
            Some(_) => Ok(Admission::Count { limit }),
        }
    }

    /// After a successful read: counts it (atomically; [`FrequencyError::Exceeded`]
    /// if concurrent reads took the last call meanwhile, in which case nothing may
    /// be served) and remembers the listing it served a page of.
    #[tracing::instrument(skip_all, fields(consent.id = %read.consent, ais.endpoint = read.endpoint.as_str()))]
    pub async fn record(
        &self,
        read: &AisRead,
        admission: Admission,
        now: OffsetDateTime,
    ) -> Result<(), FrequencyError> {
        let limit = match admission {
            Admission::FollowUpPage => return Ok(()),
            Admission::PsuPresent if read.page.is_none() => return Ok(()),
            Admission::PsuPresent => None,
            Admission::Count { limit } => Some(limit),
        };
        let read = read.clone();
        let day = utc_day(now);
        self.store
            .write(move |conn| {
                if let Some(limit) = limit
                    && !repo::take_call(conn, &key(&read, day), limit)?
                {
                    return Err(FrequencyError::Exceeded {
                        retry_after: seconds_to_next_utc_day(now),
                    });
                }
                if let (Some(page), Some(account)) = (&read.page, &read.account) {
                    repo::record_listing(
                        conn,
                        &read.consent,
                        account.as_str(),
                        day,
                        &page.listing,
                    )?;
                }
                Ok(())
            })
            .await
    }
}

fn key(read: &AisRead, day: Date) -> repo::CounterKey<'_> {
    repo::CounterKey {
        consent: &read.consent,
        endpoint: read.endpoint,
        account: read.account.as_ref().map(AccountId::as_str),
        day,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::tests::TestDb;
    use diesel::prelude::*;
    use time::macros::datetime;

    #[test]
    fn retry_after_runs_to_the_next_utc_midnight() {
        assert_eq!(
            seconds_to_next_utc_day(datetime!(2026-03-02 23:59:30 UTC)),
            30
        );
        assert_eq!(
            seconds_to_next_utc_day(datetime!(2026-03-02 00:00 UTC)),
            86_400
        );
        // 01:00 at +02:00 is 23:00 UTC the day before.
        assert_eq!(
            seconds_to_next_utc_day(datetime!(2026-03-02 01:00 +2)),
            3_600
        );
        assert_eq!(
            seconds_to_next_utc_day(datetime!(2026-03-02 23:59:59.5 UTC)),
            1
        );
    }

    fn read(endpoint: AisEndpoint, account: Option<&str>, limit: u32) -> AisRead {
        AisRead {
            consent: ConsentId::generate(),
            endpoint,
            account: account.map(|a| AccountId(a.into())),
            page: None,
            charge: Charge::Counted { limit },
        }
    }

    fn exceeded(r: Result<impl std::fmt::Debug, FrequencyError>) -> bool {
        matches!(r, Err(FrequencyError::Exceeded { .. }))
    }

    #[tokio::test]
    async fn concurrent_reads_never_take_more_than_the_limit() {
        let db = TestDb::new();
        let limiter = FrequencyLimiter::new(db.store.clone());
        let now = datetime!(2026-03-02 10:00 UTC);
        let read = read(AisEndpoint::Balances, Some("acc-1"), 4);
        let admission = limiter.check(&read, now).await.unwrap();
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (limiter, read) = (limiter.clone(), read.clone());
                tokio::spawn(async move { limiter.record(&read, admission, now).await })
            })
            .collect();
        let mut taken = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => taken += 1,
                Err(FrequencyError::Exceeded { retry_after }) => assert_eq!(retry_after, 50_400),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(taken, 4);
        assert!(exceeded(limiter.check(&read, now).await));
    }

    #[tokio::test]
    async fn counters_are_per_endpoint_and_account_and_start_again_each_utc_day() {
        let db = TestDb::new();
        let limiter = FrequencyLimiter::new(db.store.clone());
        let now = datetime!(2026-03-02 23:00 UTC);
        let spent = read(AisEndpoint::Balances, Some("acc-1"), 1);
        limiter
            .record(&spent, Admission::Count { limit: 1 }, now)
            .await
            .unwrap();
        assert!(exceeded(limiter.check(&spent, now).await));
        let same_consent = |endpoint, account: Option<&str>| AisRead {
            endpoint,
            account: account.map(|a| AccountId(a.into())),
            ..spent.clone()
        };
        for other in [
            same_consent(AisEndpoint::Balances, Some("acc-2")),
            same_consent(AisEndpoint::Transactions, Some("acc-1")),
            same_consent(AisEndpoint::AccountList, None),
        ] {
            assert_eq!(
                limiter.check(&other, now).await.unwrap(),
                Admission::Count { limit: 1 }
            );
        }
        let tomorrow = now + time::Duration::hours(1);
        limiter
            .record(&spent, Admission::Count { limit: 1 }, tomorrow)
            .await
            .unwrap();
        // The first count of the new day removed the old day's row.
        let rows: i64 = db
            .store
            .read(|c| {
                crate::store::schema::ais_access_counts::table
                    .count()
                    .get_result(c)
                    .map_err(StoreError::from)
            })
            .await
            .unwrap();
        assert_eq!(rows, 1);
    }

    #[tokio::test]
    async fn only_further_pages_of_a_listing_served_today_are_free() {
        let db = TestDb::new();
        let limiter = FrequencyLimiter::new(db.store.clone());
        let now = datetime!(2026-03-02 10:00 UTC);
        let page = |listing: &str, page| AisRead {
            page: Some(ListingPage {
                listing: listing.into(),
                page,
            }),
            ..read(AisEndpoint::Transactions, Some("acc-1"), 4)
        };
        let first = page("booked|2026-01-01|2026-03-02|7", 0);
        let counted = Admission::Count { limit: 4 };
        // A later page of a listing nobody started counts.
        let stray = AisRead {
            consent: first.consent.clone(),
            ..page("booked|2026-01-01|2026-03-02|7", 3)
        };
        assert_eq!(limiter.check(&stray, now).await.unwrap(), counted);
        limiter.record(&first, counted, now).await.unwrap();
        assert_eq!(
            limiter.check(&stray, now).await.unwrap(),
            Admission::FollowUpPage
        );
        assert_eq!(limiter.check(&first, now).await.unwrap(), counted);
        let other_listing = AisRead {
            consent: first.consent.clone(),
            ..page("both|2026-01-01|2026-03-02|7", 1)
        };
        assert_eq!(limiter.check(&other_listing, now).await.unwrap(), counted);
        let next_day = now + time::Duration::days(1);
        assert_eq!(limiter.check(&stray, next_day).await.unwrap(), counted);
    }

    #[test]
    fn the_psu_being_present_exempts_only_recurring_consents() {
        let at = datetime!(2026-03-02 10:00 UTC);
        let consent = |recurring| Consent {
            id: ConsentId::generate(),
            client_id: "tpp".into(),
            status: crate::consent::ConsentStatus::Valid,
            access: crate::consent::AisAccess::AllPsd2(crate::consent::AccountsScope::AllAccounts),
            granted: None,
            recurring,
            valid_until: at.date(),
            frequency_per_day: if recurring { 4 } else { 1 },
            psu_id: None,
            psu_ip_address: None,
            created_at: at,
            status_changed_at: at,
            authorized_at: Some(at),
        };
        assert_eq!(Charge::of(&consent(true), true), Charge::PsuPresent);
        assert_eq!(
            Charge::of(&consent(true), false),
            Charge::Counted { limit: 4 }
        );
        assert_eq!(
            Charge::of(&consent(false), true),
            Charge::Counted { limit: 1 }
        );
    }

    #[test]
    fn each_endpoint_needs_its_own_access_kind() {
        assert_eq!(
            AisEndpoint::AccountDetails.access_kind(),
            AccessKind::Accounts
        );
        assert_eq!(AisEndpoint::Balances.access_kind(), AccessKind::Balances);
        assert_eq!(
            AisEndpoint::TransactionDetails.access_kind(),
            AccessKind::Transactions
        );
    }
}
