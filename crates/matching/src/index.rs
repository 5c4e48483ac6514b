//! The person index: interned normalised records, blocking tables and search.

use crate::compare::{
    AddrInfo, CONDITIONAL_LEVELS, Comparison, FIELD_NAMES, LEVEL_NAMES, NF, NULL, NameInfo, NoTf,
    Params, Side, TermFreq, Weights, compare, probability,
};
use crate::fit::Model;
use crate::model::{Date, Gender, Person};
use crate::normalize::{address_tokens, name_tokens, postcode_key, surname_tokens};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

const NONE: u32 = u32::MAX;
/// Blocks larger than this are skipped at query time: they are not discriminating and
/// the other blocking keys still reach the true match.
pub const MAX_BLOCK: usize = 800;
/// The DOB-only block is skipped above this size when the query has both names, and
/// so are the name-prefix and house-number-and-street blocks (second-chance keys).
pub const MAX_DOB_BLOCK: usize = 64;
/// Index sizes below this are treated as this large when setting the prior and the
/// term-frequency u values, so that small indexes do not inflate weak evidence.
pub const MIN_EFFECTIVE_SIZE: f64 = 10_000.0;
/// How many of the best candidates are checked against each other for being
/// mutually exclusive.
pub const EXCLUSIVE_CANDIDATES: usize = 8;
/// Share of indexed records assumed to have a duplicate elsewhere in the index: the
/// prior odds that two given records are one person are `DUPLICATE_SHARE / N_eff`.
pub const DUPLICATE_SHARE: f64 = 0.05;

/// Filler for the unused slots of `Index::with_side`'s stack buffer (never read).
static EMPTY_NAME_SLOT: std::sync::OnceLock<NameInfo> = std::sync::OnceLock::new();

fn logit2(p: f64) -> f64 {
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    (p / (1.0 - p)).log2()
}

/// Term-frequency adjustments move an exact name agreement's weight at most this many
/// bits away from the field's average exact-agreement weight.
pub const TF_MAX_BITS: f64 = 8.0;

/// A forename held by at least this share of the index (and at least `ESTABLISHED_MIN`
/// records) is an established name, not a misspelling (see `Comparison::conflict`).
pub const ESTABLISHED_SHARE: f64 = 1e-5;
pub const ESTABLISHED_MIN: f64 = 3.0;

/// Random pairs sampled at build time to estimate u probabilities.
pub const U_SAMPLE_PAIRS: usize = 200_000;

/// Pseudo-records (with a sibling share of one half) added to the sibling-share estimate.
pub const SIBLING_PSEUDO_RECORDS: f64 = 1000.0;

/// A query's candidate comparisons kept from the fit for the search (`ehm match`):
/// every ordinary candidate, and the wide-block candidates when they were compared.
#[derive(Default)]
pub(crate) struct Compared {
    normal: Vec<(u32, Comparison)>,
    wide: Option<Vec<(u32, Comparison)>>,
}

/// One field's contribution to a candidate's score.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldComparison {
    pub field: &'static str,
    pub level: &'static str,
    /// log2 Bayes factor; all weights of a candidate (including the `prior` row) add up
    /// to its final log2 odds.
    pub weight: f64,
    /// The compared values (query's, record's), normalised, when both are present.
    pub values: Option<(String, String)>,
}

/// A search result.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub person_id: String,
    /// Match probability in [0, 1].
    pub score: f64,
    pub explanation: Vec<FieldComparison>,
}

#[derive(Clone, Debug)]
struct Rec {
    first: u32,
    last: u32,
    others: Box<[u32]>,
    dob: u32,
    /// bit 0: DOB estimated; bits 1-2: gender (0 none, 1 male, 2 female).
    flags: u8,
    postcode: u32,
    address: u32,
}

/// A normalised record before interning: names and address as space-joined tokens.
#[derive(Clone, Debug, Default)]
pub(crate) struct Norm {
    pub first: Option<String>,
    pub last: Option<String>,
    pub others: Vec<String>,
    pub dob: Option<Date>,
    /// Digits (YYYYMMDD) of a present but impossible date of birth.
    pub dob_raw: Option<u32>,
    pub est: bool,
    pub gender: Option<Gender>,
    pub postcode: Option<String>,
    pub address: Option<String>,
}

pub(crate) fn normalise(p: &Person) -> Norm {
    let mut n = Norm {
        dob: p.dob,
        dob_raw: if p.dob.is_none() {
            p.dob_text.as_deref().and_then(Date::digits_lenient)
        } else {
            None
        },
        est: p.dob_estimated && (p.dob.is_some() || p.dob_text.is_some()),
        gender: p.gender,
        ..Norm::default()
    };
    if let Some(f) = &p.first_name {
        let mut toks = name_tokens(f).into_iter();
        n.first = toks.next();
        n.others.extend(toks);
    }
    if let Some(l) = &p.last_name {
        let toks = surname_tokens(l);
        if !toks.is_empty() {
            n.last = Some(toks.join(" "));
        }
    }
    for o in &p.other_names {
        n.others.extend(name_tokens(o));
    }
    n.postcode = p.postcode.as_deref().and_then(postcode_key);
    if let Some(a) = &p.address {
        let toks = address_tokens(a);
        if !toks.is_empty() {
            n.address = Some(toks.join(" "));
        }
    }
    n
}

/// A query, normalised once.
pub struct Prepared {
    first: Option<NameInfo>,
    last: Option<NameInfo>,
    pub(crate) others: Vec<NameInfo>,
    dob: Option<Date>,
    dob_raw: Option<u32>,
    est: bool,
    gender: Option<Gender>,
    postcode: Option<String>,
    address: Option<AddrInfo>,
}

impl Prepared {
    pub fn new(p: &Person) -> Prepared {
        let n = normalise(p);
        Prepared {
            first: n.first.as_deref().map(NameInfo::from_key),
            last: n.last.as_deref().map(NameInfo::from_key),
            others: n.others.iter().map(|o| NameInfo::from_key(o)).collect(),
            dob: n.dob,
            dob_raw: n.dob_raw,
            est: n.est,
            gender: n.gender,
            postcode: n.postcode,
            address: n.address.map(AddrInfo::from_text),
        }
    }

    pub(crate) fn side<'a>(&'a self, others: &'a [&'a NameInfo]) -> Side<'a> {
        Side {
            first: self.first.as_ref(),
            last: self.last.as_ref(),
            others,
            dob: self.dob,
            dob_raw: self.dob_raw,
            dob_estimated: self.est,
            gender: self.gender,
            postcode: self.postcode.as_deref(),
            address: self.address.as_ref(),
        }
    }
}

struct Interner<T> {
    map: FxHashMap<String, u32>,
    items: Vec<T>,
}

impl<T> Interner<T> {
    fn new() -> Self {
        Interner {
            map: FxHashMap::default(),
            items: Vec::new(),
        }
    }
}

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn key(tag: u64, a: u64, b: u64) -> u64 {
    mix(mix(tag << 56 ^ a).wrapping_add(b))
}

fn str_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, c| {
        (h ^ u64::from(c)).wrapping_mul(0x100_0000_01b3)
    })
}

const K_SURNAME_YEAR: u64 = 1; // surname + birth year + forename initial
const K_FORENAME_DOB: u64 = 2;
const K_DOB: u64 = 3;
const K_POSTCODE_INITIAL: u64 = 4;
const K_NAME_PAIR: u64 = 5;
const K_NICKNAME_SURNAME: u64 = 6;
const K_POSTCODE_YEAR: u64 = 7;
const K_POSTCODE_SURNAME: u64 = 8;
const K_NAME_PREFIXES: u64 = 9;
const K_HOUSE_STREET: u64 = 10;

/// The house number (digits of the first token that has any, or none) and the first
/// street-like word (three letters or more) of a normalised address.
fn house_street(a: &AddrInfo) -> Option<(u64, u64)> {
    let mut number = 0u64;
    for t in a.tokens() {
        if t.bytes().any(|c| c.is_ascii_digit()) {
            if number == 0 {
                number = str_hash(t);
            }
        } else if t.len() >= 3 {
            return Some((number, str_hash(t)));
        }
    }
    None
}

/// First three letters of a name (names of at least two letters).
fn prefix3(n: &NameInfo) -> Option<u64> {
    let c = n.compact.as_bytes();
    (c.len() >= 2).then(|| c.iter().take(3).fold(0u64, |h, &b| h << 8 | u64::from(b)))
}

const K_WIDE_SURNAME: u64 = 11;
const K_WIDE_FORENAME: u64 = 12;
const K_WIDE_DOB: u64 = 13;

/// Members of the wide blocks (everyone with one phonetic surname, one phonetic
/// forename or one date of birth) that are kept for a query, over all its wide blocks:
/// the best this many by signature agreement.
pub const WIDE_TAKE: usize = 32;
/// At most this many members of one wide block are ranked for a query.
pub const WIDE_SCAN_LIMIT: usize = 50_000;
/// Wide blocks are only ranked when no ordinary candidate has at least these log2 odds
/// (a posterior of 0.999): they are the fallback for queries with two or more errors.
pub const WIDE_SKIP_LOG_ODDS: f64 = 10.0;

