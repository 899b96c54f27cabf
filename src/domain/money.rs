use std::fmt;

use rust_decimal::Decimal;

/// An ISO 4217 currency code that this gateway knows, with its minor units.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an ISO 4217 currency code")]
pub struct CurrencyError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount is not a decimal number")]
    NotADecimal,
    #[error("amount has more decimals than the currency allows")]
    TooManyDecimals,
    #[error("amount must be positive")]
    NotPositive,
    #[error("amount is too large")]
    TooLarge,
}

/// Active ISO 4217 codes with two minor units are the default; these differ.
const MINOR_UNITS_EXCEPTIONS: &[(&str, u32)] = &[
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("ISK", 0),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("PYG", 0),
    ("RWF", 0),
    ("UGX", 0),
    ("UYI", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("BHD", 3),
    ("IQD", 3),
    ("JOD", 3),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("TND", 3),
    ("CLF", 4),
    ("UYW", 4),
];

/// Active ISO 4217 codes with two minor units.
const TWO_MINOR_UNITS: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB \
BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP \
ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS \
KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR \
MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD \
SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED \
VES WST XCD XCG YER ZAR ZMW ZWG";

impl Currency {
    pub const EUR: Currency = Currency(*b"EUR");

    pub fn parse(code: &str) -> Result<Currency, CurrencyError> {
        let bytes: [u8; 3] = code.as_bytes().try_into().map_err(|_| CurrencyError)?;
        let known = MINOR_UNITS_EXCEPTIONS.iter().any(|(c, _)| *c == code)
            || TWO_MINOR_UNITS.split_ascii_whitespace().any(|c| c == code);
        if known {
            Ok(Currency(bytes))
        } else {
            Err(CurrencyError)
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ever built from a listed ASCII code.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// How many decimals an amount in this currency may have.
    pub fn minor_units(&self) -> u32 {
        MINOR_UNITS_EXCEPTIONS
            .iter()
            .find(|(c, _)| *c == self.as_str())
            .map_or(2, |(_, u)| *u)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.as_str())
    }
}

/// A positive or signed amount in a currency, exact (never a float), with no more
/// decimals than the currency has minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

/// The largest amount the ledger represents: minor units must fit an `i64`.
const MAX_MINOR: i64 = 1_000_000_000_000_000; // 10^15 minor units

impl Money {
    /// Parses a decimal string as the Berlin Group `amount` field carries it
    /// (`"12.30"`, no exponent, no sign, no thousands separators).
    pub fn parse_positive(amount: &str, currency: Currency) -> Result<Money, MoneyError> {
        let well_formed = !amount.is_empty()
            && amount.len() <= 20
            && amount.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && amount.bytes().filter(|b| *b == b'.').count() <= 1
            && !amount.starts_with('.')
            && !amount.ends_with('.');
        if !well_formed {
            return Err(MoneyError::NotADecimal);
        }
        let value: Decimal = amount.parse().map_err(|_| MoneyError::NotADecimal)?;
        if value <= Decimal::ZERO {
            return Err(MoneyError::NotPositive);
        }
        Money::new(value, currency)
    }

    /// Wraps a signed amount, checking its scale against the currency.
    pub fn new(amount: Decimal, currency: Currency) -> Result<Money, MoneyError> {
        let normalized = amount.normalize();
        if normalized.scale() > currency.minor_units() {
            return Err(MoneyError::TooManyDecimals);
        }
        let money = Money { amount, currency };
        money.minor_units_checked()?;
        Ok(money)
    }

    /// From ledger minor units (cents for EUR).
    pub fn from_minor(minor: i64, currency: Currency) -> Money {
        Money {
            amount: Decimal::new(minor, currency.minor_units()),
            currency,
        }
    }

    fn minor_units_checked(&self) -> Result<i64, MoneyError> {
        let factor = Decimal::from(10i64.pow(self.currency.minor_units()));
        let minor = (self.amount * factor).trunc();
        let minor: i64 = minor.try_into().map_err(|_| MoneyError::TooLarge)?;
        if minor.abs() > MAX_MINOR {
            return Err(MoneyError::TooLarge);
        }
        Ok(minor)
    }

    /// The amount in minor units; always representable for a constructed `Money`.
    pub fn minor_units(&self) -> i64 {
        self.minor_units_checked().unwrap_or(0)
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The canonical wire form: exactly the currency's number of decimals.
    pub fn amount_string(&self) -> String {
        let mut a = self.amount;
        a.rescale(self.currency.minor_units());
        a.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_known_with_their_minor_units() {
        assert_eq!(Currency::parse("EUR").unwrap().minor_units(), 2);
        assert_eq!(Currency::parse("JPY").unwrap().minor_units(), 0);
        assert_eq!(Currency::parse("KWD").unwrap().minor_units(), 3);
        for bad in ["eur", "EU", "EURO", "XYZ", ""] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn amounts_must_fit_the_currency_minor_units() {
        let eur = Currency::EUR;
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(
            Money::parse_positive("10.00", eur).unwrap().minor_units(),
            1000
        );
        assert_eq!(
            Money::parse_positive("10.5", eur).unwrap().amount_string(),
            "10.50"
        );
        assert_eq!(
            Money::parse_positive("10.001", eur),
            Err(MoneyError::TooManyDecimals)
        );
        assert_eq!(
            Money::parse_positive("10.000", eur).unwrap().minor_units(),
            1000
        );
        assert_eq!(
            Money::parse_positive("100", jpy).unwrap().minor_units(),
            100
        );
        assert_eq!(
            Money::parse_positive("100.5", jpy),
            Err(MoneyError::TooManyDecimals)
        );
    }

    #[test]
    fn malformed_or_non_positive_amounts_are_rejected() {
        let eur = Currency::EUR;
        for bad in [
            "", "abc", "1e3", "-5", "+5", "1,00", ".5", "5.", "1.2.3", " 1",
        ] {
            assert_eq!(
                Money::parse_positive(bad, eur),
                Err(MoneyError::NotADecimal),
                "{bad}"
            );
        }
        assert_eq!(
            Money::parse_positive("0", eur),
            Err(MoneyError::NotPositive)
        );
        assert_eq!(
            Money::parse_positive("0.00", eur),
            Err(MoneyError::NotPositive)
        );
        assert_eq!(
            Money::parse_positive("99999999999999999999", eur),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn minor_units_round_trip() {
        let m = Money::from_minor(-12345, Currency::EUR);
        assert_eq!(m.amount_string(), "-123.45");
        assert_eq!(m.minor_units(), -12345);
    }
}
