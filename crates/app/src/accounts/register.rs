//! Registering a referrer account and confirming its email address.

use ehm_domain::account::{Email, FullName, NewPassword, Role};
use ehm_storage::{CodePurpose, NewMail, NewUser, StorageError};
use time::OffsetDateTime;

use super::codes::{CodeCheck, Decoy, Pending, check_code, send_code, send_decoy};
use super::{Journey, MAIL_WINDOW, email_key, mail_key};
use crate::audit::{self, Event};
use crate::{App, FieldErrors, Result, crypto, mails};

/// What the registration form posts, as typed.
#[derive(Debug, Clone, Copy)]
pub struct RegisterInput<'a> {
    pub full_name: &'a str,
    pub email: &'a str,
    pub password: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterOutcome {
    /// Before the go-live date nobody can register.
    Closed,
    Invalid(FieldErrors),
    /// Go to "check your email". The same whether the address was new (a code was sent)
    /// or already registered (its owner was told by email instead).
    AwaitingCode(Pending),
}

pub async fn register(
    app: &App,
    input: RegisterInput<'_>,
    current_decoy: Option<Decoy>,
    ip: &str,
) -> Result<RegisterOutcome> {
    let now = OffsetDateTime::now_utc();
    if !app.settings.is_live(now) {
        return Ok(RegisterOutcome::Closed);
    }
    let mut errors = FieldErrors::default();
    let name = FullName::parse(input.full_name)
        .map_err(|e| errors.add("full-name", e))
        .ok();
    let email = Email::parse_for_registration(input.email)
        .map_err(|e| errors.add("email", e))
        .ok();
    let password = NewPassword::parse(
        input.password,
        email.as_ref().map(|e| e.as_str()).unwrap_or(input.email),
    )
    .map_err(|e| errors.add("password", e))
    .ok();
    let (Some(name), Some(email), Some(password)) = (name, email, password) else {
        return Ok(RegisterOutcome::Invalid(errors));
    };
    // The password is hashed either way, so both paths cost the same.
    let hash = crypto::hash_password(&password).await?;
    let mut tx = app.store.begin().await?;
    let new_user = NewUser {
        email: &email,
        display_name: name.as_str(),
        role: Role::Referrer,
        password_hash: &hash,
        verified: false,
    };
    match app.store.create_user(&mut tx, new_user, now).await {
        Ok(id) => {
            let id_s = id.to_string();
            audit::record_tx(
                app,
                &mut tx,
                Event {
                    actor: Some(id),
                    action: "register",
                    object_type: "user",
                    object_id: &id_s,
                    outcome: "success",
                    ip,
                },
                now,
            )
            .await?;
            ehm_storage::commit(tx).await?;
            let user = app
                .store
                .user_by_id(id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("new account {id} vanished"))?;
            send_code(app, &user, Journey::Register, CodePurpose::VerifyEmail).await?;
            Ok(RegisterOutcome::AwaitingCode(Pending::Account(id)))
        }
        Err(StorageError::EmailTaken) => {
            drop(tx);
            // Do not reveal that the address is registered: tell its owner by email and
            // show the same next page.
            let key = email_key(email.as_str());
            let decoy = current_decoy.filter(|d| d.email_key == key);
            let gate = app
                .store
                .throttle_reserve(
                    &mail_key(Journey::Register, &key),
                    now,
                    Journey::Register.mail_limit(),
                    MAIL_WINDOW,
                )
                .await?;
            let decoy = if gate.is_allowed() {
                crypto::dummy_hash().await?;
                let mail = mails::account_exists(&app.settings)?;
                let mut tx = app.store.begin().await?;
                let message_id = crypto::random_token();
                app.store
                    .enqueue_mail(
                        &mut tx,
                        NewMail {
                            message_id: &message_id,
                            to: email.as_str(),
                            subject: &mail.subject,
                            body_text: &mail.text,
                            body_html: Some(&mail.html),
                        },
                        now,
                    )
                    .await?;
                ehm_storage::commit(tx).await?;
                Decoy {
                    email_key: key,
                    issued_at_ms: ehm_storage::to_ms(now),
                    attempts: 0,
                }
            } else {
                decoy.unwrap_or(Decoy {
                    email_key: key,
                    issued_at_ms: ehm_storage::to_ms(now),
                    attempts: 0,
                })
            };
            audit::record(
                app,
                Event {
                    actor: None,
                    action: "register",
                    object_type: "user",
                    object_id: "existing-account",
                    outcome: "refused",
                    ip,
                },
            )
            .await?;
            Ok(RegisterOutcome::AwaitingCode(Pending::Decoy(decoy)))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmOutcome {
    Confirmed { user_id: i64 },
    Invalid(&'static str),
}

/// Confirm the address with the emailed code. A decoy is updated in place.
pub async fn confirm_email(
    app: &App,
    pending: &mut Pending,
    typed: &str,
    ip: &str,
) -> Result<ConfirmOutcome> {
    let check = check_code(app, pending, CodePurpose::VerifyEmail, typed).await?;
    let actor = match pending {
        Pending::Account(id) => Some(*id),
        Pending::Decoy(_) => None,
    };
    let object_id = actor
        .map(|i| i.to_string())
        .unwrap_or_else(|| "unknown".into());
    match check {
        CodeCheck::Valid { code_id, user_id } => {
            let now = OffsetDateTime::now_utc();
            let mut tx = app.store.begin().await?;
            if !app.store.consume_code(&mut tx, code_id, now).await? {
                return Ok(ConfirmOutcome::Invalid(super::codes::CODE_USED));
            }
            app.store.mark_verified(&mut tx, user_id, now).await?;
            audit::record_tx(
                app,
                &mut tx,
                Event {
                    actor: Some(user_id),
                    action: "confirm-email",
                    object_type: "user",
                    object_id: &object_id,
                    outcome: "success",
                    ip,
                },
                now,
            )
            .await?;
            ehm_storage::commit(tx).await?;
            Ok(ConfirmOutcome::Confirmed { user_id })
        }
        CodeCheck::Invalid { message, .. } => {
            audit::record(
                app,
                Event {
                    actor,
                    action: "confirm-email",
                    object_type: "user",
                    object_id: &object_id,
                    outcome: check.audit_outcome(),
                    ip,
                },
            )
            .await?;
            Ok(ConfirmOutcome::Invalid(message))
        }
    }
}

/// "Send a new code": a new code when the address has not had its share, the same answer
/// either way ([`super::codes::NEW_CODE_SENT`]). A decoy is replaced in place.
pub async fn resend_code(
    app: &App,
    pending: &mut Pending,
    journey: Journey,
    purpose: CodePurpose,
) -> Result<()> {
    match pending {
        Pending::Account(id) => {
            if let Some(user) = app.store.user_by_id(*id).await?.filter(|u| !u.disabled) {
                send_code(app, &user, journey, purpose).await?;
            }
        }
        Pending::Decoy(d) => {
            if let Some(fresh) =
                send_decoy(app, &d.email_key.clone(), journey, Some(d.clone())).await?
            {
                *d = fresh;
            }
        }
    }
    Ok(())
}
