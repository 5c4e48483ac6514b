//! Where a referral is in its life.

use std::fmt;

/// The status of a referral. Stored as [`ReferralStatus::code`]; rows written before the
/// MASH workflow existed hold `draft` or `submitted`, which parse as before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReferralStatus {
    /// The referrer is still writing it; MASH cannot see it.
    Draft,
    /// Submitted and waiting in the work tray.
    Submitted,
    /// Business support is checking it and matching the children.
    InTriage,
    /// Ready for a social worker's decision (also after a manager returned a decision).
    AwaitingDecision,
    /// A decision is recorded and waits for a manager's authorisation.
    Decided,
    /// Authorised; the outcome email is queued for the referrer.
    FeedbackSent,
    /// Nothing more to do.
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown referral status {0:?}")]
pub struct StatusError(pub String);

impl ReferralStatus {
    /// Every status, in workflow order.
    pub const ALL: [ReferralStatus; 7] = [
        ReferralStatus::Draft,
        ReferralStatus::Submitted,
        ReferralStatus::InTriage,
        ReferralStatus::AwaitingDecision,
        ReferralStatus::Decided,
        ReferralStatus::FeedbackSent,
        ReferralStatus::Closed,
    ];

    /// The statuses MASH staff see in the work tray (everything but drafts).
    pub const IN_TRAY: [ReferralStatus; 6] = [
        ReferralStatus::Submitted,
        ReferralStatus::InTriage,
        ReferralStatus::AwaitingDecision,
        ReferralStatus::Decided,
        ReferralStatus::FeedbackSent,
        ReferralStatus::Closed,
    ];

    /// The statuses in which the decision target runs (no decision yet).
    pub const AWAITING_A_DECISION: [ReferralStatus; 3] = [
        ReferralStatus::Submitted,
        ReferralStatus::InTriage,
        ReferralStatus::AwaitingDecision,
    ];

    /// The stable code used in storage and URLs.
    pub const fn code(self) -> &'static str {
        match self {
            ReferralStatus::Draft => "draft",
            ReferralStatus::Submitted => "submitted",
            ReferralStatus::InTriage => "in-triage",
            ReferralStatus::AwaitingDecision => "awaiting-decision",
            ReferralStatus::Decided => "decided",
            ReferralStatus::FeedbackSent => "feedback-sent",
            ReferralStatus::Closed => "closed",
        }
    }

    /// What staff see on pages ("In triage").
    pub const fn label(self) -> &'static str {
        match self {
            ReferralStatus::Draft => "Draft",
            ReferralStatus::Submitted => "Submitted",
            ReferralStatus::InTriage => "In triage",
            ReferralStatus::AwaitingDecision => "Awaiting decision",
            ReferralStatus::Decided => "Decided",
            ReferralStatus::FeedbackSent => "Feedback sent",
            ReferralStatus::Closed => "Closed",
        }
    }

    /// Position in the workflow (0 for a draft): for sorting by status.
    pub const fn rank(self) -> u8 {
        self as u8
    }

    /// From a stored code (exact, as written by [`ReferralStatus::code`]; surrounding
    /// spaces and case are forgiven for codes typed into a filter).
    pub fn parse(code: &str) -> Result<Self, StatusError> {
        let c = code.trim();
        Self::ALL
            .into_iter()
            .find(|s| s.code().eq_ignore_ascii_case(c))
            .ok_or_else(|| StatusError(code.to_owned()))
    }

    /// The decision target applies: no decision has been recorded yet.
    pub fn awaits_a_decision(self) -> bool {
        Self::AWAITING_A_DECISION.contains(&self)
    }
}

impl fmt::Display for ReferralStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl serde::Serialize for ReferralStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_code() {
        for s in ReferralStatus::ALL {
            assert_eq!(ReferralStatus::parse(s.code()), Ok(s));
        }
    }

    #[test]
    fn the_codes_already_in_the_database_keep_their_meaning() {
        assert_eq!(ReferralStatus::parse("draft"), Ok(ReferralStatus::Draft));
        assert_eq!(
            ReferralStatus::parse("submitted"),
            Ok(ReferralStatus::Submitted)
        );
    }

    #[test]
    fn codes_are_stable_lower_case_words() {
        let codes: Vec<&str> = ReferralStatus::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(
            codes,
            [
                "draft",
                "submitted",
                "in-triage",
                "awaiting-decision",
                "decided",
                "feedback-sent",
                "closed"
            ]
        );
    }

    #[test]
    fn labels_are_sentence_case() {
        assert_eq!(ReferralStatus::InTriage.label(), "In triage");
        assert_eq!(
            ReferralStatus::AwaitingDecision.to_string(),
            "Awaiting decision"
        );
        assert_eq!(ReferralStatus::FeedbackSent.label(), "Feedback sent");
    }

    #[test]
    fn an_unknown_code_is_an_error_naming_it() {
        let e = ReferralStatus::parse("archived").unwrap_err();
        assert_eq!(e.to_string(), "unknown referral status \"archived\"");
    }

    #[test]
    fn rank_follows_the_workflow_order() {
        let ranks: Vec<u8> = ReferralStatus::ALL.iter().map(|s| s.rank()).collect();
        assert_eq!(ranks, [0, 1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn the_target_runs_only_until_a_decision() {
        assert!(ReferralStatus::Submitted.awaits_a_decision());
        assert!(ReferralStatus::AwaitingDecision.awaits_a_decision());
        assert!(!ReferralStatus::Decided.awaits_a_decision());
        assert!(!ReferralStatus::Draft.awaits_a_decision());
    }
}
