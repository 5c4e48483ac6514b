//! Field comparisons with graded agreement levels, Fellegi–Sunter m/u weights, the
//! combination into a match probability, and EM estimation of the parameters.

use crate::model::{Date, Gender};
use crate::normalize::{Nicknames, double_metaphone, phonetic_equal, share_group};

pub const FORENAME: usize = 0;
pub const SURNAME: usize = 1;
pub const DOB: usize = 2;
pub const GENDER: usize = 3;
pub const POSTCODE: usize = 4;
pub const ADDRESS: usize = 5;
/// Number of compared fields.
pub const NF: usize = 6;
/// Level code for "one side missing": weight 0.
pub const NULL: u8 = 255;

pub const FIELD_NAMES: [&str; NF] = [
    "forename", "surname", "dob", "gender", "postcode", "address",
];

pub const LEVEL_NAMES: [&[&str]; NF] = [
    &[
        "exact",
        "nickname",
        "jaro_winkler_high",
        "phonetic",
        "other_name",
        "jaro_winkler_mid",
        "initial",
        "disagree",
    ],
    &[
        "exact",
        "jaro_winkler_high",
        "phonetic",
        "shared_token",
        "jaro_winkler_mid",
        "disagree",
    ],
    &[
        "exact",
        "day_month_swapped",
        "one_digit_off",
        "within_a_year",
        "estimated_near",
        "estimated_far",
        "disagree",
    ],
    &["agree", "disagree"],
    &["exact", "sector", "district", "disagree"],
    &["exact", "similar", "disagree"],
];

pub mod level {
    pub const F_EXACT: u8 = 0;
    pub const F_NICKNAME: u8 = 1;
    pub const F_JW_HIGH: u8 = 2;
    pub const F_PHONETIC: u8 = 3;
    pub const F_OTHER: u8 = 4;
    pub const F_JW_MID: u8 = 5;
    pub const F_INITIAL: u8 = 6;
    pub const F_DISAGREE: u8 = 7;

    pub const S_EXACT: u8 = 0;
    pub const S_JW_HIGH: u8 = 1;
    pub const S_PHONETIC: u8 = 2;
    pub const S_TOKEN: u8 = 3;
    pub const S_JW_MID: u8 = 4;
    pub const S_DISAGREE: u8 = 5;

    pub const D_EXACT: u8 = 0;
    pub const D_SWAP: u8 = 1;
    pub const D_ONE_DIGIT: u8 = 2;
    pub const D_YEAR: u8 = 3;
    pub const D_EST_NEAR: u8 = 4;
    pub const D_EST_FAR: u8 = 5;
    pub const D_DISAGREE: u8 = 6;

    pub const G_AGREE: u8 = 0;
    pub const G_DISAGREE: u8 = 1;

    pub const P_EXACT: u8 = 0;
    pub const P_SECTOR: u8 = 1;
    pub const P_DISTRICT: u8 = 2;
    pub const P_DISAGREE: u8 = 3;

    pub const A_EXACT: u8 = 0;
    pub const A_SIMILAR: u8 = 1;
    pub const A_DISAGREE: u8 = 2;
}
use level::*;

/// Jaro–Winkler thresholds for the graded name levels.
pub const JW_HIGH: f64 = 0.92;
pub const JW_MID: f64 = 0.84;
/// Log2 penalty applied when first and last names only agree after swapping them.
pub const SWAP_PENALTY: f64 = 1.0;
/// Ceiling on the log2 odds when the forename clearly disagrees (or is only fuzzily
/// similar while the recorded sex differs): siblings, twins above all, share every
/// household field, so those fields must not outvote a different first name.
pub const CONFLICT_CEILING: f64 = -4.0;
/// Address weights (log2) used instead of the address m/u weights when the postcodes
/// agree exactly: P(same address | same postcode) is ~0.8 for a match and ~0.07 for a
/// non-match (about 15 households share a postcode).
pub const ADDRESS_GIVEN_POSTCODE: [f64; 3] = [3.5, 1.0, -2.0];
/// Levels whose u probability is conditional on a rare recording practice (an initial,
/// a middle name, an estimated DOB): random-pair sampling cannot see them, so their
/// shipped m/u values are kept when u is re-estimated.
pub const CONDITIONAL_LEVELS: &[(usize, u8)] = &[
    (FORENAME, F_INITIAL),
    (FORENAME, F_OTHER),
    (FORENAME, F_NICKNAME),
    (DOB, D_EST_NEAR),
    (DOB, D_EST_FAR),
];
/// An estimated date of birth still partially agrees within this many days (~3 years).
pub const ESTIMATED_DOB_WINDOW_DAYS: i64 = 3 * 366;

/// A normalised name (one or more tokens) with its precomputed keys.
#[derive(Clone, Debug)]
pub struct NameInfo {
    /// Tokens joined without spaces: "smith-jones" and "Smith Jones" agree exactly.
    pub compact: Box<str>,
    /// Tokens joined with single spaces, when there is more than one token.
    pub multi: Option<Box<str>>,
    /// Double Metaphone of the compact form.
    pub dm: [u32; 2],
    /// Double Metaphone primary code of each token (blocking on double-barrelled names).
    pub tok_dm: Box<[u32]>,
    /// Nickname-table canonical groups.
    pub nick: Box<[u16]>,
}

impl NameInfo {
    pub fn new(tokens: &[String]) -> NameInfo {
        NameInfo::from_key(&tokens.join(" "))
    }

    /// From space-separated normalised tokens.
    pub fn from_key(key: &str) -> NameInfo {
        let multi = key.contains(' ');
        let compact: String = if multi {
            key.split(' ').collect()
        } else {
            key.to_string()
        };
        let dm = double_metaphone(&compact);
        let tok_dm: Box<[u32]> = if multi {
            key.split(' ').map(|t| double_metaphone(t)[0]).collect()
        } else {
            Box::default()
        };
        let nick = Nicknames::get()
            .groups(&compact)
            .to_vec()
            .into_boxed_slice();
        NameInfo {
            compact: compact.into_boxed_str(),
            multi: multi.then(|| key.into()),
            dm,
            tok_dm,
            nick,
        }
    }

    pub fn tokens(&self) -> impl Iterator<Item = &str> + Clone {
        self.multi.as_deref().unwrap_or(&self.compact).split(' ')
    }

