//! The token endpoint (RFC 6749 §3.2): `client_credentials`, `authorization_code`
//! (PKCE S256 mandatory) and `refresh_token` (for consent scopes, AIS and PIIS;
//! rotated on use; reuse revokes the family). The client is authenticated by its TLS certificate
//! (RFC 8705 `tls_client_auth`) before any of this runs.
//!
//! Every grant decides and records in one write transaction (the code is consumed,
//! the token's `jti` and the refresh token's hash are stored), and only then signs
//! the JWT with that `jti`. A failed grant issues nothing.

use diesel::prelude::*;
use time::{Duration, OffsetDateTime};

use crate::oauth::clients::{Client, ClientScope};
use crate::oauth::records::{self, AccessRecord, RefreshRecord};
use crate::oauth::scope::TokenScope;
use crate::oauth::tokens::NewToken;
use crate::oauth::{AuthServer, OAuthFailure, pkce};
use crate::secret::{random_token, sha256_hex};
use crate::store::schema::{authorization_codes, psu_sca_records};
use crate::store::{from_db_time, to_db_time};

/// The token endpoint's form parameters, each at most once.
#[derive(Debug, Default)]
pub struct TokenParams {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub scope: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
}

impl TokenParams {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<TokenParams, OAuthFailure> {
        let mut p = TokenParams::default();
        for (k, v) in pairs {
            let slot = match k.as_str() {
                "grant_type" => &mut p.grant_type,
                "client_id" => &mut p.client_id,
                "scope" => &mut p.scope,
                "code" => &mut p.code,
                "redirect_uri" => &mut p.redirect_uri,
                "code_verifier" => &mut p.code_verifier,
                "refresh_token" => &mut p.refresh_token,
                // RFC 6749 §3.2: unknown parameters are ignored.
                _ => continue,
            };
            if slot.replace(v).is_some() {
                return Err(OAuthFailure::InvalidRequest(format!(
                    "{k} given more than once"
                )));
            }
        }
        Ok(p)
    }
}

/// The RFC 6749 §5.1 response.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer` (certificate-bound, RFC 8705).
    pub token_type: &'static str,
    pub expires_in: u64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

fn required(v: Option<String>, name: &str) -> Result<String, OAuthFailure> {
    v.filter(|s| !s.is_empty())
        .ok_or_else(|| OAuthFailure::InvalidRequest(format!("{name} is required")))
}

/// An authorization code as stored: client, redirect URI, PKCE challenge, scope,
/// PSU, expiry, first use.
type CodeRow = (
    String,
    String,
    String,
    String,
    String,
    time::PrimitiveDateTime,
    Option<time::PrimitiveDateTime>,
);

/// What a grant decided to issue; signed after the transaction commits.
struct Grant {
    subject: String,
    scope: TokenScope,
    jti: String,
    refresh_token: Option<String>,
}

impl AuthServer {
    /// When the PSU last passed SCA for this client, if ever.
    async fn last_sca(
        &self,
        psu: &str,
        client_id: &str,
    ) -> Result<Option<OffsetDateTime>, OAuthFailure> {
        let (psu, client_id) = (psu.to_owned(), client_id.to_owned());
        let last: Option<time::PrimitiveDateTime> = self
            .store
            .read(move |c| {
                psu_sca_records::table
                    .filter(psu_sca_records::psu_id.eq(psu))
                    .filter(psu_sca_records::client_id.eq(client_id))
                    .select(psu_sca_records::last_sca_at)
                    .first(c)
                    .optional()
                    .map_err(OAuthFailure::from)
            })
            .await?;
        Ok(last.map(from_db_time))
    }

    /// `POST /oauth/token` for an authenticated client presenting `thumbprint`.
    pub async fn token(
        &self,
        client: &Client,
        thumbprint: &str,
        params: TokenParams,
    ) -> Result<TokenResponse, OAuthFailure> {
        if let Some(id) = &params.client_id
            && id != &client.client_id
        {
            return Err(OAuthFailure::InvalidClient(
                "client_id does not match the certificate".into(),
            ));
        }
        let grant = match params.grant_type.as_deref() {
            Some("client_credentials") => self.client_credentials(client, params).await?,
            Some("authorization_code") => self.authorization_code(client, params).await?,
            Some("refresh_token") => self.refresh(client, params).await?,
            Some(_) => return Err(OAuthFailure::UnsupportedGrantType),
            None => {
                return Err(OAuthFailure::InvalidRequest(
                    "grant_type is required".into(),
                ));
            }
        };
        self.sign(client, thumbprint, grant).await
    }

