//! Server-side sessions stored in the database, so several app instances share them.
//!
//! - A **signed-out visitor has no session row**. Viewing pages writes nothing: their
//!   forms are protected by a signed double-submit token (OWASP): a random nonce in the
//!   `__Host-ehm_anon` cookie and, in the form, an HMAC of it under a server secret that
//!   every instance shares (see [`crate::csrf`]).
//! - A row is created when a journey starts with a POST (registering, a correct password,
//!   asking for a reset code) and replaced by a fresh one at sign-in (session fixation
//!   defence, ASVS V7.2.4). The cookie carries 256 random bits; only their SHA-256 is stored.
//! - A session ends after `session_idle` without activity and in any case
//!   `session_max` after it began. Activity is written lazily (at most every minute, or a
//!   tenth of the idle timeout), so a page view rarely costs a write.
//!
//! (tower-sessions cannot end all of one user's sessions on a password change, nor carry
//! the journey stages; this module is the small piece of code that can.)

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use ehm_app::accounts::{Decoy, Pending};
use ehm_app::crypto::{random_token, sha256_hex};
use ehm_storage::{SessionRow, Store, User};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

use crate::error::AppError;
use crate::state::AppState;

pub const COOKIE: &str = "__Host-ehm_session";
/// The signed-out visitor's CSRF nonce (no server-side state).
pub const ANON_COOKIE: &str = "__Host-ehm_anon";

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
    /// A signed-in session that timed out: signed out, kept only so that answers its pages
    /// post afterwards (with its CSRF token) are kept for its user.
    TimedOut,
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
            Stage::TimedOut => "timed-out",
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
            "timed-out" => Stage::TimedOut,
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
    /// Stands in for a code when the address has no account (see `ehm_app::accounts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoy: Option<Decoy>,
}

impl SessionData {
    pub fn with_flash(flash: impl Into<String>) -> Self {
        Self {
            flash: Some(flash.into()),
            ..Default::default()
        }
    }

    /// The data that goes with waiting for `pending`'s code.
    pub fn pending(pending: &Pending, flash: Option<String>) -> (Option<i64>, Self) {
        match pending {
            Pending::Account(id) => (
                Some(*id),
                Self {
                    flash,
                    ..Default::default()
                },
            ),
            Pending::Decoy(d) => (
                None,
                Self {
                    flash,
                    decoy: Some(d.clone()),
                    ..Default::default()
                },
            ),
        }
    }
}

/// The signed-in session that has just timed out: its user and CSRF token, so answers it
/// posted can be kept until the user signs in again.
#[derive(Clone, Debug)]
pub struct Expired {
    pub user_id: i64,
    pub csrf_token: String,
}

/// Cookies to set on the response.
#[derive(Default)]
struct CookieChanges {
    session: Option<String>,
    clear_session: bool,
    anon: Option<String>,
}

#[derive(Clone)]
pub struct Session {
    /// The row's key; None for a signed-out visitor without a journey in progress.
    id_hash: Option<String>,
    csrf_token: String,
    pub stage: Stage,
    /// The signed-in user (stage SignedIn only).
    user: Option<Arc<User>>,
    /// The account a pending stage is about.
    pub pending_user_id: Option<i64>,
    pub data: SessionData,
    /// The previous session ended because of inactivity (or reached its maximum age) on
    /// this very request.
    pub timed_out: bool,
    pub expired: Option<Expired>,
    /// When the signed-in session ends if nothing happens: exactly what the server will
    /// enforce (the activity written, not the request's time), for the pages' clock.
    pub expires_at: Option<OffsetDateTime>,
    /// When the session row was created (sign-in, for a signed-in session).
    created_at: OffsetDateTime,
    cookies: Arc<Mutex<CookieChanges>>,
}

impl Session {
    pub fn user(&self) -> Option<&User> {
        self.user.as_deref()
    }

    pub fn csrf_token(&self) -> &str {
        &self.csrf_token
    }

    /// The code-entry journey this session is waiting on, if it is at `stage`.
    pub fn pending(&self, stage: Stage) -> Option<Pending> {
        if self.stage != stage {
            return None;
        }
        match (self.pending_user_id, &self.data.decoy) {
            (Some(id), _) => Some(Pending::Account(id)),
            (None, Some(d)) => Some(Pending::Decoy(d.clone())),
            (None, None) => None,
        }
    }

    /// Move to another stage of the journey. A signed-out visitor without a row gets one
    /// now (this is only ever called while handling a POST).
    pub async fn set_stage(
        &self,
        store: &Store,
        stage: Stage,
        user_id: Option<i64>,
        data: &SessionData,
    ) -> Result<(), AppError> {
        let json = serde_json::to_string(data).map_err(|e| AppError::Internal(e.into()))?;
        match &self.id_hash {
            Some(h) => {
                store
                    .update_session(h, user_id, stage.as_str(), &json)
                    .await?
            }
            None => {
                // The visitor's forms stay valid: the row keeps the token they already have.
                let token = create(
                    store,
                    OffsetDateTime::now_utc(),
                    stage,
                    user_id,
                    data,
                    Some(&self.csrf_token),
                )
                .await?;
                self.cookies.lock().expect("cookie slot").session = Some(token);
            }
        }
        Ok(())
    }

