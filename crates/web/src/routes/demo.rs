//! Demo mode only: a mailbox page listing the outbox, so a person trying the portal on
//! their own machine can read the codes it sends.

use axum::extract::State;
use axum::response::Response;
use minijinja::context;
use serde::Serialize;

use crate::error::{AppError, AppResult};
use crate::render::{Errors, page};
use crate::session::Session;
use crate::state::AppState;

#[derive(Serialize)]
struct Mail {
    to: String,
    subject: String,
    body: String,
    created: String,
    status: &'static str,
}

pub async fn mailbox(State(state): State<AppState>, session: Session) -> AppResult<Response> {
    if !state.settings.demo {
        return Err(AppError::NotFound);
    }
    let f = time::macros::format_description!(
        "[day padding:none] [month repr:short] [year] [hour]:[minute]:[second] UTC"
    );
    let mails: Vec<Mail> = state
        .store
        .list_mail(50)
        .await?
        .into_iter()
        .map(|m| Mail {
            to: m.to,
            subject: m.subject,
            body: m.body_text,
            created: m.created_at.format(&f).unwrap_or_default(),
            status: if m.sent_at.is_some() {
                "Sent"
            } else {
                "Waiting to send"
            },
        })
        .collect();
    Ok(page(
        &state,
        &session,
        "pages/mailbox.html",
        "Demo mailbox",
        &Errors::default(),
        context! { mails },
    ))
}
