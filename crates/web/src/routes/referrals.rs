//! The referrer's journey (R-09 … R-33): start a draft, fill the sections of the task
//! list (every page saves), check answers, submit, confirmation, PDF, attachments, delete.

use axum::body::Bytes;
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use ehm_domain::access::{Actor, Permission};
use ehm_domain::referral::form::{FormAction, apply_form, ensure_a_child, form_options, new_draft};
use ehm_domain::referral::{
    AttachmentDraft, CheckedAttachment, MAX_ATTACHMENT_BYTES, ReferenceNumber, ReferralDraft,
    Section, SectionStatus, parse_referral, section_status, section_summary, summary,
    validate_section,
};
use ehm_storage::{AuditEntry, NewMail, ReferralRow, STATUS_DRAFT, SaveOutcome, StorageError};
use minijinja::{Value, context};
use serde::Serialize;
use time::OffsetDateTime;

use super::{ClientIp, see_other};
use crate::auth;
use crate::error::{AppError, AppResult};
use crate::guard::{actor, authorize};
use crate::render::{Errors, page, page_with_status};
use crate::session::Session;
use crate::state::AppState;

pub const ATTACHMENTS_SLUG: &str = "attachments";

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn today() -> time::Date {
    now().date()
}

fn long_date(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[day padding:none] [month repr:long] [year]");
    t.format(&f).unwrap_or_default()
}

fn date_time(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!(
        "[day padding:none] [month repr:long] [year] at [hour]:[minute] UTC"
    );
    t.format(&f).unwrap_or_default()
}

/// A referral loaded for a request, after the access check.
pub(crate) struct Loaded {
    pub row: ReferralRow,
    pub draft: ReferralDraft,
    pub actor: Actor,
}

impl Loaded {
    fn is_draft(&self) -> bool {
        self.row.status == STATUS_DRAFT
    }
}

fn decode(row: &ReferralRow) -> AppResult<ReferralDraft> {
    serde_json::from_str(&row.data)
        .map_err(|e| AppError::Internal(format!("referral {} does not decode: {e}", row.id)))
}

fn encode(draft: &ReferralDraft) -> AppResult<String> {
    serde_json::to_string(draft).map_err(|e| AppError::Internal(e.to_string()))
}

async fn audit(
    state: &AppState,
    actor: &Actor,
    action: &str,
    row: &ReferralRow,
    ip: &str,
) -> AppResult<()> {
    let id = row.id.to_string();
    let entry = AuditEntry {
        actor_user_id: Some(actor.user_id),
        action,
        object_type: "referral",
        object_id: &id,
        outcome: "success",
        ip,
    };
    state.store.audit(&entry, now()).await?;
    Ok(())
}

/// Load a referral the signed-in user may edit (their own draft). Others get 404.
pub(crate) async fn load_draft(
    state: &AppState,
    session: &Session,
    pid: &str,
) -> AppResult<Loaded> {
    load(state, session, pid, |owner_id| Permission::EditDraft {
        owner_id,
    })
    .await
}

/// Load a referral the signed-in user may read (their own, or MASH staff).
async fn load_view(state: &AppState, session: &Session, pid: &str) -> AppResult<Loaded> {
    load(state, session, pid, |owner_id| Permission::ViewReferral {
        owner_id,
    })
    .await
}

/// Load by public id, then check the permission that names this referral's owner.
async fn load(
    state: &AppState,
    session: &Session,
    pid: &str,
    permission: impl Fn(i64) -> Permission,
) -> AppResult<Loaded> {
    actor(session)?; // not signed in: to the sign-in page, before any lookup
    let row = state
        .store
        .referral_by_public_id(pid)
        .await?
        .ok_or(AppError::NotFound)?;
    let actor = authorize(
        state,
        session,
        permission(row.owner_id),
        ("referral", &row.id.to_string()),
    )
    .await?;
    let draft = decode(&row)?;
    Ok(Loaded { row, draft, actor })
}

pub fn title_of(draft: &ReferralDraft) -> String {
    let names: Vec<String> = draft
        .children
        .iter()
        .map(|c| {
            format!("{} {}", c.first_name.trim(), c.last_name.trim())
                .trim()
                .to_string()
        })
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        "New referral".to_string()
    } else {
        format!("Referral for {}", names.join(", "))
    }
}

