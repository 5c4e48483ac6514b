//! Parameters learnt from the data at hand: u from random pairs, m and the match prior
//! by expectation-maximisation over the blocked candidate pairs of a set of queries.
//!
//! The E-step uses the same model as `Index::search`: a query is one person, who is
//! either one of the indexed records or none of them. With `π` the share of queries
//! whose person is in the index and `N` the (effective) index size, every record has
//! prior odds `π / ((1 - π) N)`; a candidate's posterior odds are those prior odds
//! times its likelihood ratio `o_c` (capped by the sibling guard), and its posterior
//! probability is `o_c / (1 + Σ o_j)` over the query's candidates. Records outside the
//! candidate set have likelihood ratios near zero (they disagree on every blocking key).
//! The M-step sets each m to the posterior-weighted share of each level (with a small
//! Dirichlet prior centred on the starting values) and π to the mean number of
//! matches per query. Because each query holds at most one unit of match mass, EM
//! cannot drift onto "same household": a household's siblings share that unit with
//! the true record instead of each counting as a match.

use crate::compare::{
    CONDITIONAL_LEVELS, Comparison, FIELD_NAMES, LEVEL_NAMES, NF, NULL, NoTf, Params, SURNAME,
    compare,
};
use crate::index::{Compared, Index, Prepared, Rng};
use crate::model::Person;
use rayon::prelude::*;
use std::fmt;

/// Bounds on the learnt share of queries whose person is in the index.
pub const MATCH_SHARE_RANGE: (f64, f64) = (0.02, 0.98);
/// Fewer queries than this are too few to re-estimate u from (the index's u is kept).
pub const MIN_QUERIES_FOR_U: usize = 100;
/// Bounds on every learnt m probability.
pub const M_RANGE: (f64, f64) = (1e-4, 0.9999);

/// Options for [`Index::fit`].
#[derive(Clone, Debug)]
pub struct FitOptions {
    /// EM stops after this many iterations at most.
    pub max_iterations: usize,
    /// EM stops when no m probability and not the match share moves by more than this.
    pub tolerance: f64,
    /// At most this many queries are used (a deterministic sample of the rest).
    pub max_queries: usize,
    /// Candidates kept per query (the best by the starting parameters).
    pub max_candidates: usize,
    /// Random (query, record) pairs for re-estimating u; 0 keeps the index's u.
    pub u_pairs: usize,
    /// Weight of the starting m values, in pseudo-observations per field.
    pub m_pseudo_count: f64,
    pub seed: u64,
}

impl Default for FitOptions {
    fn default() -> FitOptions {
        FitOptions {
            max_iterations: 100,
            tolerance: 1e-4,
            max_queries: 20_000,
            max_candidates: 32,
            u_pairs: 50_000,
            m_pseudo_count: 20.0,
            seed: 0x5EED,
        }
    }
}

/// What a fit did, for reviewers (`--print-model`).
#[derive(Clone, Debug, PartialEq)]
pub struct FitReport {
    pub queries: usize,
    /// Candidate pairs EM was run on.
    pub pairs: usize,
    /// λ: the estimated share of matches among those candidate pairs.
    pub pair_match_share: f64,
    pub iterations: usize,
    pub converged: bool,
    /// Random (query, record) pairs u was re-estimated from (0: u kept from the index).
    pub u_pairs: usize,
}

/// The scoring model: m and u for every level, and the match prior.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub params: Params,
    /// π: the share of queries whose person is in the index. The prior odds that a
    /// query is one given record are `π / ((1 - π) N)`. The built-in value is 0.5.
    pub match_share: f64,
    /// `Some` when the model was fitted by [`Index::fit`].
    pub fit: Option<FitReport>,
}

impl Model {
    /// A model with the given parameters and the built-in match share of one half.
    pub fn new(params: Params) -> Model {
        Model {
            params,
            match_share: 0.5,
            fit: None,
        }
    }

