//! The access an AIS consent asks for (Berlin Group `accountAccess`), parsed from
//! JSON into types. The same parser reads the stored form back, so what is stored
//! is always something the API would accept.
//!
//! Supported: accounts by IBAN (optionally with a currency, for multi-currency
//! accounts) for `accounts`, `balances` and `transactions`; or exactly one of
//! `availableAccounts`, `availableAccountsWithBalance`, `allPsd2`. Not supported:
//! other account identifiers, `additionalInformation`, `restrictedTo`, and
//! bank-offered consents (empty account lists).

use serde_json::{Map, Value, json};

use super::error::ConsentError;
use crate::domain::{Currency, Iban};

/// An account named by the TPP.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountReference {
    pub iban: Iban,
    /// For a sub-account of a multi-currency account.
    pub currency: Option<Currency>,
}

/// The value of `availableAccounts`, `availableAccountsWithBalance` and `allPsd2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountsScope {
    AllAccounts,
    AllAccountsWithOwnerName,
}

impl AccountsScope {
    pub fn as_str(&self) -> &'static str {
        match self {
            AccountsScope::AllAccounts => "allAccounts",
            AccountsScope::AllAccountsWithOwnerName => "allAccountsWithOwnerName",
        }
    }

    pub fn parse(s: &str) -> Option<AccountsScope> {
        [
            AccountsScope::AllAccounts,
            AccountsScope::AllAccountsWithOwnerName,
        ]
        .into_iter()
        .find(|scope| scope.as_str() == s)
    }
}

/// Access to accounts the TPP names. Normalized: every account in `balances` or
/// `transactions` is also in `accounts` (account details come with them), no list
/// has duplicates, and `accounts` is never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedicatedAccess {
    accounts: Vec<AccountReference>,
    balances: Vec<AccountReference>,
    transactions: Vec<AccountReference>,
}

impl DedicatedAccess {
    /// Normalizes the three lists; `None` if they are all empty.
    pub fn new(
        accounts: Vec<AccountReference>,
        balances: Vec<AccountReference>,
        transactions: Vec<AccountReference>,
    ) -> Option<DedicatedAccess> {
        let mut all = accounts;
        all.extend(balances.iter().cloned());
        all.extend(transactions.iter().cloned());
        let access = DedicatedAccess {
            accounts: dedup(all),
            balances: dedup(balances),
            transactions: dedup(transactions),
        };
        (!access.accounts.is_empty()).then_some(access)
    }

    pub fn accounts(&self) -> &[AccountReference] {
        &self.accounts
    }

    pub fn balances(&self) -> &[AccountReference] {
        &self.balances
    }

    pub fn transactions(&self) -> &[AccountReference] {
        &self.transactions
    }
}

