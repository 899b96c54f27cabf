//! What a token is for, parsed from the `scope` string once.

use std::fmt;

use crate::oauth::clients::ClientScope;

/// The scope of an authorization request or a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenScope {
    /// A client-credentials token: what the TPP itself may do.
    Client(Vec<ClientScope>),
    /// A PSU token for one AIS consent (`AIS:<consentId>`).
    Ais(String),
    /// A PSU token for one payment (`PIS:<paymentId>`).
    Pis(String),
    /// A PSU token for one confirmation-of-funds consent (`PIIS:<consentId>`).
    Piis(String),
}

fn resource_id(s: &str) -> Option<String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| s.to_owned())
}

impl TokenScope {
    /// Parses a user scope (`AIS:`, `PIS:` or `PIIS:` and one resource id).
    pub fn parse_user(scope: &str) -> Option<TokenScope> {
        let scope = scope.trim();
        if let Some(id) = scope.strip_prefix("AIS:") {
            resource_id(id).map(TokenScope::Ais)
        } else if let Some(id) = scope.strip_prefix("PIS:") {
            resource_id(id).map(TokenScope::Pis)
        } else if let Some(id) = scope.strip_prefix("PIIS:") {
            resource_id(id).map(TokenScope::Piis)
        } else {
            None
        }
    }

    /// Parses any token scope string.
    pub fn parse(scope: &str) -> Option<TokenScope> {
        TokenScope::parse_user(scope).or_else(|| {
            scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<ClientScope>().ok())
                .collect::<Option<Vec<_>>>()
                .map(TokenScope::Client)
        })
    }

    pub fn is_user(&self) -> bool {
        !matches!(self, TokenScope::Client(_))
    }
}

impl fmt::Display for TokenScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenScope::Client(scopes) => {
                let names: Vec<&str> = scopes.iter().map(ClientScope::as_str).collect();
                f.write_str(&names.join(" "))
            }
            TokenScope::Ais(id) => write!(f, "AIS:{id}"),
            TokenScope::Pis(id) => write!(f, "PIS:{id}"),
            TokenScope::Piis(id) => write!(f, "PIIS:{id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_client_scopes_round_trip() {
        for s in ["AIS:abc-123", "PIS:p_1", "PIIS:x", "accounts payments"] {
            assert_eq!(TokenScope::parse(s).unwrap().to_string(), s);
        }
        for bad in ["AIS:", "AIS:a b", "AIS:../x", "admin", "AIS:x PIS:y"] {
            assert!(TokenScope::parse(bad).is_none(), "{bad}");
        }
    }
}
