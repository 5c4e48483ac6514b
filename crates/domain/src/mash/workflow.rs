//! The referral workflow (R-43, R-44): which step may happen in which status, by whom.
//!
//! ```text
//! submitted ──StartTriage──▶ in triage ──SendForDecision──▶ awaiting decision
//!                                                      ▲            │
//!                                      ReturnDecision  │     RecordDecision
//!                                                      │            ▼
//!          closed ◀──Close── feedback sent ◀──Authorise── decided
//! ```
//!
//! Rules (each with a plain-English refusal):
//! - **Who**: business support (or a manager) starts triage, sends for a decision and
//!   closes; a social worker (or a manager) records the decision; only a manager authorises
//!   or returns it. Administrators and referrers take no step.
//! - **Allocation first**: a referral is sent for a decision only once it is allocated to
//!   a worker, and a social worker decides only the referrals allocated to them (managers
//!   may decide any).
//! - **Four eyes**: the manager who authorises a decision must not be the person who
//!   recorded it, so a manager's own decision needs another manager. A manager may
//!   return their own decision (that only reopens it).
//! - **Feedback on authorisation**: `Authorise` moves the referral to *feedback sent*; the
//!   caller queues the outcome email in the same transaction, so a referral is never
//!   authorised without its feedback.
//! - **Allocation** ([`allocate`]): business support allocates an unallocated referral; only
//!   a manager reallocates one; only before the decision (submitted, in triage, awaiting
//!   decision); only to a social worker or a manager.
//!
//! [`apply`] is the only constructor of a [`Step`], and [`allocate`] of an [`Allocation`]:
//! storage writes a status change or an allocation only from these, so a step the rules
//! refuse cannot reach the database.

use crate::access::Actor;
use crate::account::Role;

use super::decision::{Decision, ReturnComment};
use super::status::ReferralStatus;

/// What the rules need to know about a referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkflowState {
    pub status: ReferralStatus,
    /// The worker the referral is allocated to.
    pub assigned_to: Option<i64>,
    /// Who recorded the current decision (when decided).
    pub decided_by: Option<i64>,
}

/// A step someone asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// Submitted → in triage.
    StartTriage,
    /// In triage → awaiting decision.
    SendForDecision,
    /// Awaiting decision → decided.
    RecordDecision(Decision),
    /// Decided → feedback sent (the outcome email is queued with it).
    Authorise,
    /// Decided → awaiting decision, with the manager's comment.
    ReturnDecision(ReturnComment),
    /// Feedback sent → closed.
    Close,
}

impl Transition {
    /// The stable code of the step, stored as the event kind.
    pub fn code(&self) -> &'static str {
        match self {
            Transition::StartTriage => "start-triage",
            Transition::SendForDecision => "send-for-decision",
            Transition::RecordDecision(_) => "record-decision",
            Transition::Authorise => "authorise",
            Transition::ReturnDecision(_) => "return-decision",
            Transition::Close => "close",
        }
    }

    /// The status the step starts from.
    fn from(&self) -> ReferralStatus {
        match self {
            Transition::StartTriage => ReferralStatus::Submitted,
            Transition::SendForDecision => ReferralStatus::InTriage,
            Transition::RecordDecision(_) => ReferralStatus::AwaitingDecision,
            Transition::Authorise | Transition::ReturnDecision(_) => ReferralStatus::Decided,
            Transition::Close => ReferralStatus::FeedbackSent,
        }
    }

    /// The status the step leads to.
    fn to(&self) -> ReferralStatus {
        match self {
            Transition::StartTriage => ReferralStatus::InTriage,
            Transition::SendForDecision => ReferralStatus::AwaitingDecision,
            Transition::RecordDecision(_) => ReferralStatus::Decided,
            Transition::Authorise => ReferralStatus::FeedbackSent,
            Transition::ReturnDecision(_) => ReferralStatus::AwaitingDecision,
            Transition::Close => ReferralStatus::Closed,
        }
    }

    fn allowed_roles(&self) -> &'static [Role] {
        match self {
            Transition::StartTriage | Transition::SendForDecision | Transition::Close => {
                &[Role::BusinessSupport, Role::Manager]
            }
            Transition::RecordDecision(_) => &[Role::SocialWorker, Role::Manager],
            Transition::Authorise | Transition::ReturnDecision(_) => &[Role::Manager],
        }
    }
}

/// A step the rules allowed: the only input storage accepts for a status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    from: ReferralStatus,
    to: ReferralStatus,
    transition: Transition,
    actor: Actor,
}

