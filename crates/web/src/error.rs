use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Errors a handler can end with. Each becomes a proper page: never a panic, and a 500
/// page that reveals nothing (the cause is logged without personal data).
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
    #[error("storage: {0}")]
    Storage(#[from] ehm_storage::StorageError),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        AppError::Internal(e.to_string())
    }
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
            AppError::Storage(_) | AppError::Internal(_) => {
                tracing::error!(error = %self, "request failed");
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
