//! TPP clients as bank IT registers them (`obgw clients …`). A client is bound to
//! exactly one certificate thumbprint; renewing the certificate rebinds the same
//! client (same id, same consents).

use std::fmt;
use std::str::FromStr;

use diesel::prelude::*;
use time::OffsetDateTime;

use crate::store::schema::tpp_clients;
use crate::store::{DbConn, Store, StoreError, from_db_time, is_unique_violation, to_db_time};
use crate::tls::ClientCertificate;

/// What a registered client may do. The TPP scopes are what a TPP may ask for
/// with the client-credentials grant; `interbank` marks a peer bank, which calls
/// `/interbank/*` with its certificate alone and never gets a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientScope {
    Accounts,
    Payments,
    FundsConfirmations,
    Interbank,
}

impl ClientScope {
    pub const ALL: [ClientScope; 4] = [
        ClientScope::Accounts,
        ClientScope::Payments,
        ClientScope::FundsConfirmations,
        ClientScope::Interbank,
    ];

    /// Everything a TPP may be registered for (the demo TPP has all of them).
    pub const TPP: [ClientScope; 3] = [
        ClientScope::Accounts,
        ClientScope::Payments,
        ClientScope::FundsConfirmations,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            ClientScope::Accounts => "accounts",
            ClientScope::Payments => "payments",
            ClientScope::FundsConfirmations => "fundsconfirmations",
            ClientScope::Interbank => "interbank",
        }
    }

    /// Whether this is a TPP scope (one a token can carry).
    pub fn is_tpp(&self) -> bool {
        *self != ClientScope::Interbank
    }
}

impl FromStr for ClientScope {
    type Err = ClientError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ClientScope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| ClientError::InvalidScope(s.to_owned()))
    }
}

impl fmt::Display for ClientScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientStatus {
    Active,
    Disabled,
}

impl ClientStatus {
    fn as_str(&self) -> &'static str {
        match self {
            ClientStatus::Active => "active",
            ClientStatus::Disabled => "disabled",
        }
    }
}

/// A registered TPP.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    /// `x5t#S256` of the bound certificate.
    pub cert_thumbprint: String,
    pub cert_subject: String,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<ClientScope>,
    pub status: ClientStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Client {
    pub fn is_active(&self) -> bool {
        self.status == ClientStatus::Active
    }

    /// Whether this client is a peer bank (registered with scope `interbank`).
    pub fn is_peer_bank(&self) -> bool {
        self.scopes.contains(&ClientScope::Interbank)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no client {0}")]
    NotFound(String),
    #[error("client id {0} is taken")]
    DuplicateId(String),
    #[error("that certificate is already bound to another client")]
    DuplicateCertificate,
    #[error(
        "invalid redirect URI {0:?}: must be absolute https, or http on a loopback host, without fragment"
    )]
    InvalidRedirectUri(String),
    #[error("unknown scope {0:?} (known: accounts, payments, fundsconfirmations, interbank)")]
    InvalidScope(String),
    #[error("a client needs a name of 1 to 100 characters")]
    Invalid,
    #[error(
        "a TPP client needs at least one redirect URI (only a peer bank, scope interbank, has none)"
    )]
    RedirectUriRequired,
    #[error(
        "the interbank scope is for peer banks and cannot be combined with TPP scopes: register the bank's TPP role as a client of its own"
    )]
    MixedRoles,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for ClientError {
    fn from(e: diesel::result::Error) -> Self {
        ClientError::Store(StoreError::Query(e))
    }
}

/// Validates a redirect URI as RFC 8252/FAPI allow: https anywhere, http only on
/// loopback, never a fragment. Matching later is exact string comparison.
pub fn validate_redirect_uri(uri: &str) -> Result<(), ClientError> {
    let invalid = || ClientError::InvalidRedirectUri(uri.to_owned());
    if uri.len() > 2000
        || uri.contains('#')
        || uri.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid());
    }
    let rest = if let Some(rest) = uri.strip_prefix("https://") {
        rest
    } else if let Some(rest) = uri.strip_prefix("http://") {
        let host = rest.split(['/', '?']).next().unwrap_or("");
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return Err(invalid());
        }
        rest
    } else {
        return Err(invalid());
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return Err(invalid());
    }
    Ok(())
}

pub fn parse_scopes(list: &str) -> Result<Vec<ClientScope>, ClientError> {
    let mut scopes = list
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(ClientScope::from_str)
        .collect::<Result<Vec<_>, _>>()?;
    scopes.sort();
    scopes.dedup();
    Ok(scopes)
}

/// What bank IT supplies to register a TPP.
#[derive(Debug, Clone)]
pub struct NewClient {
    /// A chosen id (the sandbox uses `demo-tpp`); `None` generates one.
    pub client_id: Option<String>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub certificate: ClientCertificate,
    pub scopes: Vec<ClientScope>,
}

/// Changes to a client; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct ClientUpdate {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub certificate: Option<ClientCertificate>,
    pub scopes: Option<Vec<ClientScope>>,
    pub status: Option<ClientStatus>,
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    time::PrimitiveDateTime,
    time::PrimitiveDateTime,
);

