//! Authorisation at the edge of every handler: one call that asks the domain's
//! [`allowed`] and records refusals (ASVS V16: every failed access check is logged).

use ehm_domain::access::{Actor, Permission, allowed};
use ehm_storage::AuditEntry;

use crate::error::{AppError, AppResult};
use crate::session::Session;
use crate::state::AppState;

pub fn actor(session: &Session) -> AppResult<Actor> {
    session
        .user()
        .map(|u| Actor {
            user_id: u.id,
            role: u.role,
        })
        .ok_or(AppError::SignInRequired)
}

/// Check `permission` for the signed-in user. Refusals about a particular object are
/// answered 404 (its existence is not revealed); others 403.
pub async fn authorize(
    state: &AppState,
    session: &Session,
    permission: Permission,
    object: (&str, &str),
    ip: &str,
) -> AppResult<Actor> {
    let actor = actor(session)?;
    if allowed(actor, permission) {
        return Ok(actor);
    }
    tracing::warn!(user_id = actor.user_id, role = %actor.role, permission = ?std::mem::discriminant(&permission), "access refused");
    let entry = AuditEntry {
        actor_user_id: Some(actor.user_id),
        action: "access-check",
        object_type: object.0,
        object_id: object.1,
        outcome: "refused",
        ip,
    };
    state
        .store
        .audit(&entry, time::OffsetDateTime::now_utc())
        .await?;
    Err(match permission {
        Permission::EditDraft { .. } | Permission::ViewReferral { .. } => AppError::NotFound,
        _ => AppError::Forbidden,
    })
}

/// A permission about no particular object, as a type: `Allowed<ManageUsers>` in a
/// handler's arguments means the signed-in user holds it (checked and, if refused,
/// audited before the handler runs).
pub trait Need: Send + Sync + 'static {
    const PERMISSION: Permission;
    /// What the audit record of a refusal names.
    const OBJECT: (&'static str, &'static str);
}

pub struct ManageUsers;
impl Need for ManageUsers {
    const PERMISSION: Permission = Permission::ManageUsers;
    const OBJECT: (&'static str, &'static str) = ("users", "all");
}

pub struct ViewAudit;
impl Need for ViewAudit {
    const PERMISSION: Permission = Permission::ViewAudit;
    const OBJECT: (&'static str, &'static str) = ("audit", "all");
}

pub struct Allowed<N: Need> {
    pub actor: Actor,
    pub ip: String,
    _n: std::marker::PhantomData<N>,
}

impl<N: Need> axum::extract::FromRequestParts<AppState> for Allowed<N> {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state).await?;
        let crate::client::ClientIp(ip) = crate::client::ClientIp::from_request_parts(parts, state)
            .await
            .unwrap_or(crate::client::ClientIp("unknown".into()));
        let actor = authorize(state, &session, N::PERMISSION, N::OBJECT, &ip).await?;
        Ok(Self {
            actor,
            ip,
            _n: std::marker::PhantomData,
        })
    }
}
