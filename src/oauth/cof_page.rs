//! The consent page for a confirmation-of-funds consent (scope
//! `PIIS:<consentId>`): after login the PSU sees the TPP's name, exactly the one
//! account (and the card, if the TPP named one), and that the TPP may ask "are
//! funds available?" for it until the consent's last day. The PSU must own the
//! account, otherwise the page says so and the consent is rejected. The one-time
//! code is asked as for AIS consents (first authorization for this TPP, and again
//! after the renewal period), bound to the consent (`ScaContext::Consent`).
//! Approving makes the consent `valid` with the account's core id; denying
//! makes it `rejected`.

use crate::consent::{ConsentError, ConsentId, ConsentStatus, FundsConsent};
use crate::core::{AccountId, PsuId, ScaContext};
use crate::oauth::AuthServer;
use crate::oauth::authorize::{
    AuthorizeError, Decision, FundsSummary, PsuStep, Review, Session, StepOutcome,
};

fn server(e: impl std::fmt::Display) -> AuthorizeError {
    AuthorizeError::Server(e.to_string())
}

fn context(consent_id: &ConsentId) -> ScaContext {
    ScaContext::Consent {
        consent_id: consent_id.as_str().to_owned(),
    }
}

fn review(client_name: &str, c: &FundsConsent, otp_prompt: Option<String>) -> Review {
    let access = &c.access;
    let card_ending = access.card_number.as_deref().map(|n| {
        let tail = n.len().saturating_sub(4);
        n.get(tail..).unwrap_or(n).to_owned()
    });
    Review {
        client_name: client_name.to_owned(),
        access: vec![],
        pick: None,
        valid_until: c.valid_until.to_string(),
        frequency_per_day: 0,
        recurring: true,
        otp_prompt,
        payment: None,
        funds: Some(Box::new(FundsSummary {
            iban: access.account.iban.as_str().to_owned(),
            valid_until: c.valid_until.to_string(),
            card_ending,
            card_information: access.card_information.clone(),
            registration_information: access.registration_information.clone(),
        })),
        offer_trust: false,
        error: None,
    }
}

