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

/// A reading of a whole list (not of one object) that is recorded as it is decided.
pub(crate) struct Read<'a> {
    pub action: &'a str,
    pub object_type: &'a str,
}

impl Read<'_> {
    /// Whether `actor` has `permission`; either way the reading (or its refusal) is
    /// recorded first.
    pub(crate) async fn allowed(
        &self,
        app: &App,
        actor: ehm_domain::access::Actor,
        permission: ehm_domain::access::Permission,
        ip: &str,
    ) -> Result<bool> {
        let allowed = ehm_domain::access::allowed(actor, permission);
        record(
            app,
            Event {
                actor: Some(actor.user_id),
                action: self.action,
                object_type: self.object_type,
                object_id: "all",
                outcome: if allowed { "success" } else { "refused" },
                ip,
            },
        )
        .await?;
        Ok(allowed)
    }
}

/// One page of the audit log as an administrator reads it.
#[derive(Debug, Clone)]
pub struct LogPage {
    pub rows: Vec<ehm_storage::AuditRecord>,
    /// Every record the search matches, on all pages.
    pub total: i64,
    /// The email address of each account that appears on the page, by user id.
    pub emails: std::collections::HashMap<i64, String>,
}

/// The audit log, newest first, `limit` records from `offset`; `None` when
/// `actor` may not read it. The reading is itself recorded, as is a refusal, and so is
/// a visit whose search could not be used (`filter` is `None`: an empty page).
pub async fn search_log(
    app: &App,
    actor: ehm_domain::access::Actor,
    filter: Option<&ehm_storage::AuditFilter>,
    limit: i64,
    offset: i64,
    ip: &str,
) -> Result<Option<LogPage>> {
    let read = Read {
        action: "view-audit",
        object_type: "audit",
    };
    if !read
        .allowed(app, actor, ehm_domain::access::Permission::ViewAudit, ip)
        .await?
    {
        return Ok(None);
    }
    let Some(filter) = filter else {
        return Ok(Some(LogPage {
            rows: Vec::new(),
            total: 0,
            emails: Default::default(),
        }));
    };
    let page = app.store.search_audit(filter, limit, offset).await?;
    // Who, by email: an administrator manages the accounts, so may see them.
    let mut emails = std::collections::HashMap::new();
    for id in page.rows.iter().filter_map(|r| r.actor_user_id) {
        if let std::collections::hash_map::Entry::Vacant(e) = emails.entry(id)
            && let Some(u) = app.store.user_by_id(id).await?
        {
            e.insert(u.email);
        }
    }
    Ok(Some(LogPage {
        rows: page.rows,
        total: page.total,
        emails,
    }))
}
