use axum::extract::State;
use axum::response::Response;
use minijinja::context;

use crate::render::{Errors, page};
use crate::session::Session;
use crate::state::AppState;

#[tracing::instrument(skip_all)]
pub async fn accessibility(State(state): State<AppState>, session: Session) -> Response {
    page(
        &state,
        &session,
        "pages/accessibility.html",
        "Accessibility statement",
        &Errors::default(),
        context! {},
    )
}

#[tracing::instrument(skip_all)]
pub async fn privacy(State(state): State<AppState>, session: Session) -> Response {
    page(
        &state,
        &session,
        "pages/privacy.html",
        "Privacy notice",
        &Errors::default(),
        context! {},
    )
}

#[tracing::instrument(skip_all)]
pub async fn cookies(State(state): State<AppState>, session: Session) -> Response {
    page(
        &state,
        &session,
        "pages/cookies.html",
        "Cookies",
        &Errors::default(),
        context! {},
    )
}
