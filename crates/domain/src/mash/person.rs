//! The person index (R-51): case-management ids, the reason a link is undone, and the
//! folded text the work tray searches child names in.

use std::fmt;

use crate::referral::reference::ALPHABET;

/// Longest id accepted from the case-management system.
pub const PERSON_ID_MAX: usize = 64;
/// Longest reason for undoing a link.
pub const UNLINK_REASON_MAX: usize = 500;

/// A person's id in the case-management records: what the import file says, or
/// `P-` and eight random characters for a person created from a referral.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonId(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PersonIdError {
    #[error("empty id")]
    Empty,
    #[error("id longer than 64 characters")]
    TooLong,
    #[error("id contains a control character")]
    ControlCharacter,
}

impl PersonId {
    /// Trims surrounding spaces; refuses empty, over-long and control characters.
    pub fn parse(input: &str) -> Result<Self, PersonIdError> {
        let id = input.trim();
        if id.is_empty() {
            return Err(PersonIdError::Empty);
        }
        if id.chars().count() > PERSON_ID_MAX {
            return Err(PersonIdError::TooLong);
        }
        if id.chars().any(char::is_control) {
            return Err(PersonIdError::ControlCharacter);
        }
        Ok(Self(id.to_owned()))
    }

    /// A new id for a person created from a referral, from 8 random bytes supplied by the
    /// caller (the domain does no I/O): `P-` and 8 characters of the reference alphabet
    /// (no look-alike characters), about 78 billion possibilities; storage refuses a clash.
    pub fn generate(random: [u8; 8]) -> Self {
        let mut n = u64::from_le_bytes(random);
        let mut id = String::from("P-");
        for _ in 0..8 {
            id.push(ALPHABET[(n % ALPHABET.len() as u64) as usize] as char);
            n /= ALPHABET.len() as u64;
        }
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a link between a referral's child and a person was undone: 1 to 500 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnlinkReason(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnlinkReasonError {
    #[error("Enter why the link is wrong")]
    Empty,
    #[error("The reason must be 500 characters or less")]
    TooLong,
}

impl UnlinkReason {
    pub fn parse(input: &str) -> Result<Self, UnlinkReasonError> {
        let text = input.replace("\r\n", "\n").trim().to_owned();
        if text.is_empty() {
            Err(UnlinkReasonError::Empty)
        } else if text.chars().count() > UNLINK_REASON_MAX {
            Err(UnlinkReasonError::TooLong)
        } else {
            Ok(Self(text))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Folded text for searching names: lower case, accents removed (Latin letters),
/// apostrophes dropped ("O'Neill" → "oneill"), any other punctuation a single space.
/// The work tray stores every child's names folded this way and folds the search term
/// the same way, so "zoe" finds "Zoë" and "o'neill" finds "O’Neill".
pub fn search_text(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut space = false;
    for c in input.chars() {
        if matches!(c, '\'' | '’' | '‘' | '`' | 'ʼ') {
            continue;
        }
        if c.is_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            for l in c.to_lowercase() {
                match fold(l) {
                    Some(s) => out.push_str(s),
                    None => out.push(l),
                }
            }
        } else {
            space = true;
        }
    }
    out
}

/// The unaccented form of a lower-case Latin letter with a diacritic.
fn fold(c: char) -> Option<&'static str> {
    const TABLE: &[(&str, &str)] = &[
        ("àáâãäåāăą", "a"),
        ("çćĉċč", "c"),
        ("ďđ", "d"),
        ("èéêëēĕėęě", "e"),
        ("ĝğġģ", "g"),
        ("ĥħ", "h"),
        ("ìíîïĩīĭįı", "i"),
        ("ĵ", "j"),
        ("ķ", "k"),
        ("ĺļľŀł", "l"),
        ("ñńņňŉ", "n"),
        ("òóôõöøōŏő", "o"),
        ("ŕŗř", "r"),
        ("śŝşšș", "s"),
        ("ţťŧț", "t"),
        ("ùúûüũūŭůűų", "u"),
        ("ŵ", "w"),
        ("ýÿŷ", "y"),
        ("źżž", "z"),
        ("æ", "ae"),
        ("œ", "oe"),
        ("ß", "ss"),
        ("þ", "th"),
        ("ð", "d"),
    ];
    TABLE
        .iter()
        .find(|(from, _)| from.contains(c))
        .map(|(_, to)| *to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_trimmed_and_must_not_be_empty() {
        assert_eq!(PersonId::parse(" 12345 ").unwrap().as_str(), "12345");
        assert_eq!(PersonId::parse("  "), Err(PersonIdError::Empty));
    }

    #[test]
    fn an_id_over_64_characters_or_with_control_characters_is_refused() {
        assert!(PersonId::parse(&"9".repeat(64)).is_ok());
        assert_eq!(
            PersonId::parse(&"9".repeat(65)),
            Err(PersonIdError::TooLong)
        );
        assert_eq!(
            PersonId::parse("12\u{0}3"),
            Err(PersonIdError::ControlCharacter)
        );
    }

    #[test]
    fn generated_ids_have_the_p_prefix_and_differ_for_different_bytes() {
        let a = PersonId::generate(*b"abcdefgh");
        let b = PersonId::generate(*b"abcdefgi");
        assert!(
            a.as_str().starts_with("P-") && a.as_str().len() == 10,
            "{a}"
        );
        assert_ne!(a, b);
        assert_eq!(PersonId::parse(a.as_str()), Ok(a));
    }

    #[test]
    fn an_unlink_reason_is_required_and_bounded() {
        assert_eq!(UnlinkReason::parse(" \r\n"), Err(UnlinkReasonError::Empty));
        assert_eq!(
            UnlinkReason::parse(&"x".repeat(501)),
            Err(UnlinkReasonError::TooLong)
        );
        assert_eq!(
            UnlinkReason::parse(" Different date of birth ")
                .unwrap()
                .as_str(),
            "Different date of birth"
        );
    }

    #[test]
    fn search_text_folds_case_and_accents() {
        assert_eq!(search_text("Zoë Łukasz-ÉLODIE"), "zoe lukasz elodie");
        assert_eq!(search_text("Siobhán Müller"), "siobhan muller");
    }

    #[test]
    fn search_text_drops_apostrophes_and_collapses_punctuation() {
        assert_eq!(search_text("O’Neill"), "oneill");
        assert_eq!(search_text("  d'Arcy  --  Smith, "), "darcy smith");
        assert_eq!(search_text(""), "");
    }

    #[test]
    fn search_text_keeps_letters_it_cannot_fold() {
        assert_eq!(search_text("Nguyễn 王芳"), "nguyễn 王芳");
    }
}
