//! Writes a labelled synthetic child-referral set (fictional people) for `bench/`:
//! index.csv, queries.csv and truth.csv (query_id,person_id,twin_id) in OUT_DIR.
//! `cargo run --release -p ehm-matching --example gen_referrals -- OUT_DIR [PERSONS] [QUERIES] [SEED]`
use ehm_matching::synth::Generator;
use std::io::Write;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).map_or("bench/data/referrals", |s| s));
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let nq: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5_000);
    let seed: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(7);
    std::fs::create_dir_all(&dir)?;
    let mut g = Generator::new(seed);
    let (persons, mut queries, _) = g.scenario(n, nq);
    // The same child may be referred twice: every query gets its own id.
    for (k, q) in queries.iter_mut().enumerate() {
        q.person.id = format!("Q{:05}", k + 1);
    }
    ehm_matching::synth::write_csv(&dir.join("index.csv"), &persons)?;
    let qs: Vec<_> = queries.iter().map(|q| q.person.clone()).collect();
    ehm_matching::synth::write_csv(&dir.join("queries.csv"), &qs)?;
    let mut t = std::io::BufWriter::new(std::fs::File::create(dir.join("truth.csv"))?);
    writeln!(t, "query_id,person_id,twin_id")?;
    for q in &queries {
        writeln!(
            t,
            "{},{},{}",
            q.person.id,
            q.truth.as_deref().unwrap_or(""),
            q.twin.as_deref().unwrap_or("")
        )?;
    }
    t.flush()?;
    println!(
        "{}: {} persons, {} queries",
        dir.display(),
        persons.len(),
        queries.len()
    );
    Ok(())
}
