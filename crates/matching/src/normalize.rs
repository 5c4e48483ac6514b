//! Normalisation rules: case, accents, punctuation, hyphenated names, initials,
//! nicknames, phonetic keys, UK postcodes and addresses.

use rustc_hash::FxHashMap;
use std::sync::OnceLock;

/// ASCII-fold (accents removed via `deunicode`), lower-case, drop apostrophes, and turn every
/// other non-alphanumeric character (hyphens, dots, commas, ...) into a single space.
pub fn fold(s: &str) -> String {
    let ascii: std::borrow::Cow<'_, str> = if s.is_ascii() {
        s.into()
    } else {
        deunicode::deunicode(s).into()
    };
    let mut out = String::with_capacity(ascii.len());
    let mut pending_space = false;
    for ch in ascii.chars() {
        if ch.is_ascii_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(ch.to_ascii_lowercase());
        } else if ch == '\'' || ch == '`' {
            // O'Brien -> obrien
        } else {
            pending_space = true;
        }
    }
    out
}

/// Titles and generational suffixes, dropped from names (unless nothing else is left).
const TITLES: &[&str] = &[
    "mr", "mrs", "ms", "miss", "mx", "master", "dr", "baby", "prof", "rev", "jr", "jnr", "junior",
    "sr", "snr", "senior", "ii", "iii", "iv",
];

/// Surname tokens: [`name_tokens`], with the particles O', Mc, Mac written apart joined to
/// the next token ("O Brien" = "O'Brien" = "OBrien"), and a leading "mac" written "mc"
/// (MacDonald = McDonald) when the rest is at least three letters long.
pub fn surname_tokens(s: &str) -> Vec<String> {
    let toks = name_tokens(s);
    let mut out: Vec<String> = Vec::with_capacity(toks.len());
    let mut pending = String::new();
    for t in toks {
        if matches!(t.as_str(), "o" | "mc" | "mac") {
            pending.push_str(&t);
            continue;
        }
        let joined = std::mem::take(&mut pending) + &t;
        out.push(joined);
    }
    if !pending.is_empty() {
        out.push(pending);
    }
    for t in &mut out {
        if t.len() >= 6 && t.starts_with("mac") {
            t.replace_range(0..3, "mc");
        }
    }
    out
}

/// Name tokens: folded, alphabetic only, titles removed (unless nothing else is left).
pub fn name_tokens(s: &str) -> Vec<String> {
    let folded = fold(s);
    let toks: Vec<String> = folded
        .split(' ')
        .map(|t| {
            t.chars()
                .filter(|c| c.is_ascii_alphabetic())
                .collect::<String>()
        })
        .filter(|t| !t.is_empty())
        .collect();
    let kept: Vec<String> = toks
        .iter()
        .filter(|t| !TITLES.contains(&t.as_str()))
        .cloned()
        .collect();
    if kept.is_empty() { toks } else { kept }
}

/// Double Metaphone primary and alternate codes (max length 4), packed into `u32`s
/// (0 = no code). Letters are packed 5 bits each with a leading length marker.
pub fn double_metaphone(token: &str) -> [u32; 2] {
    if token.is_empty() {
        return [0, 0];
    }
    let dm = rphonetic::DoubleMetaphone::default();
    let r = dm.double_metaphone(token);
    let p = pack_code(&r.primary());
    let a = pack_code(&r.alternate());
    [p, if a == p { 0 } else { a }]
}

fn pack_code(code: &str) -> u32 {
    if code.is_empty() {
        return 0;
    }
    let mut v: u32 = 1;
    for c in code.bytes().take(5) {
        let x = match c {
            b'A'..=b'Z' => u32::from(c - b'A') + 1,
            b'0' => 27,
            _ => 28,
        };
        v = (v << 5) | x;
    }
    v
}

