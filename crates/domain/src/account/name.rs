use std::fmt;

/// The most characters a person's full name may have.
pub const FULL_NAME_MAX: usize = 100;

/// A person's full name as they gave it: trimmed, not empty, at most
/// [`FULL_NAME_MAX`] characters, no control characters.
#[derive(Clone, PartialEq, Eq)]
pub struct FullName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FullNameError {
    #[error("Enter your full name")]
    Empty,
    #[error("Full name must be 100 characters or fewer")]
    TooLong,
    #[error("Full name must only include letters, spaces, hyphens and apostrophes")]
    ControlCharacters,
}

impl FullName {
    pub fn parse(input: &str) -> Result<Self, FullNameError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(FullNameError::Empty);
        }
        if s.chars().count() > FULL_NAME_MAX {
            return Err(FullNameError::TooLong);
        }
        if s.chars().any(char::is_control) {
            return Err(FullNameError::ControlCharacters);
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FullName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Names are personal data: keep them out of debug output (and so out of logs).
impl fmt::Debug for FullName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FullName(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_trimmed() {
        assert_eq!(
            FullName::parse("  Robin Example ").unwrap().as_str(),
            "Robin Example"
        );
    }

    #[test]
    fn an_empty_or_blank_name_is_rejected() {
        assert_eq!(FullName::parse("   "), Err(FullNameError::Empty));
    }

    #[test]
    fn a_name_longer_than_100_characters_is_rejected() {
        assert_eq!(
            FullName::parse(&"é".repeat(101)),
            Err(FullNameError::TooLong)
        );
        assert!(FullName::parse(&"é".repeat(100)).is_ok());
    }

    #[test]
    fn a_name_with_control_characters_is_rejected() {
        assert_eq!(
            FullName::parse("Robin\u{0}Example"),
            Err(FullNameError::ControlCharacters)
        );
    }

    #[test]
    fn debug_output_hides_the_name() {
        assert!(!format!("{:?}", FullName::parse("Robin").unwrap()).contains("Robin"));
    }
}