impl Step {
    pub fn from(&self) -> ReferralStatus {
        self.from
    }
    pub fn to(&self) -> ReferralStatus {
        self.to
    }
    pub fn transition(&self) -> &Transition {
        &self.transition
    }
    pub fn actor(&self) -> Actor {
        self.actor
    }
    /// The decision this step records, if it records one.
    pub fn decision(&self) -> Option<&Decision> {
        match &self.transition {
            Transition::RecordDecision(d) => Some(d),
            _ => None,
        }
    }
    /// The manager's comment when this step returns a decision.
    pub fn return_comment(&self) -> Option<&ReturnComment> {
        match &self.transition {
            Transition::ReturnDecision(c) => Some(c),
            _ => None,
        }
    }
}

/// Why a step was refused. `Display` is the sentence to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("{0}")]
    NotPermitted(&'static str),
    #[error("{message}")]
    WrongStatus {
        status: ReferralStatus,
        message: &'static str,
    },
    #[error("Allocate the referral to a worker before sending it for a decision")]
    NotAllocated,
    #[error("This referral is allocated to another worker")]
    AllocatedToSomeoneElse,
    #[error("A decision must be authorised by a different manager from the person who made it")]
    OwnDecision,
}

fn not_permitted(transition: &Transition) -> &'static str {
    match transition {
        Transition::StartTriage => "Only business support or a manager can start triage",
        Transition::SendForDecision => {
            "Only business support or a manager can send a referral for a decision"
        }
        Transition::RecordDecision(_) => "Only a social worker or a manager can record a decision",
        Transition::Authorise => "Only a manager can authorise a decision",
        Transition::ReturnDecision(_) => "Only a manager can return a decision",
        Transition::Close => "Only business support or a manager can close a referral",
    }
}

/// The refusal for `transition` asked in `status` (which is not its starting status).
fn wrong_status(status: ReferralStatus, transition: &Transition) -> &'static str {
    use ReferralStatus::*;
    use Transition::*;
    match (status, transition) {
        (Draft, _) => "This referral has not been submitted yet",
        (Closed, _) => "This referral is closed",
        (FeedbackSent, Authorise) => "This decision has already been authorised",
        (FeedbackSent, _) => "Feedback has already been sent for this referral",
        (Decided, StartTriage | SendForDecision | RecordDecision(_)) => {
            "This referral has already been decided"
        }
        (InTriage, StartTriage) => "This referral is already in triage",
        (AwaitingDecision, StartTriage) => "This referral has already been triaged",
        (Submitted, SendForDecision) => "Start triage before sending the referral for a decision",
        (AwaitingDecision, SendForDecision) => "This referral is already awaiting a decision",
        (Submitted | InTriage, RecordDecision(_)) => {
            "This referral has not been sent for a decision yet"
        }
        (_, Authorise) => "There is no decision to authorise yet",
        (_, ReturnDecision(_)) => "There is no decision to return",
        (_, Close) => "A referral can only be closed after feedback has been sent",
        // Every step's own starting status is handled by `apply` before this is asked.
        (_, _) => "This step is not possible for this referral now",
    }
}

/// Checks `transition` for a referral in `state`, asked by `actor`.
pub fn apply(
    state: &WorkflowState,
    transition: Transition,
    actor: Actor,
) -> Result<Step, TransitionError> {
    if !transition.allowed_roles().contains(&actor.role) {
        return Err(TransitionError::NotPermitted(not_permitted(&transition)));
    }
    if state.status != transition.from() {
        return Err(TransitionError::WrongStatus {
            status: state.status,
            message: wrong_status(state.status, &transition),
        });
    }
    match &transition {
        Transition::SendForDecision if state.assigned_to.is_none() => {
            return Err(TransitionError::NotAllocated);
        }
        Transition::RecordDecision(_)
            if actor.role == Role::SocialWorker && state.assigned_to != Some(actor.user_id) =>
        {
            return Err(TransitionError::AllocatedToSomeoneElse);
        }
        Transition::Authorise if state.decided_by == Some(actor.user_id) => {
            return Err(TransitionError::OwnDecision);
        }
        _ => {}
    }
    Ok(Step {
        from: state.status,
        to: transition.to(),
        transition,
        actor,
    })
}

/// The worker a referral is to be allocated to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignee {
    pub user_id: i64,
    pub role: Role,
}

