use crate::commands::{init_tracing, open_store, runtime};
use crate::config::Config;
use time::OffsetDateTime;

pub fn run() -> anyhow::Result<()> {
    init_tracing();
    let config = Config::load()?;
    runtime()?.block_on(async {
        let store = open_store(&config).await?;
        let retention = ehm_jobs::purge::Retention {
            session_idle: config.session_idle,
            sent_mail: time::Duration::days(7),
        };
        let r = ehm_jobs::purge::purge(&store, OffsetDateTime::now_utc(), &retention).await?;
        println!(
            "Purged {} idle sessions and {} sent emails.",
            r.sessions, r.sent_mail
        );
        Ok(())
    })
}