/// The postcode down to its sector ("LS6 2AB" -> "LS6 2"), or an opaque code without
/// its last character ("#4222" -> "#422"): survives a slip in the last characters.
fn postcode_prefix(pc: &str) -> Option<&str> {
    if let Some(rest) = pc.strip_prefix('#') {
        return (rest.len() >= 3).then(|| &pc[..pc.len() - 1]);
    }
    let sp = pc.find(' ')?;
    (pc.len() > sp + 1).then(|| &pc[..sp + 2])
}

/// Hash of the house number (the first address token with a digit).
fn house_number(a: &AddrInfo) -> Option<u64> {
    a.tokens()
        .find(|t| t.bytes().any(|c| c.is_ascii_digit()))
        .map(str_hash)
}

fn h8(x: u64) -> u64 {
    mix(x) % 255 + 1
}

fn initial_code(n: &NameInfo) -> u64 {
    let c = n.compact.as_bytes()[0];
    if c.is_ascii_lowercase() {
        u64::from(c - b'a' + 1)
    } else {
        27 + u64::from(c % 5)
    }
}

/// A wide-block member's signature: `bits` (see `signature`) and the q-gram sketches
/// of its forename (low 32 bits of `names`) and surname (high 32 bits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Sig {
    bits: u64,
    names: u64,
}

/// A 32-bit sketch of a name's letter pairs (bigrams, with the start and end of the
/// name as letters; the compact spelling), never 0: two spellings one keying slip apart
/// share most of their bits (Jaccard >= 0.4 for about 92% of single slips), two
/// different names seldom do (about 3% of random name pairs).
fn name_sketch(n: &NameInfo) -> u64 {
    // An initial or a two-letter name has too few letter pairs to compare.
    if n.compact.len() < 3 {
        return 0;
    }
    let mut prev = u64::from(b'^');
    let mut s = 0u64;
    for c in n.compact.bytes().map(u64::from).chain([u64::from(b'$')]) {
        s |= 1 << (mix(prev << 8 | c) % 32);
        prev = c;
    }
    s
}

/// Points of evidence for a name from the sketches: the same sketch (almost always the
/// same spelling), or a similar one (bigram Jaccard at least 0.5, or at least 0.4).
fn sketch_points(q: u64, r: u64, same: u32) -> u32 {
    if q == 0 || r == 0 {
        return 0;
    }
    if q == r {
        return same;
    }
    let (i, u) = ((q & r).count_ones(), (q | r).count_ones());
    if 2 * i >= u {
        same - 1
    } else if 5 * i >= 2 * u {
        same - 2
    } else {
        0
    }
}

/// A record's signature: small codes of its fields packed into 64 bits (0 = missing)
/// for ranking the members of a wide block without touching the records:
/// forename initial (5 bits) and phonetic code (8), surname initial (5) and phonetic
/// code (8), birth year (8) and month-and-day (9), postcode sector (8), house number
/// (8), sex (2), DOB estimated (1).
#[allow(clippy::too_many_arguments)]
fn signature(
    first: Option<&NameInfo>,
    last: Option<&NameInfo>,
    dob: u32,
    est: bool,
    gender: u64,
    postcode: Option<&str>,
    address: Option<&AddrInfo>,
) -> Sig {
    let mut s = 0u64;
    let names = first.map_or(0, name_sketch) | last.map_or(0, name_sketch) << 32;
    if let Some(f) = first {
        s |= initial_code(f) | h8(u64::from(f.dm[0])) << 5;
    }
    if let Some(l) = last {
        s |= initial_code(l) << 13 | h8(u64::from(l.dm[0])) << 18;
    }
    if dob != 0 {
        let y = (i64::from(dob / 10_000) - 1880).clamp(1, 255) as u64;
        let md = u64::from((dob / 100 % 100) * 32 + dob % 100) & 511;
        s |= y << 26 | md << 34;
    }
    if let Some(p) = postcode.and_then(postcode_prefix) {
        s |= h8(str_hash(p)) << 43;
    }
    if let Some(n) = address.and_then(house_number) {
        s |= h8(n) << 51;
    }
    Sig {
        bits: s | (gender & 3) << 59 | u64::from(est) << 61,
        names,
    }
}

fn sig_field(s: u64, shift: u32, bits: u32) -> u64 {
    (s >> shift) & ((1 << bits) - 1)
}

/// Which field defines a wide block (it does not count when ranking its members).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum WideKind {
    Surname,
    Forename,
    Dob,
}

/// How well a wide-block member's signature agrees with the query's: roughly the bits
/// of evidence of each agreeing field (how unlikely the agreement is by chance):
/// forename the same spelling 7, a similar one 6 or 5 (`sketch_points`), else the same
/// initial 4; surname the same spelling 8, a similar one 7 or 6, else the same initial
/// or sound 5; birth year 4, birth day and month 8 (or swapped; the same month and a
/// day one digit off 6, the same day and a month one digit off 5, the same month alone
/// 3), but when either DOB is estimated only the year counts (4 within two years);
/// postcode sector 9, house number 6, the same sex 1. Returns the points of the fields other than the one that defines
/// the block, and the points of that field (at least what every member of the block
/// has: the same sound or date).
fn wide_score(q: Sig, r: Sig, kind: WideKind) -> (u32, u32) {
    let (q, r, qn, rn) = (q.bits, r.bits, q.names, r.names);
    let agree = |sh: u32, b: u32| {
        let (x, y) = (sig_field(q, sh, b), sig_field(r, sh, b));
        x != 0 && x == y
    };
    let mut fore = sketch_points(qn & 0xffff_ffff, rn & 0xffff_ffff, 7);
    if agree(0, 5) {
        fore = fore.max(4);
    }
    let mut sur = sketch_points(qn >> 32, rn >> 32, 8);
    if agree(13, 5) || agree(18, 8) {
        sur = sur.max(5);
    }
    let mut dob = 0;
    let est = sig_field(q | r, 61, 1) != 0;
    let (yq, yr) = (sig_field(q, 26, 8), sig_field(r, 26, 8));
    if yq != 0 && yr != 0 {
        match (yq.abs_diff(yr), est) {
            (0, _) | (1 | 2, true) => dob += 4,
            _ => {}
        }
    }
    // An estimated date of birth says nothing about the day and month.
    let (mq, mr) = (sig_field(q, 34, 9), sig_field(r, 34, 9));
    if mq != 0 && mr != 0 && !est {
        let one_digit = |a: u64, b: u64| a / 10 == b / 10 || a % 10 == b % 10;
        let ((mmq, dq), (mmr, dr)) = ((mq / 32, mq % 32), (mr / 32, mr % 32));
        if mq == mr || dq * 32 + mmq == mr {
            dob += 8;
        } else if mmq == mmr && one_digit(dq, dr) {
            dob += 6;
        } else if dq == dr && one_digit(mmq, mmr) {
            dob += 5;
        } else if mmq == mmr {
            dob += 3;
        }
    }
    let mut other = 0;
    if agree(43, 8) {
        other += 9;
    }
    if agree(51, 8) {
        other += 6;
    }
    if agree(59, 2) {
        other += 1;
    }
    match kind {
        WideKind::Forename => (other + sur + dob, fore.max(4)),
        WideKind::Surname => (other + fore + dob, sur.max(5)),
        // A member of the query's DOB block has that date (12 points) unless either
        // date is estimated.
        WideKind::Dob => (other + fore + sur, dob),
    }
}

/// Wide-block members need at least this score (one agreeing field besides the sex).
const WIDE_MIN_SCORE: u32 = 4;

/// Wide-block keys: one per phonetic code of the surname (and of each part of a
/// double-barrelled one), of the forename (not an initial), and per date of birth (as
/// packed digits); `alternates` adds the alternate Double Metaphone codes (query side).
fn wide_keys(
    first: Option<&NameInfo>,
    last: Option<&NameInfo>,
    dobs: &[u32],
    alternates: bool,
    out: &mut Vec<(u64, WideKind)>,
) {
    let n = if alternates { 2 } else { 1 };
    if let Some(l) = last {
        for &c in l.dm[..n].iter().chain(l.tok_dm.iter()) {
            if c != 0 {
                out.push((key(K_WIDE_SURNAME, u64::from(c), 0), WideKind::Surname));
            }
        }
    }
    if let Some(f) = first.filter(|f| !f.is_initial()) {
        for &c in &f.dm[..n] {
            if c != 0 {
                out.push((key(K_WIDE_FORENAME, u64::from(c), 0), WideKind::Forename));
            }
        }
    }
    for &d in dobs.iter().filter(|&&d| d != 0) {
        out.push((key(K_WIDE_DOB, u64::from(d), 0), WideKind::Dob));
    }
    out.sort_unstable();
    out.dedup();
}

thread_local! {
    static SCRATCH: std::cell::RefCell<[Vec<u64>; 4]> = const {
        std::cell::RefCell::new([Vec::new(), Vec::new(), Vec::new(), Vec::new()])
    };
}

