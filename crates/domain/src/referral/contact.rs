//! Contact details: UK telephone numbers and (minimally checked) email addresses.

use std::fmt;

/// A UK telephone number, parsed leniently.
///
/// Accepts digits with spaces, hyphens, dots, brackets and a leading `+44`
/// (optionally followed by "(0)"), e.g. "01632 960 001", "(01632) 960001",
/// "+44 (0)1632 960001", "07700-900-982". The national form must be 10 or 11
/// digits starting with 0. The number is shown as typed (trimmed) and
/// [`UkPhoneNumber::national`] gives the digits for matching and dialling.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct UkPhoneNumber {
    as_typed: String,
    national: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("Enter a telephone number")]
    Empty,
    #[error("Enter a telephone number, like 01632 960 001 or 07700 900 982")]
    Invalid,
}

/// Longest input accepted, in characters (a number with generous spacing).
const PHONE_INPUT_MAX: usize = 30;

impl UkPhoneNumber {
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let as_typed = input.trim();
        if as_typed.is_empty() {
            return Err(PhoneError::Empty);
        }
        if as_typed.chars().count() > PHONE_INPUT_MAX {
            return Err(PhoneError::Invalid);
        }
        let mut rest = as_typed.replace("(0)", "");
        let international = rest.starts_with('+');
        if international {
            rest.remove(0);
        }
        let mut digits = String::new();
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' | '\u{a0}' => {}
                _ => return Err(PhoneError::Invalid),
            }
        }
        let national = if international {
            match digits.strip_prefix("44") {
                Some(n) if !n.starts_with('0') => format!("0{n}"),
                _ => return Err(PhoneError::Invalid),
            }
        } else if let Some(n) = digits.strip_prefix("0044") {
            format!("0{}", n.trim_start_matches('0'))
        } else {
            digits
        };
        if !national.starts_with('0') || !(10..=11).contains(&national.len()) {
            return Err(PhoneError::Invalid);
        }
        Ok(Self {
            as_typed: as_typed.to_owned(),
            national,
        })
    }

    /// Digits only, national form: "01632960001".
    pub fn national(&self) -> &str {
        &self.national
    }

    pub fn as_typed(&self) -> &str {
        &self.as_typed
    }
}

impl fmt::Display for UkPhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_typed)
    }
}

/// An email address for contact, checked minimally: one `@`, something before
/// it, a dot-separated domain after it, no spaces, at most 254 characters.
///
/// The account module's `Email` applies the full registration rules (shared
/// mailboxes etc.); a referral only needs an address someone can write to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct ContactEmail(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ContactEmailError {
    #[error("Enter an email address")]
    Empty,
    #[error("Enter an email address in the correct format, like name@example.com")]
    Invalid,
}

impl ContactEmail {
    pub fn parse(input: &str) -> Result<Self, ContactEmailError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(ContactEmailError::Empty);
        }
        if s.chars().count() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ContactEmailError::Invalid);
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(ContactEmailError::Invalid);
        };
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && domain
                .split('.')
                .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
        if local.is_empty() || !domain_ok {
            return Err(ContactEmailError::Invalid);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContactEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_ways_of_writing_a_number_are_accepted() {
        for (input, national) in [
            ("01632 960 001", "01632960001"),
            ("01632960001", "01632960001"),
            ("(01632) 960001", "01632960001"),
            ("+44 1632 960001", "01632960001"),
            ("+44 (0)1632 960001", "01632960001"),
            ("0044 1632 960001", "01632960001"),
            ("07700-900-982", "07700900982"),
            ("020 7946 0000", "02079460000"),
            ("0161 496 0000", "01614960000"),
        ] {
            let p = UkPhoneNumber::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(p.national(), national, "{input}");
        }
    }

    #[test]
    fn a_ten_digit_national_number_is_accepted() {
        assert!(UkPhoneNumber::parse("01632 96000").is_ok());
    }

    #[test]
    fn the_number_is_shown_as_typed() {
        assert_eq!(
            UkPhoneNumber::parse("  01632 960 001 ")
                .unwrap()
                .to_string(),
            "01632 960 001"
        );
    }

    #[test]
    fn too_few_or_too_many_digits_are_refused() {
        assert_eq!(UkPhoneNumber::parse("01632 960"), Err(PhoneError::Invalid));
        assert_eq!(
            UkPhoneNumber::parse("01632 960 0011"),
            Err(PhoneError::Invalid)
        );
    }

    #[test]
    fn letters_are_refused() {
        assert_eq!(
            UkPhoneNumber::parse("01632 96000l"),
            Err(PhoneError::Invalid)
        );
        assert_eq!(
            UkPhoneNumber::parse("call reception"),
            Err(PhoneError::Invalid)
        );
    }

    #[test]
    fn a_number_not_starting_with_0_is_refused() {
        assert_eq!(
            UkPhoneNumber::parse("1632 960001"),
            Err(PhoneError::Invalid)
        );
    }

    #[test]
    fn a_foreign_number_is_refused() {
        assert_eq!(
            UkPhoneNumber::parse("+33 1 23 45 67 89"),
            Err(PhoneError::Invalid)
        );
    }

    #[test]
    fn an_empty_number_is_its_own_error() {
        assert_eq!(UkPhoneNumber::parse("  "), Err(PhoneError::Empty));
    }

    #[test]
    fn a_plain_email_is_accepted() {
        assert_eq!(
            ContactEmail::parse(" sam.teacher@example.org ")
                .unwrap()
                .as_str(),
            "sam.teacher@example.org"
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "sam",
            "sam@",
            "@example.org",
            "sam@example",
            "sam@@example.org",
            "sam @example.org",
            "sam@example..org",
            "sam@-example.org",
        ] {
            assert_eq!(
                ContactEmail::parse(bad),
                Err(ContactEmailError::Invalid),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_empty_email_is_its_own_error() {
        assert_eq!(ContactEmail::parse(""), Err(ContactEmailError::Empty));
    }
}