fn from_row(row: Row) -> Result<Client, ClientError> {
    let (
        client_id,
        name,
        cert_thumbprint,
        cert_subject,
        redirect_uris,
        scopes,
        status,
        created,
        updated,
    ) = row;
    let redirect_uris: Vec<String> = serde_json::from_str(&redirect_uris)
        .map_err(|e| StoreError::Connect(format!("corrupt redirect_uris: {e}")))?;
    Ok(Client {
        client_id,
        name,
        cert_thumbprint,
        cert_subject,
        redirect_uris,
        scopes: parse_scopes(&scopes)?,
        status: if status == "active" {
            ClientStatus::Active
        } else {
            ClientStatus::Disabled
        },
        created_at: from_db_time(created),
        updated_at: from_db_time(updated),
    })
}

fn scopes_text(scopes: &[ClientScope]) -> String {
    scopes
        .iter()
        .map(ClientScope::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A TPP needs a redirect URI for the authorization-code flow; a peer bank
/// (`interbank`) has no use for one, and is never also a TPP under the same
/// registration, so "a TPP without the interbank scope" stays a crisp rule.
fn validate(
    name: &str,
    redirect_uris: &[String],
    scopes: &[ClientScope],
) -> Result<(), ClientError> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(ClientError::Invalid);
    }
    let peer = scopes.contains(&ClientScope::Interbank);
    if peer && scopes.iter().any(ClientScope::is_tpp) {
        return Err(ClientError::MixedRoles);
    }
    if !peer && redirect_uris.is_empty() {
        return Err(ClientError::RedirectUriRequired);
    }
    redirect_uris
        .iter()
        .try_for_each(|u| validate_redirect_uri(u))
}

fn load(conn: &mut DbConn, id: &str) -> Result<Option<Client>, ClientError> {
    tpp_clients::table
        .filter(tpp_clients::client_id.eq(id))
        .select(tpp_clients::all_columns)
        .first::<Row>(conn)
        .optional()?
        .map(from_row)
        .transpose()
}

fn insert(conn: &mut DbConn, new: &NewClient, now: OffsetDateTime) -> Result<Client, ClientError> {
    validate(&new.name, &new.redirect_uris, &new.scopes)?;
    let client_id = new
        .client_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let now_db = to_db_time(now);
    let uris = serde_json::to_string(&new.redirect_uris)
        .map_err(|e| StoreError::Connect(e.to_string()))?;
    let taken = tpp_clients::table
        .filter(tpp_clients::cert_thumbprint.eq(&new.certificate.thumbprint))
        .count()
        .get_result::<i64>(conn)?;
    if taken > 0 {
        return Err(ClientError::DuplicateCertificate);
    }
    diesel::insert_into(tpp_clients::table)
        .values((
            tpp_clients::client_id.eq(&client_id),
            tpp_clients::name.eq(new.name.trim()),
            tpp_clients::cert_thumbprint.eq(&new.certificate.thumbprint),
            tpp_clients::cert_subject.eq(&new.certificate.subject),
            tpp_clients::redirect_uris.eq(&uris),
            tpp_clients::scopes.eq(scopes_text(&new.scopes)),
            tpp_clients::status.eq(ClientStatus::Active.as_str()),
            tpp_clients::created_at.eq(now_db),
            tpp_clients::updated_at.eq(now_db),
        ))
        .execute(conn)
        .map_err(|e| {
            if is_unique_violation(&e) {
                ClientError::DuplicateId(client_id.clone())
            } else {
                e.into()
            }
        })?;
    load(conn, &client_id)?.ok_or(ClientError::NotFound(client_id))
}

