//! The referral as a PDF, draft or submitted.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use ehm_app::referrals as uc;

use super::Readable;
use crate::client::ClientIp;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

#[tracing::instrument(skip_all)]
pub async fn pdf(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Readable(l): Readable,
) -> AppResult<Response> {
    uc::record(&state.app, &l, "pdf-referral", &ip).await?;
    let doc = crate::pdf::document(
        &l.draft,
        l.row.reference_text().as_deref(),
        time::OffsetDateTime::now_utc(),
    );
    let bytes = tokio::task::spawn_blocking(move || ehm_pdf::render(&doc))
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .map_err(|e| AppError::Internal(anyhow::anyhow!("rendering a referral PDF: {e}")))?;
    let name = l
        .row
        .reference_text()
        .unwrap_or_else(|| "draft-referral".into());
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.pdf\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
