use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use minijinja::context;

/// Errors a handler can end with. Each becomes a proper page: never a panic, and a 500
/// page that reveals nothing. The cause chain is kept and logged once, here at the
/// boundary, without personal data (errors carry identifiers, never form values).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("page not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("sign-in required")]
    SignInRequired,
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// Too much work at once: try again shortly (503 with Retry-After).
    #[error("busy")]
    Busy,
    #[error("storage")]
    Storage(#[from] ehm_storage::StorageError),
    #[error("internal")]
    Internal(#[source] anyhow::Error),
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        AppError::Internal(e)
    }
}

impl From<ehm_app::Error> for AppError {
    fn from(e: ehm_app::Error) -> Self {
        match e {
            ehm_app::Error::Busy => AppError::Busy,
            ehm_app::Error::Storage(s) => AppError::Storage(s),
            ehm_app::Error::Internal(i) => AppError::Internal(i),
        }
    }
}

impl From<ehm_app::crypto::CryptoError> for AppError {
    fn from(e: ehm_app::crypto::CryptoError) -> Self {
        ehm_app::Error::from(e).into()
    }
}

/// The error and its causes on one line: "storage: database error: pool timed out".
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::SignInRequired = self {
            return axum::response::Redirect::to("/sign-in").into_response();
        }
        let (status, title, body) = match &self {
            AppError::SignInRequired => unreachable!("handled above"),
            AppError::BadRequest(msg) => (
                StatusCode::BAD_REQUEST,
                "Sorry, the form could not be read",
                *msg,
            ),
            AppError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "If you typed the web address, check it is correct. If you pasted the web address, check you copied the entire address.",
            ),
            AppError::Forbidden => (
                StatusCode::FORBIDDEN,
                "You cannot view this page",
                "Your account does not have access to this page.",
            ),
            AppError::Busy => {
                tracing::warn!("request refused: the service is busy");
                let mut res = crate::render::plain_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Sorry, the service is busy",
                    "Too many people are signing in or registering at this moment. Wait a minute and try again. Nothing you had saved has been lost. If a child is in immediate danger call 999.",
                );
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
                return res;
            }
            AppError::Storage(e) if e.is_unavailable() => {
                tracing::error!(error = %chain(&self), "request failed: database unavailable");
                let mut res = crate::render::plain_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Sorry, the service is unavailable",
                    "Try again in a minute. Nothing you had saved has been lost. If a child is in immediate danger call 999.",
                );
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
                res.extensions_mut().insert(DatabaseUnavailable);
                return res;
            }
            AppError::Storage(_) | AppError::Internal(_) => {
                tracing::error!(error = %chain(&self), "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Sorry, there is a problem with the service",
                    "Try again later. Nothing you had saved has been lost. If a child is in immediate danger call 999.",
                )
            }
        };
        crate::render::plain_page(status, title, body)
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Marks a 503 answered because the database could not be reached (see
/// [`keep_posted_form`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DatabaseUnavailable;

/// The largest form [`keep_posted_form`] keeps (the CSRF layer's limit for forms).
const MAX_KEPT_FORM_BYTES: u64 = 2 * 1024 * 1024;

/// Fields that are not answers: sent back, not shown.
const NOT_SHOWN: [&str; 5] = ["csrf_token", "version", "action", "completed", "return_to"];

/// Middleware: a URL-encoded form posted while the database is unavailable (so that even
/// the session could not be read) is not lost. Instead of the bare 503 page, the person
/// gets "Sorry, your answers could not be saved. They are still on this page": what they
/// typed, and the same form (every field, its CSRF token and version included) to send
/// again with one button once the database is back. Nothing is stored anywhere: the
/// answers live in the page. Other requests pass through untouched.
pub async fn keep_posted_form(req: Request, next: Next) -> Response {
    let is_form = req.method() == Method::POST
        && req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Only a plain same-site path is offered as the form's action again.
    let path = req.uri().path();
    let plain_path = path.starts_with('/') && !path.starts_with("//") && !path.contains('\\');
    if !is_form || !plain_path || length.is_none_or(|n| n > MAX_KEPT_FORM_BYTES) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_KEPT_FORM_BYTES as usize).await else {
        return crate::render::plain_page(
            StatusCode::BAD_REQUEST,
            "Sorry, the form could not be read",
            "What was sent was not a form this service can read. Go back and try again.",
        );
    };
    let action = parts.uri.to_string();
    let res = next
        .run(Request::from_parts(parts, Body::from(bytes.clone())))
        .await;
    if res.extensions().get::<DatabaseUnavailable>().is_none() {
        return res;
    }
    let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes) else {
        return res;
    };
    let shown: Vec<minijinja::Value> = pairs
        .iter()
        .filter(|(name, value)| !NOT_SHOWN.contains(&name.as_str()) && !value.trim().is_empty())
        .map(|(name, value)| context! { label => label(name), value })
        .collect();
    let fields: Vec<minijinja::Value> = pairs
        .iter()
        .map(|(name, value)| context! { name, value })
        .collect();
    let title = "Sorry, your answers could not be saved";
    match crate::render::plain_template(
        StatusCode::SERVICE_UNAVAILABLE,
        "pages/not_saved.html",
        context! { page_title => title, heading => title, action, shown, fields },
    ) {
        Some(mut kept) => {
            kept.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            kept
        }
        None => res,
    }
}

/// "child-0-first-name" → "Child 0 first name".
fn label(name: &str) -> String {
    let spaced = name.replace(['-', '_'], " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_read_as_labels() {
        assert_eq!(label("child-0-first-name"), "Child 0 first name");
        assert_eq!(label(""), "");
    }

    #[test]
    fn the_cause_chain_is_kept() {
        let e = AppError::Internal(anyhow::anyhow!("disk full").context("saving a draft"));
        assert_eq!(chain(&e), "internal: saving a draft: disk full");
    }
}
