//! Attachments: checked by content, at most 10 per referral, 10 MB each.

use ehm_domain::referral::{
    AttachmentDraft, AttachmentKind, CheckedAttachment, MAX_ATTACHMENTS, Section,
};
use ehm_storage::{AttachmentRow, SaveOutcome as Stored};

use super::{Loaded, now, record};
use crate::{App, Result, crypto};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddAttachment {
    Added,
    /// No file, an unsupported type, too big, or too many files: the message says which.
    Invalid(String),
    /// The draft changed in another tab since the page was shown.
    Conflict,
    NotADraft,
}

/// Add a file to a draft the actor may edit.
pub async fn add_attachment(
    app: &App,
    l: &Loaded,
    name: &str,
    bytes: &[u8],
    version: Option<i64>,
    ip: &str,
) -> Result<AddAttachment> {
    if l.draft.attachments.len() >= MAX_ATTACHMENTS {
        return Ok(AddAttachment::Invalid(format!(
            "You can attach up to {MAX_ATTACHMENTS} files. Remove a file before you add another"
        )));
    }
    let checked = match CheckedAttachment::check(name, bytes) {
        Ok(c) => c,
        Err(e) => return Ok(AddAttachment::Invalid(e.to_string())),
    };
    let attachment_id = crypto::random_token();
    let mut draft = l.draft.clone();
    draft.attachments.push(AttachmentDraft {
        id: attachment_id.clone(),
        file_name: checked.file_name.clone(),
        kind: checked.kind.code().to_string(),
        size_bytes: checked.size_bytes as u64,
    });
    draft.mark_saved(Section::Attachments);
    match app
        .store
        .save_draft(l.row.id, version.unwrap_or(l.row.version), &draft, now())
        .await?
    {
        Stored::Saved { .. } => {
            app.store
                .add_attachment(
                    l.row.id,
                    &attachment_id,
                    &checked.file_name,
                    checked.kind.code(),
                    bytes,
                    now(),
                )
                .await?;
            record(app, l, "add-attachment", ip).await?;
            Ok(AddAttachment::Added)
        }
        Stored::Conflict => Ok(AddAttachment::Conflict),
        Stored::NotADraft => Ok(AddAttachment::NotADraft),
    }
}

/// Remove a file from a draft (retried once if another tab saved meanwhile, so removing a
/// file never needs a second click).
pub async fn remove_attachment(app: &App, l: &Loaded, aid: &str, ip: &str) -> Result<()> {
    let mut current = l.row.clone();
    let mut draft = l.draft.clone();
    for attempt in 0..2 {
        if attempt == 1 {
            let Some(row) = app.store.referral_by_public_id(&l.row.public_id).await? else {
                return Ok(());
            };
            draft = row.draft.clone();
            current = row;
        }
        draft.attachments.retain(|a| a.id != aid);
        if let Stored::Saved { .. } = app
            .store
            .save_draft(current.id, current.version, &draft, now())
            .await?
        {
            app.store.delete_attachment(l.row.id, aid).await?;
            record(app, l, "remove-attachment", ip).await?;
            break;
        }
    }
    Ok(())
}

/// A file to send back to the browser.
pub struct Download {
    pub file_name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// A file of a referral the actor may read.
pub async fn download(app: &App, l: &Loaded, aid: &str, ip: &str) -> Result<Option<Download>> {
    let Some((meta, bytes)): Option<(AttachmentRow, Vec<u8>)> =
        app.store.attachment_content(l.row.id, aid).await?
    else {
        return Ok(None);
    };
    record(app, l, "download-attachment", ip).await?;
    let content_type = AttachmentKind::from_code(&meta.kind)
        .map(|k| k.content_type())
        .unwrap_or("application/octet-stream");
    Ok(Some(Download {
        file_name: meta.file_name,
        content_type,
        bytes,
    }))
}
