//! Staff accounts are created by an administrator, never self-registered.

use ehm_domain::account::{Email, FullName, Role};
use ehm_storage::{NewMail, NewUser, StorageError};
use time::OffsetDateTime;

use crate::audit::{self, Event};
use crate::{App, FieldErrors, Result, crypto, mails};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewStaffOutcome {
    Created { user_id: i64, email: String },
    Invalid(FieldErrors),
}

/// Create a staff account with no usable password: the person chooses their own through
/// "Forgotten your password?" (the email says so) and sets up an authenticator app at
/// their first sign-in.
pub async fn create_staff(
    app: &App,
    admin_id: i64,
    full_name: &str,
    email: &str,
    role: &str,
    ip: &str,
) -> Result<NewStaffOutcome> {
    let mut errors = FieldErrors::default();
    let name = FullName::parse(full_name)
        .map_err(|_| errors.add("full-name", "Enter the person's full name"))
        .ok();
    let email = Email::parse_for_registration(email)
        .map_err(|e| errors.add("email", e))
        .ok();
    let role = Role::parse(role).ok().filter(|r| r.is_staff());
    if role.is_none() {
        errors.add("role", "Select the person's role");
    }
    let (Some(name), Some(email), Some(role)) = (name, email, role) else {
        return Ok(NewStaffOutcome::Invalid(errors));
    };
    let unusable = crypto::hash_secret(&crypto::random_token()).await?;
    let now = OffsetDateTime::now_utc();
    let mut tx = app.store.begin().await?;
    let id = match app
        .store
        .create_user(
            &mut tx,
            NewUser {
                email: &email,
                display_name: name.as_str(),
                role,
                password_hash: &unusable,
                verified: true,
            },
            now,
        )
        .await
    {
        Ok(id) => id,
        Err(StorageError::EmailTaken) => {
            return Ok(NewStaffOutcome::Invalid(FieldErrors::one(
                "email",
                "That email address already has an account",
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let mail = mails::staff_account_created(&app.settings, role.label())?;
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
    let id_s = id.to_string();
    audit::record_tx(
        app,
        &mut tx,
        Event {
            actor: Some(admin_id),
            action: "create-user",
            object_type: "user",
            object_id: &id_s,
            outcome: "success",
            ip,
        },
        now,
    )
    .await?;
    ehm_storage::commit(tx).await?;
    Ok(NewStaffOutcome::Created {
        user_id: id,
        email: email.to_string(),
    })
}
