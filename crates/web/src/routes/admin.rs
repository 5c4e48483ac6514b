//! Administrator pages: staff accounts and the audit log.

use axum::extract::{Query, State};
use axum::response::Response;
use ehm_app::accounts::{self, NewStaffOutcome};
use ehm_domain::access::Permission;
use ehm_domain::account::Role;
use ehm_storage::AuditEntry;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::accounts::errors_of;
use super::see_other;
use crate::client::ClientIp;
use crate::csrf::PostedForm;
use crate::error::AppResult;
use crate::guard::{Allowed, ManageUsers, authorize};
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

#[tracing::instrument(skip_all)]
pub async fn users(
    State(state): State<AppState>,
    session: Session,
    _: Allowed<ManageUsers>,
) -> AppResult<Response> {
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
    let flash = session.take_flash(&state.store).await?;
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

#[tracing::instrument(skip_all)]
pub async fn new_user_form(
    State(state): State<AppState>,
    session: Session,
    _: Allowed<ManageUsers>,
) -> AppResult<Response> {
    Ok(page(
        &state,
        &session,
        "pages/admin_new_user.html",
        "Add a staff account",
        &Errors::default(),
        context! { roles => role_items(), full_name => "", email => "", role => "" },
    ))
}

#[tracing::instrument(skip_all)]
pub async fn new_user(
    State(state): State<AppState>,
    session: Session,
    Allowed { actor, ip, .. }: Allowed<ManageUsers>,
    PostedForm(form): PostedForm<NewUserForm>,
) -> AppResult<Response> {
    match accounts::create_staff(
        &state.app,
        actor.user_id,
        &form.full_name,
        &form.email,
        &form.role,
        &ip,
    )
    .await?
    {
        NewStaffOutcome::Created { email, .. } => {
            session
                .flash(
                    &state.store,
                    format!(
                        "Account created for {email}. They have been emailed how to set their password."
                    ),
                )
                .await?;
            Ok(see_other("/admin/users"))
        }
        NewStaffOutcome::Invalid(e) => Ok(page(
            &state,
            &session,
            "pages/admin_new_user.html",
            "Add a staff account",
            &errors_of(e),
            context! { roles => role_items(), full_name => &form.full_name, email => &form.email, role => &form.role },
        )),
    }
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

#[tracing::instrument(skip_all)]
pub async fn audit(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    Query(q): Query<AuditQuery>,
) -> AppResult<Response> {
    let actor = authorize(
        &state,
        &session,
        Permission::ViewAudit,
        ("audit", "all"),
        &ip,
    )
    .await?;
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
        ip: &ip,
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
