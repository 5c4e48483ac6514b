//! Signing in: password, then the emailed code (a setting, on by default), then
//! for staff the authenticator app (set up at the first sign-in).

use ehm_domain::account::Email;
use ehm_storage::{CodePurpose, Gate, User};
use time::OffsetDateTime;

use super::codes::{CodeCheck, Pending, check_code, send_code};
use super::{
    ADDRESS_MAX_FAILURES, FAILURE_WINDOW, Journey, SIGN_IN_MAX_ATTEMPTS, TOTP_MAX_ATTEMPTS,
    address_key, email_key, minutes_until, sign_in_key, totp_key,
};
use crate::audit::{self, Event};
use crate::{App, FieldErrors, Result, crypto};

pub(crate) const WRONG_PASSWORD: &str = "Enter a correct email address and password";

fn locked(mins: i64) -> String {
    format!(
        "Too many failed attempts. For your security, sign-in is locked for {mins} minutes. Try again later or reset your password"
    )
}

/// What comes after a step of signing in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    /// Enter the code we emailed.
    LoginCode { user_id: i64 },
    /// Staff: enter the authenticator code.
    Totp { user_id: i64 },
    /// Staff at their first sign-in: set up the authenticator app.
    TotpEnrol { user_id: i64 },
    /// Every factor passed: start the signed-in session.
    Done { user_id: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInOutcome {
    /// Fields left empty.
    Invalid(FieldErrors),
    /// Wrong email or password, or too many attempts: the same for every address.
    Refused(FieldErrors),
    /// The right password for an account whose address is not confirmed yet: a new code
    /// was sent (unless the address has had its share).
    ConfirmEmailFirst {
        user_id: i64,
    },
    Next(Factor),
}

/// The password step. Attempts are counted per (address typed, client address) and per
/// client address *before* the password is checked; the right password resets the first
/// and gives back its turn of the second.
pub async fn sign_in(app: &App, email: &str, password: &str, ip: &str) -> Result<SignInOutcome> {
    let mut errors = FieldErrors::default();
    if email.trim().is_empty() {
        errors.add("email", "Enter your email address");
    }
    if password.is_empty() {
        errors.add("password", "Enter your password");
    }
    if !errors.is_empty() {
        return Ok(SignInOutcome::Invalid(errors));
    }
    let now = OffsetDateTime::now_utc();
    let account_key = sign_in_key(&email_key(email), ip);
    let ip_key = address_key(ip);
    let account_gate = app
        .store
        .throttle_reserve(&account_key, now, SIGN_IN_MAX_ATTEMPTS, FAILURE_WINDOW)
        .await?;
    let gate = match account_gate {
        Gate::Allowed { .. } => {
            app.store
                .throttle_reserve(&ip_key, now, ADDRESS_MAX_FAILURES, FAILURE_WINDOW)
                .await?
        }
        refused => refused,
    };
    if let Gate::Refused { until } = gate {
        record_attempt(app, None, "locked", ip).await?;
        return Ok(SignInOutcome::Refused(FieldErrors::one(
            "email",
            locked(minutes_until(until, now)),
        )));
    }
    let user = match Email::parse(email) {
        Ok(e) => app.store.user_by_email(e.as_str()).await?,
        Err(_) => None,
    };
    let ok = match &user {
        Some(u) if !u.disabled => crypto::verify(password, &u.password_hash).await?,
        _ => {
            crypto::dummy_verify(password).await?;
            false
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        record_attempt(app, None, "wrong-password", ip).await?;
        let message = match account_gate {
            Gate::Allowed { count } if count >= SIGN_IN_MAX_ATTEMPTS => {
                locked(FAILURE_WINDOW.whole_minutes())
            }
            _ => WRONG_PASSWORD.to_string(),
        };
        return Ok(SignInOutcome::Refused(FieldErrors::one("email", message)));
    };
    app.store.throttle_reset(&account_key).await?;
    app.store.throttle_refund(&ip_key).await?;
    record_attempt(app, Some(user.id), "password-accepted", ip).await?;
    if user.verified_at.is_none() {
        send_code(app, &user, Journey::Register, CodePurpose::VerifyEmail).await?;
        return Ok(SignInOutcome::ConfirmEmailFirst { user_id: user.id });
    }
    Ok(SignInOutcome::Next(next_factor(app, &user, false).await?))
}

async fn record_attempt(app: &App, user: Option<i64>, outcome: &str, ip: &str) -> Result<()> {
    let id = user.map(|i| i.to_string());
    audit::record(
        app,
        Event {
            actor: user,
            action: "sign-in",
            object_type: "user",
            object_id: id.as_deref().unwrap_or("unknown"),
            outcome,
            ip,
        },
    )
    .await
}

/// After the password: the emailed code (if on and not passed yet), then the
/// authenticator for staff, then in.
async fn next_factor(app: &App, user: &User, login_code_passed: bool) -> Result<Factor> {
    if app.settings.login_code && !login_code_passed {
        send_code(app, user, Journey::SignIn, CodePurpose::SignIn).await?;
        return Ok(Factor::LoginCode { user_id: user.id });
    }
    if user.role.is_staff() {
        return Ok(if user.totp_enrolled {
            Factor::Totp { user_id: user.id }
        } else {
            Factor::TotpEnrol { user_id: user.id }
        });
    }
    Ok(Factor::Done { user_id: user.id })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginCodeOutcome {
    Next(Factor),
    Invalid(&'static str),
}

/// The emailed sign-in code.
pub async fn login_code(app: &App, user: &User, typed: &str, ip: &str) -> Result<LoginCodeOutcome> {
    let mut pending = Pending::Account(user.id);
    let check = check_code(app, &mut pending, CodePurpose::SignIn, typed).await?;
    let id = user.id.to_string();
    let event = |outcome| Event {
        actor: Some(user.id),
        action: "sign-in-code",
        object_type: "user",
        object_id: &id,
        outcome,
        ip,
    };
    match check {
        CodeCheck::Valid { code_id, .. } => {
            let now = OffsetDateTime::now_utc();
            let mut tx = app.store.begin().await?;
            if !app.store.consume_code(&mut tx, code_id, now).await? {
                return Ok(LoginCodeOutcome::Invalid(super::codes::CODE_USED));
            }
            audit::record_tx(app, &mut tx, event("success"), now).await?;
            ehm_storage::commit(tx).await?;
            Ok(LoginCodeOutcome::Next(next_factor(app, user, true).await?))
        }
        CodeCheck::Invalid { message, .. } => {
            audit::record(app, event(check.audit_outcome())).await?;
            Ok(LoginCodeOutcome::Invalid(message))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TotpOutcome {
    SignedIn,
    Invalid(String),
}

const ENTER_TOTP: &str = "Enter the 6-digit code from your authenticator app";

fn unix_now() -> u64 {
    OffsetDateTime::now_utc().unix_timestamp().max(0) as u64
}

/// The authenticator code of an enrolled member of staff. Attempts are reserved before the
/// code is checked; a code's time step can be used once.
pub async fn totp(app: &App, user: &User, typed: &str, ip: &str) -> Result<TotpOutcome> {
    let id = user.id.to_string();
    let event = |outcome| Event {
        actor: Some(user.id),
        action: "sign-in-totp",
        object_type: "user",
        object_id: &id,
        outcome,
        ip,
    };
    if typed.trim().is_empty() {
        return Ok(TotpOutcome::Invalid(ENTER_TOTP.into()));
    }
    let now = OffsetDateTime::now_utc();
    let key = totp_key(user.id);
    if let Gate::Refused { until } = app
        .store
        .throttle_reserve(&key, now, TOTP_MAX_ATTEMPTS, FAILURE_WINDOW)
        .await?
    {
        audit::record(app, event("locked")).await?;
        return Ok(TotpOutcome::Invalid(format!(
            "Too many wrong codes. For your security, sign-in is locked for {} minutes",
            minutes_until(until, now)
        )));
    }
    let secret = user
        .totp_secret
        .clone()
        .ok_or_else(|| anyhow::anyhow!("user {} has no authenticator secret", user.id))?;
    let t = crypto::totp(&secret, &user.email, &app.settings.service_name)?;
    if let Some(step) = crypto::totp_step_for(&t, typed, unix_now())
        && app.store.use_totp_step(user.id, step).await?
    {
        app.store.throttle_reset(&key).await?;
        return Ok(TotpOutcome::SignedIn);
    }
    audit::record(app, event("wrong-code")).await?;
    Ok(TotpOutcome::Invalid(
        "The code is not correct or has already been used. Enter the code your app shows now"
            .into(),
    ))
}

/// Setting up the authenticator app at a first sign-in: the first code proves the secret.
pub async fn enrol_totp(
    app: &App,
    user: &User,
    secret: &str,
    typed: &str,
    ip: &str,
) -> Result<TotpOutcome> {
    let id = user.id.to_string();
    let event = |outcome| Event {
        actor: Some(user.id),
        action: "totp-enrol",
        object_type: "user",
        object_id: &id,
        outcome,
        ip,
    };
    if typed.trim().is_empty() {
        return Ok(TotpOutcome::Invalid(ENTER_TOTP.into()));
    }
    let now = OffsetDateTime::now_utc();
    let key = totp_key(user.id);
    if !app
        .store
        .throttle_reserve(&key, now, TOTP_MAX_ATTEMPTS, FAILURE_WINDOW)
        .await?
        .is_allowed()
    {
        audit::record(app, event("locked")).await?;
        return Ok(TotpOutcome::Invalid(
            "Too many wrong codes. For your security, try again in 15 minutes".into(),
        ));
    }
    let t = crypto::totp(secret, &user.email, &app.settings.service_name)?;
    match crypto::totp_step_for(&t, typed, unix_now()) {
        Some(step) if app.store.enrol_totp(user.id, secret, step, now).await? => {
            app.store.throttle_reset(&key).await?;
            audit::record(app, event("success")).await?;
            Ok(TotpOutcome::SignedIn)
        }
        _ => {
            audit::record(app, event("wrong-code")).await?;
            Ok(TotpOutcome::Invalid(
                "The code is not correct. Enter the 6-digit code your app shows now".into(),
            ))
        }
    }
}

/// Every factor passed: record the sign-in. Returns whether answers kept across an
/// earlier timeout are waiting to be restored.
pub async fn complete_sign_in(app: &App, user: &User, ip: &str) -> Result<bool> {
    let id = user.id.to_string();
    audit::record(
        app,
        Event {
            actor: Some(user.id),
            action: "sign-in",
            object_type: "user",
            object_id: &id,
            outcome: "success",
            ip,
        },
    )
    .await?;
    Ok(app.store.count_pending_saves(user.id).await? > 0)
}
