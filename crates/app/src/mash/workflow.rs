//! The referral workflow (R-43 … R-45): the steps from triage to closing, allocation to a
//! worker, and the feedback to the referrer.
//!
//! Which step a member of staff may take is decided by the domain alone
//! ([`ehm_domain::mash::apply`], [`ehm_domain::mash::allocate`]): a refusal comes back as
//! [`StepOutcome::Refused`] carrying the domain's plain-English message, and is audited.
//! An allowed step is written in one transaction with its audit record
//! ([`ehm_storage::Store::apply_step`] re-checks the state it was based on, so when two
//! people act at once one of them gets [`StepOutcome::Changed`]).
//!
//! **Authorise** also builds the feedback ([`ehm_domain::mash::feedback`]) and queues the
//! outcome email in the same transaction, to the addresses the submission confirmation
//! went to ([`crate::referrals::recipients`]), so a decision is never authorised without
//! its feedback. The outcome letter ([`letter`]) is rendered from the stored decision on
//! request, once feedback is sent; every download is recorded.

use std::collections::{BTreeSet, HashMap};

use ehm_domain::access::Actor;
use ehm_domain::account::Role;
use ehm_domain::mash::{
    self, AllocationError, Assignee, ChildAsReferred, Decision, Feedback, Outcome, Rationale,
    ReferralStatus, ReturnComment, Transition, TransitionError, working_days,
};
use ehm_domain::referral::ReferralDraft;
use ehm_domain::referral::dob::{format_date, parse_date_input};
use ehm_storage::{NewMail, ReferralEvent, User, to_ms};
use time::OffsetDateTime;

use super::StaffReferral;
use crate::audit::{self, Event};
use crate::{App, FieldErrors, Result, crypto, mails};

/// What a lost race says (the referral changed between the page and the click).
pub const CHANGED: &str = "Someone else has just updated this referral. Check it and try again";

/// The protective marking printed on every page of the outcome letter.
pub const LETTER_MARKING: &str = "OFFICIAL-SENSITIVE";

/// The outcome of a workflow step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// Done: the referral is now in `to`.
    Done { to: ReferralStatus },
    /// The rules refuse the step for this person or in this status (nothing written).
    Refused(TransitionError),
    /// What was typed is not acceptable (by field, for the error summary).
    Invalid(FieldErrors),
    /// Someone else changed the referral first: nothing written ([`CHANGED`]).
    Changed,
}

/// The outcome of allocating a referral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllocateOutcome {
    Allocated {
        /// The worker's name.
        worker: String,
        reallocated: bool,
    },
    Refused(AllocationError),
    Invalid(FieldErrors),
    Changed,
}

/// The outcome letter, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LetterOutcome {
    Letter {
        file_name: String,
        bytes: Vec<u8>,
    },
    /// Feedback has not been sent yet: there is no authorised outcome to write about.
    NotYet,
}

/// The steps, without what they carry: for asking which ones a person may take now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    StartTriage,
    SendForDecision,
    RecordDecision,
    Authorise,
    ReturnDecision,
    Close,
}

impl StepKind {
    pub const ALL: [StepKind; 6] = [
        StepKind::StartTriage,
        StepKind::SendForDecision,
        StepKind::RecordDecision,
        StepKind::Authorise,
        StepKind::ReturnDecision,
        StepKind::Close,
    ];

    /// The step with a stand-in for what it carries. The rules never look at a decision's
    /// content or a comment's words, so the answer for the stand-in is the answer.
    fn probe(self) -> Transition {
        match self {
            StepKind::StartTriage => Transition::StartTriage,
            StepKind::SendForDecision => Transition::SendForDecision,
            StepKind::RecordDecision => Transition::RecordDecision(Decision {
                outcome: Outcome::NoFurtherAction,
                rationale: Rationale::parse("stand-in for an availability check")
                    .expect("a valid rationale"),
            }),
            StepKind::Authorise => Transition::Authorise,
            StepKind::ReturnDecision => Transition::ReturnDecision(
                ReturnComment::parse("stand-in for an availability check")
                    .expect("a valid comment"),
            ),
            StepKind::Close => Transition::Close,
        }
    }

    /// The step's stable code ("start-triage", …).
    pub fn code(self) -> &'static str {
        self.probe().code()
    }
}

