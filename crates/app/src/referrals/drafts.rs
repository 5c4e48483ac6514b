//! Starting, saving and deleting drafts.

use ehm_domain::access::{Actor, Permission, allowed};
use ehm_domain::form_fields::FormFields;
use ehm_domain::referral::form::{FormAction, apply_form, new_draft};
use ehm_domain::referral::{ReferralDraft, Section};
use ehm_storage::{ReferralRow, SaveOutcome as Stored};

use super::{Loaded, MAX_OPEN_DRAFTS, entry, now, record};
use crate::audit::{self, Event};
use crate::{App, Result, crypto};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    Created {
        public_id: String,
    },
    /// Before the go-live date nobody can refer.
    Closed,
    /// Only referrers start referrals.
    NotAllowed,
    /// The referrer already has [`MAX_OPEN_DRAFTS`] drafts.
    TooManyDrafts,
}

pub async fn create_draft(app: &App, actor: Actor, ip: &str) -> Result<CreateOutcome> {
    if !allowed(actor, Permission::CreateReferral) {
        audit::record(
            app,
            Event {
                actor: Some(actor.user_id),
                action: "access-check",
                object_type: "referral",
                object_id: "new",
                outcome: "refused",
                ip,
            },
        )
        .await?;
        return Ok(CreateOutcome::NotAllowed);
    }
    if !app.settings.is_live(now()) {
        return Ok(CreateOutcome::Closed);
    }
    if app.store.count_drafts_of(actor.user_id).await? >= MAX_OPEN_DRAFTS {
        return Ok(CreateOutcome::TooManyDrafts);
    }
    let row = app
        .store
        .create_draft(&crypto::random_token(), actor.user_id, &new_draft(), now())
        .await?;
    let l = Loaded {
        draft: row.draft.clone(),
        row,
        actor,
    };
    record(app, &l, "create-draft", ip).await?;
    Ok(CreateOutcome::Created {
        public_id: l.row.public_id,
    })
}

#[derive(Debug, Clone)]
// One value per request, moved once: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum SaveOutcome {
    /// Saved; `action` is the button the person pressed.
    Saved { loaded: Loaded, action: FormAction },
    /// Someone (another tab) saved since the page was shown: nothing was written.
    Conflict {
        current: Loaded,
        yours: ReferralDraft,
        /// What was posted, to offer saving it over the newer answers.
        posted: Vec<(String, String)>,
    },
    /// The referral is no longer a draft (submitted or deleted meanwhile).
    NotADraft,
    /// The form did not say which version it was based on.
    MissingVersion,
}

/// The hidden field of a section page holding [`section_fingerprint`] of what it showed.
pub const FINGERPRINT_FIELD: &str = "section_hash";

/// A digest of one section's answers in `draft`. A page posted with an old version is
/// saved all the same when the digest it was shown with is still the section's: only
/// *other* sections were saved since (another tab), so nothing newer is overwritten.
pub fn section_fingerprint(section: Section, draft: &ReferralDraft) -> String {
    let summary = serde_json::to_string(&ehm_domain::referral::section_summary(section, draft))
        .unwrap_or_default();
    crypto::sha256_hex(&format!(
        "{}|{}|{}|{summary}",
        section.slug(),
        draft.is_saved(section),
        draft.will_come_back_later(section)
    ))
}

/// Apply a posted section form to the draft and save it if nobody saved since `version`,
/// or if only other sections were saved since (see [`section_fingerprint`]). Each save
/// restarts the retention period.
pub async fn save_section(
    app: &App,
    l: &Loaded,
    section: Section,
    fields: &FormFields,
    version: Option<i64>,
    ip: &str,
) -> Result<SaveOutcome> {
    let Some(mut version) = version else {
        return Ok(SaveOutcome::MissingVersion);
    };
    let shown = fields.get(FINGERPRINT_FIELD).map(str::to_owned);
    let fields = &fields.without(&[FINGERPRINT_FIELD]);
    if version != l.row.version
        && shown.as_deref() == Some(section_fingerprint(section, &l.draft).as_str())
    {
        // Older than the draft, but this section is as the page showed it.
        version = l.row.version;
    }
    let mut draft = l.draft.clone();
    let action = apply_form(section, &mut draft, fields);
    let t = now();
    // One commit: the draft and its audit record together, in a group commit with the
    // other saves of the moment.
    let id = l.row.id.to_string();
    match app
        .store
        .save_draft_audited(
            l.row.id,
            version,
            &draft,
            t,
            &entry(&l.actor, "save-draft", &id, ip),
        )
        .await?
    {
        Stored::Saved { version } => {
            let loaded = Loaded {
                row: ReferralRow {
                    version,
                    saved_at: t,
                    draft: draft.clone(),
                    ..l.row.clone()
                },
                draft,
                actor: l.actor,
            };
            Ok(SaveOutcome::Saved { loaded, action })
        }
        Stored::Conflict => {
            let Some(row) = app.store.referral_by_public_id(&l.row.public_id).await? else {
                return Ok(SaveOutcome::NotADraft);
            };
            let saved = row.draft.clone();
            let mut yours = saved.clone();
            apply_form(section, &mut yours, fields);
            Ok(SaveOutcome::Conflict {
                current: Loaded {
                    row,
                    draft: saved,
                    actor: l.actor,
                },
                yours,
                posted: fields.pairs().to_vec(),
            })
        }
        Stored::NotADraft => Ok(SaveOutcome::NotADraft),
    }
}

/// Delete a draft completely: its attachments and kept answers go with it.
pub async fn delete_draft(app: &App, l: &Loaded, ip: &str) -> Result<bool> {
    let deleted = app.store.delete_draft(l.row.id).await?;
    if deleted {
        record(app, l, "delete-draft", ip).await?;
    }
    Ok(deleted)
}