/// Whether two phonetic code pairs share a code.
pub fn phonetic_equal(a: [u32; 2], b: [u32; 2]) -> bool {
    if a[0] == 0 || b[0] == 0 {
        return false;
    }
    a[0] == b[0]
        || (a[1] != 0 && a[1] == b[0])
        || (b[1] != 0 && a[0] == b[1])
        || (a[1] != 0 && a[1] == b[1])
}

/// The shipped nickname / diminutive table.
pub struct Nicknames {
    map: FxHashMap<String, Vec<u16>>,
    canon: Vec<String>,
}

static NICKNAMES: OnceLock<Nicknames> = OnceLock::new();

impl Nicknames {
    pub fn get() -> &'static Nicknames {
        NICKNAMES.get_or_init(|| {
            let mut n = Nicknames {
                map: FxHashMap::default(),
                canon: Vec::new(),
            };
            let mut canon_ids: FxHashMap<String, u16> = FxHashMap::default();
            for src in [
                include_str!("../data/nicknames.csv"),
                include_str!("../data/nicknames_uk.csv"),
            ] {
                for line in src.lines().skip(1) {
                    let mut parts = line.split(',');
                    let (Some(a), Some(_), Some(b)) = (parts.next(), parts.next(), parts.next())
                    else {
                        continue;
                    };
                    let a = fold(a).replace(' ', "");
                    let b = fold(b).replace(' ', "");
                    if a.is_empty() || b.is_empty() {
                        continue;
                    }
                    let next = canon_ids.len() as u16;
                    let id = *canon_ids.entry(a.clone()).or_insert_with(|| {
                        n.canon.push(a.clone());
                        next
                    });
                    for name in [a, b] {
                        let v = n.map.entry(name).or_default();
                        if !v.contains(&id) {
                            v.push(id);
                        }
                    }
                }
            }
            n
        })
    }

    /// Canonical-group ids of a (folded, compact) forename; empty when unknown.
    pub fn groups(&self, name: &str) -> &[u16] {
        self.map.get(name).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// The canonical full names a name may stand for.
    pub fn canonical_names(&self, name: &str) -> Vec<&str> {
        self.groups(name)
            .iter()
            .map(|&g| self.canon[g as usize].as_str())
            .collect()
    }

    /// Number of canonical groups in the table.
    pub fn group_count(&self) -> usize {
        self.canon.len()
    }
}

/// Whether two nickname-group lists intersect.
pub fn share_group(a: &[u16], b: &[u16]) -> bool {
    a.iter().any(|x| b.contains(x))
}

/// Normalised UK postcode: `"SW1A 1AA"` for a full postcode, `"SW1A"` for an outward
/// code alone, `None` for anything that is not a UK postcode.
pub fn normalize_postcode(s: &str) -> Option<String> {
    // Letters and digits, upper-cased, on the stack (a postcode has at most 7).
    let mut buf = [0u8; 8];
    let mut n = 0usize;
    for c in s.bytes().filter(u8::is_ascii_alphanumeric) {
        if n == buf.len() {
            return None;
        }
        buf[n] = c.to_ascii_uppercase();
        n += 1;
    }
    let compact = &buf[..n];
    if (5..=7).contains(&n) {
        let (out, inw) = compact.split_at(n - 3);
        let mut inw = [inw[0], inw[1], inw[2]];
        // Common keying slips in the inward code: letter O for zero, digit 0 for O.
        if inw[0] == b'O' {
            inw[0] = b'0';
        }
        for c in inw.iter_mut().skip(1) {
            if *c == b'0' {
                *c = b'O';
            }
        }
        if valid_outward(out)
            && inw[0].is_ascii_digit()
            && inw[1].is_ascii_alphabetic()
            && inw[2].is_ascii_alphabetic()
        {
            let mut r = String::with_capacity(n + 1);
            r.push_str(std::str::from_utf8(out).ok()?);
            r.push(' ');
            r.push_str(std::str::from_utf8(&inw).ok()?);
            return Some(r);
        }
    }
    if (2..=4).contains(&n) && valid_outward(compact) {
        return std::str::from_utf8(compact).ok().map(str::to_string);
    }
    None
}

