//! The AIS consent and its status machine, as pure values: no storage, no HTTP.

use std::fmt;
use std::net::IpAddr;

use time::{Date, Duration, OffsetDateTime};

use super::access::AisAccess;
use super::error::ConsentError;
use crate::config::ConsentsConfig;
use crate::core::{AccountId, PsuId};

/// Berlin Group `consentStatus` values the gateway uses (`partiallyAuthorised`
/// never occurs: a consent has one PSU).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsentStatus {
    /// Created by the TPP, waiting for the PSU.
    Received,
    /// Authorized by the PSU; the TPP may read what it grants.
    Valid,
    /// Denied by the PSU, refused by the bank, or not authorized in time.
    Rejected,
    /// Withdrawn by the PSU (through bank IT: `obgw consents revoke`).
    RevokedByPsu,
    /// Past its `validUntil`.
    Expired,
    /// Deleted by the TPP.
    TerminatedByTpp,
}

impl ConsentStatus {
    pub const ALL: [ConsentStatus; 6] = [
        ConsentStatus::Received,
        ConsentStatus::Valid,
        ConsentStatus::Rejected,
        ConsentStatus::RevokedByPsu,
        ConsentStatus::Expired,
        ConsentStatus::TerminatedByTpp,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            ConsentStatus::Received => "received",
            ConsentStatus::Valid => "valid",
            ConsentStatus::Rejected => "rejected",
            ConsentStatus::RevokedByPsu => "revokedByPsu",
            ConsentStatus::Expired => "expired",
            ConsentStatus::TerminatedByTpp => "terminatedByTpp",
        }
    }

    pub fn parse(s: &str) -> Option<ConsentStatus> {
        ConsentStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Finalised, as XS2A calls it: no status change ever follows.
    pub fn is_terminal(&self) -> bool {
        !matches!(self, ConsentStatus::Received | ConsentStatus::Valid)
    }
}

impl fmt::Display for ConsentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A consent's id: a random UUID in its lowercase hyphenated form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConsentId(String);

impl ConsentId {
    pub fn generate() -> ConsentId {
        ConsentId(uuid::Uuid::new_v4().to_string())
    }

    /// Parses an id from a path or header. Anything that is not a UUID cannot name
    /// a consent, so it is [`ConsentError::Unknown`], like an id that names none.
    pub fn parse(s: &str) -> Result<ConsentId, ConsentError> {
        uuid::Uuid::parse_str(s.trim())
            .map(|u| ConsentId(u.hyphenated().to_string()))
            .map_err(|_| ConsentError::Unknown)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConsentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kinds of access an AIS consent grants per account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessKind {
    /// Account details (and the account list).
    Accounts,
    Balances,
    Transactions,
}

/// What the PSU granted, by the core's account ids, fixed at authorization.
/// Normalized: every account with balance or transaction access is also in
/// `accounts`; each list is sorted and free of duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GrantedAccess {
    pub accounts: Vec<AccountId>,
    pub balances: Vec<AccountId>,
    pub transactions: Vec<AccountId>,
}

impl GrantedAccess {
    pub fn normalized(mut self) -> GrantedAccess {
        self.accounts.extend(self.balances.iter().cloned());
        self.accounts.extend(self.transactions.iter().cloned());
        for list in [
            &mut self.accounts,
            &mut self.balances,
            &mut self.transactions,
        ] {
            list.sort();
            list.dedup();
        }
        self
    }

    /// Whether `kind` access to `account` was granted.
    pub fn allows(&self, kind: AccessKind, account: &AccountId) -> bool {
        let list = match kind {
            AccessKind::Accounts => &self.accounts,
            AccessKind::Balances => &self.balances,
            AccessKind::Transactions => &self.transactions,
        };
        list.contains(account)
    }
}

/// The bank's policy for new consents, from `[consents]` in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentSettings {
    /// The highest `frequencyPerDay` granted; higher requests are lowered to it.
    pub max_frequency_per_day: u32,
    /// How long a `received` consent waits for the PSU before it is `rejected`.
    pub authorization_timeout: Duration,
    /// The longest validity granted, in days from the day of creation.
    pub max_validity_days: i64,
}

impl Default for ConsentSettings {
    fn default() -> Self {
        ConsentSettings {
            max_frequency_per_day: 4,
            authorization_timeout: Duration::minutes(15),
            max_validity_days: 180,
        }
    }
}

impl From<&ConsentsConfig> for ConsentSettings {
    fn from(c: &ConsentsConfig) -> Self {
        ConsentSettings {
            max_frequency_per_day: c.max_frequency_per_day.max(1),
            authorization_timeout: Duration::seconds(
                i64::try_from(c.authorization_timeout).unwrap_or(i64::MAX),
            ),
            max_validity_days: i64::from(c.max_validity_days),
        }
    }
}

