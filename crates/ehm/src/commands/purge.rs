use crate::commands::{init_tracing, open_store, runtime};
use crate::config::Config;
use anyhow::Context;
use time::OffsetDateTime;

#[derive(clap::Args)]
pub struct Args {
    /// Purge as if it were this time (RFC 3339), e.g. to check what a purge next month
    /// would delete. Defaults to now.
    #[arg(long)]
    now: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    init_tracing();
    let config = Config::load()?;
    let now = match &args.now {
        Some(s) => OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .with_context(|| {
                format!("--now must be an RFC 3339 time like 2026-12-25T09:00:00Z, not {s:?}")
            })?,
        None => OffsetDateTime::now_utc(),
    };
    runtime()?.block_on(async {
        let store = open_store(&config).await?;
        let retention = ehm_jobs::purge::Retention::new(time::Duration::days(config.draft_retention_days));
        let r = ehm_jobs::purge::purge(&store, now, &retention).await?;
        println!(
            "Purged {} drafts ({} attachments), {} kept answers, {} old sessions and {} sent emails.",
            r.drafts, r.attachments, r.pending_saves, r.sessions, r.sent_mail
        );
        Ok(())
    })
}
