//! The referrer's journey (R-09 … R-33), one file per area. Access to a referral is
//! decided once, by the [`Editable`] and [`Readable`] extractors, which ask
//! `ehm_app::referrals::open` (and so `domain::access::allowed`) about the referral named
//! in the path; handlers never re-check.

pub mod attachments;
pub mod pdf;
pub mod sections;
pub mod submit;

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use ehm_app::referrals::{self as uc, CreateOutcome, Loaded, Opened, SaveOutcome};
use ehm_domain::referral::{
    ReferralDraft, Section, SectionStatus, parse_referral, section_status, summary,
};
use minijinja::{Value, context};
use serde::Serialize;
use time::OffsetDateTime;

use super::see_other;
use crate::client::ClientIp;
use crate::error::{AppError, AppResult};
use crate::extract::ActorOnReferral;
use crate::guard::actor;
use crate::render::{Errors, page, page_with_status};
use crate::session::Session;
use crate::state::AppState;

pub const ATTACHMENTS_SLUG: &str = "attachments";

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

pub(crate) fn long_date(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[day padding:none] [month repr:long] [year]");
    t.format(&f).unwrap_or_default()
}

pub(crate) fn date_time(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!(
        "[day padding:none] [month repr:long] [year] at [hour]:[minute] UTC"
    );
    t.format(&f).unwrap_or_default()
}

/// The referral named by the path's `{pid}`, opened for the signed-in actor.
async fn open_from_path(parts: &mut Parts, state: &AppState) -> Result<(Opened, String), Response> {
    let ActorOnReferral { actor, pid, ip } =
        ActorOnReferral::from_request_parts(parts, state).await?;
    // The session's middleware read this referral with the session when the path named
    // it (one round trip for both); otherwise it is read here.
    let prefetched = parts
        .extensions
        .remove::<crate::session::PrefetchedReferral>()
        .filter(|p| p.pid == pid);
    let opened = match prefetched {
        Some(p) => uc::open_row(&state.app, actor, p.row, &ip).await,
        None => uc::open(&state.app, actor, &pid, &ip).await,
    }
    .map_err(|e| AppError::from(e).into_response())?;
    Ok((opened, pid))
}

/// A draft the signed-in referrer may edit. A referral they may only read sends them to
/// its page; anything else is "page not found".
pub struct Editable(pub Loaded);

impl FromRequestParts<AppState> for Editable {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match open_from_path(parts, state).await? {
            (Opened::Editable(l), _) => Ok(Editable(l)),
            (Opened::ReadOnly(_), pid) => Err(see_other(&format!("/referrals/{pid}"))),
            (Opened::NotFound, _) => Err(AppError::NotFound.into_response()),
        }
    }
}

/// A referral the signed-in person may read (their own in any state; MASH staff once it is
/// submitted).
pub struct Readable(pub Loaded);

impl FromRequestParts<AppState> for Readable {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match open_from_path(parts, state).await? {
            (Opened::Editable(l) | Opened::ReadOnly(l), _) => Ok(Readable(l)),
            (Opened::NotFound, _) => Err(AppError::NotFound.into_response()),
        }
    }
}

/// A referral of the signed-in referrer who wrote it, in any state (to submit it, or see
/// its confirmation). Anyone else: "page not found".
pub struct Authored(pub Loaded);

impl FromRequestParts<AppState> for Authored {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let ActorOnReferral { actor, pid, ip } =
            ActorOnReferral::from_request_parts(parts, state).await?;
        match uc::open_as_author(&state.app, actor, &pid, &ip).await {
            Ok(Some(l)) => Ok(Authored(l)),
            Ok(None) => Err(AppError::NotFound.into_response()),
            Err(e) => Err(AppError::from(e).into_response()),
        }
    }
}