/// A postcode for comparison: the normalised UK postcode when it is one, otherwise any
/// other postal code of 3 to 10 letters and digits (a non-UK or invented format),
/// upper-cased without spaces and marked with a leading `#`. Such a code only agrees
/// exactly; its weight is learnt from the index like every other u value.
pub fn postcode_key(s: &str) -> Option<String> {
    if let Some(uk) = normalize_postcode(s) {
        return Some(uk);
    }
    let compact: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let junk = s
        .chars()
        .any(|c| !(c.is_ascii_alphanumeric() || c == ' ' || c == '-'));
    ((3..=10).contains(&compact.len()) && !junk).then(|| format!("#{compact}"))
}

fn valid_outward(o: &[u8]) -> bool {
    let a = |c: u8| c.is_ascii_alphabetic();
    let d = |c: u8| c.is_ascii_digit();
    match o {
        [x, y] => a(*x) && d(*y),
        [x, y, z] => a(*x) && ((d(*y) && (d(*z) || a(*z))) || (a(*y) && d(*z))),
        [w, x, y, z] => a(*w) && a(*x) && d(*y) && (d(*z) || a(*z)),
        _ => false,
    }
}

const ADDRESS_ABBREVIATIONS: &[(&str, &str)] = &[
    ("rd", "road"),
    ("st", "street"),
    ("ave", "avenue"),
    ("av", "avenue"),
    ("ln", "lane"),
    ("cl", "close"),
    ("dr", "drive"),
    ("cres", "crescent"),
    ("ct", "court"),
    ("gdns", "gardens"),
    ("pl", "place"),
    ("sq", "square"),
    ("tce", "terrace"),
    ("terr", "terrace"),
    ("gr", "grove"),
    ("pk", "park"),
    ("hse", "house"),
    ("flt", "flat"),
    ("apt", "flat"),
    ("apartment", "flat"),
];

