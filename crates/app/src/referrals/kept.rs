//! Answers posted after a session timed out: kept server-side for their draft, then
//! saved through the normal save path once the person signs in again.

use ehm_domain::access::Actor;
use ehm_domain::form_fields::FormFields;
use ehm_domain::referral::form::apply_form;
use ehm_domain::referral::{ReferralDraft, Section};
use ehm_storage::{NewPendingSave, PendingKind, PendingSave};

use super::drafts::FINGERPRINT_FIELD;
use super::{Loaded, Opened, SaveOutcome, now, open, save_section};
use crate::{App, Result};

/// Keep `fields` posted to `pid`'s section `slug` by `user_id`, whose session has just
/// timed out. Only the owner's own draft qualifies; returns false otherwise.
pub async fn keep_answers(
    app: &App,
    user_id: i64,
    pid: &str,
    slug: &str,
    fields: &FormFields,
) -> Result<bool> {
    let Some(section) = Section::from_slug(slug) else {
        return Ok(false);
    };
    let Some(row) = app.store.referral_by_public_id(pid).await? else {
        return Ok(false);
    };
    if row.owner_id != user_id || !row.is_draft() {
        return Ok(false);
    }
    let base_version = fields
        .get("version")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(row.version);
    let pairs = fields.without(&["csrf_token", "version"]);
    let json = serde_json::to_string(pairs.pairs())
        .map_err(|e| anyhow::anyhow!("encoding kept answers: {e}"))?;
    app.store
        .add_pending_save(
            &NewPendingSave {
                user_id,
                referral_id: row.id,
                section: section.slug(),
                base_version,
                fields_json: &json,
                kind: PendingKind::Kept,
            },
            now(),
        )
        .await?;
    Ok(true)
}

/// What became of one set of kept answers.
#[derive(Debug, Clone)]
pub struct Restored {
    pub public_id: String,
    pub section: Section,
    pub outcome: SaveOutcome,
}

/// Save every set of kept answers of `actor`, oldest first, each through
/// [`save_section`] with the version it was typed against (so newer work saved elsewhere
/// in the same section is reported as a conflict, never overwritten). A conflict is kept
/// for the person to resolve from the task list ([`conflicts`], [`resolve_conflict`]).
/// Answers for a draft that has gone (submitted or deleted) are dropped.
pub async fn restore_kept(app: &App, actor: Actor, ip: &str) -> Result<Vec<Restored>> {
    let mut out = Vec::new();
    for p in app.store.pending_saves_of(actor.user_id).await? {
        let section = Section::from_slug(&p.section);
        let fields = fields_of(&p);
        if let (Some(section), Opened::Editable(l)) =
            (section, open(app, actor, &p.referral_public_id, ip).await?)
        {
            let outcome = save_section(app, &l, section, &fields, Some(p.base_version), ip).await?;
            let conflict = matches!(outcome, SaveOutcome::Conflict { .. });
            out.push(Restored {
                public_id: p.referral_public_id.clone(),
                section,
                outcome,
            });
            if conflict {
                app.store.mark_pending_conflict(p.id).await?;
                record_kept(app, actor, l.row.id, "keep-conflict", ip).await?;
                continue;
            }
        }
        app.store.delete_pending_save(p.id).await?;
    }
    Ok(out)
}

fn fields_of(p: &PendingSave) -> FormFields {
    let pairs: Vec<(String, String)> = serde_json::from_str(&p.fields_json).unwrap_or_default();
    FormFields::from_pairs(pairs).unwrap_or_default()
}

async fn record_kept(
    app: &App,
    actor: Actor,
    referral_id: i64,
    action: &str,
    ip: &str,
) -> Result<()> {
    let id = referral_id.to_string();
    crate::audit::record(
        app,
        crate::audit::Event {
            actor: Some(actor.user_id),
            action,
            object_type: "referral",
            object_id: &id,
            outcome: "success",
            ip,
        },
    )
    .await
}

/// An automatic save (a page saving itself as the session ended) that found the section
/// changed since the page was shown: nothing was overwritten, and the answers are kept as
/// a conflict for the person to resolve from the task list.
pub async fn keep_conflict(
    app: &App,
    l: &Loaded,
    section: Section,
    fields: &FormFields,
    base_version: i64,
    ip: &str,
) -> Result<()> {
    let pairs = fields.without(&["csrf_token", "version"]);
    let json = serde_json::to_string(pairs.pairs())
        .map_err(|e| anyhow::anyhow!("encoding kept answers: {e}"))?;
    app.store
        .add_pending_save(
            &NewPendingSave {
                user_id: l.actor.user_id,
                referral_id: l.row.id,
                section: section.slug(),
                base_version,
                fields_json: &json,
                kind: PendingKind::Conflict,
            },
            now(),
        )
        .await?;
    record_kept(app, l.actor, l.row.id, "keep-conflict", ip).await
}

/// A section of a draft with answers waiting to be compared with what was saved since.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub id: i64,
    pub section: Section,
    /// The saved draft with the kept answers applied to this section.
    pub yours: ReferralDraft,
    pub posted: Vec<(String, String)>,
}

/// The conflicts of a draft, oldest first (for its author only).
pub async fn conflicts(app: &App, l: &Loaded) -> Result<Vec<Conflict>> {
    if !l.is_draft() || l.row.owner_id != l.actor.user_id {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for p in app.store.conflicts_of(l.row.id).await? {
        let Some(section) = Section::from_slug(&p.section) else {
            continue;
        };
        let fields = fields_of(&p).without(&[FINGERPRINT_FIELD]);
        let mut yours = l.draft.clone();
        apply_form(section, &mut yours, &fields);
        out.push(Conflict {
            id: p.id,
            section,
            yours,
            posted: fields.pairs().to_vec(),
        });
    }
    Ok(out)
}

/// What the person chose for a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Save the kept answers over what was saved since.
    Mine,
    /// Keep what was saved; forget the kept answers.
    Saved,
}

#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum ResolveOutcome {
    /// The choice was made (the kept answers saved, or forgotten). `saved` is the save's
    /// outcome when they were saved.
    Resolved { saved: Option<SaveOutcome> },
    /// No conflict waits for this section.
    NothingToResolve,
}

/// Resolve the oldest conflict of `section` of the draft `l` (its author's own draft).
pub async fn resolve_conflict(
    app: &App,
    l: &Loaded,
    section: Section,
    choice: Choice,
    ip: &str,
) -> Result<ResolveOutcome> {
    let Some(c) = conflicts(app, l)
        .await?
        .into_iter()
        .find(|c| c.section == section)
    else {
        return Ok(ResolveOutcome::NothingToResolve);
    };
    match choice {
        Choice::Mine => {
            let fields = FormFields::from_pairs(c.posted.clone()).unwrap_or_default();
            let outcome = save_section(app, l, section, &fields, Some(l.row.version), ip).await?;
            if matches!(outcome, SaveOutcome::Saved { .. } | SaveOutcome::NotADraft) {
                app.store.delete_pending_save(c.id).await?;
            }
            Ok(ResolveOutcome::Resolved {
                saved: Some(outcome),
            })
        }
        Choice::Saved => {
            app.store.delete_pending_save(c.id).await?;
            record_kept(app, l.actor, l.row.id, "discard-conflict", ip).await?;
            Ok(ResolveOutcome::Resolved { saved: None })
        }
    }
}

/// How many sets of answers of `user_id` are kept until they sign in again.
pub async fn kept_count(app: &App, user_id: i64) -> Result<i64> {
    Ok(app.store.count_pending_saves(user_id).await?)
}
