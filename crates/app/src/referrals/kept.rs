//! Answers posted after a session timed out: kept server-side for their draft, then
//! saved through the normal save path once the person signs in again.

use ehm_domain::access::Actor;
use ehm_domain::form_fields::FormFields;
use ehm_domain::referral::Section;
use ehm_storage::NewPendingSave;

use super::{Opened, SaveOutcome, now, open, save_section};
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
/// is reported as a conflict, never overwritten). Answers for a draft that has gone
/// (submitted or deleted) are dropped.
pub async fn restore_kept(app: &App, actor: Actor, ip: &str) -> Result<Vec<Restored>> {
    let mut out = Vec::new();
    for p in app.store.pending_saves_of(actor.user_id).await? {
        let section = Section::from_slug(&p.section);
        let pairs: Vec<(String, String)> = serde_json::from_str(&p.fields_json).unwrap_or_default();
        let fields = FormFields::from_pairs(pairs).unwrap_or_default();
        if let (Some(section), Opened::Editable(l)) =
            (section, open(app, actor, &p.referral_public_id, ip).await?)
        {
            let outcome = save_section(app, &l, section, &fields, Some(p.base_version), ip).await?;
            out.push(Restored {
                public_id: p.referral_public_id.clone(),
                section,
                outcome,
            });
        }
        app.store.delete_pending_save(p.id).await?;
    }
    Ok(out)
}
