//! The referrer's journey (R-09 … R-33): start a draft, save its sections, attach files,
//! submit, and the answers kept across a session timeout. Every function decides access
//! with `domain::access::allowed` from the referral itself (owner and state) and audits
//! what it read or changed.

mod attachments;
mod drafts;
mod kept;
mod submit;

pub use attachments::{AddAttachment, Download, add_attachment, download, remove_attachment};
pub use drafts::{
    CreateOutcome, FINGERPRINT_FIELD, SaveOutcome, create_draft, delete_draft, save_section,
    section_fingerprint,
};
pub use kept::{
    Choice, Conflict, ResolveOutcome, Restored, conflicts, keep_answers, keep_conflict, kept_count,
    resolve_conflict, restore_kept,
};
pub use submit::{SubmitOutcome, recipients, submit};

use ehm_domain::access::{Actor, Permission, ReferralFacts, allowed};
use ehm_domain::referral::ReferralDraft;
use ehm_storage::{AuditEntry, ReferralRow};
use time::OffsetDateTime;

use crate::audit::{self, Event};
use crate::{App, Result};

/// Most drafts one referrer may have open at once.
pub const MAX_OPEN_DRAFTS: i64 = 50;

/// A referral loaded for an actor who passed the access check.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub row: ReferralRow,
    pub draft: ReferralDraft,
    pub actor: Actor,
}

impl Loaded {
    pub fn is_draft(&self) -> bool {
        self.row.is_draft()
    }
    pub fn public_id(&self) -> &str {
        &self.row.public_id
    }
}

pub fn facts(row: &ReferralRow) -> ReferralFacts {
    ReferralFacts {
        owner_id: row.owner_id,
        draft: row.is_draft(),
    }
}

/// How an actor may open a referral.
#[derive(Debug, Clone)]
pub enum Opened {
    /// Their own draft: they may edit it.
    Editable(Loaded),
    /// They may read it but not change it (submitted, or read by MASH staff).
    ReadOnly(Loaded),
    /// No such referral, or not theirs to see (the two are not told apart).
    NotFound,
}

/// Load a referral by its public id and decide what `actor` may do with it. A refusal is
/// audited as a failed access check.
pub async fn open(app: &App, actor: Actor, pid: &str, ip: &str) -> Result<Opened> {
    let row = app.store.referral_by_public_id(pid).await?;
    open_row(app, actor, row, ip).await
}

/// [`open`] for a referral already read (with the session, in one round trip:
/// `Store::session_with_referral`); `None` if there is no such referral.
pub async fn open_row(
    app: &App,
    actor: Actor,
    row: Option<ReferralRow>,
    ip: &str,
) -> Result<Opened> {
    let Some(row) = row else {
        return Ok(Opened::NotFound);
    };
    let referral = facts(&row);
    let editable = allowed(actor, Permission::EditDraft { referral });
    if !editable && !allowed(actor, Permission::ViewReferral { referral }) {
        refused(app, actor, &row, ip).await?;
        return Ok(Opened::NotFound);
    }
    let draft = row.draft.clone();
    let l = Loaded { row, draft, actor };
    Ok(if editable {
        Opened::Editable(l)
    } else {
        Opened::ReadOnly(l)
    })
}

/// Load a referral for its author only (submitting it, its confirmation page). Anyone
/// else gets `None` (audited as a refused access check).
pub async fn open_as_author(
    app: &App,
    actor: Actor,
    pid: &str,
    ip: &str,
) -> Result<Option<Loaded>> {
    let Some(row) = app.store.referral_by_public_id(pid).await? else {
        return Ok(None);
    };
    if !allowed(
        actor,
        Permission::ActAsReferrer {
            referral: facts(&row),
        },
    ) {
        refused(app, actor, &row, ip).await?;
        return Ok(None);
    }
    let draft = row.draft.clone();
    Ok(Some(Loaded { row, draft, actor }))
}

/// Record a failed access check (ASVS V16: every one is logged).
pub(crate) async fn refused(app: &App, actor: Actor, row: &ReferralRow, ip: &str) -> Result<()> {
    tracing::warn!(user_id = actor.user_id, role = %actor.role, referral_id = row.id, "access refused");
    let id = row.id.to_string();
    audit::record(
        app,
        Event {
            actor: Some(actor.user_id),
            action: "access-check",
            object_type: "referral",
            object_id: &id,
            outcome: "refused",
            ip,
        },
    )
    .await
}

/// Record that `l.actor` did `action` to the referral.
pub async fn record(app: &App, l: &Loaded, action: &str, ip: &str) -> Result<()> {
    let id = l.row.id.to_string();
    audit::record(
        app,
        Event {
            actor: Some(l.actor.user_id),
            action,
            object_type: "referral",
            object_id: &id,
            outcome: "success",
            ip,
        },
    )
    .await
}

pub(crate) fn entry<'a>(
    actor: &Actor,
    action: &'a str,
    id: &'a str,
    ip: &'a str,
) -> AuditEntry<'a> {
    AuditEntry {
        actor_user_id: Some(actor.user_id),
        action,
        object_type: "referral",
        object_id: id,
        outcome: "success",
        ip,
    }
}

pub(crate) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}