    async fn sign(
        &self,
        client: &Client,
        thumbprint: &str,
        grant: Grant,
    ) -> Result<TokenResponse, OAuthFailure> {
        let scope = grant.scope.to_string();
        let (consent_id, payment_id) = match &grant.scope {
            TokenScope::Ais(id) | TokenScope::Piis(id) => (Some(id.as_str()), None),
            TokenScope::Pis(id) => (None, Some(id.as_str())),
            TokenScope::Client(_) => (None, None),
        };
        let issued = self
            .tokens
            .issue(NewToken {
                subject: &grant.subject,
                client_id: &client.client_id,
                scope: &scope,
                consent_id,
                payment_id,
                thumbprint,
                jti: Some(&grant.jti),
            })
            .await
            .map_err(|e| OAuthFailure::ServerError(e.to_string()))?;
        Ok(TokenResponse {
            access_token: issued.token,
            token_type: "Bearer",
            expires_in: self.tokens.ttl().as_secs(),
            scope,
            refresh_token: grant.refresh_token,
        })
    }

    fn access_expiry(&self, now: OffsetDateTime) -> OffsetDateTime {
        now + Duration::try_from(self.tokens.ttl()).unwrap_or(Duration::minutes(5))
    }

    async fn client_credentials(
        &self,
        client: &Client,
        params: TokenParams,
    ) -> Result<Grant, OAuthFailure> {
        let scopes = match params
            .scope
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            // A peer bank's `interbank` scope is its certificate's role, never a
            // token scope.
            None => client
                .scopes
                .iter()
                .copied()
                .filter(ClientScope::is_tpp)
                .collect(),
            Some(requested) => {
                let mut scopes = Vec::new();
                for s in requested.split(' ').filter(|s| !s.is_empty()) {
                    let scope: ClientScope =
                        s.parse().ok().filter(ClientScope::is_tpp).ok_or_else(|| {
                            OAuthFailure::InvalidScope(format!("unknown scope {s}"))
                        })?;
                    if !client.scopes.contains(&scope) {
                        return Err(OAuthFailure::InvalidScope(format!(
                            "{s} is not registered for this client"
                        )));
                    }
                    scopes.push(scope);
                }
                scopes.sort();
                scopes.dedup();
                scopes
            }
        };
        if scopes.is_empty() {
            return Err(OAuthFailure::InvalidScope(
                "the client has no scopes".into(),
            ));
        }
        // Client tokens are recorded too, so they can be revoked.
        let grant = Grant {
            subject: client.client_id.clone(),
            scope: TokenScope::Client(scopes),
            jti: uuid::Uuid::new_v4().to_string(),
            refresh_token: None,
        };
        let now = self.clock.now();
        let record = (
            grant.jti.clone(),
            client.client_id.clone(),
            grant.scope.to_string(),
            self.access_expiry(now),
        );
        self.store
            .write(move |c| {
                records::insert_access(
                    c,
                    &AccessRecord {
                        jti: &record.0,
                        client_id: &record.1,
                        subject: &record.1,
                        scope: &record.2,
                        code_hash: None,
                        family_id: None,
                        issued_at: now,
                        expires_at: record.3,
                    },
                )
                .map_err(OAuthFailure::from)
            })
            .await?;
        Ok(grant)
    }

    async fn authorization_code(
        &self,
        client: &Client,
        params: TokenParams,
    ) -> Result<Grant, OAuthFailure> {
        let code = required(params.code, "code")?;
        let redirect_uri = required(params.redirect_uri, "redirect_uri")?;
        let verifier = params
            .code_verifier
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                OAuthFailure::InvalidRequest("code_verifier is required (PKCE)".into())
            })?;
        let now = self.clock.now();
        let code_hash = sha256_hex(&code);
        let client_id = client.client_id.clone();
        let access_expiry = self.access_expiry(now);
        let sca_renewal = self.settings.sca_renewal;

        let peek: Option<(String, String)> = {
            let code_hash = code_hash.clone();
            self.store
                .read(move |c| {
                    authorization_codes::table
                        .filter(authorization_codes::code_hash.eq(code_hash))
                        .select((authorization_codes::scope, authorization_codes::psu_id))
                        .first(c)
                        .optional()
                        .map_err(OAuthFailure::from)
                })
                .await?
        };
        let Some((scope_text, psu)) = peek else {
            return Err(OAuthFailure::InvalidGrant(
                "unknown authorization code".into(),
            ));
        };
        let scope = TokenScope::parse_user(&scope_text)
            .ok_or_else(|| OAuthFailure::ServerError("stored code has a bad scope".into()))?;
        // Consent scopes (AIS and PIIS) get a refresh-token family; it ends at the
        // earlier of the consent's validUntil and 180 days after the PSU's last
        // SCA for this TPP (RTS Art. 10a). A payment scope gets none.
        let family_end = match self.consent_end(&client_id, &scope).await? {
            Some(until) => {
                let last_sca = self.last_sca(&psu, &client_id).await?.unwrap_or(now);
                Some(until.min(last_sca + sca_renewal))
            }
            None => None,
        };

        self.store
            .write(move |c| {
                let row: Option<CodeRow> = authorization_codes::table
                    .filter(authorization_codes::code_hash.eq(&code_hash))
                    .select((
                        authorization_codes::client_id,
                        authorization_codes::redirect_uri,
                        authorization_codes::code_challenge,
                        authorization_codes::scope,
                        authorization_codes::psu_id,
                        authorization_codes::expires_at,
                        authorization_codes::used_at,
                    ))
                    .first(c)
                    .optional()?;
                let Some((
                    owner,
                    stored_redirect,
                    challenge,
                    scope_text,
                    psu_id,
                    expires_at,
                    used_at,
                )) = row
                else {
                    return Err(OAuthFailure::InvalidGrant(
                        "unknown authorization code".into(),
                    ));
                };
                if owner != client_id {
                    // Another client's code: refuse without burning it for its owner.
                    return Err(OAuthFailure::InvalidGrant(
                        "the code was issued to another client".into(),
                    ));
                }
                if used_at.is_some() {
                    // RFC 6749 §4.1.2: a replayed code revokes what it produced.
                    records::revoke_by_code(c, &code_hash, now)?;
                    return Ok(Err(OAuthFailure::InvalidGrant(
                        "the code was already used".into(),
                    )));
                }
                // From here on the code is spent, whatever the outcome.
                diesel::update(
                    authorization_codes::table
                        .filter(authorization_codes::code_hash.eq(&code_hash)),
                )
                .set(authorization_codes::used_at.eq(to_db_time(now)))
                .execute(c)?;
                if from_db_time(expires_at) <= now {
                    return Ok(Err(OAuthFailure::InvalidGrant(
                        "the code has expired".into(),
                    )));
                }
                if stored_redirect != redirect_uri {
                    return Ok(Err(OAuthFailure::InvalidGrant(
                        "redirect_uri does not match".into(),
                    )));
                }
                if !pkce::verify_s256(&verifier, &challenge) {
                    return Ok(Err(OAuthFailure::InvalidGrant(
                        "PKCE verification failed".into(),
                    )));
                }
                let jti = uuid::Uuid::new_v4().to_string();
                let (family_id, refresh_token) = match family_end {
                    Some(end) => {
                        let family_id = uuid::Uuid::new_v4().to_string();
                        let token = random_token();
                        records::insert_refresh(
                            c,
                            &RefreshRecord {
                                token_hash: &sha256_hex(&token),
                                family_id: &family_id,
                                client_id: &client_id,
                                psu_id: &psu_id,
                                scope: &scope_text,
                                code_hash: Some(&code_hash),
                                created_at: now,
                                expires_at: end,
                            },
                        )?;
                        (Some(family_id), Some(token))
                    }
                    None => (None, None),
                };
                records::insert_access(
                    c,
                    &AccessRecord {
                        jti: &jti,
                        client_id: &client_id,
                        subject: &psu_id,
                        scope: &scope_text,
                        code_hash: Some(&code_hash),
                        family_id: family_id.as_deref(),
                        issued_at: now,
                        expires_at: access_expiry,
                    },
                )?;
                Ok(Ok(Grant {
                    subject: psu_id,
                    scope: scope.clone(),
                    jti,
                    refresh_token,
                }))
            })
            .await?
    }

    async fn refresh(&self, client: &Client, params: TokenParams) -> Result<Grant, OAuthFailure> {
        let token = required(params.refresh_token, "refresh_token")?;
        let now = self.clock.now();
        let token_hash = sha256_hex(&token);
        let stored = {
            let token_hash = token_hash.clone();
            self.store
                .read(move |c| records::find_refresh(c, &token_hash).map_err(OAuthFailure::from))
                .await?
        }
        .ok_or_else(|| OAuthFailure::InvalidGrant("unknown refresh token".into()))?;
        if stored.client_id != client.client_id {
            return Err(OAuthFailure::InvalidGrant(
                "the refresh token was issued to another client".into(),
            ));
        }
        if let Some(scope) = params.scope.as_deref().filter(|s| !s.is_empty())
            && scope != stored.scope
        {
            return Err(OAuthFailure::InvalidScope(
                "a refresh cannot change the scope".into(),
            ));
        }
        let scope = TokenScope::parse_user(&stored.scope).ok_or_else(|| {
            OAuthFailure::ServerError("stored refresh token has a bad scope".into())
        })?;
        // The consent must still be valid: a revoked or deleted consent ends the family.
        if self.consent_end(&client.client_id, &scope).await.is_err() {
            let family = stored.family_id.clone();
            self.store
                .write(move |c| records::revoke_family(c, &family, now).map_err(OAuthFailure::from))
                .await?;
            return Err(OAuthFailure::InvalidGrant(
                "the consent is no longer valid".into(),
            ));
        }
        let access_expiry = self.access_expiry(now);
        let client_id = client.client_id.clone();
        self.store
            .write(
                move |c| -> Result<Result<Grant, OAuthFailure>, OAuthFailure> {
                    if stored.revoked_at.is_some() {
                        return Ok(Err(OAuthFailure::InvalidGrant(
                            "the refresh token was revoked".into(),
                        )));
                    }
                    if from_db_time(stored.expires_at) <= now {
                        return Ok(Err(OAuthFailure::InvalidGrant(
                            "the refresh token has expired".into(),
                        )));
                    }
                    if !records::rotate_refresh(c, &token_hash, now)? {
                        // Reuse of a rotated token: someone else holds a copy. End the family.
                        records::revoke_family(c, &stored.family_id, now)?;
                        return Ok(Err(OAuthFailure::InvalidGrant(
                            "the refresh token was already used".into(),
                        )));
                    }
                    let next = random_token();
                    records::insert_refresh(
                        c,
                        &RefreshRecord {
                            token_hash: &sha256_hex(&next),
                            family_id: &stored.family_id,
                            client_id: &client_id,
                            psu_id: &stored.psu_id,
                            scope: &stored.scope,
                            code_hash: stored.code_hash.as_deref(),
                            created_at: now,
                            expires_at: from_db_time(stored.expires_at),
                        },
                    )?;
                    let jti = uuid::Uuid::new_v4().to_string();
                    records::insert_access(
                        c,
                        &AccessRecord {
                            jti: &jti,
                            client_id: &client_id,
                            subject: &stored.psu_id,
                            scope: &stored.scope,
                            code_hash: stored.code_hash.as_deref(),
                            family_id: Some(&stored.family_id),
                            issued_at: now,
                            expires_at: access_expiry,
                        },
                    )?;
                    Ok(Ok(Grant {
                        subject: stored.psu_id.clone(),
                        scope: scope.clone(),
                        jti,
                        refresh_token: Some(next),
                    }))
                },
            )
            .await?
    }
}
