//! Routes. Handlers are thin: they turn a request into a use-case call (`ehm_app`) and
//! its outcome into a page or a redirect. One module per area.

mod accounts;
mod admin;
mod demo;
mod home;
mod info;
mod mash;
pub(crate) mod referrals;

use axum::Router;
use axum::extract::State;
use axum::http::Method;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::error::AppError;
use crate::state::AppState;

/// One page route: a method, a path and its handler. The router is built from this list
/// and nothing else, so [`route_table`] is exactly what the app serves (the access-matrix
/// test enumerates it through `ehm routes`).
struct Route {
    method: Method,
    path: &'static str,
    handler: MethodRouter<AppState>,
}

/// `route!(GET "/path" => handler)`: the method is named once, so the table cannot
/// disagree with what the router does.
macro_rules! route {
    ($method:ident $path:literal => $handler:expr) => {
        Route {
            method: Method::$method,
            path: $path,
            handler: on(MethodFilter::$method, $handler),
        }
    };
    ($method:ident $path:literal => $handler:expr, $layer:expr) => {
        Route {
            method: Method::$method,
            path: $path,
            handler: on(MethodFilter::$method, $handler).layer($layer),
        }
    };
}

fn routes() -> Vec<Route> {
    use accounts::{register as reg, reset, second_factor as totp, sign_in};
    use referrals::{attachments as files, pdf, sections, submit};
    let upload_limit = axum::extract::DefaultBodyLimit::max(
        ehm_domain::referral::MAX_ATTACHMENT_BYTES + 64 * 1024,
    );
    vec![
        route!(GET "/" => home::home),
        // Accounts.
        route!(GET "/register" => reg::register_form),
        route!(POST "/register" => reg::register),
        route!(GET "/register/confirm-email" => reg::confirm_email_form),
        route!(POST "/register/confirm-email" => reg::confirm_email),
        route!(POST "/register/new-code" => reg::resend_verify_code),
        route!(GET "/sign-in" => sign_in::sign_in_form),
        route!(POST "/sign-in" => sign_in::sign_in),
        route!(GET "/sign-in/code" => sign_in::login_code_form),
        route!(POST "/sign-in/code" => sign_in::login_code),
        route!(POST "/sign-in/new-code" => sign_in::resend_login_code),
        route!(GET "/sign-in/set-up-authenticator" => totp::totp_enrol_form),
        route!(POST "/sign-in/set-up-authenticator" => totp::totp_enrol),
        route!(GET "/sign-in/authenticator" => totp::totp_form),
        route!(POST "/sign-in/authenticator" => totp::totp),
        route!(POST "/sign-out" => accounts::sign_out),
        route!(GET "/signed-out" => accounts::signed_out),
        route!(GET "/forgot-password" => reset::forgot_form),
        route!(POST "/forgot-password" => reset::forgot),
        route!(GET "/reset-password" => reset::reset_form),
        route!(POST "/reset-password" => reset::reset),
        route!(POST "/session/keep-alive" => accounts::keep_alive),
        // The session layer does not count this one as activity (`session::STATUS_PATH`).
        route!(GET "/session/status" => accounts::session_status),
        route!(GET "/account/password" => accounts::password::change_password_form),
        route!(POST "/account/password" => accounts::password::change_password),
        // The referrer's journey.
        route!(POST "/referrals" => referrals::create),
        route!(GET "/referrals/kept-answers" => referrals::kept_answers),
        route!(GET "/referrals/{pid}" => referrals::show),
        route!(GET "/referrals/{pid}/check" => submit::check),
        route!(POST "/referrals/{pid}/submit" => submit::submit),
        route!(GET "/referrals/{pid}/confirmation" => submit::confirmation),
        route!(GET "/referrals/{pid}/pdf" => pdf::pdf),
        route!(GET "/referrals/{pid}/delete" => referrals::delete_form),
        route!(POST "/referrals/{pid}/delete" => referrals::delete),
        route!(GET "/referrals/{pid}/attachments" => files::attachments_page),
        route!(POST "/referrals/{pid}/attachments" => files::upload, upload_limit),
        route!(GET "/referrals/{pid}/attachments/{aid}" => files::download_attachment),
        route!(POST "/referrals/{pid}/attachments/{aid}/delete" => files::remove_attachment),
        route!(GET "/referrals/{pid}/{slug}" => sections::section_form),
        route!(POST "/referrals/{pid}/{slug}" => sections::section_save),
        route!(GET "/referrals/{pid}/{slug}/conflict" => sections::kept_conflict),
        route!(POST "/referrals/{pid}/{slug}/conflict" => sections::resolve_kept_conflict),
        // The MASH.
        route!(GET "/mash" => mash::tray::tray),
        route!(GET "/mash/referrals/{pid}" => mash::referral::show),
        // Person index and links.
        route!(POST "/mash/referrals/{pid}/children/{child}/link" => mash::persons::link),
        route!(POST "/mash/referrals/{pid}/children/{child}/new-person" => mash::persons::new_person),
        route!(GET "/mash/referrals/{pid}/links/{link}/unlink" => mash::persons::unlink_form),
        route!(POST "/mash/referrals/{pid}/links/{link}/unlink" => mash::persons::unlink),
        route!(GET "/mash/persons/{id}" => mash::persons::show),
        route!(GET "/mash/persons/{id}/edit" => mash::persons::edit_form),
        route!(POST "/mash/persons/{id}/edit" => mash::persons::edit),
        // Workflow.
        route!(POST "/mash/referrals/{pid}/allocate" => mash::workflow::allocate),
        route!(POST "/mash/referrals/{pid}/send-for-decision" => mash::workflow::send_for_decision),
        route!(GET "/mash/referrals/{pid}/decision" => mash::workflow::decision_form),
        route!(POST "/mash/referrals/{pid}/decision" => mash::workflow::decision),
        route!(POST "/mash/referrals/{pid}/authorise" => mash::workflow::authorise),
        route!(GET "/mash/referrals/{pid}/return" => mash::workflow::return_form),
        route!(POST "/mash/referrals/{pid}/return" => mash::workflow::return_decision),
        route!(POST "/mash/referrals/{pid}/close" => mash::workflow::close),
        route!(GET "/mash/referrals/{pid}/letter" => mash::workflow::letter),
        // Last of the workflow block: the access matrix runs the routes in this order on a
        // freshly submitted referral, so the cells above it see it still submitted.
        route!(POST "/mash/referrals/{pid}/start-triage" => mash::workflow::start_triage),
        // Administrators.
        route!(GET "/admin/users" => admin::users),
        route!(GET "/admin/users/new" => admin::new_user_form),
        route!(POST "/admin/users/new" => admin::new_user),
        route!(GET "/admin/audit" => admin::audit),
        // Demo mode only (404 otherwise).
        route!(GET "/demo/mailbox" => demo::mailbox),
        // Information.
        route!(GET "/accessibility" => info::accessibility),
        route!(GET "/privacy" => info::privacy),
        route!(GET "/cookies" => info::cookies),
    ]
}

pub fn router() -> Router<AppState> {
    routes()
        .into_iter()
        .fold(Router::new(), |router, route| {
            router.route(route.path, route.handler)
        })
        .fallback(not_found)
}

/// Every page route the app serves, as (method, path pattern).
pub fn route_table() -> Vec<(Method, &'static str)> {
    routes().into_iter().map(|r| (r.method, r.path)).collect()
}

async fn not_found() -> AppError {
    AppError::NotFound
}

#[tracing::instrument(skip_all)]
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
