//! Forgotten password: an emailed code and a new password. Every session of the
//! account ends when the password changes.

use ehm_domain::account::{Email, NewPassword};
use ehm_storage::CodePurpose;
use time::OffsetDateTime;

use super::codes::{CodeCheck, Decoy, Pending, check_code, send_code, send_decoy};
use super::{Journey, email_key};
use crate::audit::{self, Event};
use crate::{App, FieldErrors, Result, crypto};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForgotOutcome {
    Invalid(FieldErrors),
    /// Go to "reset your password": the same whether or not the address has an account.
    AwaitingCode(Pending),
}

pub async fn forgot(
    app: &App,
    email: &str,
    current_decoy: Option<Decoy>,
    ip: &str,
) -> Result<ForgotOutcome> {
    let email = match Email::parse(email) {
        Ok(e) => e,
        Err(e) => return Ok(ForgotOutcome::Invalid(FieldErrors::one("email", e))),
    };
    let user = app
        .store
        .user_by_email(email.as_str())
        .await?
        .filter(|u| !u.disabled);
    let pending = match &user {
        Some(u) => {
            send_code(app, u, Journey::Reset, CodePurpose::ResetPassword).await?;
            Pending::Account(u.id)
        }
        None => {
            let key = email_key(email.as_str());
            let current = current_decoy.filter(|d| d.email_key == key);
            let decoy = send_decoy(app, &key, Journey::Reset, current.clone())
                .await?
                .or(current)
                .unwrap_or(Decoy {
                    email_key: key,
                    issued_at_ms: ehm_storage::to_ms(OffsetDateTime::now_utc()),
                    attempts: 0,
                });
            Pending::Decoy(decoy)
        }
    };
    let id = user.as_ref().map(|u| u.id.to_string());
    audit::record(
        app,
        Event {
            actor: user.as_ref().map(|u| u.id),
            action: "password-reset-request",
            object_type: "user",
            object_id: id.as_deref().unwrap_or("unknown"),
            outcome: "requested",
            ip,
        },
    )
    .await?;
    Ok(ForgotOutcome::AwaitingCode(pending))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetOutcome {
    Changed { user_id: i64 },
    Invalid(FieldErrors),
}

/// Check the new password against the policy, then the code; only once the code has
/// proved the person reads the account's inbox is the password checked against the
/// address itself (so the answer never depends on whether the account exists).
pub async fn reset(
    app: &App,
    pending: &mut Pending,
    typed_code: &str,
    password: &str,
    ip: &str,
) -> Result<ResetOutcome> {
    if let Err(e) = NewPassword::parse(password, "") {
        return Ok(ResetOutcome::Invalid(FieldErrors::one("password", e)));
    }
    let check = check_code(app, pending, CodePurpose::ResetPassword, typed_code).await?;
    let (code_id, user_id) = match check {
        CodeCheck::Valid { code_id, user_id } => (code_id, user_id),
        CodeCheck::Invalid { message, .. } => {
            let actor = match pending {
                Pending::Account(id) => Some(*id),
                Pending::Decoy(_) => None,
            };
            let id = actor.map(|i| i.to_string());
            audit::record(
                app,
                Event {
                    actor,
                    action: "password-reset",
                    object_type: "user",
                    object_id: id.as_deref().unwrap_or("unknown"),
                    outcome: check.audit_outcome(),
                    ip,
                },
            )
            .await?;
            return Ok(ResetOutcome::Invalid(FieldErrors::one("code", message)));
        }
    };
    let user = app
        .store
        .user_by_id(user_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("account {user_id} vanished during a reset"))?;
    let password = match NewPassword::parse(password, &user.email) {
        Ok(p) => p,
        Err(e) => return Ok(ResetOutcome::Invalid(FieldErrors::one("password", e))),
    };
    let hash = crypto::hash_password(&password).await?;
    let now = OffsetDateTime::now_utc();
    let mut tx = app.store.begin().await?;
    if !app.store.consume_code(&mut tx, code_id, now).await? {
        return Ok(ResetOutcome::Invalid(FieldErrors::one(
            "code",
            super::codes::CODE_USED,
        )));
    }
    // Also confirms the address: the code proved the person reads that inbox.
    app.store.mark_verified(&mut tx, user.id, now).await?;
    app.store.set_password(&mut tx, user.id, &hash, now).await?;
    let id = user.id.to_string();
    audit::record_tx(
        app,
        &mut tx,
        Event {
            actor: Some(user.id),
            action: "password-reset",
            object_type: "user",
            object_id: &id,
            outcome: "success",
            ip,
        },
        now,
    )
    .await?;
    ehm_storage::commit(tx).await?;
    Ok(ResetOutcome::Changed { user_id: user.id })
}
