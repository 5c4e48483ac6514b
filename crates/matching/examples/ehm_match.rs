//! The `ehm match` command on its own (the same `run_match` the `ehm` binary calls),
//! so the comparison scripts under `bench/` need not build the whole workspace:
//! `cargo run --release -p ehm-matching --example ehm_match -- --index I.csv --queries Q.csv --out M.csv`
use clap::Parser;
use ehm_matching::cli::{MatchArgs, run_match};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: MatchArgs,
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run_match(&cli.args, &mut std::io::stderr()) {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}
