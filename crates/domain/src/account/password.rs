use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

/// NCSC-style policy: a minimum length and a blocklist of common passwords, no
/// composition rules ("must contain a symbol") and no forced expiry.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Upper bound so that hashing cannot be used to exhaust the server.
pub const MAX_PASSWORD_CHARS: usize = 256;

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../data/common-passwords.txt")
        .lines()
        .collect()
});

/// A password that meets the policy. Only constructed through [`NewPassword::parse`].
#[derive(Clone)]
pub struct NewPassword(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("Enter a password")]
    Empty,
    #[error("Password must be 12 characters or more")]
    TooShort,
    #[error("Password must be 256 characters or fewer")]
    TooLong,
    #[error(
        "Password is too easy to guess: it is one of the most common passwords. Try three random words"
    )]
    Common,
    #[error("Password must not contain your email address")]
    ContainsEmail,
    #[error("Password must not be the same character repeated or a simple sequence")]
    Repetitive,
}

impl NewPassword {
    /// `email` is the account's address: the password must not contain it.
    pub fn parse(input: &str, email: &str) -> Result<Self, PasswordError> {
        if input.is_empty() {
            return Err(PasswordError::Empty);
        }
        let n = input.chars().count();
        if n < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        if n > MAX_PASSWORD_CHARS {
            return Err(PasswordError::TooLong);
        }
        let lower = input.to_lowercase();
        if is_common(&lower) {
            return Err(PasswordError::Common);
        }
        let local = email.split('@').next().unwrap_or("").to_lowercase();
        if (!email.is_empty() && lower.contains(&email.to_lowercase()))
            || (local.len() >= 4 && lower.contains(&local))
        {
            return Err(PasswordError::ContainsEmail);
        }
        if is_repetitive(&lower) {
            return Err(PasswordError::Repetitive);
        }
        Ok(Self(input.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(********)")
    }
}

/// Common passwords, also with the digits and symbols people add to reach a length rule
/// ("password12345!").
fn is_common(lower: &str) -> bool {
    if COMMON.contains(lower) {
        return true;
    }
    // A common password followed only by digits or symbols is still common.
    lower.char_indices().skip(4).any(|(i, _)| {
        let (head, tail) = lower.split_at(i);
        tail.chars()
            .all(|c| c.is_ascii_digit() || "!?.*#@$_- ".contains(c))
            && COMMON.contains(head)
    })
}

fn is_repetitive(lower: &str) -> bool {
    let chars: Vec<char> = lower.chars().collect();
    let distinct: HashSet<char> = chars.iter().copied().collect();
    if distinct.len() <= 2 {
        return true;
    }
    let ascending = chars.windows(2).all(|w| w[1] as u32 == w[0] as u32 + 1);
    let descending = chars.windows(2).all(|w| w[0] as u32 == w[1] as u32 + 1);
    ascending || descending
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMAIL: &str = "sam.teacher@example.org";

    #[test]
    fn three_random_words_are_accepted() {
        assert!(NewPassword::parse("kettle orbit marmalade", EMAIL).is_ok());
    }

    #[test]
    fn no_composition_rules_apply() {
        assert!(NewPassword::parse("alllowercaseletters", EMAIL).is_ok());
    }

    #[test]
    fn an_empty_password_is_rejected() {
        assert_eq!(
            NewPassword::parse("", EMAIL).unwrap_err(),
            PasswordError::Empty
        );
    }

    #[test]
    fn a_password_of_eleven_characters_is_too_short_and_twelve_is_enough() {
        assert_eq!(
            NewPassword::parse("kettleorbit", EMAIL).unwrap_err(),
            PasswordError::TooShort
        );
        assert!(NewPassword::parse("kettleorbitz", EMAIL).is_ok());
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // 11 characters, 22 bytes.
        assert_eq!(
            NewPassword::parse("ééééééééééé", EMAIL).unwrap_err(),
            PasswordError::TooShort
        );
    }

    #[test]
    fn an_overlong_password_is_rejected() {
        assert_eq!(
            NewPassword::parse(&"word ".repeat(60), EMAIL).unwrap_err(),
            PasswordError::TooLong
        );
    }

    #[test]
    fn common_passwords_are_rejected_whatever_their_case() {
        for p in [
            "123456789012",
            "qwertyuiop123",
            "PASSWORD1234",
            "password12345!",
            "Liverpool123456",
            "iloveyou12345",
        ] {
            assert_eq!(
                NewPassword::parse(p, EMAIL).unwrap_err(),
                PasswordError::Common,
                "{p}"
            );
        }
    }

    #[test]
    fn a_password_containing_the_email_is_rejected() {
        assert_eq!(
            NewPassword::parse("sam.teacher@example.org1", EMAIL).unwrap_err(),
            PasswordError::ContainsEmail
        );
        assert_eq!(
            NewPassword::parse("xx-sam.teacher-xx", EMAIL).unwrap_err(),
            PasswordError::ContainsEmail
        );
    }

    #[test]
    fn repeated_characters_and_sequences_are_rejected() {
        assert_eq!(
            NewPassword::parse("zzzzzzzzzzzzzz", EMAIL).unwrap_err(),
            PasswordError::Repetitive
        );
        assert_eq!(
            NewPassword::parse("abababababab", EMAIL).unwrap_err(),
            PasswordError::Repetitive
        );
        assert_eq!(
            NewPassword::parse("cdefghijklmnop", EMAIL).unwrap_err(),
            PasswordError::Repetitive
        );
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let p = NewPassword::parse("kettle orbit marmalade", EMAIL).unwrap();
        assert!(!format!("{p:?}").contains("kettle"));
    }
}
