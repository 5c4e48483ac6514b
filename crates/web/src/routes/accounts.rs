//! Registration, email confirmation, sign-in (password, emailed code, authenticator app),
//! sign-out, password reset and the session keep-alive (R-01 … R-06).

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ehm_domain::account::{Email, NewPassword, VerificationCode};
use ehm_storage::{AuditEntry, CodePurpose, NewMail, ThrottleState, User};
use minijinja::context;
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use super::{ClientIp, see_other};
use crate::auth::{self, sha256_hex};
use crate::error::{AppError, AppResult};
use crate::render::{Errors, page, page_with_status};
use crate::session::{Session, SessionData, Stage};
use crate::state::AppState;

pub const CODE_LIFETIME: Duration = Duration::minutes(10);
pub const CODE_MAX_ATTEMPTS: i64 = 5;
const SIGN_IN_MAX_FAILURES: i64 = 5;
const IP_MAX_FAILURES: i64 = 50;
const THROTTLE_WINDOW: Duration = Duration::minutes(15);
const LOCKOUT: Duration = Duration::minutes(15);
const MAX_CODE_SENDS: i64 = 5;

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

async fn audit(
    state: &AppState,
    actor: Option<i64>,
    action: &str,
    object_id: &str,
    outcome: &str,
    ip: &str,
) -> AppResult<()> {
    let entry = AuditEntry {
        actor_user_id: actor,
        action,
        object_type: "user",
        object_id,
        outcome,
        ip,
    };
    state.store.audit(&entry, now()).await?;
    tracing::info!(action, outcome, actor = actor.unwrap_or(0), "account event");
    Ok(())
}

/// Show a one-shot message, then forget it.
pub(super) async fn take_flash(state: &AppState, session: &Session) -> AppResult<Option<String>> {
    if session.data.flash.is_none() {
        return Ok(None);
    }
    let mut data = session.data.clone();
    let flash = data.flash.take();
    session
        .set_stage(&state.store, session.stage, stage_user(session), &data)
        .await?;
    Ok(flash)
}

fn stage_user(session: &Session) -> Option<i64> {
    session.user().map(|u| u.id).or(session.pending_user_id)
}

fn with_flash(flash: &str) -> SessionData {
    SessionData {
        flash: Some(flash.to_string()),
        ..Default::default()
    }
}

fn format_day(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[day padding:none] [month repr:long] [year]");
    t.format(&f).unwrap_or_default()
}

fn format_time(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[hour]:[minute] UTC");
    t.format(&f).unwrap_or_default()
}

// ------------------------------------------------------------------ codes

/// Generate a code, store its hash (retiring earlier ones) and queue the email, all in one
/// transaction so that the code exists exactly when its email does.
async fn send_code(state: &AppState, user: &User, purpose: CodePurpose) -> AppResult<()> {
    let code = VerificationCode::from_random(auth::random_u32());
    let hash = auth::hash_password(code.as_str().to_string()).await?;
    let t = now();
    let (subject, intro) = match purpose {
        CodePurpose::VerifyEmail => (
            "Confirm your email address",
            "Use this code to confirm your email address and finish creating your account",
        ),
        CodePurpose::SignIn => ("Your sign-in code", "Use this code to sign in"),
        CodePurpose::ResetPassword => (
            "Reset your password",
            "Use this code to reset your password",
        ),
    };
    let body = format!(
        "{intro} for the {service}:\n\n{code}\n\nThe code expires in 10 minutes and can only be used once.\n\n\
         If you did not ask for this code, you can ignore this email. Nobody can use your account without your password.\n\n\
         This email was sent from an address that cannot receive replies. For urgent queries call MASH on {phone}.\n\
         If a child is in immediate danger call 999.\n",
        service = state.settings.service_name,
        code = code.as_str(),
        phone = state.settings.mash_phone,
    );
    let mut tx = state.store.begin().await?;
    state
        .store
        .issue_code(&mut tx, user.id, purpose, &hash, t, t + CODE_LIFETIME)
        .await?;
    let message_id = auth::random_token();
    state
        .store
        .enqueue_secret_mail(
            &mut tx,
            NewMail {
                message_id: &message_id,
                to: &user.email,
                subject,
                body_text: &body,
            },
            t,
        )
        .await?;
    tx.commit().await.map_err(ehm_storage::StorageError::from)?;
    Ok(())
}

