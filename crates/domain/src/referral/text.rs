//! Free text with a character limit.
//!
//! # How characters are counted
//!
//! A "character" is a **Unicode scalar value** (a Rust `char`), counted after
//! two normalisations that make the count match what the person sees:
//!
//! 1. line endings are normalised to `\n` (browsers submit a textarea's new lines
//!    as `\r\n`, but show and count them as one character), and
//! 2. leading and trailing white space is trimmed (it is thrown away on save).
//!
//! [`character_count`] is that count. The web layer uses the same function for the
//! server-rendered "You have N characters remaining" message, so the number the
//! person is shown and the number the rule enforces are the same. (The
//! govuk-frontend script counts UTF-16 code units, which only differs for
//! characters outside the Basic Multilingual Plane such as emoji: there the
//! script is stricter than the server, never more lenient.)

use std::fmt;

/// Limit for the description of the concerns.
pub const CONCERNS_MAX: usize = 20_000;
/// Limit for each of the other long free-text sections (what has been done, the
/// child's views, strengths, risks, support requested, consent reasons,
/// disability or health needs).
pub const SECTION_TEXT_MAX: usize = 5_000;
/// Limit for the previous reference numbers box.
pub const PREVIOUS_REFERENCES_MAX: usize = 1_000;
/// Limit for an address (several lines in one textarea).
pub const ADDRESS_MAX: usize = 500;
/// Limit for short answers: a school, GP practice, religion, language, job title.
pub const SHORT_TEXT_MAX: usize = 200;
/// Limit for a person's name (one name field).
pub const NAME_MAX: usize = 100;

/// The character count the limits are enforced on (see the module docs).
pub fn character_count(input: &str) -> usize {
    normalise(input).chars().count()
}

/// Characters remaining before `max`; negative when over the limit.
pub fn characters_remaining(input: &str, max: usize) -> i64 {
    max as i64 - character_count(input) as i64
}

/// `\r\n` and lone `\r` become `\n`; surrounding white space is trimmed.
fn normalise(input: &str) -> String {
    input
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .trim()
        .to_owned()
}

/// Formats a number with thousands separators, as GOV.UK content does ("20,000").
pub fn format_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Why a piece of text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing but white space was entered.
    #[error("Enter some text")]
    Empty,
    /// More characters than allowed.
    #[error("Text must be {} characters or less", format_thousands(*.max))]
    TooLong { max: usize, actual: usize },
}

impl TextError {
    /// The GOV.UK-style message for this error, naming the field.
    ///
    /// `subject` starts with a capital ("Concerns"); `empty_message` is the
    /// field's own "Enter …" sentence ("Enter the concerns about the child").
    pub fn message(&self, subject: &str, empty_message: &str) -> String {
        match self {
            TextError::Empty => empty_message.to_owned(),
            TextError::TooLong { max, .. } => {
                format!(
                    "{subject} must be {} characters or less",
                    format_thousands(*max)
                )
            }
        }
    }
}

/// Non-empty, trimmed text of at most `MAX` characters (see [`character_count`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct BoundedText<const MAX: usize>(String);

impl<const MAX: usize> BoundedText<MAX> {
    /// The limit of this type.
    pub const MAX: usize = MAX;

    /// Trims, normalises line endings and checks the length.
    pub fn parse(input: &str) -> Result<Self, TextError> {
        let text = normalise(input);
        if text.is_empty() {
            return Err(TextError::Empty);
        }
        let actual = text.chars().count();
        if actual > MAX {
            return Err(TextError::TooLong { max: MAX, actual });
        }
        Ok(Self(text))
    }