fn referral_ctx(state: &AppState, l: &Loaded) -> Value {
    context! {
        pid => &l.row.public_id,
        status => &l.row.status,
        version => l.row.version,
        reference => &l.row.reference,
        title => title_of(&l.draft),
        deletion_date => l.is_draft().then(|| long_date(l.row.saved_at + state.settings.draft_retention)),
    }
}

fn closed(state: &AppState, session: &Session) -> Response {
    let opens = state.settings.go_live.map(long_date);
    page_with_status(
        state,
        session,
        StatusCode::FORBIDDEN,
        "pages/closed.html",
        "The portal is not open yet",
        &Errors::default(),
        context! { opens, what => "refer" },
    )
}

// --------------------------------------------------------------------- home

#[derive(Serialize)]
struct DraftItem {
    title: String,
    saved_text: String,
    deletion_date: String,
    href: String,
}

#[derive(Serialize)]
struct SubmittedItem {
    title: String,
    reference: String,
    submitted_text: String,
    href: String,
}

/// The referrer's home: drafts (with their deletion dates) and submitted referrals.
pub async fn referrer_home(
    state: &AppState,
    session: &Session,
    live: bool,
    opens: Option<String>,
) -> AppResult<Response> {
    let actor = actor(session)?;
    let mut drafts = Vec::new();
    let mut submitted = Vec::new();
    for row in state.store.referrals_of(actor.user_id).await? {
        let draft = decode(&row)?;
        let href = format!("/referrals/{}", row.public_id);
        if row.status == STATUS_DRAFT {
            drafts.push(DraftItem {
                title: title_of(&draft),
                saved_text: date_time(row.saved_at),
                deletion_date: long_date(row.saved_at + state.settings.draft_retention),
                href,
            });
        } else {
            submitted.push(SubmittedItem {
                title: title_of(&draft),
                reference: row.reference.clone().unwrap_or_default(),
                submitted_text: row.submitted_at.map(date_time).unwrap_or_default(),
                href,
            });
        }
    }
    let flash = super::accounts::take_flash(state, session).await?;
    Ok(page(
        state,
        session,
        "pages/referrer_home.html",
        "Your referrals",
        &Errors::default(),
        context! { live, opens, drafts, submitted, new_action => "/referrals", flash },
    ))
}

// -------------------------------------------------------------------- start

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
) -> AppResult<Response> {
    let actor = authorize(
        &state,
        &session,
        Permission::CreateReferral,
        ("referral", "new"),
    )
    .await?;
    if !state.settings.is_live(now()) {
        return Ok(closed(&state, &session));
    }
    let draft = new_draft();
    let row = state
        .store
        .create_draft(
            &auth::random_token(),
            actor.user_id,
            &encode(&draft)?,
            now(),
        )
        .await?;
    audit(&state, &actor, "create-draft", &row, &ip).await?;
    Ok(see_other(&format!("/referrals/{}", row.public_id)))
}

// ---------------------------------------------------------------- task list

#[derive(Serialize)]
struct TaskItem {
    title: &'static str,
    href: String,
    status: &'static str,
}

fn status_code(s: SectionStatus) -> &'static str {
    match s {
        SectionStatus::NotStarted => "not-started",
        SectionStatus::InProgress => "in-progress",
        SectionStatus::Completed => "completed",
        SectionStatus::HasErrors => "has-errors",
    }
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Path(pid): Path<String>,
) -> AppResult<Response> {
    let l = load_view(&state, &session, &pid).await?;
    audit(&state, &l.actor, "view-referral", &l.row, &ip).await?;
    if !l.is_draft() {
        return Ok(page(
            &state,
            &session,
            "pages/referral/view.html",
            &title_of(&l.draft),
            &Errors::default(),
            context! {
                referral => referral_ctx(&state, &l),
                summary => summary(&l.draft),
                submitted_at => l.row.submitted_at.map(date_time),
                pdf_href => format!("/referrals/{pid}/pdf"),
            },
        ));
    }
    // Drafts are only ever shown to their owner.
    let l = load_draft(&state, &session, &pid).await?;
    let t = today();
    let sections: Vec<TaskItem> = Section::ALL
        .iter()
        .map(|s| TaskItem {
            title: s.title(),
            href: format!("/referrals/{pid}/{}", s.slug()),
            status: status_code(section_status(*s, &l.draft, t)),
        })
        .collect();
    let can_submit = parse_referral(&l.draft, t).is_ok();
    let flash = super::accounts::take_flash(&state, &session).await?;
    Ok(page(
        &state,
        &session,
        "pages/referral/task_list.html",
        "Make a referral",
        &Errors::default(),
        context! {
            referral => referral_ctx(&state, &l),
            sections,
            can_submit,
            flash,
            check_href => format!("/referrals/{pid}/check"),
            pdf_href => format!("/referrals/{pid}/pdf"),
            delete_href => format!("/referrals/{pid}/delete"),
        },
    ))
}

