//! Forgotten password: an emailed code and a new password.

use axum::extract::State;
use axum::response::Response;
use ehm_app::accounts::{self, ForgotOutcome, ResetOutcome};
use minijinja::context;
use serde::Deserialize;

use super::{code_entry_page, errors_of};
use crate::client::ClientIp;
use crate::csrf::PostedForm;
use crate::error::AppResult;
use crate::extract::{AtStage, ResettingPassword};
use crate::render::{Errors, page};
use crate::routes::see_other;
use crate::session::{Session, SessionData, Stage};
use crate::state::AppState;

const TEMPLATE: &str = "pages/reset_password.html";
const TITLE: &str = "Reset your password";

#[derive(Deserialize, Default)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

#[tracing::instrument(skip_all)]
pub async fn forgot_form(State(state): State<AppState>, session: Session) -> Response {
    page(
        &state,
        &session,
        "pages/forgot_password.html",
        TITLE,
        &Errors::default(),
        context! { email => "" },
    )
}

#[tracing::instrument(skip_all)]
pub async fn forgot(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    PostedForm(form): PostedForm<ForgotForm>,
) -> AppResult<Response> {
    match accounts::forgot(&state.app, &form.email, session.data.decoy.clone(), &ip).await? {
        ForgotOutcome::Invalid(e) => Ok(page(
            &state,
            &session,
            "pages/forgot_password.html",
            TITLE,
            &errors_of(e),
            context! { email => &form.email },
        )),
        ForgotOutcome::AwaitingCode(pending) => {
            let (user, data) = SessionData::pending(
                &pending,
                Some(
                    "If an account exists for that email address, we have sent a code to it."
                        .into(),
                ),
            );
            session
                .set_stage(&state.store, Stage::ResetPassword, user, &data)
                .await?;
            Ok(see_other("/reset-password"))
        }
    }
}

#[derive(Deserialize, Default)]
pub struct ResetForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
}

#[tracing::instrument(skip_all)]
pub async fn reset_form(
    State(state): State<AppState>,
    at: AtStage<ResettingPassword>,
) -> AppResult<Response> {
    code_entry_page(&state, &at.session, TEMPLATE, TITLE).await
}

#[tracing::instrument(skip_all)]
pub async fn reset(
    State(state): State<AppState>,
    at: AtStage<ResettingPassword>,
    ClientIp(ip): ClientIp,
    PostedForm(form): PostedForm<ResetForm>,
) -> AppResult<Response> {
    let mut pending = at.pending;
    match accounts::reset(&state.app, &mut pending, &form.code, &form.password, &ip).await? {
        ResetOutcome::Changed { .. } => {
            at.session
                .sign_out(
                    &state.store,
                    &SessionData::with_flash(
                        "Your password has been changed. Sign in with your new password.",
                    ),
                )
                .await?;
            Ok(see_other("/sign-in"))
        }
        ResetOutcome::Invalid(e) => {
            let (user, data) = SessionData::pending(&pending, None);
            at.session
                .set_stage(&state.store, Stage::ResetPassword, user, &data)
                .await?;
            Ok(page(
                &state,
                &at.session,
                TEMPLATE,
                TITLE,
                &errors_of(e),
                context! { code => &form.code },
            ))
        }
    }
}
