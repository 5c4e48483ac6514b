//! NHS number: 10 digits, the last a Modulus 11 check digit.

use std::fmt;

/// A valid NHS number (10 digits with a correct Modulus 11 check digit).
///
/// Input may contain spaces and hyphens ("943 476 5919", "943-476-5919").
/// Numbers made of one repeated digit ("0000000000", "1111111111") pass the
/// checksum but are never issued, so they are refused too.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(into = "String")]
pub struct NhsNumber([u8; 10]);

/// Why an NHS number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NhsNumberError {
    #[error("Enter the NHS number")]
    Empty,
    #[error("NHS number must be 10 digits")]
    WrongLength,
    #[error("NHS number must only include numbers 0 to 9, spaces and hyphens")]
    InvalidCharacters,
    #[error("Enter a real NHS number")]
    CheckDigit,
}

impl NhsNumber {
    pub fn parse(input: &str) -> Result<Self, NhsNumberError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(NhsNumberError::Empty);
        }
        let mut digits = Vec::with_capacity(10);
        for c in trimmed.chars() {
            match c {
                '0'..='9' => digits.push(c as u8 - b'0'),
                ' ' | '-' | '\u{a0}' => {}
                _ => return Err(NhsNumberError::InvalidCharacters),
            }
        }
        let digits: [u8; 10] = digits.try_into().map_err(|_| NhsNumberError::WrongLength)?;
        if check_digit(&digits[..9]) != Some(digits[9]) {
            return Err(NhsNumberError::CheckDigit);
        }
        if digits.iter().all(|d| *d == digits[0]) {
            return Err(NhsNumberError::CheckDigit);
        }
        Ok(Self(digits))
    }

    /// The 10 digits without spaces ("9434765919"), for storage and matching.
    pub fn digits(&self) -> String {
        self.0.iter().map(|d| char::from(b'0' + d)).collect()
    }
}

/// Modulus 11 check digit of the first nine digits: weights 10 down to 2,
/// 11 minus the remainder, 11 becomes 0, and 10 means no valid number exists.
pub fn check_digit(first_nine: &[u8]) -> Option<u8> {
    debug_assert_eq!(first_nine.len(), 9);
    let sum: u32 = first_nine
        .iter()
        .zip((2..=10u32).rev())
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        n => Some(n as u8),
    }
}

impl fmt::Display for NhsNumber {
    /// Grouped 3-3-4 as the NHS writes it: "943 476 5919".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.digits();
        write!(f, "{} {} {}", &d[..3], &d[3..6], &d[6..])
    }
}

impl From<NhsNumber> for String {
    fn from(n: NhsNumber) -> String {
        n.digits()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a valid, invented NHS number in the 999 range, which the NHS
    /// reserves for testing and never issues, from six digits of our choosing.
    pub(crate) fn invented_nhs_number(seed: u32) -> String {
        let mut n = seed;
        loop {
            let s = format!("999{:06}", n % 1_000_000);
            let digits: Vec<u8> = s.bytes().map(|b| b - b'0').collect();
            if let Some(c) = check_digit(&digits) {
                return format!("{s}{c}");
            }
            n += 1;
        }
    }

    #[test]
    fn a_number_with_a_correct_check_digit_is_accepted() {
        let n = invented_nhs_number(123_456);
        assert_eq!(NhsNumber::parse(&n).unwrap().digits(), n);
    }

    #[test]
    fn spaces_and_hyphens_are_allowed() {
        let n = invented_nhs_number(42);
        let spaced = format!("{} {} {}", &n[..3], &n[3..6], &n[6..]);
        let hyphened = format!("{}-{}-{}", &n[..3], &n[3..6], &n[6..]);
        assert_eq!(NhsNumber::parse(&spaced).unwrap().digits(), n);
        assert_eq!(NhsNumber::parse(&hyphened).unwrap().digits(), n);
        assert_eq!(NhsNumber::parse(&format!("  {n} ")).unwrap().digits(), n);
    }

    #[test]
    fn displays_grouped_three_three_four() {
        let n = invented_nhs_number(7);
        let shown = NhsNumber::parse(&n).unwrap().to_string();
        assert_eq!(shown, format!("{} {} {}", &n[..3], &n[3..6], &n[6..]));
    }

    #[test]
    fn the_documented_example_number_is_valid() {
        // The NHS's own published example, not a person.
        assert_eq!(
            NhsNumber::parse("9434765919").unwrap().to_string(),
            "943 476 5919"
        );
    }

    #[test]
    fn a_wrong_check_digit_is_rejected() {
        let n = invented_nhs_number(555);
        let last = n.as_bytes()[9] - b'0';
        let wrong = format!("{}{}", &n[..9], (last + 1) % 10);
        assert_eq!(NhsNumber::parse(&wrong), Err(NhsNumberError::CheckDigit));
    }

    #[test]
    fn every_single_digit_change_is_detected() {
        for seed in [1, 2_024, 314_159, 999_999] {
            let n = invented_nhs_number(seed);
            for pos in 0..10 {
                for d in b'0'..=b'9' {
                    let mut bytes = n.clone().into_bytes();
                    if bytes[pos] == d {
                        continue;
                    }
                    bytes[pos] = d;
                    let changed = String::from_utf8(bytes).unwrap();
                    assert!(NhsNumber::parse(&changed).is_err(), "{changed} accepted");
                }
            }
        }
    }

    #[test]
    fn a_number_whose_check_digit_would_be_ten_is_rejected() {
        // Find nine digits whose check would be 10: no valid number starts with them.
        let nine = (0..1_000_000u32)
            .map(|n| format!("999{n:06}"))
            .find(|s| check_digit(&s.bytes().map(|b| b - b'0').collect::<Vec<_>>()).is_none())
            .unwrap();
        for last in 0..10 {
            assert_eq!(
                NhsNumber::parse(&format!("{nine}{last}")),
                Err(NhsNumberError::CheckDigit)
            );
        }
    }

    #[test]
    fn too_short_and_too_long_numbers_are_rejected() {
        assert_eq!(
            NhsNumber::parse("999123456"),
            Err(NhsNumberError::WrongLength)
        );
        assert_eq!(
            NhsNumber::parse("99912345678"),
            Err(NhsNumberError::WrongLength)
        );
    }

    #[test]
    fn letters_are_rejected() {
        assert_eq!(
            NhsNumber::parse("999 123 456A"),
            Err(NhsNumberError::InvalidCharacters)
        );
    }

    #[test]
    fn empty_input_is_rejected() {
        assert_eq!(NhsNumber::parse("  "), Err(NhsNumberError::Empty));
    }

    #[test]
    fn repeated_digit_numbers_are_rejected() {
        assert_eq!(
            NhsNumber::parse("0000000000"),
            Err(NhsNumberError::CheckDigit)
        );
        assert_eq!(
            NhsNumber::parse("1111111111"),
            Err(NhsNumberError::CheckDigit)
        );
    }

    #[test]
    fn errors_are_plain_english() {
        assert_eq!(
            NhsNumberError::CheckDigit.to_string(),
            "Enter a real NHS number"
        );
        assert_eq!(
            NhsNumberError::WrongLength.to_string(),
            "NHS number must be 10 digits"
        );
    }
}
