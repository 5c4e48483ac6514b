//! UK postcode.
//!
//! Accepted shapes of the outward code: `A9`, `A99`, `AA9`, `AA99`, `A9A`, `AA9A`,
//! then the inward code `9AA`, with the Royal Mail's letter restrictions by
//! position; plus the special `GIR 0AA`. Input is case-insensitive and any
//! spacing is accepted ("sw1a2aa", "SW1A  2AA"); the value is normalised to upper
//! case with exactly one space ("SW1A 2AA"). British Forces (BFPO) and overseas
//! territory codes are not accepted: a child's address is in the UK.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(into = "String")]
pub struct Postcode(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PostcodeError {
    #[error("Enter a postcode")]
    Empty,
    #[error("Enter a real postcode")]
    Invalid,
}

const NOT_FIRST: &[u8] = b"QVX";
const NOT_SECOND: &[u8] = b"IJZ";
const THIRD_A9A: &[u8] = b"ABCDEFGHJKPSTUW";
const FOURTH_AA9A: &[u8] = b"ABEHMNPRVWXY";
const NOT_INWARD: &[u8] = b"CIKMOV";

impl Postcode {
    pub fn parse(input: &str) -> Result<Self, PostcodeError> {
        let compact: String = input
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_uppercase)
            .collect();
        if compact.is_empty() {
            return Err(PostcodeError::Empty);
        }
        if !compact.is_ascii() || !(5..=7).contains(&compact.len()) {
            return Err(PostcodeError::Invalid);
        }
        let (outward, inward) = compact.split_at(compact.len() - 3);
        if compact == "GIR0AA"
            || (valid_outward(outward.as_bytes()) && valid_inward(inward.as_bytes()))
        {
            Ok(Self(format!("{outward} {inward}")))
        } else {
            Err(PostcodeError::Invalid)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The outward code ("SW1A" of "SW1A 2AA").
    pub fn outward(&self) -> &str {
        self.0.split(' ').next().unwrap_or_default()
    }
}

fn letter(c: u8) -> bool {
    c.is_ascii_uppercase()
}

fn digit(c: u8) -> bool {
    c.is_ascii_digit()
}

fn valid_outward(o: &[u8]) -> bool {
    let first_ok = |c: u8| letter(c) && !NOT_FIRST.contains(&c);
    let second_ok = |c: u8| letter(c) && !NOT_SECOND.contains(&c);
    match *o {
        // A9, A99
        [a, n] => first_ok(a) && digit(n),
        [a, n, m] if digit(n) && digit(m) => first_ok(a),
        // A9A
        [a, n, b] if digit(n) => first_ok(a) && THIRD_A9A.contains(&b),
        // AA9
        [a, b, n] => first_ok(a) && second_ok(b) && digit(n),
        // AA99
        [a, b, n, m] if digit(m) => first_ok(a) && second_ok(b) && digit(n),
        // AA9A
        [a, b, n, c] => first_ok(a) && second_ok(b) && digit(n) && FOURTH_AA9A.contains(&c),
        _ => false,
    }
}

fn valid_inward(i: &[u8]) -> bool {
    matches!(*i, [n, a, b] if digit(n)
        && letter(a) && !NOT_INWARD.contains(&a)
        && letter(b) && !NOT_INWARD.contains(&b))
}

impl fmt::Display for Postcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Postcode> for String {
    fn from(p: Postcode) -> String {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> String {
        Postcode::parse(input)
            .unwrap_or_else(|e| panic!("{input:?} refused: {e}"))
            .to_string()
    }

    #[test]
    fn every_outward_shape_is_accepted() {
        assert_eq!(ok("M1 1AE"), "M1 1AE"); // A9
        assert_eq!(ok("B33 8TH"), "B33 8TH"); // A99
        assert_eq!(ok("W1A 0AX"), "W1A 0AX"); // A9A
        assert_eq!(ok("CR2 6XH"), "CR2 6XH"); // AA9
        assert_eq!(ok("DN55 1PT"), "DN55 1PT"); // AA99
        assert_eq!(ok("EC1A 1BB"), "EC1A 1BB"); // AA9A
    }

    #[test]
    fn is_normalised_to_upper_case_with_one_space() {
        assert_eq!(ok("sw1a2aa"), "SW1A 2AA");
        assert_eq!(ok("  sw1a   2aa "), "SW1A 2AA");
        assert_eq!(ok("Ls1 4aP"), "LS1 4AP");
    }

    #[test]
    fn gir_0aa_is_accepted() {
        assert_eq!(ok("gir 0aa"), "GIR 0AA");
    }

    #[test]
    fn empty_is_its_own_error() {
        assert_eq!(Postcode::parse("   "), Err(PostcodeError::Empty));
    }

    #[test]
    fn nonsense_is_rejected() {
        for bad in [
            "hello",
            "12345",
            "SW1A",
            "SW1A 2A",
            "SW1A 2AAA",
            "SW1A-2AA!",
            "S 1AA",
            "ABCDE 1AA",
            "1AB 2CD",
            "SWW1A 2AA",
        ] {
            assert_eq!(Postcode::parse(bad), Err(PostcodeError::Invalid), "{bad}");
        }
    }

    #[test]
    fn restricted_letters_are_rejected() {
        assert!(Postcode::parse("QA1 1AA").is_err()); // Q never first
        assert!(Postcode::parse("AZ1 1AA").is_err()); // Z never second
        assert!(Postcode::parse("W1I 1AA").is_err()); // I never third in A9A
        assert!(Postcode::parse("EC1C 1AA").is_err()); // C never fourth in AA9A
        assert!(Postcode::parse("M1 1CA").is_err()); // C never in inward code
        assert!(Postcode::parse("M1 1AO").is_err()); // O never in inward code
    }

    #[test]
    fn non_ascii_is_rejected() {
        assert_eq!(Postcode::parse("M1 1AÉ"), Err(PostcodeError::Invalid));
    }

    #[test]
    fn outward_code_is_available() {
        assert_eq!(Postcode::parse("ec1a1bb").unwrap().outward(), "EC1A");
    }

    #[test]
    fn error_message_is_plain_english() {
        assert_eq!(PostcodeError::Invalid.to_string(), "Enter a real postcode");
    }
}
