//! A signed-in person changes their password: the current password (throttled like
//! signing in), a new one under the same policy as registration and reset, every other
//! session of theirs ended, and an email telling them it changed.

use ehm_domain::account::NewPassword;
use ehm_storage::{Gate, NewMail, User};
use time::OffsetDateTime;

use super::{FAILURE_WINDOW, SIGN_IN_MAX_ATTEMPTS, minutes_until};
use crate::audit::{self, Event};
use crate::{App, FieldErrors, Result, crypto, mails};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangePasswordOutcome {
    /// Changed: every session of the account has ended (the caller starts a new one for the
    /// person who changed it) and the email is in the outbox.
    Changed,
    Invalid(FieldErrors),
}

/// The throttle key of current-password attempts: per account (the person is signed in,
/// so a stranger cannot use it to lock anyone else out).
fn change_key(user_id: i64) -> String {
    format!("change-password:{user_id}")
}

pub async fn change_password(
    app: &App,
    user: &User,
    current: &str,
    new: &str,
    ip: &str,
) -> Result<ChangePasswordOutcome> {
    let mut errors = FieldErrors::default();
    if current.is_empty() {
        errors.add("current-password", "Enter your current password");
    }
    let parsed = match NewPassword::parse(new, &user.email) {
        Ok(p) => Some(p),
        Err(e) => {
            errors.add("new-password", e);
            None
        }
    };
    if !current.is_empty() && new == current {
        errors.add(
            "new-password",
            "Your new password must be different from your current password",
        );
    }
    let Some(password) = parsed.filter(|_| errors.is_empty()) else {
        return Ok(ChangePasswordOutcome::Invalid(errors));
    };
    let id = user.id.to_string();
    let event = |outcome| Event {
        actor: Some(user.id),
        action: "password-change",
        object_type: "user",
        object_id: &id,
        outcome,
        ip,
    };
    let now = OffsetDateTime::now_utc();
    let key = change_key(user.id);
    let gate = app
        .store
        .throttle_reserve(&key, now, SIGN_IN_MAX_ATTEMPTS, FAILURE_WINDOW)
        .await?;
    if let Gate::Refused { until } = gate {
        audit::record(app, event("locked")).await?;
        return Ok(ChangePasswordOutcome::Invalid(FieldErrors::one(
            "current-password",
            format!(
                "Too many wrong passwords. For your security, try again in {} minutes",
                minutes_until(until, now)
            ),
        )));
    }
    if !crypto::verify(current, &user.password_hash).await? {
        audit::record(app, event("wrong-password")).await?;
        return Ok(ChangePasswordOutcome::Invalid(FieldErrors::one(
            "current-password",
            "Your current password is not correct",
        )));
    }
    app.store.throttle_reset(&key).await?;
    // Hashed before the transaction opens: no lock is held during the hash.
    let hash = crypto::hash_password(&password).await?;
    let mail = mails::password_changed(&app.settings)?;
    let message_id = crypto::random_token();
    let mut tx = app.store.begin().await?;
    // Also ends every session of the account.
    app.store.set_password(&mut tx, user.id, &hash, now).await?;
    app.store
        .enqueue_mail(
            &mut tx,
            NewMail {
                message_id: &message_id,
                to: &user.email,
                subject: &mail.subject,
                body_text: &mail.text,
                body_html: Some(&mail.html),
            },
            now,
        )
        .await?;
    audit::record_tx(app, &mut tx, event("success"), now).await?;
    ehm_storage::commit(tx).await?;
    Ok(ChangePasswordOutcome::Changed)
}