fn dedup(list: Vec<AccountReference>) -> Vec<AccountReference> {
    let mut out: Vec<AccountReference> = Vec::with_capacity(list.len());
    for item in list {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// What an AIS consent asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AisAccess {
    /// Named accounts, per access kind.
    Dedicated(DedicatedAccess),
    /// The list of the PSU's accounts (no balances, no transactions).
    AvailableAccounts(AccountsScope),
    /// The list of the PSU's accounts with their balances.
    AvailableAccountsWithBalance(AccountsScope),
    /// Accounts, balances and transactions of all the PSU's payment accounts.
    AllPsd2(AccountsScope),
}

const LIST_FIELDS: [&str; 3] = ["accounts", "balances", "transactions"];
const GLOBAL_FIELDS: [&str; 3] = [
    "availableAccounts",
    "availableAccountsWithBalance",
    "allPsd2",
];
const UNSUPPORTED_FIELDS: [&str; 2] = ["additionalInformation", "restrictedTo"];

impl AisAccess {
    /// Parses the `access` object of a consent request; error paths start with
    /// `access`.
    pub fn parse(value: &Value) -> Result<AisAccess, ConsentError> {
        let obj = value
            .as_object()
            .ok_or_else(|| ConsentError::format("access", "must be an object"))?;
        for key in obj.keys() {
            let known =
                LIST_FIELDS.contains(&key.as_str()) || GLOBAL_FIELDS.contains(&key.as_str());
            if UNSUPPORTED_FIELDS.contains(&key.as_str()) {
                return Err(ConsentError::format(
                    format!("access.{key}"),
                    "is not supported by this bank",
                ));
            } else if !known {
                return Err(ConsentError::format(
                    format!("access.{key}"),
                    "is not a field of accountAccess",
                ));
            }
        }

        let list = |name: &str| -> Result<Vec<AccountReference>, ConsentError> {
            obj.get(name).map_or(Ok(Vec::new()), |v| {
                parse_references(v, &format!("access.{name}"))
            })
        };
        let accounts = list("accounts")?;
        let balances = list("balances")?;
        let transactions = list("transactions")?;

        let mut globals = Vec::new();
        for name in GLOBAL_FIELDS {
            if let Some(v) = obj.get(name) {
                let path = format!("access.{name}");
                let scope = v.as_str().and_then(AccountsScope::parse).ok_or_else(|| {
                    ConsentError::format(
                        &path,
                        "must be \"allAccounts\" or \"allAccountsWithOwnerName\"",
                    )
                })?;
                globals.push((name, path, scope));
            }
        }

        let dedicated = DedicatedAccess::new(accounts, balances, transactions);
        match (dedicated, globals.as_slice()) {
            (Some(dedicated), []) => Ok(AisAccess::Dedicated(dedicated)),
            (None, [(name, _, scope)]) => Ok(match *name {
                "availableAccounts" => AisAccess::AvailableAccounts(*scope),
                "availableAccountsWithBalance" => AisAccess::AvailableAccountsWithBalance(*scope),
                _ => AisAccess::AllPsd2(*scope),
            }),
            (Some(_), [(_, path, _), ..]) => Err(ConsentError::format(
                path,
                "cannot be combined with accounts, balances or transactions",
            )),
            (None, [_, (_, path, _), ..]) => Err(ConsentError::format(
                path,
                "only one of availableAccounts, availableAccountsWithBalance and allPsd2 may be given",
            )),
            (None, []) => Err(ConsentError::format(
                "access",
                "must ask for accounts, balances or transactions by IBAN, or for \
                 availableAccounts, availableAccountsWithBalance or allPsd2",
            )),
        }
    }

    /// The Berlin Group `accountAccess` JSON of this access (as stored and as
    /// returned by `GET /v1/consents/{consentId}`).
    pub fn to_value(&self) -> Value {
        match self {
            AisAccess::Dedicated(d) => {
                let mut obj = Map::new();
                for (name, list) in [
                    ("accounts", &d.accounts),
                    ("balances", &d.balances),
                    ("transactions", &d.transactions),
                ] {
                    if !list.is_empty() {
                        let refs = list.iter().map(reference_value).collect();
                        obj.insert(name.to_owned(), Value::Array(refs));
                    }
                }
                Value::Object(obj)
            }
            AisAccess::AvailableAccounts(s) => json!({"availableAccounts": s.as_str()}),
            AisAccess::AvailableAccountsWithBalance(s) => {
                json!({"availableAccountsWithBalance": s.as_str()})
            }
            AisAccess::AllPsd2(s) => json!({"allPsd2": s.as_str()}),
        }
    }
}

pub(super) fn reference_value(r: &AccountReference) -> Value {
    let mut obj = Map::new();
    obj.insert("iban".into(), Value::String(r.iban.as_str().to_owned()));
    if let Some(currency) = r.currency {
        obj.insert(
            "currency".into(),
            Value::String(currency.as_str().to_owned()),
        );
    }
    Value::Object(obj)
}

fn parse_references(value: &Value, path: &str) -> Result<Vec<AccountReference>, ConsentError> {
    let items = value
        .as_array()
        .ok_or_else(|| ConsentError::format(path, "must be an array of account references"))?;
    if items.is_empty() {
        return Err(ConsentError::format(
            path,
            "must name at least one account (bank-offered consents with empty lists are not \
             supported; omit the field instead)",
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_reference(item, &format!("{path}[{i}]")))
        .collect()
}

pub(super) fn parse_reference(value: &Value, path: &str) -> Result<AccountReference, ConsentError> {
    let obj = value
        .as_object()
        .ok_or_else(|| ConsentError::format(path, "must be an account reference object"))?;
    for key in obj.keys() {
        match key.as_str() {
            "iban" | "currency" => {}
            "bban" | "pan" | "maskedPan" | "msisdn" | "other" => {
                return Err(ConsentError::format(
                    format!("{path}.{key}"),
                    "only IBAN account references are supported",
                ));
            }
            "cashAccountType" => {
                return Err(ConsentError::format(
                    format!("{path}.{key}"),
                    "is not supported by this bank",
                ));
            }
            _ => {
                return Err(ConsentError::format(
                    format!("{path}.{key}"),
                    "is not a field of accountReference",
                ));
            }
        }
    }
    let iban_path = format!("{path}.iban");
    let iban = match obj.get("iban") {
        None => return Err(ConsentError::format(iban_path, "is required")),
        Some(Value::String(s)) => {
            Iban::parse(s).map_err(|_| ConsentError::format(&iban_path, "is not a valid IBAN"))?
        }
        Some(_) => return Err(ConsentError::format(iban_path, "must be a string")),
    };
    let currency = match obj.get("currency") {
        None => None,
        Some(Value::String(s)) => Some(Currency::parse(s).map_err(|_| {
            ConsentError::format(
                format!("{path}.currency"),
                "is not an ISO 4217 currency code",
            )
        })?),
        Some(_) => {
            return Err(ConsentError::format(
                format!("{path}.currency"),
                "must be a string",
            ));
        }
    };
    Ok(AccountReference { iban, currency })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "DE89370400440532013000";
    const B: &str = "GB82WEST12345698765432";

    fn iban(s: &str) -> AccountReference {
        AccountReference {
            iban: Iban::parse(s).unwrap(),
            currency: None,
        }
    }

    #[test]
    fn balances_and_transactions_imply_account_access() {
        let access = AisAccess::parse(&json!({
            "balances": [{"iban": A}],
            "transactions": [{"iban": B}, {"iban": A}],
        }))
        .unwrap();
        let AisAccess::Dedicated(d) = access else {
            panic!("dedicated expected")
        };
        assert_eq!(d.accounts(), [iban(A), iban(B)]);
        assert_eq!(d.balances(), [iban(A)]);
        assert_eq!(d.transactions(), [iban(B), iban(A)]);
    }

    #[test]
    fn duplicates_are_dropped_but_currencies_tell_sub_accounts_apart() {
        let access = AisAccess::parse(&json!({
            "accounts": [{"iban": A}, {"iban": A}, {"iban": A, "currency": "USD"}],
        }))
        .unwrap();
        let AisAccess::Dedicated(d) = access else {
            panic!("dedicated expected")
        };
        assert_eq!(d.accounts().len(), 2);
        assert_eq!(d.accounts()[1].currency, Currency::parse("USD").ok());
    }

    #[test]
    fn ibans_are_stored_in_electronic_form() {
        let access =
            AisAccess::parse(&json!({"accounts": [{"iban": "DE89 3704 0044 0532 0130 00"}]}))
                .unwrap();
        assert_eq!(access.to_value(), json!({"accounts": [{"iban": A}]}));
    }

    #[test]
    fn the_stored_form_parses_back_to_the_same_access() {
        for access in [
            json!({"accounts": [{"iban": A, "currency": "EUR"}], "balances": [{"iban": B}]}),
            json!({"availableAccounts": "allAccounts"}),
            json!({"availableAccountsWithBalance": "allAccountsWithOwnerName"}),
            json!({"allPsd2": "allAccounts"}),
        ] {
            let parsed = AisAccess::parse(&access).unwrap();
            assert_eq!(AisAccess::parse(&parsed.to_value()).unwrap(), parsed);
        }
    }

    #[test]
    fn global_access_kinds_are_recognised() {
        assert_eq!(
            AisAccess::parse(&json!({"allPsd2": "allAccountsWithOwnerName"})).unwrap(),
            AisAccess::AllPsd2(AccountsScope::AllAccountsWithOwnerName)
        );
        assert_eq!(
            AisAccess::parse(&json!({"availableAccountsWithBalance": "allAccounts"})).unwrap(),
            AisAccess::AvailableAccountsWithBalance(AccountsScope::AllAccounts)
        );
    }
}
