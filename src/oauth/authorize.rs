//! The authorization endpoint and the PSU's consent page, one step at a time:
//! `start` (validate the request, open a session) → `login` (the core
//! authenticates the PSU; failures are throttled) → `decide` (approve with the
//! one-time code when SCA is due, or deny) → a redirect to the TPP carrying
//! `code`, `state` and `iss` (RFC 9207), or `error=access_denied`.
//!
//! Nothing here redirects to a `redirect_uri` before the client is known and the
//! URI matched one it registered exactly; until then errors are pages.

use std::collections::BTreeMap;

use diesel::prelude::*;
use time::OffsetDateTime;

use crate::core::{ChallengeId, PsuId, ScaContext, ScaVerdict};
use crate::oauth::clients::Client;
use crate::oauth::scope::TokenScope;
use crate::oauth::throttle::LoginGate;
use crate::oauth::{AuthServer, OAuthFailure, pkce};
use crate::secret::{Secret, ct_eq, random_token, sha256_hex};
use crate::store::schema::{authorization_codes, authz_sessions, par_requests, psu_sca_records};
use crate::store::{StoreError, from_db_time, to_db_time};

/// The parameters of an authorization request (query string or pushed).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_uri: Option<String>,
}

impl AuthorizeParams {
    /// From form or query pairs; a parameter given twice is an error (RFC 6749 §3.1).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<AuthorizeParams, String> {
        let mut p = AuthorizeParams::default();
        for (k, v) in pairs {
            let slot = match k.as_str() {
                "client_id" => &mut p.client_id,
                "redirect_uri" => &mut p.redirect_uri,
                "response_type" => &mut p.response_type,
                "scope" => &mut p.scope,
                "state" => &mut p.state,
                "code_challenge" => &mut p.code_challenge,
                "code_challenge_method" => &mut p.code_challenge_method,
                "request_uri" => &mut p.request_uri,
                _ => continue,
            };
            if slot.replace(v).is_some() {
                return Err(format!("{k} given more than once"));
            }
        }
        Ok(p)
    }
}

/// A request whose client and redirect URI are trusted and whose other
/// parameters are valid.
#[derive(Debug, Clone)]
pub struct ValidRequest {
    pub client: Client,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: String,
    pub scope: TokenScope,
}

/// What the review page shows about a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentSummary {
    pub amount: String,
    pub currency: String,
    pub creditor_name: String,
    pub creditor_iban: String,
    pub debtor_iban: String,
    pub reference: Option<String>,
}

/// What the review page shows about a confirmation-of-funds consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundsSummary {
    /// The one account the TPP may ask about.
    pub iban: String,
    /// The last day the TPP may ask.
    pub valid_until: String,
    /// The last four characters of the card the TPP issued, if it named one.
    pub card_ending: Option<String>,
    pub card_information: Option<String>,
    pub registration_information: Option<String>,
}

/// Why an authorization request failed, and how to tell whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client or redirect URI cannot be trusted: show a page, never redirect.
    Page {
        title: String,
        text: String,
    },
    /// Tell the TPP through its verified redirect URI.
    Redirect {
        location: String,
    },
    /// A form without a valid CSRF token, or a session that is gone.
    Forbidden {
        text: String,
    },
    Server(String),
}

impl From<StoreError> for AuthorizeError {
    fn from(e: StoreError) -> Self {
        AuthorizeError::Server(e.to_string())
    }
}

impl From<diesel::result::Error> for AuthorizeError {
    fn from(e: diesel::result::Error) -> Self {
        AuthorizeError::Server(e.to_string())
    }
}

impl From<OAuthFailure> for AuthorizeError {
    fn from(e: OAuthFailure) -> Self {
        AuthorizeError::Server(e.to_string())
    }
}

fn page(title: &str, text: impl Into<String>) -> AuthorizeError {
    AuthorizeError::Page {
        title: title.into(),
        text: text.into(),
    }
}

/// One account the PSU may pick for an `availableAccounts`/`allPsd2` consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickableAccount {
    pub id: String,
    pub iban: String,
    pub name: String,
}

