//! Value types parsed at the boundary: once a value is one of these, it is valid.

mod iban;
mod money;

pub use iban::{Iban, IbanError};
pub use money::{Currency, CurrencyError, Money, MoneyError};

/// Checks a free-text field (a name, a reference): not blank, at most `max`
/// characters, no control characters. The message completes "<field> …".
pub fn check_free_text(s: &str, max: usize) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err("must not be blank".into());
    }
    if s.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_free_text;

    #[test]
    fn free_text_is_non_blank_bounded_and_free_of_control_characters() {
        assert!(check_free_text("Merchant GmbH", 70).is_ok());
        assert!(
            check_free_text(&"ä".repeat(70), 70).is_ok(),
            "characters, not bytes"
        );
        for bad in ["", "   ", "a\nb", "a\u{7}b"] {
            assert!(check_free_text(bad, 70).is_err(), "{bad:?}");
        }
        assert!(check_free_text(&"x".repeat(71), 70).is_err());
    }
}
