//! `ehm audit verify`: recompute the audit log's hash chain.
//!
//! Exit status 0 and "Audit log intact: N rows" when every row fits the chain; otherwise
//! a one-line error naming the first broken row and why, and exit status 2. The head hash
//! is printed so it can be noted elsewhere: a later head must extend it (see
//! `ehm_storage`'s audit module for what the chain can and cannot prove).

use crate::commands::{init_tracing, open_store, runtime};
use crate::config::Config;
use anyhow::bail;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Check that no audit record was changed or deleted (exit status 2 if one was).
    Verify,
}

pub fn run(command: Command) -> anyhow::Result<()> {
    init_tracing();
    let config = Config::load()?;
    match command {
        Command::Verify => runtime()?.block_on(async {
            let store = open_store(&config).await?;
            let report = store.verify_audit_chain().await?;
            if let Some(broken) = report.first_broken {
                bail!(
                    "audit log broken at row {}: {} ({} rows checked up to it)",
                    broken.id,
                    broken.reason,
                    report.rows
                );
            }
            println!("Audit log intact: {} rows", report.rows);
            println!("Head hash: {}", report.head);
            Ok(())
        }),
    }
}
