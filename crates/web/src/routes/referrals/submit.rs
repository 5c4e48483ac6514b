//! Check answers, submit, confirmation.

use axum::extract::State;
use axum::response::Response;
use ehm_app::referrals::{self as uc, Loaded, SubmitOutcome};
use ehm_domain::referral::{ReferralDraft, Section, summary, validate_section};
use minijinja::context;
use serde::Serialize;

use super::{Authored, Editable, closed, referral_ctx};
use crate::client::ClientIp;
use crate::csrf::Posted;
use crate::error::{AppError, AppResult};
use crate::render::{Errors, page};
use crate::routes::see_other;
use crate::session::Session;
use crate::state::AppState;

#[derive(Serialize)]
struct Problem {
    field: String,
    message: String,
    href: String,
}

fn problems(pid: &str, draft: &ReferralDraft) -> Vec<Problem> {
    let t = time::OffsetDateTime::now_utc().date();
    Section::ALL
        .iter()
        .flat_map(|s| {
            validate_section(*s, draft, t)
                .into_iter()
                .map(move |e| Problem {
                    href: format!("/referrals/{pid}/{}?return_to=check#{}", s.slug(), e.field),
                    field: e.field,
                    message: e.message,
                })
        })
        .collect()
}

fn render_check(state: &AppState, session: &Session, l: &Loaded) -> Response {
    let pid = l.public_id();
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

#[tracing::instrument(skip_all)]
pub async fn check(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Editable(l): Editable,
) -> AppResult<Response> {
    uc::record(&state.app, &l, "view-referral", &ip).await?;
    Ok(render_check(&state, &session, &l))
}

#[tracing::instrument(skip_all)]
pub async fn submit(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Authored(l): Authored,
    posted: Posted,
) -> AppResult<Response> {
    let pid = l.public_id().to_string();
    let user = session.user().ok_or(AppError::SignInRequired)?;
    if !l.is_draft() {
        // A second click, or going back and submitting again: never a second referral.
        return Ok(see_other(&format!("/referrals/{pid}/confirmation")));
    }
    let version = posted.0.get("version").and_then(|v| v.trim().parse().ok());
    match uc::submit(&state.app, &l, &user.email, version, &ip).await? {
        SubmitOutcome::Submitted { .. } | SubmitOutcome::AlreadySubmitted => {
            Ok(see_other(&format!("/referrals/{pid}/confirmation")))
        }
        SubmitOutcome::Closed => Ok(closed(&state, &session)),
        SubmitOutcome::Changed => Ok(see_other(&format!("/referrals/{pid}/check"))),
        SubmitOutcome::Incomplete => Ok(render_check(&state, &session, &l)),
    }
}

#[tracing::instrument(skip_all)]
pub async fn confirmation(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Authored(l): Authored,
) -> AppResult<Response> {
    let pid = l.public_id().to_string();
    if l.is_draft() {
        return Ok(see_other(&format!("/referrals/{pid}")));
    }
    uc::record(&state.app, &l, "view-referral", &ip).await?;
    let user = session.user().ok_or(AppError::SignInRequired)?;
    let recipients = uc::recipients(&l.draft, &user.email);
    Ok(page(
        &state,
        &session,
        "pages/referral/confirmation.html",
        "Referral submitted",
        &Errors::default(),
        context! {
            referral => referral_ctx(&state, &l),
            reference => l.row.reference_text(),
            recipients,
            view_href => format!("/referrals/{pid}"),
            pdf_href => format!("/referrals/{pid}/pdf"),
        },
    ))
}
