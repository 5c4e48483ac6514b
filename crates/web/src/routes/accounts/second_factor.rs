//! Staff: the authenticator app (set up at the first sign-in, then every sign-in).

use axum::extract::State;
use axum::response::Response;
use ehm_app::accounts::{self, TotpOutcome};
use ehm_app::crypto;
use ehm_storage::User;
use minijinja::context;

use super::register::CodeForm;
use super::sign_in::complete;
use crate::client::ClientIp;
use crate::csrf::PostedForm;
use crate::error::{AppError, AppResult};
use crate::extract::{EnrollingTotp, EnteringTotp, PendingUser};
use crate::render::{Errors, page};
use crate::routes::see_other;
use crate::session::{Session, Stage};
use crate::state::AppState;

fn unix_now() -> u64 {
    time::OffsetDateTime::now_utc().unix_timestamp().max(0) as u64
}

/// Demo mode only: the code the app would show, so the portal can be tried without a phone.
fn demo_hint(state: &AppState, secret: &str, email: &str) -> Option<String> {
    state
        .settings
        .demo
        .then(|| crypto::totp(secret, email, &state.settings.service_name).ok())
        .flatten()
        .map(|t| t.generate(unix_now()))
}

#[tracing::instrument(skip_all)]
pub async fn totp_enrol_form(
    State(state): State<AppState>,
    p: PendingUser<EnrollingTotp>,
) -> AppResult<Response> {
    let mut data = p.session.data.clone();
    let secret = match &data.totp_secret {
        Some(s) => s.clone(),
        None => {
            let s = crypto::new_totp_secret();
            data.totp_secret = Some(s.clone());
            p.session
                .set_stage(&state.store, Stage::TotpEnrol, Some(p.user.id), &data)
                .await?;
            s
        }
    };
    render_enrol(&state, &p.session, &p.user, &secret, &Errors::default())
}

fn render_enrol(
    state: &AppState,
    session: &Session,
    user: &User,
    secret: &str,
    errors: &Errors,
) -> AppResult<Response> {
    let t = crypto::totp(secret, &user.email, &state.settings.service_name)?;
    let qr = t
        .get_qr_base64()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("QR code: {e}")))?;
    let grouped: Vec<String> = secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    Ok(page(
        state,
        session,
        "pages/totp_enrol.html",
        "Set up your authenticator app",
        errors,
        context! { qr, secret => grouped.join(" "), demo_code => demo_hint(state, secret, &user.email) },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn totp_enrol(
    State(state): State<AppState>,
    p: PendingUser<EnrollingTotp>,
    ClientIp(ip): ClientIp,
    PostedForm(form): PostedForm<CodeForm>,
) -> AppResult<Response> {
    let Some(secret) = p.session.data.totp_secret.clone() else {
        return Ok(see_other("/sign-in/set-up-authenticator"));
    };
    match accounts::enrol_totp(&state.app, &p.user, &secret, &form.code, &ip).await? {
        TotpOutcome::SignedIn => complete(&state, &p.session, &p.user, &ip).await,
        TotpOutcome::Invalid(message) => {
            let mut errors = Errors::default();
            errors.add("code", message);
            render_enrol(&state, &p.session, &p.user, &secret, &errors)
        }
    }
}

fn render_totp(state: &AppState, session: &Session, user: &User, errors: &Errors) -> Response {
    let demo_code = user
        .totp_secret
        .as_deref()
        .and_then(|s| demo_hint(state, s, &user.email));
    page(
        state,
        session,
        "pages/totp.html",
        "Enter the code from your authenticator app",
        errors,
        context! { demo_code },
    )
}

#[tracing::instrument(skip_all)]
pub async fn totp_form(State(state): State<AppState>, p: PendingUser<EnteringTotp>) -> Response {
    render_totp(&state, &p.session, &p.user, &Errors::default())
}

#[tracing::instrument(skip_all)]
pub async fn totp(
    State(state): State<AppState>,
    p: PendingUser<EnteringTotp>,
    ClientIp(ip): ClientIp,
    PostedForm(form): PostedForm<CodeForm>,
) -> AppResult<Response> {
    match accounts::totp(&state.app, &p.user, &form.code, &ip).await? {
        TotpOutcome::SignedIn => complete(&state, &p.session, &p.user, &ip).await,
        TotpOutcome::Invalid(message) => {
            let mut errors = Errors::default();
            errors.add("code", message);
            Ok(render_totp(&state, &p.session, &p.user, &errors))
        }
    }
}
