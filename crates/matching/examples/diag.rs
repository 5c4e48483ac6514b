//! Diagnostics for the synthetic benchmark: prints missed matches, false matches and
//! twin merges with their explanations. `cargo run --release --example diag -- 100000`
use ehm_matching::Index;
use ehm_matching::synth::Generator;
use std::collections::HashMap;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let thr: f64 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.5);
    let mut g = Generator::new(42);
    let (persons, queries, _) = g.scenario(n, 5000);
    let by_id: HashMap<String, ehm_matching::Person> =
        persons.iter().map(|p| (p.id.clone(), p.clone())).collect();
    let index = Index::build(persons);
    println!("params: {:?}", index.params());
    let mut cand_counts: Vec<usize> = Vec::new();
    let (mut fn_, mut fp, mut tw) = (0, 0, 0);
    let mut slow: Vec<(f64, usize, String)> = Vec::new();
    let mut blocking_misses = 0;
    for q in &queries {
        if let Some(t) = &q.truth
            && !index.candidate_ids(&q.person).contains(&t.as_str())
        {
            blocking_misses += 1;
            println!(
                "--- BLOCKING MISS\n  Q: {:?}\n  T: {:?}",
                q.person,
                by_id.get(t)
            );
        }
        cand_counts.push(index.candidate_count(&q.person));
        let t = std::time::Instant::now();
        let res = index.search(&q.person, 5, 0.0);
        slow.push((
            t.elapsed().as_secs_f64() * 1000.0,
            *cand_counts.last().unwrap(),
            format!("{:?}", q.person),
        ));
        let hit = res.iter().find(|c| Some(&c.person_id) == q.truth.as_ref());
        let show = |tag: &str, c: Option<&ehm_matching::Candidate>, id: Option<&String>| {
            println!("--- {tag}\n  Q: {:?}", q.person);
            if let Some(id) = id {
                println!("  T: {:?}", by_id.get(id));
            }
            if let Some(c) = c {
                println!("  C: {:?}\n  score {:.4}", by_id.get(&c.person_id), c.score);
                for e in &c.explanation {
                    print!(" {}={}({:.1})", e.field, e.level, e.weight);
                }
                println!();
            }
        };
        match (&q.truth, hit) {
            (Some(_), None) => {
                fn_ += 1;
                if fn_ <= 15 {
                    show("NOT FOUND", res.first(), q.truth.as_ref());
                }
            }
            (Some(_), Some(c)) if c.score < thr => {
                fn_ += 1;
                if fn_ <= 15 {
                    show("LOW SCORE", Some(c), None);
                }
            }
            _ => {}
        }
        for c in res
            .iter()
            .filter(|c| c.score >= thr && Some(&c.person_id) != q.truth.as_ref())
        {
            if Some(&c.person_id) == q.twin.as_ref() {
                tw += 1;
                show("TWIN MERGED", Some(c), None);
            } else {
                fp += 1;
                if fp <= 15 {
                    show("FALSE MATCH", Some(c), q.truth.as_ref());
                }
            }
        }
    }
    slow.sort_by(|a, b| b.0.total_cmp(&a.0));
    for s in slow.iter().take(12) {
        println!("SLOW {:.2} ms, {} candidates: {}", s.0, s.1, s.2);
    }
    cand_counts.sort();
    println!("blocking misses {blocking_misses}");
    println!(
        "FN {fn_} FP {fp} twins {tw}; candidates p50 {} p99 {} max {}",
        cand_counts[cand_counts.len() / 2],
        cand_counts[cand_counts.len() * 99 / 100],
        cand_counts.last().unwrap()
    );
}
