//! The workflow on a referral's staff page (R-43 … R-45): start triage, allocate, send for a
//! decision, record the decision, authorise or return it, close; the outcome letter.
//!
//! Access to the referral is the [`Staff`] extractor (`Permission::WorkOnReferral`); which
//! step a person may take is asked of the domain's workflow rules through
//! `ehm_app::mash::workflow`, never decided here. The page offers only the steps the rules
//! would accept for this person now; every POST is checked again.
//!
//! Answers:
//! - a step done: **303** back to the referral page, with a one-shot confirmation;
//! - what was typed is not acceptable (no outcome, a short rationale, no comment, no
//!   worker chosen): **422**, the same form again with an error summary, inline errors and
//!   what was typed;
//! - the person may not take this step (their role, a referral allocated to someone else,
//!   authorising their own decision): **403**, the referral page with the rules' message
//!   in an error summary;
//! - the step is not possible in the referral's current status (or not yet: sending an
//!   unallocated referral, the letter before feedback), or someone else changed the
//!   referral first: **409**, the referral page (as it now stands) with the message.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use ehm_app::FieldErrors;
use ehm_app::mash::workflow::{
    self as uc, AllocateOutcome, CHANGED, History, LetterOutcome, StepKind, StepOutcome,
};
use ehm_app::mash::{StaffReferral, open_for_staff};
use ehm_domain::account::Role;
use ehm_domain::mash::decision::{RATIONALE_MAX, RETURN_COMMENT_MAX};
use ehm_domain::mash::{AllocationError, Outcome, ReferralStatus, Transition, TransitionError};
use ehm_storage::{ReferralEvent, to_ms};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::Staff;
use super::referral::{panels, render};
use crate::client::ClientIp;
use crate::csrf::PostedForm;
use crate::error::{AppError, AppResult};
use crate::render::{Errors, page};
use crate::routes::referrals::date_time;
use crate::routes::see_other;
use crate::session::Session;
use crate::state::AppState;

/// The staff page of a referral.
fn home(r: &StaffReferral) -> String {
    format!("/mash/referrals/{}", r.loaded.public_id())
}

/// The referral's path plus `rest` ("/decision").
fn href(r: &StaffReferral, rest: &str) -> String {
    format!("{}{rest}", home(r))
}

fn tag_colour(s: ReferralStatus) -> &'static str {
    match s {
        ReferralStatus::Draft => "grey",
        ReferralStatus::Submitted => "blue",
        ReferralStatus::InTriage => "turquoise",
        ReferralStatus::AwaitingDecision => "yellow",
        ReferralStatus::Decided => "purple",
        ReferralStatus::FeedbackSent => "green",
        ReferralStatus::Closed => "grey",
    }
}

/// 403 when the refusal is about who is asking, 409 when about where the referral is.
fn transition_status(e: &TransitionError) -> StatusCode {
    match e {
        TransitionError::NotPermitted(_)
        | TransitionError::AllocatedToSomeoneElse
        | TransitionError::OwnDecision => StatusCode::FORBIDDEN,
        TransitionError::WrongStatus { .. } | TransitionError::NotAllocated => StatusCode::CONFLICT,
    }
}

fn allocation_status(e: &AllocationError) -> StatusCode {
    match e {
        AllocationError::NotPermitted | AllocationError::OnlyManagersReallocate => {
            StatusCode::FORBIDDEN
        }
        AllocationError::NotAWorker => StatusCode::UNPROCESSABLE_ENTITY,
        AllocationError::AlreadyAllocated | AllocationError::WrongStatus { .. } => {
            StatusCode::CONFLICT
        }
    }
}

fn errors_of(e: FieldErrors) -> Errors {
    let mut out = Errors::default();
    for (field, message) in e.0 {
        out.add(&field, message);
    }
    out
}

