//! Blocking misses of the synthetic benchmark with the wide-block diagnosis.
//! `cargo run --release -p ehm-matching --example diag_recall -- 1000000 42`
use ehm_matching::Index;
use ehm_matching::synth::Generator;
use std::collections::HashMap;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(42);
    let mut g = Generator::new(seed);
    let (persons, queries, _) = g.scenario(n, 5000);
    let by_id: HashMap<String, ehm_matching::Person> =
        persons.iter().map(|p| (p.id.clone(), p.clone())).collect();
    let index = Index::build(persons);
    let mut misses = 0;
    for q in &queries {
        let Some(t) = &q.truth else { continue };
        if index.candidate_ids(&q.person).contains(&t.as_str()) {
            continue;
        }
        misses += 1;
        let p = &q.person;
        let r = &by_id[t];
        println!(
            "MISS Q: {:?} {:?} dob {:?}{} {:?} {:?} {:?}",
            p.first_name,
            p.last_name,
            p.dob,
            if p.dob_estimated { "~" } else { "" },
            p.gender,
            p.postcode,
            p.address
        );
        println!(
            "     T: {:?} {:?} dob {:?} {:?} {:?} {:?} others {:?}",
            r.first_name, r.last_name, r.dob, r.gender, r.postcode, r.address, r.other_names
        );
        println!("     {}", index.wide_diagnosis(p, t));
    }
    println!("blocking misses {misses}");
}
