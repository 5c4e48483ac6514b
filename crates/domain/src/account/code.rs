use std::fmt;

/// An 8-digit one-time code, as generated or as typed by a person.
///
/// Typed codes may contain spaces or hyphens (people copy "1234 5678" from an email);
/// they are removed before the digits are checked.
#[derive(Clone, PartialEq, Eq)]
pub struct VerificationCode(String);

pub const CODE_DIGITS: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("Enter the code")]
    Empty,
    #[error("The code must be 8 numbers")]
    Format,
}

impl VerificationCode {
    /// Build a code from a random number (the caller supplies the randomness).
    pub fn from_random(n: u32) -> Self {
        Self(format!("{:08}", n % 100_000_000))
    }

    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let digits: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if digits.is_empty() {
            return Err(CodeError::Empty);
        }
        if digits.len() != CODE_DIGITS || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(CodeError::Format);
        }
        Ok(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Codes are secrets: never print them in logs by accident.
impl fmt::Debug for VerificationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerificationCode(********)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_code_always_has_eight_digits() {
        for n in [0, 7, 12_345_678, 99_999_999, u32::MAX] {
            let c = VerificationCode::from_random(n);
            assert_eq!(c.as_str().len(), 8);
            assert!(c.as_str().chars().all(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn spaces_and_hyphens_typed_in_a_code_are_ignored() {
        assert_eq!(
            VerificationCode::parse(" 1234 5678 ").unwrap().as_str(),
            "12345678"
        );
        assert_eq!(
            VerificationCode::parse("1234-5678").unwrap().as_str(),
            "12345678"
        );
    }

    #[test]
    fn an_empty_code_is_rejected() {
        assert_eq!(VerificationCode::parse(""), Err(CodeError::Empty));
    }

    #[test]
    fn a_code_of_the_wrong_length_or_with_letters_is_rejected() {
        for bad in [
            "1234567",
            "123456789",
            "1234567a",
            "abcdefgh",
            "１２３４５６７８",
        ] {
            assert_eq!(
                VerificationCode::parse(bad),
                Err(CodeError::Format),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_output_never_shows_the_code() {
        let c = VerificationCode::parse("12345678").unwrap();
        assert!(!format!("{c:?}").contains("1234"));
    }
}
