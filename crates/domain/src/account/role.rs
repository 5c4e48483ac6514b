use std::fmt;

/// Who a user is. Referrers register themselves; every other role is created by an
/// administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Role {
    Referrer,
    BusinessSupport,
    SocialWorker,
    Manager,
    Admin,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown role: choose referrer, business-support, social-worker, manager or admin")]
pub struct RoleError;

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Referrer,
        Role::BusinessSupport,
        Role::SocialWorker,
        Role::Manager,
        Role::Admin,
    ];
    pub const STAFF: [Role; 4] = [
        Role::BusinessSupport,
        Role::SocialWorker,
        Role::Manager,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Referrer => "referrer",
            Role::BusinessSupport => "business-support",
            Role::SocialWorker => "social-worker",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Referrer => "Referrer",
            Role::BusinessSupport => "MASH business support",
            Role::SocialWorker => "MASH social worker",
            Role::Manager => "MASH manager",
            Role::Admin => "Administrator",
        }
    }

    pub fn parse(s: &str) -> Result<Self, RoleError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or(RoleError)
    }

    /// Staff sign in with an authenticator app as well as a password.
    pub fn is_staff(self) -> bool {
        self != Role::Referrer
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_name() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
    }

    #[test]
    fn an_unknown_role_is_rejected() {
        assert_eq!(Role::parse("superuser"), Err(RoleError));
    }

    #[test]
    fn only_referrers_are_not_staff() {
        assert!(!Role::Referrer.is_staff());
        assert!(Role::STAFF.iter().all(|r| r.is_staff()));
    }
}
