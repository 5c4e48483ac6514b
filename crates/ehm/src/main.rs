//! `ehm`: the Early Help referral portal. One binary, one subcommand per operational task.

mod commands;
mod config;

/// mimalloc instead of glibc's allocator: a request allocates and frees many small
/// strings and template values across worker threads, where glibc's arenas spent a tenth
/// of the server's time (measured with `perf` under `ehm bench`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// mimalloc's C API (linked in through the `mimalloc` crate, which does not re-export it).
unsafe extern "C" {
    fn mi_option_set_default(option: std::ffi::c_int, value: std::ffi::c_long);
}
/// `mi_option_purge_decommits` in mimalloc.h (the sixth option, v2 and v3 alike).
const MI_OPTION_PURGE_DECOMMITS: std::ffi::c_int = 5;

/// Memory the allocator no longer needs goes back to the kernel as "free if you need it"
/// (`MADV_FREE`) instead of at once (`MADV_DONTNEED`). On virtual machines that report free
/// pages to their host (Firecracker, virtio-balloon free page reporting) memory returned at
/// once was taken away by the host and faulted back in moments later; measured under
/// `ehm bench --staff`, that stalled the whole process for 70–110 ms about every two
/// seconds. The kernel still reclaims these pages whenever memory is short.
/// `MIMALLOC_PURGE_DECOMMITS=1` restores mimalloc's default.
fn tune_allocator() {
    // SAFETY: sets one integer in mimalloc's option table; called before any thread starts.
    unsafe { mi_option_set_default(MI_OPTION_PURGE_DECOMMITS, 0) };
}

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "ehm", version, about = "Early Help referral portal")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web portal (the default when no subcommand is given).
    Serve(commands::serve::Args),
    /// Try the portal on this machine: demo accounts with a published password, every email
    /// readable at /demo/mailbox. Loopback address only, no SMTP. Same as `serve --demo`.
    Demo,
    /// Delete what retention rules say must go (idle sessions, old sent email).
    Purge(commands::purge::Args),
    /// Create an account (staff accounts can only be created this way or by an administrator).
    CreateUser(commands::create_user::Args),
    /// Match query persons against a person index (CSV in, CSV out).
    Match(ehm_matching::cli::MatchArgs),
    /// Benchmark the matching engine on synthetic data.
    BenchMatch(ehm_matching::cli::BenchMatchArgs),
    /// Benchmark the portal: concurrent draft saves over HTTP, and a ~20-page referral PDF.
    Bench(commands::bench::Args),
    /// List every route the portal serves (method and path), one per line.
    Routes,
    /// Import or update the person index from a CSV file (the columns of `ehm match`).
    ImportPersons(commands::import_persons::Args),
    /// Copy the SQLite database to a new FILE while the portal serves (prints the pg_dump
    /// procedure for PostgreSQL).
    Backup(commands::backup::Args),
    /// Check the audit log: `ehm audit verify`.
    #[command(subcommand)]
    Audit(commands::audit::Command),
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    let result = match cli
        .command
        .unwrap_or(Command::Serve(commands::serve::Args::default()))
    {
        Command::Serve(args) => commands::serve::run(args),
        Command::Demo => commands::serve::run(commands::serve::Args { demo: true }),
        Command::Purge(args) => commands::purge::run(args),
        Command::CreateUser(args) => commands::create_user::run(args),
        Command::Routes => {
            for (method, path) in ehm_web::route_table() {
                println!("{method} {path}");
            }
            Ok(())
        }
        Command::Bench(args) => commands::bench::run(args),
        Command::ImportPersons(args) => commands::import_persons::run(args),
        Command::Audit(command) => commands::audit::run(command),
        Command::Backup(args) => commands::backup::run(args),
        Command::Match(args) => ehm_matching::cli::run_match(&args, &mut std::io::stderr())
            .map_err(|e| anyhow::anyhow!("{e}")),
        Command::BenchMatch(args) => {
            ehm_matching::cli::run_bench_match(&args, &mut std::io::stdout())
                .map_err(|e| anyhow::anyhow!("{e}"))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
