//! Confirmation-of-funds consents (Berlin Group CoF consent 2.0, PSD2 Art. 65):
//! the PSU lets one TPP (typically a card-issuing payment service provider) ask
//! "are funds available for this amount?" about **one** account of theirs, until
//! the consent ends. Nothing else: no balance, no transaction, never an amount.
//!
//! The lifecycle is the AIS one (`received` → `valid` → …, the same authorization
//! timeout, the same finalised statuses); these consents are rows of kind `piis`
//! in `consents`. What differs is what they name ([`FundsAccess`]), what the PSU
//! grants (the core's id of that one account, [`FundsGrant`]), and how long they
//! last: `POST /v2/consents/confirmation-of-funds` has no `validUntil`, so a
//! consent is valid for the bank's maximum consent validity
//! (`consents.max_validity_days`, 180 days by default) from the day of creation,
//! or until the card's `cardExpiryDate` if that comes first.
//! `frequencyPerDay` does not apply: a funds check is made when the PSU pays.

mod repo;
mod request;

use std::net::IpAddr;

use time::{Date, Duration, OffsetDateTime, UtcOffset};

use super::access::AccountReference;
use super::error::ConsentError;
use super::model::{ConsentId, ConsentStatus, Timeline};
use super::service::FundsConsentService;
use crate::core::{AccountId, PsuId};
use crate::domain::Money;
use crate::idempotency::IdempotencyKey;

pub use request::FundsConsentRequest;

/// What a confirmation-of-funds consent names: the account, and optionally the
/// card the TPP issued for it. The stored form is the request's own JSON
/// ([`FundsAccess::to_value`]), parsed back by the same parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundsAccess {
    /// The one account funds may be confirmed for.
    pub account: AccountReference,
    /// Max35Text: letters, digits and `*` (a masked number).
    pub card_number: Option<String>,
    pub card_expiry_date: Option<Date>,
    /// Max140Text, shown to the PSU.
    pub card_information: Option<String>,
    /// Max140Text, shown to the PSU.
    pub registration_information: Option<String>,
}

/// What the PSU granted on approval: the core's id of the named account, which
/// they were shown to own.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FundsGrant {
    pub account: AccountId,
}

/// A confirmation-of-funds consent. Like [`Consent`](super::Consent), `status`
/// is as of the instant it was settled at; every consent the service hands out
/// is settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundsConsent {
    pub id: ConsentId,
    /// The TPP client that created it; no other client may see or use it.
    pub client_id: String,
    pub status: ConsentStatus,
    pub access: FundsAccess,
    /// Set exactly when the consent became `valid`.
    pub granted: Option<FundsGrant>,
    /// The last day (UTC) on which the consent is usable.
    pub valid_until: Date,
    pub psu_id: Option<PsuId>,
    /// The PSU's address as the TPP reported it at creation.
    pub psu_ip_address: Option<IpAddr>,
    pub created_at: OffsetDateTime,
    /// When `status` took its current value (Berlin Group `lastActionDate`).
    pub status_changed_at: OffsetDateTime,
    pub authorized_at: Option<OffsetDateTime>,
}

impl FundsConsent {
    /// The status at `now` with the transitions time makes on its own (the same
    /// as an AIS consent's), and since when it holds.
    pub fn effective_status(
        &self,
        now: OffsetDateTime,
        authorization_timeout: Duration,
    ) -> (ConsentStatus, OffsetDateTime) {
        Timeline {
            status: self.status,
            status_changed_at: self.status_changed_at,
            created_at: self.created_at,
            valid_until: self.valid_until,
        }
        .effective_status(now, authorization_timeout)
    }

    /// Applies [`FundsConsent::effective_status`]; returns whether the status
    /// changed.
    pub fn settle(&mut self, now: OffsetDateTime, authorization_timeout: Duration) -> bool {
        let (status, since) = self.effective_status(now, authorization_timeout);
        if status == self.status {
            return false;
        }
        self.status = status;
        self.status_changed_at = since;
        true
    }

    /// Berlin Group `lastActionDate`: the day of the last status change.
    pub fn last_action_date(&self) -> Date {
        self.status_changed_at.date()
    }

    /// Whether this consent covers `check`: the same IBAN (and, where both name
    /// a sub-account currency, the same currency) and, where both name a card,
    /// the same card. Deciding on what the TPP sent, never on whether the
    /// account exists, keeps the answer the same for any account outside it.
    pub fn covers(&self, check: &FundsCheck) -> bool {
        let consented = &self.access.account;
        let same_account = consented.iban == check.account.iban
            && match (consented.currency, check.account.currency) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            };
        let same_card = match (&self.access.card_number, &check.card_number) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        same_account && same_card
    }
}

