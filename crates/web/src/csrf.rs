//! CSRF protection and reading posted forms once.
//!
//! Every state-changing request must carry the session's token, as the form field
//! `csrf_token` (URL-encoded or multipart forms) or the `X-CSRF-Token` header (used by the
//! session keep-alive script):
//! - a session with a row has a random synchroniser token stored with it;
//! - a signed-out visitor has no row: their token is an HMAC of the random nonce in their
//!   `__Host-ehm_anon` cookie under a server secret (OWASP's signed double-submit cookie),
//!   so showing them a form writes nothing.
//!
//! A URL-encoded form is parsed here, once, into [`FormFields`] (at most
//! [`MAX_FORM_FIELDS`] fields) and handed to the handler through the request's extensions
//! ([`Posted`]).
//!
//! One exception keeps typed work: a referral section posted by a session that has
//! timed out (within an hour), carrying *that* session's token, is kept server-side for its
//! user and saved once they sign in again; every such post is kept, in order.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use ehm_domain::form_fields::{FormFields, MAX_FORM_FIELDS};
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use subtle::ConstantTimeEq;

use crate::error::AppError;
use crate::session::Session;
use crate::state::AppState;

const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;
const MAX_MULTIPART_BYTES: usize = ehm_domain::referral::MAX_ATTACHMENT_BYTES + 64 * 1024;

fn matches(expected: &str, given: &str) -> bool {
    !given.is_empty() && expected.as_bytes().ct_eq(given.as_bytes()).into()
}

/// The form token of a signed-out visitor whose cookie holds `nonce`.
pub(crate) async fn anonymous_token(state: &AppState, nonce: &str) -> Result<String, AppError> {
    let key = state
        .csrf_key
        .get_or_try_init(|| async {
            let hex = state
                .store
                .secret("csrf-hmac-key", || {
                    hex::encode(ehm_app::crypto::random_bytes(32))
                })
                .await?;
            hex::decode(hex).map_err(|e| AppError::Internal(e.into()))
        })
        .await?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("hmac key: {e}")))?;
    mac.update(b"ehm-anonymous-csrf-v1:");
    mac.update(nonce.as_bytes());
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
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

/// A posted URL-encoded form, parsed once by [`verify`].
#[derive(Clone)]
pub struct Posted(pub Arc<FormFields>);

impl Posted {
    /// The form as a typed struct (each name's first value; unknown names ignored).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, AppError> {
        use serde::de::value::{Error, MapDeserializer};
        T::deserialize(MapDeserializer::<_, Error>::new(self.0.first_values()))
            .map_err(|_| AppError::BadRequest("The form could not be read. Go back and try again."))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Posted {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Posted>()
            .cloned()
            .ok_or(AppError::BadRequest(
                "The form could not be read. Go back and try again.",
            ))
    }
}

/// A typed form: `PostedForm(form): PostedForm<SignInForm>`.
pub struct PostedForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for PostedForm<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let posted = Posted::from_request_parts(parts, state).await?;
        Ok(PostedForm(posted.parse()?))
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
    let (mut parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, limit).await else {
        return crate::render::plain_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The file or form is too large",
            "Files must be smaller than 10 MB. Go back and choose a smaller file.",
        );
    };
    let given = match &kind {
        Kind::Form => {
            let fields = match parse_form(&bytes) {
                Ok(f) => f,
                Err(r) => return r.into_response(),
            };
            let token = fields.get("csrf_token").unwrap_or("").to_string();
            parts.extensions.insert(Posted(Arc::new(fields)));
            token
        }
        Kind::Multipart(boundary) => multipart_value(bytes.clone(), boundary, "csrf_token")
            .await
            .unwrap_or_default(),
        Kind::Other => String::new(),
    };
    if matches(&expected, &given) {
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    }
    if let (Some(exp), Some(posted)) = (&session.expired, parts.extensions.get::<Posted>())
        && matches(&exp.csrf_token, &given)
        && let Some((pid, slug)) = section_save(parts.uri.path())
    {
        return keep_answers(&state, exp.user_id, &pid, &slug, posted).await;
    }
    tracing::warn!(path = %parts.uri.path(), "CSRF token missing or wrong");
    rejected()
}

/// Why a posted form could not be read.
enum Unreadable {
    NotAForm,
    TooManyFields,
}

impl IntoResponse for Unreadable {
    fn into_response(self) -> Response {
        match self {
            Unreadable::NotAForm => crate::render::plain_page(
                StatusCode::BAD_REQUEST,
                "Sorry, the form could not be read",
                "What was sent was not a form this service can read. Go back and try again.",
            ),
            Unreadable::TooManyFields => crate::render::plain_page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The form has too many fields",
                &format!(
                    "A form can have at most {MAX_FORM_FIELDS} fields. Go back and try again."
                ),
            ),
        }
    }
}

fn parse_form(bytes: &[u8]) -> Result<FormFields, Unreadable> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(bytes).map_err(|_| Unreadable::NotAForm)?;
    FormFields::from_pairs(pairs).map_err(|_| Unreadable::TooManyFields)
}

/// `/referrals/{pid}/{section}`: the only posts whose answers are kept across a timeout.
fn section_save(path: &str) -> Option<(String, String)> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    (segs.len() == 3
        && segs[0] == "referrals"
        && ehm_domain::referral::Section::from_slug(segs[2]).is_some())
    .then(|| (segs[1].to_string(), segs[2].to_string()))
}

async fn keep_answers(
    state: &AppState,
    user_id: i64,
    pid: &str,
    slug: &str,
    posted: &Posted,
) -> Response {
    let kept = ehm_app::referrals::keep_answers(&state.app, user_id, pid, slug, &posted.0).await;
    match kept {
        // The timed-out session stays (signed out) so that every other page still open can
        // post its answers too; the sign-in page says what was kept.
        Ok(true) => {
            tracing::info!(user_id, "answers posted after a timeout kept until sign-in");
            super::routes::see_other("/sign-in?timeout=1")
        }
        Ok(false) => rejected(),
        Err(e) => AppError::from(e).into_response(),
    }
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