    /// Prior log2 odds that a query is one given record of an index of effective size `n_eff`.
    pub fn prior_log2_odds(&self, n_eff: f64) -> f64 {
        let p = self.match_share;
        (p / (1.0 - p)).log2() - n_eff.log2()
    }

    /// The sibling guard's ceiling (log2 odds) for a candidate whose forename conflicts
    /// while household details agree, in an index where a share `sibling_share` of the
    /// records have a co-resident brother or sister on record. Such a query is either
    /// this record with a wrongly recorded forename (prior odds `π / (1 - π)` times
    /// m of the forename level) or the record's sibling (about `sibling_share`), so
    /// the household fields may not push the odds past that ratio.
    pub fn sibling_ceiling(&self, forename_level: u8, sibling_share: f64) -> f64 {
        if forename_level == NULL {
            return crate::compare::CONFLICT_CEILING;
        }
        let p = self.match_share;
        let m = self.params.m[crate::compare::FORENAME][forename_level as usize];
        (p / (1.0 - p)).log2() + m.max(1e-9).log2() - sibling_share.max(1e-3).log2()
    }

    /// The model as JSON: the match share, the fit report and, per field and level,
    /// m, u and the weight log2(m/u).
    pub fn to_json(&self) -> String {
        let w = self.params.weights();
        let mut s = format!("{{\"match_share\":{}", num(self.match_share));
        match &self.fit {
            Some(f) => {
                s += &format!(
                    ",\"fit\":{{\"queries\":{},\"pairs\":{},\"pair_match_share\":{},\"iterations\":{},\"converged\":{},\"u_pairs\":{}}}",
                    f.queries,
                    f.pairs,
                    num(f.pair_match_share),
                    f.iterations,
                    f.converged,
                    f.u_pairs
                )
            }
            None => s += ",\"fit\":null",
        }
        s += ",\"fields\":{";
        for f in 0..NF {
            if f > 0 {
                s.push(',');
            }
            s += &format!("\"{}\":[", FIELD_NAMES[f]);
            for (l, name) in LEVEL_NAMES[f].iter().enumerate() {
                if l > 0 {
                    s.push(',');
                }
                s += &format!(
                    "{{\"level\":\"{name}\",\"m\":{},\"u\":{},\"weight\":{}}}",
                    num(self.params.m[f][l]),
                    num(self.params.u[f][l]),
                    num(w.w[f][l])
                );
            }
            s.push(']');
        }
        s += "}}";
        s
    }
}

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.6e}")
            .parse::<f64>()
            .map_or("0".into(), |v| v.to_string())
    } else {
        "null".into()
    }
}

impl fmt::Display for Model {
    /// A table a reviewer can read: one line per field level with m, u and weight.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.fit {
            Some(r) => writeln!(
                f,
                "model fitted by EM on {} queries ({} candidate pairs): {} iterations{}, \
                 share of candidate pairs that match λ = {:.4}, u from {} random pairs",
                r.queries,
                r.pairs,
                r.iterations,
                if r.converged {
                    ", converged"
                } else {
                    ", not converged"
                },
                r.pair_match_share,
                r.u_pairs
            )?,
            None => writeln!(f, "built-in model (not fitted)")?,
        }
        writeln!(
            f,
            "share of queries whose person is in the index π = {:.4}",
            self.match_share
        )?;
        let w = self.params.weights();
        writeln!(
            f,
            "{:<10} {:<20} {:>10} {:>10} {:>8}",
            "field", "level", "m", "u", "weight"
        )?;
        for fi in 0..NF {
            for (l, name) in LEVEL_NAMES[fi].iter().enumerate() {
                writeln!(
                    f,
                    "{:<10} {:<20} {:>10.5} {:>10.6} {:>+8.2}",
                    FIELD_NAMES[fi], name, self.params.m[fi][l], self.params.u[fi][l], w.w[fi][l]
                )?;
            }
        }
        Ok(())
    }
}

