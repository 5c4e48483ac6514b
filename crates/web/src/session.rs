//! Server-side sessions stored in the database, so several app instances share them.
//!
//! The cookie carries 256 random bits; only their SHA-256 is stored. Every request loads
//! the session, enforces the idle timeout and records activity. Signing in
//! rotates the session (a new token), signing out and password changes delete it.
//! (tower-sessions cannot end all of one user's sessions on a password change; this
//! module is the small piece of code that can.)

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use ehm_storage::{SessionRow, Store, User};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

use crate::auth::{random_token, sha256_hex};
use crate::error::AppError;
use crate::state::AppState;

pub const COOKIE: &str = "__Host-ehm_session";

/// Where in the sign-in journey a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Anonymous,
    /// Registered, waiting for the emailed code (user_id = the new account).
    VerifyEmail,
    /// Password accepted, waiting for the emailed sign-in code.
    LoginCode,
    /// Staff: waiting for the authenticator code.
    Totp,
    /// Staff at first sign-in: setting up the authenticator app.
    TotpEnrol,
    /// Forgotten password: waiting for the emailed code and a new password.
    ResetPassword,
    SignedIn,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Anonymous => "anonymous",
            Stage::VerifyEmail => "verify-email",
            Stage::LoginCode => "login-code",
            Stage::Totp => "totp",
            Stage::TotpEnrol => "totp-enrol",
            Stage::ResetPassword => "reset-password",
            Stage::SignedIn => "signed-in",
        }
    }
    fn parse(s: &str) -> Stage {
        match s {
            "verify-email" => Stage::VerifyEmail,
            "login-code" => Stage::LoginCode,
            "totp" => Stage::Totp,
            "totp-enrol" => Stage::TotpEnrol,
            "reset-password" => Stage::ResetPassword,
            "signed-in" => Stage::SignedIn,
            _ => Stage::Anonymous,
        }
    }
}

/// Small per-session values. Never personal data beyond what the journey needs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SessionData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flash: Option<String>,
    /// Authenticator secret being set up, until the first code proves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_secret: Option<String>,
    /// Whether the emailed sign-in code step has been passed (staff then do TOTP).
    #[serde(default)]
    pub login_code_passed: bool,
}

#[derive(Clone, Debug)]
pub struct Expired {
    pub user_id: i64,
    pub csrf_token: String,
}

#[derive(Clone)]
pub struct Session {
    id_hash: String,
    csrf_token: String,
    pub stage: Stage,
    /// The signed-in user (stage SignedIn only).
    user: Option<Arc<User>>,
    /// The account a pending stage is about.
    pub pending_user_id: Option<i64>,
    pub data: SessionData,
    /// The previous session ended because of inactivity.
    pub timed_out: bool,
    /// The signed-in session that just timed out (its user and CSRF token), so answers it
    /// posted can be kept until the user signs in again.
    pub expired: Option<Expired>,
    cookie: Arc<Mutex<Option<String>>>,
}

impl Session {
    pub fn user(&self) -> Option<&User> {
        self.user.as_deref()
    }

    pub fn csrf_token(&self) -> &str {
        &self.csrf_token
    }

    /// Move to another stage of the journey (same session token).
    pub async fn set_stage(
        &self,
        store: &Store,
        stage: Stage,
        user_id: Option<i64>,
        data: &SessionData,
    ) -> Result<(), AppError> {
        let json = serde_json::to_string(data).map_err(|e| AppError::Internal(e.to_string()))?;
        store
            .update_session(&self.id_hash, user_id, stage.as_str(), &json)
            .await?;
        Ok(())
    }

    /// Complete sign-in: the old session is deleted and a new token issued (session
    /// fixation defence, ASVS V7.2.4).
    pub async fn sign_in(
        &self,
        store: &Store,
        user_id: i64,
        now: OffsetDateTime,
    ) -> Result<(), AppError> {
        store.delete_session(&self.id_hash).await?;
        let token = create(
            store,
            now,
            Stage::SignedIn,
            Some(user_id),
            &SessionData::default(),
        )
        .await?;
        *self.cookie.lock().expect("cookie slot") = Some(token);
        Ok(())
    }