// ----------------------------------------------------------------- sections

fn section_of(slug: &str) -> AppResult<Section> {
    Section::from_slug(slug).ok_or(AppError::NotFound)
}

fn errors_from(list: Vec<ehm_domain::referral::FieldError>) -> Errors {
    let mut errors = Errors::default();
    for e in list {
        errors.add(&e.field, e.message);
    }
    errors
}

fn render_section(
    state: &AppState,
    session: &Session,
    l: &Loaded,
    section: Section,
    errors: &Errors,
) -> Response {
    let mut draft = l.draft.clone();
    ensure_a_child(&mut draft);
    // Suggest the account's name and email the first time; the referrer can change
    // them. Only shown, not saved, so the section stays "Not yet started" until saved.
    if section == Section::Referrer
        && !draft.is_saved(section)
        && let Some(user) = session.user()
    {
        if draft.referrer.name.trim().is_empty() {
            draft.referrer.name = user.display_name.clone();
        }
        if draft.referrer.email.trim().is_empty() {
            draft.referrer.email = user.email.clone();
        }
    }
    page(
        state,
        session,
        "pages/referral/section.html",
        section.title(),
        errors,
        context! {
            referral => referral_ctx(state, l),
            section => context! { slug => section.slug(), title => section.title() },
            d => Value::from_serialize(&draft),
            opt => Value::from_serialize(form_options()),
            form_action => format!("/referrals/{}/{}", l.row.public_id, section.slug()),
        },
    )
}

pub async fn section_form(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Path((pid, slug)): Path<(String, String)>,
) -> AppResult<Response> {
    let l = load_draft(&state, &session, &pid).await?;
    if !l.is_draft() {
        return Ok(see_other(&format!("/referrals/{pid}")));
    }
    audit(&state, &l.actor, "view-referral", &l.row, &ip).await?;
    if slug == ATTACHMENTS_SLUG {
        return render_attachments(&state, &session, &l, &Errors::default()).await;
    }
    let section = section_of(&slug)?;
    // Errors are shown once the section has been saved, not on a first visit.
    let errors = if l.draft.is_saved(section) && !l.draft.will_come_back_later(section) {
        errors_from(validate_section(section, &l.draft, today()))
    } else {
        Errors::default()
    };
    Ok(render_section(&state, &session, &l, section, &errors))
}

/// The fields of a posted form, minus the CSRF token and version.
/// Posted name/value pairs, in order.
type Fields = Vec<(String, String)>;

fn form_fields(body: &[u8]) -> AppResult<(Fields, Option<i64>)> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| AppError::BadRequest("The form could not be read"))?;
    let version = pairs
        .iter()
        .find(|(k, _)| k == "version")
        .and_then(|(_, v)| v.parse().ok());
    let fields = pairs
        .into_iter()
        .filter(|(k, _)| k != "csrf_token" && k != "version")
        .collect();
    Ok((fields, version))
}

pub async fn section_save(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Path((pid, slug)): Path<(String, String)>,
    body: Bytes,
) -> AppResult<Response> {
    let l = load_draft(&state, &session, &pid).await?;
    save_section(&state, &session, l, &slug, &body, &ip).await
}