    pub fn is_initial(&self) -> bool {
        self.compact.len() == 1
    }
}

/// A normalised address (tokens joined with single spaces), with its tokens hashed
/// and sorted once so that comparing two addresses allocates nothing.
#[derive(Clone, Debug)]
pub struct AddrInfo {
    pub text: Box<str>,
    /// Hashes of all tokens, sorted (duplicates kept).
    toks: Box<[u64]>,
    /// Hashes of the tokens containing a digit (house and flat numbers), sorted.
    nums: Box<[u64]>,
}

fn token_hash(t: &str) -> u64 {
    t.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, c| {
        (h ^ u64::from(c)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Number of common elements of two sorted slices (a multiset intersection).
fn sorted_common(a: &[u64], b: &[u64]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

impl AddrInfo {
    pub fn new(tokens: &[String]) -> AddrInfo {
        AddrInfo::from_text(tokens.join(" "))
    }
    /// From normalised tokens joined with single spaces.
    pub fn from_text(text: String) -> AddrInfo {
        let mut toks: Vec<u64> = text
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(token_hash)
            .collect();
        let mut nums: Vec<u64> = text
            .split(' ')
            .filter(|t| t.bytes().any(|c| c.is_ascii_digit()))
            .map(token_hash)
            .collect();
        toks.sort_unstable();
        nums.sort_unstable();
        AddrInfo {
            text: text.into_boxed_str(),
            toks: toks.into_boxed_slice(),
            nums: nums.into_boxed_slice(),
        }
    }
    pub fn tokens(&self) -> impl Iterator<Item = &str> + Clone {
        self.text.split(' ')
    }
}

/// Jaro–Winkler similarity (strsim) when it can reach `floor`, else 0. A cheap upper
/// bound from letter counts skips most clearly different pairs without computing it.
pub fn jaro_winkler_above(a: &str, b: &str, floor: f64) -> f64 {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    if ab.is_empty() || bb.is_empty() {
        return 0.0;
    }
    let mut ca = [0u8; 64];
    for &c in ab {
        ca[(c & 63) as usize] = ca[(c & 63) as usize].saturating_add(1);
    }
    let mut common = 0usize;
    for &c in bb {
        let k = (c & 63) as usize;
        if ca[k] > 0 {
            ca[k] -= 1;
            common += 1;
        }
    }
    let m = common as f64;
    let jaro_ub = if common == 0 {
        0.0
    } else {
        (m / ab.len() as f64 + m / bb.len() as f64 + 1.0) / 3.0
    };
    let prefix = ab
        .iter()
        .zip(bb)
        .take(4)
        .take_while(|(x, y)| x == y)
        .count() as f64;
    let jw_ub = jaro_ub + prefix * 0.1 * (1.0 - jaro_ub);
    if jw_ub < floor {
        return 0.0;
    }
    if ab.len() <= 64 && bb.len() <= 64 && a.is_ascii() && b.is_ascii() {
        jaro_winkler_ascii(ab, bb)
    } else {
        strsim::jaro_winkler(a, b)
    }
}

/// Jaro–Winkler similarity of two non-empty ASCII strings of at most 64 bytes, without
/// allocating: the same arithmetic as `strsim::jaro_winkler` (prefix of up to four
/// letters, scaling 0.1, applied above a Jaro similarity of 0.7).
fn jaro_winkler_ascii(a: &[u8], b: &[u8]) -> f64 {
    let (la, lb) = (a.len(), b.len());
    let range = (la.max(lb) / 2).saturating_sub(1);
    let (mut fa, mut fb) = (0u64, 0u64);
    let mut matches = 0usize;
    for (i, &x) in a.iter().enumerate() {
        let lo = i.saturating_sub(range);
        let hi = (i + range + 1).min(lb);
        for j in lo..hi {
            if fb >> j & 1 == 0 && b[j] == x {
                fa |= 1 << i;
                fb |= 1 << j;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let mut trans = 0usize;
    let mut j = 0usize;
    for (i, &x) in a.iter().enumerate() {
        if fa >> i & 1 == 1 {
            while fb >> j & 1 == 0 {
                j += 1;
            }
            if b[j] != x {
                trans += 1;
            }
            j += 1;
        }
    }
    let m = matches as f64;
    let sim = (m / la as f64 + m / lb as f64 + (matches - trans / 2) as f64 / m) / 3.0;
    if sim > 0.7 {
        let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count();
        sim + 0.1 * prefix as f64 * (1.0 - sim)
    } else {
        sim
    }
}

/// Compare forenames. `a_others`/`b_others` are middle names and aliases.
pub fn compare_forename<'a>(
    a: &NameInfo,
    a_others: impl Iterator<Item = &'a NameInfo> + Clone,
    b: &NameInfo,
    b_others: impl Iterator<Item = &'a NameInfo> + Clone,
) -> u8 {
    if a.compact == b.compact {
        return F_EXACT;
    }
    if share_group(&a.nick, &b.nick) {
        return F_NICKNAME;
    }
    if a.is_initial() || b.is_initial() {
        return if a.compact.as_bytes()[0] == b.compact.as_bytes()[0] {
            F_INITIAL
        } else {
            other_or(a, a_others, b, b_others, F_DISAGREE)
        };
    }
    let jw = jaro_winkler_above(&a.compact, &b.compact, JW_MID);
    if jw >= JW_HIGH {
        return F_JW_HIGH;
    }
    if phonetic_equal(a.dm, b.dm) {
        return F_PHONETIC;
    }
    let fallback = if jw >= JW_MID || one_edit_typo(&a.compact, &b.compact) {
        F_JW_MID
    } else {
        F_DISAGREE
    };
    other_or(a, a_others, b, b_others, fallback)
}

/// Whether two names of at least three letters are one keying error apart (one letter
/// substituted, inserted or deleted, or two adjacent letters transposed). Short names
/// fall below the Jaro–Winkler bands after a single slip ("Ivy"/"Ivk"), yet they are
/// far more likely the same name than two unrelated ones.
pub fn one_edit_typo(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().min(b.len()) < 3 || a.len().abs_diff(b.len()) > 1 || a == b {
        return false;
    }
    let p = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[p..], &b[p..]);
    if a.len() == b.len() {
        // Substitution, or adjacent transposition.
        ra[1..] == rb[1..]
            || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
    } else if a.len() > b.len() {
        ra[1..] == *rb
    } else {
        *ra == rb[1..]
    }
}

fn other_or<'a>(
    a: &NameInfo,
    mut a_others: impl Iterator<Item = &'a NameInfo>,
    b: &NameInfo,
    mut b_others: impl Iterator<Item = &'a NameInfo>,
    fallback: u8,
) -> u8 {
    let hit = |x: &NameInfo, y: &NameInfo| {
        x.compact == y.compact
            || (!x.is_initial() && !y.is_initial() && share_group(&x.nick, &y.nick))
    };
    if a_others.any(|o| hit(o, b)) || b_others.any(|o| hit(o, a)) {
        F_OTHER
    } else {
        fallback
    }
}

/// Compare surnames (double-barrelled names agree on a shared token).
pub fn compare_surname(a: &NameInfo, b: &NameInfo) -> u8 {
    if a.compact == b.compact {
        return S_EXACT;
    }
    let jw = jaro_winkler_above(&a.compact, &b.compact, JW_MID);
    if jw >= JW_HIGH {
        return S_JW_HIGH;
    }
    if phonetic_equal(a.dm, b.dm) {
        return S_PHONETIC;
    }
    if (a.multi.is_some() || b.multi.is_some())
        && a.tokens()
            .any(|t| t.len() > 1 && b.tokens().any(|u| u == t))
    {
        return S_TOKEN;
    }
    if jw >= JW_MID || one_edit_typo(&a.compact, &b.compact) {
        S_JW_MID
    } else {
        S_DISAGREE
    }
}

/// Compare dates of birth; an estimated date on either side relaxes the comparison.
pub fn compare_dob(a: Date, a_est: bool, b: Date, b_est: bool) -> u8 {
    if a == b {
        return D_EXACT;
    }
    let diff = (a.day_number() - b.day_number()).abs();
    if a_est || b_est {
        return if diff <= ESTIMATED_DOB_WINDOW_DAYS {
            D_EST_NEAR
        } else {
            D_EST_FAR
        };
    }
    if a.year() == b.year() && a.day() == b.month() && a.month() == b.day() {
        return D_SWAP;
    }
    if one_digit_apart(a.packed(), b.packed()) {
        return D_ONE_DIGIT;
    }
    if diff <= 366 { D_YEAR } else { D_DISAGREE }
}

/// Compare dates of birth as the digit strings `YYYYMMDD` (used when one of them is an
/// impossible date such as 1945-04-93): the same digits, day and month swapped, one
/// digit different or two adjacent digits transposed, or different.
pub fn compare_dob_digits(a: u32, b: u32) -> u8 {
    if a == b {
        D_EXACT
    } else if a / 10_000 == b / 10_000 && a % 100 == (b / 100) % 100 && (a / 100) % 100 == b % 100 {
        D_SWAP
    } else if one_digit_apart(a, b) {
        D_ONE_DIGIT
    } else {
        D_DISAGREE
    }
}

/// One digit of `YYYYMMDD` differs, or two adjacent digits are transposed.
fn one_digit_apart(a: u32, b: u32) -> bool {
    let digits = |mut x: u32| {
        let mut d = [0u8; 8];
        for slot in d.iter_mut().rev() {
            *slot = (x % 10) as u8;
            x /= 10;
        }
        d
    };
    let (da, db) = (digits(a), digits(b));
    let mut diffs = [0usize; 3];
    let mut n = 0;
    for i in 0..8 {
        if da[i] != db[i] {
            if n == 2 {
                return false;
            }
            diffs[n] = i;
            n += 1;
        }
    }
    match n {
        1 => true,
        2 => {
            let (i, j) = (diffs[0], diffs[1]);
            j == i + 1 && da[i] == db[j] && da[j] == db[i]
        }
        _ => false,
    }
}

pub fn compare_gender(a: Gender, b: Gender) -> u8 {
    if a == b { G_AGREE } else { G_DISAGREE }
}

/// Compare normalised postcodes (`"OUT IN"` or outward code alone).
pub fn compare_postcode(a: &str, b: &str) -> u8 {
    if a.starts_with('#') || b.starts_with('#') {
        // A non-UK code (see `normalize::postcode_key`) only agrees exactly.
        return if a == b { P_EXACT } else { P_DISAGREE };
    }
    if a == b && a.contains(' ') {
        return P_EXACT;
    }
    let (ao, ai) = a.split_once(' ').unwrap_or((a, ""));
    let (bo, bi) = b.split_once(' ').unwrap_or((b, ""));
    if ao != bo {
        return P_DISAGREE;
    }
    if !ai.is_empty() && !bi.is_empty() && ai.as_bytes()[0] == bi.as_bytes()[0] {
        P_SECTOR
    } else {
        P_DISTRICT
    }
}

pub fn compare_address(a: &AddrInfo, b: &AddrInfo) -> u8 {
    if a.text == b.text {
        return A_EXACT;
    }
    // A conflicting house number means a different address, however similar the rest.
    if !a.nums.is_empty() && !b.nums.is_empty() && sorted_common(&a.nums, &b.nums) == 0 {
        return A_DISAGREE;
    }
    let inter = sorted_common(&a.toks, &b.toks);
    let union = a.toks.len() + b.toks.len() - inter;
    if union > 0 && inter * 10 >= union * 6 {
        return A_SIMILAR;
    }
    // Keying slips: words one edit apart count as shared, and so does the whole
    // address when only its spacing differs ("fai rawy" / "fairway").
    if union > 0 && inter * 10 >= union * 3 {
        let soft = a
            .tokens()
            .filter(|t| {
                t.len() >= 3
                    && b.tokens().any(|u| u != *t && one_edit_typo(t, u))
                    && !b.tokens().any(|u| u == *t)
            })
            .count();
        let (i2, u2) = (inter + soft, union - soft);
        if i2 * 10 >= u2 * 6 {
            return A_SIMILAR;
        }
    }
    let squeeze = |x: &AddrInfo| -> ([u8; 64], usize) {
        let mut buf = [0u8; 64];
        let mut n = 0;
        for &c in x.text.as_bytes() {
            if c != b' ' && n < 64 {
                buf[n] = c;
                n += 1;
            }
        }
        (buf, n)
    };
    let ((ba, na), (bb, nb)) = (squeeze(a), squeeze(b));
    let (sa, sb) = (
        std::str::from_utf8(&ba[..na]).unwrap_or(""),
        std::str::from_utf8(&bb[..nb]).unwrap_or(""),
    );
    if na >= 8 && nb >= 8 && jaro_winkler_above(sa, sb, 0.93) >= 0.93 {
        A_SIMILAR
    } else {
        A_DISAGREE
    }
}

/// m and u probabilities of every level of every field.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    pub m: [Vec<f64>; NF],
    pub u: [Vec<f64>; NF],
}

impl Default for Params {
    /// Shipped defaults: m from typical error rates in children's-services records,
    /// u from random pairs of child records (0-18, UK name frequencies).
    fn default() -> Params {
        Params {
            m: [
                vec![0.80, 0.04, 0.05, 0.015, 0.015, 0.015, 0.01, 0.055],
                vec![0.84, 0.05, 0.02, 0.02, 0.01, 0.06],
                vec![0.86, 0.015, 0.04, 0.03, 0.03, 0.0015, 0.0235],
                vec![0.98, 0.02],
                vec![0.75, 0.05, 0.05, 0.15],
                vec![0.6, 0.15, 0.25],
            ],
            u: [
                vec![0.01, 0.002, 0.004, 0.006, 0.0005, 0.03, 0.0015, 0.946],
                vec![0.005, 0.003, 0.006, 0.001, 0.02, 0.965],
                vec![0.00015, 0.00003, 0.002, 0.1, 0.01, 0.021, 0.86682],
                vec![0.5, 0.5],
                vec![0.00002, 0.0001, 0.003, 0.99688],
                vec![0.0005, 0.0002, 0.9993],
            ],
        }
    }
}

/// Precomputed log2(m/u) for every level.
#[derive(Clone, Debug)]
pub struct Weights {
    pub w: [[f64; 8]; NF],
    pub m_exact: [f64; 2],
}

impl Params {
    pub fn weights(&self) -> Weights {
        let mut w = [[0.0; 8]; NF];
        for f in 0..NF {
            for (l, slot) in w[f].iter_mut().enumerate().take(self.m[f].len()) {
                *slot = (self.m[f][l].max(1e-9) / self.u[f][l].max(1e-9)).log2();
            }
        }
        Weights {
            w,
            m_exact: [self.m[FORENAME][0], self.m[SURNAME][0]],
        }
    }
}

/// The comparison outcome of one pair of records.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    pub levels: [u8; NF],
    /// Per-field log2 weight (0 for a missing value).
    pub weights: [f64; NF],
    /// First and last names agreed only after swapping them.
    pub swapped: bool,
    /// Both forenames are established names (in the name dictionary or common in the
    /// index), so a fuzzy agreement between them is two different names, not a typo.
    pub forenames_established: bool,
    /// One forename is an established name and the other, which is not, is one keying
    /// slip away from it (Florsence / Florence): a misspelling, not a sibling's name.
    pub forename_misspelt: bool,
    /// After swapping, one of the two cross comparisons is only fuzzy (kept separately
    /// because `levels` shows the forename cross pair only, which depends on the order
    /// of the two records).
    pub swapped_fuzzy: bool,
    /// Term-frequency u of an exact forename / surname agreement (0 = none), kept so
    /// the weights can be recomputed for new parameters (`reweigh`).
    pub tf_u: [f32; 2],
    /// After swapping: the forename-comparator level of the second cross pair.
    pub cross2: u8,
    /// The address weight is the conditional one (`ADDRESS_GIVEN_POSTCODE`).
    pub address_given_postcode: bool,
    /// The names compared directly (forename, surname levels) and their term-frequency
    /// u, the two cross levels when swapping was considered (`NULL` otherwise), and the
    /// direct forenames' established/misspelt flags: what `rescore` needs to redo the
    /// swap decision for other weights exactly as `compare` makes it.
    pub direct: [u8; 2],
    pub direct_tf: [f32; 2],
    pub cross: [u8; 2],
    pub direct_established: bool,
    pub direct_misspelt: bool,
}

impl Comparison {
    /// The comparison `compare` would return with the weights `w`, from the stored
    /// levels: the same levels, the same swap decision and the same weights, without
    /// comparing the records again.
    pub fn rescore(&mut self, w: &Weights) {
        let wt = |f: usize, l: u8, tf: f32| -> f64 {
            if l == NULL {
                0.0
            } else if l == 0 && tf > 0.0 {
                (w.m_exact[f] / f64::from(tf).max(1e-9)).log2()
            } else {
                w.w[f][l as usize]
            }
        };
        let [lf, ls] = self.direct;
        let (wf, ws) = (
            wt(FORENAME, lf, self.direct_tf[0]),
            wt(SURNAME, ls, self.direct_tf[1]),
        );
        let [c1, c2] = self.cross;
        let swap = c1 != NULL
            && c2 != NULL
            && cross_weight(w, c1) + cross_weight(w, c2) - SWAP_PENALTY > wf + ws
            && c1 != F_DISAGREE
            && c2 != F_DISAGREE;
        if swap {
            self.swapped = true;
            self.swapped_fuzzy = [c1, c2]
                .iter()
                .any(|l| matches!(*l, F_JW_HIGH | F_PHONETIC | F_JW_MID));
            self.levels[FORENAME] = c1;
            self.levels[SURNAME] = surname_level_of(c2);
            self.weights[FORENAME] = cross_weight(w, c1);
            self.weights[SURNAME] = cross_weight(w, c2);
            self.cross2 = c2;
            self.tf_u = [0.0; 2];
        } else {
            self.swapped = false;
            self.swapped_fuzzy = false;
            self.levels[FORENAME] = lf;
            self.levels[SURNAME] = ls;
            self.weights[FORENAME] = wf;
            self.weights[SURNAME] = ws;
            self.cross2 = NULL;
            self.tf_u = self.direct_tf;
        }
        self.forenames_established = !swap && self.direct_established;
        self.forename_misspelt = !swap && self.direct_misspelt;
        for f in DOB..NF {
            let l = self.levels[f];
            self.weights[f] = if l == NULL {
                0.0
            } else if f == ADDRESS && self.address_given_postcode {
                ADDRESS_GIVEN_POSTCODE[l as usize]
            } else {
                w.w[f][l as usize]
            };
        }
    }

    /// Recompute the per-field weights from the levels for other parameters (the level
    /// choices, including the swap decision, stay as they are). Used by EM.
    pub fn reweigh(&mut self, w: &Weights) {
        for f in 0..NF {
            let l = self.levels[f];
            self.weights[f] = if l == NULL {
                0.0
            } else if self.swapped && f == FORENAME {
                cross_weight(w, l)
            } else if self.swapped && f == SURNAME {
                cross_weight(w, self.cross2)
            } else if f == ADDRESS && self.address_given_postcode {
                ADDRESS_GIVEN_POSTCODE[l as usize]
            } else if l == 0 && f <= SURNAME && self.tf_u[f] > 0.0 {
                (w.m_exact[f] / f64::from(self.tf_u[f]).max(1e-9)).log2()
            } else {
                w.w[f][l as usize]
            };
        }
    }

    pub fn sum(&self) -> f64 {
        self.weights.iter().sum::<f64>() - if self.swapped { SWAP_PENALTY } else { 0.0 }
    }

    /// Why household fields must not count: `Some(reason)` when the forename clearly
    /// disagrees; when both forenames are established names that only look alike
    /// (Archie / Charlie); or when they are only fuzzily similar while the recorded sex
    /// differs (Oliver / Olivia), unless one is a misspelling of the other.
    pub fn conflict(&self) -> Option<&'static str> {
        let f = self.levels[FORENAME];
        if f == F_DISAGREE {
            return Some("forename_conflict");
        }
        if f == F_JW_MID && self.forenames_established && !self.swapped {
            return Some("distinct_forenames");
        }
        let fuzzy = if self.swapped {
            self.swapped_fuzzy
        } else {
            matches!(f, F_JW_HIGH | F_PHONETIC | F_JW_MID)
        };
        if fuzzy && self.levels[GENDER] == G_DISAGREE && !self.forename_misspelt {
            return Some("forename_and_sex_conflict");
        }
        None
    }

    /// Final log2 odds with the given prior (log2 odds), after the sibling guard with
    /// the fixed ceiling `CONFLICT_CEILING` (used without an index).
    pub fn log_odds(&self, prior: f64) -> f64 {
        self.log_odds_ceiling(prior, CONFLICT_CEILING)
    }

    /// Final log2 odds after the sibling guard with the given ceiling.
    pub fn log_odds_ceiling(&self, prior: f64, ceiling: f64) -> f64 {
        let raw = prior + self.sum();
        if self.conflict().is_some() {
            raw.min(ceiling)
        } else {
            raw
        }
    }
}

/// Probability from log2 odds.
pub fn probability(log2_odds: f64) -> f64 {
    1.0 / (1.0 + (-log2_odds).exp2())
}

/// A comparable view of one record (from the index or a query).
#[derive(Clone, Copy)]
pub struct Side<'a> {
    pub first: Option<&'a NameInfo>,
    pub last: Option<&'a NameInfo>,
    pub others: &'a [&'a NameInfo],
    pub dob: Option<Date>,
    /// Digits (YYYYMMDD) of a present but impossible date of birth, compared as text.
    pub dob_raw: Option<u32>,
    pub dob_estimated: bool,
    pub gender: Option<Gender>,
    pub postcode: Option<&'a str>,
    pub address: Option<&'a AddrInfo>,
}

