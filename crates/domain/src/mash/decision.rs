//! A MASH decision: the outcome and why, and a manager's comment when returning it.

use std::fmt;

use super::outcome::Outcome;

/// Shortest rationale accepted: a decision needs a reason, not "ok".
pub const RATIONALE_MIN: usize = 10;
/// Longest rationale accepted.
pub const RATIONALE_MAX: usize = 5_000;
/// Longest comment a manager can return a decision with.
pub const RETURN_COMMENT_MAX: usize = 2_000;

/// `\r\n` → `\n`, trimmed: the same normalisation as the referral's free text.
fn normalise(input: &str) -> String {
    input
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .trim()
        .to_owned()
}

/// Why the decision was made: trimmed, 10 to 5,000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rationale(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RationaleError {
    #[error("Enter the reasons for the decision")]
    Empty,
    #[error("The reasons for the decision must be at least 10 characters")]
    TooShort,
    #[error("The reasons for the decision must be 5,000 characters or less")]
    TooLong,
}

impl Rationale {
    pub fn parse(input: &str) -> Result<Self, RationaleError> {
        let text = normalise(input);
        let n = text.chars().count();
        if n == 0 {
            Err(RationaleError::Empty)
        } else if n < RATIONALE_MIN {
            Err(RationaleError::TooShort)
        } else if n > RATIONALE_MAX {
            Err(RationaleError::TooLong)
        } else {
            Ok(Self(text))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Rationale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A manager's reason for returning a decision: trimmed, 1 to 2,000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReturnComment(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReturnCommentError {
    #[error("Enter what needs to change in the decision")]
    Empty,
    #[error("The comment must be 2,000 characters or less")]
    TooLong,
}

impl ReturnComment {
    pub fn parse(input: &str) -> Result<Self, ReturnCommentError> {
        let text = normalise(input);
        let n = text.chars().count();
        if n == 0 {
            Err(ReturnCommentError::Empty)
        } else if n > RETURN_COMMENT_MAX {
            Err(ReturnCommentError::TooLong)
        } else {
            Ok(Self(text))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReturnComment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A decision: one outcome and its rationale.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Decision {
    pub outcome: Outcome,
    pub rationale: Rationale,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rationale_of_ten_characters_is_enough() {
        assert_eq!(
            Rationale::parse("  ten chars!  ").unwrap().as_str(),
            "ten chars!"
        );
    }

    #[test]
    fn a_rationale_of_nine_characters_is_too_short() {
        assert_eq!(Rationale::parse("too short"), Err(RationaleError::TooShort));
    }

    #[test]
    fn an_empty_rationale_asks_for_the_reasons() {
        let e = Rationale::parse(" \r\n ").unwrap_err();
        assert_eq!(e, RationaleError::Empty);
        assert_eq!(e.to_string(), "Enter the reasons for the decision");
    }

    #[test]
    fn a_rationale_over_5000_characters_is_refused() {
        assert!(Rationale::parse(&"é".repeat(5_000)).is_ok());
        assert_eq!(
            Rationale::parse(&"é".repeat(5_001)),
            Err(RationaleError::TooLong)
        );
    }

    #[test]
    fn windows_line_endings_are_stored_as_one_character() {
        let r = Rationale::parse("line one\r\nline two").unwrap();
        assert_eq!(r.as_str(), "line one\nline two");
    }

    #[test]
    fn a_return_comment_must_say_something_and_not_too_much() {
        assert_eq!(ReturnComment::parse(""), Err(ReturnCommentError::Empty));
        assert_eq!(
            ReturnComment::parse(" Check the school ").unwrap().as_str(),
            "Check the school"
        );
        assert_eq!(
            ReturnComment::parse(&"x".repeat(2_001)),
            Err(ReturnCommentError::TooLong)
        );
    }
}