impl AuthServer {
    /// Whether `consent_id` is this client's confirmation-of-funds consent and
    /// still `received`.
    pub(super) async fn funds_consent_awaits_authorization(
        &self,
        client_id: &str,
        consent_id: &str,
    ) -> Result<bool, AuthorizeError> {
        let Ok(id) = ConsentId::parse(consent_id) else {
            return Ok(false);
        };
        match self.funds_consents.get(client_id, &id).await {
            Ok(consent) => Ok(consent.status == ConsentStatus::Received),
            Err(ConsentError::Unknown) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The consent of the session if it still awaits the PSU; otherwise the
    /// dead end to show.
    async fn funds_consent_to_review(
        &self,
        session: &Session,
        consent_id: &str,
    ) -> Result<Result<FundsConsent, StepOutcome>, AuthorizeError> {
        let id = ConsentId::parse(consent_id)?;
        let consent = self.funds_consents.find(&id).await?;
        if consent.status == ConsentStatus::Received {
            return Ok(Ok(consent));
        }
        let status = consent.status;
        let end = self
            .dead_end(
                session,
                "This request is no longer awaiting approval",
                format!("The request's status is {status}; there is nothing to approve."),
                "the consent is not awaiting authorization",
            )
            .await?;
        Ok(Err(end))
    }

    /// The core's id of the consent's account if `psu` owns it.
    async fn owned_account(
        &self,
        psu: &PsuId,
        consent: &FundsConsent,
    ) -> Result<Option<AccountId>, AuthorizeError> {
        let owned = self.psu_accounts(psu).await?;
        Ok(owned
            .get(consent.access.account.iban.as_str())
            .map(|a| AccountId(a.id.clone())))
    }

    /// Rejects the consent because the PSU does not own its account, and says so.
    async fn funds_not_owner(
        &self,
        session: &Session,
        consent: &FundsConsent,
        client_name: &str,
    ) -> Result<StepOutcome, AuthorizeError> {
        match self.funds_consents.reject(&consent.id).await {
            // Already final (e.g. timed out): nothing more to reject.
            Ok(_) | Err(ConsentError::StatusInvalid(_)) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(consent.id = %consent.id, "confirmation-of-funds consent names an account the PSU does not hold; rejected");
        self.dead_end(
            session,
            "This request cannot be approved",
            format!(
                "{client_name} asked to confirm funds on an account that is not yours. \
                 The request has been rejected; no access was granted."
            ),
            "the consent names an account the PSU does not hold",
        )
        .await
    }

    /// The PSU logged in for a confirmation-of-funds consent.
    pub(super) async fn funds_login(
        &self,
        session: &Session,
        consent_id: &str,
        psu: PsuId,
        client_name: String,
    ) -> Result<StepOutcome, AuthorizeError> {
        let consent = match self.funds_consent_to_review(session, consent_id).await? {
            Ok(consent) => consent,
            Err(end) => return Ok(end),
        };
        if self.owned_account(&psu, &consent).await?.is_none() {
            return self.funds_not_owner(session, &consent, &client_name).await;
        }
        let now = self.clock.now();
        let sca_required = self.sca_due(&psu, &session.client_id, now).await?;
        let (prompt, challenge_id) = if sca_required {
            let challenge = self
                .core
                .issue_sca_challenge(&psu, &context(&consent.id))
                .await
                .map_err(server)?;
            (Some(challenge.prompt), Some(challenge.id.0))
        } else {
            (None, None)
        };
        let csrf = self
            .update_session(session, Some(psu.0.clone()), sca_required, challenge_id)
            .await?;
        Ok(StepOutcome {
            step: PsuStep::Review(review(&client_name, &consent, prompt)),
            csrf,
        })
    }

    /// The PSU's decision on a confirmation-of-funds consent.
    pub(super) async fn funds_decide(
        &self,
        session: &Session,
        consent_id: &str,
        psu: PsuId,
        decision: Decision,
    ) -> Result<StepOutcome, AuthorizeError> {
        let id = ConsentId::parse(consent_id)?;
        if !decision.approve {
            if !self.finish_session(session).await? {
                return Err(AuthorizeError::Forbidden {
                    text: "This form was already submitted.".into(),
                });
            }
            match self.funds_consents.reject(&id).await {
                Ok(_) | Err(ConsentError::StatusInvalid(_)) => {}
                Err(e) => return Err(e.into()),
            }
            tracing::info!(consent.id = %id, "PSU denied the confirmation-of-funds consent");
            return Ok(self.denied_redirect(session, "the PSU denied the request"));
        }

        let client_name = self.client_display_name(&session.client_id).await;
        let consent = match self.funds_consent_to_review(session, consent_id).await? {
            Ok(consent) => consent,
            Err(end) => return Ok(end),
        };
        let now = self.clock.now();
        if session.sca_required {
            if let Some(retry) = self
                .verify_otp(session, &psu, &context(&id), decision.otp.as_ref())
                .await?
            {
                let mut page = review(&client_name, &consent, Some(retry.prompt));
                page.error = Some(retry.error.into());
                let csrf = self
                    .update_session(session, Some(psu.0.clone()), true, retry.challenge_id)
                    .await?;
                return Ok(StepOutcome {
                    step: PsuStep::Review(page),
                    csrf,
                });
            }
            self.record_sca(&psu.0, &session.client_id, now).await?;
        }

        // Ownership is decided again at approval: the PSU may have lost the
        // account since the page was shown.
        let Some(account) = self.owned_account(&psu, &consent).await? else {
            return self.funds_not_owner(session, &consent, &client_name).await;
        };
        if !self.finish_session(session).await? {
            return Err(AuthorizeError::Forbidden {
                text: "This form was already submitted.".into(),
            });
        }
        match self.funds_consents.authorize(&id, &psu, account).await {
            Ok(_) => {}
            Err(ConsentError::StatusInvalid(status)) => {
                return self
                    .dead_end(
                        session,
                        "This request is no longer awaiting approval",
                        format!("The request's status is {status}; nothing was approved."),
                        "the consent is not awaiting authorization",
                    )
                    .await;
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(client.id = %session.client_id, consent.id = %id, "confirmation-of-funds consent approved; authorization code issued");
        self.redirect_with_code(session, &psu, now).await
    }
}
