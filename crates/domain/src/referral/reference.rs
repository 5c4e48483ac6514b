//! Referral reference numbers: unique, human-readable, easy to read out
//! over the phone, with a check character.
//!
//! Format: `EH-XXXX-XXXX`, seven random characters and one check character.
//!
//! The alphabet leaves out characters that look or sound alike
//! (0/O, 1/I/L, 5/S, 2/Z, 8/B, U/V): `34679ACDEFGHJKMNPQRTWXY`, 23 characters.
//! 23 is prime, so a weighted sum with weights 1..=8 modulo 23 detects **every**
//! single wrong character (weight × difference is never a multiple of 23) and
//! **every** swap of two neighbouring characters (the weights differ by 1, so
//! the sum changes by the difference of the characters). 23⁷ ≈ 3.4 billion
//! references; the store still enforces uniqueness and retries on a clash.

use std::fmt;

/// The characters a reference is made of, in value order.
pub const ALPHABET: &[u8; 23] = b"34679ACDEFGHJKMNPQRTWXY";
const BASE: u64 = ALPHABET.len() as u64;
/// Random characters in a reference.
const DATA_LEN: usize = 7;
/// The fixed prefix.
pub const PREFIX: &str = "EH";

/// A well-formed reference number with a correct check character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(into = "String")]
pub struct ReferenceNumber([u8; 8]);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("Enter a reference number")]
    Empty,
    #[error("Enter a reference number in the correct format, like EH-7KQ4-MCX4")]
    Format,
    #[error("Check the reference number: one or more characters are wrong")]
    CheckCharacter,
}

fn value_of(c: u8) -> Option<u8> {
    ALPHABET.iter().position(|a| *a == c).map(|p| p as u8)
}

/// The check value making Σ (i+1)·vᵢ ≡ 0 (mod 23) over all eight characters.
fn check_value(data: &[u8]) -> u8 {
    let sum: u64 = data
        .iter()
        .enumerate()
        .map(|(i, v)| (i as u64 + 1) * u64::from(*v))
        .sum();
    // 8·c ≡ −sum (mod 23); the inverse of 8 modulo 23 is 3.
    (((BASE - sum % BASE) * 3) % BASE) as u8
}

impl ReferenceNumber {
    /// Makes a reference from 8 random bytes supplied by the caller (the domain
    /// crate does no I/O; the web layer passes bytes from the OS generator).
    pub fn generate(random: [u8; 8]) -> Self {
        let mut n = u64::from_le_bytes(random);
        let mut values = [0u8; 8];
        for v in values.iter_mut().take(DATA_LEN) {
            *v = (n % BASE) as u8;
            n /= BASE;
        }
        values[DATA_LEN] = check_value(&values[..DATA_LEN]);
        Self(values.map(|v| ALPHABET[v as usize]))
    }

    /// Parses what someone typed or read out: any case, spaces or hyphens
    /// anywhere, with or without the "EH" prefix.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let compact: Vec<u8> = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .flat_map(char::to_uppercase)
            .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
            .collect();
        if compact.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let body = match compact.len() {
            10 if compact.starts_with(PREFIX.as_bytes()) => &compact[2..],
            8 => &compact[..],
            _ => return Err(ReferenceError::Format),
        };
        let mut values = [0u8; 8];
        for (v, c) in values.iter_mut().zip(body) {
            *v = value_of(*c).ok_or(ReferenceError::Format)?;
        }
        if check_value(&values[..DATA_LEN]) != values[DATA_LEN] {
            return Err(ReferenceError::CheckCharacter);
        }
        let mut chars = [0u8; 8];
        chars.copy_from_slice(body);
        Ok(Self(chars))
    }

    /// The eight characters without prefix or hyphens.
    pub fn compact(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII alphabet")
    }
}

impl fmt::Display for ReferenceNumber {
    /// "EH-7KQ4-MCX4".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.compact();
        write!(f, "{PREFIX}-{}-{}", &s[..4], &s[4..])
    }
}

impl From<ReferenceNumber> for String {
    fn from(r: ReferenceNumber) -> String {
        r.to_string()
    }
}

impl std::str::FromStr for ReferenceNumber {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<ReferenceNumber> {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        (0..50)
            .map(|_| {
                // xorshift: deterministic "random" bytes for the tests.
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                ReferenceNumber::generate(seed.to_le_bytes())
            })
            .collect()
    }

