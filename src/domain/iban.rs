use std::fmt;
use std::str::FromStr;

use iban::IbanLike;

/// A syntactically valid IBAN (country length and mod-97 check), kept in the
/// electronic format (no spaces).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Iban(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid IBAN")]
pub struct IbanError;

impl Iban {
    pub fn parse(s: &str) -> Result<Iban, IbanError> {
        let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        let parsed = iban::Iban::from_str(&compact).map_err(|_| IbanError)?;
        Ok(Iban(parsed.electronic_str().to_owned()))
    }

    /// Builds a German-format IBAN (`DEkk` + 8-digit bank code + 10-digit account
    /// number) with its check digits computed, as the sandbox issues them.
    pub fn german(bank_code: &str, account_number: u64) -> Result<Iban, IbanError> {
        if bank_code.len() != 8 || !bank_code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IbanError);
        }
        let bban = format!("{bank_code}{account_number:010}");
        if bban.len() != 18 {
            return Err(IbanError);
        }
        // ISO 13616: move "DE00" to the end, letters to numbers (D=13, E=14),
        // check = 98 - (n mod 97).
        let digits = format!("{bban}131400");
        let rem = digits
            .bytes()
            .fold(0u32, |acc, b| (acc * 10 + u32::from(b - b'0')) % 97);
        let check = 98 - rem;
        Iban::parse(&format!("DE{check:02}{bban}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn country(&self) -> &str {
        &self.0[..2]
    }

    /// The German bank code (Bankleitzahl) part, when this is a German IBAN.
    pub fn german_bank_code(&self) -> Option<&str> {
        (self.country() == "DE").then(|| &self.0[4..12])
    }

    /// A form safe for logs: country, check digits and the last four characters.
    pub fn masked(&self) -> String {
        let tail = &self.0[self.0.len().saturating_sub(4)..];
        format!("{}…{}", &self.0[..4], tail)
    }
}

impl fmt::Display for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Debug output is masked: full account numbers never reach logs.
impl fmt::Debug for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Iban({})", self.masked())
    }
}

impl FromStr for Iban {
    type Err = IbanError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Iban::parse(s)
    }
}

impl serde::Serialize for Iban {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Iban {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Iban::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_iban_is_accepted_with_or_without_spaces() {
        assert_eq!(
            Iban::parse("DE89 3704 0044 0532 0130 00").unwrap().as_str(),
            "DE89370400440532013000"
        );
        assert!(Iban::parse("GB82WEST12345698765432").is_ok());
    }

    #[test]
    fn wrong_check_digits_or_length_are_rejected() {
        for bad in [
            "DE88370400440532013000",
            "DE8937040044053201300",
            "XX89370400440532013000",
            "",
            "DE89370400440532013000000",
        ] {
            assert_eq!(Iban::parse(bad), Err(IbanError), "{bad}");
        }
    }

    #[test]
    fn german_ibans_are_built_with_correct_check_digits() {
        let iban = Iban::german("37040044", 532013000).unwrap();
        assert_eq!(iban.as_str(), "DE89370400440532013000");
        assert_eq!(iban.german_bank_code(), Some("37040044"));
        for n in 0..200u64 {
            assert!(Iban::german("99912345", n * 7919).is_ok());
        }
    }

    #[test]
    fn debug_output_masks_the_account_number() {
        let iban = Iban::parse("DE89370400440532013000").unwrap();
        assert_eq!(format!("{iban:?}"), "Iban(DE89…3000)");
    }
}
