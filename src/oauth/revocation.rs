//! Token revocation (RFC 7009) and introspection (RFC 7662), for the client the
//! tokens were issued to. Another client's token is "not found": revocation
//! answers 200 and changes nothing; introspection answers `active: false`.

use serde::Serialize;
use utoipa::ToSchema;

use crate::oauth::clients::Client;
use crate::oauth::records;
use crate::oauth::{AuthServer, OAuthFailure};
use crate::secret::sha256_hex;
use crate::store::from_db_time;

/// The RFC 7662 response.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_id: Option<String>,
    /// `{"x5t#S256": …}` for certificate-bound access tokens (RFC 8705 §3.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub cnf: Option<serde_json::Value>,
}

impl AuthServer {
    /// Revokes an access token (by `jti`) or a refresh token (its whole family).
    pub async fn revoke(
        &self,
        client: &Client,
        thumbprint: &str,
        token: &str,
    ) -> Result<(), OAuthFailure> {
        let now = self.clock.now();
        let hash = sha256_hex(token);
        let client_id = client.client_id.clone();
        let refresh = self
            .store
            .read(move |c| records::find_refresh(c, &hash).map_err(OAuthFailure::from))
            .await?;
        if let Some(r) = refresh {
            if r.client_id == client_id {
                self.store
                    .write(move |c| {
                        records::revoke_family(c, &r.family_id, now).map_err(OAuthFailure::from)
                    })
                    .await?;
            }
            return Ok(());
        }
        // An access token: its signature and binding must check out (an expired one
        // needs no revocation).
        if let Ok(claims) = self.tokens.verify(token, thumbprint).await
            && claims.client_id == client.client_id
        {
            let jti = claims.jti;
            self.store
                .write(move |c| records::revoke_access(c, &jti, now).map_err(OAuthFailure::from))
                .await?;
        }
        Ok(())
    }

    pub async fn introspect(
        &self,
        client: &Client,
        thumbprint: &str,
        token: &str,
    ) -> Result<Introspection, OAuthFailure> {
        let now = self.clock.now();
        let hash = sha256_hex(token);
        let refresh = self
            .store
            .read(move |c| records::find_refresh(c, &hash).map_err(OAuthFailure::from))
            .await?;
        if let Some(r) = refresh {
            let live = r.client_id == client.client_id
                && r.rotated_at.is_none()
                && r.revoked_at.is_none()
                && from_db_time(r.expires_at) > now
                && self.user_scope_still_valid(&r.client_id, &r.scope).await;
            if !live {
                return Ok(Introspection::default());
            }
            return Ok(Introspection {
                active: true,
                scope: Some(r.scope),
                client_id: Some(r.client_id),
                sub: Some(r.psu_id),
                token_type: Some("refresh_token"),
                exp: Some(from_db_time(r.expires_at).unix_timestamp()),
                iat: Some(from_db_time(r.created_at).unix_timestamp()),
                ..Introspection::default()
            });
        }
        let Ok(claims) = self.tokens.verify(token, thumbprint).await else {
            return Ok(Introspection::default());
        };
        let jti = claims.jti.clone();
        let live = self
            .store
            .read(move |c| records::access_is_live(c, &jti).map_err(OAuthFailure::from))
            .await?;
        if !live
            || claims.client_id != client.client_id
            || !self
                .user_scope_still_valid(&claims.client_id, &claims.scope)
                .await
        {
            return Ok(Introspection::default());
        }
        Ok(Introspection {
            active: true,
            scope: Some(claims.scope),
            client_id: Some(claims.client_id),
            sub: Some(claims.sub),
            token_type: Some("Bearer"),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            iss: Some(claims.iss),
            aud: Some(claims.aud),
            jti: Some(claims.jti),
            consent_id: claims.consent_id,
            cnf: Some(serde_json::json!({ "x5t#S256": claims.cnf.x5t_s256 })),
        })
    }

    /// A user token is only as alive as its consent.
    async fn user_scope_still_valid(&self, client_id: &str, scope: &str) -> bool {
        match crate::oauth::scope::TokenScope::parse(scope) {
            Some(scope) => self.consent_end(client_id, &scope).await.is_ok(),
            None => false,
        }
    }
}