/// Would the rules let `r`'s actor take `kind` now? (The page offers only these; the
/// step itself is checked again when it is taken.)
pub fn check(r: &StaffReferral, kind: StepKind) -> Result<(), TransitionError> {
    mash::apply(&r.workflow.state(), kind.probe(), r.loaded.actor).map(|_| ())
}

/// Would the rules let `r`'s actor allocate (or reallocate) the referral now, to some
/// worker? Asked with a stand-in worker nobody is allocated to.
pub fn check_allocate(r: &StaffReferral) -> Result<(), AllocationError> {
    let stand_in = Assignee {
        user_id: i64::MIN,
        role: Role::SocialWorker,
    };
    mash::allocate(&r.workflow.state(), stand_in, r.loaded.actor).map(|_| ())
}

/// The audit action of a step ("start-triage", "authorise-decision", …).
fn action_of(code: &str) -> &str {
    match code {
        "authorise" => "authorise-decision",
        "close" => "close-referral",
        "allocate" => "allocate-referral",
        "reallocate" => "reallocate-referral",
        other => other,
    }
}

fn event<'a>(
    actor: Actor,
    action: &'a str,
    id: &'a str,
    outcome: &'a str,
    ip: &'a str,
) -> Event<'a> {
    Event {
        actor: Some(actor.user_id),
        action,
        object_type: "referral",
        object_id: id,
        outcome,
        ip,
    }
}

/// A step the rules refused is recorded too (who tried what, when).
async fn audit_refusal(app: &App, r: &StaffReferral, code: &str, ip: &str) -> Result<()> {
    tracing::info!(
        user_id = r.loaded.actor.user_id,
        referral_id = r.loaded.row.id,
        step = code,
        "workflow step refused"
    );
    let id = r.loaded.row.id.to_string();
    audit::record(
        app,
        event(r.loaded.actor, action_of(code), &id, "refused", ip),
    )
    .await
}

/// Take `transition` on `r`: the rules decide, then one transaction writes the step, its
/// event and its audit record (and for `Authorise` the outcome email).
pub async fn step(
    app: &App,
    r: &StaffReferral,
    transition: Transition,
    ip: &str,
) -> Result<StepOutcome> {
    let code = transition.code();
    let step = match mash::apply(&r.workflow.state(), transition, r.loaded.actor) {
        Ok(step) => step,
        Err(e) => {
            audit_refusal(app, r, code, ip).await?;
            return Ok(StepOutcome::Refused(e));
        }
    };
    let now = OffsetDateTime::now_utc();
    let referral_id = r.loaded.row.id;
    let mut tx = app.store.begin().await?;
    if !app
        .store
        .apply_step(&mut tx, referral_id, &step, now)
        .await?
    {
        // Dropping the transaction rolls it back: nothing was written.
        return Ok(StepOutcome::Changed);
    }
    if matches!(step.transition(), Transition::Authorise) {
        queue_outcome_email(app, &mut tx, r, now).await?;
    }
    let id = referral_id.to_string();
    audit::record_tx(
        app,
        &mut tx,
        event(r.loaded.actor, action_of(code), &id, "success", ip),
        now,
    )
    .await?;
    ehm_storage::commit(tx).await?;
    Ok(StepOutcome::Done { to: step.to() })
}

/// Check the step is possible for this person now before looking at what they typed, so
/// the answer to "may I?" does not depend on the form.
async fn precheck(
    app: &App,
    r: &StaffReferral,
    kind: StepKind,
    ip: &str,
) -> Result<Option<StepOutcome>> {
    match check(r, kind) {
        Ok(()) => Ok(None),
        Err(e) => {
            audit_refusal(app, r, kind.code(), ip).await?;
            Ok(Some(StepOutcome::Refused(e)))
        }
    }
}

/// Record a decision from the form: an outcome code (R-44's six) and the rationale.
pub async fn record_decision(
    app: &App,
    r: &StaffReferral,
    outcome: &str,
    rationale: &str,
    ip: &str,
) -> Result<StepOutcome> {
    if let Some(refused) = precheck(app, r, StepKind::RecordDecision, ip).await? {
        return Ok(refused);
    }
    let mut errors = FieldErrors::default();
    let outcome = Outcome::parse(outcome)
        .map_err(|_| errors.add("outcome", "Select the outcome of the decision"))
        .ok();
    let rationale = Rationale::parse(rationale)
        .map_err(|e| errors.add("rationale", e))
        .ok();
    let (Some(outcome), Some(rationale)) = (outcome, rationale) else {
        return Ok(StepOutcome::Invalid(errors));
    };
    step(
        app,
        r,
        Transition::RecordDecision(Decision { outcome, rationale }),
        ip,
    )
    .await
}

