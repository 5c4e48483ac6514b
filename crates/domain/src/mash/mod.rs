//! The MASH side of a referral (issue 9): what happens after a referrer submits.
//!
//! - [`ReferralStatus`]: draft → submitted → in triage → awaiting decision → decided →
//!   feedback sent → closed, each with a stable code and a label.
//! - [`workflow`]: the only way to move a referral between statuses. [`workflow::apply`]
//!   checks the current state, the step and who is asking, and returns a [`Step`] (or a
//!   [`TransitionError`] with a plain-English message). A `Step` cannot be built any other
//!   way, and storage writes status changes only from a `Step`, so an illegal transition
//!   cannot reach the database.
//! - [`Decision`]: an [`Outcome`] from R-44's list and a [`Rationale`].
//! - [`working_days`]: England and Wales bank holidays (shipped as data), UK local time,
//!   the decision due time and [`WaitingState`].
//! - [`PersonId`], [`UnlinkReason`], [`search_text`]: the person index and the work tray's
//!   child-name search.
//! - [`feedback`]: the outcome email and letter wording for the referrer.

pub mod decision;
pub mod feedback;
pub mod outcome;
pub mod person;
pub mod status;
pub mod workflow;
pub mod working_days;

pub use decision::{Decision, Rationale, RationaleError, ReturnComment, ReturnCommentError};
pub use feedback::{ChildAsReferred, Feedback, FeedbackLetter, feedback};
pub use outcome::Outcome;
pub use person::{PersonId, PersonIdError, UnlinkReason, UnlinkReasonError, search_text};
pub use status::{ReferralStatus, StatusError};
pub use workflow::{
    Allocation, AllocationError, Assignee, Step, Transition, TransitionError, WorkflowState,
    allocate, apply,
};
pub use working_days::{Calendar, WaitingState};
