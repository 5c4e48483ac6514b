//! HTTP: thin axum handlers over the domain and storage layers, server-rendered
//! GOV.UK Design System pages, sessions, CSRF protection and security headers.

mod assets;
mod auth;
mod client;
mod components;
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
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

/// Every route the app serves, as (method, path pattern): the page routes (built from
/// this same list) plus the health check and static files.
pub fn route_table() -> Vec<(axum::http::Method, &'static str)> {
    let mut table = routes::route_table();
    table.push((axum::http::Method::GET, "/health"));
    table.push((axum::http::Method::GET, "/static/{*path}"));
    table
}

/// The whole web application.
pub fn app(state: AppState) -> Router {
    let pages = routes::router()
        .layer(middleware::from_fn_with_state(state.clone(), csrf::verify))
        .layer(middleware::from_fn_with_state(state.clone(), session::load))
        .layer(middleware::from_fn(error::keep_posted_form));
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
        // Outermost: every request gets an id (or keeps the proxy's), a span carrying it
        // (and later the user id, never personal data), and the id echoed in the response.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::DEBUG)),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// The span of one request: its id, method and route pattern (never the path itself, which
/// may hold identifiers, nor the query string).
fn request_span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        route,
        user_id = tracing::field::Empty,
    )
}