/// Blocking keys of a record. `firsts` are forename candidates (the forename, and at
/// query time also middle names and swapped surnames), `lasts` likewise.
#[allow(clippy::too_many_arguments)]
fn blocking_keys<F: std::borrow::Borrow<NameInfo>>(
    firsts: &[F],
    lasts: &[F],
    dobs: &[u32],
    postcode: Option<&str>,
    address: Option<&AddrInfo>,
    query: bool,
    no_forename: bool,
    out: &mut Vec<u64>,
    mut secondary: Option<&mut Vec<u64>>,
) {
    // Scratch lists reused across calls on this thread (no allocation per record).
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let [initials, last_codes, first_codes, nick_groups] = &mut *scratch;
        initials.clear();
        last_codes.clear();
        first_codes.clear();
        nick_groups.clear();
        // Forename initials for the surname + birth year (+ initial) key; 0 = no forename.
        initials.extend(
            firsts
                .iter()
                .map(|f| u64::from(f.borrow().compact.as_bytes()[0])),
        );
        if query {
            // A query without a forename may be any of them (its surname, also tried as a
            // forename for swapped names, does not count).
            if initials.is_empty() || no_forename {
                initials.extend((b'a'..=b'z').map(u64::from));
            }
            initials.push(0);
        } else if initials.is_empty() {
            initials.push(0);
        }
        initials.sort_unstable();
        initials.dedup();
        for l in lasts {
            let l = l.borrow();
            if l.dm[0] != 0 {
                last_codes.push(u64::from(l.dm[0]));
            }
            last_codes.extend(l.tok_dm.iter().filter(|&&c| c != 0).map(|&c| u64::from(c)));
        }
        last_codes.sort_unstable();
        last_codes.dedup();
        for f in firsts {
            let f = f.borrow();
            if !f.is_initial() && f.dm[0] != 0 {
                first_codes.push(u64::from(f.dm[0]));
            }
            nick_groups.extend(f.nick.iter().take(6).map(|&g| u64::from(g)));
        }
        first_codes.sort_unstable();
        first_codes.dedup();
        nick_groups.sort_unstable();
        nick_groups.dedup();
        for &d in dobs {
            let y = u64::from(d / 10_000);
            let p = u64::from(d);
            out.push(key(K_DOB, p, 0));
            for &l in last_codes.iter() {
                for &i in initials.iter() {
                    out.push(key(K_SURNAME_YEAR, l, y << 8 | i));
                }
            }
            for &f in first_codes.iter() {
                out.push(key(K_FORENAME_DOB, f, p));
            }
        }
        for &f in first_codes.iter() {
            for &l in last_codes.iter() {
                out.push(key(K_NAME_PAIR, f, l));
            }
        }
        for &g in nick_groups.iter() {
            for &l in last_codes.iter() {
                out.push(key(K_NICKNAME_SURNAME, g, l));
            }
        }
        // Name prefixes (a sorted-neighbourhood-like key): survives a changed date of
        // birth together with a misspelt ending of either name.
        for f in firsts {
            for l in lasts {
                if let (Some(a), Some(b)) = (prefix3(f.borrow()), prefix3(l.borrow())) {
                    let k = key(K_NAME_PREFIXES, a, b);
                    match secondary.as_deref_mut() {
                        Some(v) => v.push(k),
                        None => out.push(k),
                    }
                }
            }
        }
        // House number and street: survives changed names and date of birth.
        if let Some((n, st)) = address.and_then(house_street) {
            let k = key(K_HOUSE_STREET, n, st);
            match secondary {
                Some(v) => v.push(k),
                None => out.push(k),
            }
        }
        if let Some(pc) = postcode.filter(|p| p.contains(' ') || p.starts_with('#')) {
            let h = str_hash(pc);
            for &l in last_codes.iter() {
                out.push(key(K_POSTCODE_SURNAME, h, l));
            }
            for f in firsts {
                out.push(key(
                    K_POSTCODE_INITIAL,
                    h,
                    u64::from(f.borrow().compact.as_bytes()[0]),
                ));
            }
            for &d in dobs {
                out.push(key(K_POSTCODE_YEAR, h, u64::from(d / 10_000)));
            }
        }
    });
    out.sort_unstable();
    out.dedup();
}

/// Simple deterministic PRNG (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(pub u64);
impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The searchable person index.
pub struct Index {
    ids: Vec<Box<str>>,
    recs: Vec<Rec>,
    names: Interner<NameInfo>,
    /// How many records have each (compact) forename and surname.
    tf: FxHashMap<Box<str>, [u32; 2]>,
    postcodes: Interner<Box<str>>,
    addrs: Interner<AddrInfo>,
    block_keys: Vec<u64>,
    block_offsets: Vec<u32>,
    /// Radix directory over `block_keys` (which are uniformly distributed hashes):
    /// keys whose top `block_bits` bits equal `t` lie in
    /// `block_keys[block_dir[t]..block_dir[t + 1]]`, a handful of entries, so a lookup
    /// costs one or two cache misses instead of a ~23-step binary search.
    block_dir: Vec<u32>,
    block_bits: u32,
    block_members: Vec<u32>,
    /// Wide blocks (a CSR table like the one above, searched by binary search): every
    /// record with a phonetic surname or forename, with each member's signature inline,
    /// so a query ranks a block's members without reading their records.
    wide_keys: Vec<u64>,
    wide_offsets: Vec<u32>,
    wide_members: Vec<(u32, Sig)>,
    delta_wide: FxHashMap<u64, Vec<(u32, Sig)>>,
    model: Model,
    weights: Weights,
    n_eff: f64,
    /// Records `0..main_len` are in the CSR blocking table; later ones (added by
    /// `upsert`) are in `delta_blocks`.
    main_len: usize,
    delta_blocks: FxHashMap<u64, Vec<u32>>,
    /// Tombstones: removed or replaced records (never returned).
    dead: Vec<bool>,
    n_dead: usize,
    /// Main-table record numbers sorted by id (built on the first update).
    id_order: Option<Vec<u32>>,
    /// Record numbers of the delta records by id.
    delta_ids: FxHashMap<Box<str>, Vec<u32>>,
    sibling_share: f64,
}

struct QueryTf<'a> {
    f: Option<f64>,
    s: Option<f64>,
    index: &'a Index,
}
impl TermFreq for QueryTf<'_> {
    fn forename_u(&self, _: &NameInfo) -> Option<f64> {
        self.f
    }
    fn surname_u(&self, _: &NameInfo) -> Option<f64> {
        self.s
    }
    fn established_forename(&self, compact: &str) -> bool {
        crate::compare::known_forename(compact)
            || self
                .index
                .tf
                .get(compact)
                .is_some_and(|v| f64::from(v[0]) >= self.index.established_count())
    }
}

impl Index {
    /// Build an index with the shipped default m probabilities and u probabilities
    /// estimated from random pairs of the indexed records.
    pub fn build(persons: Vec<Person>) -> Index {
        Index::build_with_params(persons, Params::default(), true)
    }

    /// Build with explicit parameters; `estimate_u` re-estimates u by random sampling.
    pub fn build_with_params(persons: Vec<Person>, params: Params, estimate_u: bool) -> Index {
        let norms: Vec<Norm> = persons.par_iter().map(normalise).collect();
        let ids: Vec<Box<str>> = persons.into_iter().map(|p| p.id.into_boxed_str()).collect();

        // Intern names, postcodes and addresses (sequential; cheap hash lookups).
        let mut name_keys: Vec<String> = Vec::new();
        let mut names: Interner<NameInfo> = Interner::new();
        let mut postcodes: Interner<Box<str>> = Interner::new();
        let mut addr_keys: Vec<String> = Vec::new();
        let mut addrs: Interner<AddrInfo> = Interner::new();
        fn intern(map: &mut FxHashMap<String, u32>, keys: &mut Vec<String>, k: String) -> u32 {
            if let Some(&i) = map.get(&k) {
                return i;
            }
            let i = keys.len() as u32;
            keys.push(k.clone());
            map.insert(k, i);
            i
        }
        let mut pc_keys: Vec<String> = Vec::new();
        let mut recs: Vec<Rec> = Vec::with_capacity(norms.len());
        for n in norms {
            let first = n
                .first
                .map_or(NONE, |k| intern(&mut names.map, &mut name_keys, k));
            let last = n
                .last
                .map_or(NONE, |k| intern(&mut names.map, &mut name_keys, k));
            let others: Box<[u32]> = n
                .others
                .into_iter()
                .map(|k| intern(&mut names.map, &mut name_keys, k))
                .collect();
            let postcode = n
                .postcode
                .map_or(NONE, |k| intern(&mut postcodes.map, &mut pc_keys, k));
            let address = n
                .address
                .map_or(NONE, |k| intern(&mut addrs.map, &mut addr_keys, k));
            let g = match n.gender {
                None => 0,
                Some(Gender::Male) => 1,
                Some(Gender::Female) => 2,
            };
            recs.push(Rec {
                first,
                last,
                others,
                dob: n.dob.map_or(n.dob_raw.unwrap_or(0), |d| d.packed()),
                flags: u8::from(n.est) | (g << 1),
                postcode,
                address,
            });
        }
        names.items = name_keys
            .par_iter()
            .map(|k| NameInfo::from_key(k))
            .collect();
        drop(name_keys);
        postcodes.items = pc_keys.into_iter().map(String::into_boxed_str).collect();
        addrs.items = addr_keys.into_iter().map(AddrInfo::from_text).collect();
        // The address map is only needed while interning.
        addrs.map = FxHashMap::default();
        let mut tf: FxHashMap<Box<str>, [u32; 2]> = FxHashMap::default();
        for r in &recs {
            for (slot, i) in [(0, r.first), (1, r.last)] {
                if i != NONE {
                    let c = &names.items[i as usize].compact;
                    match tf.get_mut(c) {
                        Some(v) => v[slot] += 1,
                        None => {
                            let mut v = [0, 0];
                            v[slot] = 1;
                            tf.insert(c.clone(), v);
                        }
                    }
                }
            }
        }

        let n_eff = (recs.len() as f64).max(MIN_EFFECTIVE_SIZE);
        let weights = params.weights();
        let mut idx = Index {
            ids,
            recs,
            names,
            tf,
            postcodes,
            addrs,
            block_keys: Vec::new(),
            block_offsets: Vec::new(),
            block_dir: Vec::new(),
            block_bits: 0,
            block_members: Vec::new(),
            wide_keys: Vec::new(),
            wide_offsets: Vec::new(),
            wide_members: Vec::new(),
            delta_wide: FxHashMap::default(),
            model: Model::new(params),
            weights,
            n_eff,
            main_len: 0,
            delta_blocks: FxHashMap::default(),
            dead: Vec::new(),
            n_dead: 0,
            id_order: None,
            delta_ids: FxHashMap::default(),
            sibling_share: 0.5,
        };
        idx.build_blocks();
        idx.estimate_sibling_share();
        if estimate_u {
            let p = idx.estimate_u(U_SAMPLE_PAIRS.min(20 * idx.len()), 0x5EED);
            idx.set_params(p);
        }
        idx
    }