/// Apply a posted section form to the draft and save it. Shared with the replay of
/// answers kept across a session timeout.
pub(crate) async fn save_section(
    state: &AppState,
    session: &Session,
    l: Loaded,
    slug: &str,
    body: &[u8],
    ip: &str,
) -> AppResult<Response> {
    let pid = l.row.public_id.clone();
    if !l.is_draft() {
        return Ok(see_other(&format!("/referrals/{pid}")));
    }
    let section = section_of(slug)?;
    let (fields, version) = form_fields(body)?;
    let version = version.ok_or(AppError::BadRequest("The form is missing its version"))?;
    let mut draft = l.draft.clone();
    let action = apply_form(section, &mut draft, &fields);
    match state
        .store
        .save_draft(l.row.id, version, &encode(&draft)?, now())
        .await?
    {
        SaveOutcome::Saved { version } => {
            audit(state, &l.actor, "save-draft", &l.row, ip).await?;
            let saved = Loaded {
                row: ReferralRow {
                    version,
                    saved_at: now(),
                    data: encode(&draft)?,
                    ..l.row.clone()
                },
                draft,
                actor: l.actor,
            };
            if action.stays_on_page() {
                return Ok(see_other(&format!("/referrals/{pid}/{slug}")));
            }
            if action == FormAction::Continue {
                let errors = validate_section(section, &saved.draft, today());
                if !errors.is_empty() && !saved.draft.will_come_back_later(section) {
                    return Ok(render_section(
                        state,
                        session,
                        &saved,
                        section,
                        &errors_from(errors),
                    ));
                }
            }
            Ok(see_other(&format!("/referrals/{pid}")))
        }
        SaveOutcome::Conflict => {
            let current = state
                .store
                .referral_by_public_id(&pid)
                .await?
                .ok_or(AppError::NotFound)?;
            let saved_draft = decode(&current)?;
            let mut yours = saved_draft.clone();
            apply_form(section, &mut yours, &fields);
            let rows = |d: &ReferralDraft| {
                let s = section_summary(section, d);
                let mut out: Vec<Value> = s
                    .rows
                    .iter()
                    .map(|r| context! { key => &r.label, value => &r.value })
                    .collect();
                for g in &s.groups {
                    out.extend(g.rows.iter().map(|r| context! { key => format!("{}: {}", g.heading, r.label), value => &r.value }));
                }
                out
            };
            let posted: Vec<Value> = fields
                .iter()
                .map(|(k, v)| context! { name => k, value => v })
                .collect();
            let l2 = Loaded {
                row: current.clone(),
                draft: saved_draft.clone(),
                actor: l.actor,
            };
            Ok(page_with_status(
                state,
                session,
                StatusCode::CONFLICT,
                "pages/referral/conflict.html",
                "This section was changed somewhere else",
                &Errors::default(),
                context! {
                    referral => referral_ctx(state, &l2),
                    section => context! { slug => section.slug(), title => section.title() },
                    saved_rows => rows(&saved_draft),
                    your_rows => rows(&yours),
                    posted,
                    form_action => format!("/referrals/{pid}/{slug}"),
                    current_version => current.version,
                },
            ))
        }
        SaveOutcome::NotADraft => Ok(see_other(&format!("/referrals/{pid}"))),
    }
}

// ------------------------------------------------------------- attachments

#[derive(Serialize)]
struct AttachmentItem {
    id: String,
    file_name: String,
    kind_label: &'static str,
    size_text: String,
    remove_action: String,
    href: String,
}