    /// Record activity now (the keep-alive), whatever the lazy-write interval. Returns when
    /// the session now ends if nothing else happens.
    pub async fn touch(
        &self,
        store: &Store,
        settings: &crate::Settings,
    ) -> Result<Option<OffsetDateTime>, AppError> {
        let (Some(h), Some(expires_at)) = (&self.id_hash, self.expires_at) else {
            return Ok(None);
        };
        let now = OffsetDateTime::now_utc();
        store.touch_session(h, now).await?;
        // The absolute limit is the same; only the idle part moves.
        let absolute = self.created_at + settings.session_max;
        Ok(Some(
            (now + settings.session_idle).min(absolute).max(expires_at),
        ))
    }

    /// Show a one-shot message, then forget it.
    pub async fn take_flash(&self, store: &Store) -> Result<Option<String>, AppError> {
        if self.data.flash.is_none() || self.id_hash.is_none() {
            return Ok(None);
        }
        let mut data = self.data.clone();
        let flash = data.flash.take();
        let user = self.user().map(|u| u.id).or(self.pending_user_id);
        self.set_stage(store, self.stage, user, &data).await?;
        Ok(flash)
    }

    /// Set a one-shot message for the next page (keeps the stage).
    pub async fn flash(&self, store: &Store, message: impl Into<String>) -> Result<(), AppError> {
        let mut data = self.data.clone();
        data.flash = Some(message.into());
        let user = self.user().map(|u| u.id).or(self.pending_user_id);
        self.set_stage(store, self.stage, user, &data).await
    }

    /// Complete sign-in: the old session is deleted and a new token issued (session
    /// fixation defence, ASVS V7.2.4).
    pub async fn sign_in(
        &self,
        store: &Store,
        user_id: i64,
        data: &SessionData,
    ) -> Result<(), AppError> {
        if let Some(h) = &self.id_hash {
            store.delete_session(h).await?;
        }
        let token = create(
            store,
            OffsetDateTime::now_utc(),
            Stage::SignedIn,
            Some(user_id),
            data,
            None,
        )
        .await?;
        self.cookies.lock().expect("cookie slot").session = Some(token);
        Ok(())
    }

    /// End the session. A one-shot message for the next page keeps a small anonymous row;
    /// otherwise nothing is left on the server.
    pub async fn sign_out(&self, store: &Store, data: &SessionData) -> Result<(), AppError> {
        if let Some(h) = &self.id_hash {
            store.delete_session(h).await?;
        }
        let token = match data.flash {
            Some(_) => Some(
                create(
                    store,
                    OffsetDateTime::now_utc(),
                    Stage::Anonymous,
                    None,
                    data,
                    None,
                )
                .await?,
            ),
            None => None,
        };
        let mut c = self.cookies.lock().expect("cookie slot");
        c.clear_session = token.is_none();
        c.session = token;
        Ok(())
    }
}

async fn create(
    store: &Store,
    now: OffsetDateTime,
    stage: Stage,
    user_id: Option<i64>,
    data: &SessionData,
    csrf_token: Option<&str>,
) -> Result<String, AppError> {
    let token = random_token();
    let row = SessionRow {
        id_hash: sha256_hex(&token),
        user_id,
        stage: stage.as_str().to_string(),
        csrf_token: csrf_token.map(str::to_string).unwrap_or_else(random_token),
        data: serde_json::to_string(data).map_err(|e| AppError::Internal(e.into()))?,
        created_at: now,
        last_seen_at: now,
    };
    store.create_session(&row).await?;
    Ok(token)
}

pub(crate) fn cookie_value(req: &axum::http::HeaderMap, name: &str) -> Option<String> {
    req.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name && !v.is_empty() && v.len() <= 100).then(|| v.to_string())
        })
}

/// How stale `last_seen_at` may get before it is written again.
fn touch_interval(idle: Duration) -> Duration {
    (idle / 10_i32).min(Duration::minutes(1))
}

/// The session status endpoint: the one route whose requests are not activity (a
/// background tab asking how long is left must not keep anyone signed in).
pub const STATUS_PATH: &str = "/session/status";

/// How long after it timed out a session's pages may still post answers to be kept.
const KEEP_ANSWERS_FOR: Duration = Duration::hours(1);

/// A referral read with the session, because the request's path names it
/// (`/referrals/{pid}/…`): the referral's pages take it from the request instead of
/// reading it again. Only data: who may do what with it is decided by those pages, as for
/// a referral they read themselves.
#[derive(Clone)]
pub(crate) struct PrefetchedReferral {
    pub(crate) pid: String,
    pub(crate) row: Option<ehm_storage::ReferralRow>,
}