/// Everything the review page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub client_name: String,
    /// Access kind label → IBANs (dedicated consents).
    pub access: Vec<(String, Vec<String>)>,
    /// Accounts to choose from, for consents that let the PSU pick.
    pub pick: Option<(String, Vec<PickableAccount>)>,
    pub valid_until: String,
    pub frequency_per_day: u32,
    pub recurring: bool,
    /// The one-time code is asked (SCA due), with the core's prompt.
    pub otp_prompt: Option<String>,
    /// The payment asked for (then `access` and `pick` are empty).
    pub payment: Option<Box<PaymentSummary>>,
    /// The confirmation-of-funds consent asked for (then `access` and `pick`
    /// are empty).
    pub funds: Option<Box<FundsSummary>>,
    /// Offer "trust this payee" (PSD2 RTS Art. 13): only where SCA is asked.
    pub offer_trust: bool,
    pub error: Option<String>,
}

/// What the PSU sees next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PsuStep {
    Login {
        client_name: String,
        error: Option<String>,
    },
    Review(Review),
    Blocked {
        retry_after: u64,
    },
    /// A dead end with an explanation, optionally a link back to the TPP.
    Message {
        title: String,
        text: String,
        back_to_tpp: Option<String>,
    },
    Redirect(String),
}

/// A step's outcome: what to show, and the CSRF token its form must carry.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    pub step: PsuStep,
    pub csrf: String,
}

/// What the review page asks after a one-time code that did not verify.
#[derive(Debug, Clone)]
pub(super) struct OtpRetry {
    pub(super) prompt: String,
    /// The challenge the next code is checked against.
    pub(super) challenge_id: Option<String>,
    pub(super) error: &'static str,
}

/// The PSU's decision form.
#[derive(Debug, Clone, Default)]
pub struct Decision {
    pub approve: bool,
    pub otp: Option<Secret>,
    pub accounts: Vec<String>,
    /// "Trust this payee" was ticked (payments, only honoured with SCA).
    pub trust_payee: bool,
}

#[derive(Debug, Clone)]
pub(super) struct Session {
    pub(super) session_hash: String,
    pub(super) csrf_hash: String,
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    pub(super) state: Option<String>,
    pub(super) code_challenge: String,
    pub(super) scope: String,
    pub(super) psu_id: Option<String>,
    pub(super) sca_required: bool,
    pub(super) challenge_id: Option<String>,
}

/// Appends query parameters to a registered redirect URI.
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{sep}{query}")
}

impl AuthServer {
    fn error_redirect(
        &self,
        redirect_uri: &str,
        state: Option<&str>,
        error: &str,
        text: &str,
    ) -> AuthorizeError {
        let mut params = vec![("error", error), ("error_description", text)];
        if let Some(s) = state {
            params.push(("state", s));
        }
        params.push(("iss", self.issuer.as_str()));
        AuthorizeError::Redirect {
            location: redirect_with(redirect_uri, &params),
        }
    }