fn apply_update(
    conn: &mut DbConn,
    id: &str,
    update: &ClientUpdate,
    now: OffsetDateTime,
) -> Result<Client, ClientError> {
    let current = load(conn, id)?.ok_or_else(|| ClientError::NotFound(id.to_owned()))?;
    let name = update.name.clone().unwrap_or(current.name);
    let redirect_uris = update
        .redirect_uris
        .clone()
        .unwrap_or(current.redirect_uris);
    let scopes = update.scopes.clone().unwrap_or(current.scopes);
    validate(&name, &redirect_uris, &scopes)?;
    let (thumbprint, subject) = match &update.certificate {
        Some(cert) => {
            let taken = tpp_clients::table
                .filter(tpp_clients::cert_thumbprint.eq(&cert.thumbprint))
                .filter(tpp_clients::client_id.ne(id))
                .count()
                .get_result::<i64>(conn)?;
            if taken > 0 {
                return Err(ClientError::DuplicateCertificate);
            }
            (cert.thumbprint.clone(), cert.subject.clone())
        }
        None => (current.cert_thumbprint, current.cert_subject),
    };
    let status = update.status.unwrap_or(current.status);
    let uris =
        serde_json::to_string(&redirect_uris).map_err(|e| StoreError::Connect(e.to_string()))?;
    diesel::update(tpp_clients::table.filter(tpp_clients::client_id.eq(id)))
        .set((
            tpp_clients::name.eq(name.trim()),
            tpp_clients::redirect_uris.eq(uris),
            tpp_clients::cert_thumbprint.eq(thumbprint),
            tpp_clients::cert_subject.eq(subject),
            tpp_clients::scopes.eq(scopes_text(&scopes)),
            tpp_clients::status.eq(status.as_str()),
            tpp_clients::updated_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    load(conn, id)?.ok_or_else(|| ClientError::NotFound(id.to_owned()))
}

/// The client registry over the gateway's database. Every lookup reads the
/// database, so a client added or disabled by the CLI takes effect at once in
/// every running replica.
#[derive(Debug, Clone)]
pub struct ClientRegistry {
    store: Store,
}

impl ClientRegistry {
    pub fn new(store: Store) -> ClientRegistry {
        ClientRegistry { store }
    }

    pub fn add_blocking(
        &self,
        new: &NewClient,
        now: OffsetDateTime,
    ) -> Result<Client, ClientError> {
        self.store.write_blocking(|c| insert(c, new, now))
    }

    pub fn update_blocking(
        &self,
        id: &str,
        update: &ClientUpdate,
        now: OffsetDateTime,
    ) -> Result<Client, ClientError> {
        self.store
            .write_blocking(|c| apply_update(c, id, update, now))
    }

    pub fn list_blocking(&self) -> Result<Vec<Client>, ClientError> {
        self.store.read_blocking(|c| {
            tpp_clients::table
                .order(tpp_clients::created_at.asc())
                .select(tpp_clients::all_columns)
                .load::<Row>(c)?
                .into_iter()
                .map(from_row)
                .collect()
        })
    }

    pub fn get_blocking(&self, id: &str) -> Result<Option<Client>, ClientError> {
        self.store.read_blocking(|c| load(c, id))
    }

    /// Registers `new` under its chosen id, or rebinds that id to the given
    /// certificate if it exists already (how the sandbox keeps `demo-tpp` bound to
    /// whatever `obgw certs` last generated).
    pub fn ensure_blocking(
        &self,
        new: &NewClient,
        now: OffsetDateTime,
    ) -> Result<Client, ClientError> {
        let id = new.client_id.clone().ok_or(ClientError::Invalid)?;
        self.store.write_blocking(|c| match load(c, &id)? {
            None => insert(c, new, now),
            Some(existing) if existing.cert_thumbprint == new.certificate.thumbprint => {
                Ok(existing)
            }
            Some(_) => apply_update(
                c,
                &id,
                &ClientUpdate {
                    certificate: Some(new.certificate.clone()),
                    ..ClientUpdate::default()
                },
                now,
            ),
        })
    }

    /// The client bound to a certificate thumbprint, active or not.
    pub async fn find_by_thumbprint(
        &self,
        thumbprint: &str,
    ) -> Result<Option<Client>, ClientError> {
        let thumbprint = thumbprint.to_owned();
        self.store
            .read(move |c| {
                tpp_clients::table
                    .filter(tpp_clients::cert_thumbprint.eq(thumbprint))
                    .select(tpp_clients::all_columns)
                    .first::<Row>(c)
                    .optional()?
                    .map(from_row)
                    .transpose()
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_must_be_https_or_loopback_http_without_fragment() {
        for ok in [
            "https://tpp.example/cb",
            "http://127.0.0.1:9090/callback",
            "http://localhost/cb",
            "https://tpp.example/cb?x=1",
        ] {
            assert!(validate_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://tpp.example/cb",
            "https://tpp.example/cb#frag",
            "ftp://x/y",
            "https://",
            "https://user@evil.example/",
            "/relative",
            "https://tpp.example/c b",
            "http://127.0.0.1.evil.example/cb",
        ] {
            assert!(validate_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scopes_parse_from_comma_or_space_lists() {
        assert_eq!(
            parse_scopes("payments,accounts accounts").unwrap(),
            vec![ClientScope::Accounts, ClientScope::Payments]
        );
        assert!(parse_scopes("accounts,admin").is_err());
        assert_eq!(
            parse_scopes("interbank").unwrap(),
            vec![ClientScope::Interbank]
        );
    }

    #[test]
    fn a_peer_bank_needs_no_redirect_uri_and_is_never_also_a_tpp() {
        let uri = vec!["https://tpp.example/cb".to_owned()];
        let peer = [ClientScope::Interbank];
        assert!(validate("Bank B", &[], &peer).is_ok());
        assert!(validate("Bank B", &uri, &peer).is_ok());
        assert!(matches!(
            validate("Acme", &[], &ClientScope::TPP),
            Err(ClientError::RedirectUriRequired)
        ));
        assert!(matches!(
            validate("Both", &uri, &ClientScope::ALL),
            Err(ClientError::MixedRoles)
        ));
        assert!(matches!(
            validate(" ", &[], &peer),
            Err(ClientError::Invalid)
        ));
    }
}