/// The referral page with `message` in its error summary (linked to the workflow panel),
/// answered with `status`.
async fn refused_page(
    state: &AppState,
    session: &Session,
    r: &StaffReferral,
    message: impl ToString,
    status: StatusCode,
) -> AppResult<Response> {
    let mut errors = Errors::default();
    errors.add("workflow", message);
    let p = panels(state, r).await?;
    let mut res = render(state, session, r, p, &errors, status).await?;
    *res.status_mut() = status;
    Ok(res)
}

/// Someone else acted first: the referral page as it now stands, with [`CHANGED`] (409).
async fn changed_page(
    state: &AppState,
    session: &Session,
    r: &StaffReferral,
    ip: &str,
) -> AppResult<Response> {
    let fresh = open_for_staff(&state.app, r.loaded.actor, r.loaded.public_id(), ip)
        .await?
        .ok_or(AppError::NotFound)?;
    refused_page(state, session, &fresh, CHANGED, StatusCode::CONFLICT).await
}

async fn done(
    state: &AppState,
    session: &Session,
    r: &StaffReferral,
    message: String,
) -> AppResult<Response> {
    session.flash(&state.store, message).await?;
    Ok(see_other(&home(r)))
}

/// The answer to a step that is not a form of its own (start triage, send, authorise, close).
async fn answer(
    state: &AppState,
    session: &Session,
    r: &StaffReferral,
    ip: &str,
    outcome: StepOutcome,
    confirmation: String,
) -> AppResult<Response> {
    match outcome {
        StepOutcome::Done { .. } => done(state, session, r, confirmation).await,
        StepOutcome::Refused(e) => {
            let status = transition_status(&e);
            refused_page(state, session, r, e, status).await
        }
        StepOutcome::Changed => changed_page(state, session, r, ip).await,
        // These steps take no input.
        StepOutcome::Invalid(e) => {
            let message = e.0.first().map(|(_, m)| m.clone()).unwrap_or_default();
            refused_page(state, session, r, message, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

// ------------------------------------------------------------------- the panel's context

#[derive(Serialize)]
struct HistoryRow {
    at: String,
    who: String,
    what: String,
}

#[derive(Serialize)]
struct Action {
    /// "post" (a button in a form) or "link" (a page with a form of its own).
    kind: &'static str,
    text: &'static str,
    href: String,
    /// A secondary or warning button.
    classes: &'static str,
}

fn person(h: &History, id: Option<i64>) -> String {
    match (id, h.name(id)) {
        (_, Some(name)) => name.to_owned(),
        (Some(_), None) => "A former member of staff".to_owned(),
        (None, None) => "Unknown".to_owned(),
    }
}

fn outcome_label(code: Option<&str>) -> String {
    code.and_then(|c| Outcome::parse(c).ok())
        .map(|o| o.label().to_owned())
        .unwrap_or_default()
}

/// One event in words ("Allocated to Sam Social").
fn what(h: &History, e: &ReferralEvent) -> String {
    let detail = |k: &str| e.detail.get(k).and_then(serde_json::Value::as_str);
    let who = |k: &str| person(h, e.detail.get(k).and_then(serde_json::Value::as_i64));
    match e.kind.as_str() {
        "start-triage" => "Triage started".to_owned(),
        "allocate" => format!("Allocated to {}", who("to")),
        "reallocate" => format!("Reallocated from {} to {}", who("from"), who("to")),
        "send-for-decision" => "Sent for a decision".to_owned(),
        "record-decision" => format!("Decision recorded: {}", outcome_label(detail("outcome"))),
        "return-decision" => format!(
            "Decision returned: {}",
            detail("comment").unwrap_or_default()
        ),
        "authorise" => "Decision authorised; outcome email sent to the referrer".to_owned(),
        "close" => "Referral closed".to_owned(),
        "outcome-letter" => "Outcome letter downloaded".to_owned(),
        other => other.replace('-', " "),
    }
}

/// What `_workflow.html` shows for `r` to its actor: status, allocation (and the form to
/// allocate when the rules allow this person to), the decision and its authorisation or
/// return, feedback and the letter, the steps the rules would accept now, the history.
pub(crate) async fn workflow_context(state: &AppState, r: &StaffReferral) -> AppResult<Value> {
    let w = &r.workflow;
    let h = uc::history(&state.app, r).await?;
    let allocate = match uc::check_allocate(r) {
        Ok(()) => {
            let workers: Vec<Value> = uc::workers(&state.app)
                .await?
                .into_iter()
                .filter(|u| Some(u.id) != w.assigned_to)
                .map(|u| {
                    let role = if u.role == Role::Manager {
                        " (manager)"
                    } else {
                        ""
                    };
                    context! { value => u.id.to_string(), text => format!("{}{role}", u.display_name) }
                })
                .collect();
            Some(context! {
                action => href(r, "/allocate"),
                label => if w.assigned_to.is_some() { "Reallocate to" } else { "Allocate to" },
                button => if w.assigned_to.is_some() { "Reallocate" } else { "Allocate" },
                workers,
            })
        }
        Err(_) => None,
    };
    let mut actions = Vec::new();
    for kind in StepKind::ALL {
        if uc::check(r, kind).is_err() {
            continue;
        }
        let (kind_, text, rest, classes) = match kind {
            StepKind::StartTriage => ("post", "Start triage", "/start-triage", ""),
            StepKind::SendForDecision => ("post", "Send for a decision", "/send-for-decision", ""),
            StepKind::RecordDecision => ("link", "Record the decision", "/decision", ""),
            StepKind::Authorise => ("post", "Authorise the decision", "/authorise", ""),
            StepKind::ReturnDecision => (
                "link",
                "Return the decision",
                "/return",
                "govuk-button--secondary",
            ),
            StepKind::Close => (
                "post",
                "Close the referral",
                "/close",
                "govuk-button--secondary",
            ),
        };
        actions.push(Action {
            kind: kind_,
            text,
            href: href(r, rest),
            classes,
        });
    }
    let history: Vec<HistoryRow> = h
        .events
        .iter()
        .map(|e| HistoryRow {
            at: date_time(e.at),
            who: person(&h, e.actor_user_id),
            what: what(&h, e),
        })
        .collect();
    let decision = w.decision_outcome.map(|o| {
        context! {
            outcome => o.label(),
            rationale => &w.decision_rationale,
            by => person(&h, w.decided_by),
            at => w.decided_at.map(date_time),
        }
    });
    Ok(context! {
        status_label => w.status.label(),
        status_code => w.status.code(),
        status_colour => tag_colour(w.status),
        assigned_to => w.assigned_to.map(|id| person(&h, Some(id))),
        assigned_at => w.assigned_at.map(date_time),
        allocate,
        decision,
        decided_ms => w.decided_at.map(|t| to_ms(t).to_string()),
        return_comment => &w.return_comment,
        authorised_by => w.authorised_by.map(|id| person(&h, Some(id))),
        authorised_at => w.authorised_at.map(date_time),
        feedback_sent_at => w.feedback_sent_at.map(date_time),
        letter_href => w.feedback_sent_at.map(|_| href(r, "/letter")),
        letter_created_at => w.letter_created_at.map(date_time),
        closed_at => w.closed_at.map(date_time),
        actions,
        history,
    })
}

// ----------------------------------------------------------------- steps without a form

#[derive(Deserialize, Default)]
pub struct SeenForm {
    /// The `decided_at` (Unix ms) of the decision the page showed.
    #[serde(default)]
    decided: String,
}

fn seen(form: &SeenForm) -> Option<i64> {
    form.decided.trim().parse().ok()
}

#[tracing::instrument(skip_all)]
pub async fn start_triage(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Staff(r): Staff,
) -> AppResult<Response> {
    let outcome = uc::step(&state.app, &r, Transition::StartTriage, &ip).await?;
    answer(&state, &session, &r, &ip, outcome, "Triage started".into()).await
}

#[tracing::instrument(skip_all)]
pub async fn send_for_decision(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Staff(r): Staff,
) -> AppResult<Response> {
    let outcome = uc::step(&state.app, &r, Transition::SendForDecision, &ip).await?;
    answer(
        &state,
        &session,
        &r,
        &ip,
        outcome,
        "Referral sent for a decision".into(),
    )
    .await
}

#[tracing::instrument(skip_all)]
pub async fn authorise(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Staff(r): Staff,
    PostedForm(form): PostedForm<SeenForm>,
) -> AppResult<Response> {
    let outcome = uc::authorise(&state.app, &r, seen(&form), &ip).await?;
    answer(
        &state,
        &session,
        &r,
        &ip,
        outcome,
        "Decision authorised. The outcome email is on its way to the referrer, and the outcome letter can be downloaded".into(),
    )
    .await
}

#[tracing::instrument(skip_all)]
pub async fn close(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Staff(r): Staff,
) -> AppResult<Response> {
    let outcome = uc::step(&state.app, &r, Transition::Close, &ip).await?;
    answer(&state, &session, &r, &ip, outcome, "Referral closed".into()).await
}

// ------------------------------------------------------------------------------ allocate

#[derive(Deserialize, Default)]
pub struct AllocateForm {
    #[serde(default)]
    assignee: String,
}

#[tracing::instrument(skip_all)]
pub async fn allocate(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Staff(r): Staff,
    PostedForm(form): PostedForm<AllocateForm>,
) -> AppResult<Response> {
    let chosen = form.assignee.trim().parse::<i64>().ok();
    match uc::allocate(&state.app, &r, chosen, &ip).await? {
        AllocateOutcome::Allocated {
            worker,
            reallocated,
        } => {
            let verb = if reallocated {
                "reallocated"
            } else {
                "allocated"
            };
            done(&state, &session, &r, format!("Referral {verb} to {worker}")).await
        }
        AllocateOutcome::Refused(e) => {
            let status = allocation_status(&e);
            refused_page(&state, &session, &r, e, status).await
        }
        AllocateOutcome::Invalid(e) => {
            let p = panels(&state, &r).await?;
            render(
                &state,
                &session,
                &r,
                p,
                &errors_of(e),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        AllocateOutcome::Changed => changed_page(&state, &session, &r, &ip).await,
    }
}

// ------------------------------------------------------------------------------ decision

#[derive(Deserialize, Default)]
pub struct DecisionForm {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    rationale: String,
}

/// What was typed, shown again as the server will count it (line endings as one character).
fn as_typed(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

fn decision_page(
    state: &AppState,
    session: &Session,
    r: &StaffReferral,
    form: &DecisionForm,
    errors: &Errors,
) -> Response {
    let outcomes: Vec<Value> = Outcome::ALL
        .iter()
        .map(|o| context! { value => o.code(), text => o.label() })
        .collect();
    let reference = r.loaded.row.reference_text().unwrap_or_default();
    page(
        state,
        session,
        "pages/mash/decision.html",
        "Record the decision",
        errors,
        context! {
            reference,
            back_href => home(r),
            action => href(r, "/decision"),
            outcomes,
            outcome => &form.outcome,
            rationale => as_typed(&form.rationale),
            rationale_max => RATIONALE_MAX,
            return_comment => &r.workflow.return_comment,
        },
    )
}

#[tracing::instrument(skip_all)]
pub async fn decision_form(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Staff(r): Staff,
) -> AppResult<Response> {
    if let Err(e) = uc::check(&r, StepKind::RecordDecision) {
        let status = transition_status(&e);
        return refused_page(&state, &session, &r, e, status).await;
    }
    ehm_app::referrals::record(&state.app, &r.loaded, "view-decision-form", &ip).await?;
    Ok(decision_page(
        &state,
        &session,
        &r,
        &DecisionForm::default(),
        &Errors::default(),
    ))
}

#[tracing::instrument(skip_all)]
pub async fn decision(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Staff(r): Staff,
    PostedForm(form): PostedForm<DecisionForm>,
) -> AppResult<Response> {
    match uc::record_decision(&state.app, &r, &form.outcome, &form.rationale, &ip).await? {
        StepOutcome::Invalid(e) => Ok(decision_page(
            &state,
            &session,
            &r,
            &form,
            &errors_of(e),
        )),
        outcome => {
            answer(
                &state,
                &session,
                &r,
                &ip,
                outcome,
                "Decision recorded. A manager needs to authorise it before feedback goes to the referrer".into(),
            )
            .await
        }
    }
}

// -------------------------------------------------------------------------------- return

#[derive(Deserialize, Default)]
pub struct ReturnForm {
    #[serde(default)]
    comment: String,
    #[serde(default)]
    decided: String,
}

fn return_page(
    state: &AppState,
    session: &Session,
    r: &StaffReferral,
    comment: &str,
    errors: &Errors,
) -> Response {
    let w = &r.workflow;
    let reference = r.loaded.row.reference_text().unwrap_or_default();
    page(
        state,
        session,
        "pages/mash/decision_return.html",
        "Return the decision",
        errors,
        context! {
            reference,
            back_href => home(r),
            action => href(r, "/return"),
            outcome => w.decision_outcome.map(|o| o.label()),
            rationale => &w.decision_rationale,
            decided_ms => w.decided_at.map(|t| to_ms(t).to_string()),
            comment => as_typed(comment),
            comment_max => RETURN_COMMENT_MAX,
        },
    )
}

#[tracing::instrument(skip_all)]
pub async fn return_form(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Staff(r): Staff,
) -> AppResult<Response> {
    if let Err(e) = uc::check(&r, StepKind::ReturnDecision) {
        let status = transition_status(&e);
        return refused_page(&state, &session, &r, e, status).await;
    }
    ehm_app::referrals::record(&state.app, &r.loaded, "view-return-form", &ip).await?;
    Ok(return_page(&state, &session, &r, "", &Errors::default()))
}

#[tracing::instrument(skip_all)]
pub async fn return_decision(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Staff(r): Staff,
    PostedForm(form): PostedForm<ReturnForm>,
) -> AppResult<Response> {
    let seen = form.decided.trim().parse().ok();
    let worker = match r.workflow.decided_by {
        Some(id) => state.store.user_by_id(id).await?.map(|u| u.display_name),
        None => None,
    }
    .unwrap_or_else(|| "the worker".to_owned());
    match uc::return_decision(&state.app, &r, &form.comment, seen, &ip).await? {
        StepOutcome::Invalid(e) => Ok(return_page(
            &state,
            &session,
            &r,
            &form.comment,
            &errors_of(e),
        )),
        outcome => {
            answer(
                &state,
                &session,
                &r,
                &ip,
                outcome,
                format!("Decision returned to {worker} with your comment"),
            )
            .await
        }
    }
}

// -------------------------------------------------------------------------------- letter

#[tracing::instrument(skip_all)]
pub async fn letter(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Staff(r): Staff,
) -> AppResult<Response> {
    match uc::letter(&state.app, &r, &ip).await? {
        LetterOutcome::Letter { file_name, bytes } => Ok((
            [
                (header::CONTENT_TYPE, "application/pdf".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file_name}\""),
                ),
                (header::CACHE_CONTROL, "no-store".to_string()),
            ],
            bytes,
        )
            .into_response()),
        LetterOutcome::NotYet => {
            refused_page(
                &state,
                &session,
                &r,
                "The outcome letter can be downloaded once a manager has authorised the decision",
                StatusCode::CONFLICT,
            )
            .await
        }
    }
}