/// Term-frequency context: how common each exact name is in the index.
pub trait TermFreq {
    /// u probability of exact agreement on this forename (None = use the default u).
    fn forename_u(&self, name: &NameInfo) -> Option<f64>;
    fn surname_u(&self, name: &NameInfo) -> Option<f64>;
    /// Whether a (compact) forename is an established name rather than a possible
    /// misspelling: by default, whether it is in the shipped name dictionary.
    fn established_forename(&self, compact: &str) -> bool {
        known_forename(compact)
    }
}

static KNOWN_FORENAMES: std::sync::OnceLock<rustc_hash::FxHashSet<String>> =
    std::sync::OnceLock::new();

/// Whether a folded, compact forename is in the shipped dictionary: every name in the
/// nickname tables and the common UK forename lists.
pub fn known_forename(compact: &str) -> bool {
    KNOWN_FORENAMES
        .get_or_init(|| {
            let mut set = rustc_hash::FxHashSet::default();
            for src in [
                include_str!("../data/nicknames.csv"),
                include_str!("../data/nicknames_uk.csv"),
            ] {
                for line in src.lines().skip(1) {
                    let mut parts = line.split(',');
                    if let (Some(a), Some(_), Some(b)) = (parts.next(), parts.next(), parts.next())
                    {
                        set.insert(crate::normalize::fold(a).replace(' ', ""));
                        set.insert(crate::normalize::fold(b).replace(' ', ""));
                    }
                }
            }
            for src in [
                include_str!("../data/forenames_boys.csv"),
                include_str!("../data/forenames_girls.csv"),
            ] {
                for line in src.lines().skip(1) {
                    if let Some(n) = line.split(',').next() {
                        set.insert(crate::normalize::fold(n).replace(' ', ""));
                    }
                }
            }
            set.remove("");
            set
        })
        .contains(compact)
}