    fn build_blocks(&mut self) {
        self.main_len = self.recs.len();
        self.dead = vec![false; self.recs.len()];
        self.n_dead = 0;
        self.delta_blocks = FxHashMap::default();
        self.delta_wide = FxHashMap::default();
        self.delta_ids = FxHashMap::default();
        self.id_order = None;
        let mut pairs: Vec<(u64, u32)> = self
            .recs
            .par_iter()
            .enumerate()
            .flat_map_iter(|(i, _)| {
                let keys = self.record_keys(i);
                keys.into_iter().map(move |k| (k, i as u32))
            })
            .collect();
        pairs.par_sort_unstable();
        let mut keys = Vec::new();
        let mut offsets = Vec::new();
        let mut members = Vec::with_capacity(pairs.len());
        for (i, &(k, m)) in pairs.iter().enumerate() {
            if i == 0 || pairs[i - 1].0 != k {
                keys.push(k);
                offsets.push(members.len() as u32);
            }
            members.push(m);
        }
        offsets.push(members.len() as u32);
        drop(pairs);
        keys.shrink_to_fit();
        offsets.shrink_to_fit();
        // Two to four keys (one cache line) per directory slot.
        let bits = (usize::BITS - keys.len().max(1).leading_zeros()).saturating_sub(2);
        let bits = bits.clamp(1, 30);
        let mut dir = vec![0u32; (1usize << bits) + 1];
        let mut j = 0usize;
        for (t, slot) in dir.iter_mut().enumerate() {
            while j < keys.len() && ((keys[j] >> (64 - bits)) as usize) < t {
                j += 1;
            }
            *slot = j as u32;
        }
        self.block_dir = dir;
        self.block_bits = bits;
        self.block_keys = keys;
        self.block_offsets = offsets;
        self.block_members = members;

        let mut wide: Vec<(u64, u32, Sig)> = self
            .recs
            .par_iter()
            .enumerate()
            .flat_map_iter(|(i, _)| {
                let (keys, sig) = self.record_wide(i);
                keys.into_iter().map(move |(k, _)| (k, i as u32, sig))
            })
            .collect();
        wide.par_sort_unstable_by_key(|&(k, i, _)| (k, i));
        let mut keys = Vec::new();
        let mut offsets = Vec::new();
        let mut members = Vec::with_capacity(wide.len());
        for (j, &(k, i, sig)) in wide.iter().enumerate() {
            if j == 0 || wide[j - 1].0 != k {
                keys.push(k);
                offsets.push(members.len() as u32);
            }
            members.push((i, sig));
        }
        offsets.push(members.len() as u32);
        keys.shrink_to_fit();
        offsets.shrink_to_fit();
        self.wide_keys = keys;
        self.wide_offsets = offsets;
        self.wide_members = members;
    }

    fn wide_block(&self, k: u64) -> &[(u32, Sig)] {
        match self.wide_keys.binary_search(&k) {
            Ok(i) => {
                &self.wide_members[self.wide_offsets[i] as usize..self.wide_offsets[i + 1] as usize]
            }
            Err(_) => &[],
        }
    }

    /// Wide-block keys and signature of indexed record `i`.
    fn record_wide(&self, i: usize) -> (Vec<(u64, WideKind)>, Sig) {
        let r = &self.recs[i];
        let (first, last) = (self.name(r.first), self.name(r.last));
        let mut keys = Vec::with_capacity(4);
        wide_keys(first, last, &[r.dob], false, &mut keys);
        let addr = (r.address != NONE).then(|| &self.addrs.items[r.address as usize]);
        let sig = signature(
            first,
            last,
            r.dob,
            r.flags & 1 != 0,
            u64::from(r.flags >> 1 & 3),
            self.postcode(r.postcode),
            addr,
        );
        (keys, sig)
    }

    fn name(&self, i: u32) -> Option<&NameInfo> {
        (i != NONE).then(|| &self.names.items[i as usize])
    }
    fn postcode(&self, i: u32) -> Option<&str> {
        (i != NONE).then(|| &*self.postcodes.items[i as usize])
    }

    fn block(&self, k: u64) -> &[u32] {
        let t = (k >> (64 - self.block_bits)) as usize;
        let (lo, hi) = (self.block_dir[t] as usize, self.block_dir[t + 1] as usize);
        match self.block_keys[lo..hi].binary_search(&k).map(|i| i + lo) {
            Ok(i) => {
                &self.block_members
                    [self.block_offsets[i] as usize..self.block_offsets[i + 1] as usize]
            }
            Err(_) => &[],
        }
    }