/// An allocation the rules allowed: the only input storage accepts to allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocation {
    status: ReferralStatus,
    previous: Option<i64>,
    assignee: i64,
    actor: Actor,
}

impl Allocation {
    /// The status the referral had when allocation was checked (storage re-checks it).
    pub fn status(&self) -> ReferralStatus {
        self.status
    }
    /// Who it was allocated to before (storage re-checks it, so two people allocating at
    /// once cannot both succeed).
    pub fn previous(&self) -> Option<i64> {
        self.previous
    }
    pub fn assignee(&self) -> i64 {
        self.assignee
    }
    pub fn actor(&self) -> Actor {
        self.actor
    }
    /// "allocate" or "reallocate", stored as the event kind.
    pub fn code(&self) -> &'static str {
        if self.previous.is_some() {
            "reallocate"
        } else {
            "allocate"
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocationError {
    #[error("Only business support or a manager can allocate a referral")]
    NotPermitted,
    #[error("Only a manager can reallocate a referral")]
    OnlyManagersReallocate,
    #[error("A referral can only be allocated to a social worker or a manager")]
    NotAWorker,
    #[error("The referral is already allocated to this worker")]
    AlreadyAllocated,
    #[error("{message}")]
    WrongStatus {
        status: ReferralStatus,
        message: &'static str,
    },
}

/// Checks allocating a referral in `state` to `assignee`, asked by `actor`.
pub fn allocate(
    state: &WorkflowState,
    assignee: Assignee,
    actor: Actor,
) -> Result<Allocation, AllocationError> {
    if !matches!(actor.role, Role::BusinessSupport | Role::Manager) {
        return Err(AllocationError::NotPermitted);
    }
    if !state.status.awaits_a_decision() {
        let message = match state.status {
            ReferralStatus::Draft => "This referral has not been submitted yet",
            ReferralStatus::Closed => "This referral is closed",
            _ => "This referral has already been decided",
        };
        return Err(AllocationError::WrongStatus {
            status: state.status,
            message,
        });
    }
    if !matches!(assignee.role, Role::SocialWorker | Role::Manager) {
        return Err(AllocationError::NotAWorker);
    }
    match state.assigned_to {
        Some(current) if current == assignee.user_id => Err(AllocationError::AlreadyAllocated),
        Some(_) if actor.role != Role::Manager => Err(AllocationError::OnlyManagersReallocate),
        previous => Ok(Allocation {
            status: state.status,
            previous,
            assignee: assignee.user_id,
            actor,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mash::{Outcome, Rationale};

    const SUPPORT: Actor = Actor {
        user_id: 10,
        role: Role::BusinessSupport,
    };
    const WORKER: Actor = Actor {
        user_id: 20,
        role: Role::SocialWorker,
    };
    const OTHER_WORKER: Actor = Actor {
        user_id: 21,
        role: Role::SocialWorker,
    };
    const MANAGER: Actor = Actor {
        user_id: 30,
        role: Role::Manager,
    };
    const OTHER_MANAGER: Actor = Actor {
        user_id: 31,
        role: Role::Manager,
    };

    fn decision() -> Decision {
        Decision {
            outcome: Outcome::EarlyHelpService,
            rationale: Rationale::parse("Needs co-ordinated family support").unwrap(),
        }
    }

    fn comment() -> ReturnComment {
        ReturnComment::parse("Please check with the school first").unwrap()
    }

    fn all_transitions() -> Vec<Transition> {
        vec![
            Transition::StartTriage,
            Transition::SendForDecision,
            Transition::RecordDecision(decision()),
            Transition::Authorise,
            Transition::ReturnDecision(comment()),
            Transition::Close,
        ]
    }

    fn state(status: ReferralStatus) -> WorkflowState {
        WorkflowState {
            status,
            assigned_to: Some(WORKER.user_id),
            decided_by: Some(WORKER.user_id),
        }
    }

    /// Someone allowed by role to take `t` on a referral allocated to WORKER.
    fn permitted_actor(t: &Transition) -> Actor {
        match t {
            Transition::RecordDecision(_) => WORKER,
            Transition::Authorise | Transition::ReturnDecision(_) => MANAGER,
            _ => SUPPORT,
        }
    }

    /// The legal (from, step) pairs: exactly the arrows of the diagram.
    fn legal(from: ReferralStatus, t: &Transition) -> Option<ReferralStatus> {
        use ReferralStatus::*;
        match (from, t) {
            (Submitted, Transition::StartTriage) => Some(InTriage),
            (InTriage, Transition::SendForDecision) => Some(AwaitingDecision),
            (AwaitingDecision, Transition::RecordDecision(_)) => Some(Decided),
            (Decided, Transition::Authorise) => Some(FeedbackSent),
            (Decided, Transition::ReturnDecision(_)) => Some(AwaitingDecision),
            (FeedbackSent, Transition::Close) => Some(Closed),
            _ => None,
        }
    }

    #[test]
    fn every_legal_step_works_and_every_illegal_pair_is_refused_with_a_clear_message() {
        let mut refused = 0;
        for status in ReferralStatus::ALL {
            for t in all_transitions() {
                let result = apply(&state(status), t.clone(), permitted_actor(&t));
                match legal(status, &t) {
                    Some(to) => {
                        let step = result.unwrap_or_else(|e| panic!("{status:?} {t:?}: {e}"));
                        assert_eq!((step.from(), step.to()), (status, to));
                    }
                    None => {
                        let e = result.expect_err(&format!("{status:?} {t:?} was allowed"));
                        let TransitionError::WrongStatus { message, .. } = &e else {
                            panic!("{status:?} {t:?}: {e:?}");
                        };
                        assert!(
                            message.starts_with("This ")
                                || message.starts_with("There ")
                                || message.starts_with("Start ")
                                || message.starts_with("Feedback ")
                                || message.starts_with("A referral "),
                            "{message}"
                        );
                        assert_ne!(*message, "This step is not possible for this referral now");
                        refused += 1;
                    }
                }
            }
        }
        assert_eq!(refused, 7 * 6 - 6);
    }

    #[test]
    fn the_messages_say_what_is_wrong() {
        let e = apply(
            &state(ReferralStatus::Decided),
            Transition::RecordDecision(decision()),
            WORKER,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "This referral has already been decided");
        let e = apply(&state(ReferralStatus::Closed), Transition::Close, SUPPORT).unwrap_err();
        assert_eq!(e.to_string(), "This referral is closed");
        let e = apply(
            &state(ReferralStatus::FeedbackSent),
            Transition::Authorise,
            MANAGER,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "This decision has already been authorised");
        let e = apply(
            &state(ReferralStatus::Draft),
            Transition::StartTriage,
            SUPPORT,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "This referral has not been submitted yet");
    }

    #[test]
    fn the_whole_path_from_submitted_to_closed_with_one_return() {
        let mut s = WorkflowState {
            status: ReferralStatus::Submitted,
            assigned_to: None,
            decided_by: None,
        };
        s.status = apply(&s, Transition::StartTriage, SUPPORT).unwrap().to();
        let a = allocate(
            &s,
            Assignee {
                user_id: WORKER.user_id,
                role: Role::SocialWorker,
            },
            SUPPORT,
        )
        .unwrap();
        s.assigned_to = Some(a.assignee());
        s.status = apply(&s, Transition::SendForDecision, SUPPORT)
            .unwrap()
            .to();
        let step = apply(&s, Transition::RecordDecision(decision()), WORKER).unwrap();
        assert_eq!(step.decision(), Some(&decision()));
        s.status = step.to();
        s.decided_by = Some(WORKER.user_id);
        let back = apply(&s, Transition::ReturnDecision(comment()), MANAGER).unwrap();
        assert_eq!(back.to(), ReferralStatus::AwaitingDecision);
        assert_eq!(back.return_comment(), Some(&comment()));
        s.status = back.to();
        s.status = apply(&s, Transition::RecordDecision(decision()), WORKER)
            .unwrap()
            .to();
        s.status = apply(&s, Transition::Authorise, MANAGER).unwrap().to();
        assert_eq!(s.status, ReferralStatus::FeedbackSent);
        s.status = apply(&s, Transition::Close, SUPPORT).unwrap().to();
        assert_eq!(s.status, ReferralStatus::Closed);
    }

    #[test]
    fn each_step_is_refused_to_roles_that_may_not_take_it() {
        let cases: [(Transition, &[Role]); 6] = [
            (
                Transition::StartTriage,
                &[Role::BusinessSupport, Role::Manager],
            ),
            (
                Transition::SendForDecision,
                &[Role::BusinessSupport, Role::Manager],
            ),
            (
                Transition::RecordDecision(decision()),
                &[Role::SocialWorker, Role::Manager],
            ),
            (Transition::Authorise, &[Role::Manager]),
            (Transition::ReturnDecision(comment()), &[Role::Manager]),
            (Transition::Close, &[Role::BusinessSupport, Role::Manager]),
        ];
        for (t, allowed) in cases {
            for role in Role::ALL {
                let actor = Actor { user_id: 20, role };
                let s = WorkflowState {
                    status: t.from(),
                    assigned_to: Some(20),
                    decided_by: Some(99),
                };
                let r = apply(&s, t.clone(), actor);
                if allowed.contains(&role) {
                    assert!(r.is_ok(), "{role:?} {t:?}: {r:?}");
                } else {
                    let e = r.unwrap_err();
                    assert!(
                        matches!(e, TransitionError::NotPermitted(_)),
                        "{role:?} {t:?}"
                    );
                    assert!(e.to_string().starts_with("Only "), "{e}");
                }
            }
        }
    }

    #[test]
    fn a_referral_is_sent_for_a_decision_only_once_allocated() {
        let s = WorkflowState {
            status: ReferralStatus::InTriage,
            assigned_to: None,
            decided_by: None,
        };
        assert_eq!(
            apply(&s, Transition::SendForDecision, SUPPORT),
            Err(TransitionError::NotAllocated)
        );
    }

    #[test]
    fn a_social_worker_decides_only_their_own_referrals_but_a_manager_any() {
        let s = state(ReferralStatus::AwaitingDecision);
        assert_eq!(
            apply(&s, Transition::RecordDecision(decision()), OTHER_WORKER),
            Err(TransitionError::AllocatedToSomeoneElse)
        );
        assert!(apply(&s, Transition::RecordDecision(decision()), MANAGER).is_ok());
    }

    #[test]
    fn a_manager_cannot_authorise_their_own_decision_but_another_manager_can() {
        let s = WorkflowState {
            status: ReferralStatus::Decided,
            assigned_to: Some(MANAGER.user_id),
            decided_by: Some(MANAGER.user_id),
        };
        let e = apply(&s, Transition::Authorise, MANAGER).unwrap_err();
        assert_eq!(e, TransitionError::OwnDecision);
        assert!(e.to_string().contains("different manager"));
        assert!(apply(&s, Transition::Authorise, OTHER_MANAGER).is_ok());
        assert!(
            apply(&s, Transition::ReturnDecision(comment()), MANAGER).is_ok(),
            "returning your own decision only reopens it"
        );
    }

    fn worker(user_id: i64) -> Assignee {
        Assignee {
            user_id,
            role: Role::SocialWorker,
        }
    }

    #[test]
    fn business_support_allocates_an_unallocated_referral() {
        let s = WorkflowState {
            status: ReferralStatus::Submitted,
            assigned_to: None,
            decided_by: None,
        };
        let a = allocate(&s, worker(20), SUPPORT).unwrap();
        assert_eq!(
            (a.previous(), a.assignee(), a.code()),
            (None, 20, "allocate")
        );
        assert_eq!(
            allocate(&s, worker(20), WORKER),
            Err(AllocationError::NotPermitted)
        );
    }

    #[test]
    fn only_a_manager_reallocates() {
        let s = state(ReferralStatus::AwaitingDecision);
        assert_eq!(
            allocate(&s, worker(21), SUPPORT),
            Err(AllocationError::OnlyManagersReallocate)
        );
        let a = allocate(&s, worker(21), MANAGER).unwrap();
        assert_eq!((a.previous(), a.code()), (Some(20), "reallocate"));
        assert_eq!(
            allocate(&s, worker(20), MANAGER),
            Err(AllocationError::AlreadyAllocated)
        );
    }

    #[test]
    fn allocation_is_to_a_worker_and_only_before_the_decision() {
        let s = WorkflowState {
            status: ReferralStatus::InTriage,
            assigned_to: None,
            decided_by: None,
        };
        let support = Assignee {
            user_id: 11,
            role: Role::BusinessSupport,
        };
        assert_eq!(
            allocate(&s, support, SUPPORT),
            Err(AllocationError::NotAWorker)
        );
        for status in [
            ReferralStatus::Draft,
            ReferralStatus::Decided,
            ReferralStatus::FeedbackSent,
            ReferralStatus::Closed,
        ] {
            let e = allocate(&state(status), worker(21), MANAGER).unwrap_err();
            assert!(
                matches!(e, AllocationError::WrongStatus { .. }),
                "{status:?}"
            );
            assert!(e.to_string().starts_with("This referral "), "{e}");
        }
    }
}