/// An AIS consent. `status` is as stored or, once [`Consent::settle`] ran, as of
/// the instant it was settled at; every consent the service hands out is settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub id: ConsentId,
    /// The TPP client that created it; no other client may see or use it.
    pub client_id: String,
    pub status: ConsentStatus,
    /// What the TPP asked for (normalized).
    pub access: AisAccess,
    /// What the PSU granted; set exactly when the consent became `valid`.
    pub granted: Option<GrantedAccess>,
    pub recurring: bool,
    /// The last day (UTC) on which the consent is usable; already capped.
    pub valid_until: Date,
    /// Already capped, and 1 for a one-off consent.
    pub frequency_per_day: u32,
    pub psu_id: Option<PsuId>,
    /// The PSU's address as the TPP reported it at creation.
    pub psu_ip_address: Option<IpAddr>,
    pub created_at: OffsetDateTime,
    /// When `status` took its current value (Berlin Group `lastActionDate`).
    pub status_changed_at: OffsetDateTime,
    pub authorized_at: Option<OffsetDateTime>,
}

impl Consent {
    /// The status at `now` with the transitions time makes on its own, and since
    /// when it holds (see [`Timeline::effective_status`]): `received` becomes
    /// `rejected` once `authorization_timeout` has passed since creation;
    /// `received` or `valid` becomes `expired` at the start (UTC) of the day after
    /// `validUntil`; whichever comes first. Terminal statuses never change.
    pub fn effective_status(
        &self,
        now: OffsetDateTime,
        authorization_timeout: Duration,
    ) -> (ConsentStatus, OffsetDateTime) {
        self.timeline().effective_status(now, authorization_timeout)
    }

    /// Applies [`Consent::effective_status`]; returns whether the status changed.
    pub fn settle(&mut self, now: OffsetDateTime, authorization_timeout: Duration) -> bool {
        let (status, since) = self.effective_status(now, authorization_timeout);
        if status == self.status {
            return false;
        }
        self.status = status;
        self.status_changed_at = since;
        true
    }

    fn timeline(&self) -> Timeline {
        Timeline {
            status: self.status,
            status_changed_at: self.status_changed_at,
            created_at: self.created_at,
            valid_until: self.valid_until,
        }
    }

    /// Berlin Group `lastActionDate`: the day of the last status change.
    pub fn last_action_date(&self) -> Date {
        self.status_changed_at.date()
    }
}

/// What the time-driven transitions of any consent (AIS or confirmation of
/// funds) are computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeline {
    pub status: ConsentStatus,
    pub status_changed_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    /// The last day (UTC) on which the consent is usable.
    pub valid_until: Date,
}

