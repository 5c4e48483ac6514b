//! `cargo run --release -p ehm-matching --example bench_match -- --persons 1000000`
use clap::Parser;
use ehm_matching::cli::{BenchMatchArgs, run_bench_match};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: BenchMatchArgs,
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run_bench_match(&cli.args, &mut std::io::stdout()) {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}
