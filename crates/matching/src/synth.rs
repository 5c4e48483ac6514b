//! Synthetic population and query generator for the benchmark, and the benchmark
//! itself. Frequencies are invented aggregates (see data/NICKNAMES_LICENSE.md); every
//! person and address is fictional.

use crate::cli::{BenchMatchArgs, MatchArgs};
use crate::index::{Index, Rng};
use crate::model::{Date, Gender, Person};
use crate::normalize::{Nicknames, double_metaphone, fold, phonetic_equal};
use std::io::Write;
use std::time::Instant;

struct Table {
    names: Vec<String>,
    cum: Vec<f64>,
}

impl Table {
    fn from_csv(src: &str) -> Table {
        let mut names = Vec::new();
        let mut cum = Vec::new();
        let mut t = 0.0;
        for line in src.lines().skip(1) {
            let Some((n, w)) = line.split_once(',') else {
                continue;
            };
            t += w.trim().parse::<f64>().unwrap_or(1.0);
            names.push(n.trim().to_string());
            cum.push(t);
        }
        Table { names, cum }
    }
    /// Invented long-tail names from syllables, Zipf-like weights.
    fn invented(prefixes: &[&str], suffixes: &[&str]) -> Table {
        let mut names = Vec::new();
        let mut cum = Vec::new();
        let mut t = 0.0;
        let mut k: f64 = 1.0;
        for p in prefixes {
            for s in suffixes {
                names.push(format!("{p}{s}"));
                t += 1.0 / k.powf(0.7);
                k += 1.0;
                cum.push(t);
            }
        }
        Table { names, cum }
    }
    fn pick(&self, rng: &mut Rng) -> &str {
        let x = rng.f64() * self.cum.last().copied().unwrap_or(1.0);
        let i = self
            .cum
            .partition_point(|&c| c < x)
            .min(self.names.len() - 1);
        &self.names[i]
    }
}

/// The synthetic population generator.
pub struct Generator {
    boys: Table,
    girls: Table,
    surnames: Table,
    tail_fore: Table,
    tail_sur: Table,
    streets: Vec<String>,
    /// Reference "today" (day number).
    today: i64,
    rng: Rng,
}

/// A generated query with its truth.
pub struct Query {
    pub person: Person,
    /// Id of the indexed person this query is about, if any.
    pub truth: Option<String>,
    /// Id of the query person's twin in the index, if any.
    pub twin: Option<String>,
}