    /// Number of records that can be found (removed and replaced ones excluded).
    pub fn len(&self) -> usize {
        self.recs.len() - self.n_dead
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub(crate) fn live_len(&self) -> usize {
        self.len()
    }
    pub(crate) fn live_records(&self) -> Vec<u32> {
        (0..self.recs.len() as u32)
            .filter(|&i| !self.dead[i as usize])
            .collect()
    }
    pub(crate) fn n_eff(&self) -> f64 {
        self.n_eff
    }
    pub fn params(&self) -> &Params {
        &self.model.params
    }
    /// Replace the m/u parameters, keeping the match share.
    pub fn set_params(&mut self, p: Params) {
        self.weights = p.weights();
        self.model.params = p;
    }
    /// The scoring model in use.
    pub fn model(&self) -> &Model {
        &self.model
    }
    /// Use a model, e.g. one returned by [`Index::fit`] (on this index or another).
    pub fn set_model(&mut self, m: Model) {
        self.weights = m.params.weights();
        self.model = m;
    }
    /// Share of records with a brother or sister on record (see [`Model::sibling_ceiling`]).
    pub fn sibling_share(&self) -> f64 {
        self.sibling_share
    }

    fn ceiling(&self, cmp: &Comparison) -> f64 {
        self.model
            .sibling_ceiling(cmp.levels[crate::compare::FORENAME], self.sibling_share)
    }

    /// Estimate the share of records that have a co-resident brother or sister on
    /// record: another record with the same surname and the same postcode or address
    /// but a different forename. Smoothed towards one half (children's services hold
    /// many siblings) with the weight of `SIBLING_PSEUDO_RECORDS` records, so a small
    /// index does not switch the sibling guard off.
    fn estimate_sibling_share(&mut self) {
        let mut groups: FxHashMap<(u32, u32, bool), (u32, u32, bool)> = FxHashMap::default();
        for (i, r) in self.recs.iter().enumerate() {
            if self.dead[i] || r.last == NONE || r.first == NONE {
                continue;
            }
            for (place, is_addr) in [(r.postcode, false), (r.address, true)] {
                if place == NONE {
                    continue;
                }
                let g = groups
                    .entry((r.last, place, is_addr))
                    .or_insert((0, r.first, false));
                g.0 += 1;
                if g.1 != r.first {
                    g.2 = true;
                }
            }
        }
        let mut with_sibling = 0usize;
        for (i, r) in self.recs.iter().enumerate() {
            if self.dead[i] || r.last == NONE || r.first == NONE {
                continue;
            }
            let has = [(r.postcode, false), (r.address, true)]
                .iter()
                .any(|&(place, a)| {
                    place != NONE && groups.get(&(r.last, place, a)).is_some_and(|g| g.2)
                });
            with_sibling += usize::from(has);
        }
        self.sibling_share = (with_sibling as f64 + SIBLING_PSEUDO_RECORDS * 0.5)
            / (self.len() as f64 + SIBLING_PSEUDO_RECORDS);
    }

    /// Prior log2 odds that a query is one given record: `π / ((1 - π) N_eff)`, where π
    /// is the model's match share (one half unless fitted) and `N_eff` the effective
    /// index size.
    pub fn prior(&self) -> f64 {
        self.model.prior_log2_odds(self.n_eff)
    }

    /// Blocking keys of indexed record `i`.
    fn record_keys(&self, i: usize) -> Vec<u64> {
        let r = &self.recs[i];
        let mut keys = Vec::with_capacity(16);
        let first = self.name(r.first);
        let last = self.name(r.last);
        let dob = (r.dob != 0).then_some(r.dob);
        blocking_keys(
            first.as_slice(),
            last.as_slice(),
            dob.as_slice(),
            self.postcode(r.postcode),
            (r.address != NONE).then(|| &self.addrs.items[r.address as usize]),
            false,
            false,
            &mut keys,
            None,
        );
        keys
    }

    /// Normalise and intern one person into a record (for updates).
    fn make_rec(&mut self, p: &Person) -> Rec {
        let n = normalise(p);
        let mut name = |k: String| -> u32 {
            if let Some(&i) = self.names.map.get(&k) {
                return i;
            }
            let i = self.names.items.len() as u32;
            self.names.items.push(NameInfo::from_key(&k));
            self.names.map.insert(k, i);
            i
        };
        let first = n.first.map_or(NONE, &mut name);
        let last = n.last.map_or(NONE, &mut name);
        let others: Box<[u32]> = n.others.into_iter().map(&mut name).collect();
        let postcode = n.postcode.map_or(NONE, |k| {
            if let Some(&i) = self.postcodes.map.get(&k) {
                return i;
            }
            let i = self.postcodes.items.len() as u32;
            self.postcodes.items.push(k.clone().into_boxed_str());
            self.postcodes.map.insert(k, i);
            i
        });
        // Addresses are not de-duplicated for updates (the map is dropped after build).
        let address = n.address.map_or(NONE, |a| {
            self.addrs.items.push(AddrInfo::from_text(a));
            (self.addrs.items.len() - 1) as u32
        });
        let g = match n.gender {
            None => 0,
            Some(Gender::Male) => 1,
            Some(Gender::Female) => 2,
        };
        Rec {
            first,
            last,
            others,
            dob: n.dob.map_or(n.dob_raw.unwrap_or(0), |d| d.packed()),
            flags: u8::from(n.est) | (g << 1),
            postcode,
            address,
        }
    }

    fn tf_add(&mut self, i: usize, delta: i32) {
        let r = &self.recs[i];
        for (slot, n) in [(0, r.first), (1, r.last)] {
            if n != NONE {
                let c = &self.names.items[n as usize].compact;
                let v = self.tf.entry(c.clone()).or_insert([0, 0]);
                v[slot] = v[slot].saturating_add_signed(delta);
            }
        }
    }

    /// Live record numbers with this id.
    fn records_with_id(&mut self, id: &str) -> Vec<u32> {
        if self.id_order.is_none() {
            let mut order: Vec<u32> = (0..self.main_len as u32).collect();
            order.par_sort_unstable_by(|&a, &b| self.ids[a as usize].cmp(&self.ids[b as usize]));
            self.id_order = Some(order);
        }
        let order = self.id_order.as_deref().unwrap_or(&[]);
        let lo = order.partition_point(|&i| &*self.ids[i as usize] < id);
        let mut out: Vec<u32> = order[lo..]
            .iter()
            .take_while(|&&i| &*self.ids[i as usize] == id)
            .copied()
            .collect();
        if let Some(v) = self.delta_ids.get(id) {
            out.extend_from_slice(v);
        }
        out.retain(|&i| !self.dead[i as usize]);
        out
    }

    fn kill(&mut self, i: u32) {
        if !self.dead[i as usize] {
            self.dead[i as usize] = true;
            self.n_dead += 1;
            self.tf_add(i as usize, -1);
        }
    }

    fn refresh_size(&mut self) {
        self.n_eff = (self.len() as f64).max(MIN_EFFECTIVE_SIZE);
    }

    /// Insert a person, or replace every record with the same id: from the moment this
    /// returns, searches find the new version and never the old one. New records go to
    /// a small overlay searched together with the main table; when the overlay holds
    /// more than [`Index::delta_limit`] records the index is compacted.
    pub fn upsert(&mut self, person: &Person) {
        for i in self.records_with_id(&person.id) {
            self.kill(i);
        }
        let rec = self.make_rec(person);
        let i = self.recs.len() as u32;
        self.recs.push(rec);
        self.ids.push(person.id.clone().into_boxed_str());
        self.dead.push(false);
        self.tf_add(i as usize, 1);
        for k in self.record_keys(i as usize) {
            self.delta_blocks.entry(k).or_default().push(i);
        }
        let (wide, sig) = self.record_wide(i as usize);
        for (k, _) in wide {
            self.delta_wide.entry(k).or_default().push((i, sig));
        }
        self.delta_ids
            .entry(person.id.clone().into_boxed_str())
            .or_default()
            .push(i);
        self.refresh_size();
        if self.delta_len() > self.delta_limit() {
            self.compact();
        }
    }

    /// Remove every record with this id. Returns whether there was one.
    pub fn remove(&mut self, id: &str) -> bool {
        let found = self.records_with_id(id);
        for &i in &found {
            self.kill(i);
        }
        if let Some(v) = self.delta_ids.get_mut(id) {
            v.clear();
        }
        self.refresh_size();
        !found.is_empty()
    }

    /// Records added or replaced since the last build or compaction.
    pub fn delta_len(&self) -> usize {
        self.recs.len() - self.main_len
    }

    /// The overlay size above which `upsert` compacts: 5% of the index, at least 20,000.
    pub fn delta_limit(&self) -> usize {
        (self.main_len / 20).max(20_000)
    }

    /// Fold the overlay into the main table and drop removed records (a rebuild of the
    /// blocking table from the normalised records, without re-reading persons or
    /// re-estimating the model).
    pub fn compact(&mut self) {
        if self.n_dead > 0 {
            let live = self.live_records();
            let mut recs = Vec::with_capacity(live.len());
            let mut ids = Vec::with_capacity(live.len());
            let old_recs = std::mem::take(&mut self.recs);
            let old_ids = std::mem::take(&mut self.ids);
            for (i, (r, id)) in old_recs.into_iter().zip(old_ids).enumerate() {
                if !self.dead[i] {
                    recs.push(r);
                    ids.push(id);
                }
            }
            self.recs = recs;
            self.ids = ids;
        }
        self.build_blocks();
        self.refresh_size();
        self.estimate_sibling_share();
    }

    /// Compare a prepared query with all its live candidates (term frequencies on),
    /// skipping records with the id `exclude`, with their log2 odds by `log_odds`. As in
    /// `search`, the wide blocks are added when no candidate reaches `WIDE_SKIP_LOG_ODDS`.
    pub(crate) fn compare_candidates(
        &self,
        q: &Prepared,
        w: &Weights,
        exclude: Option<&str>,
        log_odds: &dyn Fn(&Comparison) -> f64,
        keep_for_search: Option<&mut Compared>,
    ) -> Vec<(f64, Comparison)> {
        let others: Vec<&NameInfo> = q.others.iter().collect();
        let qs = q.side(&others);
        let tf = self.query_tf(q);
        let normal = self.candidates(q);
        let score = |c: u32| {
            let cmp = self.with_side(c as usize, |r| compare(&qs, r, w, &tf));
            (c, log_odds(&cmp), cmp)
        };
        let keep = |c: &(u32, f64, Comparison)| exclude != Some(&*self.ids[c.0 as usize]);
        let all: Vec<(u32, f64, Comparison)> = normal.iter().copied().map(score).collect();
        let mut out: Vec<(f64, Comparison)> =
            all.iter().filter(|c| keep(c)).map(|c| (c.1, c.2)).collect();
        let mut wide_kept = None;
        if out.iter().all(|(lo, _)| *lo < WIDE_SKIP_LOG_ODDS) {
            let wide: Vec<(u32, f64, Comparison)> = self
                .wide_candidates(q, &normal)
                .into_iter()
                .map(score)
                .collect();
            out.extend(wide.iter().filter(|c| keep(c)).map(|c| (c.1, c.2)));
            wide_kept = Some(wide.into_iter().map(|c| (c.0, c.2)).collect());
        }
        if let Some(k) = keep_for_search {
            k.normal = all.into_iter().map(|c| (c.0, c.2)).collect();
            k.wide = wide_kept;
        }
        out
    }

    /// `search_prepared_with` from the comparisons `compare_candidates` kept (made with
    /// other weights): the same result, without comparing the records again. The
    /// comparisons are rescored with the current model; the wide blocks are compared
    /// now if they are needed and were not kept.
    pub(crate) fn search_compared(
        &self,
        q: &Prepared,
        kept: Compared,
        top_k: usize,
        threshold: f64,
        values: bool,
    ) -> Vec<Candidate> {
        if top_k == 0 {
            return Vec::new();
        }
        let others: Vec<&NameInfo> = q.others.iter().collect();
        let qs = q.side(&others);
        let prior = self.prior();
        let floor = logit2(threshold).min(-10.0);
        let mut best = f64::NEG_INFINITY;
        let mut scored: Vec<(f64, u32, Comparison)> = Vec::with_capacity(kept.normal.len());
        let mut add = |c: u32, mut cmp: Comparison, scored: &mut Vec<_>| {
            cmp.rescore(&self.weights);
            let lo = cmp.log_odds_ceiling(prior, self.ceiling(&cmp));
            best = best.max(lo);
            if lo >= floor {
                scored.push((lo, c, cmp));
            }
            best
        };
        let mut top = f64::NEG_INFINITY;
        for &(c, cmp) in &kept.normal {
            top = add(c, cmp, &mut scored);
        }
        if top < WIDE_SKIP_LOG_ODDS {
            match kept.wide {
                Some(w) => {
                    for (c, cmp) in w {
                        add(c, cmp, &mut scored);
                    }
                }
                None => {
                    let tf = self.query_tf(q);
                    let normal: Vec<u32> = kept.normal.iter().map(|c| c.0).collect();
                    for c in self.wide_candidates(q, &normal) {
                        let cmp =
                            self.with_side(c as usize, |r| compare(&qs, r, &self.weights, &tf));
                        add(c, cmp, &mut scored);
                    }
                }
            }
        }
        self.rank(&qs, scored, prior, top_k, threshold, values)
    }

    pub(crate) fn with_record<R>(&self, i: u32, f: impl FnOnce(&Side<'_>) -> R) -> R {
        self.with_side(i as usize, f)
    }

    fn with_side<R>(&self, i: usize, f: impl FnOnce(&Side<'_>) -> R) -> R {
        let r = &self.recs[i];
        // Up to four other names on the stack (no allocation per candidate).
        let mut buf: [&NameInfo; 4] = match r.others.first() {
            Some(&o) => [&self.names.items[o as usize]; 4],
            None => [EMPTY_NAME_SLOT.get_or_init(|| NameInfo::from_key("")); 4],
        };
        let heap: Vec<&NameInfo>;
        let others: &[&NameInfo] = if r.others.len() <= buf.len() {
            for (slot, &o) in buf.iter_mut().zip(r.others.iter()) {
                *slot = &self.names.items[o as usize];
            }
            &buf[..r.others.len()]
        } else {
            heap = r
                .others
                .iter()
                .map(|&o| &self.names.items[o as usize])
                .collect();
            &heap
        };
        let side = Side {
            first: self.name(r.first),
            last: self.name(r.last),
            others,
            dob: Date::from_packed(r.dob),
            dob_raw: (r.dob != 0 && Date::from_packed(r.dob).is_none()).then_some(r.dob),
            dob_estimated: r.flags & 1 != 0,
            gender: match (r.flags >> 1) & 3 {
                1 => Some(Gender::Male),
                2 => Some(Gender::Female),
                _ => None,
            },
            postcode: self.postcode(r.postcode),
            address: (r.address != NONE).then(|| &self.addrs.items[r.address as usize]),
        };
        f(&side)
    }

    /// Estimate u probabilities from random pairs of indexed records (most random pairs
    /// are non-matches), smoothed towards the current u values.
    pub fn estimate_u(&self, pairs: usize, seed: u64) -> Params {
        let n = self.recs.len() as u64;
        let mut p = self.model.params.clone();
        if n < 2 {
            return p;
        }
        let chunks = 16usize;
        let per = pairs.div_ceil(chunks);
        let counts: Vec<[Vec<f64>; NF]> = (0..chunks)
            .into_par_iter()
            .map(|c| {
                let mut rng = Rng(seed ^ (c as u64).wrapping_mul(0xA24B_AED4_963E_E407));
                let mut cnt: [Vec<f64>; NF] =
                    std::array::from_fn(|f| vec![0.0; self.model.params.u[f].len()]);
                for _ in 0..per {
                    let i = rng.below(n) as usize;
                    let j = rng.below(n) as usize;
                    if i == j {
                        continue;
                    }
                    let cmp = self.with_side(i, |a| {
                        self.with_side(j, |b| compare(a, b, &self.weights, &NoTf))
                    });
                    for f in 0..NF {
                        let l = cmp.levels[f];
                        if l != NULL && !cmp.swapped {
                            cnt[f][l as usize] += 1.0;
                        }
                    }
                }
                cnt
            })
            .collect();
        const PSEUDO: f64 = 2000.0;
        for f in 0..NF {
            let len = p.u[f].len();
            let mut tot = vec![0.0; len];
            for c in &counts {
                for l in 0..len {
                    tot[l] += c[f][l];
                }
            }
            let total: f64 = tot.iter().sum();
            let mut new: Vec<f64> = (0..len)
                .map(|l| (tot[l] + PSEUDO * p.u[f][l]) / (total + PSEUDO))
                .collect();
            // Keep the shipped u of conditional levels; the last level (disagree) takes the rest.
            for &(cf, cl) in CONDITIONAL_LEVELS {
                if cf == f {
                    new[cl as usize] = p.u[f][cl as usize];
                }
            }
            let rest: f64 = new[..len - 1].iter().sum();
            new[len - 1] = (1.0 - rest).max(1e-6);
            p.u[f] = new;
        }
        p
    }

    /// Candidate record numbers for a query, from all its blocking keys.
    fn candidates(&self, q: &Prepared) -> Vec<u32> {
        let mut firsts: Vec<&NameInfo> = Vec::new();
        let mut lasts: Vec<&NameInfo> = Vec::new();
        if let Some(f) = &q.first {
            firsts.push(f);
        }
        firsts.extend(q.others.iter());
        if let Some(l) = &q.last {
            lasts.push(l);
            firsts.push(l); // swapped names
        }
        if let Some(f) = &q.first {
            lasts.push(f); // swapped names
        }
        let mut dobs: Vec<u32> = Vec::new();
        if let Some(r) = q.dob_raw {
            dobs.push(r);
        }
        if let Some(d) = q.dob {
            dobs.push(d.packed());
            if let Some(s) = Date::new(d.year(), d.day(), d.month())
                && s != d
            {
                dobs.push(s.packed());
            }
        }
        let mut keys = Vec::with_capacity(64);
        let mut secondary = Vec::new();
        blocking_keys(
            &firsts,
            &lasts,
            &dobs,
            q.postcode.as_deref(),
            q.address.as_ref(),
            true,
            q.first.is_none(),
            &mut keys,
            Some(&mut secondary),
        );
        // Alternate phonetic codes of the query names.
        let alt_first: Vec<NameInfo> = q
            .first
            .iter()
            .filter(|f| f.dm[1] != 0)
            .map(|f| NameInfo {
                dm: [f.dm[1], 0],
                nick: Box::new([]),
                ..f.clone()
            })
            .collect();
        let alt_last: Vec<NameInfo> = q
            .last
            .iter()
            .filter(|l| l.dm[1] != 0)
            .map(|l| NameInfo {
                dm: [l.dm[1], 0],
                tok_dm: Box::new([]),
                nick: Box::new([]),
                ..l.clone()
            })
            .collect();
        if !alt_first.is_empty() || !alt_last.is_empty() {
            let af: Vec<&NameInfo> = alt_first.iter().chain(q.first.iter()).collect();
            let al: Vec<&NameInfo> = alt_last.iter().chain(q.last.iter()).collect();
            let mut more = Vec::new();
            blocking_keys(&af, &al, &dobs, None, None, true, false, &mut more, None);
            keys.extend(more);
            keys.sort_unstable();
            keys.dedup();
        }
        // The DOB-only key is the catch-all for queries whose names are both badly
        // wrong. In a large index it is also the biggest block most queries look up
        // (about N / 6,600 children per birthday), so when the query has both names it
        // is only used while it is small.
        let dob_only: Vec<u64> = if q.first.is_some() && q.last.is_some() {
            dobs.iter().map(|&d| key(K_DOB, u64::from(d), 0)).collect()
        } else {
            Vec::new()
        };
        let mut cands: Vec<u32> = Vec::new();
        secondary.sort_unstable();
        secondary.dedup();
        for k in keys.into_iter().chain(secondary.iter().copied()) {
            let b = self.block(k);
            let d: &[u32] = if self.delta_blocks.is_empty() {
                &[]
            } else {
                self.delta_blocks.get(&k).map_or(&[], Vec::as_slice)
            };
            let cap = if dob_only.contains(&k) || secondary.binary_search(&k).is_ok() {
                MAX_DOB_BLOCK
            } else {
                MAX_BLOCK
            };
            if b.len() + d.len() <= cap {
                cands.extend_from_slice(b);
                cands.extend_from_slice(d);
            }
        }
        cands.sort_unstable();
        cands.dedup();
        if self.n_dead > 0 {
            cands.retain(|&c| !self.dead[c as usize]);
        }
        cands
    }

    /// Candidates from the wide blocks (the query's phonetic surname and forename, and
    /// its date of birth), not already in `normal` (sorted): the members whose
    /// signature agrees with the query's on at least one more field than the block's
    /// own, the best `WIDE_TAKE` of them over all the blocks by `wide_score`. The
    /// fallback for queries whose other keys all carry an error (names misspelt beyond
    /// their sound or first letters, DOB wrong or missing, moved house); a scan of one
    /// block reads only its members and their inline signatures.
    fn wide_candidates(&self, q: &Prepared, normal: &[u32]) -> Vec<u32> {
        let dob = q.dob.map_or(q.dob_raw.unwrap_or(0), |d| d.packed());
        let mut dobs = [dob, 0];
        if let Some(d) = q.dob
            && let Some(s) = Date::new(d.year(), d.day(), d.month())
            && s != d
        {
            dobs[1] = s.packed();
        }
        let mut keys = Vec::with_capacity(8);
        wide_keys(q.first.as_ref(), q.last.as_ref(), &dobs, true, &mut keys);
        if keys.is_empty() {
            return Vec::new();
        }
        let qsig = signature(
            q.first.as_ref(),
            q.last.as_ref(),
            dob,
            q.est,
            match q.gender {
                None => 0,
                Some(Gender::Male) => 1,
                Some(Gender::Female) => 2,
            },
            q.postcode.as_deref(),
            q.address.as_ref(),
        );
        // (score, member) of every member not already a candidate; a member's score
        // counts the block's own field as agreeing, so members of different blocks
        // compete on one scale.
        let mut ranked: Vec<(u32, u32)> = Vec::new();
        for (k, kind) in keys {
            let main = self.wide_block(k);
            let delta: &[(u32, Sig)] = if self.delta_wide.is_empty() {
                &[]
            } else {
                self.delta_wide.get(&k).map_or(&[], Vec::as_slice)
            };
            for &(m, sig) in main.iter().chain(delta).take(WIDE_SCAN_LIMIT) {
                let (sc, own) = wide_score(qsig, sig, kind);
                if sc >= WIDE_MIN_SCORE
                    && normal.binary_search(&m).is_err()
                    && !(self.n_dead > 0 && self.dead[m as usize])
                {
                    ranked.push((sc + own, m));
                }
            }
        }
        ranked.sort_unstable_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)));
        ranked.dedup_by_key(|x| x.1);
        if ranked.len() > WIDE_TAKE {
            ranked.select_nth_unstable_by(WIDE_TAKE - 1, |a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            ranked.truncate(WIDE_TAKE);
        }
        let mut out: Vec<u32> = ranked.into_iter().map(|(_, m)| m).collect();
        out.sort_unstable();
        out
    }

    /// Number of distinct candidates blocking yields for a query (diagnostics).
    /// Wide-block candidates are included as when no ordinary candidate is near-certain.
    pub fn candidate_count(&self, query: &Person) -> usize {
        let q = Prepared::new(query);
        let normal = self.candidates(&q);
        normal.len() + self.wide_candidates(&q, &normal).len()
    }

    /// Diagnostics for a blocking miss: for each of the query's wide blocks, its size,
    /// whether the record with `id` is a member (and at which position) and its
    /// signature score, and how many other members score higher or the same.
    #[doc(hidden)]
    pub fn wide_diagnosis(&self, query: &Person, id: &str) -> String {
        use std::fmt::Write;
        let q = Prepared::new(query);
        let normal = self.candidates(&q);
        let target: Vec<u32> = (0..self.ids.len() as u32)
            .filter(|&i| &*self.ids[i as usize] == id)
            .collect();
        let dob = q.dob.map_or(q.dob_raw.unwrap_or(0), |d| d.packed());
        let mut dobs = [dob, 0];
        if let Some(d) = q.dob
            && let Some(s) = Date::new(d.year(), d.day(), d.month())
            && s != d
        {
            dobs[1] = s.packed();
        }
        let mut keys = Vec::with_capacity(8);
        wide_keys(q.first.as_ref(), q.last.as_ref(), &dobs, true, &mut keys);
        let g = match q.gender {
            None => 0,
            Some(Gender::Male) => 1,
            Some(Gender::Female) => 2,
        };
        let qsig = signature(
            q.first.as_ref(),
            q.last.as_ref(),
            dob,
            q.est,
            g,
            q.postcode.as_deref(),
            q.address.as_ref(),
        );
        let mut out = String::new();
        let _ = write!(out, "normal {} wide-keys {}", normal.len(), keys.len());
        let mut best: FxHashMap<u32, u32> = FxHashMap::default();
        let mut tscore = 0;
        for (k, kind) in keys {
            let b = self.wide_block(k);
            let pos = b.iter().position(|x| target.contains(&x.0));
            let ts = pos.map(|p| {
                let (a, o) = wide_score(qsig, b[p].1, kind);
                a + o
            });
            let _ = write!(out, " | {kind:?} size {} pos {pos:?} score {ts:?}", b.len());
            if let Some(t) = ts {
                tscore = tscore.max(t);
            }
            for &(m, sig) in b.iter().take(WIDE_SCAN_LIMIT) {
                let (sc, own) = wide_score(qsig, sig, kind);
                if sc >= WIDE_MIN_SCORE && normal.binary_search(&m).is_err() {
                    let e = best.entry(m).or_insert(0);
                    *e = (*e).max(sc + own);
                }
            }
        }
        let higher = best
            .iter()
            .filter(|&(m, &s)| s > tscore && !target.contains(m))
            .count();
        let equal = best
            .iter()
            .filter(|&(m, &s)| s == tscore && !target.contains(m))
            .count();
        let _ = write!(
            out,
            " || ranked {} higher {higher} equal {equal}",
            best.len()
        );
        out
    }

    /// Term-frequency u of exact agreement on the query's forename and surname: the
    /// name's share of the index, bounded to within `TF_MAX_BITS` of the field's
    /// average exact-agreement u, so one unusual spelling (often itself a recording
    /// error) cannot outweigh everything else, and a very common name still counts.
    fn query_tf(&self, q: &Prepared) -> QueryTf<'_> {
        let look = |n: &Option<NameInfo>, slot: usize, field: usize| -> Option<f64> {
            let n = n.as_ref()?;
            let c = self.tf.get(&n.compact).map_or(0, |v| v[slot]);
            let u = f64::from(c.max(1)) / self.n_eff;
            let avg = self.model.params.u[field][0];
            let r = TF_MAX_BITS.exp2();
            Some(u.clamp(avg / r, (avg * r).min(1.0)))
        };
        QueryTf {
            f: look(&q.first, 0, crate::compare::FORENAME),
            s: look(&q.last, 1, crate::compare::SURNAME),
            index: self,
        }
    }