/// Evenly spread sample of at most `k` items (deterministic).
fn sample<T>(items: &[T], k: usize) -> Vec<&T> {
    if items.len() <= k {
        return items.iter().collect();
    }
    (0..k).map(|i| &items[i * items.len() / k]).collect()
}

impl Index {
    /// Fit the model to this index and a set of queries (a batch to be matched, or for
    /// the portal a sample of past referrals): u from random (query, record) pairs,
    /// m and the match share π by EM over the blocked candidate pairs, starting from
    /// the index's current model. Queries with the id of an indexed record are not
    /// compared with that record (so the index's own records can be used as queries).
    /// Apply the result with [`Index::set_model`].
    pub fn fit(&self, queries: &[Person], opts: &FitOptions) -> Model {
        let qs = sample(queries, opts.max_queries.max(1));
        let prepared: Vec<Prepared> = qs.par_iter().map(|p| Prepared::new(p)).collect();
        let ids: Vec<&str> = qs.iter().map(|p| p.id.as_str()).collect();
        let refs: Vec<&Prepared> = prepared.iter().collect();
        self.fit_prepared(&ids, &refs, opts, None)
    }

    /// [`Index::fit`] on queries already prepared (`ids[i]` is the id of
    /// `prepared[i]`), all of which are used.
    pub(crate) fn fit_prepared(
        &self,
        ids: &[&str],
        prepared: &[&Prepared],
        opts: &FitOptions,
        keep_for_search: Option<&mut Vec<Compared>>,
    ) -> Model {
        let start = self.model().clone();
        let mut params = start.params.clone();
        let mut u_pairs = 0;
        if opts.u_pairs > 0 && prepared.len() >= MIN_QUERIES_FOR_U && self.live_len() >= 100 {
            params = self.estimate_u_from(prepared, opts.u_pairs, opts.seed, &params);
            u_pairs = opts.u_pairs;
        }
        let w0 = params.weights();
        let prior0 = start.prior_log2_odds(self.n_eff());
        // Candidate comparisons per query, the best `max_candidates` by the starting model.
        let keep = keep_for_search.is_some();
        let per_query: Vec<(Vec<Comparison>, Compared)> = ids
            .par_iter()
            .zip(prepared.par_iter())
            .map(|(id, q)| {
                let lo = |c: &Comparison| {
                    let ceil = start.sibling_ceiling(c.levels[0], self.sibling_share());
                    c.log_odds_ceiling(prior0, ceil)
                };
                let mut kept = Compared::default();
                let mut v =
                    self.compare_candidates(q, &w0, Some(id), &lo, keep.then_some(&mut kept));
                v.sort_by(|a, b| b.0.total_cmp(&a.0));
                v.truncate(opts.max_candidates);
                (v.into_iter().map(|(_, c)| c).collect(), kept)
            })
            .collect();
        let (pairs, kept): (Vec<Vec<Comparison>>, Vec<Compared>) = per_query.into_iter().unzip();
        if let Some(k) = keep_for_search {
            *k = kept;
        }
        let n_pairs: usize = pairs.iter().map(Vec::len).sum();
        let mut model = Model {
            params,
            match_share: start.match_share,
            fit: None,
        };
        let m0 = model.params.m.clone();
        let mut iterations = 0;
        let mut converged = false;
        let mut pair_share = 0.0;
        while iterations < opts.max_iterations {
            iterations += 1;
            let w = model.params.weights();
            let prior = model.prior_log2_odds(self.n_eff());
            let sib = self.sibling_share();
            // E-step (parallel over fixed chunks of queries, summed in chunk order so that
            // the result does not depend on how the work was shared between threads):
            // match counts per field level.
            let zero = || (std::array::from_fn(|f| vec![0.0; m0[f].len()]), 0.0);
            let chunks: Vec<([Vec<f64>; NF], f64)> = pairs
                .par_chunks(64)
                .map(|chunk| {
                    chunk.iter().fold(zero(), |(mut cnt, mut tot), cands| {
                        let mut cs: Vec<(f64, Comparison)> = Vec::with_capacity(cands.len());
                        let mut denom = 1.0;
                        for c in cands {
                            let mut c = *c;
                            c.reweigh(&w);
                            let ceil = model.sibling_ceiling(c.levels[0], sib);
                            let odds = c.log_odds_ceiling(prior, ceil).min(60.0).exp2();
                            denom += odds;
                            cs.push((odds, c));
                        }
                        for (odds, c) in &cs {
                            let p = odds / denom;
                            tot += p;
                            for f in 0..NF {
                                let l = c.levels[f];
                                let skip = l == NULL
                                    || (c.swapped && f <= SURNAME)
                                    || (f == crate::compare::ADDRESS && c.address_given_postcode);
                                if !skip {
                                    cnt[f][l as usize] += p;
                                }
                            }
                        }
                        (cnt, tot)
                    })
                })
                .collect();
            let (counts, total) = chunks.into_iter().fold(zero(), |(mut a, ta), (b, tb)| {
                for f in 0..NF {
                    for (x, y) in a[f].iter_mut().zip(&b[f]) {
                        *x += y;
                    }
                }
                (a, ta + tb)
            });
            // M-step.
            let mut delta: f64 = 0.0;
            for f in 0..NF {
                let n: f64 = counts[f].iter().sum();
                let a = opts.m_pseudo_count;
                let mut new: Vec<f64> = counts[f]
                    .iter()
                    .zip(&m0[f])
                    .map(|(c, p0)| ((c + a * p0) / (n + a)).clamp(M_RANGE.0, M_RANGE.1))
                    .collect();
                let s: f64 = new.iter().sum();
                new.iter_mut().for_each(|x| *x /= s);
                for (x, y) in new.iter().zip(&model.params.m[f]) {
                    delta = delta.max((x - y).abs());
                }
                model.params.m[f] = new;
            }
            let share =
                (total / ids.len().max(1) as f64).clamp(MATCH_SHARE_RANGE.0, MATCH_SHARE_RANGE.1);
            delta = delta.max((share - model.match_share).abs());
            model.match_share = share;
            pair_share = total / n_pairs.max(1) as f64;
            if delta < opts.tolerance {
                converged = true;
                break;
            }
        }
        model.fit = Some(FitReport {
            queries: ids.len(),
            pairs: n_pairs,
            pair_match_share: pair_share,
            iterations,
            converged,
            u_pairs,
        });
        model
    }