    /// End the session and start a fresh anonymous one (with a new CSRF token).
    pub async fn sign_out(
        &self,
        store: &Store,
        now: OffsetDateTime,
        data: &SessionData,
    ) -> Result<(), AppError> {
        store.delete_session(&self.id_hash).await?;
        let token = create(store, now, Stage::Anonymous, None, data).await?;
        *self.cookie.lock().expect("cookie slot") = Some(token);
        Ok(())
    }
}

async fn create(
    store: &Store,
    now: OffsetDateTime,
    stage: Stage,
    user_id: Option<i64>,
    data: &SessionData,
) -> Result<String, AppError> {
    let token = random_token();
    let row = SessionRow {
        id_hash: sha256_hex(&token),
        user_id,
        stage: stage.as_str().to_string(),
        csrf_token: random_token(),
        data: serde_json::to_string(data).map_err(|e| AppError::Internal(e.to_string()))?,
        created_at: now,
        last_seen_at: now,
    };
    store.create_session(&row).await?;
    Ok(token)
}

fn cookie_token(req: &Request) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == COOKIE && !v.is_empty()).then(|| v.to_string())
        })
}

/// Middleware: load (or start) the session, enforce the idle timeout, record activity.
pub async fn load(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, AppError> {
    let now = OffsetDateTime::now_utc();
    let store = &state.store;
    let mut timed_out = false;
    let mut expired = None;
    let mut existing = None;
    if let Some(token) = cookie_token(&req) {
        let hash = sha256_hex(&token);
        if let Some(row) = store.session(&hash).await? {
            if now - row.last_seen_at > state.settings.session_idle {
                store.delete_session(&hash).await?;
                timed_out = Stage::parse(&row.stage) != Stage::Anonymous;
                if Stage::parse(&row.stage) == Stage::SignedIn
                    && let Some(user_id) = row.user_id
                {
                    expired = Some(Expired {
                        user_id,
                        csrf_token: row.csrf_token.clone(),
                    });
                }
            } else {
                existing = Some(row);
            }
        }
    }
    let cookie = Arc::new(Mutex::new(None));
    let row = match existing {
        Some(row) => {
            store.touch_session(&row.id_hash, now).await?;
            row
        }
        None => {
            let token = create(store, now, Stage::Anonymous, None, &SessionData::default()).await?;
            let row = store
                .session(&sha256_hex(&token))
                .await?
                .ok_or_else(|| AppError::Internal("session vanished".into()))?;
            *cookie.lock().expect("cookie slot") = Some(token);
            row
        }
    };
    let mut stage = Stage::parse(&row.stage);
    let mut user = None;
    if stage == Stage::SignedIn {
        match row.user_id {
            Some(id) => match store.user_by_id(id).await? {
                Some(u) if !u.disabled => user = Some(Arc::new(u)),
                _ => stage = Stage::Anonymous,
            },
            None => stage = Stage::Anonymous,
        }
    }
    let session = Session {
        id_hash: row.id_hash,
        csrf_token: row.csrf_token,
        stage,
        user,
        pending_user_id: if stage == Stage::SignedIn {
            None
        } else {
            row.user_id
        },
        data: serde_json::from_str(&row.data).unwrap_or_default(),
        timed_out,
        expired,
        cookie: cookie.clone(),
    };
    req.extensions_mut().insert(session);
    let mut res = next.run(req).await;
    if let Some(token) = cookie.lock().expect("cookie slot").take() {
        let value = format!("{COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Lax");
        if let Ok(v) = HeaderValue::from_str(&value) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(res)
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| AppError::Internal("no session layer".into()))
    }
}