/// The decision the page showed is still the one on the referral (`seen` is its
/// `decided_at` in Unix milliseconds, carried by the form).
fn same_decision(r: &StaffReferral, seen: Option<i64>) -> bool {
    seen.is_some() && seen == r.workflow.decided_at.map(to_ms)
}

/// Authorise the decision the manager saw (`seen`: see [`same_decision`]); the outcome
/// email is queued in the same transaction.
pub async fn authorise(
    app: &App,
    r: &StaffReferral,
    seen: Option<i64>,
    ip: &str,
) -> Result<StepOutcome> {
    if let Some(refused) = precheck(app, r, StepKind::Authorise, ip).await? {
        return Ok(refused);
    }
    if !same_decision(r, seen) {
        return Ok(StepOutcome::Changed);
    }
    step(app, r, Transition::Authorise, ip).await
}

/// Return the decision the manager saw to the worker, with what needs to change.
pub async fn return_decision(
    app: &App,
    r: &StaffReferral,
    comment: &str,
    seen: Option<i64>,
    ip: &str,
) -> Result<StepOutcome> {
    if let Some(refused) = precheck(app, r, StepKind::ReturnDecision, ip).await? {
        return Ok(refused);
    }
    let comment = match ReturnComment::parse(comment) {
        Ok(c) => c,
        Err(e) => return Ok(StepOutcome::Invalid(FieldErrors::one("comment", e))),
    };
    if !same_decision(r, seen) {
        return Ok(StepOutcome::Changed);
    }
    step(app, r, Transition::ReturnDecision(comment), ip).await
}

/// The people a referral can be allocated to: social workers and managers whose accounts
/// are not disabled, by name.
pub async fn workers(app: &App) -> Result<Vec<User>> {
    let mut users: Vec<User> = app
        .store
        .users_with_roles(&[Role::SocialWorker, Role::Manager])
        .await?
        .into_iter()
        .filter(|u| !u.disabled)
        .collect();
    users.sort_by(|a, b| {
        a.display_name
            .to_lowercase()
            .cmp(&b.display_name.to_lowercase())
            .then(a.id.cmp(&b.id))
    });
    Ok(users)
}

/// Allocate `r` to the worker with id `assignee` (the form's choice; `None` when nothing
/// was chosen). Whether this person may allocate now is asked before the choice is looked
/// at; the worker must exist and not be disabled, and the rules want a social worker or a
/// manager.
pub async fn allocate(
    app: &App,
    r: &StaffReferral,
    assignee: Option<i64>,
    ip: &str,
) -> Result<AllocateOutcome> {
    if let Err(e) = check_allocate(r) {
        audit_refusal(app, r, "allocate", ip).await?;
        return Ok(AllocateOutcome::Refused(e));
    }
    let Some(assignee) = assignee else {
        return Ok(AllocateOutcome::Invalid(FieldErrors::one(
            "assignee",
            "Select who to allocate the referral to",
        )));
    };
    let worker = app
        .store
        .user_by_id(assignee)
        .await?
        .filter(|u| !u.disabled);
    let Some(worker) = worker else {
        return Ok(AllocateOutcome::Invalid(FieldErrors::one(
            "assignee",
            "Select a social worker or manager from the list",
        )));
    };
    let allocation = match mash::allocate(
        &r.workflow.state(),
        Assignee {
            user_id: worker.id,
            role: worker.role,
        },
        r.loaded.actor,
    ) {
        Ok(a) => a,
        Err(AllocationError::NotAWorker) => {
            return Ok(AllocateOutcome::Invalid(FieldErrors::one(
                "assignee",
                AllocationError::NotAWorker,
            )));
        }
        Err(e) => {
            audit_refusal(app, r, "allocate", ip).await?;
            return Ok(AllocateOutcome::Refused(e));
        }
    };
    let now = OffsetDateTime::now_utc();
    let referral_id = r.loaded.row.id;
    let mut tx = app.store.begin().await?;
    if !app
        .store
        .allocate(&mut tx, referral_id, &allocation, now)
        .await?
    {
        return Ok(AllocateOutcome::Changed);
    }
    let id = referral_id.to_string();
    audit::record_tx(
        app,
        &mut tx,
        event(
            r.loaded.actor,
            action_of(allocation.code()),
            &id,
            "success",
            ip,
        ),
        now,
    )
    .await?;
    ehm_storage::commit(tx).await?;
    Ok(AllocateOutcome::Allocated {
        worker: worker.display_name,
        reallocated: allocation.previous().is_some(),
    })
}