async fn render_attachments(
    state: &AppState,
    session: &Session,
    l: &Loaded,
    errors: &Errors,
) -> AppResult<Response> {
    let pid = &l.row.public_id;
    let attachments: Vec<AttachmentItem> = state
        .store
        .attachments_of(l.row.id)
        .await?
        .into_iter()
        .map(|a| AttachmentItem {
            kind_label: ehm_domain::referral::AttachmentKind::from_code(&a.kind)
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

pub async fn attachments_page(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Path(pid): Path<String>,
) -> AppResult<Response> {
    section_form(
        State(state),
        session,
        ClientIp(ip),
        Path((pid, ATTACHMENTS_SLUG.to_string())),
    )
    .await
}

pub async fn upload(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Path(pid): Path<String>,
    mut multipart: Multipart,
) -> AppResult<Response> {
    let l = load_draft(&state, &session, &pid).await?;
    if !l.is_draft() {
        return Ok(see_other(&format!("/referrals/{pid}")));
    }
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut version: Option<i64> = None;
    let mut too_big = false;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|_| AppError::BadRequest("The upload could not be read"))?
    {
        match field.name() {
            Some("version") => version = field.text().await.ok().and_then(|v| v.parse().ok()),
            Some("file") => {
                let name = field.file_name().unwrap_or("").to_string();
                let mut bytes = Vec::new();
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|_| AppError::BadRequest("The upload could not be read"))?
                {
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
        return render_attachments(&state, &session, &l, &errors).await;
    }
    let Some((name, bytes)) = file else {
        errors.add("file", "Select a file to upload");
        return render_attachments(&state, &session, &l, &errors).await;
    };
    let checked = match CheckedAttachment::check(&name, &bytes) {
        Ok(c) => c,
        Err(e) => {
            errors.add("file", e);
            return render_attachments(&state, &session, &l, &errors).await;
        }
    };
    let attachment_id = auth::random_token();
    let mut draft = l.draft.clone();
    draft.attachments.push(AttachmentDraft {
        id: attachment_id.clone(),
        file_name: checked.file_name.clone(),
        kind: checked.kind.code().to_string(),
        size_bytes: checked.size_bytes as u64,
    });
    draft.mark_saved(Section::Attachments);
    match state
        .store
        .save_draft(
            l.row.id,
            version.unwrap_or(l.row.version),
            &encode(&draft)?,
            now(),
        )
        .await?
    {
        SaveOutcome::Saved { .. } => {
            state
                .store
                .add_attachment(
                    l.row.id,
                    &attachment_id,
                    &checked.file_name,
                    checked.kind.code(),
                    &bytes,
                    now(),
                )
                .await?;
            audit(&state, &l.actor, "add-attachment", &l.row, &ip).await?;
            Ok(see_other(&format!("/referrals/{pid}/attachments")))
        }
        SaveOutcome::Conflict => {
            errors.add("file", "This draft was changed in another window or tab. Check the list of files and upload the file again");
            let l = load_draft(&state, &session, &pid).await?;
            render_attachments(&state, &session, &l, &errors).await
        }
        SaveOutcome::NotADraft => Ok(see_other(&format!("/referrals/{pid}"))),
    }
}

pub async fn remove_attachment(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Path((pid, aid)): Path<(String, String)>,
) -> AppResult<Response> {
    let l = load_draft(&state, &session, &pid).await?;
    if !l.is_draft() {
        return Ok(see_other(&format!("/referrals/{pid}")));
    }
    let mut draft = l.draft.clone();
    draft.attachments.retain(|a| a.id != aid);
    // Retry once on a concurrent save: removing a file must not need a second click.
    for attempt in 0..2 {
        let current = if attempt == 0 {
            l.row.clone()
        } else {
            state
                .store
                .referral_by_public_id(&pid)
                .await?
                .ok_or(AppError::NotFound)?
        };
        if attempt == 1 {
            draft = decode(&current)?;
            draft.attachments.retain(|a| a.id != aid);
        }
        if let SaveOutcome::Saved { .. } = state
            .store
            .save_draft(current.id, current.version, &encode(&draft)?, now())
            .await?
        {
            state.store.delete_attachment(l.row.id, &aid).await?;
            audit(&state, &l.actor, "remove-attachment", &l.row, &ip).await?;
            break;
        }
    }
    Ok(see_other(&format!("/referrals/{pid}/attachments")))
}

pub async fn download_attachment(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Path((pid, aid)): Path<(String, String)>,
) -> AppResult<Response> {
    let l = load_view(&state, &session, &pid).await?;
    let (meta, bytes) = state
        .store
        .attachment_content(l.row.id, &aid)
        .await?
        .ok_or(AppError::NotFound)?;
    audit(&state, &l.actor, "download-attachment", &l.row, &ip).await?;
    let kind = ehm_domain::referral::AttachmentKind::from_code(&meta.kind);
    let content_type = kind
        .map(|k| k.content_type())
        .unwrap_or("application/octet-stream");
    let safe_name: String = meta
        .file_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || " ._-()".contains(*c))
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", safe_name.trim()),
            ),
        ],
        bytes,
    )
        .into_response())
}

// ------------------------------------------------------------ check, submit