    /// u re-estimated from random (query, record) pairs (nearly all non-matches),
    /// smoothed towards `base`; levels that depend on a rare recording practice keep
    /// their u (random pairs cannot see them).
    fn estimate_u_from(&self, qs: &[&Prepared], pairs: usize, seed: u64, base: &Params) -> Params {
        let w = base.weights();
        let chunks = 16usize;
        let per = pairs.div_ceil(chunks);
        let live: Vec<u32> = self.live_records();
        let counts: Vec<[Vec<f64>; NF]> = (0..chunks)
            .into_par_iter()
            .map(|c| {
                let mut rng = Rng(seed ^ (c as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407));
                let mut cnt: [Vec<f64>; NF] = std::array::from_fn(|f| vec![0.0; base.u[f].len()]);
                for _ in 0..per {
                    let q = qs[rng.below(qs.len() as u64) as usize];
                    let r = live[rng.below(live.len() as u64) as usize];
                    let others: Vec<&crate::compare::NameInfo> = q.others.iter().collect();
                    let side = q.side(&others);
                    let cmp = self.with_record(r, |b| compare(&side, b, &w, &NoTf));
                    for f in 0..NF {
                        let l = cmp.levels[f];
                        if l != NULL && !(cmp.swapped && f <= SURNAME) {
                            cnt[f][l as usize] += 1.0;
                        }
                    }
                }
                cnt
            })
            .collect();
        const PSEUDO: f64 = 2000.0;
        let mut p = base.clone();
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
}
