//! HTTP: thin axum handlers over the domain and storage layers, server-rendered
//! GOV.UK Design System pages, sessions, CSRF protection and security headers.

mod assets;
mod auth;
mod client;
mod csrf;
mod error;
mod extract;
mod guard;
mod headers;
mod pdf;
mod render;
pub(crate) mod routes;
mod session;
mod settings;
mod state;

pub use auth::{hash_password, random_bytes};
pub use pdf::document as referral_pdf_document;
pub use settings::{IpNet, Settings};
pub use state::AppState;

use axum::Router;
use axum::middleware;

/// The whole web application.
pub fn app(state: AppState) -> Router {
    let pages = routes::router()
        .layer(middleware::from_fn_with_state(state.clone(), csrf::verify))
        .layer(middleware::from_fn_with_state(state.clone(), session::load));
    Router::new()
        .merge(pages)
        .route("/health", axum::routing::get(routes::health))
        .route("/static/{*path}", axum::routing::get(assets::serve_static))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            headers::security,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            12 * 1024 * 1024,
        ))
        .with_state(state)
}
