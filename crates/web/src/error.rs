use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

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
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_chain_is_kept() {
        let e = AppError::Internal(anyhow::anyhow!("disk full").context("saving a draft"));
        assert_eq!(chain(&e), "internal: saving a draft: disk full");
    }
}
