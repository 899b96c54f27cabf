//! The consent page for a payment (scope `PIS:<paymentId>`): after login the PSU
//! sees amount, currency, payee and reference; the risk engine (scored again
//! here) decides whether the one-time code is asked, bound to exactly this
//! amount and payee (RTS Art. 5 dynamic linking); "trust this payee" (Art. 13) is
//! offered only on a page that asks for the code.

use crate::core::{PaymentId, PsuId, ScaContext};
use crate::oauth::AuthServer;
use crate::oauth::authorize::{
    AuthorizeError, Decision, PaymentSummary, PsuStep, Review, Session, StepOutcome,
};
use crate::payments::{Approval, Payment, PsuReview};

fn summary(p: &Payment) -> PaymentSummary {
    PaymentSummary {
        amount: p.amount.amount_string(),
        currency: p.amount.currency().as_str().to_owned(),
        creditor_name: p.creditor_name.clone(),
        creditor_iban: p.creditor.as_str().to_owned(),
        debtor_iban: p.debtor.as_str().to_owned(),
        reference: p.remittance.clone(),
    }
}

fn context(p: &Payment) -> ScaContext {
    ScaContext::Payment {
        payment_id: PaymentId(p.id.0.clone()),
        amount: p.amount,
        payee: p.creditor.clone(),
    }
}

fn server(e: impl std::fmt::Display) -> AuthorizeError {
    AuthorizeError::Server(e.to_string())
}

impl AuthServer {
    fn payment_review(&self, client_name: &str, p: &Payment, otp_prompt: Option<String>) -> Review {
        Review {
            client_name: client_name.to_owned(),
            access: vec![],
            pick: None,
            valid_until: String::new(),
            frequency_per_day: 0,
            recurring: false,
            offer_trust: otp_prompt.is_some(),
            otp_prompt,
            payment: Some(Box::new(summary(p))),
            funds: None,
            error: None,
        }
    }

    /// The PSU logged in for a payment.
    pub(super) async fn payment_login(
        &self,
        session: &Session,
        payment_id: &str,
        psu: PsuId,
        client_name: String,
    ) -> Result<StepOutcome, AuthorizeError> {
        let (payment, sca) = match self.payments.review(payment_id, &psu).await? {
            PsuReview::Ready { payment, sca } => (payment, sca),
            PsuReview::NotOwner => {
                return self
                    .dead_end(
                        session,
                        "This payment cannot be approved",
                        format!(
                            "{client_name} asked for a payment from an account that is not yours. \
                             The payment has been rejected; no money was moved."
                        ),
                        "the payment's debtor account is not the PSU's",
                    )
                    .await;
            }
            PsuReview::Rejected => {
                return self
                    .dead_end(
                        session,
                        "This payment cannot be executed",
                        "The bank cannot execute this payment. It has been rejected; no money was moved."
                            .into(),
                        "the payment was rejected",
                    )
                    .await;
            }
            PsuReview::Closed(status) => {
                return self
                    .dead_end(
                        session,
                        "This payment is no longer awaiting approval",
                        format!("The payment's status is {status}; there is nothing to approve."),
                        "the payment is not awaiting authorization",
                    )
                    .await;
            }
        };
        let (prompt, challenge_id) = if sca {
            let challenge = self
                .core
                .issue_sca_challenge(&psu, &context(&payment))
                .await
                .map_err(server)?;
            (Some(challenge.prompt), Some(challenge.id.0))
        } else {
            (None, None)
        };
        let review = self.payment_review(&client_name, &payment, prompt);
        let csrf = self
            .update_session(session, Some(psu.0.clone()), sca, challenge_id)
            .await?;
        Ok(StepOutcome {
            step: PsuStep::Review(review),
            csrf,
        })
    }

    /// The PSU's decision on a payment.
    pub(super) async fn payment_decide(
        &self,
        session: &Session,
        payment_id: &str,
        psu: PsuId,
        decision: Decision,
    ) -> Result<StepOutcome, AuthorizeError> {
        if !decision.approve {
            if !self.finish_session(session).await? {
                return Err(AuthorizeError::Forbidden {
                    text: "This form was already submitted.".into(),
                });
            }
            self.payments.reject(payment_id, "psu-denied").await?;
            tracing::info!(payment.id = %payment_id, "PSU denied the payment");
            return Ok(self.denied_redirect(session, "the PSU denied the payment"));
        }
        let client_name = self.client_display_name(&session.client_id).await;
        let payment = self.payments.find(payment_id).await?;
        if session.sca_required
            && let Some(retry) = self
                .verify_otp(session, &psu, &context(&payment), decision.otp.as_ref())
                .await?
        {
            let mut review = self.payment_review(&client_name, &payment, Some(retry.prompt));
            review.error = Some(retry.error.into());
            let csrf = self
                .update_session(session, Some(psu.0.clone()), true, retry.challenge_id)
                .await?;
            return Ok(StepOutcome {
                step: PsuStep::Review(review),
                csrf,
            });
        }
        let trust = session.sca_required && decision.trust_payee;
        match self
            .payments
            .approve(payment_id, &psu, session.sca_required, trust)
            .await?
        {
            Approval::Approved => {}
            Approval::ScaNeeded => {
                let challenge = self
                    .core
                    .issue_sca_challenge(&psu, &context(&payment))
                    .await
                    .map_err(server)?;
                let mut review =
                    self.payment_review(&client_name, &payment, Some(challenge.prompt));
                review.error = Some("Please confirm this payment with your one-time code.".into());
                let csrf = self
                    .update_session(session, Some(psu.0.clone()), true, Some(challenge.id.0))
                    .await?;
                return Ok(StepOutcome {
                    step: PsuStep::Review(review),
                    csrf,
                });
            }
            Approval::Closed => {
                return self
                    .dead_end(
                        session,
                        "This payment is no longer awaiting approval",
                        "The payment was cancelled or already decided; nothing was approved."
                            .into(),
                        "the payment is not awaiting authorization",
                    )
                    .await;
            }
        }
        if !self.finish_session(session).await? {
            return Err(AuthorizeError::Forbidden {
                text: "This form was already submitted.".into(),
            });
        }
        tracing::info!(client.id = %session.client_id, payment.id = %payment_id, "payment approved; authorization code issued");
        self.redirect_with_code(session, &psu, self.clock.now())
            .await
    }
}