    /// A forename seen at least this often in the index is an established name.
    fn established_count(&self) -> f64 {
        (self.len() as f64 * ESTABLISHED_SHARE).max(ESTABLISHED_MIN)
    }

    /// Search for a person: at most `top_k` candidates with score >= `threshold`,
    /// best first.
    pub fn search(&self, query: &Person, top_k: usize, threshold: f64) -> Vec<Candidate> {
        self.search_prepared(&Prepared::new(query), top_k, threshold)
    }

    pub fn search_prepared(&self, q: &Prepared, top_k: usize, threshold: f64) -> Vec<Candidate> {
        self.search_prepared_with(q, top_k, threshold, true)
    }

    /// `search_prepared`; without `values` the explanation rows carry no compared
    /// values (`ehm match` without `--explain` prints only the scores).
    pub(crate) fn search_prepared_with(
        &self,
        q: &Prepared,
        top_k: usize,
        threshold: f64,
        values: bool,
    ) -> Vec<Candidate> {
        if top_k == 0 {
            return Vec::new();
        }
        let others: Vec<&NameInfo> = q.others.iter().collect();
        let qs = q.side(&others);
        let prior = self.prior();
        // Keep weak candidates too: they may compete with stronger ones.
        let scored = self.scored_candidates(q, &qs, logit2(threshold).min(-10.0));
        self.rank(&qs, scored, prior, top_k, threshold, values)
    }