/// No term-frequency adjustment.
pub struct NoTf;
impl TermFreq for NoTf {
    fn forename_u(&self, _: &NameInfo) -> Option<f64> {
        None
    }
    fn surname_u(&self, _: &NameInfo) -> Option<f64> {
        None
    }
}

/// Compare two records field by field.
pub fn compare(a: &Side<'_>, b: &Side<'_>, w: &Weights, tf: &dyn TermFreq) -> Comparison {
    let mut levels = [NULL; NF];
    let mut weights = [0.0; NF];

    // Names, direct orientation.
    let fore =
        |x: Option<&NameInfo>, xo: &[&NameInfo], y: Option<&NameInfo>, yo: &[&NameInfo]| match (
            x, y,
        ) {
            (Some(x), Some(y)) => compare_forename(x, xo.iter().copied(), y, yo.iter().copied()),
            _ => NULL,
        };
    let sur = |x: Option<&NameInfo>, y: Option<&NameInfo>| match (x, y) {
        (Some(x), Some(y)) => compare_surname(x, y),
        _ => NULL,
    };
    let mut tf_u = [0f32; 2];
    let mut wt = |f: usize, l: u8, name: Option<&NameInfo>| -> f64 {
        if l == NULL {
            return 0.0;
        }
        if l == 0 && (f == FORENAME || f == SURNAME) {
            let u = name.and_then(|n| {
                if f == FORENAME {
                    tf.forename_u(n)
                } else {
                    tf.surname_u(n)
                }
            });
            if let Some(u) = u {
                tf_u[f] = u as f32;
                let m = w.m_exact[f];
                return (m / f64::from(u as f32).max(1e-9)).log2();
            }
        }
        w.w[f][l as usize]
    };
    let lf = fore(a.first, a.others, b.first, b.others);
    let ls = sur(a.last, b.last);
    weights[FORENAME] = wt(FORENAME, lf, b.first);
    weights[SURNAME] = wt(SURNAME, ls, b.last);
    let direct = weights[FORENAME] + weights[SURNAME];
    let direct_tf = tf_u;
    let mut cross_levels = [NULL; 2];
    levels[FORENAME] = lf;
    levels[SURNAME] = ls;
    let mut cross2 = NULL;
    let mut swapped = false;
    let mut swapped_fuzzy = false;
    // Swapped orientation: only worth checking when the direct one is weak.
    let strong = lf <= F_NICKNAME && ls == S_EXACT;
    // Swapping can only help when each cross pair is plausibly the same name.
    let plausible = |x: &NameInfo, y: &NameInfo| {
        x.compact.as_bytes()[0] == y.compact.as_bytes()[0] || phonetic_equal(x.dm, y.dm)
    };
    if let (false, Some(af), Some(al), Some(bf), Some(bl)) =
        (strong, a.first, a.last, b.first, b.last)
        && plausible(af, bl)
        && plausible(al, bf)
    {
        // Both cross pairs use the (symmetric) forename comparator without term
        // frequencies, so the score stays symmetric in (a, b).
        let c1 = fore(a.first, &[], b.last, &[]);
        let c2 = fore(a.last, &[], b.first, &[]);
        cross_levels = [c1, c2];
        let cw = |l: u8| cross_weight(w, l);
        let cross = cw(c1) + cw(c2);
        if cross - SWAP_PENALTY > direct && c1 != F_DISAGREE && c2 != F_DISAGREE {
            swapped = true;
            swapped_fuzzy = [c1, c2]
                .iter()
                .any(|l| matches!(*l, F_JW_HIGH | F_PHONETIC | F_JW_MID));
            levels[FORENAME] = c1;
            levels[SURNAME] = surname_level_of(c2);
            weights[FORENAME] = cw(c1);
            weights[SURNAME] = cw(c2);
            cross2 = c2;
            tf_u = [0.0; 2];
        }
    }

    if let (Some(x), Some(y)) = (a.dob, b.dob) {
        let l = compare_dob(x, a.dob_estimated, y, b.dob_estimated);
        levels[DOB] = l;
        weights[DOB] = w.w[DOB][l as usize];
    } else if let (Some(x), Some(y)) = (
        a.dob.map(|d| d.packed()).or(a.dob_raw),
        b.dob.map(|d| d.packed()).or(b.dob_raw),
    ) {
        let l = compare_dob_digits(x, y);
        levels[DOB] = l;
        weights[DOB] = w.w[DOB][l as usize];
    }
    if let (Some(x), Some(y)) = (a.gender, b.gender) {
        let l = compare_gender(x, y);
        levels[GENDER] = l;
        weights[GENDER] = w.w[GENDER][l as usize];
    }
    if let (Some(x), Some(y)) = (a.postcode, b.postcode) {
        let l = compare_postcode(x, y);
        levels[POSTCODE] = l;
        weights[POSTCODE] = w.w[POSTCODE][l as usize];
    }
    let mut address_given_postcode = false;
    if let (Some(x), Some(y)) = (a.address, b.address) {
        let l = compare_address(x, y);
        levels[ADDRESS] = l;
        // Address and postcode are not independent: within one postcode an agreeing
        // address adds only the evidence of picking the same house among ~15.
        // (Only for a full UK postcode: other codes may cover a whole town.)
        address_given_postcode =
            levels[POSTCODE] == P_EXACT && !a.postcode.is_some_and(|p| p.starts_with('#'));
        weights[ADDRESS] = if address_given_postcode {
            ADDRESS_GIVEN_POSTCODE[l as usize]
        } else {
            w.w[ADDRESS][l as usize]
        };
    }
    // For the direct orientation (only used when the names are not swapped).
    let (mut direct_established, mut direct_misspelt) = (false, false);
    if let (F_JW_HIGH | F_PHONETIC | F_JW_MID, Some(x), Some(y)) = (lf, a.first, b.first) {
        let (ex, ey) = (
            tf.established_forename(&x.compact),
            tf.established_forename(&y.compact),
        );
        direct_established = ex && ey;
        direct_misspelt = ex != ey && one_edit_typo(&x.compact, &y.compact);
    }
    Comparison {
        levels,
        weights,
        swapped,
        forenames_established: !swapped && direct_established,
        forename_misspelt: !swapped && direct_misspelt,
        swapped_fuzzy,
        tf_u,
        cross2,
        address_given_postcode,
        direct: [lf, ls],
        direct_tf,
        cross: cross_levels,
        direct_established,
        direct_misspelt,
    }
}

