//! Recording who did what. Identifiers only: never a name, a date of birth, a
//! password, a code or free text.

use ehm_storage::{AuditEntry, Tx};
use time::OffsetDateTime;

use crate::{App, Result};

/// One audit record.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub actor: Option<i64>,
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: &'a str,
    pub outcome: &'a str,
    /// The client's address (see the web layer's trusted-proxy rule).
    pub ip: &'a str,
}

impl Event<'_> {
    fn entry(&self) -> AuditEntry<'_> {
        AuditEntry {
            actor_user_id: self.actor,
            action: self.action,
            object_type: self.object_type,
            object_id: self.object_id,
            outcome: self.outcome,
            ip: self.ip,
        }
    }
}

/// Record `event` on its own (sign-in attempts, views).
pub async fn record(app: &App, event: Event<'_>) -> Result<()> {
    app.store
        .audit(&event.entry(), OffsetDateTime::now_utc())
        .await?;
    tracing::info!(
        action = event.action,
        outcome = event.outcome,
        actor = event.actor.unwrap_or(0),
        object = event.object_type,
        "audit"
    );
    Ok(())
}

/// Record `event` inside `tx`, so it commits with the change it describes.
pub async fn record_tx(
    app: &App,
    tx: &mut Tx<'_>,
    event: Event<'_>,
    now: OffsetDateTime,
) -> Result<()> {
    app.store.audit_tx(tx, &event.entry(), now).await?;
    Ok(())
}
