//! What the consent page needs from AIS consents: is a consent awaiting this
//! client's PSU, what does it ask (for the review page), does the PSU own every
//! account it names, and what exactly is granted on approval.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::consent::{
    AisAccess, ConsentError, ConsentId, ConsentKind, ConsentLifecycle, ConsentStatus, GrantedAccess,
};
use crate::core::{AccountId, PsuId};
use crate::oauth::authorize::{AuthorizeError, PickableAccount, Review};
use crate::oauth::scope::TokenScope;
use crate::oauth::{AuthServer, OAuthFailure};

impl From<crate::payments::PaymentError> for AuthorizeError {
    fn from(e: crate::payments::PaymentError) -> Self {
        AuthorizeError::Server(e.to_string())
    }
}

impl From<ConsentError> for AuthorizeError {
    fn from(e: ConsentError) -> Self {
        AuthorizeError::Server(e.to_string())
    }
}

impl AuthServer {
    /// Whether `consent_id` is this client's consent and still `received`.
    pub(super) async fn consent_awaits_authorization(
        &self,
        client_id: &str,
        consent_id: &str,
    ) -> Result<bool, AuthorizeError> {
        let Ok(id) = ConsentId::parse(consent_id) else {
            return Ok(false);
        };
        match self.consents.get(client_id, &id).await {
            Ok(consent) => Ok(consent.status == ConsentStatus::Received),
            Err(ConsentError::Unknown) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The review page for `consent_id`, or `None` when the consent names an
    /// account the PSU does not hold.
    pub(super) async fn review(
        &self,
        consent_id: &str,
        psu: &PsuId,
        client_name: &str,
    ) -> Result<Option<Review>, AuthorizeError> {
        let id = ConsentId::parse(consent_id)?;
        let consent = self.consents.find(&id).await?;
        let owned = self.psu_accounts(psu).await?;
        let (access, pick) = match &consent.access {
            AisAccess::Dedicated(d) => {
                let named = d.accounts().iter().map(|r| r.iban.as_str().to_owned());
                if named.clone().any(|iban| !owned.contains_key(&iban)) {
                    return Ok(None);
                }
                let list = |refs: &[crate::consent::AccountReference]| -> Vec<String> {
                    refs.iter().map(|r| r.iban.as_str().to_owned()).collect()
                };
                let mut lines = vec![("Account details".to_owned(), list(d.accounts()))];
                if !d.balances().is_empty() {
                    lines.push(("Balances".to_owned(), list(d.balances())));
                }
                if !d.transactions().is_empty() {
                    lines.push(("Transactions".to_owned(), list(d.transactions())));
                }
                (lines, None)
            }
            AisAccess::AvailableAccounts(_) => (
                vec![],
                Some((
                    "the list of your accounts".to_owned(),
                    owned.into_values().collect(),
                )),
            ),
            AisAccess::AvailableAccountsWithBalance(_) => (
                vec![],
                Some((
                    "the list of your accounts with their balances".to_owned(),
                    owned.into_values().collect(),
                )),
            ),
            AisAccess::AllPsd2(_) => (
                vec![],
                Some((
                    "account details, balances and transactions".to_owned(),
                    owned.into_values().collect::<Vec<PickableAccount>>(),
                )),
            ),
        };
        Ok(Some(Review {
            client_name: client_name.to_owned(),
            access,
            pick,
            valid_until: consent.valid_until.to_string(),
            frequency_per_day: consent.frequency_per_day,
            recurring: consent.recurring,
            otp_prompt: None,
            payment: None,
            funds: None,
            offer_trust: false,
            error: None,
        }))
    }

    pub(super) async fn reject_consent(&self, consent_id: &str) -> Result<(), AuthorizeError> {
        let id = ConsentId::parse(consent_id)?;
        match self.consents.reject(&id).await {
            // Already final (e.g. timed out): nothing more to reject.
            Ok(_) | Err(ConsentError::StatusInvalid(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// What approving grants: the named accounts by id, or the accounts the PSU
    /// picked. `Ok(Err(text))` asks the PSU to correct the form.
    pub(super) async fn grant_for(
        &self,
        consent_id: &str,
        psu: &PsuId,
        picked: &[String],
    ) -> Result<Result<GrantedAccess, String>, AuthorizeError> {
        let id = ConsentId::parse(consent_id)?;
        let consent = self.consents.find(&id).await?;
        let owned: BTreeMap<String, PickableAccount> = self.psu_accounts(psu).await?;
        let by_iban = |iban: &str| owned.get(iban).map(|a| AccountId(a.id.clone()));
        let granted = match &consent.access {
            AisAccess::Dedicated(d) => {
                let ids = |refs: &[crate::consent::AccountReference]| -> Option<Vec<AccountId>> {
                    refs.iter().map(|r| by_iban(r.iban.as_str())).collect()
                };
                match (ids(d.accounts()), ids(d.balances()), ids(d.transactions())) {
                    (Some(accounts), Some(balances), Some(transactions)) => GrantedAccess {
                        accounts,
                        balances,
                        transactions,
                    },
                    _ => {
                        return Err(AuthorizeError::Server(
                            "consent names an account the PSU lost".into(),
                        ));
                    }
                }
            }
            other => {
                let ids: Vec<AccountId> = picked
                    .iter()
                    .filter(|p| owned.values().any(|a| &a.id == *p))
                    .map(|p| AccountId(p.clone()))
                    .collect();
                if ids.is_empty() || ids.len() != picked.len() {
                    return Ok(Err("Choose at least one of your accounts to share.".into()));
                }
                // `availableAccounts…` grant the account list only (its
                // balances for `…WithBalance`): the ids below are what the list
                // shows; `http::accounts` never lets them open an account's
                // own endpoints.
                match other {
                    AisAccess::AllPsd2(_) => GrantedAccess {
                        accounts: ids.clone(),
                        balances: ids.clone(),
                        transactions: ids,
                    },
                    AisAccess::AvailableAccountsWithBalance(_) => GrantedAccess {
                        accounts: ids.clone(),
                        balances: ids,
                        transactions: vec![],
                    },
                    _ => GrantedAccess {
                        accounts: ids,
                        balances: vec![],
                        transactions: vec![],
                    },
                }
            }
        };
        Ok(Ok(granted))
    }

    pub(super) async fn approve_consent(
        &self,
        consent_id: &str,
        psu: &PsuId,
        granted: GrantedAccess,
    ) -> Result<(), AuthorizeError> {
        let id = ConsentId::parse(consent_id)?;
        self.consents.authorize(&id, psu, granted).await?;
        Ok(())
    }

    /// When the consent a user scope names stops granting access (the end of its
    /// `validUntil` day), if it is `valid` and this client's; otherwise
    /// `invalid_grant`. `None` for a scope that names no consent (a payment).
    pub(super) async fn consent_end(
        &self,
        client_id: &str,
        scope: &TokenScope,
    ) -> Result<Option<OffsetDateTime>, OAuthFailure> {
        let now = self.clock.now();
        match scope {
            TokenScope::Ais(id) => end_of(&self.consents, client_id, id, now).await.map(Some),
            TokenScope::Piis(id) => end_of(&self.funds_consents, client_id, id, now)
                .await
                .map(Some),
            TokenScope::Pis(_) | TokenScope::Client(_) => Ok(None),
        }
    }
}

async fn end_of<K: ConsentKind>(
    consents: &ConsentLifecycle<K>,
    client_id: &str,
    consent_id: &str,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, OAuthFailure> {
    let id = ConsentId::parse(consent_id)
        .map_err(|_| OAuthFailure::InvalidGrant("unknown consent".into()))?;
    match consents.access_check(client_id, &id, now).await {
        Ok(consent) => Ok(consent
            .valid_until()
            .next_day()
            .map_or(OffsetDateTime::UNIX_EPOCH, |d| d.midnight().assume_utc())),
        Err(ConsentError::Store(e)) => Err(OAuthFailure::ServerError(e.to_string())),
        Err(e) => Err(OAuthFailure::InvalidGrant(format!("consent: {e}"))),
    }
}
