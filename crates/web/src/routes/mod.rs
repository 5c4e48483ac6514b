//! Routes. Handlers are thin: parse the form, call the domain and storage layers,
//! render a page or redirect.

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
            get(accounts::register_form).post(accounts::register),
        )
        .route(
            "/register/confirm-email",
            get(accounts::confirm_email_form).post(accounts::confirm_email),
        )
        .route("/register/new-code", post(accounts::resend_verify_code))
        .route(
            "/sign-in",
            get(accounts::sign_in_form).post(accounts::sign_in),
        )
        .route(
            "/sign-in/code",
            get(accounts::login_code_form).post(accounts::login_code),
        )
        .route("/sign-in/new-code", post(accounts::resend_login_code))
        .route(
            "/sign-in/set-up-authenticator",
            get(accounts::totp_enrol_form).post(accounts::totp_enrol),
        )
        .route(
            "/sign-in/authenticator",
            get(accounts::totp_form).post(accounts::totp),
        )
        .route("/sign-out", post(accounts::sign_out))
        .route("/signed-out", get(accounts::signed_out))
        .route(
            "/forgot-password",
            get(accounts::forgot_form).post(accounts::forgot),
        )
        .route(
            "/reset-password",
            get(accounts::reset_form).post(accounts::reset),
        )
        .route("/session/keep-alive", post(accounts::keep_alive))
        .route("/referrals", post(referrals::create))
        .route("/referrals/kept-answers", get(referrals::kept_answers))
        .route("/referrals/{pid}", get(referrals::show))
        .route("/referrals/{pid}/check", get(referrals::check))
        .route("/referrals/{pid}/submit", post(referrals::submit))
        .route(
            "/referrals/{pid}/confirmation",
            get(referrals::confirmation),
        )
        .route("/referrals/{pid}/pdf", get(referrals::pdf))
        .route(
            "/referrals/{pid}/delete",
            get(referrals::delete_form).post(referrals::delete),
        )
        .route(
            "/referrals/{pid}/attachments",
            get(referrals::attachments_page)
                .post(referrals::upload)
                .layer(axum::extract::DefaultBodyLimit::max(
                    ehm_domain::referral::MAX_ATTACHMENT_BYTES + 64 * 1024,
                )),
        )
        .route(
            "/referrals/{pid}/attachments/{aid}",
            get(referrals::download_attachment),
        )
        .route(
            "/referrals/{pid}/attachments/{aid}/delete",
            post(referrals::remove_attachment),
        )
        .route(
            "/referrals/{pid}/{slug}",
            get(referrals::section_form).post(referrals::section_save),
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

/// The client's address, for the audit log and throttling.
pub struct ClientIp(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|a| a.0.ip().to_string())
            .unwrap_or_else(|| "unknown".into());
        Ok(ClientIp(ip))
    }
}
