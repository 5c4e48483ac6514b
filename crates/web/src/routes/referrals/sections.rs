//! The sections of the task list: show a section, save it (every page saves), and the
//! page shown when another tab saved first.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use ehm_app::referrals::{self as uc, Loaded, SaveOutcome};
use ehm_domain::referral::form::{FormAction, ensure_a_child, form_options};
use ehm_domain::referral::{ReferralDraft, Section, section_summary, validate_section};
use minijinja::{Value, context};

use super::{ATTACHMENTS_SLUG, Editable, referral_ctx};
use crate::client::ClientIp;
use crate::csrf::Posted;
use crate::error::{AppError, AppResult};
use crate::render::{Errors, page, page_with_status};
use crate::routes::see_other;
use crate::session::Session;
use crate::state::AppState;

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

/// The form's option lists and limits as the templates read them: the same for every
/// page, so converted once.
fn options() -> Value {
    static OPTIONS: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    OPTIONS
        .get_or_init(|| Value::from_serialize(form_options()))
        .clone()
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

pub(crate) fn render_section(
    state: &AppState,
    session: &Session,
    l: &Loaded,
    section: Section,
    errors: &Errors,
    return_to_check: bool,
) -> Response {
    render_section_with(state, session, l, section, errors, return_to_check, None)
}

/// The section page with a banner above it: `notice` = (status, message).
fn render_section_with(
    state: &AppState,
    session: &Session,
    l: &Loaded,
    section: Section,
    errors: &Errors,
    return_to_check: bool,
    notice: Option<(StatusCode, &str)>,
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
    let ctx = context! {
        referral => referral_ctx(state, l),
        section => context! { slug => section.slug(), title => section.title() },
        d => Value::from_serialize(&draft),
        opt => options(),
        form_action => format!("/referrals/{}/{}", l.row.public_id, section.slug()),
        return_to => return_to_check.then_some("check"),
        section_hash => uc::section_fingerprint(section, &l.draft),
    };
    match notice {
        None => page(
            state,
            session,
            "pages/referral/section.html",
            section.title(),
            errors,
            ctx,
        ),
        Some((status, flash)) => {
            let mut res = page_with_status(
                state,
                session,
                status,
                "pages/referral/section.html",
                section.title(),
                errors,
                context! { flash, ..ctx },
            );
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("60"),
            );
            res
        }
    }
}

/// What a referrer sees when their answers could not be written (the database is
/// unavailable or full): the same section, with what they typed, and a banner; nothing is
/// lost and "Save and continue" tries again.
fn not_saved(
    state: &AppState,
    session: &Session,
    l: &Loaded,
    section: Section,
    fields: &ehm_domain::form_fields::FormFields,
    return_to_check: bool,
    error: &ehm_storage::StorageError,
) -> Response {
    tracing::error!(error = %crate::error::chain(error), "a section could not be saved");
    let mut typed = l.clone();
    ehm_domain::referral::form::apply_form(section, &mut typed.draft, fields);
    render_section_with(
        state,
        session,
        &typed,
        section,
        &Errors::default(),
        return_to_check,
        Some((StatusCode::SERVICE_UNAVAILABLE, NOT_SAVED)),
    )
}

/// The banner of [`not_saved`].
pub(crate) const NOT_SAVED: &str =
    "Sorry, your answers could not be saved. They are still on this page: try again in a minute.";