    #[test]
    fn alphabet_has_no_ambiguous_characters() {
        for c in b"0O1IL5S2Z8BUV" {
            assert!(!ALPHABET.contains(c), "{}", *c as char);
        }
        let mut sorted = ALPHABET.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 23);
    }

    #[test]
    fn generated_references_have_the_documented_shape() {
        for r in samples() {
            let s = r.to_string();
            assert_eq!(s.len(), 12);
            assert!(s.starts_with("EH-"));
            assert_eq!(&s[7..8], "-");
            assert!(r.compact().bytes().all(|c| ALPHABET.contains(&c)));
        }
    }

    #[test]
    fn generated_references_parse_back() {
        for r in samples() {
            assert_eq!(ReferenceNumber::parse(&r.to_string()), Ok(r));
        }
    }

    #[test]
    fn the_example_in_the_error_message_is_valid() {
        assert!(ReferenceNumber::parse("EH-7KQ4-MCX4").is_ok());
    }

    #[test]
    fn different_random_bytes_give_different_references() {
        let mut all: Vec<String> = samples().iter().map(|r| r.to_string()).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 50);
    }

    #[test]
    fn parsing_tolerates_case_spaces_and_missing_hyphens_and_prefix() {
        let r = samples()[0];
        let c = r.compact().to_owned();
        for typed in [
            r.to_string(),
            r.to_string().to_lowercase(),
            format!("EH{c}"),
            format!("eh {} {}", &c[..4], &c[4..]),
            c.clone(),
            format!("  {}-{}  ", &c[..4], &c[4..]),
        ] {
            assert_eq!(ReferenceNumber::parse(&typed), Ok(r), "{typed}");
        }
    }

    #[test]
    fn every_single_character_substitution_is_detected() {
        for r in samples() {
            let c = r.compact().as_bytes().to_vec();
            for pos in 0..8 {
                for &other in ALPHABET {
                    if other == c[pos] {
                        continue;
                    }
                    let mut wrong = c.clone();
                    wrong[pos] = other;
                    let wrong = String::from_utf8(wrong).unwrap();
                    assert_eq!(
                        ReferenceNumber::parse(&wrong),
                        Err(ReferenceError::CheckCharacter),
                        "{r} → {wrong}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_adjacent_transposition_is_detected() {
        let mut swaps_checked = 0;
        for r in samples() {
            let c = r.compact().as_bytes().to_vec();
            for pos in 0..7 {
                if c[pos] == c[pos + 1] {
                    continue;
                }
                let mut swapped = c.clone();
                swapped.swap(pos, pos + 1);
                let swapped = String::from_utf8(swapped).unwrap();
                assert_eq!(
                    ReferenceNumber::parse(&swapped),
                    Err(ReferenceError::CheckCharacter),
                    "{r} → {swapped}"
                );
                swaps_checked += 1;
            }
        }
        assert!(swaps_checked > 300);
    }

    #[test]
    fn ambiguous_characters_are_a_format_error() {
        assert_eq!(
            ReferenceNumber::parse("EH-0KQ4-MCX9"),
            Err(ReferenceError::Format)
        );
        assert_eq!(
            ReferenceNumber::parse("EH-7KQ4-MCXS"),
            Err(ReferenceError::Format)
        );
    }

    #[test]
    fn wrong_length_or_prefix_is_a_format_error() {
        assert_eq!(
            ReferenceNumber::parse("EH-7KQ4-MCX"),
            Err(ReferenceError::Format)
        );
        assert_eq!(
            ReferenceNumber::parse("EH-7KQ4-MCX49"),
            Err(ReferenceError::Format)
        );
        assert_eq!(
            ReferenceNumber::parse("XY-7KQ4-MCX9"),
            Err(ReferenceError::Format)
        );
        assert_eq!(
            ReferenceNumber::parse("EH-7KQ4-MCÉ9"),
            Err(ReferenceError::Format)
        );
    }

    #[test]
    fn empty_input_is_its_own_error() {
        assert_eq!(ReferenceNumber::parse(" - "), Err(ReferenceError::Empty));
    }

    #[test]
    fn serialises_in_display_form() {
        let r = ReferenceNumber::parse("eh7kq4mcx4").unwrap();
        assert_eq!(serde_json::to_string(&r).unwrap(), "\"EH-7KQ4-MCX4\"");
    }
}