// ------------------------------------------------------------------------------ feedback

/// What the feedback is built from, owned (see [`Feedback`]).
struct FeedbackData {
    reference: String,
    outcome: Outcome,
    referrer_name: String,
    referrer_organisation: String,
    children: Vec<ChildAsReferred>,
    council: String,
    mash_phone: String,
    date: String,
}

impl FeedbackData {
    fn of(app: &App, r: &StaffReferral, date: OffsetDateTime) -> Result<Self> {
        let l = &r.loaded;
        let reference = l
            .row
            .reference_text()
            .ok_or_else(|| anyhow::anyhow!("referral {} has no reference number", l.row.id))?;
        let outcome = r.workflow.decision_outcome.ok_or_else(|| {
            anyhow::anyhow!("referral {} has no decision to give feedback on", l.row.id)
        })?;
        Ok(Self {
            reference,
            outcome,
            referrer_name: l.draft.referrer.name.trim().to_owned(),
            referrer_organisation: l.draft.organisation.name.trim().to_owned(),
            children: children_as_referred(&l.draft),
            council: app.settings.organisation_name.clone(),
            mash_phone: app.settings.mash_phone.clone(),
            date: format_date(working_days::to_london(date).date()),
        })
    }

    fn feedback(&self) -> Feedback<'_> {
        Feedback {
            reference: &self.reference,
            outcome: self.outcome,
            referrer_name: &self.referrer_name,
            referrer_organisation: &self.referrer_organisation,
            children: &self.children,
            council: &self.council,
            mash_phone: &self.mash_phone,
            date: &self.date,
        }
    }
}

/// The children exactly as the referrer gave them (never as corrected on a person record).
pub fn children_as_referred(draft: &ReferralDraft) -> Vec<ChildAsReferred> {
    draft
        .children
        .iter()
        .map(|c| {
            let name = format!("{} {}", c.first_name.trim(), c.last_name.trim())
                .trim()
                .to_owned();
            let date_of_birth = if c.unborn {
                match parse_date_input(&c.due_day, &c.due_month, &c.due_year) {
                    Ok(d) => format!("Unborn (due {})", format_date(d)),
                    Err(_) => "Unborn".to_owned(),
                }
            } else {
                let shown = match parse_date_input(&c.dob_day, &c.dob_month, &c.dob_year) {
                    Ok(d) => format_date(d),
                    Err(_) => [c.dob_day.trim(), c.dob_month.trim(), c.dob_year.trim()].join("/"),
                };
                if c.dob_estimated {
                    format!("{shown} (estimated)")
                } else {
                    shown
                }
            };
            ChildAsReferred {
                name: if name.is_empty() {
                    if c.unborn {
                        "Unborn child".to_owned()
                    } else {
                        "Name not given".to_owned()
                    }
                } else {
                    name
                },
                date_of_birth,
            }
        })
        .collect()
}

/// Queue the outcome email to the referrer, inside the authorising transaction.
async fn queue_outcome_email(
    app: &App,
    tx: &mut ehm_storage::Tx<'_>,
    r: &StaffReferral,
    now: OffsetDateTime,
) -> Result<()> {
    let data = FeedbackData::of(app, r, now)?;
    let mail = mails::referral_outcome(&app.settings, &data.feedback())?;
    let owner = app
        .store
        .user_by_id(r.loaded.row.owner_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("referral {} has no owner", r.loaded.row.id))?;
    for address in crate::referrals::recipients(&r.loaded.draft, &owner.email) {
        let message_id = crypto::random_token();
        app.store
            .enqueue_mail(
                tx,
                NewMail {
                    message_id: &message_id,
                    to: &address,
                    subject: &mail.subject,
                    body_text: &mail.text,
                    body_html: Some(&mail.html),
                },
                now,
            )
            .await?;
    }
    Ok(())
}

