//! Signing in: the password, then the emailed code.

use axum::extract::State;
use axum::response::Response;
use ehm_app::accounts::{self, Factor, Journey, LoginCodeOutcome, NEW_CODE_SENT, SignInOutcome};
use ehm_storage::{CodePurpose, User};
use minijinja::context;
use serde::Deserialize;

use super::register::CodeForm;
use super::{code_entry_page, code_error_page, errors_of};
use crate::client::ClientIp;
use crate::csrf::PostedForm;
use crate::error::{AppError, AppResult};
use crate::extract::{EnteringLoginCode, PendingUser};
use crate::render::{Errors, page};
use crate::routes::see_other;
use crate::session::{Session, SessionData, Stage};
use crate::state::AppState;

#[derive(Deserialize, Default)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

#[tracing::instrument(skip_all)]
pub async fn sign_in_form(
    State(state): State<AppState>,
    session: Session,
    uri: axum::http::Uri,
) -> AppResult<Response> {
    if session.user().is_some() {
        return Ok(see_other("/"));
    }
    let flash = session.take_flash(&state.store).await?;
    let timed_out = session.timed_out
        || session.expired.is_some()
        || uri.query().is_some_and(|q| q.contains("timeout=1"));
    // Answers the pages posted after the timeout, kept until this sign-in (a count only).
    let kept = match &session.expired {
        Some(e) => ehm_app::referrals::kept_count(&state.app, e.user_id).await?,
        None => 0,
    };
    Ok(page(
        &state,
        &session,
        "pages/sign_in.html",
        "Sign in",
        &Errors::default(),
        context! { flash, timed_out, kept, email => "" },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn sign_in(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    PostedForm(form): PostedForm<SignInForm>,
) -> AppResult<Response> {
    match accounts::sign_in(&state.app, &form.email, &form.password, &ip).await? {
        SignInOutcome::Invalid(e) | SignInOutcome::Refused(e) => Ok(page(
            &state,
            &session,
            "pages/sign_in.html",
            "Sign in",
            &errors_of(e),
            context! { email => &form.email },
        )),
        SignInOutcome::ConfirmEmailFirst { user_id } => {
            session
                .set_stage(
                    &state.store,
                    Stage::VerifyEmail,
                    Some(user_id),
                    &SessionData::with_flash(
                        "You need to confirm your email address before you can sign in. We have sent you a new code.",
                    ),
                )
                .await?;
            Ok(see_other("/register/confirm-email"))
        }
        SignInOutcome::Next(factor) => go_to(&state, &session, factor, &ip).await,
    }
}

/// Move the session to the next factor of signing in, or complete it.
#[tracing::instrument(skip_all)]
pub(crate) async fn go_to(
    state: &AppState,
    session: &Session,
    factor: Factor,
    ip: &str,
) -> AppResult<Response> {
    let (stage, user_id, to) = match factor {
        Factor::LoginCode { user_id } => (Stage::LoginCode, user_id, "/sign-in/code"),
        Factor::Totp { user_id } => (Stage::Totp, user_id, "/sign-in/authenticator"),
        Factor::TotpEnrol { user_id } => {
            (Stage::TotpEnrol, user_id, "/sign-in/set-up-authenticator")
        }
        Factor::Done { user_id } => {
            let user = state
                .store
                .user_by_id(user_id)
                .await?
                .ok_or(AppError::SignInRequired)?;
            return complete(state, session, &user, ip).await;
        }
    };
    session
        .set_stage(&state.store, stage, Some(user_id), &SessionData::default())
        .await?;
    Ok(see_other(to))
}

/// Every factor passed: a fresh signed-in session.
#[tracing::instrument(skip_all)]
pub(crate) async fn complete(
    state: &AppState,
    session: &Session,
    user: &User,
    ip: &str,
) -> AppResult<Response> {
    let kept = accounts::complete_sign_in(&state.app, user, ip).await?;
    session
        .sign_in(&state.store, user.id, &SessionData::default())
        .await?;
    Ok(see_other(if kept {
        "/referrals/kept-answers"
    } else {
        "/"
    }))
}

const TEMPLATE: &str = "pages/sign_in_code.html";
const TITLE: &str = "Check your email";

#[tracing::instrument(skip_all)]
pub async fn login_code_form(
    State(state): State<AppState>,
    p: PendingUser<EnteringLoginCode>,
) -> AppResult<Response> {
    code_entry_page(&state, &p.session, TEMPLATE, TITLE).await
}

#[tracing::instrument(skip_all)]
pub async fn login_code(
    State(state): State<AppState>,
    p: PendingUser<EnteringLoginCode>,
    ClientIp(ip): ClientIp,
    PostedForm(form): PostedForm<CodeForm>,
) -> AppResult<Response> {
    match accounts::login_code(&state.app, &p.user, &form.code, &ip).await? {
        LoginCodeOutcome::Next(factor) => go_to(&state, &p.session, factor, &ip).await,
        LoginCodeOutcome::Invalid(message) => Ok(code_error_page(
            &state, &p.session, TEMPLATE, TITLE, message, &form.code,
        )),
    }
}

#[tracing::instrument(skip_all)]
pub async fn resend_login_code(
    State(state): State<AppState>,
    p: PendingUser<EnteringLoginCode>,
) -> AppResult<Response> {
    let mut pending = ehm_app::accounts::Pending::Account(p.user.id);
    accounts::resend_code(
        &state.app,
        &mut pending,
        Journey::SignIn,
        CodePurpose::SignIn,
    )
    .await?;
    p.session
        .set_stage(
            &state.store,
            Stage::LoginCode,
            Some(p.user.id),
            &SessionData::with_flash(NEW_CODE_SENT),
        )
        .await?;
    Ok(see_other("/sign-in/code"))
}
