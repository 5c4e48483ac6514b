//! CSRF protection: every state-changing request must carry the session's
//! synchroniser token, either as the form field `csrf_token` or the `X-CSRF-Token`
//! header (used by the session keep-alive script).

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::session::Session;
use crate::state::AppState;

const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;

fn matches(expected: &str, given: &str) -> bool {
    !given.is_empty() && expected.as_bytes().ct_eq(given.as_bytes()).into()
}

pub async fn verify(State(_state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let Some(session) = req.extensions().get::<Session>().cloned() else {
        return rejected();
    };
    let expected = session.csrf_token().to_string();
    if let Some(h) = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        && matches(&expected, h)
    {
        return next.run(req).await;
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return rejected();
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large").into_response();
    };
    let given = form_urlencoded_value(&bytes, "csrf_token");
    if !given.as_deref().is_some_and(|g| matches(&expected, g)) {
        tracing::warn!(path = %parts.uri.path(), "CSRF token missing or wrong");
        return rejected();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn form_urlencoded_value(bytes: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn rejected() -> Response {
    crate::render::plain_page(
        StatusCode::FORBIDDEN,
        "Sorry, this form has expired",
        "For your security the form could not be sent. Go back, reload the page and try again. Anything you had saved is still there.",
    )
}