impl Timeline {
    /// The status at `now` with the transitions time makes on its own, and since
    /// when it holds:
    /// - `received` becomes `rejected` once `authorization_timeout` has passed
    ///   since creation;
    /// - `received` or `valid` becomes `expired` at the start (UTC) of the day after
    ///   `validUntil`;
    ///
    /// whichever comes first. Terminal statuses never change.
    pub(crate) fn effective_status(
        &self,
        now: OffsetDateTime,
        authorization_timeout: Duration,
    ) -> (ConsentStatus, OffsetDateTime) {
        let expires_at = self
            .valid_until
            .next_day()
            .map(|d| d.midnight().assume_utc());
        let timed_out_at = self.created_at + authorization_timeout;
        let candidates = match self.status {
            ConsentStatus::Received => [
                Some((ConsentStatus::Rejected, timed_out_at)),
                expires_at.map(|t| (ConsentStatus::Expired, t)),
            ],
            ConsentStatus::Valid => [expires_at.map(|t| (ConsentStatus::Expired, t)), None],
            _ => [None, None],
        };
        candidates
            .into_iter()
            .flatten()
            .filter(|(_, at)| *at <= now)
            .min_by_key(|(_, at)| *at)
            .unwrap_or((self.status, self.status_changed_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::access::AccountsScope;
    use time::macros::{date, datetime};

    fn consent(status: ConsentStatus, valid_until: Date) -> Consent {
        let created = datetime!(2026-03-02 10:00 UTC);
        Consent {
            id: ConsentId::generate(),
            client_id: "tpp".into(),
            status,
            access: AisAccess::AllPsd2(AccountsScope::AllAccounts),
            granted: None,
            recurring: true,
            valid_until,
            frequency_per_day: 4,
            psu_id: None,
            psu_ip_address: None,
            created_at: created,
            status_changed_at: created,
            authorized_at: None,
        }
    }

    const TIMEOUT: Duration = Duration::minutes(15);

    #[test]
    fn statuses_round_trip_and_only_received_and_valid_are_open() {
        for status in ConsentStatus::ALL {
            assert_eq!(ConsentStatus::parse(status.as_str()), Some(status));
            let open = matches!(status, ConsentStatus::Received | ConsentStatus::Valid);
            assert_eq!(status.is_terminal(), !open, "{status}");
        }
        assert_eq!(ConsentStatus::parse("partiallyAuthorised"), None);
    }

    #[test]
    fn consent_ids_are_uuids_and_anything_else_is_unknown() {
        let id = ConsentId::generate();
        assert_eq!(ConsentId::parse(id.as_str()).unwrap(), id);
        let upper = id.as_str().to_uppercase();
        assert_eq!(ConsentId::parse(&upper).unwrap(), id);
        for bad in ["", "1", "../etc", "not-a-uuid"] {
            assert!(matches!(ConsentId::parse(bad), Err(ConsentError::Unknown)));
        }
    }

    #[test]
    fn a_received_consent_is_rejected_when_the_authorization_timeout_passes() {
        let c = consent(ConsentStatus::Received, date!(2026 - 06 - 30));
        let just_before = c.created_at + TIMEOUT - Duration::seconds(1);
        assert_eq!(
            c.effective_status(just_before, TIMEOUT).0,
            ConsentStatus::Received
        );
        let (status, since) = c.effective_status(c.created_at + Duration::hours(5), TIMEOUT);
        assert_eq!(status, ConsentStatus::Rejected);
        assert_eq!(since, c.created_at + TIMEOUT);
    }

    #[test]
    fn a_valid_consent_expires_the_day_after_valid_until() {
        let c = consent(ConsentStatus::Valid, date!(2026 - 03 - 10));
        let last_moment = datetime!(2026-03-10 23:59:59.999 UTC);
        assert_eq!(
            c.effective_status(last_moment, TIMEOUT).0,
            ConsentStatus::Valid
        );
        let (status, since) = c.effective_status(datetime!(2026-03-11 00:00 UTC), TIMEOUT);
        assert_eq!(status, ConsentStatus::Expired);
        assert_eq!(since, datetime!(2026-03-11 00:00 UTC));
    }

    #[test]
    fn a_received_consent_takes_whichever_transition_came_first() {
        // validUntil today: expiry at midnight comes before a 24 h timeout.
        let c = consent(ConsentStatus::Received, date!(2026 - 03 - 02));
        let (status, since) =
            c.effective_status(datetime!(2026-03-05 00:00 UTC), Duration::hours(24));
        assert_eq!(status, ConsentStatus::Expired);
        assert_eq!(since, datetime!(2026-03-03 00:00 UTC));
    }

    #[test]
    fn terminal_statuses_never_change() {
        let far = datetime!(2030-01-01 00:00 UTC);
        for status in ConsentStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            let mut c = consent(status, date!(2026 - 03 - 02));
            assert!(!c.settle(far, TIMEOUT), "{status}");
            assert_eq!(c.status, status);
        }
    }

    #[test]
    fn settling_records_when_the_status_changed() {
        let mut c = consent(ConsentStatus::Valid, date!(2026 - 03 - 10));
        assert!(c.settle(datetime!(2026-04-01 12:00 UTC), TIMEOUT));
        assert_eq!(c.status, ConsentStatus::Expired);
        assert_eq!(c.last_action_date(), date!(2026 - 03 - 11));
        assert!(!c.settle(datetime!(2026-05-01 12:00 UTC), TIMEOUT));
    }

    #[test]
    fn granted_access_is_normalized_so_balances_and_transactions_imply_accounts() {
        let id = |s: &str| AccountId(s.into());
        let g = GrantedAccess {
            accounts: vec![id("b"), id("a")],
            balances: vec![id("c"), id("c")],
            transactions: vec![id("a")],
        }
        .normalized();
        assert_eq!(g.accounts, vec![id("a"), id("b"), id("c")]);
        assert_eq!(g.balances, vec![id("c")]);
        assert!(g.allows(AccessKind::Accounts, &id("c")));
        assert!(g.allows(AccessKind::Transactions, &id("a")));
        assert!(!g.allows(AccessKind::Balances, &id("a")));
    }

    #[test]
    fn settings_follow_the_configuration() {
        let s = ConsentSettings::from(&ConsentsConfig::default());
        assert_eq!(s, ConsentSettings::default());
    }
}
