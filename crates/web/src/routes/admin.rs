//! Administrator pages: staff accounts and the audit log.

use axum::Form;
use axum::extract::{Query, State};
use axum::response::Response;
use ehm_domain::access::Permission;
use ehm_domain::account::{Email, Role};
use ehm_storage::{AuditEntry, NewMail, NewUser, StorageError};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{ClientIp, see_other};
use crate::auth;
use crate::error::AppResult;
use crate::guard::authorize;
use crate::render::{Errors, page};
use crate::session::Session;
use crate::state::AppState;

#[derive(Serialize)]
struct UserRow {
    email: String,
    name: String,
    role: &'static str,
    status: &'static str,
    authenticator: &'static str,
}

pub async fn users(State(state): State<AppState>, session: Session) -> AppResult<Response> {
    authorize(&state, &session, Permission::ManageUsers, ("users", "all")).await?;
    let users: Vec<UserRow> = state
        .store
        .list_users()
        .await?
        .into_iter()
        .map(|u| UserRow {
            email: u.email,
            name: u.display_name,
            role: u.role.label(),
            status: if u.disabled {
                "Disabled"
            } else if u.verified_at.is_some() {
                "Active"
            } else {
                "Email not confirmed"
            },
            authenticator: if !u.role.is_staff() {
                "Not needed"
            } else if u.totp_enrolled {
                "Set up"
            } else {
                "Not set up yet"
            },
        })
        .collect();
    let flash = super::accounts::take_flash(&state, &session).await?;
    Ok(page(
        &state,
        &session,
        "pages/admin_users.html",
        "Users",
        &Errors::default(),
        context! { users, flash },
    ))
}

#[derive(Deserialize, Default)]
pub struct NewUserForm {
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

fn role_items() -> Vec<minijinja::Value> {
    Role::STAFF
        .iter()
        .map(|r| context! { value => r.as_str(), text => r.label() })
        .collect()
}

pub async fn new_user_form(State(state): State<AppState>, session: Session) -> AppResult<Response> {
    authorize(&state, &session, Permission::ManageUsers, ("users", "new")).await?;
    Ok(page(
        &state,
        &session,
        "pages/admin_new_user.html",
        "Add a staff account",
        &Errors::default(),
        context! { roles => role_items(), full_name => "", email => "", role => "" },
    ))
}

pub async fn new_user(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Form(form): Form<NewUserForm>,
) -> AppResult<Response> {
    let actor = authorize(&state, &session, Permission::ManageUsers, ("users", "new")).await?;
    let mut errors = Errors::default();
    let name = form.full_name.trim();
    if name.is_empty() {
        errors.add("full-name", "Enter the person's full name");
    }
    let email = Email::parse_for_registration(&form.email)
        .map_err(|e| errors.add("email", e))
        .ok();
    let role = Role::parse(&form.role).ok().filter(|r| r.is_staff());
    if role.is_none() {
        errors.add("role", "Select the person's role");
    }
    let render = |errors: &Errors| {
        page(
            &state,
            &session,
            "pages/admin_new_user.html",
            "Add a staff account",
            errors,
            context! { roles => role_items(), full_name => &form.full_name, email => &form.email, role => &form.role },
        )
    };
    let (Some(email), Some(role), true) = (email, role, errors.is_empty()) else {
        return Ok(render(&errors));
    };
    // No password is chosen for them: they set their own through "Forgotten your password?".
    let unusable = auth::hash_password(auth::random_token()).await?;
    let now = time::OffsetDateTime::now_utc();
    let mut tx = state.store.begin().await?;
    let id = match state
        .store
        .create_user(
            &mut tx,
            NewUser {
                email: &email,
                display_name: name,
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
            errors.add("email", "That email address already has an account");
            return Ok(render(&errors));
        }
        Err(e) => return Err(e.into()),
    };
    let body = format!(
        "An administrator has created a {role} account for you on the {service}.\n\n\
         To choose your password, go to {url}/forgot-password and enter this email address. \
         When you first sign in you will set up an authenticator app.\n",
        role = role.label(),
        service = state.settings.service_name,
        url = state.settings.public_url.trim_end_matches('/'),
    );
    let message_id = auth::random_token();
    state
        .store
        .enqueue_mail(
            &mut tx,
            NewMail {
                message_id: &message_id,
                to: email.as_str(),
                subject: "Your account has been created",
                body_text: &body,
            },
            now,
        )
        .await?;
    let id_s = id.to_string();
    state
        .store
        .audit_tx(
            &mut tx,
            &AuditEntry {
                actor_user_id: Some(actor.user_id),
                action: "create-user",
                object_type: "user",
                object_id: &id_s,
                outcome: "success",
                ip: &ip,
            },
            now,
        )
        .await?;
    tx.commit().await.map_err(StorageError::from)?;
    let mut data = session.data.clone();
    data.flash = Some(format!(
        "Account created for {}. They have been emailed how to set their password.",
        email
    ));
    session
        .set_stage(&state.store, session.stage, Some(actor.user_id), &data)
        .await?;
    Ok(see_other("/admin/users"))
}

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    page: Option<i64>,
}

#[derive(Serialize)]
struct AuditRow {
    at: String,
    actor: String,
    action: String,
    object: String,
    outcome: String,
    ip: String,
}

pub async fn audit(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<AuditQuery>,
) -> AppResult<Response> {
    let actor = authorize(&state, &session, Permission::ViewAudit, ("audit", "all")).await?;
    let per_page = 100;
    let page_no = q.page.unwrap_or(1).max(1);
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    let rows: Vec<AuditRow> = state
        .store
        .list_audit(per_page, (page_no - 1) * per_page)
        .await?
        .into_iter()
        .map(|r| AuditRow {
            at: r.at.format(&f).unwrap_or_default(),
            actor: r
                .actor_user_id
                .map(|i| format!("user {i}"))
                .unwrap_or_else(|| "anonymous".into()),
            action: r.action,
            object: format!("{} {}", r.object_type, r.object_id),
            outcome: r.outcome,
            ip: r.ip,
        })
        .collect();
    let entry = AuditEntry {
        actor_user_id: Some(actor.user_id),
        action: "view-audit",
        object_type: "audit",
        object_id: "all",
        outcome: "success",
        ip: "",
    };
    state
        .store
        .audit(&entry, time::OffsetDateTime::now_utc())
        .await?;
    let has_next = rows.len() as i64 == per_page;
    Ok(page(
        &state,
        &session,
        "pages/admin_audit.html",
        "Audit log",
        &Errors::default(),
        context! { rows, page_no, has_next },
    ))
}
