use axum::extract::State;
use axum::response::{IntoResponse, Response};
use ehm_domain::account::Role;
use minijinja::context;

use crate::render::{Errors, page};
use crate::session::Session;
use crate::state::AppState;

#[tracing::instrument(skip_all)]
pub async fn home(State(state): State<AppState>, session: Session) -> Response {
    if session.timed_out {
        return super::see_other("/sign-in?timeout=1");
    }
    let now = time::OffsetDateTime::now_utc();
    let live = state.settings.is_live(now);
    let opens = state.settings.go_live.map(|g| {
        let f = time::macros::format_description!("[day padding:none] [month repr:long] [year]");
        g.format(&f).unwrap_or_default()
    });
    match session.user() {
        None => page(
            &state,
            &session,
            "pages/start.html",
            "Make a referral to children's services",
            &Errors::default(),
            context! { live, opens },
        ),
        Some(u) if u.role == Role::Referrer => {
            match super::referrals::referrer_home(&state, &session, live, opens).await {
                Ok(r) => r,
                Err(e) => e.into_response(),
            }
        }
        Some(u) => page(
            &state,
            &session,
            "pages/staff_home.html",
            "Home",
            &Errors::default(),
            context! { is_admin => u.role == Role::Admin },
        ),
    }
}