const AREAS: &[&str] = &[
    "LS", "M", "B", "S", "BD", "NE", "L", "HX", "WF", "HD", "YO", "HU", "DN", "SK", "OL",
];

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator {
            boys: Table::from_csv(include_str!("../data/forenames_boys.csv")),
            girls: Table::from_csv(include_str!("../data/forenames_girls.csv")),
            surnames: Table::from_csv(include_str!("../data/surnames.csv")),
            tail_fore: Table::invented(
                &[
                    "A", "Ka", "Le", "Ma", "Na", "Ri", "Sa", "Ta", "Za", "Ja", "Ro", "Ha", "Ev",
                    "El", "Is", "Ar", "Bel", "Cor", "Dar", "Fen",
                ],
                &[
                    "ya", "ra", "den", "lan", "na", "ley", "via", "mir", "ron", "lia", "son",
                    "die", "lo", "ri", "nah",
                ],
            ),
            tail_sur: Table::invented(
                &[
                    "Ash", "Brad", "Chal", "Dun", "Els", "Fair", "Gold", "Hal", "Kil", "Lang",
                    "Mar", "Nor", "Pen", "Red", "Shel", "Thorn", "Wes", "Wyn", "Hart", "Black",
                    "Brook", "Cross", "Hol", "Mor", "Stan", "Win", "Ald", "Bar", "Cal", "Dal",
                    "Fern", "Grim", "Hay", "Ing", "Kirk", "Lind", "Mel", "Oak", "Rad", "Sel",
                ],
                &[
                    "ford", "ton", "ley", "by", "well", "wood", "field", "worth", "ham", "combe",
                    "ridge", "stone", "man", "son", "er", "bury", "dale", "more", "croft", "hurst",
                    "wick", "thorpe", "shaw", "gate", "low",
                ],
            ),
            streets: include_str!("../data/streets.csv")
                .lines()
                .skip(1)
                .map(str::to_string)
                .collect(),
            today: Date::new(2025, 6, 30).map_or(0, |d| d.day_number()),
            rng: Rng(seed),
        }
    }

    fn forename(&mut self, g: Gender) -> String {
        if self.rng.f64() < 0.22 {
            let mut rng = self.rng.clone();
            let n = self.tail_fore.pick(&mut rng).to_string();
            self.rng = rng;
            return n;
        }
        let mut rng = self.rng.clone();
        let n = match g {
            Gender::Male => self.boys.pick(&mut rng),
            Gender::Female => self.girls.pick(&mut rng),
        }
        .to_string();
        self.rng = rng;
        n
    }

    fn surname(&mut self) -> String {
        let mut rng = self.rng.clone();
        let one = |rng: &mut Rng| -> String {
            if rng.f64() < 0.45 {
                self.tail_sur.pick(rng).to_string()
            } else {
                self.surnames.pick(rng).to_string()
            }
        };
        let s = if rng.f64() < 0.06 {
            format!("{}-{}", one(&mut rng), one(&mut rng))
        } else {
            one(&mut rng)
        };
        self.rng = rng;
        s
    }

    fn dob(&mut self) -> Date {
        // Children aged 0-18, slightly more younger children (as referrals are).
        let age_days = (self.rng.f64().powf(1.15) * 18.99 * 365.25) as i64;
        Date::from_day_number(self.today - age_days)
    }

    fn postcode(&mut self, n_districts: u64) -> String {
        let area = AREAS[self.rng.below(AREAS.len() as u64) as usize];
        let district = 1 + self.rng.below(n_districts);
        let sector = self.rng.below(10);
        let l = |r: &mut Rng| (b'A' + r.below(26) as u8) as char;
        let (a, b) = (l(&mut self.rng), l(&mut self.rng));
        format!("{area}{district} {sector}{a}{b}")
    }

    /// A population of `n` children in households (siblings share surname, address and
    /// postcode; about 1.5% of births are twins). Returns persons and twin pairs.
    pub fn population(&mut self, n: usize) -> (Vec<Person>, Vec<(usize, usize)>) {
        let mut out: Vec<Person> = Vec::with_capacity(n);
        let mut twins = Vec::new();
        let districts = ((n / 2000) as u64).clamp(5, 40);
        while out.len() < n {
            let surname = self.surname();
            let postcode = self.postcode(districts);
            let street = self.streets[self.rng.below(self.streets.len() as u64) as usize].clone();
            let address = format!("{} {}", 1 + self.rng.below(180), street);
            let kids = 1 + self.rng.below(3) as usize;
            // Parents do not give two of their children the same (or a sound-alike) name.
            let mut firsts: Vec<String> = Vec::new();
            for _ in 0..kids {
                if out.len() >= n {
                    break;
                }
                let twin = out.len() + 1 < n && self.rng.f64() < 0.015;
                let dob = self.dob();
                let births = if twin { 2 } else { 1 };
                for _ in 0..births {
                    let g = if self.rng.f64() < 0.5 {
                        Gender::Male
                    } else {
                        Gender::Female
                    };
                    let mut f = self.forename(g);
                    while firsts.iter().any(|o| {
                        phonetic_equal(double_metaphone(&fold(o)), double_metaphone(&fold(&f)))
                            || strsim::jaro_winkler(&fold(o), &fold(&f)) >= 0.85
                            || crate::normalize::share_group(
                                Nicknames::get().groups(&fold(o).replace(' ', "")),
                                Nicknames::get().groups(&fold(&f).replace(' ', "")),
                            )
                    }) {
                        f = self.forename(g);
                    }
                    firsts.push(f.clone());
                    let mut p = Person::new(format!("P{:07}", out.len() + 1));
                    p.first_name = Some(f);
                    if self.rng.f64() < 0.3 {
                        // A middle name is not a sibling's first name.
                        let m = self.forename(g);
                        if !firsts.iter().any(|o| fold(o) == fold(&m)) {
                            firsts.push(m.clone());
                            p.other_names.push(m);
                        }
                    }
                    // A child's surname occasionally differs from the household's.
                    p.last_name = Some(if self.rng.f64() < 0.08 {
                        self.surname()
                    } else {
                        surname.clone()
                    });
                    p.dob = Some(dob);
                    p.dob_estimated = self.rng.f64() < 0.01;
                    p.gender = if self.rng.f64() < 0.97 { Some(g) } else { None };
                    p.postcode = (self.rng.f64() < 0.93).then(|| postcode.clone());
                    p.address = (self.rng.f64() < 0.85).then(|| address.clone());
                    out.push(p);
                }
                if twin {
                    twins.push((out.len() - 2, out.len() - 1));
                }
            }
        }
        (out, twins)
    }

    fn typo(&mut self, s: &str) -> String {
        let mut c: Vec<char> = s.chars().collect();
        if c.len() < 3 {
            return s.to_string();
        }
        let i = 1 + self.rng.below(c.len() as u64 - 1) as usize;
        let letter = (b'a' + self.rng.below(26) as u8) as char;
        match self.rng.below(4) {
            0 => c[i] = letter,
            1 => {
                c.remove(i);
            }
            2 => c.insert(i, letter),
            _ => {
                if i + 1 < c.len() {
                    c.swap(i, i + 1);
                } else {
                    c.swap(i - 1, i);
                }
            }
        }
        c.into_iter().collect()
    }

    fn nickname_of(&mut self, name: &str) -> Option<String> {
        let nick = Nicknames::get();
        let key = fold(name).replace(' ', "");
        let groups = nick.groups(&key);
        if groups.is_empty() {
            return None;
        }
        // Any other name sharing a group.
        let canon = nick.canonical_names(&key);
        let mut variants: Vec<String> = canon
            .iter()
            .map(|s| s.to_string())
            .filter(|s| *s != key)
            .collect();
        for line in include_str!("../data/nicknames.csv")
            .lines()
            .chain(include_str!("../data/nicknames_uk.csv").lines())
        {
            let parts: Vec<&str> = line.split(',').collect();
            if parts.len() == 3 && canon.contains(&parts[0]) && parts[2] != key {
                variants.push(parts[2].to_string());
            }
        }
        if variants.is_empty() {
            return None;
        }
        let v = &variants[self.rng.below(variants.len() as u64) as usize];
        let mut cs = v.chars();
        Some(
            cs.next()
                .map(|f| f.to_ascii_uppercase().to_string() + cs.as_str())
                .unwrap_or_default(),
        )
    }

    /// A query about `p` with realistic recording errors.
    pub fn corrupt(&mut self, p: &Person, districts: u64) -> Person {
        let mut q = p.clone();
        q.id = format!("Q-{}", p.id);
        let r = self.rng.f64();
        if let Some(f) = q.first_name.clone() {
            q.first_name = if r < 0.10 {
                Some(self.typo(&f))
            } else if r < 0.18 {
                Some(self.nickname_of(&f).unwrap_or(f))
            } else if r < 0.20 {
                Some(f[..1].to_string())
            } else if r < 0.22 {
                None
            } else if r < 0.24 && !q.other_names.is_empty() {
                Some(q.other_names.remove(0))
            } else {
                Some(f)
            };
        }
        if self.rng.f64() < 0.5 {
            q.other_names.clear();
        }
        let r = self.rng.f64();
        if let Some(l) = q.last_name.clone() {
            q.last_name = if r < 0.08 {
                Some(self.typo(&l))
            } else if r < 0.13 {
                Some(match l.split_once('-') {
                    Some((a, b)) => match self.rng.below(3) {
                        0 => a.to_string(),
                        1 => b.to_string(),
                        _ => format!("{a} {b}"),
                    },
                    None => format!("{l}-{}", self.surname()),
                })
            } else if r < 0.15 {
                None
            } else {
                Some(l)
            };
        }
        if self.rng.f64() < 0.03 {
            std::mem::swap(&mut q.first_name, &mut q.last_name);
        }
        if self.rng.f64() < 0.02 {
            q.first_name = q.first_name.map(|s| s.to_uppercase());
            q.last_name = q.last_name.map(|s| s.to_uppercase());
        }
        if let Some(d) = q.dob {
            let r = self.rng.f64();
            q.dob = if r < 0.03 {
                Some(Date::new(d.year(), d.day(), d.month()).unwrap_or(d))
            } else if r < 0.07 {
                let s = format!("{:08}", d.packed());
                let mut b = s.into_bytes();
                let i = [3usize, 5, 6, 7][self.rng.below(4) as usize];
                b[i] = b'0' + self.rng.below(10) as u8;
                let p = String::from_utf8(b)
                    .unwrap_or_default()
                    .parse::<u32>()
                    .unwrap_or(0);
                Some(Date::from_packed(p).unwrap_or(d))
            } else if r < 0.12 {
                None
            } else if r < 0.15 {
                q.dob_estimated = true;
                let shift = self.rng.below(2 * 730 + 1) as i64 - 730;
                Some(Date::from_day_number(d.day_number() + shift))
            } else {
                Some(d)
            };
        }
        let r = self.rng.f64();
        if r < 0.2 {
            q.gender = None;
        } else if r < 0.21 {
            q.gender = q.gender.map(|g| {
                if g == Gender::Male {
                    Gender::Female
                } else {
                    Gender::Male
                }
            });
        }
        let r = self.rng.f64();
        if r < 0.3 {
            q.postcode = None;
            q.address = None;
        } else if r < 0.45 {
            q.postcode = Some(self.postcode(districts));
            let street = self.streets[self.rng.below(self.streets.len() as u64) as usize].clone();
            q.address = Some(format!("{} {}", 1 + self.rng.below(180), street));
        } else if r < 0.48 {
            q.postcode = q.postcode.map(|p| self.typo(&p).to_uppercase());
        }
        if self.rng.f64() < 0.3 {
            q.address = None;
        }
        q
    }

    /// Index and queries: `n_queries` of which ~80% concern indexed people (a tenth of
    /// those are twins) and ~20% people who are not in the index.
    pub fn scenario(
        &mut self,
        n_persons: usize,
        n_queries: usize,
    ) -> (Vec<Person>, Vec<Query>, usize) {
        let n_absent = n_queries / 5;
        let (mut all, twins) = self.population(n_persons + n_absent);
        // The last `n_absent` generated people are not indexed (whole households may be split,
        // which is realistic: a sibling may be known while the referred child is not).
        let absent: Vec<Person> = all.split_off(n_persons);
        let districts = ((n_persons + n_absent) as u64 / 2000).clamp(5, 40);
        let mut twin_of = vec![usize::MAX; all.len()];
        let mut twin_list = Vec::new();
        for &(a, b) in &twins {
            if b < all.len() {
                twin_of[a] = b;
                twin_of[b] = a;
                twin_list.push(a);
                twin_list.push(b);
            }
        }
        let mut queries = Vec::with_capacity(n_queries);
        let n_present = n_queries - n_absent;
        for k in 0..n_present {
            let i = if k % 10 == 0 && !twin_list.is_empty() {
                twin_list[self.rng.below(twin_list.len() as u64) as usize]
            } else {
                self.rng.below(all.len() as u64) as usize
            };
            let person = self.corrupt(&all[i], districts);
            queries.push(Query {
                person,
                truth: Some(all[i].id.clone()),
                twin: (twin_of[i] != usize::MAX).then(|| all[twin_of[i]].id.clone()),
            });
        }
        for p in absent.iter().take(n_absent) {
            let person = self.corrupt(p, districts);
            // An absent person's twin may be indexed; merging them is a twin merge too.
            queries.push(Query {
                person,
                truth: None,
                twin: None,
            });
        }
        let n_twin_pairs = twin_list.len() / 2;
        (all, queries, n_twin_pairs)
    }
}