/// The `{pid}` of a request routed to `/referrals/{pid}` or a page below it (as sent:
/// a public id is letters, digits, `-` and `_`; anything else is left to the route).
fn referral_in_path(req: &Request) -> Option<String> {
    let route = req.extensions().get::<axum::extract::MatchedPath>()?;
    if !route.as_str().starts_with("/referrals/{pid}") {
        return None;
    }
    let pid = req.uri().path().split('/').nth(2)?;
    (!pid.is_empty()
        && pid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then(|| pid.to_owned())
}

/// Middleware: load the session if there is one, enforce the idle timeout and the
/// maximum age, record activity (lazily).
pub async fn load(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, AppError> {
    let now = OffsetDateTime::now_utc();
    let store = &state.store;
    let settings = &state.settings;
    let passive = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .is_some_and(|p| p.as_str() == STATUS_PATH);
    let mut timed_out = false;
    let mut expired = None;
    let mut existing = None;
    let mut clear_session = false;
    let mut prefetched = None;
    if let Some(token) = cookie_value(req.headers(), COOKIE) {
        let hash = sha256_hex(&token);
        let found = match referral_in_path(&req) {
            Some(pid) => {
                store
                    .session_with_referral(&hash, &pid)
                    .await?
                    .map(|(session, user, row)| {
                        prefetched = Some(PrefetchedReferral { pid, row });
                        (session, user)
                    })
            }
            None => store.session_with_user(&hash).await?,
        };
        match found {
            Some((row, _)) if Stage::parse(&row.stage) == Stage::TimedOut => {
                // Signed out by a timeout: the pages still open may post what they hold.
                match row.user_id {
                    Some(user_id)
                        if now - row.last_seen_at <= settings.session_idle + KEEP_ANSWERS_FOR =>
                    {
                        expired = Some(Expired {
                            user_id,
                            csrf_token: row.csrf_token.clone(),
                        });
                    }
                    _ => {
                        store.delete_session(&hash).await?;
                        clear_session = true;
                    }
                }
            }
            Some((row, user)) => {
                let idle = now - row.last_seen_at > settings.session_idle;
                let too_old = now - row.created_at > settings.session_max;
                if idle || too_old {
                    let stage = Stage::parse(&row.stage);
                    timed_out = stage != Stage::Anonymous;
                    match (stage, row.user_id) {
                        (Stage::SignedIn, Some(user_id)) => {
                            // Kept, signed out, so that every page still open can post its
                            // answers (each is kept); the cookie stays for that.
                            store
                                .expire_session(&hash, Stage::TimedOut.as_str())
                                .await?;
                            expired = Some(Expired {
                                user_id,
                                csrf_token: row.csrf_token.clone(),
                            });
                        }
                        _ => {
                            store.delete_session(&hash).await?;
                            clear_session = true;
                        }
                    }
                } else {
                    existing = Some((row, user));
                }
            }
            None => clear_session = true,
        }
    }
    let mut cookies = CookieChanges {
        clear_session,
        ..Default::default()
    };
    let session = match existing {
        Some((row, account)) => {
            // Activity is written lazily; the expiry reported is the one that was written.
            let mut last_seen = row.last_seen_at;
            if !passive && now - row.last_seen_at >= touch_interval(settings.session_idle) {
                store.touch_session(&row.id_hash, now).await?;
                last_seen = now;
            }
            let mut stage = Stage::parse(&row.stage);
            let mut user = None;
            if stage == Stage::SignedIn {
                match account {
                    Some(u) if !u.disabled => user = Some(Arc::new(u)),
                    _ => stage = Stage::Anonymous,
                }
            }
            let expires_at = user.as_ref().map(|_| {
                (last_seen + settings.session_idle).min(row.created_at + settings.session_max)
            });
            cookies.clear_session = false;
            Session {
                id_hash: Some(row.id_hash),
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
                expires_at,
                created_at: row.created_at,
                cookies: Arc::default(),
            }
        }
        None => {
            let nonce = match cookie_value(req.headers(), ANON_COOKIE).filter(|n| n.len() >= 20) {
                Some(n) => n,
                None => {
                    let n = random_token();
                    cookies.anon = Some(n.clone());
                    n
                }
            };
            Session {
                id_hash: None,
                csrf_token: crate::csrf::anonymous_token(&state, &nonce).await?,
                stage: Stage::Anonymous,
                user: None,
                pending_user_id: None,
                data: SessionData::default(),
                timed_out,
                expired,
                expires_at: None,
                created_at: now,
                cookies: Arc::default(),
            }
        }
    };
    let slot = session.cookies.clone();
    {
        let mut s = slot.lock().expect("cookie slot");
        s.anon = cookies.anon.take();
        s.clear_session = cookies.clear_session;
    }
    req.extensions_mut().insert(session);
    if let Some(p) = prefetched {
        req.extensions_mut().insert(p);
    }
    let mut res = next.run(req).await;
    let c = std::mem::take(&mut *slot.lock().expect("cookie slot"));
    let mut set = |value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    };
    if let Some(token) = c.session {
        set(format!(
            "{COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Lax"
        ));
    } else if c.clear_session {
        set(format!(
            "{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"
        ));
    }
    if let Some(nonce) = c.anon {
        set(format!(
            "{ANON_COOKIE}={nonce}; Path=/; Secure; HttpOnly; SameSite=Lax"
        ));
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
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no session layer")))
    }
}
