//! CSRF protection: every state-changing request must carry the session's
//! synchroniser token, as the form field `csrf_token` (URL-encoded or multipart forms) or
//! the `X-CSRF-Token` header (used by the session keep-alive script).
//!
//! One exception keeps typed work: a referral section posted by a session that has
//! just timed out, carrying *that* session's valid token, is kept server-side for its user
//! and saved once they sign in again.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::session::{Session, SessionData};
use crate::state::AppState;

const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;
const MAX_MULTIPART_BYTES: usize = ehm_domain::referral::MAX_ATTACHMENT_BYTES + 64 * 1024;

fn matches(expected: &str, given: &str) -> bool {
    !given.is_empty() && expected.as_bytes().ct_eq(given.as_bytes()).into()
}

enum Kind {
    Form,
    Multipart(String),
    Other,
}

fn kind(req: &Request) -> Kind {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.starts_with("application/x-www-form-urlencoded") {
        Kind::Form
    } else if ct.starts_with("multipart/form-data") {
        match multer::parse_boundary(ct) {
            Ok(b) => Kind::Multipart(b),
            Err(_) => Kind::Other,
        }
    } else {
        Kind::Other
    }
}

pub async fn verify(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let Some(session) = req.extensions().get::<Session>().cloned() else {
        return rejected();
    };
    let expected = session.csrf_token().to_string();
    if let Some(h) = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        && matches(&expected, h)
    {
        return next.run(req).await;
    }
    let kind = kind(&req);
    let limit = match kind {
        Kind::Form => MAX_FORM_BYTES,
        Kind::Multipart(_) => MAX_MULTIPART_BYTES,
        Kind::Other => return rejected(),
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, limit).await else {
        return crate::render::plain_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The file or form is too large",
            "Files must be smaller than 10 MB. Go back and choose a smaller file.",
        );
    };
    let given = match &kind {
        Kind::Form => form_value(&bytes, "csrf_token"),
        Kind::Multipart(boundary) => multipart_value(bytes.clone(), boundary, "csrf_token").await,
        Kind::Other => None,
    };
    let given = given.unwrap_or_default();
    if matches(&expected, &given) {
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    }
    if let (Kind::Form, Some(exp)) = (&kind, &session.expired)
        && matches(&exp.csrf_token, &given)
        && is_section_save(parts.uri.path())
    {
        return keep_answers(&state, &session, exp.user_id, parts.uri.path(), &bytes).await;
    }
    tracing::warn!(path = %parts.uri.path(), "CSRF token missing or wrong");
    rejected()
}

/// `/referrals/{pid}/{section}`: the only posts whose answers are kept across a timeout.
fn is_section_save(path: &str) -> bool {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    segs.len() == 3
        && segs[0] == "referrals"
        && ehm_domain::referral::Section::from_slug(segs[2]).is_some()
}

async fn keep_answers(
    state: &AppState,
    session: &Session,
    user_id: i64,
    path: &str,
    body: &Bytes,
) -> Response {
    let text = String::from_utf8_lossy(body);
    let now = time::OffsetDateTime::now_utc();
    let kept = state
        .store
        .add_pending_save(user_id, path, &text, now)
        .await;
    if let Err(e) = kept {
        return crate::error::AppError::from(e).into_response();
    }
    tracing::info!(user_id, "answers posted after a timeout kept until sign-in");
    let data = SessionData {
        flash: Some("We have kept the answers you entered. Sign in again and they will be saved to your draft.".into()),
        ..Default::default()
    };
    if let Err(e) = session
        .set_stage(&state.store, crate::session::Stage::Anonymous, None, &data)
        .await
    {
        return e.into_response();
    }
    super::routes::see_other("/sign-in?timeout=1")
}

fn form_value(bytes: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

async fn multipart_value(bytes: Bytes, boundary: &str, name: &str) -> Option<String> {
    let stream = futures_stream(bytes);
    let mut mp = multer::Multipart::new(stream, boundary);
    while let Ok(Some(field)) = mp.next_field().await {
        if field.name() == Some(name) {
            return field.text().await.ok();
        }
    }
    None
}

fn futures_stream(bytes: Bytes) -> impl futures_core::Stream<Item = Result<Bytes, std::io::Error>> {
    struct Once(Option<Bytes>);
    impl futures_core::Stream for Once {
        type Item = Result<Bytes, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.take().map(Ok))
        }
    }
    Once(Some(bytes))
}

fn rejected() -> Response {
    crate::render::plain_page(
        StatusCode::FORBIDDEN,
        "Sorry, this form has expired",
        "For your security the form could not be sent. Go back, reload the page and try again. Anything you had saved is still there.",
    )
}