#[derive(Serialize)]
struct Problem {
    field: String,
    message: String,
    href: String,
}

fn problems(pid: &str, draft: &ReferralDraft) -> Vec<Problem> {
    let t = today();
    Section::ALL
        .iter()
        .flat_map(|s| {
            validate_section(*s, draft, t)
                .into_iter()
                .map(move |e| Problem {
                    href: format!("/referrals/{pid}/{}#{}", s.slug(), e.field),
                    field: e.field,
                    message: e.message,
                })
        })
        .collect()
}

pub async fn check(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Path(pid): Path<String>,
) -> AppResult<Response> {
    let l = load_draft(&state, &session, &pid).await?;
    if !l.is_draft() {
        return Ok(see_other(&format!("/referrals/{pid}")));
    }
    audit(&state, &l.actor, "view-referral", &l.row, &ip).await?;
    Ok(render_check(&state, &session, &l))
}

fn render_check(state: &AppState, session: &Session, l: &Loaded) -> Response {
    let pid = &l.row.public_id;
    page(
        state,
        session,
        "pages/referral/check_answers.html",
        "Check your answers before submitting your referral",
        &Errors::default(),
        context! {
            referral => referral_ctx(state, l),
            summary => summary(&l.draft),
            problems => problems(pid, &l.draft),
            submit_action => format!("/referrals/{pid}/submit"),
        },
    )
}

pub async fn submit(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Path(pid): Path<String>,
    body: Bytes,
) -> AppResult<Response> {
    let l = load_draft(&state, &session, &pid).await?;
    if !l.is_draft() {
        // A second click, or going back and submitting again: never a second referral.
        return Ok(see_other(&format!("/referrals/{pid}/confirmation")));
    }
    if !state.settings.is_live(now()) {
        return Ok(closed(&state, &session));
    }
    let (_, version) = form_fields(&body)?;
    if version != Some(l.row.version) {
        // The draft changed since the check page was shown: show the answers again.
        return Ok(see_other(&format!("/referrals/{pid}/check")));
    }
    let referral = match parse_referral(&l.draft, today()) {
        Ok(r) => r,
        Err(_) => return Ok(render_check(&state, &session, &l)),
    };
    let user = session.user().ok_or(AppError::SignInRequired)?;
    let data = encode(&l.draft)?;
    for _ in 0..5 {
        let bytes = auth::random_bytes(8);
        let mut arr = [0u8; 8];
        arr.copy_from_slice(&bytes);
        let reference = ReferenceNumber::generate(arr).to_string();
        let t = now();
        let mut tx = state.store.begin().await?;
        match state
            .store
            .submit_referral(
                &mut tx,
                &ehm_storage::Submission {
                    id: l.row.id,
                    expected_version: l.row.version,
                    data: &data,
                    reference: &reference,
                    referral_type: referral.referral_type.code(),
                },
                t,
            )
            .await
        {
            Ok(true) => {}
            Ok(false) => return Ok(see_other(&format!("/referrals/{pid}"))),
            Err(StorageError::ReferenceTaken) => continue,
            Err(e) => return Err(e.into()),
        }
        let body = format!(
            "Thank you. Your referral has been submitted to the Multi-Agency Safeguarding Hub (MASH).\n\n\
             Your reference number is: {reference}\n\n\
             Quote this reference if you contact MASH about this referral. MASH will review it and send you \
             feedback on the outcome by email or letter.\n\n\
             This email was sent from an address that cannot receive replies. For urgent queries, or if you \
             have not had feedback, call MASH on {phone}.\n\n\
             If a child is in immediate danger call 999.\n",
            phone = state.settings.mash_phone,
        );
        let message_id = auth::random_token();
        let subject = format!("Referral submitted: {reference}");
        state
            .store
            .enqueue_mail(
                &mut tx,
                NewMail {
                    message_id: &message_id,
                    to: &user.email,
                    subject: &subject,
                    body_text: &body,
                },
                t,
            )
            .await?;
        let id = l.row.id.to_string();
        state
            .store
            .audit_tx(
                &mut tx,
                &AuditEntry {
                    actor_user_id: Some(l.actor.user_id),
                    action: "submit-referral",
                    object_type: "referral",
                    object_id: &id,
                    outcome: "success",
                    ip: &ip,
                },
                t,
            )
            .await?;
        tx.commit().await.map_err(StorageError::from)?;
        return Ok(see_other(&format!("/referrals/{pid}/confirmation")));
    }
    Err(AppError::Internal(
        "could not draw a unique reference number".into(),
    ))
}

