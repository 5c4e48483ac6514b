//! Registration and confirming the email address.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ehm_app::accounts::{
    self, ConfirmOutcome, Journey, NEW_CODE_SENT, RegisterInput, RegisterOutcome,
};
use ehm_storage::CodePurpose;
use minijinja::context;
use serde::Deserialize;
use time::OffsetDateTime;

use super::{code_entry_page, code_error_page, errors_of};
use crate::client::ClientIp;
use crate::csrf::PostedForm;
use crate::error::AppResult;
use crate::extract::{AtStage, ConfirmingEmail};
use crate::render::{Errors, page, page_with_status};
use crate::routes::see_other;
use crate::session::{Session, SessionData, Stage};
use crate::state::AppState;

const TEMPLATE: &str = "pages/confirm_email.html";
const TITLE: &str = "Check your email";

#[derive(Deserialize, Default)]
pub struct RegisterForm {
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    pub code: String,
}

pub(crate) fn closed(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    what: &str,
) -> Response {
    let opens = state.settings.go_live.map(|g| {
        let f = time::macros::format_description!(
            "[day padding:none] [month repr:long] [year] at [hour]:[minute] UTC"
        );
        g.format(&f).unwrap_or_default()
    });
    page_with_status(
        state,
        session,
        status,
        "pages/closed.html",
        "The portal is not open yet",
        &Errors::default(),
        context! { opens, what },
    )
}

fn render_register(
    state: &AppState,
    session: &Session,
    form: &RegisterForm,
    errors: &Errors,
) -> Response {
    page(
        state,
        session,
        "pages/register.html",
        "Create an account",
        errors,
        context! { full_name => &form.full_name, email => &form.email },
    )
}

#[tracing::instrument(skip_all)]
pub async fn register_form(State(state): State<AppState>, session: Session) -> Response {
    if !state.settings.is_live(OffsetDateTime::now_utc()) {
        return closed(&state, &session, StatusCode::OK, "register");
    }
    render_register(
        &state,
        &session,
        &RegisterForm::default(),
        &Errors::default(),
    )
}

#[tracing::instrument(skip_all)]
pub async fn register(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    PostedForm(form): PostedForm<RegisterForm>,
) -> AppResult<Response> {
    let input = RegisterInput {
        full_name: &form.full_name,
        email: &form.email,
        password: &form.password,
    };
    match accounts::register(&state.app, input, session.data.decoy.clone(), &ip).await? {
        RegisterOutcome::Closed => Ok(closed(&state, &session, StatusCode::FORBIDDEN, "register")),
        RegisterOutcome::Invalid(e) => Ok(render_register(&state, &session, &form, &errors_of(e))),
        RegisterOutcome::AwaitingCode(pending) => {
            let (user, data) = SessionData::pending(&pending, None);
            session
                .set_stage(&state.store, Stage::VerifyEmail, user, &data)
                .await?;
            Ok(see_other("/register/confirm-email"))
        }
    }
}

#[tracing::instrument(skip_all)]
pub async fn confirm_email_form(
    State(state): State<AppState>,
    at: AtStage<ConfirmingEmail>,
) -> AppResult<Response> {
    code_entry_page(&state, &at.session, TEMPLATE, TITLE).await
}

#[tracing::instrument(skip_all)]
pub async fn confirm_email(
    State(state): State<AppState>,
    at: AtStage<ConfirmingEmail>,
    ClientIp(ip): ClientIp,
    PostedForm(form): PostedForm<CodeForm>,
) -> AppResult<Response> {
    let mut pending = at.pending;
    let outcome = accounts::confirm_email(&state.app, &mut pending, &form.code, &ip).await?;
    match outcome {
        ConfirmOutcome::Confirmed { .. } => {
            at.session
                .set_stage(
                    &state.store,
                    Stage::Anonymous,
                    None,
                    &SessionData::with_flash(
                        "Your email address is confirmed. Sign in to continue.",
                    ),
                )
                .await?;
            Ok(see_other("/sign-in"))
        }
        ConfirmOutcome::Invalid(message) => {
            // A decoy counts its attempts in the session, as a real code does in the database.
            let (user, data) = SessionData::pending(&pending, None);
            at.session
                .set_stage(&state.store, Stage::VerifyEmail, user, &data)
                .await?;
            Ok(code_error_page(
                &state,
                &at.session,
                TEMPLATE,
                TITLE,
                message,
                &form.code,
            ))
        }
    }
}

#[tracing::instrument(skip_all)]
pub async fn resend_verify_code(
    State(state): State<AppState>,
    at: AtStage<ConfirmingEmail>,
) -> AppResult<Response> {
    let mut pending = at.pending;
    accounts::resend_code(
        &state.app,
        &mut pending,
        Journey::Register,
        CodePurpose::VerifyEmail,
    )
    .await?;
    let (user, data) = SessionData::pending(&pending, Some(NEW_CODE_SENT.into()));
    at.session
        .set_stage(&state.store, Stage::VerifyEmail, user, &data)
        .await?;
    Ok(see_other("/register/confirm-email"))
}
