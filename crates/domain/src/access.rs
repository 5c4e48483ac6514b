//! Who may do what, decided in one place. Each permission names the object it
//! acts on, so a check cannot forget the object ("can this referrer see *this* draft?").

use crate::account::Role;

/// The signed-in person asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user_id: i64,
    pub role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Create and list staff accounts.
    ManageUsers,
    /// Read the audit log.
    ViewAudit,
    /// See the MASH work tray.
    ViewWorkTray,
    /// Start a new referral.
    CreateReferral,
    /// Read, edit, print or delete a draft: only the referrer who owns it.
    EditDraft { owner_id: i64 },
    /// Read a submitted referral: its referrer, or MASH staff.
    ViewReferral { owner_id: i64 },
}

pub fn allowed(actor: Actor, permission: Permission) -> bool {
    use Permission::*;
    use Role::*;
    match permission {
        ManageUsers | ViewAudit => actor.role == Admin,
        ViewWorkTray => matches!(actor.role, BusinessSupport | SocialWorker | Manager),
        CreateReferral => actor.role == Referrer,
        EditDraft { owner_id } => actor.role == Referrer && actor.user_id == owner_id,
        ViewReferral { owner_id } => {
            (actor.role == Referrer && actor.user_id == owner_id)
                || matches!(actor.role, BusinessSupport | SocialWorker | Manager)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(user_id: i64, role: Role) -> Actor {
        Actor { user_id, role }
    }

    #[test]
    fn only_admins_manage_users_and_read_the_audit_log() {
        for role in Role::ALL {
            assert_eq!(
                allowed(actor(1, role), Permission::ManageUsers),
                role == Role::Admin
            );
            assert_eq!(
                allowed(actor(1, role), Permission::ViewAudit),
                role == Role::Admin
            );
        }
    }

    #[test]
    fn a_referrer_edits_only_their_own_draft() {
        assert!(allowed(
            actor(7, Role::Referrer),
            Permission::EditDraft { owner_id: 7 }
        ));
        assert!(!allowed(
            actor(8, Role::Referrer),
            Permission::EditDraft { owner_id: 7 }
        ));
    }

    #[test]
    fn staff_cannot_edit_a_referrers_draft() {
        for role in Role::STAFF {
            assert!(!allowed(
                actor(7, role),
                Permission::EditDraft { owner_id: 7 }
            ));
        }
    }

    #[test]
    fn a_submitted_referral_is_seen_by_its_referrer_and_mash_staff_but_not_other_referrers_or_admins()
     {
        let p = Permission::ViewReferral { owner_id: 7 };
        assert!(allowed(actor(7, Role::Referrer), p));
        assert!(!allowed(actor(8, Role::Referrer), p));
        assert!(allowed(actor(2, Role::SocialWorker), p));
        assert!(allowed(actor(2, Role::BusinessSupport), p));
        assert!(allowed(actor(2, Role::Manager), p));
        assert!(!allowed(actor(2, Role::Admin), p));
    }

    #[test]
    fn the_work_tray_is_for_mash_staff_only() {
        assert!(!allowed(actor(1, Role::Referrer), Permission::ViewWorkTray));
        assert!(!allowed(actor(1, Role::Admin), Permission::ViewWorkTray));
        assert!(allowed(actor(1, Role::Manager), Permission::ViewWorkTray));
    }
}