/// A `POST /v1/funds-confirmations` body (Berlin Group `confirmationOfFunds`),
/// validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundsCheck {
    pub account: AccountReference,
    pub amount: Money,
    pub card_number: Option<String>,
    /// The merchant, as information for the PSU (Max70Text).
    pub payee: Option<String>,
}

impl FundsConsentService {
    /// Creates a `received` confirmation-of-funds consent for `client_id` from a
    /// `POST /v2/consents/confirmation-of-funds` body, idempotently, with the same
    /// Idempotency-Key semantics as AIS consents.
    #[tracing::instrument(skip_all, fields(client.id = %client_id))]
    pub async fn create(
        &self,
        client_id: &str,
        key: &IdempotencyKey,
        body: &serde_json::Value,
        psu_ip_address: Option<IpAddr>,
    ) -> Result<FundsConsent, ConsentError> {
        let now = self.now();
        let today = now.to_offset(UtcOffset::UTC).date();
        let request = FundsConsentRequest::parse(body, today, self.settings())?;
        let fresh = FundsConsent {
            id: ConsentId::generate(),
            client_id: client_id.to_owned(),
            status: ConsentStatus::Received,
            access: request.access,
            granted: None,
            valid_until: request.valid_until,
            psu_id: None,
            psu_ip_address,
            created_at: now,
            status_changed_at: now,
            authorized_at: None,
        };
        self.insert_idempotently(fresh, key, body, now).await
    }

    /// The PSU approved on the consent page: `received` → `valid`, recording the
    /// PSU and the core's id of the account they were shown to own.
    #[tracing::instrument(skip_all, fields(consent.id = %id, psu.id = %psu))]
    pub async fn authorize(
        &self,
        id: &ConsentId,
        psu: &PsuId,
        account: AccountId,
    ) -> Result<FundsConsent, ConsentError> {
        self.authorize_with(id, psu, &FundsGrant { account }).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Currency, Iban};
    use time::macros::{date, datetime};

    const A: &str = "DE89370400440532013000";
    const B: &str = "GB82WEST12345698765432";

    fn reference(iban: &str, currency: Option<&str>) -> AccountReference {
        AccountReference {
            iban: Iban::parse(iban).unwrap(),
            currency: currency.map(|c| Currency::parse(c).unwrap()),
        }
    }

    fn consent(card: Option<&str>, currency: Option<&str>) -> FundsConsent {
        let created = datetime!(2026-03-02 10:00 UTC);
        FundsConsent {
            id: ConsentId::generate(),
            client_id: "tpp".into(),
            status: ConsentStatus::Received,
            access: FundsAccess {
                account: reference(A, currency),
                card_number: card.map(str::to_owned),
                card_expiry_date: None,
                card_information: None,
                registration_information: None,
            },
            granted: None,
            valid_until: date!(2026 - 08 - 29),
            psu_id: None,
            psu_ip_address: None,
            created_at: created,
            status_changed_at: created,
            authorized_at: None,
        }
    }

    fn check(iban: &str, currency: Option<&str>, card: Option<&str>) -> FundsCheck {
        FundsCheck {
            account: reference(iban, currency),
            amount: Money::parse_positive("1.00", Currency::EUR).unwrap(),
            card_number: card.map(str::to_owned),
            payee: None,
        }
    }

    #[test]
    fn a_consent_covers_its_own_account_only() {
        let c = consent(None, None);
        assert!(c.covers(&check(A, None, None)));
        assert!(c.covers(&check(A, Some("EUR"), Some("1234"))));
        assert!(!c.covers(&check(B, None, None)));
    }

    #[test]
    fn a_sub_account_currency_and_a_card_must_match_when_both_are_named() {
        let c = consent(Some("1234"), Some("USD"));
        assert!(c.covers(&check(A, Some("USD"), Some("1234"))));
        assert!(c.covers(&check(A, None, None)));
        assert!(!c.covers(&check(A, Some("EUR"), None)));
        assert!(!c.covers(&check(A, None, Some("9999"))));
    }

    #[test]
    fn a_funds_consent_times_out_and_expires_like_an_ais_consent() {
        let timeout = Duration::minutes(15);
        let mut c = consent(None, None);
        assert!(!c.settle(c.created_at + Duration::minutes(14), timeout));
        assert!(c.settle(c.created_at + Duration::minutes(16), timeout));
        assert_eq!(c.status, ConsentStatus::Rejected);

        let mut c = consent(None, None);
        c.status = ConsentStatus::Valid;
        assert!(c.settle(datetime!(2026-08-30 00:00 UTC), timeout));
        assert_eq!(c.status, ConsentStatus::Expired);
        assert_eq!(c.last_action_date(), date!(2026 - 08 - 30));
    }
}