/// Weight of a cross pair after swapping names: the forename-comparator level, weighed
/// as the weaker of the forename and surname readings (symmetric in the two records).
fn cross_weight(w: &Weights, l: u8) -> f64 {
    w.w[FORENAME][l as usize].min(w.w[SURNAME][surname_level_of(l) as usize])
}

/// Map a forename-comparator level onto the closest surname level.
fn surname_level_of(l: u8) -> u8 {
    match l {
        F_EXACT | F_NICKNAME => S_EXACT,
        F_JW_HIGH => S_JW_HIGH,
        F_PHONETIC => S_PHONETIC,
        F_OTHER => S_TOKEN,
        F_JW_MID | F_INITIAL => S_JW_MID,
        _ => S_DISAGREE,
    }
}

/// EM estimation (Fellegi–Sunter / Winkler) of m (and optionally u) probabilities and
/// the match proportion from comparison-level vectors of candidate pairs (as produced
/// by blocking). Missing values (`NULL`) are skipped. Returns the new parameters and
/// the estimated proportion of matches among the pairs.
pub fn estimate_em(
    vectors: &[[u8; NF]],
    init: &Params,
    init_lambda: f64,
    iterations: usize,
    fix_u: bool,
) -> (Params, f64) {
    let mut p = init.clone();
    let mut lambda = init_lambda.clamp(1e-6, 1.0 - 1e-6);
    if vectors.is_empty() {
        return (p, lambda);
    }
    for _ in 0..iterations {
        let w = p.weights();
        let prior = (lambda / (1.0 - lambda)).log2();
        let mut mc: [Vec<f64>; NF] = std::array::from_fn(|f| vec![0.0; p.m[f].len()]);
        let mut uc: [Vec<f64>; NF] = std::array::from_fn(|f| vec![0.0; p.u[f].len()]);
        let mut total_p = 0.0;
        for v in vectors {
            let s: f64 = (0..NF)
                .filter(|&f| v[f] != NULL)
                .map(|f| w.w[f][v[f] as usize])
                .sum();
            let pm = probability(prior + s);
            total_p += pm;
            for f in 0..NF {
                if v[f] != NULL {
                    mc[f][v[f] as usize] += pm;
                    uc[f][v[f] as usize] += 1.0 - pm;
                }
            }
        }
        lambda = (total_p / vectors.len() as f64).clamp(1e-6, 1.0 - 1e-6);
        for f in 0..NF {
            let smooth = |counts: &Vec<f64>, prior: &Vec<f64>| -> Vec<f64> {
                // A small Dirichlet prior centred on the previous estimate keeps empty
                // levels from collapsing to zero.
                let total: f64 = counts.iter().sum::<f64>() + 1.0;
                counts
                    .iter()
                    .zip(prior)
                    .map(|(c, p0)| (c + p0) / total)
                    .collect()
            };
            p.m[f] = smooth(&mc[f], &p.m[f]);
            if !fix_u {
                p.u[f] = smooth(&uc[f], &p.u[f]);
            }
        }
    }
    (p, lambda)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::name_tokens;

    fn n(s: &str) -> NameInfo {
        NameInfo::new(&name_tokens(s))
    }
    fn fcmp(a: &str, b: &str) -> u8 {
        compare_forename(&n(a), std::iter::empty(), &n(b), std::iter::empty())
    }
    fn d(s: &str) -> Date {
        Date::parse_iso(s).unwrap()
    }

    #[test]
    fn the_allocation_free_jaro_winkler_agrees_with_strsim() {
        let words = [
            "martha",
            "marhta",
            "dwayne",
            "duane",
            "dixon",
            "dicksonx",
            "jones",
            "johnson",
            "a",
            "ab",
            "ba",
            "aaaa",
            "aaab",
            "crate",
            "trace",
            "abcdefghijklmnop",
            "ponmlkjihgfedcba",
        ];
        for x in words {
            for y in words {
                let d = jaro_winkler_ascii(x.as_bytes(), y.as_bytes()) - strsim::jaro_winkler(x, y);
                assert!(d.abs() < 1e-12, "{x} {y}");
            }
        }
    }

    #[test]
    fn identical_forenames_are_exact() {
        assert_eq!(fcmp("Oliver", "OLIVER"), F_EXACT);
    }

    #[test]
    fn a_nickname_matches_its_full_name() {
        assert_eq!(fcmp("Bill", "William"), F_NICKNAME);
        assert_eq!(fcmp("Lizzie", "Elizabeth"), F_NICKNAME);
        assert_eq!(fcmp("Peggy", "Margaret"), F_NICKNAME);
    }

    #[test]
    fn a_one_letter_typo_is_jaro_winkler_high() {
        assert_eq!(fcmp("Imogen", "Imogan"), F_JW_HIGH);
    }

    #[test]
    fn sound_alike_forenames_are_phonetic() {
        assert_eq!(fcmp("Kathryn", "Catherine"), F_PHONETIC);
    }

    #[test]
    fn an_initial_matches_a_name_with_that_letter() {
        assert_eq!(fcmp("J", "James"), F_INITIAL);
        assert_eq!(fcmp("K", "James"), F_DISAGREE);
    }

    #[test]
    fn different_forenames_disagree() {
        assert_eq!(fcmp("Oliver", "Harry"), F_DISAGREE);
    }

    #[test]
    fn a_middle_name_used_as_forename_is_other_name() {
        let others = [n("James")];
        let l = compare_forename(&n("James"), std::iter::empty(), &n("Oliver"), others.iter());
        assert_eq!(l, F_OTHER);
    }

    #[test]
    fn one_keying_slip_in_a_short_name_is_a_fuzzy_agreement() {
        assert!(one_edit_typo("ivy", "ivk"));
        assert!(one_edit_typo("amy", "aym"));
        assert!(one_edit_typo("lee", "leee"));
        assert!(one_edit_typo("evan", "eva"));
        assert!(!one_edit_typo("eva", "ev"));
        assert!(!one_edit_typo("ivy", "ivy"));
        assert!(!one_edit_typo("amy", "zoe"));
        assert!(!one_edit_typo("amy", "maya"));
        assert_eq!(fcmp("Ivk", "Ivy"), F_JW_MID);
        assert_ne!(compare_surname(&n("Lee"), &n("Lea")), S_DISAGREE);
        assert_eq!(compare_surname(&n("Kay"), &n("Kat")), S_JW_MID);
    }

    #[test]
    fn the_dictionary_knows_common_forenames_but_not_typos() {
        for name in ["oliver", "olivia", "william", "bill", "amelia", "archie"] {
            assert!(known_forename(name), "{name}");
        }
        for name in ["ivk", "florsence", "jmaes", ""] {
            assert!(!known_forename(name), "{name}");
        }
    }

    fn side<'a>(first: &'a NameInfo, g: Gender) -> Side<'a> {
        Side {
            first: Some(first),
            last: None,
            others: &[],
            dob: None,
            dob_raw: None,
            dob_estimated: false,
            gender: Some(g),
            postcode: None,
            address: None,
        }
    }

    #[test]
    fn the_sibling_guard_needs_two_established_names_unless_they_clearly_differ() {
        let w = Params::default().weights();
        let c = |a: &str, ga, b: &str, gb| {
            let (x, y) = (n(a), n(b));
            compare(&side(&x, ga), &side(&y, gb), &w, &NoTf).conflict()
        };
        use Gender::*;
        assert!(c("Oliver", Male, "Olivia", Female).is_some());
        assert_eq!(
            c("Archie", Male, "Charlie", Male),
            Some("distinct_forenames")
        );
        assert_eq!(c("Oliver", Male, "Harry", Male), Some("forename_conflict"));
        // Typos, nicknames and initials are not conflicts, even with the sex recorded differently.
        assert_eq!(c("Florsence", Male, "Florence", Female), None);
        assert_eq!(c("Ivk", Female, "Ivy", Female), None);
        // Two unusual names of different sex: kept apart (twins matter more than a
        // misspelling combined with a wrongly recorded sex).
        assert!(!known_forename("jaylan") && !known_forename("jaylun"));
        assert_eq!(
            c("Jaylan", Male, "Jaylun", Female),
            Some("forename_and_sex_conflict")
        );
        assert_eq!(c("Bill", Male, "William", Male), None);
        assert_eq!(c("W", Male, "William", Male), None);
    }

    #[test]
    fn a_hyphenation_change_is_an_exact_surname() {
        assert_eq!(
            compare_surname(&n("Smith-Jones"), &n("Smith Jones")),
            S_EXACT
        );
    }

    #[test]
    fn a_dropped_half_of_a_double_barrelled_surname_still_agrees() {
        let l = compare_surname(&n("Featherstone-Okafor"), &n("Okafor"));
        assert_eq!(l, S_TOKEN);
    }

    #[test]
    fn a_surname_typo_is_jaro_winkler_high() {
        assert_eq!(compare_surname(&n("Robinson"), &n("Robinsin")), S_JW_HIGH);
        assert_eq!(compare_surname(&n("Smith"), &n("Jones")), S_DISAGREE);
    }

    #[test]
    fn day_and_month_swapped_is_recognised() {
        assert_eq!(
            compare_dob(d("2015-03-07"), false, d("2015-07-03"), false),
            D_SWAP
        );
    }

    #[test]
    fn one_digit_off_is_recognised() {
        assert_eq!(
            compare_dob(d("2015-03-17"), false, d("2015-03-27"), false),
            D_ONE_DIGIT
        );
        assert_eq!(
            compare_dob(d("2015-03-17"), false, d("2051-03-17"), false),
            D_ONE_DIGIT
        );
    }

    #[test]
    fn dates_within_a_year_partially_agree() {
        assert_eq!(
            compare_dob(d("2015-03-17"), false, d("2015-11-02"), false),
            D_YEAR
        );
        assert_eq!(
            compare_dob(d("2015-03-17"), false, d("2018-11-02"), false),
            D_DISAGREE
        );
    }

    #[test]
    fn an_estimated_dob_relaxes_the_comparison() {
        assert_eq!(
            compare_dob(d("2015-03-17"), true, d("2017-06-01"), false),
            D_EST_NEAR
        );
        assert_eq!(
            compare_dob(d("2015-03-17"), false, d("2017-06-01"), false),
            D_DISAGREE
        );
        assert_eq!(
            compare_dob(d("2010-03-17"), true, d("2017-06-01"), false),
            D_EST_FAR
        );
    }

    #[test]
    fn postcode_levels_are_graded() {
        assert_eq!(compare_postcode("LS1 4AB", "LS1 4AB"), P_EXACT);
        assert_eq!(compare_postcode("LS1 4AB", "LS1 4ZZ"), P_SECTOR);
        assert_eq!(compare_postcode("LS1 4AB", "LS1 9AB"), P_DISTRICT);
        assert_eq!(compare_postcode("LS1 4AB", "LS1"), P_DISTRICT);
        assert_eq!(compare_postcode("LS1 4AB", "M1 4AB"), P_DISAGREE);
        assert_eq!(compare_postcode("#2615", "#2615"), P_EXACT);
        assert_eq!(compare_postcode("#2615", "#2616"), P_DISAGREE);
        assert_eq!(compare_postcode("#LS1", "LS1"), P_DISAGREE);
    }

    #[test]
    fn addresses_with_a_different_house_number_disagree() {
        let a = |s: &str| AddrInfo::new(&crate::normalize::address_tokens(s));
        assert_eq!(
            compare_address(&a("12 High St"), &a("12 high street")),
            A_EXACT
        );
        assert_eq!(
            compare_address(&a("12 High St"), &a("14 High Street")),
            A_DISAGREE
        );
        assert_eq!(
            compare_address(&a("Flat 3, 12 High St"), &a("12 High Street")),
            A_SIMILAR
        );
        // Keying slips in several words, and spacing.
        assert_eq!(
            compare_address(
                &a("308 Solly Place Fai Rawy Valoa"),
                &a("308 Solly Place Fairway Valla")
            ),
            A_SIMILAR
        );
        assert_eq!(
            compare_address(&a("12 Mill Lane Leeds"), &a("12 Station Road Bradford")),
            A_DISAGREE
        );
    }

    #[test]
    fn a_missing_value_weighs_nothing() {
        let w = Params::default().weights();
        let a = n("Oliver");
        let s1 = Side {
            first: Some(&a),
            last: None,
            others: &[],
            dob: None,
            dob_raw: None,
            dob_estimated: false,
            gender: None,
            postcode: None,
            address: None,
        };
        let c = compare(&s1, &s1, &w, &NoTf);
        assert_eq!(c.levels[SURNAME], NULL);
        assert_eq!(c.weights[SURNAME], 0.0);
        assert_eq!(c.weights[DOB], 0.0);
        assert!(c.weights[FORENAME] > 0.0);
    }

    #[test]
    fn em_recovers_a_clear_two_class_mixture() {
        // 200 matches agreeing on everything, 2000 non-matches disagreeing on names/dob.
        let mut v = Vec::new();
        for _ in 0..200 {
            v.push([F_EXACT, S_EXACT, D_EXACT, G_AGREE, NULL, NULL]);
        }
        for i in 0..2000 {
            let g = if i % 2 == 0 { G_AGREE } else { G_DISAGREE };
            v.push([
                F_DISAGREE,
                if i % 10 == 0 { S_EXACT } else { S_DISAGREE },
                D_DISAGREE,
                g,
                NULL,
                NULL,
            ]);
        }
        let (p, lambda) = estimate_em(&v, &Params::default(), 0.01, 30, false);
        assert!((lambda - 200.0 / 2200.0).abs() < 0.01, "lambda {lambda}");
        assert!(p.m[FORENAME][F_EXACT as usize] > 0.95);
        assert!(p.u[SURNAME][S_EXACT as usize] > 0.05 && p.u[SURNAME][S_EXACT as usize] < 0.15);
    }
}