/// CPU time of the calling thread in nanoseconds, excluding time spent waiting for a
/// core on a shared machine.
fn thread_cpu_ns() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes into the timespec we pass.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// CPU time of the whole process (all threads) in seconds.
fn process_cpu_s() -> Option<f64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes into the timespec we pass.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9)
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Accuracy at one threshold over (query, candidate, score) results.
#[derive(Clone, Copy, Debug, Default)]
pub struct Accuracy {
    pub threshold: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub twins_merged: usize,
}

/// Precision/recall/F1 at every distinct score threshold; returns the best by F1.
pub fn evaluate(queries: &[Query], results: &[Vec<(String, f64)>]) -> (Accuracy, Vec<Accuracy>) {
    let positives = queries.iter().filter(|q| q.truth.is_some()).count();
    // (score, is_true, is_twin)
    let mut preds: Vec<(f64, bool, bool)> = Vec::new();
    for (q, res) in queries.iter().zip(results) {
        for (id, s) in res {
            let t = q.truth.as_deref() == Some(id.as_str());
            let tw = q.twin.as_deref() == Some(id.as_str());
            preds.push((*s, t, tw));
        }
    }
    preds.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut best = Accuracy::default();
    let mut curve = Vec::new();
    let (mut tp, mut fp, mut tw) = (0usize, 0usize, 0usize);
    let mut i = 0;
    while i < preds.len() {
        let s = preds[i].0;
        while i < preds.len() && preds[i].0 == s {
            if preds[i].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            if preds[i].2 {
                tw += 1;
            }
            i += 1;
        }
        let precision = tp as f64 / (tp + fp).max(1) as f64;
        let recall = tp as f64 / positives.max(1) as f64;
        let f1 = if tp == 0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        let a = Accuracy {
            threshold: s,
            precision,
            recall,
            f1,
            twins_merged: tw,
        };
        if f1 > best.f1 {
            best = a;
        }
        curve.push(a);
    }
    (best, curve)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub fn bench(args: &BenchMatchArgs, out: &mut dyn Write) -> std::io::Result<()> {
    let mut g = Generator::new(args.seed);
    let t = Instant::now();
    let (persons, queries, n_twins) = g.scenario(args.persons, args.queries);
    writeln!(
        out,
        "generated {} persons ({} twin pairs) and {} queries in {:.2} s",
        persons.len(),
        n_twins,
        queries.len(),
        t.elapsed().as_secs_f64()
    )?;
    let rss_before = rss_kib("VmRSS:");
    // Indexed persons to update in the delta benchmark (a spread sample).
    let persons_sample: Vec<Person> = if args.delta > 0 && !persons.is_empty() {
        (0..args.delta / 2)
            .map(|k| persons[(k * 7919) % persons.len()].clone())
            .collect()
    } else {
        Vec::new()
    };
    let t = Instant::now();
    let cpu0 = process_cpu_s();
    let index = Index::build(persons);
    let build = t.elapsed().as_secs_f64();
    let cpu = match (cpu0, process_cpu_s()) {
        (Some(a), Some(b)) => format!(", {:.2} s CPU over all threads", b - a),
        _ => String::new(),
    };
    let rss = rss_kib("VmRSS:");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    writeln!(
        out,
        "index build: {build:.2} s wall{cpu} for {} persons (load average {})",
        index.len(),
        load.split_whitespace().next().unwrap_or("?")
    )?;
    writeln!(
        out,
        "memory: VmRSS {:.0} MiB after build ({:.0} MiB before build, peak VmHWM {:.0} MiB)",
        rss as f64 / 1024.0,
        rss_before as f64 / 1024.0,
        rss_kib("VmHWM:") as f64 / 1024.0
    )?;
    // The portal's periodic fit: m, u and the match share learnt from the queries.
    let mut index = index;
    let t = Instant::now();
    let qp: Vec<Person> = queries.iter().map(|q| q.person.clone()).collect();
    let model = index.fit(&qp, &crate::fit::FitOptions::default());
    writeln!(
        out,
        "fit: {:.2} s on {} queries ({} candidate pairs, {} EM iterations), match share {:.3}",
        t.elapsed().as_secs_f64(),
        qp.len(),
        model.fit.as_ref().map_or(0, |f| f.pairs),
        model.fit.as_ref().map_or(0, |f| f.iterations),
        model.match_share
    )?;
    index.set_model(model);
    let with_truth: Vec<&Query> = queries.iter().filter(|q| q.truth.is_some()).collect();
    let found = with_truth
        .iter()
        .filter(|q| {
            let t = q.truth.as_deref().unwrap_or_default();
            index.candidate_ids(&q.person).contains(&t)
        })
        .count();
    writeln!(
        out,
        "pairs completeness (true record among the candidates): {:.4} ({} of {} queries with a true record missed)",
        found as f64 / with_truth.len().max(1) as f64,
        with_truth.len() - found,
        with_truth.len()
    )?;
    time_queries(&index, &queries, out)?;
    if args.delta > 0 {
        // Updates as the portal makes them: changed versions of indexed children (a new
        // address and postcode) and new children, all in the delta overlay.
        let mut g2 = Generator::new(args.seed ^ 0xDE17A);
        let (fresh, _) = g2.population(args.delta - args.delta / 2);
        let (movers, _) = g2.population(persons_sample.len());
        let mut upserts: Vec<Person> = Vec::with_capacity(args.delta);
        for (p, m) in persons_sample.iter().zip(movers) {
            let mut p = p.clone();
            p.postcode = m.postcode;
            p.address = m.address;
            upserts.push(p);
        }
        for (k, mut p) in fresh.into_iter().enumerate() {
            p.id = format!("NEW{k:07}");
            upserts.push(p);
        }
        let t = Instant::now();
        for p in &upserts {
            index.upsert(p);
        }
        writeln!(
            out,
            "delta overlay: {} upserts in {:.3} s ({} records in the overlay, {} of them replacing indexed ones)",
            upserts.len(),
            t.elapsed().as_secs_f64(),
            index.delta_len(),
            persons_sample.len()
        )?;
        time_queries(&index, &queries, out)?;
    }
    if args.end_to_end {
        end_to_end(args.seed, out)?;
    }
    Ok(())
}

/// Time the queries one by one (CPU and wall) and report accuracy.
fn time_queries(index: &Index, queries: &[Query], out: &mut dyn Write) -> std::io::Result<()> {
    let mut lat = Vec::with_capacity(queries.len());
    let mut cpu = Vec::with_capacity(queries.len());
    let mut results: Vec<Vec<(String, f64)>> = Vec::with_capacity(queries.len());
    for q in queries {
        let c0 = thread_cpu_ns();
        let t = Instant::now();
        let c = index.search(&q.person, 5, 0.0001);
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        if let (Some(a), Some(b)) = (c0, thread_cpu_ns()) {
            cpu.push(b.saturating_sub(a) as f64 / 1e6);
        }
        results.push(c.into_iter().map(|c| (c.person_id, c.score)).collect());
    }
    lat.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    writeln!(
        out,
        "query CPU time (excludes waiting for a core; load average {}): p50 {:.3} ms, p99 {:.3} ms",
        load.split_whitespace().next().unwrap_or("?"),
        percentile(&cpu, 0.5),
        percentile(&cpu, 0.99)
    )?;
    writeln!(
        out,
        "query latency (single thread, {} queries): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(0.0)
    )?;
    let (best, curve) = evaluate(queries, &results);
    writeln!(
        out,
        "best threshold {:.4}: precision {:.4}, recall {:.4}, F1 {:.4}, twin pairs merged {}",
        best.threshold, best.precision, best.recall, best.f1, best.twins_merged
    )?;
    if let Some(a) = curve.iter().rev().find(|a| a.threshold >= 0.5) {
        writeln!(
            out,
            "at threshold 0.5: precision {:.4}, recall {:.4}, F1 {:.4}, twin pairs merged {}",
            a.precision, a.recall, a.f1, a.twins_merged
        )?;
    }
    Ok(())
}

/// Write persons in the `ehm match` CSV format, with an `other_names` column.
pub fn write_csv(path: &std::path::Path, persons: &[Person]) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(std::fs::File::create(path)?));
    w.write_record([
        "id",
        "first_name",
        "last_name",
        "other_names",
        "dob",
        "dob_estimated",
        "gender",
        "postcode",
        "address",
    ])?;
    for p in persons {
        w.write_record([
            p.id.as_str(),
            p.first_name.as_deref().unwrap_or(""),
            p.last_name.as_deref().unwrap_or(""),
            &p.other_names.join(";"),
            &p.dob.map(|d| d.to_string()).unwrap_or_default(),
            if p.dob_estimated { "true" } else { "false" },
            match p.gender {
                Some(Gender::Male) => "M",
                Some(Gender::Female) => "F",
                None => "",
            },
            p.postcode.as_deref().unwrap_or(""),
            p.address.as_deref().unwrap_or(""),
        ])?;
    }
    w.flush()
}

fn end_to_end(seed: u64, out: &mut dyn Write) -> std::io::Result<()> {
    let mut g = Generator::new(seed ^ 0xE2E);
    let (persons, queries, _) = g.scenario(5000, 5000);
    let dir = std::env::temp_dir().join(format!("ehm-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (ip, qp, op) = (
        dir.join("index.csv"),
        dir.join("queries.csv"),
        dir.join("matches.csv"),
    );
    write_csv(&ip, &persons)?;
    let qs: Vec<Person> = queries.into_iter().map(|q| q.person).collect();
    write_csv(&qp, &qs)?;
    let args = MatchArgs {
        index: ip,
        queries: qp,
        out: op.clone(),
        threshold: 0.5,
        top: 5,
        no_train: false,
        print_model: false,
        explain: false,
    };
    let t = Instant::now();
    let mut sink = Vec::new();
    let r = crate::cli::run_match(&args, &mut sink);
    let el = t.elapsed().as_secs_f64();
    let rows = std::fs::read_to_string(&op)
        .map(|s| s.lines().count().saturating_sub(1))
        .unwrap_or(0);
    writeln!(
        out,
        "end to end: run_match 5000 queries x 5000 persons in {el:.3} s ({rows} matches written, ok={})",
        r.is_ok()
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
