//! Attachments: the list with each file to download, upload, remove.

use axum::extract::{Multipart, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use ehm_app::referrals::{self as uc, AddAttachment, Loaded};
use ehm_domain::referral::{AttachmentKind, MAX_ATTACHMENT_BYTES};
use minijinja::context;
use serde::Serialize;

use super::{Editable, Readable, referral_ctx};
use crate::client::ClientIp;
use crate::error::{AppError, AppResult};
use crate::render::{Errors, page};
use crate::routes::see_other;
use crate::session::Session;
use crate::state::AppState;

#[derive(Serialize)]
struct AttachmentItem {
    id: String,
    file_name: String,
    kind_label: &'static str,
    size_text: String,
    remove_action: String,
    href: String,
}

#[tracing::instrument(skip_all)]
pub(crate) async fn render(
    state: &AppState,
    session: &Session,
    l: &Loaded,
    errors: &Errors,
) -> AppResult<Response> {
    let pid = l.public_id();
    let attachments: Vec<AttachmentItem> = state
        .store
        .attachments_of(l.row.id)
        .await?
        .into_iter()
        .map(|a| AttachmentItem {
            kind_label: AttachmentKind::from_code(&a.kind)
                .map(|k| k.label())
                .unwrap_or("File"),
            size_text: ehm_domain::referral::attachment::format_size(a.size_bytes as usize),
            remove_action: format!("/referrals/{pid}/attachments/{}/delete", a.public_id),
            href: format!("/referrals/{pid}/attachments/{}", a.public_id),
            id: a.public_id,
            file_name: a.file_name,
        })
        .collect();
    Ok(page(
        state,
        session,
        "pages/referral/attachments.html",
        "Attachments",
        errors,
        context! {
            referral => referral_ctx(state, l),
            attachments,
            upload_action => format!("/referrals/{pid}/attachments"),
            max_mb => MAX_ATTACHMENT_BYTES / (1024 * 1024),
            task_list_href => format!("/referrals/{pid}"),
        },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn attachments_page(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Editable(l): Editable,
) -> AppResult<Response> {
    uc::record(&state.app, &l, "view-referral", &ip).await?;
    render(&state, &session, &l, &Errors::default()).await
}

#[tracing::instrument(skip_all)]
pub async fn upload(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Editable(l): Editable,
    mut multipart: Multipart,
) -> AppResult<Response> {
    let pid = l.public_id().to_string();
    let unreadable = || AppError::BadRequest("The upload could not be read");
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut version: Option<i64> = None;
    let mut too_big = false;
    while let Some(mut field) = multipart.next_field().await.map_err(|_| unreadable())? {
        match field.name() {
            Some("version") => version = field.text().await.ok().and_then(|v| v.parse().ok()),
            Some("file") if file.is_none() => {
                let name = field.file_name().unwrap_or("").to_string();
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(|_| unreadable())? {
                    if bytes.len() + chunk.len() > MAX_ATTACHMENT_BYTES {
                        too_big = true;
                        break;
                    }
                    bytes.extend_from_slice(&chunk);
                }
                if !name.is_empty() || !bytes.is_empty() {
                    file = Some((name, bytes));
                }
            }
            _ => {}
        }
    }
    let mut errors = Errors::default();
    if too_big {
        errors.add("file", "The selected file must be smaller than 10 MB");
        return render(&state, &session, &l, &errors).await;
    }
    let Some((name, bytes)) = file else {
        errors.add("file", "Select a file to upload");
        return render(&state, &session, &l, &errors).await;
    };
    match uc::add_attachment(&state.app, &l, &name, &bytes, version, &ip).await? {
        AddAttachment::Added => Ok(see_other(&format!("/referrals/{pid}/attachments"))),
        AddAttachment::Invalid(message) => {
            errors.add("file", message);
            render(&state, &session, &l, &errors).await
        }
        AddAttachment::Conflict => {
            errors.add("file", "This draft was changed in another window or tab. Check the list of files and upload the file again");
            let Some(row) = state.store.referral_by_public_id(&pid).await? else {
                return Err(AppError::NotFound);
            };
            let fresh = Loaded {
                draft: row.draft.clone(),
                row,
                actor: l.actor,
            };
            render(&state, &session, &fresh, &errors).await
        }
        AddAttachment::NotADraft => Ok(see_other(&format!("/referrals/{pid}"))),
    }
}

#[tracing::instrument(skip_all)]
pub async fn remove_attachment(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path((_, aid)): Path<(String, String)>,
    Editable(l): Editable,
) -> AppResult<Response> {
    uc::remove_attachment(&state.app, &l, &aid, &ip).await?;
    Ok(see_other(&format!(
        "/referrals/{}/attachments",
        l.public_id()
    )))
}

#[tracing::instrument(skip_all)]
pub async fn download_attachment(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path((_, aid)): Path<(String, String)>,
    Readable(l): Readable,
) -> AppResult<Response> {
    let file = uc::download(&state.app, &l, &aid, &ip)
        .await?
        .ok_or(AppError::NotFound)?;
    let safe_name: String = file
        .file_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || " ._-()".contains(*c))
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, file.content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", safe_name.trim()),
            ),
        ],
        file.bytes,
    )
        .into_response())
}
