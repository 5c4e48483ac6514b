//! Accounts (R-01 … R-06): one file per journey. Handlers turn the form into a use-case
//! call (`ehm_app::accounts`) and its outcome into a page or a redirect.

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

#[tracing::instrument(skip_all)]
pub async fn keep_alive(State(state): State<AppState>, session: Session) -> AppResult<Response> {
    if session.user().is_none() {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    }
    session.touch(&state.store).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