pub(crate) fn title_of(draft: &ReferralDraft) -> String {
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

pub(crate) fn referral_ctx(state: &AppState, l: &Loaded) -> Value {
    context! {
        pid => &l.row.public_id,
        status => l.row.status.code(),
        version => l.row.version,
        reference => l.row.reference_text(),
        title => title_of(&l.draft),
        deletion_date => l.is_draft().then(|| long_date(l.row.saved_at + state.settings.draft_retention)),
    }
}

pub(crate) fn closed(state: &AppState, session: &Session) -> Response {
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
#[tracing::instrument(skip_all)]
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
        let draft = &row.draft;
        let href = format!("/referrals/{}", row.public_id);
        if row.is_draft() {
            drafts.push(DraftItem {
                title: title_of(draft),
                saved_text: date_time(row.saved_at),
                deletion_date: long_date(row.saved_at + state.settings.draft_retention),
                href,
            });
        } else {
            submitted.push(SubmittedItem {
                title: title_of(draft),
                reference: row.reference_text().unwrap_or_default(),
                submitted_text: row.submitted_at.map(date_time).unwrap_or_default(),
                href,
            });
        }
    }
    let flash = session.take_flash(&state.store).await?;
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

#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
) -> AppResult<Response> {
    let actor = actor(&session)?;
    match uc::create_draft(&state.app, actor, &ip).await? {
        CreateOutcome::Created { public_id } => Ok(see_other(&format!("/referrals/{public_id}"))),
        CreateOutcome::Closed => Ok(closed(&state, &session)),
        CreateOutcome::NotAllowed => Err(AppError::Forbidden),
        CreateOutcome::TooManyDrafts => {
            session
                .flash(
                    &state.store,
                    format!(
                        "You have {} draft referrals, the most you can have at once. Submit or delete a draft before you start another.",
                        uc::MAX_OPEN_DRAFTS
                    ),
                )
                .await?;
            Ok(see_other("/"))
        }
    }
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

/// A draft's task list for its referrer; the read-only referral for everyone else allowed
/// to read it.
#[tracing::instrument(skip_all)]
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Readable(l): Readable,
) -> AppResult<Response> {
    uc::record(&state.app, &l, "view-referral", &ip).await?;
    let pid = l.public_id().to_string();
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
    let t = now().date();
    let sections: Vec<TaskItem> = Section::ALL
        .iter()
        .map(|s| TaskItem {
            title: s.title(),
            href: format!("/referrals/{pid}/{}", s.slug()),
            status: status_code(section_status(*s, &l.draft, t)),
        })
        .collect();
    let can_submit = parse_referral(&l.draft, t).is_ok();
    let flash = session.take_flash(&state.store).await?;
    // Sections with kept answers waiting for a choice, each once.
    let mut waiting: Vec<Section> = Vec::new();
    for c in uc::conflicts(&state.app, &l).await? {
        if !waiting.contains(&c.section) {
            waiting.push(c.section);
        }
    }
    let conflicts: Vec<Value> = waiting
        .iter()
        .map(|s| context! { title => s.title(), href => sections::kept_conflict_href(&pid, *s) })
        .collect();
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
            conflicts,
            check_href => format!("/referrals/{pid}/check"),
            pdf_href => format!("/referrals/{pid}/pdf"),
            delete_href => format!("/referrals/{pid}/delete"),
        },
    ))
}

// ------------------------------------------------------------------- delete

#[tracing::instrument(skip_all)]
pub async fn delete_form(
    State(state): State<AppState>,
    session: Session,
    Editable(l): Editable,
) -> AppResult<Response> {
    let pid = l.public_id();
    Ok(page(
        &state,
        &session,
        "pages/referral/delete.html",
        "Are you sure you want to delete this draft?",
        &Errors::default(),
        context! { referral => referral_ctx(&state, &l), delete_action => format!("/referrals/{pid}/delete"), cancel_href => format!("/referrals/{pid}") },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn delete(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Editable(l): Editable,
) -> AppResult<Response> {
    if uc::delete_draft(&state.app, &l, &ip).await? {
        session
            .flash(&state.store, "Your draft has been deleted.")
            .await?;
    }
    Ok(see_other("/"))
}

// ------------------------------------------- answers kept across a timeout

/// After sign-in: save every set of answers that was posted after the session had timed
/// out, oldest first, each through the same path as a normal save (so a newer save
/// of the same section elsewhere is kept as a conflict for the task list, never silently
/// overwritten), and say what was restored.
#[tracing::instrument(skip_all)]
pub async fn kept_answers(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
) -> AppResult<Response> {
    let actor = actor(&session)?;
    let restored = uc::restore_kept(&state.app, actor, &ip).await?;
    let Some(last) = restored.last() else {
        return Ok(see_other("/"));
    };
    let mut saved: Vec<String> = Vec::new();
    let mut waiting: Vec<String> = Vec::new();
    for r in &restored {
        let title = format!("‘{}’", r.section.title());
        let list = match r.outcome {
            SaveOutcome::Saved { .. } => &mut saved,
            SaveOutcome::Conflict { .. } => &mut waiting,
            _ => continue,
        };
        if !list.contains(&title) {
            list.push(title);
        }
    }
    let mut message = String::new();
    if !saved.is_empty() {
        message.push_str(&format!(
            "The answers you entered before you were signed out have been saved: {}.",
            join_and(&saved)
        ));
    }
    if !waiting.is_empty() {
        if !message.is_empty() {
            message.push(' ');
        }
        message.push_str(&format!(
            "Newer answers had been saved to {} since: choose which answers to keep.",
            join_and(&waiting)
        ));
    }
    if !message.is_empty() {
        session.flash(&state.store, message).await?;
    }
    let same_draft = restored.iter().all(|r| r.public_id == last.public_id);
    if same_draft {
        Ok(see_other(&format!("/referrals/{}", last.public_id)))
    } else {
        Ok(see_other("/"))
    }
}

/// "A, B and C".
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}