    /// The candidates of a query from their log2 odds: competition between different
    /// people, the threshold, the best `top_k`, and their explanations.
    fn rank(
        &self,
        qs: &Side<'_>,
        mut scored: Vec<(f64, u32, Comparison)>,
        prior: f64,
        top_k: usize,
        threshold: f64,
        values: bool,
    ) -> Vec<Candidate> {
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        // A query is one person: candidates that are clearly different people from each
        // other compete for the same probability mass (twins when the query lacks a
        // forename, two namesakes born the same day). Candidates that look like
        // duplicates of one another do not compete.
        let top: Vec<(f64, u32, Comparison)> =
            scored.iter().take(EXCLUSIVE_CANDIDATES).cloned().collect();
        // Each unordered pair of the top candidates is compared once: `same[i][j]` is
        // the probability that records i and j are one person.
        let mut same = [[1.0f64; EXCLUSIVE_CANDIDATES]; EXCLUSIVE_CANDIDATES];
        // Twins (or siblings born the same day) whom the query's forename and sex do not
        // tell apart: their records' household fields (a postcode recorded for one and
        // not the other) are not evidence for either child, so each competes with the
        // other at least as strongly as it is itself supported.
        let mut tied = [[false; EXCLUSIVE_CANDIDATES]; EXCLUSIVE_CANDIDATES];
        for i in 0..top.len() {
            for j in i + 1..top.len() {
                let (q, twins) = self.same_person(top[i].1, top[j].1);
                same[i][j] = q;
                same[j][i] = q;
                let (a, b) = (&top[i].2, &top[j].2);
                let t = twins
                    && a.levels[crate::compare::FORENAME] == b.levels[crate::compare::FORENAME]
                    && a.levels[crate::compare::GENDER] == b.levels[crate::compare::GENDER];
                tied[i][j] = t;
                tied[j][i] = t;
            }
        }
        let mut out: Vec<(f64, u32, Comparison, f64)> = Vec::with_capacity(scored.len());
        for (i, (lo, c, cmp)) in scored.into_iter().enumerate() {
            let odds = lo.exp2();
            // Another candidate's odds compete in proportion to the probability that it
            // is a different person from this one.
            let mut rivals = 0.0;
            if i < EXCLUSIVE_CANDIDATES {
                for (j, (lo2, _, _)) in top.iter().enumerate() {
                    if tied[i][j] {
                        rivals += lo2.max(lo).exp2();
                    } else if j != i && *lo2 > lo - 12.0 {
                        rivals += (1.0 - same[i][j]) * lo2.exp2();
                    }
                }
            }
            let p = if rivals > 0.0 {
                odds / (1.0 + odds + rivals)
            } else {
                probability(lo)
            };
            if p >= threshold {
                out.push((lo, c, cmp, p));
            }
        }
        out.sort_by(|a, b| b.3.total_cmp(&a.3).then(a.1.cmp(&b.1)));
        out.truncate(top_k);
        let qv = if values && !out.is_empty() {
            Some(crate::explain::side_values(qs))
        } else {
            None
        };
        out.into_iter()
            .map(|(lo, c, cmp, p)| {
                let mut explanation = explain(&cmp, prior, self.ceiling(&cmp));
                if let Some(qv) = &qv {
                    self.with_side(c as usize, |r| {
                        crate::explain::fill_values(&mut explanation, qv, r)
                    });
                }
                if p < probability(lo) {
                    explanation.push(FieldComparison {
                        field: "competing_candidates",
                        level: "other_distinct_people_match",
                        weight: logit2(p) - lo,
                        values: None,
                    });
                }
                Candidate {
                    person_id: self.ids[c as usize].to_string(),
                    score: p,
                    explanation,
                }
            })
            .collect()
    }