pub async fn confirmation(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Path(pid): Path<String>,
) -> AppResult<Response> {
    let l = load_view(&state, &session, &pid).await?;
    if l.is_draft() {
        return Ok(see_other(&format!("/referrals/{pid}")));
    }
    audit(&state, &l.actor, "view-referral", &l.row, &ip).await?;
    let email = session.user().map(|u| u.email.clone());
    Ok(page(
        &state,
        &session,
        "pages/referral/confirmation.html",
        "Referral submitted",
        &Errors::default(),
        context! {
            referral => referral_ctx(&state, &l),
            reference => &l.row.reference,
            email,
            view_href => format!("/referrals/{pid}"),
            pdf_href => format!("/referrals/{pid}/pdf"),
        },
    ))
}

// ---------------------------------------------------------------------- PDF

pub async fn pdf(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Path(pid): Path<String>,
) -> AppResult<Response> {
    let l = load_view(&state, &session, &pid).await?;
    audit(&state, &l.actor, "pdf-referral", &l.row, &ip).await?;
    let doc = crate::pdf::document(&l.draft, l.row.reference.as_deref(), now());
    let bytes = tokio::task::spawn_blocking(move || ehm_pdf::render(&doc))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let name = l
        .row
        .reference
        .clone()
        .unwrap_or_else(|| "draft-referral".into());
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.pdf\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

// ------------------------------------------------------------------- delete

pub async fn delete_form(
    State(state): State<AppState>,
    session: Session,
    Path(pid): Path<String>,
) -> AppResult<Response> {
    let l = load_draft(&state, &session, &pid).await?;
    if !l.is_draft() {
        return Ok(see_other(&format!("/referrals/{pid}")));
    }
    Ok(page(
        &state,
        &session,
        "pages/referral/delete.html",
        "Are you sure you want to delete this draft?",
        &Errors::default(),
        context! { referral => referral_ctx(&state, &l), delete_action => format!("/referrals/{pid}/delete"), cancel_href => format!("/referrals/{pid}") },
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Path(pid): Path<String>,
) -> AppResult<Response> {
    let l = load_draft(&state, &session, &pid).await?;
    if state.store.delete_draft(l.row.id).await? {
        audit(&state, &l.actor, "delete-draft", &l.row, &ip).await?;
        let mut data = session.data.clone();
        data.flash = Some("Your draft has been deleted.".into());
        session
            .set_stage(&state.store, session.stage, Some(l.actor.user_id), &data)
            .await?;
    }
    Ok(see_other("/"))
}

// ------------------------------------------- answers kept across a timeout

/// After sign-in: save the answers that were posted after the session had timed out
/// through the same path as a normal save (so a newer save elsewhere is shown as a
/// conflict, never silently overwritten).
pub async fn kept_answers(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
) -> AppResult<Response> {
    let actor = actor(&session)?;
    let pending = state.store.pending_saves_of(actor.user_id).await?;
    let Some(last) = pending.last() else {
        return Ok(see_other("/"));
    };
    // Only the newest answers for each page matter.
    for p in &pending {
        state.store.delete_pending_save(p.id).await?;
    }
    let segs: Vec<&str> = last.path.trim_start_matches('/').split('/').collect();
    let [_, pid, slug] = segs[..] else {
        return Ok(see_other("/"));
    };
    let l = match load_draft(&state, &session, pid).await {
        Ok(l) => l,
        Err(AppError::NotFound) => return Ok(see_other("/")),
        Err(e) => return Err(e),
    };
    let response = save_section(&state, &session, l, slug, last.body.as_bytes(), &ip).await?;
    if response.status() == StatusCode::SEE_OTHER {
        let mut data = session.data.clone();
        data.flash =
            Some("The answers you entered before you were signed out have been saved.".into());
        session
            .set_stage(&state.store, session.stage, Some(actor.user_id), &data)
            .await?;
    }
    Ok(response)
}
