//! Accounts (R-01 … R-06): one file per journey. Handlers turn the form into a use-case
//! call (`ehm_app::accounts`) and its outcome into a page or a redirect.

pub mod password;
pub mod register;
pub mod reset;
pub mod second_factor;
pub mod sign_in;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ehm_app::FieldErrors;
use minijinja::context;

use super::see_other;
use crate::client::ClientIp;
use crate::error::AppResult;
use crate::render::{Errors, page};
use crate::session::{Session, SessionData};
use crate::state::AppState;

/// Field errors from a use case, for the page.
pub(crate) fn errors_of(e: FieldErrors) -> Errors {
    let mut errors = Errors::default();
    for (field, message) in e.0 {
        errors.add(&field, message);
    }
    errors
}

/// A page asking for an emailed code, with any one-shot message.
#[tracing::instrument(skip_all)]
pub(crate) async fn code_entry_page(
    state: &AppState,
    session: &Session,
    template: &str,
    title: &str,
) -> AppResult<Response> {
    let flash = session.take_flash(&state.store).await?;
    Ok(page(
        state,
        session,
        template,
        title,
        &Errors::default(),
        context! { flash, code => "" },
    ))
}

/// The same page with the code's error.
pub(crate) fn code_error_page(
    state: &AppState,
    session: &Session,
    template: &str,
    title: &str,
    message: &str,
    typed: &str,
) -> Response {
    let mut errors = Errors::default();
    errors.add("code", message);
    page(
        state,
        session,
        template,
        title,
        &errors,
        context! { code => typed },
    )
}

#[tracing::instrument(skip_all)]
pub async fn sign_out(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
) -> AppResult<Response> {
    if let Some(u) = session.user() {
        let id = u.id.to_string();
        ehm_app::audit::record(
            &state.app,
            ehm_app::audit::Event {
                actor: Some(u.id),
                action: "sign-out",
                object_type: "user",
                object_id: &id,
                outcome: "success",
                ip: &ip,
            },
        )
        .await?;
    }
    session
        .sign_out(&state.store, &SessionData::default())
        .await?;
    Ok(see_other("/signed-out"))
}

#[tracing::instrument(skip_all)]
pub async fn signed_out(State(state): State<AppState>, session: Session) -> Response {
    page(
        &state,
        &session,
        "pages/signed_out.html",
        "You have signed out",
        &Errors::default(),
        context! {},
    )
}

/// What a page's session clock is told: whether the person is signed in and, if so, how
/// long until the server signs them out if nothing happens (the expiry it enforces). No
/// personal data.
fn clock(state: &AppState, expires_at: Option<time::OffsetDateTime>) -> Response {
    let body = match expires_at {
        Some(at) => {
            let left = (at - time::OffsetDateTime::now_utc())
                .whole_milliseconds()
                .max(0);
            serde_json::json!({
                "signed_in": true,
                "expires_in_ms": left as i64,
                "expires_at": at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                "idle_timeout_seconds": state.settings.session_idle.whole_seconds(),
                "warning_seconds": state.settings.session_warning.whole_seconds(),
            })
        }
        None => serde_json::json!({ "signed_in": false }),
    };
    // Never cached (the security headers say no-store for every page as well).
    (
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}

/// `GET /session/status`: how long the session has left. Asking is not activity (the
/// session layer does not record it), so a tab polling this never keeps anyone signed in.
#[tracing::instrument(skip_all)]
pub async fn session_status(State(state): State<AppState>, session: Session) -> Response {
    clock(&state, session.user().and(session.expires_at))
}

/// `POST /session/keep-alive` ("Stay signed in", or typing in a page): activity now. Answers
/// like the status, with the new expiry.
#[tracing::instrument(skip_all)]
pub async fn keep_alive(State(state): State<AppState>, session: Session) -> AppResult<Response> {
    if session.user().is_none() {
        return Ok((StatusCode::UNAUTHORIZED, clock(&state, None)).into_response());
    }
    let expires_at = session.touch(&state.store, &state.settings).await?;
    Ok(clock(&state, expires_at))
}