enum CodeCheck {
    Valid(i64),
    Invalid(&'static str),
}

/// Check a typed code. Wrong attempts are counted; after five the code is dead.
async fn check_code(
    state: &AppState,
    user_id: Option<i64>,
    purpose: CodePurpose,
    typed: &str,
) -> AppResult<CodeCheck> {
    let code = match VerificationCode::parse(typed) {
        Ok(c) => c,
        Err(ehm_domain::account::CodeError::Empty) => {
            return Ok(CodeCheck::Invalid("Enter the 8-digit code from the email"));
        }
        Err(_) => {
            return Ok(CodeCheck::Invalid(
                "The code must be 8 numbers, like 12345678",
            ));
        }
    };
    let Some(user_id) = user_id else {
        // No such account (a registration attempt with a taken address, or a reset for an
        // unknown address): behave exactly as a wrong code does.
        auth::dummy_verify(code.as_str().to_string()).await?;
        return Ok(CodeCheck::Invalid(
            "The code is not correct. Check the email and try again",
        ));
    };
    let Some(current) = state.store.current_code(user_id, purpose).await? else {
        return Ok(CodeCheck::Invalid(
            "That code has already been used or has expired. Request a new code",
        ));
    };
    if current.attempts >= CODE_MAX_ATTEMPTS {
        return Ok(CodeCheck::Invalid(
            "You have entered the wrong code too many times. Request a new code",
        ));
    }
    if current.expires_at <= now() {
        return Ok(CodeCheck::Invalid(
            "The code has expired. Request a new code",
        ));
    }
    if auth::verify_password(code.as_str().to_string(), current.code_hash.clone()).await? {
        return Ok(CodeCheck::Valid(current.id));
    }
    let attempts = state.store.record_code_attempt(current.id).await?;
    if attempts >= CODE_MAX_ATTEMPTS {
        Ok(CodeCheck::Invalid(
            "You have entered the wrong code too many times. Request a new code",
        ))
    } else {
        Ok(CodeCheck::Invalid(
            "The code is not correct. Check the email and try again",
        ))
    }
}

/// Limit how many codes can be sent to one account in a window (email bombing).
async fn may_send_code(state: &AppState, user_id: i64) -> AppResult<bool> {
    let key = format!("send-code:{user_id}");
    let st = state
        .store
        .throttle_failure(
            &key,
            now(),
            MAX_CODE_SENDS + 1,
            Duration::hours(1),
            Duration::hours(1),
        )
        .await?;
    Ok(st == ThrottleState::Open)
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

// ------------------------------------------------------------ registration

#[derive(Deserialize, Default)]
pub struct RegisterForm {
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

fn closed(state: &AppState, session: &Session, status: StatusCode, what: &str) -> Response {
    let opens = state
        .settings
        .go_live
        .map(|g| format!("{} at {}", format_day(g), format_time(g)));
    page_with_status(
        state,
        session,
        status,
        "pages/closed.html",
        "The portal is not open yet",
        &Errors::default(),
        context! { opens, what },
    )
}

pub async fn register_form(State(state): State<AppState>, session: Session) -> Response {
    if !state.settings.is_live(now()) {
        return closed(&state, &session, StatusCode::OK, "register");
    }
    render_register(
        &state,
        &session,
        &RegisterForm::default(),
        &Errors::default(),
    )
}

fn render_register(
    state: &AppState,
    session: &Session,
    form: &RegisterForm,
    errors: &Errors,
) -> Response {
    page(
        state,
        session,
        "pages/register.html",
        "Create an account",
        errors,
        context! { full_name => &form.full_name, email => &form.email },
    )
}

pub async fn register(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Form(form): Form<RegisterForm>,
) -> AppResult<Response> {
    if !state.settings.is_live(now()) {
        return Ok(closed(&state, &session, StatusCode::FORBIDDEN, "register"));
    }
    let mut errors = Errors::default();
    let name = form.full_name.trim();
    if name.is_empty() {
        errors.add("full-name", "Enter your full name");
    } else if name.chars().count() > 100 {
        errors.add("full-name", "Full name must be 100 characters or fewer");
    }
    let email = match Email::parse_for_registration(&form.email) {
        Ok(e) => Some(e),
        Err(e) => {
            errors.add("email", e);
            None
        }
    };
    if let Err(e) = NewPassword::parse(
        &form.password,
        email.as_ref().map(|e| e.as_str()).unwrap_or(&form.email),
    ) {
        errors.add("password", e);
    }
    let Some(email) = email.filter(|_| errors.is_empty()) else {
        return Ok(render_register(&state, &session, &form, &errors));
    };
    let hash = auth::hash_password(form.password.clone()).await?;
    let t = now();
    let mut tx = state.store.begin().await?;
    let new_user = ehm_storage::NewUser {
        email: &email,
        display_name: name,
        role: ehm_domain::account::Role::Referrer,
        password_hash: &hash,
        verified: false,
    };
    match state.store.create_user(&mut tx, new_user, t).await {
        Ok(id) => {
            tx.commit().await.map_err(ehm_storage::StorageError::from)?;
            let user = state
                .store
                .user_by_id(id)
                .await?
                .ok_or(AppError::NotFound)?;
            send_code(&state, &user, CodePurpose::VerifyEmail).await?;
            audit(
                &state,
                Some(id),
                "register",
                &id.to_string(),
                "success",
                &ip,
            )
            .await?;
            session
                .set_stage(
                    &state.store,
                    Stage::VerifyEmail,
                    Some(id),
                    &SessionData::default(),
                )
                .await?;
        }
        Err(ehm_storage::StorageError::EmailTaken) => {
            drop(tx);
            // Do not reveal that the address is registered: tell its owner by email instead
            // and show the same next page.
            let body = format!(
                "Someone tried to create an account for the {} with this email address, which already has an account.\n\n\
                 If it was you, sign in instead, or use \"Forgotten your password?\" on the sign-in page.\n\
                 If it was not you, you do not need to do anything.\n",
                state.settings.service_name
            );
            let mut tx = state.store.begin().await?;
            let message_id = auth::random_token();
            state
                .store
                .enqueue_mail(
                    &mut tx,
                    NewMail {
                        message_id: &message_id,
                        to: email.as_str(),
                        subject: "You already have an account",
                        body_text: &body,
                    },
                    t,
                )
                .await?;
            tx.commit().await.map_err(ehm_storage::StorageError::from)?;
            audit(&state, None, "register", "existing-account", "refused", &ip).await?;
            session
                .set_stage(
                    &state.store,
                    Stage::VerifyEmail,
                    None,
                    &SessionData::default(),
                )
                .await?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(see_other("/register/confirm-email"))
}

/// A page asking for an emailed code, with any one-shot message (e.g. "we have sent a new
/// code").
async fn code_entry_page(
    state: &AppState,
    session: &Session,
    template: &str,
    title: &str,
) -> AppResult<Response> {
    let flash = take_flash(state, session).await?;
    Ok(page(
        state,
        session,
        template,
        title,
        &Errors::default(),
        context! { flash, code => "" },
    ))
}

pub async fn confirm_email_form(
    State(state): State<AppState>,
    session: Session,
) -> AppResult<Response> {
    if session.stage != Stage::VerifyEmail {
        return Ok(see_other("/register"));
    }
    code_entry_page(
        &state,
        &session,
        "pages/confirm_email.html",
        "Check your email",
    )
    .await
}

pub async fn confirm_email(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    if session.stage != Stage::VerifyEmail {
        return Ok(see_other("/register"));
    }
    match check_code(
        &state,
        session.pending_user_id,
        CodePurpose::VerifyEmail,
        &form.code,
    )
    .await?
    {
        CodeCheck::Invalid(msg) => {
            let mut errors = Errors::default();
            errors.add("code", msg);
            audit(
                &state,
                session.pending_user_id,
                "confirm-email",
                &session.pending_user_id.unwrap_or(0).to_string(),
                "wrong-code",
                &ip,
            )
            .await?;
            Ok(page(
                &state,
                &session,
                "pages/confirm_email.html",
                "Check your email",
                &errors,
                context! { code => &form.code },
            ))
        }
        CodeCheck::Valid(code_id) => {
            let user_id = session.pending_user_id.ok_or(AppError::Forbidden)?;
            let mut tx = state.store.begin().await?;
            let fresh = state.store.consume_code(&mut tx, code_id, now()).await?;
            state.store.mark_verified(&mut tx, user_id, now()).await?;
            if !fresh {
                return Ok(see_other("/register/confirm-email"));
            }
            tx.commit().await.map_err(ehm_storage::StorageError::from)?;
            audit(
                &state,
                Some(user_id),
                "confirm-email",
                &user_id.to_string(),
                "success",
                &ip,
            )
            .await?;
            session
                .set_stage(
                    &state.store,
                    Stage::Anonymous,
                    None,
                    &with_flash("Your email address is confirmed. Sign in to continue."),
                )
                .await?;
            Ok(see_other("/sign-in"))
        }
    }
}

pub async fn resend_verify_code(
    State(state): State<AppState>,
    session: Session,
) -> AppResult<Response> {
    if session.stage != Stage::VerifyEmail {
        return Ok(see_other("/register"));
    }
    resend(&state, &session, CodePurpose::VerifyEmail).await?;
    Ok(see_other("/register/confirm-email"))
}

async fn resend(state: &AppState, session: &Session, purpose: CodePurpose) -> AppResult<()> {
    let mut data = session.data.clone();
    data.flash = Some(
        "We have sent a new code. Check your junk or spam folder if it has not arrived.".into(),
    );
    if let Some(id) = session.pending_user_id
        && let Some(user) = state.store.user_by_id(id).await?
    {
        if may_send_code(state, user.id).await? {
            send_code(state, &user, purpose).await?;
        } else {
            data.flash = Some("You have asked for too many codes. Wait an hour and try again, or call MASH for help.".into());
        }
    }
    session
        .set_stage(&state.store, session.stage, session.pending_user_id, &data)
        .await
}

// ------------------------------------------------------------------ sign-in

#[derive(Deserialize, Default)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn sign_in_form(
    State(state): State<AppState>,
    session: Session,
    uri: axum::http::Uri,
) -> AppResult<Response> {
    if session.user().is_some() {
        return Ok(see_other("/"));
    }
    let flash = take_flash(&state, &session).await?;
    let timed_out = session.timed_out || uri.query().is_some_and(|q| q.contains("timeout=1"));
    Ok(page(
        &state,
        &session,
        "pages/sign_in.html",
        "Sign in",
        &Errors::default(),
        context! { flash, timed_out, email => "" },
    ))
}

fn throttle_key(email: &str) -> String {
    format!("sign-in:{}", sha256_hex(&email.trim().to_lowercase()))
}

pub async fn sign_in(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Form(form): Form<SignInForm>,
) -> AppResult<Response> {
    let render_error = |field: &str, msg: &str| {
        let mut errors = Errors::default();
        errors.add(field, msg);
        page(
            &state,
            &session,
            "pages/sign_in.html",
            "Sign in",
            &errors,
            context! { email => &form.email },
        )
    };
    let mut errors = Errors::default();
    if form.email.trim().is_empty() {
        errors.add("email", "Enter your email address");
    }
    if form.password.is_empty() {
        errors.add("password", "Enter your password");
    }
    if !errors.is_empty() {
        return Ok(page(
            &state,
            &session,
            "pages/sign_in.html",
            "Sign in",
            &errors,
            context! { email => &form.email },
        ));
    }
    let key = throttle_key(&form.email);
    let ip_key = format!("ip:{ip}");
    let t = now();
    for k in [&key, &ip_key] {
        if let ThrottleState::LockedUntil(until) = state.store.throttle_state(k, t).await? {
            audit(&state, None, "sign-in", "unknown", "locked", &ip).await?;
            let mins = ((until - t).whole_seconds() + 59) / 60;
            return Ok(render_error(
                "email",
                &format!(
                    "Too many failed attempts. For your security, sign-in is locked for {mins} minutes. Try again later or reset your password"
                ),
            ));
        }
    }
    let user = match Email::parse(&form.email) {
        Ok(e) => state.store.user_by_email(e.as_str()).await?,
        Err(_) => None,
    };
    let ok = match &user {
        Some(u) if !u.disabled => {
            auth::verify_password(form.password.clone(), u.password_hash.clone()).await?
        }
        _ => {
            auth::dummy_verify(form.password.clone()).await?;
            false
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        let locked = state
            .store
            .throttle_failure(&key, t, SIGN_IN_MAX_FAILURES, THROTTLE_WINDOW, LOCKOUT)
            .await?;
        state
            .store
            .throttle_failure(&ip_key, t, IP_MAX_FAILURES, THROTTLE_WINDOW, LOCKOUT)
            .await?;
        audit(&state, None, "sign-in", "unknown", "wrong-password", &ip).await?;
        if matches!(locked, ThrottleState::LockedUntil(_)) {
            return Ok(render_error(
                "email",
                "Too many failed attempts. For your security, sign-in is locked for 15 minutes. Try again later or reset your password",
            ));
        }
        return Ok(render_error(
            "email",
            "Enter a correct email address and password",
        ));
    };
    state.store.throttle_reset(&key).await?;
    audit(
        &state,
        Some(user.id),
        "sign-in-password",
        &user.id.to_string(),
        "success",
        &ip,
    )
    .await?;
    if user.verified_at.is_none() {
        if may_send_code(&state, user.id).await? {
            send_code(&state, &user, CodePurpose::VerifyEmail).await?;
        }
        session.set_stage(&state.store, Stage::VerifyEmail, Some(user.id), &with_flash("You need to confirm your email address before you can sign in. We have sent you a new code.")).await?;
        return Ok(see_other("/register/confirm-email"));
    }
    next_factor(&state, &session, &user, SessionData::default(), &ip).await
}

/// After the password: the emailed code (if on), then the authenticator for staff, then in.
async fn next_factor(
    state: &AppState,
    session: &Session,
    user: &User,
    data: SessionData,
    ip: &str,
) -> AppResult<Response> {
    if state.settings.login_code && !data.login_code_passed {
        send_code(state, user, CodePurpose::SignIn).await?;
        session
            .set_stage(&state.store, Stage::LoginCode, Some(user.id), &data)
            .await?;
        return Ok(see_other("/sign-in/code"));
    }
    if user.role.is_staff() {
        let (stage, to) = if user.totp_enrolled {
            (Stage::Totp, "/sign-in/authenticator")
        } else {
            (Stage::TotpEnrol, "/sign-in/set-up-authenticator")
        };
        session
            .set_stage(&state.store, stage, Some(user.id), &data)
            .await?;
        return Ok(see_other(to));
    }
    complete_sign_in(state, session, user, ip).await
}

async fn complete_sign_in(
    state: &AppState,
    session: &Session,
    user: &User,
    ip: &str,
) -> AppResult<Response> {
    session.sign_in(&state.store, user.id, now()).await?;
    audit(
        state,
        Some(user.id),
        "sign-in",
        &user.id.to_string(),
        "success",
        ip,
    )
    .await?;
    if !state.store.pending_saves_of(user.id).await?.is_empty() {
        return Ok(see_other("/referrals/kept-answers"));
    }
    Ok(see_other("/"))
}

async fn pending_user(
    state: &AppState,
    session: &Session,
    stage: Stage,
) -> AppResult<Option<User>> {
    if session.stage != stage {
        return Ok(None);
    }
    match session.pending_user_id {
        Some(id) => Ok(state.store.user_by_id(id).await?.filter(|u| !u.disabled)),
        None => Ok(None),
    }
}

pub async fn login_code_form(
    State(state): State<AppState>,
    session: Session,
) -> AppResult<Response> {
    if pending_user(&state, &session, Stage::LoginCode)
        .await?
        .is_none()
    {
        return Ok(see_other("/sign-in"));
    }
    code_entry_page(
        &state,
        &session,
        "pages/sign_in_code.html",
        "Check your email",
    )
    .await
}

pub async fn login_code(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    let Some(user) = pending_user(&state, &session, Stage::LoginCode).await? else {
        return Ok(see_other("/sign-in"));
    };
    match check_code(&state, Some(user.id), CodePurpose::SignIn, &form.code).await? {
        CodeCheck::Invalid(msg) => {
            audit(
                &state,
                Some(user.id),
                "sign-in-code",
                &user.id.to_string(),
                "wrong-code",
                &ip,
            )
            .await?;
            let mut errors = Errors::default();
            errors.add("code", msg);
            Ok(page(
                &state,
                &session,
                "pages/sign_in_code.html",
                "Check your email",
                &errors,
                context! { code => &form.code },
            ))
        }
        CodeCheck::Valid(code_id) => {
            let mut tx = state.store.begin().await?;
            if !state.store.consume_code(&mut tx, code_id, now()).await? {
                return Ok(see_other("/sign-in"));
            }
            tx.commit().await.map_err(ehm_storage::StorageError::from)?;
            let data = SessionData {
                login_code_passed: true,
                ..Default::default()
            };
            next_factor(&state, &session, &user, data, &ip).await
        }
    }
}

pub async fn resend_login_code(
    State(state): State<AppState>,
    session: Session,
) -> AppResult<Response> {
    if pending_user(&state, &session, Stage::LoginCode)
        .await?
        .is_none()
    {
        return Ok(see_other("/sign-in"));
    }
    resend(&state, &session, CodePurpose::SignIn).await?;
    Ok(see_other("/sign-in/code"))
}

// ------------------------------------------------------- authenticator app

fn unix_now() -> u64 {
    now().unix_timestamp().max(0) as u64
}

fn demo_hint(state: &AppState, secret: &str, email: &str) -> Option<String> {
    state
        .settings
        .demo
        .then(|| auth::totp(secret, email, &state.settings.service_name).ok())
        .flatten()
        .map(|t| t.generate(unix_now()))
}

pub async fn totp_enrol_form(
    State(state): State<AppState>,
    session: Session,
) -> AppResult<Response> {
    let Some(user) = pending_user(&state, &session, Stage::TotpEnrol).await? else {
        return Ok(see_other("/sign-in"));
    };
    let mut data = session.data.clone();
    let secret = match &data.totp_secret {
        Some(s) => s.clone(),
        None => {
            let s = auth::new_totp_secret();
            data.totp_secret = Some(s.clone());
            session
                .set_stage(&state.store, Stage::TotpEnrol, Some(user.id), &data)
                .await?;
            s
        }
    };
    render_enrol(&state, &session, &user, &secret, &Errors::default())
}

fn render_enrol(
    state: &AppState,
    session: &Session,
    user: &User,
    secret: &str,
    errors: &Errors,
) -> AppResult<Response> {
    let t = auth::totp(secret, &user.email, &state.settings.service_name)?;
    let qr = t.get_qr_base64().map_err(AppError::Internal)?;
    let grouped: Vec<String> = secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    Ok(page(
        state,
        session,
        "pages/totp_enrol.html",
        "Set up your authenticator app",
        errors,
        context! { qr, secret => grouped.join(" "), demo_code => demo_hint(state, secret, &user.email) },
    ))
}

pub async fn totp_enrol(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    let Some(user) = pending_user(&state, &session, Stage::TotpEnrol).await? else {
        return Ok(see_other("/sign-in"));
    };
    let Some(secret) = session.data.totp_secret.clone() else {
        return Ok(see_other("/sign-in/set-up-authenticator"));
    };
    let t = auth::totp(&secret, &user.email, &state.settings.service_name)?;
    match auth::totp_step_for(&t, &form.code, unix_now()) {
        Some(step)
            if state
                .store
                .enrol_totp(user.id, &secret, step, now())
                .await? =>
        {
            audit(
                &state,
                Some(user.id),
                "totp-enrol",
                &user.id.to_string(),
                "success",
                &ip,
            )
            .await?;
            complete_sign_in(&state, &session, &user, &ip).await
        }
        _ => {
            audit(
                &state,
                Some(user.id),
                "totp-enrol",
                &user.id.to_string(),
                "wrong-code",
                &ip,
            )
            .await?;
            let mut errors = Errors::default();
            errors.add(
                "code",
                if form.code.trim().is_empty() {
                    "Enter the 6-digit code from your authenticator app"
                } else {
                    "The code is not correct. Enter the 6-digit code your app shows now"
                },
            );
            render_enrol(&state, &session, &user, &secret, &errors)
        }
    }
}

pub async fn totp_form(State(state): State<AppState>, session: Session) -> AppResult<Response> {
    let Some(user) = pending_user(&state, &session, Stage::Totp).await? else {
        return Ok(see_other("/sign-in"));
    };
    let demo_code = user
        .totp_secret
        .as_deref()
        .and_then(|s| demo_hint(&state, s, &user.email));
    Ok(page(
        &state,
        &session,
        "pages/totp.html",
        "Enter the code from your authenticator app",
        &Errors::default(),
        context! { demo_code },
    ))
}

pub async fn totp(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    let Some(user) = pending_user(&state, &session, Stage::Totp).await? else {
        return Ok(see_other("/sign-in"));
    };
    let key = format!("totp:{}", user.id);
    let t0 = now();
    let mut errors = Errors::default();
    if let ThrottleState::LockedUntil(_) = state.store.throttle_state(&key, t0).await? {
        errors.add(
            "code",
            "Too many wrong codes. For your security, sign-in is locked for 15 minutes",
        );
    } else {
        let secret = user.totp_secret.clone().ok_or(AppError::Forbidden)?;
        let t = auth::totp(&secret, &user.email, &state.settings.service_name)?;
        if let Some(step) = auth::totp_step_for(&t, &form.code, unix_now())
            && state.store.use_totp_step(user.id, step).await?
        {
            state.store.throttle_reset(&key).await?;
            return complete_sign_in(&state, &session, &user, &ip).await;
        }
        state
            .store
            .throttle_failure(&key, t0, SIGN_IN_MAX_FAILURES, THROTTLE_WINDOW, LOCKOUT)
            .await?;
        errors.add("code", if form.code.trim().is_empty() { "Enter the 6-digit code from your authenticator app" } else { "The code is not correct or has already been used. Enter the code your app shows now" });
    }
    audit(
        &state,
        Some(user.id),
        "sign-in-totp",
        &user.id.to_string(),
        "wrong-code",
        &ip,
    )
    .await?;
    let demo_code = user
        .totp_secret
        .as_deref()
        .and_then(|s| demo_hint(&state, s, &user.email));
    Ok(page(
        &state,
        &session,
        "pages/totp.html",
        "Enter the code from your authenticator app",
        &errors,
        context! { demo_code },
    ))
}

// ----------------------------------------------------------------- sign-out

pub async fn sign_out(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
) -> AppResult<Response> {
    if let Some(u) = session.user() {
        audit(
            &state,
            Some(u.id),
            "sign-out",
            &u.id.to_string(),
            "success",
            &ip,
        )
        .await?;
    }
    session
        .sign_out(&state.store, now(), &SessionData::default())
        .await?;
    Ok(see_other("/signed-out"))
}

pub async fn signed_out(State(state): State<AppState>, session: Session) -> Response {
    page(
        &state,
        &session,
        "pages/signed_out.html",
        "You have signed out",
        &Errors::default(),
        context! {},
    )
}

pub async fn keep_alive(session: Session) -> Response {
    // The session layer has already recorded the activity.
    if session.user().is_some() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

// ----------------------------------------------------------- password reset

#[derive(Deserialize, Default)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

pub async fn forgot_form(State(state): State<AppState>, session: Session) -> Response {
    page(
        &state,
        &session,
        "pages/forgot_password.html",
        "Reset your password",
        &Errors::default(),
        context! { email => "" },
    )
}

pub async fn forgot(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Form(form): Form<ForgotForm>,
) -> AppResult<Response> {
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => {
            let mut errors = Errors::default();
            errors.add("email", e);
            return Ok(page(
                &state,
                &session,
                "pages/forgot_password.html",
                "Reset your password",
                &errors,
                context! { email => &form.email },
            ));
        }
    };
    let user = state
        .store
        .user_by_email(email.as_str())
        .await?
        .filter(|u| !u.disabled);
    if let Some(u) = &user
        && may_send_code(&state, u.id).await?
    {
        send_code(&state, u, CodePurpose::ResetPassword).await?;
    }
    audit(
        &state,
        user.as_ref().map(|u| u.id),
        "password-reset-request",
        &user
            .as_ref()
            .map(|u| u.id.to_string())
            .unwrap_or("unknown".into()),
        "requested",
        &ip,
    )
    .await?;
    session
        .set_stage(
            &state.store,
            Stage::ResetPassword,
            user.map(|u| u.id),
            &with_flash("If an account exists for that email address, we have sent a code to it."),
        )
        .await?;
    Ok(see_other("/reset-password"))
}

#[derive(Deserialize, Default)]
pub struct ResetForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
}

pub async fn reset_form(State(state): State<AppState>, session: Session) -> AppResult<Response> {
    if session.stage != Stage::ResetPassword {
        return Ok(see_other("/forgot-password"));
    }
    code_entry_page(
        &state,
        &session,
        "pages/reset_password.html",
        "Reset your password",
    )
    .await
}

pub async fn reset(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Form(form): Form<ResetForm>,
) -> AppResult<Response> {
    if session.stage != Stage::ResetPassword {
        return Ok(see_other("/forgot-password"));
    }
    let user = match session.pending_user_id {
        Some(id) => state.store.user_by_id(id).await?,
        None => None,
    };
    let mut errors = Errors::default();
    let password = NewPassword::parse(
        &form.password,
        user.as_ref().map(|u| u.email.as_str()).unwrap_or(""),
    );
    if let Err(e) = &password {
        errors.add("password", e);
    }
    let code_id = if errors.is_empty() {
        match check_code(
            &state,
            user.as_ref().map(|u| u.id),
            CodePurpose::ResetPassword,
            &form.code,
        )
        .await?
        {
            CodeCheck::Valid(id) => Some(id),
            CodeCheck::Invalid(msg) => {
                errors.add("code", msg);
                None
            }
        }
    } else {
        None
    };
    let (Some(user), Some(code_id), Ok(password)) = (user, code_id, password) else {
        if errors.is_empty() {
            errors.add(
                "code",
                "The code is not correct. Check the email and try again",
            );
        }
        return Ok(page(
            &state,
            &session,
            "pages/reset_password.html",
            "Reset your password",
            &errors,
            context! { code => &form.code },
        ));
    };
    let hash = auth::hash_password(password.as_str().to_string()).await?;
    let mut tx = state.store.begin().await?;
    if !state.store.consume_code(&mut tx, code_id, now()).await? {
        return Ok(see_other("/forgot-password"));
    }
    // Also marks the address as confirmed: the code proved the person reads that inbox.
    state.store.mark_verified(&mut tx, user.id, now()).await?;
    state
        .store
        .set_password(&mut tx, user.id, &hash, now())
        .await?;
    tx.commit().await.map_err(ehm_storage::StorageError::from)?;
    state
        .store
        .throttle_reset(&throttle_key(&user.email))
        .await?;
    audit(
        &state,
        Some(user.id),
        "password-reset",
        &user.id.to_string(),
        "success",
        &ip,
    )
    .await?;
    session
        .sign_out(
            &state.store,
            now(),
            &with_flash("Your password has been changed. Sign in with your new password."),
        )
        .await?;
    Ok(see_other("/sign-in"))
}