#[derive(serde::Deserialize, Default)]
pub struct SectionQuery {
    #[serde(default)]
    return_to: Option<String>,
    /// Set after "Add another" or "Remove": the person is still filling the page in, so
    /// its errors (a new blank item has nothing in it yet) are not shown.
    #[serde(default)]
    editing: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn section_form(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Path((_, slug)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<SectionQuery>,
    Editable(l): Editable,
) -> AppResult<Response> {
    uc::record(&state.app, &l, "view-referral", &ip).await?;
    if slug == ATTACHMENTS_SLUG {
        return super::attachments::render(&state, &session, &l, &Errors::default()).await;
    }
    let section = section_of(&slug)?;
    // Errors are shown once the section has been saved, not on a first visit nor while
    // items are being added or removed.
    let editing = q.editing.is_some();
    let errors = if !editing && l.draft.is_saved(section) && !l.draft.will_come_back_later(section)
    {
        errors_from(validate_section(section, &l.draft, today()))
    } else {
        Errors::default()
    };
    let back_to_check = q.return_to.as_deref() == Some("check");
    Ok(render_section(
        &state,
        &session,
        &l,
        section,
        &errors,
        back_to_check,
    ))
}

/// Set by `app.js` on the save a page makes by itself when the session ends.
const AUTOSAVE_HEADER: &str = "x-autosave-on-timeout";

#[tracing::instrument(skip_all)]
pub async fn section_save(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Path((_, slug)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    Editable(l): Editable,
    posted: Posted,
) -> AppResult<Response> {
    let automatic = headers.contains_key(AUTOSAVE_HEADER);
    let section = section_of(&slug)?;
    let pid = l.public_id().to_string();
    let version = posted.0.get("version").and_then(|v| v.trim().parse().ok());
    let back_to_check = posted.0.get("return_to") == Some("check");
    let fields = posted.0.without(&["csrf_token", "version", "return_to"]);
    let outcome = match uc::save_section(&state.app, &l, section, &fields, version, &ip).await {
        Ok(outcome) => outcome,
        Err(ehm_app::Error::Storage(e)) => {
            return Ok(not_saved(
                &state,
                &session,
                &l,
                section,
                &fields,
                back_to_check,
                &e,
            ));
        }
        Err(e) => return Err(e.into()),
    };
    match outcome {
        SaveOutcome::Saved { loaded, action } => {
            if action.stays_on_page() {
                let again = if back_to_check {
                    "?editing=1&return_to=check"
                } else {
                    "?editing=1"
                };
                return Ok(see_other(&format!("/referrals/{pid}/{slug}{again}")));
            }
            if action == FormAction::Continue {
                let errors = validate_section(section, &loaded.draft, today());
                if !errors.is_empty() && !loaded.draft.will_come_back_later(section) {
                    return Ok(render_section(
                        &state,
                        &session,
                        &loaded,
                        section,
                        &errors_from(errors),
                        back_to_check,
                    ));
                }
                if back_to_check {
                    return Ok(see_other(&format!("/referrals/{pid}/check")));
                }
            }
            Ok(see_other(&format!("/referrals/{pid}")))
        }
        SaveOutcome::Conflict {
            current,
            yours,
            posted,
        } => {
            if automatic && let Some(v) = version {
                // Nobody is looking at this page (a background tab saving itself): keep the
                // answers as a conflict the task list points to, never drop them.
                uc::keep_conflict(&state.app, &current, section, &fields, v, &ip).await?;
            }
            Ok(conflict_page(
                &state, &session, &current, &yours, &posted, section,
            ))
        }
        SaveOutcome::NotADraft => Ok(see_other(&format!("/referrals/{pid}"))),
        SaveOutcome::MissingVersion => Err(AppError::BadRequest("The form is missing its version")),
    }
}

/// Both versions of a section, side by side, to choose from.
pub(crate) fn conflict_page(
    state: &AppState,
    session: &Session,
    current: &Loaded,
    yours: &ReferralDraft,
    posted: &[(String, String)],
    section: Section,
) -> Response {
    conflict_page_with(state, session, current, yours, posted, section, None)
}

/// [`conflict_page`], or for answers kept on the server, the choice posted to
/// `resolve_action`.
fn conflict_page_with(
    state: &AppState,
    session: &Session,
    current: &Loaded,
    yours: &ReferralDraft,
    posted: &[(String, String)],
    section: Section,
    resolve_action: Option<String>,
) -> Response {
    let rows = |d: &ReferralDraft| {
        let s = section_summary(section, d);
        let mut out: Vec<Value> = s
            .rows
            .iter()
            .map(|r| context! { key => &r.label, value => &r.value })
            .collect();
        for g in &s.groups {
            out.extend(g.rows.iter().map(
                |r| context! { key => format!("{}: {}", g.heading, r.label), value => &r.value },
            ));
        }
        out
    };
    let posted: Vec<Value> = posted
        .iter()
        .map(|(k, v)| context! { name => k, value => v })
        .collect();
    let pid = current.public_id();
    page_with_status(
        state,
        session,
        StatusCode::CONFLICT,
        "pages/referral/conflict.html",
        "This section was changed somewhere else",
        &Errors::default(),
        context! {
            referral => referral_ctx(state, current),
            section => context! { slug => section.slug(), title => section.title() },
            saved_rows => rows(&current.draft),
            your_rows => rows(yours),
            posted,
            form_action => format!("/referrals/{pid}/{}", section.slug()),
            current_version => current.row.version,
            resolve_action,
        },
    )
}

/// Where the kept answers of a section that wait for a choice are shown.
pub(crate) fn kept_conflict_href(pid: &str, section: Section) -> String {
    format!("/referrals/{pid}/{}/conflict", section.slug())
}

/// `GET /referrals/{pid}/{slug}/conflict`: kept answers of this section (an automatic save
/// from a page older than the draft, or answers posted after a timeout) beside what was
/// saved since. Nothing waiting: the section itself.
#[tracing::instrument(skip_all)]
pub async fn kept_conflict(
    State(state): State<AppState>,
    session: Session,
    Path((_, slug)): Path<(String, String)>,
    Editable(l): Editable,
) -> AppResult<Response> {
    let section = section_of(&slug)?;
    let pid = l.public_id().to_string();
    let waiting = uc::conflicts(&state.app, &l).await?;
    let Some(c) = waiting.into_iter().find(|c| c.section == section) else {
        return Ok(see_other(&format!("/referrals/{pid}/{slug}")));
    };
    Ok(conflict_page_with(
        &state,
        &session,
        &l,
        &c.yours,
        &c.posted,
        section,
        Some(kept_conflict_href(&pid, section)),
    ))
}

#[derive(serde::Deserialize, Default)]
pub struct ChoiceForm {
    #[serde(default)]
    choice: String,
}

/// `POST /referrals/{pid}/{slug}/conflict`: "Use my answers" or "Keep the saved answers".
#[tracing::instrument(skip_all)]
pub async fn resolve_kept_conflict(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Path((_, slug)): Path<(String, String)>,
    Editable(l): Editable,
    crate::csrf::PostedForm(form): crate::csrf::PostedForm<ChoiceForm>,
) -> AppResult<Response> {
    let section = section_of(&slug)?;
    let pid = l.public_id().to_string();
    let choice = match form.choice.as_str() {
        "mine" => uc::Choice::Mine,
        "saved" => uc::Choice::Saved,
        _ => return Ok(see_other(&kept_conflict_href(&pid, section))),
    };
    match uc::resolve_conflict(&state.app, &l, section, choice, &ip).await? {
        uc::ResolveOutcome::NothingToResolve => Ok(see_other(&format!("/referrals/{pid}/{slug}"))),
        uc::ResolveOutcome::Resolved { saved } => {
            let message = match (choice, saved) {
                (_, Some(SaveOutcome::Conflict { .. })) => {
                    // Saved again elsewhere meanwhile: show the newest.
                    return Ok(see_other(&kept_conflict_href(&pid, section)));
                }
                (uc::Choice::Mine, _) => {
                    format!("Your answers to ‘{}’ have been saved.", section.title())
                }
                (uc::Choice::Saved, _) => {
                    format!("The saved answers to ‘{}’ have been kept.", section.title())
                }
            };
            session.flash(&state.store, message).await?;
            Ok(see_other(&format!("/referrals/{pid}")))
        }
    }
}