    /// Like [`BoundedText::parse`], but empty input is `Ok(None)`: for optional fields.
    pub fn parse_optional(input: &str) -> Result<Option<Self>, TextError> {
        match Self::parse(input) {
            Ok(text) => Ok(Some(text)),
            Err(TextError::Empty) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl<const MAX: usize> AsRef<str> for BoundedText<MAX> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> fmt::Display for BoundedText<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de, const MAX: usize> serde::Deserialize<'de> for BoundedText<MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The concerns (up to [`CONCERNS_MAX`] characters).
pub type ConcernsText = BoundedText<CONCERNS_MAX>;
/// A long free-text section (up to [`SECTION_TEXT_MAX`] characters).
pub type SectionText = BoundedText<SECTION_TEXT_MAX>;
/// Previous reference numbers (up to [`PREVIOUS_REFERENCES_MAX`] characters).
pub type PreviousReferencesText = BoundedText<PREVIOUS_REFERENCES_MAX>;
/// An address (up to [`ADDRESS_MAX`] characters).
pub type AddressText = BoundedText<ADDRESS_MAX>;
/// A short answer (up to [`SHORT_TEXT_MAX`] characters).
pub type ShortText = BoundedText<SHORT_TEXT_MAX>;
/// A name (up to [`NAME_MAX`] characters).
pub type Name = BoundedText<NAME_MAX>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_exactly_at_the_limit_is_accepted() {
        let text = "a".repeat(CONCERNS_MAX);
        assert_eq!(
            ConcernsText::parse(&text).unwrap().as_str().len(),
            CONCERNS_MAX
        );
    }

    #[test]
    fn text_one_over_the_limit_is_rejected() {
        let text = "a".repeat(CONCERNS_MAX + 1);
        let err = ConcernsText::parse(&text).unwrap_err();
        assert_eq!(
            err,
            TextError::TooLong {
                max: CONCERNS_MAX,
                actual: CONCERNS_MAX + 1
            }
        );
        assert_eq!(
            err.message("Concerns", "Enter the concerns"),
            "Concerns must be 20,000 characters or less"
        );
    }

    #[test]
    fn section_text_limit_is_5000() {
        assert!(SectionText::parse(&"b".repeat(5_000)).is_ok());
        assert!(SectionText::parse(&"b".repeat(5_001)).is_err());
    }

    #[test]
    fn empty_and_whitespace_only_text_is_rejected() {
        assert_eq!(Name::parse(""), Err(TextError::Empty));
        assert_eq!(Name::parse("  \r\n\t "), Err(TextError::Empty));
    }

    #[test]
    fn optional_text_treats_empty_as_none_but_still_checks_the_limit() {
        assert_eq!(Name::parse_optional("   "), Ok(None));
        assert!(Name::parse_optional(&"x".repeat(NAME_MAX + 1)).is_err());
        assert_eq!(
            Name::parse_optional(" Ada ").unwrap().unwrap().as_str(),
            "Ada"
        );
    }

    #[test]
    fn text_is_trimmed() {
        assert_eq!(
            Name::parse("  Mia Example \n").unwrap().as_str(),
            "Mia Example"
        );
    }

    #[test]
    fn windows_line_endings_count_as_one_character() {
        // 3 lines of 2 characters joined by CRLF: 2 + 1 + 2 + 1 + 2 = 8.
        assert_eq!(character_count("ab\r\ncd\r\nef"), 8);
        let max_text = format!("{}\r\n{}", "a".repeat(2_499), "b".repeat(2_500));
        assert_eq!(character_count(&max_text), 5_000);
        let parsed = SectionText::parse(&max_text).unwrap();
        assert!(!parsed.as_str().contains('\r'));
    }

    #[test]
    fn non_ascii_characters_count_as_one_each() {
        assert_eq!(character_count("Zoë"), 3);
        assert_eq!(character_count("日本語"), 3);
        let text = "é".repeat(NAME_MAX);
        assert!(Name::parse(&text).is_ok());
    }

    #[test]
    fn the_ui_count_is_the_count_the_rule_enforces() {
        let text = format!("  {}  ", "c".repeat(NAME_MAX));
        assert_eq!(character_count(&text), NAME_MAX);
        assert!(Name::parse(&text).is_ok());
        assert_eq!(characters_remaining(&text, NAME_MAX), 0);
        assert_eq!(characters_remaining("cc", 1), -1);
    }

    #[test]
    fn thousands_are_separated_with_commas() {
        assert_eq!(format_thousands(0), "0");
        assert_eq!(format_thousands(999), "999");
        assert_eq!(format_thousands(1_000), "1,000");
        assert_eq!(format_thousands(20_000), "20,000");
        assert_eq!(format_thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn deserialising_runs_the_same_rules() {
        let ok: Name = serde_json::from_str("\" Ada \"").unwrap();
        assert_eq!(ok.as_str(), "Ada");
        assert!(serde_json::from_str::<Name>("\"  \"").is_err());
    }
}
