//! The MASH side (R-40 … R-47): the work tray, a referral as staff see it, the person
//! index and the system match, and the workflow from triage to feedback.
//!
//! Access: [`open_for_staff`] lets MASH staff work on a submitted referral
//! (`Permission::WorkOnReferral`); which workflow step each member of staff may then take
//! is decided by the referral's own rules (`ehm_domain::mash::workflow`).

pub mod persons;
pub mod tray;
pub mod workflow;

use ehm_domain::access::{Actor, Permission, allowed};
use ehm_storage::WorkflowRow;

use crate::referrals::{Loaded, facts, refused};
use crate::{App, Result};

/// A submitted referral opened by a member of MASH staff, with its workflow state.
#[derive(Debug, Clone)]
pub struct StaffReferral {
    pub loaded: Loaded,
    pub workflow: WorkflowRow,
}

/// Open a referral for MASH work. `None` when there is no such referral or the actor may
/// not work on it (a refusal is audited); the two are not told apart.
pub async fn open_for_staff(
    app: &App,
    actor: Actor,
    pid: &str,
    ip: &str,
) -> Result<Option<StaffReferral>> {
    let Some(row) = app.store.referral_by_public_id(pid).await? else {
        return Ok(None);
    };
    if !allowed(
        actor,
        Permission::WorkOnReferral {
            referral: facts(&row),
        },
    ) {
        refused(app, actor, &row, ip).await?;
        return Ok(None);
    }
    let Some(workflow) = app.store.workflow(row.id).await? else {
        return Ok(None);
    };
    let draft = row.draft.clone();
    Ok(Some(StaffReferral {
        loaded: Loaded { row, draft, actor },
        workflow,
    }))
}
