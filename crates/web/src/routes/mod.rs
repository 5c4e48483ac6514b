//! Routes. Handlers are thin: they turn a request into a use-case call (`ehm_app`) and
//! its outcome into a page or a redirect. One module per area.

mod accounts;
mod admin;
mod demo;
mod home;
mod info;
pub(crate) mod referrals;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::error::AppError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route(
            "/register",
            get(accounts::register::register_form).post(accounts::register::register),
        )
        .route(
            "/register/confirm-email",
            get(accounts::register::confirm_email_form).post(accounts::register::confirm_email),
        )
        .route(
            "/register/new-code",
            post(accounts::register::resend_verify_code),
        )
        .route(
            "/sign-in",
            get(accounts::sign_in::sign_in_form).post(accounts::sign_in::sign_in),
        )
        .route(
            "/sign-in/code",
            get(accounts::sign_in::login_code_form).post(accounts::sign_in::login_code),
        )
        .route(
            "/sign-in/new-code",
            post(accounts::sign_in::resend_login_code),
        )
        .route(
            "/sign-in/set-up-authenticator",
            get(accounts::second_factor::totp_enrol_form).post(accounts::second_factor::totp_enrol),
        )
        .route(
            "/sign-in/authenticator",
            get(accounts::second_factor::totp_form).post(accounts::second_factor::totp),
        )
        .route("/sign-out", post(accounts::sign_out))
        .route("/signed-out", get(accounts::signed_out))
        .route(
            "/forgot-password",
            get(accounts::reset::forgot_form).post(accounts::reset::forgot),
        )
        .route(
            "/reset-password",
            get(accounts::reset::reset_form).post(accounts::reset::reset),
        )
        .route("/session/keep-alive", post(accounts::keep_alive))
        .route("/referrals", post(referrals::create))
        .route("/referrals/kept-answers", get(referrals::kept_answers))
        .route("/referrals/{pid}", get(referrals::show))
        .route("/referrals/{pid}/check", get(referrals::submit::check))
        .route("/referrals/{pid}/submit", post(referrals::submit::submit))
        .route(
            "/referrals/{pid}/confirmation",
            get(referrals::submit::confirmation),
        )
        .route("/referrals/{pid}/pdf", get(referrals::pdf::pdf))
        .route(
            "/referrals/{pid}/delete",
            get(referrals::delete_form).post(referrals::delete),
        )
        .route(
            "/referrals/{pid}/attachments",
            get(referrals::attachments::attachments_page)
                .post(referrals::attachments::upload)
                .layer(axum::extract::DefaultBodyLimit::max(
                    ehm_domain::referral::MAX_ATTACHMENT_BYTES + 64 * 1024,
                )),
        )
        .route(
            "/referrals/{pid}/attachments/{aid}",
            get(referrals::attachments::download_attachment),
        )
        .route(
            "/referrals/{pid}/attachments/{aid}/delete",
            post(referrals::attachments::remove_attachment),
        )
        .route(
            "/referrals/{pid}/{slug}",
            get(referrals::sections::section_form).post(referrals::sections::section_save),
        )
        .route("/admin/users", get(admin::users))
        .route(
            "/admin/users/new",
            get(admin::new_user_form).post(admin::new_user),
        )
        .route("/admin/audit", get(admin::audit))
        .route("/demo/mailbox", get(demo::mailbox))
        .route("/accessibility", get(info::accessibility))
        .route("/privacy", get(info::privacy))
        .route("/cookies", get(info::cookies))
        .fallback(not_found)
}

async fn not_found() -> AppError {
    AppError::NotFound
}

pub async fn health(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// 303 See Other: after a POST the browser GETs the next page (no double submission on
/// going back or refreshing).
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}