    /// Validates an authorization request for `client_id`: first the client and the
    /// redirect URI (errors are pages), then the rest (errors redirect).
    pub async fn validate_request(
        &self,
        p: &AuthorizeParams,
    ) -> Result<ValidRequest, AuthorizeError> {
        let client_id = p
            .client_id
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                page(
                    "Invalid request",
                    "The application did not identify itself (client_id is missing).",
                )
            })?;
        let client = {
            let clients = self.clients.clone();
            let id = client_id.clone();
            tokio::task::spawn_blocking(move || clients.get_blocking(&id))
                .await
                .map_err(|_| AuthorizeError::Server("lookup failed".into()))?
                .map_err(|e| AuthorizeError::Server(e.to_string()))?
        }
        .filter(Client::is_active)
        .ok_or_else(|| {
            page(
                "Unknown application",
                "This application is not registered with the bank, or it has been disabled.",
            )
        })?;
        let redirect_uri = p.redirect_uri.clone().unwrap_or_default();
        if !client.redirect_uris.iter().any(|u| u == &redirect_uri) {
            return Err(page(
                "Invalid redirect address",
                "The application asked to send you to an address it has not registered with the bank. \
                 For your safety you are not being redirected.",
            ));
        }
        let state = p.state.clone();
        let fail = |error: &str, text: &str| {
            self.error_redirect(&redirect_uri, state.as_deref(), error, text)
        };
        if p.response_type.as_deref() != Some("code") {
            return Err(fail(
                "unsupported_response_type",
                "response_type must be code",
            ));
        }
        match p.code_challenge_method.as_deref() {
            Some("S256") => {}
            Some(_) => {
                return Err(fail(
                    "invalid_request",
                    "code_challenge_method must be S256",
                ));
            }
            None => {
                return Err(fail(
                    "invalid_request",
                    "PKCE is required: code_challenge_method=S256",
                ));
            }
        }
        let code_challenge = p
            .code_challenge
            .clone()
            .filter(|c| pkce::is_valid_challenge(c))
            .ok_or_else(|| fail("invalid_request", "code_challenge is missing or malformed"))?;
        if state.as_ref().is_some_and(|s| s.len() > 500) {
            return Err(fail("invalid_request", "state is too long"));
        }
        let scope = p
            .scope
            .as_deref()
            .and_then(TokenScope::parse_user)
            .ok_or_else(|| {
                fail(
                    "invalid_scope",
                    "scope must be AIS:<consentId>, PIS:<paymentId> or PIIS:<consentId>",
                )
            })?;
        match &scope {
            TokenScope::Ais(consent_id) => {
                let usable = self
                    .consent_awaits_authorization(&client.client_id, consent_id)
                    .await?;
                if !usable {
                    return Err(fail(
                        "invalid_scope",
                        "unknown consent, or it is not awaiting authorization",
                    ));
                }
            }
            TokenScope::Pis(payment_id) => {
                let usable = self
                    .payments
                    .awaits_authorization(&client.client_id, payment_id)
                    .await?;
                if !usable {
                    return Err(fail(
                        "invalid_scope",
                        "unknown payment, or it is not awaiting authorization",
                    ));
                }
            }
            TokenScope::Piis(consent_id) => {
                let usable = self
                    .funds_consent_awaits_authorization(&client.client_id, consent_id)
                    .await?;
                if !usable {
                    return Err(fail(
                        "invalid_scope",
                        "unknown confirmation-of-funds consent, or it is not awaiting authorization",
                    ));
                }
            }
            TokenScope::Client(_) => {
                return Err(fail(
                    "invalid_scope",
                    "only AIS:<consentId>, PIS:<paymentId> and PIIS:<consentId> are supported",
                ));
            }
        }
        Ok(ValidRequest {
            client,
            redirect_uri,
            state,
            code_challenge,
            scope,
        })
    }

    /// `GET /oauth/authorize`: resolves a pushed request if any, validates, and
    /// opens the PSU's session. Returns the session token for the cookie.
    pub async fn start(
        &self,
        params: AuthorizeParams,
    ) -> Result<(String, StepOutcome), AuthorizeError> {
        let now = self.clock.now();
        let params = match params.request_uri.clone() {
            Some(request_uri) => {
                self.take_pushed(&request_uri, params.client_id.as_deref(), now)
                    .await?
            }
            None if self.settings.require_par => {
                return Err(page(
                    "Invalid request",
                    "This bank requires pushed authorization requests (PAR); the application must use /oauth/par.",
                ));
            }
            None => params,
        };
        let request = self.validate_request(&params).await?;
        let session_token = random_token();
        let csrf = random_token();
        let row = (
            sha256_hex(&session_token),
            sha256_hex(&csrf),
            request.client.client_id.clone(),
            request.redirect_uri.clone(),
            request.state.clone(),
            request.code_challenge.clone(),
            request.scope.to_string(),
        );
        let expires = now + self.settings.session_ttl;
        self.store
            .write(move |c| {
                diesel::insert_into(authz_sessions::table)
                    .values((
                        authz_sessions::session_hash.eq(row.0),
                        authz_sessions::csrf_hash.eq(row.1),
                        authz_sessions::client_id.eq(row.2),
                        authz_sessions::redirect_uri.eq(row.3),
                        authz_sessions::state.eq(row.4),
                        authz_sessions::code_challenge.eq(row.5),
                        authz_sessions::scope.eq(row.6),
                        authz_sessions::sca_required.eq(true),
                        authz_sessions::created_at.eq(to_db_time(now)),
                        authz_sessions::expires_at.eq(to_db_time(expires)),
                    ))
                    .execute(c)
                    .map_err(StoreError::from)
            })
            .await?;
        Ok((
            session_token,
            StepOutcome {
                step: PsuStep::Login {
                    client_name: request.client.name,
                    error: None,
                },
                csrf,
            },
        ))
    }

    /// Resolves a `request_uri` from `/oauth/par`: single use, unexpired, same client.
    async fn take_pushed(
        &self,
        request_uri: &str,
        client_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<AuthorizeParams, AuthorizeError> {
        let hash = sha256_hex(request_uri);
        let client_id = client_id.map(str::to_owned);
        let params: Option<String> = self
            .store
            .write(move |c| {
                let row: Option<(String, String, time::PrimitiveDateTime)> = par_requests::table
                    .filter(par_requests::request_uri_hash.eq(&hash))
                    .filter(par_requests::used_at.is_null())
                    .select((
                        par_requests::client_id,
                        par_requests::params,
                        par_requests::expires_at,
                    ))
                    .first(c)
                    .optional()?;
                let Some((owner, params, expires_at)) = row else {
                    return Ok(None);
                };
                if client_id.as_deref() != Some(owner.as_str()) || from_db_time(expires_at) <= now {
                    return Ok(None);
                }
                let taken = diesel::update(
                    par_requests::table
                        .filter(par_requests::request_uri_hash.eq(&hash))
                        .filter(par_requests::used_at.is_null()),
                )
                .set(par_requests::used_at.eq(to_db_time(now)))
                .execute(c)?;
                Ok::<_, StoreError>((taken == 1).then_some(params))
            })
            .await?;
        let params = params.ok_or_else(|| {
            page("Invalid request", "The authorization request has expired or was already used. Please start again from the application.")
        })?;
        serde_json::from_str(&params).map_err(|e| AuthorizeError::Server(e.to_string()))
    }

    /// `POST /oauth/par` (RFC 9126): validates like the authorization endpoint and
    /// stores the request; returns the `request_uri` and its lifetime.
    pub async fn push(
        &self,
        client: &Client,
        mut params: AuthorizeParams,
    ) -> Result<(String, u64), OAuthFailure> {
        if params.request_uri.is_some() {
            return Err(OAuthFailure::InvalidRequest(
                "request_uri must not be pushed".into(),
            ));
        }
        match &params.client_id {
            Some(id) if id != &client.client_id => {
                return Err(OAuthFailure::InvalidClient(
                    "client_id does not match the certificate".into(),
                ));
            }
            _ => params.client_id = Some(client.client_id.clone()),
        }
        self.validate_request(&params).await.map_err(|e| match e {
            AuthorizeError::Page { text, .. } => OAuthFailure::InvalidRequest(text),
            AuthorizeError::Redirect { location } => {
                let error = location
                    .split(['?', '&'])
                    .find_map(|kv| kv.strip_prefix("error_description="))
                    .map(|d| d.replace('+', " "))
                    .unwrap_or_else(|| "invalid authorization request".into());
                OAuthFailure::InvalidRequest(error)
            }
            AuthorizeError::Forbidden { text } => OAuthFailure::InvalidRequest(text),
            AuthorizeError::Server(s) => OAuthFailure::ServerError(s),
        })?;
        let now = self.clock.now();
        let request_uri = format!("urn:ietf:params:oauth:request_uri:{}", random_token());
        let row = (
            sha256_hex(&request_uri),
            client.client_id.clone(),
            serde_json::to_string(&params).map_err(|e| OAuthFailure::ServerError(e.to_string()))?,
            now + self.settings.par_ttl,
        );
        self.store
            .write(move |c| {
                diesel::insert_into(par_requests::table)
                    .values((
                        par_requests::request_uri_hash.eq(row.0),
                        par_requests::client_id.eq(row.1),
                        par_requests::params.eq(row.2),
                        par_requests::created_at.eq(to_db_time(now)),
                        par_requests::expires_at.eq(to_db_time(row.3)),
                    ))
                    .execute(c)
                    .map_err(OAuthFailure::from)
            })
            .await?;
        Ok((
            request_uri,
            u64::try_from(self.settings.par_ttl.whole_seconds()).unwrap_or(90),
        ))
    }

    /// Loads the live session behind a cookie and checks the form's CSRF token.
    async fn session(
        &self,
        session_token: Option<&str>,
        csrf: Option<&str>,
    ) -> Result<Session, AuthorizeError> {
        let gone = || AuthorizeError::Forbidden {
            text:
                "Your session has expired or is not valid. Please start again from the application."
                    .into(),
        };
        let session_token = session_token.ok_or_else(gone)?;
        let hash = sha256_hex(session_token);
        let now = self.clock.now();
        type Row = (
            String,
            String,
            String,
            String,
            Option<String>,
            String,
            String,
            Option<String>,
            bool,
            Option<String>,
            time::PrimitiveDateTime,
        );
        let row: Option<Row> = self
            .store
            .read(move |c| {
                authz_sessions::table
                    .filter(authz_sessions::session_hash.eq(hash))
                    .filter(authz_sessions::finished_at.is_null())
                    .select((
                        authz_sessions::session_hash,
                        authz_sessions::csrf_hash,
                        authz_sessions::client_id,
                        authz_sessions::redirect_uri,
                        authz_sessions::state,
                        authz_sessions::code_challenge,
                        authz_sessions::scope,
                        authz_sessions::psu_id,
                        authz_sessions::sca_required,
                        authz_sessions::challenge_id,
                        authz_sessions::expires_at,
                    ))
                    .first(c)
                    .optional()
                    .map_err(StoreError::from)
            })
            .await?;
        let row = row.filter(|r| from_db_time(r.10) > now).ok_or_else(gone)?;
        let presented = csrf.map(sha256_hex).unwrap_or_default();
        if !ct_eq(presented.as_bytes(), row.1.as_bytes()) {
            return Err(AuthorizeError::Forbidden {
                text: "The form could not be verified (missing or invalid CSRF token). Please start again.".into(),
            });
        }
        Ok(Session {
            session_hash: row.0,
            csrf_hash: row.1,
            client_id: row.2,
            redirect_uri: row.3,
            state: row.4,
            code_challenge: row.5,
            scope: row.6,
            psu_id: row.7,
            sca_required: row.8,
            challenge_id: row.9,
        })
    }

    /// Rotates the session's CSRF token (every rendered form gets a fresh one) and
    /// applies `changes`.
    pub(super) async fn update_session(
        &self,
        s: &Session,
        psu_id: Option<String>,
        sca_required: bool,
        challenge_id: Option<String>,
    ) -> Result<String, AuthorizeError> {
        let csrf = random_token();
        let csrf_hash = sha256_hex(&csrf);
        let session_hash = s.session_hash.clone();
        let old_csrf = s.csrf_hash.clone();
        let updated = self
            .store
            .write(move |c| {
                diesel::update(
                    authz_sessions::table
                        .filter(authz_sessions::session_hash.eq(session_hash))
                        .filter(authz_sessions::csrf_hash.eq(old_csrf))
                        .filter(authz_sessions::finished_at.is_null()),
                )
                .set((
                    authz_sessions::csrf_hash.eq(csrf_hash),
                    authz_sessions::psu_id.eq(psu_id),
                    authz_sessions::sca_required.eq(sca_required),
                    authz_sessions::challenge_id.eq(challenge_id),
                ))
                .execute(c)
                .map_err(StoreError::from)
            })
            .await?;
        if updated != 1 {
            // A concurrent submission of the same form won the race.
            return Err(AuthorizeError::Forbidden {
                text: "This form was already submitted. Please start again from the application."
                    .into(),
            });
        }
        Ok(csrf)
    }

    pub(super) async fn finish_session(&self, s: &Session) -> Result<bool, AuthorizeError> {
        let now = self.clock.now();
        let hash = s.session_hash.clone();
        let csrf = s.csrf_hash.clone();
        let n = self
            .store
            .write(move |c| {
                diesel::update(
                    authz_sessions::table
                        .filter(authz_sessions::session_hash.eq(hash))
                        .filter(authz_sessions::csrf_hash.eq(csrf))
                        .filter(authz_sessions::finished_at.is_null()),
                )
                .set(authz_sessions::finished_at.eq(to_db_time(now)))
                .execute(c)
                .map_err(StoreError::from)
            })
            .await?;
        Ok(n == 1)
    }

    /// The client's name for the PSU page (its id if the lookup fails).
    pub(super) async fn client_display_name(&self, client_id: &str) -> String {
        let this = self.clone();
        let id = client_id.to_owned();
        tokio::task::spawn_blocking(move || this.client_name(&id))
            .await
            .unwrap_or_else(|_| client_id.to_owned())
    }

    /// Sends the PSU back to the TPP with `error=access_denied`.
    pub(super) fn denied_redirect(&self, session: &Session, text: &str) -> StepOutcome {
        let location = redirect_with(
            &session.redirect_uri,
            &self.denied_params(session.state.as_deref(), text),
        );
        StepOutcome {
            step: PsuStep::Redirect(location),
            csrf: String::new(),
        }
    }

    pub(super) fn client_name(&self, client_id: &str) -> String {
        self.clients
            .get_blocking(client_id)
            .ok()
            .flatten()
            .map_or_else(|| client_id.to_owned(), |c| c.name)
    }

    /// `POST /oauth/authorize/login`.
    pub async fn login(
        &self,
        session_token: Option<&str>,
        csrf: Option<&str>,
        username: &str,
        password: &Secret,
    ) -> Result<StepOutcome, AuthorizeError> {
        let session = self.session(session_token, csrf).await?;
        let client_name = self.client_display_name(&session.client_id).await;
        if session.psu_id.is_some() {
            return Err(AuthorizeError::Forbidden {
                text: "You are already logged in for this request.".into(),
            });
        }
        let now = self.clock.now();
        if let LoginGate::Blocked { retry_after } = self.throttle.gate(username, now).await? {
            let csrf = self.update_session(&session, None, true, None).await?;
            return Ok(StepOutcome {
                step: PsuStep::Blocked { retry_after },
                csrf,
            });
        }
        let psu = self
            .core
            .authenticate_psu(username, password)
            .await
            .map_err(|e| AuthorizeError::Server(e.to_string()))?;
        let Some(psu) = psu else {
            let gate = self.throttle.record_failure(username, now).await?;
            let csrf = self.update_session(&session, None, true, None).await?;
            let step = match gate {
                LoginGate::Blocked { retry_after } => PsuStep::Blocked { retry_after },
                LoginGate::Open => PsuStep::Login {
                    client_name,
                    error: Some("The username or password is not correct.".into()),
                },
            };
            return Ok(StepOutcome { step, csrf });
        };
        self.throttle.record_success(username).await?;
        tracing::info!(client.id = %session.client_id, "PSU authenticated on the consent page");
        match TokenScope::parse_user(&session.scope) {
            Some(TokenScope::Pis(payment_id)) => {
                return self
                    .payment_login(&session, &payment_id, psu, client_name)
                    .await;
            }
            Some(TokenScope::Piis(consent_id)) => {
                return self
                    .funds_login(&session, &consent_id, psu, client_name)
                    .await;
            }
            _ => {}
        }

        let consent_id = self.session_consent(&session)?;
        let review = self.review(&consent_id, &psu, &client_name).await?;
        let Some(mut review) = review else {
            // The PSU does not own every account the consent names.
            self.reject_consent(&consent_id).await?;
            self.finish_session(&session).await?;
            let back = redirect_with(
                &session.redirect_uri,
                &self.denied_params(
                    session.state.as_deref(),
                    "the consent names accounts the PSU does not hold",
                ),
            );
            return Ok(StepOutcome {
                step: PsuStep::Message {
                    title: "This request cannot be approved".into(),
                    text: format!(
                        "{client_name} asked for access to accounts that are not yours. The request has been rejected; \
                         no access was granted."
                    ),
                    back_to_tpp: Some(back),
                },
                csrf: String::new(),
            });
        };
        let sca_required = self.sca_due(&psu, &session.client_id, now).await?;
        let challenge_id = if sca_required {
            let challenge = self
                .core
                .issue_sca_challenge(
                    &psu,
                    &ScaContext::Consent {
                        consent_id: consent_id.clone(),
                    },
                )
                .await
                .map_err(|e| AuthorizeError::Server(e.to_string()))?;
            review.otp_prompt = Some(challenge.prompt);
            Some(challenge.id.0)
        } else {
            None
        };
        let csrf = self
            .update_session(&session, Some(psu.0.clone()), sca_required, challenge_id)
            .await?;
        Ok(StepOutcome {
            step: PsuStep::Review(review),
            csrf,
        })
    }

    /// Ends the session on a dead end: the page explains, the link tells the TPP
    /// `access_denied` with `reason`.
    pub(super) async fn dead_end(
        &self,
        session: &Session,
        title: &str,
        text: String,
        reason: &str,
    ) -> Result<StepOutcome, AuthorizeError> {
        self.finish_session(session).await?;
        let back = redirect_with(
            &session.redirect_uri,
            &self.denied_params(session.state.as_deref(), reason),
        );
        Ok(StepOutcome {
            step: PsuStep::Message {
                title: title.into(),
                text,
                back_to_tpp: Some(back),
            },
            csrf: String::new(),
        })
    }

    pub(super) fn denied_params<'a>(
        &'a self,
        state: Option<&'a str>,
        text: &'a str,
    ) -> Vec<(&'a str, &'a str)> {
        let mut params = vec![("error", "access_denied"), ("error_description", text)];
        if let Some(s) = state {
            params.push(("state", s));
        }
        params.push(("iss", self.issuer.as_str()));
        params
    }

    fn session_consent(&self, s: &Session) -> Result<String, AuthorizeError> {
        match TokenScope::parse_user(&s.scope) {
            Some(TokenScope::Ais(id)) => Ok(id),
            _ => Err(AuthorizeError::Server(
                "session has an unsupported scope".into(),
            )),
        }
    }

    /// Whether the PSU must pass SCA for this TPP now (RTS Art. 10a: first time,
    /// and again once the renewal period has passed).
    pub(super) async fn sca_due(
        &self,
        psu: &PsuId,
        client_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, AuthorizeError> {
        let psu = psu.0.clone();
        let client_id = client_id.to_owned();
        let last: Option<time::PrimitiveDateTime> = self
            .store
            .read(move |c| {
                psu_sca_records::table
                    .filter(psu_sca_records::psu_id.eq(psu))
                    .filter(psu_sca_records::client_id.eq(client_id))
                    .select(psu_sca_records::last_sca_at)
                    .first(c)
                    .optional()
                    .map_err(StoreError::from)
            })
            .await?;
        Ok(last.is_none_or(|t| from_db_time(t) + self.settings.sca_renewal <= now))
    }

    pub(super) async fn record_sca(
        &self,
        psu: &str,
        client_id: &str,
        now: OffsetDateTime,
    ) -> Result<(), AuthorizeError> {
        let psu = psu.to_owned();
        let client_id = client_id.to_owned();
        self.store
            .write(move |c| {
                let updated = diesel::update(
                    psu_sca_records::table
                        .filter(psu_sca_records::psu_id.eq(&psu))
                        .filter(psu_sca_records::client_id.eq(&client_id)),
                )
                .set(psu_sca_records::last_sca_at.eq(to_db_time(now)))
                .execute(c)?;
                if updated == 0 {
                    diesel::insert_into(psu_sca_records::table)
                        .values((
                            psu_sca_records::psu_id.eq(&psu),
                            psu_sca_records::client_id.eq(&client_id),
                            psu_sca_records::last_sca_at.eq(to_db_time(now)),
                        ))
                        .execute(c)?;
                }
                Ok::<_, StoreError>(())
            })
            .await?;
        Ok(())
    }

    /// `POST /oauth/authorize/decision`.
    pub async fn decide(
        &self,
        session_token: Option<&str>,
        csrf: Option<&str>,
        decision: Decision,
    ) -> Result<StepOutcome, AuthorizeError> {
        let session = self.session(session_token, csrf).await?;
        let psu = PsuId(
            session
                .psu_id
                .clone()
                .ok_or_else(|| AuthorizeError::Forbidden {
                    text: "Please log in first.".into(),
                })?,
        );
        match TokenScope::parse_user(&session.scope) {
            Some(TokenScope::Pis(payment_id)) => {
                return self
                    .payment_decide(&session, &payment_id, psu, decision)
                    .await;
            }
            Some(TokenScope::Piis(consent_id)) => {
                return self
                    .funds_decide(&session, &consent_id, psu, decision)
                    .await;
            }
            _ => {}
        }
        let consent_id = self.session_consent(&session)?;
        let now = self.clock.now();

        if !decision.approve {
            self.reject_consent(&consent_id).await?;
            if !self.finish_session(&session).await? {
                return Err(AuthorizeError::Forbidden {
                    text: "This form was already submitted.".into(),
                });
            }
            return Ok(self.denied_redirect(&session, "the PSU denied the request"));
        }

        let client_name = self.client_display_name(&session.client_id).await;
        if session.sca_required {
            let context = ScaContext::Consent {
                consent_id: consent_id.clone(),
            };
            if let Some(retry) = self
                .verify_otp(&session, &psu, &context, decision.otp.as_ref())
                .await?
            {
                let mut review = self
                    .review(&consent_id, &psu, &client_name)
                    .await?
                    .ok_or_else(|| {
                        AuthorizeError::Server("consent changed during review".into())
                    })?;
                review.otp_prompt = Some(retry.prompt);
                review.error = Some(retry.error.into());
                let csrf = self
                    .update_session(&session, Some(psu.0.clone()), true, retry.challenge_id)
                    .await?;
                return Ok(StepOutcome {
                    step: PsuStep::Review(review),
                    csrf,
                });
            }
            self.record_sca(&psu.0, &session.client_id, now).await?;
        }

        let granted = match self
            .grant_for(&consent_id, &psu, &decision.accounts)
            .await?
        {
            Ok(granted) => granted,
            Err(problem) => {
                let mut review = self
                    .review(&consent_id, &psu, &client_name)
                    .await?
                    .ok_or_else(|| {
                        AuthorizeError::Server("consent changed during review".into())
                    })?;
                review.error = Some(problem);
                // SCA already passed in this session; do not ask again.
                review.otp_prompt = None;
                let csrf = self
                    .update_session(&session, Some(psu.0.clone()), false, None)
                    .await?;
                return Ok(StepOutcome {
                    step: PsuStep::Review(review),
                    csrf,
                });
            }
        };
        if !self.finish_session(&session).await? {
            return Err(AuthorizeError::Forbidden {
                text: "This form was already submitted.".into(),
            });
        }
        self.approve_consent(&consent_id, &psu, granted).await?;
        tracing::info!(client.id = %session.client_id, "consent approved; authorization code issued");
        self.redirect_with_code(&session, &psu, now).await
    }

    /// Checks the decision's one-time code against the session's challenge for
    /// `context`. `None` when it verified; otherwise what the review page asks
    /// next: a fresh code if the old one can no longer be used, else the same
    /// one again.
    pub(super) async fn verify_otp(
        &self,
        session: &Session,
        psu: &PsuId,
        context: &ScaContext,
        otp: Option<&Secret>,
    ) -> Result<Option<OtpRetry>, AuthorizeError> {
        let challenge = ChallengeId(session.challenge_id.clone().unwrap_or_default());
        let otp = otp.cloned().unwrap_or_default();
        let server = |e: crate::core::CoreError| AuthorizeError::Server(e.to_string());
        let verdict = self
            .core
            .verify_sca(&challenge, psu, context, &otp)
            .await
            .map_err(server)?;
        Ok(match verdict {
            ScaVerdict::Verified => None,
            ScaVerdict::Unusable => {
                let fresh = self
                    .core
                    .issue_sca_challenge(psu, context)
                    .await
                    .map_err(server)?;
                Some(OtpRetry {
                    prompt: fresh.prompt,
                    challenge_id: Some(fresh.id.0),
                    error: "That code can no longer be used; a new code was issued.",
                })
            }
            ScaVerdict::Invalid => Some(OtpRetry {
                prompt: "Enter the one-time code.".into(),
                challenge_id: session.challenge_id.clone(),
                error: "The one-time code is not correct.",
            }),
        })
    }

    /// Issues the authorization code for the session's scope and sends the PSU
    /// back to the TPP's verified redirect URI with it, `state` and `iss`.
    pub(super) async fn redirect_with_code(
        &self,
        s: &Session,
        psu: &PsuId,
        now: OffsetDateTime,
    ) -> Result<StepOutcome, AuthorizeError> {
        let code = random_token();
        let row = (
            sha256_hex(&code),
            s.client_id.clone(),
            s.redirect_uri.clone(),
            s.code_challenge.clone(),
            s.scope.clone(),
            psu.0.clone(),
            now + self.settings.code_ttl,
        );
        self.store
            .write(move |c| {
                diesel::insert_into(authorization_codes::table)
                    .values((
                        authorization_codes::code_hash.eq(row.0),
                        authorization_codes::client_id.eq(row.1),
                        authorization_codes::redirect_uri.eq(row.2),
                        authorization_codes::code_challenge.eq(row.3),
                        authorization_codes::scope.eq(row.4),
                        authorization_codes::psu_id.eq(row.5),
                        authorization_codes::created_at.eq(to_db_time(now)),
                        authorization_codes::expires_at.eq(to_db_time(row.6)),
                    ))
                    .execute(c)
                    .map_err(StoreError::from)
            })
            .await?;
        let mut params = vec![("code", code.as_str())];
        if let Some(state) = s.state.as_deref() {
            params.push(("state", state));
        }
        params.push(("iss", self.issuer.as_str()));
        Ok(StepOutcome {
            step: PsuStep::Redirect(redirect_with(&s.redirect_uri, &params)),
            csrf: String::new(),
        })
    }

    /// The PSU's accounts by IBAN, for ownership checks and picking.
    pub(super) async fn psu_accounts(
        &self,
        psu: &PsuId,
    ) -> Result<BTreeMap<String, PickableAccount>, AuthorizeError> {
        let accounts = self
            .core
            .accounts(psu)
            .await
            .map_err(|e| AuthorizeError::Server(e.to_string()))?;
        Ok(accounts
            .into_iter()
            .map(|a| {
                (
                    a.iban.as_str().to_owned(),
                    PickableAccount {
                        id: a.id.0,
                        iban: a.iban.as_str().to_owned(),
                        name: a.name,
                    },
                )
            })
            .collect())
    }
}
