//! A referral as MASH staff see it: everything the referrer sent (with attachments and the
//! PDF), the system match for each child with the links to person records, and the
//! workflow (status, allocation, decision, authorisation, feedback, history).

use axum::extract::State;
use axum::response::Response;
use ehm_app::mash::StaffReferral;
use ehm_domain::referral::summary;
use minijinja::{Value, context};
use serde::Serialize;

use super::Staff;
use crate::client::ClientIp;
use crate::error::AppResult;
use crate::render::{Errors, page_with_status};
use crate::routes::referrals::{date_time, referral_ctx, title_of};
use crate::session::Session;
use crate::state::AppState;

#[derive(Serialize)]
struct FileLink {
    name: String,
    href: String,
    size: String,
}

/// The parts of the page each area fills in. `match_ctx` comes from the person-index
/// routes (`persons.rs`), `workflow_ctx` from the workflow routes (`workflow.rs`).
pub(crate) struct Panels {
    pub match_ctx: Value,
    pub workflow_ctx: Value,
}

/// Render the staff page of `r` with `errors` (from a step that was refused) and a status.
pub(crate) async fn render(
    state: &AppState,
    session: &Session,
    r: &StaffReferral,
    panels: Panels,
    errors: &Errors,
    status: axum::http::StatusCode,
) -> AppResult<Response> {
    let l = &r.loaded;
    let pid = l.public_id();
    let files: Vec<FileLink> = state
        .store
        .attachments_of(l.row.id)
        .await?
        .into_iter()
        .map(|a| FileLink {
            href: format!("/referrals/{pid}/attachments/{}", a.public_id),
            size: ehm_domain::referral::attachment::format_size(a.size_bytes as usize),
            name: a.file_name,
        })
        .collect();
    let flash = session.take_flash(&state.store).await?;
    Ok(page_with_status(
        state,
        session,
        status,
        "pages/mash/referral.html",
        &format!("Referral {}", l.row.reference_text().unwrap_or_default()),
        errors,
        context! {
            referral => referral_ctx(state, l),
            title => title_of(&l.draft),
            status_label => r.workflow.status.label(),
            status_code => r.workflow.status.code(),
            submitted_at => l.row.submitted_at.map(date_time),
            summary => summary(&l.draft),
            files,
            pdf_href => format!("/referrals/{pid}/pdf"),
            flash,
            m => panels.match_ctx,
            w => panels.workflow_ctx,
        },
    ))
}

/// The panels of `r` as they stand (no step just refused).
pub(crate) async fn panels(state: &AppState, r: &StaffReferral) -> AppResult<Panels> {
    let _ = (state, r);
    Ok(Panels {
        match_ctx: super::persons::match_context(state, r).await?,
        workflow_ctx: super::workflow::workflow_context(state, r).await?,
    })
}

#[tracing::instrument(skip_all)]
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Staff(r): Staff,
) -> AppResult<Response> {
    ehm_app::referrals::record(&state.app, &r.loaded, "view-referral", &ip).await?;
    let p = panels(&state, &r).await?;
    render(
        &state,
        &session,
        &r,
        p,
        &Errors::default(),
        axum::http::StatusCode::OK,
    )
    .await
}