/// Normalised address tokens: folded, common street abbreviations expanded, any
/// embedded postcode removed.
pub fn address_tokens(s: &str) -> Vec<String> {
    let folded = fold(s);
    let mut out: Vec<String> = Vec::new();
    for t in folded.split(' ').filter(|t| !t.is_empty()) {
        let t = ADDRESS_ABBREVIATIONS
            .iter()
            .find(|(a, _)| *a == t)
            .map(|(_, b)| (*b).to_string())
            .unwrap_or_else(|| t.to_string());
        out.push(t);
    }
    // Drop a trailing postcode written into the address line.
    if out.len() >= 2 {
        let tail = format!("{}{}", out[out.len() - 2], out[out.len() - 1]);
        if tail.len() >= 5 && normalize_postcode(&tail).is_some_and(|p| p.contains(' ')) {
            out.truncate(out.len() - 2);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_accents_and_punctuation_are_folded() {
        assert_eq!(fold("  ZOË  O'Brien-Smith "), "zoe obrien smith");
        assert_eq!(fold("José"), "jose");
        assert_eq!(fold("J.R."), "j r");
    }

    #[test]
    fn suffixes_are_dropped_like_titles() {
        assert_eq!(name_tokens("Mr John Smith Jr."), vec!["john", "smith"]);
        assert_eq!(name_tokens("SMITH  SNR"), vec!["smith"]);
        assert_eq!(name_tokens("Dr. Ava"), vec!["ava"]);
    }

    #[test]
    fn apostrophes_and_mc_mac_prefixes_are_one_surname() {
        for s in [
            "O'Brien",
            "OBrien",
            "O Brien",
            "o'brien",
            "O\u{2019}Brien",
            "O\u{2019} BRIEN",
        ] {
            assert_eq!(surname_tokens(s), vec!["obrien"], "{s}");
        }
        for s in [
            "McDonald",
            "MacDonald",
            "Mc Donald",
            "Mac Donald",
            "MCDONALD",
        ] {
            assert_eq!(surname_tokens(s), vec!["mcdonald"], "{s}");
        }
        assert_eq!(surname_tokens("Mace"), vec!["mace"]);
        assert_eq!(surname_tokens("Smith-Jones"), vec!["smith", "jones"]);
        assert_eq!(surname_tokens("Mac"), vec!["mac"]);
    }

    #[test]
    fn hyphenated_names_split_into_tokens() {
        assert_eq!(name_tokens("Smith-Jones"), vec!["smith", "jones"]);
        assert_eq!(name_tokens("Lily-Mae"), vec!["lily", "mae"]);
    }

    #[test]
    fn titles_are_dropped_but_not_when_alone() {
        assert_eq!(name_tokens("Miss Ava"), vec!["ava"]);
        assert_eq!(name_tokens("Miss"), vec!["miss"]);
    }

    #[test]
    fn digits_are_not_part_of_a_name() {
        assert_eq!(name_tokens("Ol1ver"), vec!["olver"]);
    }

    #[test]
    fn smith_and_smyth_share_a_phonetic_key() {
        assert!(phonetic_equal(
            double_metaphone("smith"),
            double_metaphone("smyth")
        ));
        assert!(phonetic_equal(
            double_metaphone("catherine"),
            double_metaphone("kathryn")
        ));
        assert!(!phonetic_equal(
            double_metaphone("smith"),
            double_metaphone("jones")
        ));
    }

    #[test]
    fn an_empty_token_has_no_phonetic_key() {
        assert!(!phonetic_equal(double_metaphone(""), double_metaphone("")));
    }

    #[test]
    fn a_nickname_shares_a_group_with_its_full_name() {
        let n = Nicknames::get();
        for (a, b) in [
            ("bill", "william"),
            ("lizzie", "elizabeth"),
            ("jack", "john"),
            ("peggy", "margaret"),
            ("alf", "alfred"),
            ("ollie", "oliver"),
        ] {
            assert!(share_group(n.groups(a), n.groups(b)), "{a} / {b}");
        }
        assert!(!share_group(n.groups("albert"), n.groups("alfred")));
        assert!(n.group_count() > 300);
    }

    #[test]
    fn postcodes_are_normalised() {
        assert_eq!(normalize_postcode("sw1a1aa").as_deref(), Some("SW1A 1AA"));
        assert_eq!(normalize_postcode(" M1  1ae ").as_deref(), Some("M1 1AE"));
        assert_eq!(normalize_postcode("LS1 OAB").as_deref(), Some("LS1 0AB"));
        assert_eq!(normalize_postcode("B33 8TH").as_deref(), Some("B33 8TH"));
        assert_eq!(normalize_postcode("CR2").as_deref(), Some("CR2"));
        assert_eq!(normalize_postcode("not a postcode"), None);
        assert_eq!(normalize_postcode("12345"), None);
    }

    #[test]
    fn other_postal_codes_are_kept_as_opaque_codes() {
        assert_eq!(postcode_key("ls6 2ab").as_deref(), Some("LS6 2AB"));
        assert_eq!(postcode_key("2615").as_deref(), Some("#2615"));
        assert_eq!(postcode_key("D02 X285").as_deref(), Some("#D02X285"));
        assert_eq!(postcode_key("12"), None);
        assert_eq!(postcode_key("not a postcode at all"), None);
        assert_eq!(postcode_key("n/a"), None);
    }

    #[test]
    fn address_abbreviations_are_expanded() {
        assert_eq!(address_tokens("12 High St."), vec!["12", "high", "street"]);
        assert_eq!(
            address_tokens("Flat 2, 7 Mill Ln, LS1 4AB"),
            vec!["flat", "2", "7", "mill", "lane"]
        );
    }
}