/// The outcome letter for posting, rendered from the authorised decision and dated
/// the day feedback was sent. Only once feedback is sent; the first download is kept on the
/// referral, and every download is an event and an audit record.
pub async fn letter(app: &App, r: &StaffReferral, ip: &str) -> Result<LetterOutcome> {
    let Some(sent) = r.workflow.feedback_sent_at else {
        return Ok(LetterOutcome::NotYet);
    };
    let data = FeedbackData::of(app, r, sent)?;
    let (_, _, l) = mash::feedback(&data.feedback());
    let doc = ehm_pdf::OutcomeLetter {
        reference: l.reference,
        marking: LETTER_MARKING.to_owned(),
        date: l.date,
        from_lines: l.from_lines,
        to_lines: l.to_lines,
        greeting: l.greeting,
        introduction: l.introduction,
        children: l
            .children
            .into_iter()
            .map(|c| ehm_pdf::LetterChild {
                name: c.name,
                date_of_birth: c.date_of_birth,
            })
            .collect(),
        outcome_label: l.outcome_label,
        outcome_text: l.outcome_text,
        closing: l.closing,
        sign_off: l.sign_off,
    };
    let bytes = tokio::task::spawn_blocking(move || ehm_pdf::render_outcome_letter(&doc))
        .await
        .map_err(|e| anyhow::anyhow!("rendering an outcome letter: {e}"))?
        .map_err(|e| anyhow::anyhow!("rendering an outcome letter: {e}"))?;
    let now = OffsetDateTime::now_utc();
    let referral_id = r.loaded.row.id;
    let mut tx = app.store.begin().await?;
    app.store
        .record_outcome_letter(&mut tx, referral_id, r.loaded.actor.user_id, now)
        .await?;
    let id = referral_id.to_string();
    audit::record_tx(
        app,
        &mut tx,
        event(r.loaded.actor, "outcome-letter", &id, "success", ip),
        now,
    )
    .await?;
    ehm_storage::commit(tx).await?;
    Ok(LetterOutcome::Letter {
        file_name: format!("{}-outcome-letter.pdf", data.reference),
        bytes,
    })
}

// ------------------------------------------------------------------------------- history

/// A referral's history and the names of everyone it mentions.
#[derive(Debug, Clone)]
pub struct History {
    pub events: Vec<ReferralEvent>,
    /// User id → display name, for actors, assignees and the people on the workflow row.
    pub names: HashMap<i64, String>,
}

impl History {
    pub fn name(&self, id: Option<i64>) -> Option<&str> {
        id.and_then(|i| self.names.get(&i)).map(String::as_str)
    }
}

/// The events of `r`, oldest first, with the names of the people involved.
pub async fn history(app: &App, r: &StaffReferral) -> Result<History> {
    let events = app.store.referral_events(r.loaded.row.id).await?;
    let w = &r.workflow;
    let mut ids: BTreeSet<i64> = [w.assigned_to, w.decided_by, w.authorised_by]
        .into_iter()
        .flatten()
        .collect();
    for e in &events {
        ids.extend(e.actor_user_id);
        for key in ["from", "to"] {
            ids.extend(e.detail.get(key).and_then(serde_json::Value::as_i64));
        }
    }
    let mut names = HashMap::new();
    for id in ids {
        if let Some(u) = app.store.user_by_id(id).await? {
            names.insert(id, u.display_name);
        }
    }
    Ok(History { events, names })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_are_given_as_the_referrer_typed_them() {
        let mut d = ReferralDraft::default();
        let mut born = ehm_domain::referral::ChildDraft {
            first_name: " Mia ".into(),
            last_name: "Example".into(),
            dob_day: "3".into(),
            dob_month: "3".into(),
            dob_year: "2019".into(),
            dob_estimated: true,
            ..Default::default()
        };
        d.children.push(born.clone());
        born.dob_estimated = false;
        born.dob_month = "13".into();
        d.children.push(born);
        d.children.push(ehm_domain::referral::ChildDraft {
            unborn: true,
            due_day: "1".into(),
            due_month: "5".into(),
            due_year: "2027".into(),
            ..Default::default()
        });
        let c = children_as_referred(&d);
        assert_eq!(c[0].name, "Mia Example");
        assert_eq!(c[0].date_of_birth, "3 March 2019 (estimated)");
        assert_eq!(c[1].date_of_birth, "3/13/2019");
        assert_eq!(c[2].name, "Unborn child");
        assert_eq!(c[2].date_of_birth, "Unborn (due 1 May 2027)");
    }

    #[test]
    fn every_step_kind_names_its_transition() {
        let codes: Vec<&str> = StepKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(
            codes,
            [
                "start-triage",
                "send-for-decision",
                "record-decision",
                "authorise",
                "return-decision",
                "close"
            ]
        );
    }
}
