//! A signed-in person changes their password: the current one and a new one. Every other
//! session of theirs ends; this one continues under a new id.

use axum::extract::State;
use axum::response::Response;
use ehm_app::accounts::{self, ChangePasswordOutcome};
use minijinja::context;
use serde::Deserialize;

use super::errors_of;
use crate::client::ClientIp;
use crate::csrf::PostedForm;
use crate::error::{AppError, AppResult};
use crate::render::{Errors, page};
use crate::routes::see_other;
use crate::session::{Session, SessionData};
use crate::state::AppState;

const TITLE: &str = "Change your password";
const PATH: &str = "/account/password";

#[derive(Deserialize, Default)]
pub struct ChangePasswordForm {
    #[serde(default, rename = "current-password")]
    current: String,
    #[serde(default, rename = "new-password")]
    new: String,
}

#[tracing::instrument(skip_all)]
pub async fn change_password_form(
    State(state): State<AppState>,
    session: Session,
) -> AppResult<Response> {
    if session.user().is_none() {
        return Err(AppError::SignInRequired);
    }
    let flash = session.take_flash(&state.store).await?;
    Ok(page(
        &state,
        &session,
        "pages/change_password.html",
        TITLE,
        &Errors::default(),
        context! { flash, action => PATH },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn change_password(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    PostedForm(form): PostedForm<ChangePasswordForm>,
) -> AppResult<Response> {
    let Some(user) = session.user() else {
        return Err(AppError::SignInRequired);
    };
    match accounts::change_password(&state.app, user, &form.current, &form.new, &ip).await? {
        ChangePasswordOutcome::Invalid(e) => Ok(page(
            &state,
            &session,
            "pages/change_password.html",
            TITLE,
            &errors_of(e),
            context! { flash => None::<String>, action => PATH },
        )),
        ChangePasswordOutcome::Changed => {
            // Every session of the account has ended; this person carries on in a new one.
            session
                .sign_in(
                    &state.store,
                    user.id,
                    &SessionData::with_flash(
                        "Your password has been changed. You have been signed out everywhere else, and we have sent you an email to say so.",
                    ),
                )
                .await?;
            Ok(see_other(PATH))
        }
    }
}
