//! Retention purge: removes what must not be kept. Safe to run from several instances at
//! once (every step is an idempotent DELETE).

use ehm_storage::Store;
use time::{Duration, OffsetDateTime};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PurgeReport {
    pub sessions: u64,
    pub sent_mail: u64,
}

pub struct Retention {
    pub session_idle: Duration,
    pub sent_mail: Duration,
}

pub async fn purge(
    store: &Store,
    now: OffsetDateTime,
    r: &Retention,
) -> Result<PurgeReport, ehm_storage::StorageError> {
    Ok(PurgeReport {
        sessions: store.purge_idle_sessions(now - r.session_idle).await?,
        sent_mail: store.purge_sent_mail(now - r.sent_mail).await?,
    })
}
