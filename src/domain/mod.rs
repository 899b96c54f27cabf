//! Value types parsed at the boundary: once a value is one of these, it is valid.

mod iban;
mod money;

pub use iban::{Iban, IbanError};
pub use money::{Currency, CurrencyError, Money, MoneyError};
