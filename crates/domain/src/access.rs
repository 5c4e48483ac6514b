//! Who may do what, decided in one place. Each permission names the object it
//! acts on, so a check cannot forget the object ("can this referrer see *this* draft?").

use crate::account::Role;

/// The signed-in person asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user_id: i64,
    pub role: Role,
}

/// What an access decision about a referral needs to know about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReferralFacts {
    /// The referrer who wrote it.
    pub owner_id: i64,
    /// Still a draft (only ever seen by its owner).
    pub draft: bool,
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
    /// Edit or delete a draft: only the referrer who owns it, only while it is a draft.
    EditDraft { referral: ReferralFacts },
    /// Read a referral (pages, PDF, attachments): its referrer, whatever its state; MASH
    /// staff once it is submitted (never a draft); administrators never.
    ViewReferral { referral: ReferralFacts },
    /// Act as the referral's author (submit it, see its confirmation): only the referrer
    /// who wrote it, whatever its state.
    ActAsReferrer { referral: ReferralFacts },
    /// Work on a submitted referral in the MASH (its staff page, the system match, links to
    /// person records, workflow steps): MASH staff only, never on a draft. *Which* step a
    /// member of staff may take is then decided by the referral's own workflow rules
    /// (`mash::workflow::apply`, `mash::workflow::allocate`: role, allocation, four eyes).
    WorkOnReferral { referral: ReferralFacts },
    /// Read a person record of the person index and the referrals linked to it.
    ViewPerson,
    /// Correct a person record (the referral keeps what the referrer wrote).
    EditPerson,
}

pub fn allowed(actor: Actor, permission: Permission) -> bool {
    use Permission::*;
    use Role::*;
    match permission {
        ManageUsers | ViewAudit => actor.role == Admin,
        ViewWorkTray | ViewPerson => {
            matches!(actor.role, BusinessSupport | SocialWorker | Manager)
        }
        EditPerson => matches!(actor.role, BusinessSupport | Manager),
        WorkOnReferral { referral } => {
            !referral.draft && matches!(actor.role, BusinessSupport | SocialWorker | Manager)
        }
        CreateReferral => actor.role == Referrer,
        EditDraft { referral } => {
            referral.draft && actor.role == Referrer && actor.user_id == referral.owner_id
        }
        ActAsReferrer { referral } => actor.role == Referrer && actor.user_id == referral.owner_id,
        ViewReferral { referral } => {
            (actor.role == Referrer && actor.user_id == referral.owner_id)
                || (!referral.draft
                    && matches!(actor.role, BusinessSupport | SocialWorker | Manager))
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

    fn draft_of(owner_id: i64) -> ReferralFacts {
        ReferralFacts {
            owner_id,
            draft: true,
        }
    }

    fn submitted_by(owner_id: i64) -> ReferralFacts {
        ReferralFacts {
            owner_id,
            draft: false,
        }
    }

    #[test]
    fn a_referrer_edits_only_their_own_draft() {
        let p = Permission::EditDraft {
            referral: draft_of(7),
        };
        assert!(allowed(actor(7, Role::Referrer), p));
        assert!(!allowed(actor(8, Role::Referrer), p));
    }

    #[test]
    fn a_submitted_referral_cannot_be_edited_even_by_its_referrer() {
        let p = Permission::EditDraft {
            referral: submitted_by(7),
        };
        assert!(!allowed(actor(7, Role::Referrer), p));
    }

    #[test]
    fn staff_cannot_edit_a_referrers_draft() {
        for role in Role::STAFF {
            assert!(!allowed(
                actor(7, role),
                Permission::EditDraft {
                    referral: draft_of(7)
                }
            ));
        }
    }

    #[test]
    fn nobody_but_its_referrer_sees_a_draft() {
        let p = Permission::ViewReferral {
            referral: draft_of(7),
        };
        assert!(allowed(actor(7, Role::Referrer), p));
        for role in Role::ALL {
            assert!(!allowed(actor(2, role), p), "{role:?} saw a draft");
        }
    }

    #[test]
    fn a_submitted_referral_is_seen_by_its_referrer_and_mash_staff_but_not_other_referrers_or_admins()
     {
        let p = Permission::ViewReferral {
            referral: submitted_by(7),
        };
        assert!(allowed(actor(7, Role::Referrer), p));
        assert!(!allowed(actor(8, Role::Referrer), p));
        assert!(allowed(actor(2, Role::SocialWorker), p));
        assert!(allowed(actor(2, Role::BusinessSupport), p));
        assert!(allowed(actor(2, Role::Manager), p));
        assert!(!allowed(actor(2, Role::Admin), p));
    }

    #[test]
    fn only_the_author_acts_as_the_referrer() {
        for referral in [draft_of(7), submitted_by(7)] {
            let p = Permission::ActAsReferrer { referral };
            assert!(allowed(actor(7, Role::Referrer), p));
            assert!(!allowed(actor(8, Role::Referrer), p));
            for role in Role::STAFF {
                assert!(!allowed(actor(7, role), p), "{role:?}");
            }
        }
    }

    #[test]
    fn only_mash_staff_work_on_submitted_referrals() {
        for role in Role::ALL {
            let mash = matches!(
                role,
                Role::BusinessSupport | Role::SocialWorker | Role::Manager
            );
            assert_eq!(
                allowed(
                    actor(2, role),
                    Permission::WorkOnReferral {
                        referral: submitted_by(7)
                    }
                ),
                mash,
                "{role:?}"
            );
            assert!(!allowed(
                actor(2, role),
                Permission::WorkOnReferral {
                    referral: draft_of(7)
                }
            ));
            assert_eq!(allowed(actor(2, role), Permission::ViewPerson), mash);
        }
        assert!(!allowed(
            actor(2, Role::SocialWorker),
            Permission::EditPerson
        ));
        assert!(allowed(
            actor(2, Role::BusinessSupport),
            Permission::EditPerson
        ));
    }

    #[test]
    fn the_work_tray_is_for_mash_staff_only() {
        assert!(!allowed(actor(1, Role::Referrer), Permission::ViewWorkTray));
        assert!(!allowed(actor(1, Role::Admin), Permission::ViewWorkTray));
        assert!(allowed(actor(1, Role::Manager), Permission::ViewWorkTray));
    }
}
