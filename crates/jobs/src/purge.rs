//! Retention purge: removes what must not be kept. Safe to run from several instances at
//! once (every step is an idempotent DELETE), and from `ehm purge`.

use ehm_storage::Store;
use time::{Duration, OffsetDateTime};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PurgeReport {
    pub drafts: u64,
    pub attachments: u64,
    pub sessions: u64,
    pub sent_mail: u64,
    pub pending_saves: u64,
    pub throttles: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Drafts are deleted this long after their last save.
    pub drafts: Duration,
    /// Session rows are kept this long after last use. The idle timeout itself is enforced
    /// on every request; keeping the row a while longer lets the portal recognise a timed-out
    /// session and keep the answers it posted.
    pub sessions: Duration,
    pub sent_mail: Duration,
}

impl Retention {
    pub fn new(drafts: Duration) -> Self {
        Retention {
            drafts,
            sessions: Duration::hours(12),
            sent_mail: Duration::days(7),
        }
    }
}

/// `now` is a parameter so tests (and `ehm purge --now`) can move the clock.
pub async fn purge(
    store: &Store,
    now: OffsetDateTime,
    r: &Retention,
) -> Result<PurgeReport, ehm_storage::StorageError> {
    let drafts = store.purge_drafts(now - r.drafts).await?;
    Ok(PurgeReport {
        drafts: drafts.drafts,
        attachments: drafts.attachments,
        // Answers kept after a timeout are deleted with their draft (foreign key); any
        // left older than the retention period go too.
        pending_saves: store.purge_pending_saves(now - r.drafts).await?,
        sessions: store.purge_idle_sessions(now - r.sessions).await?,
        throttles: store.purge_throttle(now - Duration::days(1)).await?,
        sent_mail: store.purge_sent_mail(now - r.sent_mail).await?,
    })
}