    /// Every candidate of a query with its final log2 odds (after the sibling guard) of
    /// at least `floor`, unsorted: the ordinary blocks, and the wide blocks unless an
    /// ordinary candidate is near-certain.
    fn scored_candidates(
        &self,
        q: &Prepared,
        qs: &Side<'_>,
        floor: f64,
    ) -> Vec<(f64, u32, Comparison)> {
        let tf = self.query_tf(q);
        let prior = self.prior();
        let mut scored: Vec<(f64, u32, Comparison)> = Vec::new();
        let normal = self.candidates(q);
        let mut best = f64::NEG_INFINITY;
        let mut score = |c: u32, scored: &mut Vec<(f64, u32, Comparison)>| {
            let cmp = self.with_side(c as usize, |r| compare(qs, r, &self.weights, &tf));
            let lo = cmp.log_odds_ceiling(prior, self.ceiling(&cmp));
            best = best.max(lo);
            if lo >= floor {
                scored.push((lo, c, cmp));
            }
            best
        };
        let mut top = f64::NEG_INFINITY;
        for &c in &normal {
            top = score(c, &mut scored);
        }
        // Fallback for queries with two or more errors: rank the wide blocks.
        if top < WIDE_SKIP_LOG_ODDS {
            for c in self.wide_candidates(q, &normal) {
                score(c, &mut scored);
            }
        }
        scored
    }

    /// Ids of every candidate `search` scores for a query (for measuring blocking recall).
    pub fn candidate_ids(&self, query: &Person) -> Vec<&str> {
        let q = Prepared::new(query);
        let others: Vec<&NameInfo> = q.others.iter().collect();
        let qs = q.side(&others);
        self.scored_candidates(&q, &qs, f64::NEG_INFINITY)
            .into_iter()
            .map(|(_, c, _)| &*self.ids[c as usize])
            .collect()
    }

    /// Probability that two indexed records are one person: their mutual comparison
    /// with the prior odds that two given records of the index are duplicates,
    /// `DUPLICATE_SHARE / N_eff` (not the query prior: a query is looked up because it is
    /// probably on record, two index records are probably two people). Zero when the
    /// sibling guard applies between them (the same household but different forenames:
    /// a brother or sister, twins above all) or their forenames are two different
    /// established names (Ava / Eva). Two namesakes born years apart therefore compete
    /// for a query; a record and its duplicate do not. The flag says whether they look
    /// like twins: the sibling guard applies, they were born the same day and share a
    /// surname and a postcode or address.
    fn same_person(&self, a: u32, b: u32) -> (f64, bool) {
        let tf = QueryTf {
            f: None,
            s: None,
            index: self,
        };
        let cmp = self.with_side(a as usize, |x| {
            self.with_side(b as usize, |y| compare(x, y, &self.weights, &tf))
        });
        if cmp.forenames_established || cmp.conflict().is_some() {
            use crate::compare::{ADDRESS, DOB, POSTCODE, SURNAME, level::*};
            let l = cmp.levels;
            let twins = cmp.conflict().is_some()
                && l[DOB] == D_EXACT
                && l[SURNAME] < S_DISAGREE
                && (l[POSTCODE] == P_EXACT || l[ADDRESS] == A_EXACT || l[ADDRESS] == A_SIMILAR);
            return (0.0, twins);
        }
        let prior = (DUPLICATE_SHARE / (1.0 - DUPLICATE_SHARE)).log2() - self.n_eff.log2();
        (probability(prior + cmp.sum()), false)
    }

    /// Comparison-level vectors of (query, candidate) pairs produced by blocking.
    pub fn candidate_vectors(&self, queries: &[Person], max_per_query: usize) -> Vec<[u8; NF]> {
        queries
            .par_iter()
            .flat_map_iter(|p| {
                let q = Prepared::new(p);
                let others: Vec<&NameInfo> = q.others.iter().collect();
                let qs = q.side(&others);
                let mut v = Vec::new();
                for c in self.candidates(&q).into_iter().take(max_per_query) {
                    if self.ids[c as usize].as_ref() == p.id {
                        continue;
                    }
                    let cmp = self.with_side(c as usize, |r| compare(&qs, r, &self.weights, &NoTf));
                    v.push(cmp.levels);
                }
                v
            })
            .collect()
    }
}

fn explain(cmp: &Comparison, prior: f64, ceiling: f64) -> Vec<FieldComparison> {
    let mut out = Vec::with_capacity(NF + 3);
    out.push(FieldComparison {
        field: "prior",
        level: "one_in_index_size",
        weight: prior,
        values: None,
    });
    for f in 0..NF {
        let l = cmp.levels[f];
        out.push(FieldComparison {
            field: FIELD_NAMES[f],
            level: if l == NULL {
                "missing"
            } else {
                LEVEL_NAMES[f][l as usize]
            },
            weight: cmp.weights[f],
            values: None,
        });
    }
    if cmp.swapped {
        out.push(FieldComparison {
            field: "name_order",
            level: "first_and_last_swapped",
            weight: -crate::compare::SWAP_PENALTY,
            values: None,
        });
    }
    if let Some(reason) = cmp.conflict() {
        let raw = prior + cmp.sum();
        let capped = cmp.log_odds_ceiling(prior, ceiling);
        out.push(FieldComparison {
            field: "sibling_guard",
            level: reason,
            weight: capped - raw,
            values: None,
        });
    }
    out
}

/// Score a pair of persons without an index (no term-frequency adjustment), with the
/// given parameters and prior log2 odds. Symmetric in `a` and `b`.
pub fn score_pair(
    params: &Params,
    prior: f64,
    a: &Person,
    b: &Person,
) -> (f64, Vec<FieldComparison>) {
    let (qa, qb) = (Prepared::new(a), Prepared::new(b));
    let (oa, ob): (Vec<&NameInfo>, Vec<&NameInfo>) =
        (qa.others.iter().collect(), qb.others.iter().collect());
    let (sa, sb) = (qa.side(&oa), qb.side(&ob));
    let cmp = compare(&sa, &sb, &params.weights(), &NoTf);
    let mut e = explain(&cmp, prior, crate::compare::CONFLICT_CEILING);
    crate::explain::fill_values(&mut e, &crate::explain::side_values(&sa), &sb);
    (probability(cmp.log_odds(prior)), e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::Generator;

    #[test]
    fn a_comparison_rescored_for_other_weights_is_the_comparison_made_with_them() {
        let mut g = Generator::new(3);
        let (persons, queries, _) = g.scenario(3000, 600);
        let index = Index::build(persons);
        let w0 = Params::default().weights();
        // Very different weights, so that swap decisions change.
        let mut p1 = index.params().clone();
        for f in 0..NF {
            p1.m[f].reverse();
        }
        let w1 = p1.weights();
        let mut n = 0;
        for q in &queries {
            let q = Prepared::new(&q.person);
            let others: Vec<&NameInfo> = q.others.iter().collect();
            let qs = q.side(&others);
            let tf = index.query_tf(&q);
            let normal = index.candidates(&q);
            let wide = index.wide_candidates(&q, &normal);
            for c in normal.into_iter().chain(wide) {
                let mut a = index.with_side(c as usize, |r| compare(&qs, r, &w0, &tf));
                let b = index.with_side(c as usize, |r| compare(&qs, r, &w1, &tf));
                a.rescore(&w1);
                assert_eq!(a, b);
                n += 1;
            }
        }
        assert!(n > 2_000, "{n}");
    }
}
