//! The referral workflow, its event history, feedback bookkeeping and
//! the MASH work tray.
//!
//! Status changes and allocations are written only from what the domain allowed
//! ([`ehm_domain::mash::Step`], [`ehm_domain::mash::Allocation`]), and every write re-checks
//! its precondition in the `WHERE` clause (`status = <the step's starting status>`, the
//! assignee it was based on, …), so when two people act on the same referral at once
//! exactly one succeeds; the other gets `false` and reloads.

use crate::{Result, StorageError, Store, Tx, from_ms, to_ms};
use ehm_domain::mash::{
    Allocation, Outcome, ReferralStatus, Step, Transition, WorkflowState, search_text,
};
use ehm_domain::referral::ReferenceNumber;
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

/// A referral's workflow state as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WorkflowRow {
    pub referral_id: i64,
    pub status: ReferralStatus,
    pub assigned_to: Option<i64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub assigned_at: Option<OffsetDateTime>,
    pub decision_outcome: Option<Outcome>,
    pub decision_rationale: Option<String>,
    pub decided_by: Option<i64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
    /// The manager's comment when the decision was last returned.
    pub return_comment: Option<String>,
    pub authorised_by: Option<i64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub authorised_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub feedback_sent_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub letter_created_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub status_changed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub submitted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decision_due_at: Option<OffsetDateTime>,
}

impl WorkflowRow {
    /// What the domain's workflow rules need.
    pub fn state(&self) -> WorkflowState {
        WorkflowState {
            status: self.status,
            assigned_to: self.assigned_to,
            decided_by: self.decided_by,
        }
    }
}

/// One step in a referral's history.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReferralEvent {
    pub id: i64,
    pub referral_id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor_user_id: Option<i64>,
    /// The step's code ("start-triage", "record-decision", "allocate", "letter", …).
    pub kind: String,
    pub status_from: Option<String>,
    pub status_to: Option<String>,
    /// Outcome and rationale, comment, assignee: whatever the step carried.
    pub detail: serde_json::Value,
}

/// Which referrals the tray lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrayFilter {
    /// Empty: every submitted (non-draft) status.
    pub statuses: Vec<ReferralStatus>,
    /// A `ReferralType` code (the service referred to).
    pub service: Option<String>,
    pub assigned: Option<AssignedFilter>,
    /// Only referrals still awaiting a decision whose due time is at or before this
    /// instant (pass "now" for the overdue filter).
    pub overdue_at: Option<OffsetDateTime>,
    /// A reference number (any format `ReferenceNumber::parse` accepts) or part of a
    /// child's name (case and accents ignored).
    pub search: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignedFilter {
    To(i64),
    Unassigned,
}

/// Tray order. "Waiting longest" is `Received` ascending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraySort {
    Received,
    Due,
    Reference,
    Status,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrayRow {
    pub id: i64,
    pub public_id: String,
    pub reference: Option<String>,
    pub status: ReferralStatus,
    pub referral_type: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub submitted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decision_due_at: Option<OffsetDateTime>,
    pub assigned_to: Option<i64>,
    pub assigned_name: Option<String>,
    /// The children's names as typed ("Mia Example, Leo Example").
    pub child_display: Option<String>,
    /// The children's dates of birth: ';'-separated "YYYY-MM-DD", "YYYY-MM-DD~"
    /// (estimated) or "unborn".
    pub child_dobs: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrayPage {
    pub rows: Vec<TrayRow>,
    /// Rows matching the filter (for "1–25 of 312" and the page links).
    pub total: i64,
}

const WORKFLOW_COLUMNS: &str = "id, status, assigned_to, assigned_at, decision_outcome, decision_rationale, \
     decided_by, decided_at, return_comment, authorised_by, authorised_at, feedback_sent_at, \
     letter_created_at, closed_at, status_changed_at, submitted_at, decision_due_at";

fn opt_ms(r: &AnyRow, col: &str) -> Result<Option<OffsetDateTime>> {
    Ok(r.try_get::<Option<i64>, _>(col)?.map(from_ms))
}

fn status_of(code: &str) -> Result<ReferralStatus> {
    ReferralStatus::parse(code).map_err(|e| StorageError::Corrupt(e.to_string()))
}

fn workflow_from_row(r: &AnyRow) -> Result<WorkflowRow> {
    let outcome: Option<String> = r.try_get("decision_outcome")?;
    Ok(WorkflowRow {
        referral_id: r.try_get("id")?,
        status: status_of(&r.try_get::<String, _>("status")?)?,
        assigned_to: r.try_get("assigned_to")?,
        assigned_at: opt_ms(r, "assigned_at")?,
        decision_outcome: outcome
            .map(|o| {
                Outcome::parse(&o)
                    .map_err(|_| StorageError::Corrupt(format!("unknown outcome {o:?}")))
            })
            .transpose()?,
        decision_rationale: r.try_get("decision_rationale")?,
        decided_by: r.try_get("decided_by")?,
        decided_at: opt_ms(r, "decided_at")?,
        return_comment: r.try_get("return_comment")?,
        authorised_by: r.try_get("authorised_by")?,
        authorised_at: opt_ms(r, "authorised_at")?,
        feedback_sent_at: opt_ms(r, "feedback_sent_at")?,
        letter_created_at: opt_ms(r, "letter_created_at")?,
        closed_at: opt_ms(r, "closed_at")?,
        status_changed_at: opt_ms(r, "status_changed_at")?,
        submitted_at: opt_ms(r, "submitted_at")?,
        decision_due_at: opt_ms(r, "decision_due_at")?,
    })
}

/// A value bound to a dynamically built query.
pub(crate) enum Bind {
    Int(i64),
    /// A NULL integer.
    NullInt,
    Text(String),
}

pub(crate) fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Int(i) => q.bind(*i),
            Bind::NullInt => q.bind(None::<i64>),
            Bind::Text(s) => q.bind(s.as_str()),
        };
    }
    q
}

/// The distinct words of folded child names (`search_text` output, names joined by
/// " | "), sorted: what `referral_name_words` holds for a referral.
pub fn name_words(folded: &str) -> Vec<String> {
    let mut words: Vec<String> = folded
        .split([' ', '|'])
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    words.sort();
    words.dedup();
    words
}

/// One page of ids from (time received, id) pairs gathered from several walks: sorted,
/// each id once (a referral's pairs all carry its one time, so repeats sort together).
fn merged_page(mut all: Vec<(i64, i64)>, descending: bool, limit: i64, offset: i64) -> Vec<i64> {
    all.sort_unstable();
    all.dedup();
    if descending {
        all.reverse();
    }
    all.into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|(_, id)| id)
        .collect()
}

/// The page query for ids already chosen (the query around it puts them in order).
fn rows_of_ids(ids: &[i64]) -> String {
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!(
        "SELECT r.id FROM referrals r WHERE r.id IN ({})",
        list.join(", ")
    )
}

/// The deepest page end (offset + limit) put together by merging each status's first
/// rows; deeper pages are sorted by the database.
const MERGED: i64 = 2_000;

/// The most distinct words of names one typed word may begin for the search's page to
/// be merged from each word's walk in time order (more, and the database collects and
/// sorts the matches).
const WALKED_WORDS: usize = 8;

/// The most words of a name search that are looked up (each narrows the result; more
/// than this are ignored rather than building an ever larger query).
const SEARCH_WORDS: usize = 6;

/// Rows of the words index counted at most, when choosing which typed word drives a
/// search of several.
const RARE_CAP: i64 = 2_000;

/// Above every string that starts with a word, in byte order (UTF-8's largest code point).
const WORD_END: char = '\u{10FFFF}';

#[allow(clippy::too_many_arguments)]
async fn insert_event(
    tx: &mut Tx<'_>,
    referral_id: i64,
    actor_user_id: i64,
    kind: &str,
    from: Option<ReferralStatus>,
    to: Option<ReferralStatus>,
    detail: &serde_json::Value,
    now: OffsetDateTime,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO referral_events (referral_id, at, actor_user_id, kind, status_from, status_to, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(referral_id)
    .bind(to_ms(now))
    .bind(actor_user_id)
    .bind(kind)
    .bind(from.map(|s| s.code()))
    .bind(to.map(|s| s.code()))
    .bind(detail.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// The workflow state of a referral (any status), or `None` if there is no such row.
    pub async fn workflow(&self, referral_id: i64) -> Result<Option<WorkflowRow>> {
        let row = sqlx::query(&format!(
            "SELECT {WORKFLOW_COLUMNS} FROM referrals WHERE id = $1"
        ))
        .bind(referral_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(workflow_from_row).transpose()
    }

    /// Sets the tray's columns for a referral being submitted, inside the submit
    /// transaction: every child's name as typed (for display) and folded (for search),
    /// and when the decision is due (`Calendar::decision_due`).
    pub async fn set_tray_fields(
        &self,
        tx: &mut Tx<'_>,
        referral_id: i64,
        child_names: &[String],
        child_dobs: &str,
        decision_due_at: OffsetDateTime,
    ) -> Result<()> {
        let display = child_names
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        let folded = child_names
            .iter()
            .map(|n| search_text(n))
            .collect::<Vec<_>>()
            .join(" | ");
        sqlx::query(
            "UPDATE referrals SET child_display = $1, child_names = $2, decision_due_at = $3, child_dobs = $5 WHERE id = $4",
        )
        .bind(display)
        .bind(&folded)
        .bind(to_ms(decision_due_at))
        .bind(referral_id)
        .bind(child_dobs)
        .execute(&mut **tx)
        .await?;
        // The words the tray's name search looks up (see migration 0010).
        sqlx::query("DELETE FROM referral_name_words WHERE referral_id = $1")
            .bind(referral_id)
            .execute(&mut **tx)
            .await?;
        let words = name_words(&folded);
        if !words.is_empty() {
            // The submission time is set just before (submit_referral, same transaction).
            let id = words.len() + 1;
            let values: Vec<String> = (1..=words.len())
                .map(|i| {
                    format!("(${i}, ${id}, (SELECT submitted_at FROM referrals WHERE id = ${id}))")
                })
                .collect();
            let sql = format!(
                "INSERT INTO referral_name_words (word, referral_id, submitted_at) VALUES {}",
                values.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for w in &words {
                q = q.bind(w.as_str());
            }
            q.bind(referral_id).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Writes a step the domain allowed, inside `tx` (with its email and audit record), and
    /// records it as an event. Returns false, writing nothing, if the referral is no longer
    /// in the state the step was checked against (someone else acted first).
    pub async fn apply_step(
        &self,
        tx: &mut Tx<'_>,
        referral_id: i64,
        step: &Step,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let actor = step.actor().user_id;
        let now_ms = to_ms(now);
        // Common part: status, when it changed, and the guard on the current status.
        let mut set = String::from("status = $1, status_changed_at = $2");
        let mut guard = String::from("id = $3 AND status = $4");
        let mut binds = vec![
            Bind::Text(step.to().code().to_owned()),
            Bind::Int(now_ms),
            Bind::Int(referral_id),
            Bind::Text(step.from().code().to_owned()),
        ];
        let next = |binds: &mut Vec<Bind>, b: Bind| {
            binds.push(b);
            format!("${}", binds.len())
        };
        let detail = match step.transition() {
            Transition::StartTriage | Transition::Close => {
                if matches!(step.transition(), Transition::Close) {
                    let p = next(&mut binds, Bind::Int(now_ms));
                    set.push_str(&format!(", closed_at = {p}"));
                }
                serde_json::json!({})
            }
            Transition::SendForDecision => {
                guard.push_str(" AND assigned_to IS NOT NULL");
                serde_json::json!({})
            }
            Transition::RecordDecision(d) => {
                let o = next(&mut binds, Bind::Text(d.outcome.code().to_owned()));
                let r = next(&mut binds, Bind::Text(d.rationale.as_str().to_owned()));
                let by = next(&mut binds, Bind::Int(actor));
                let at = next(&mut binds, Bind::Int(now_ms));
                set.push_str(&format!(
                    ", decision_outcome = {o}, decision_rationale = {r}, decided_by = {by}, decided_at = {at}"
                ));
                if step.actor().role == ehm_domain::account::Role::SocialWorker {
                    guard.push_str(&format!(" AND assigned_to = {by}"));
                }
                serde_json::json!({
                    "outcome": d.outcome.code(),
                    "rationale": d.rationale.as_str(),
                })
            }
            Transition::Authorise => {
                let by = next(&mut binds, Bind::Int(actor));
                let at = next(&mut binds, Bind::Int(now_ms));
                set.push_str(&format!(
                    ", authorised_by = {by}, authorised_at = {at}, feedback_sent_at = {at}"
                ));
                guard.push_str(&format!(" AND decided_by <> {by}"));
                serde_json::json!({})
            }
            Transition::ReturnDecision(c) => {
                let p = next(&mut binds, Bind::Text(c.as_str().to_owned()));
                set.push_str(&format!(
                    ", return_comment = {p}, decision_outcome = NULL, decision_rationale = NULL, \
                     decided_by = NULL, decided_at = NULL"
                ));
                serde_json::json!({ "comment": c.as_str() })
            }
        };
        let sql = format!("UPDATE referrals SET {set} WHERE {guard}");
        let done = bind_all(sqlx::query(&sql), &binds)
            .execute(&mut **tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        insert_event(
            tx,
            referral_id,
            actor,
            step.transition().code(),
            Some(step.from()),
            Some(step.to()),
            &detail,
            now,
        )
        .await?;
        Ok(true)
    }

    /// Writes an allocation the domain allowed, inside `tx`. False, writing nothing, if the
    /// referral's status or assignee changed since it was checked.
    pub async fn allocate(
        &self,
        tx: &mut Tx<'_>,
        referral_id: i64,
        a: &Allocation,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE referrals SET assigned_to = $1, assigned_at = $2 \
             WHERE id = $3 AND status = $4 AND assigned_to IS NOT DISTINCT FROM $5",
        )
        .bind(a.assignee())
        .bind(to_ms(now))
        .bind(referral_id)
        .bind(a.status().code())
        .bind(a.previous())
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        insert_event(
            tx,
            referral_id,
            a.actor().user_id,
            a.code(),
            None,
            None,
            &serde_json::json!({ "from": a.previous(), "to": a.assignee() }),
            now,
        )
        .await?;
        Ok(true)
    }

    /// Records that the outcome letter was produced (the first time is kept on the
    /// referral; every download is an event).
    pub async fn record_outcome_letter(
        &self,
        tx: &mut Tx<'_>,
        referral_id: i64,
        actor_user_id: i64,
        now: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE referrals SET letter_created_at = COALESCE(letter_created_at, $1) WHERE id = $2",
        )
        .bind(to_ms(now))
        .bind(referral_id)
        .execute(&mut **tx)
        .await?;
        insert_event(
            tx,
            referral_id,
            actor_user_id,
            "outcome-letter",
            None,
            None,
            &serde_json::json!({}),
            now,
        )
        .await
    }

    /// A referral's history, oldest first.
    pub async fn referral_events(&self, referral_id: i64) -> Result<Vec<ReferralEvent>> {
        let rows = sqlx::query(
            "SELECT id, referral_id, at, actor_user_id, kind, status_from, status_to, detail \
             FROM referral_events WHERE referral_id = $1 ORDER BY id",
        )
        .bind(referral_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let detail: String = r.try_get("detail")?;
                Ok(ReferralEvent {
                    id: r.try_get("id")?,
                    referral_id: r.try_get("referral_id")?,
                    at: from_ms(r.try_get("at")?),
                    actor_user_id: r.try_get("actor_user_id")?,
                    kind: r.try_get("kind")?,
                    status_from: r.try_get("status_from")?,
                    status_to: r.try_get("status_to")?,
                    detail: serde_json::from_str(&detail)
                        .map_err(|e| StorageError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }

    /// The single number `sql` selects as `n`.
    async fn count_of(&self, sql: &str, binds: &[Bind]) -> Result<i64> {
        Ok(bind_all(sqlx::query(sql), binds)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    /// The tray's total for filters without a name search, from the counts the triggers
    /// keep (migration 0010) rather than a count of every referral ever submitted. "Waiting
    /// too long" is the referrals awaiting a decision less those not yet due: the not yet
    /// due are the last day's or so, few in any tray, while the overdue can be many.
    async fn kept_total(&self, statuses: &[ReferralStatus], filter: &TrayFilter) -> Result<i64> {
        let statuses: Vec<ReferralStatus> = match filter.overdue_at {
            Some(_) => statuses
                .iter()
                .copied()
                .filter(|s| s.awaits_a_decision())
                .collect(),
            None => statuses.to_vec(),
        };
        if statuses.is_empty() {
            return Ok(0);
        }
        let p = |binds: &mut Vec<Bind>, b: Bind| {
            binds.push(b);
            format!("${}", binds.len())
        };
        let mut binds: Vec<Bind> = Vec::new();
        let list: Vec<String> = statuses
            .iter()
            .map(|s| p(&mut binds, Bind::Text(s.code().to_owned())))
            .collect();
        let mut kept = vec![format!("status IN ({})", list.join(", "))];
        let mut rows = vec![format!("r.status IN ({})", list.join(", "))];
        if let Some(service) = &filter.service {
            let x = p(&mut binds, Bind::Text(service.clone()));
            kept.push(format!("referral_type = {x}"));
            rows.push(format!("r.referral_type = {x}"));
        }
        match filter.assigned {
            Some(AssignedFilter::To(id)) => {
                let x = p(&mut binds, Bind::Int(id));
                kept.push(format!("assigned_to = {x}"));
                rows.push(format!("r.assigned_to = {x}"));
            }
            Some(AssignedFilter::Unassigned) => {
                kept.push("assigned_to = 0".into());
                rows.push("r.assigned_to IS NULL".into());
            }
            None => {}
        }
        let all: i64 = self.count_of(&format!(
                "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n FROM referral_tray_counts WHERE {}",
                kept.join(" AND ")
            ), &binds).await?;
        let Some(at) = filter.overdue_at else {
            return Ok(all);
        };
        let x = p(&mut binds, Bind::Int(to_ms(at)));
        rows.push(format!(
            "(r.decision_due_at > {x} OR r.decision_due_at IS NULL)"
        ));
        let not_yet: i64 = self
            .count_of(
                &format!(
                    "SELECT COUNT(*) AS n FROM referrals r WHERE {}",
                    rows.join(" AND ")
                ),
                &binds,
            )
            .await?;
        Ok(all - not_yet)
    }

    /// The ids of one tray page of referrals in any of `statuses`, in order received
    /// (`descending`: newest first), only those due by `due_by` if given: the first
    /// `offset + limit` of each status from its own index (status, time received, …, due
    /// time), merged. The due test is made on the way along the index: most referrals
    /// awaiting a decision are past their time, so the walk stops soon, where a plan that
    /// picked the due-time index would sort every overdue referral.
    async fn ids_received_across(
        &self,
        statuses: &[ReferralStatus],
        due_by: Option<OffsetDateTime>,
        descending: bool,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<i64>> {
        let dir = if descending { "DESC" } else { "ASC" };
        let due = if due_by.is_some() {
            "AND +r.decision_due_at <= $3 "
        } else {
            ""
        };
        let sql = format!(
            "SELECT r.id, r.submitted_at FROM referrals r WHERE r.status = $1 {due}\
             ORDER BY r.submitted_at {dir}, r.id {dir} LIMIT $2"
        );
        let mut all: Vec<(i64, i64)> = Vec::new();
        for status in statuses {
            let mut q = sqlx::query(&sql).bind(status.code()).bind(offset + limit);
            if let Some(at) = due_by {
                q = q.bind(to_ms(at));
            }
            let rows = q.fetch_all(&self.pool).await?;
            for r in &rows {
                let at: Option<i64> = r.try_get("submitted_at")?;
                all.push((at.unwrap_or(0), r.try_get("id")?));
            }
        }
        Ok(merged_page(all, descending, limit, offset))
    }

    /// Up to `max` distinct words of children's names that begin with `prefix`, in
    /// order, found by skipping along the words index (one seek each, however many
    /// referrals carry each word), in one statement.
    async fn words_beginning(&self, prefix: &str, max: usize) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "WITH RECURSIVE found(word, n) AS ( \
               SELECT (SELECT MIN(word) FROM referral_name_words WHERE word >= $1 AND word < $2), 1 \
               UNION ALL \
               SELECT (SELECT MIN(w.word) FROM referral_name_words w WHERE w.word > found.word AND w.word < $2), n + 1 \
               FROM found WHERE found.word IS NOT NULL AND n < $3) \
             SELECT word FROM found WHERE word IS NOT NULL ORDER BY n",
        )
        .bind(prefix)
        .bind(format!("{prefix}{WORD_END}"))
        .bind(max as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("word")?))
            .collect()
    }

    /// One tray page of the referrals whose children's names have every one of `words`
    /// (whole words), in order received, and how many there are: the rarest word's
    /// referrals walked from the (word, time) index, each checked for the other words by
    /// key. The key is (word, referral), so no referral comes twice.
    async fn ids_with_all_words(
        &self,
        words: &[String],
        descending: bool,
        limit: i64,
        offset: i64,
    ) -> Result<(i64, Vec<i64>)> {
        // How many referrals carry each word, from the counts kept (migration 0012).
        let list: Vec<String> = (1..=words.len()).map(|i| format!("${i}")).collect();
        let kept = bind_all(
            sqlx::query(&format!(
                "SELECT word, n FROM referral_name_word_counts WHERE word IN ({})",
                list.join(", ")
            )),
            &words
                .iter()
                .map(|w| Bind::Text(w.clone()))
                .collect::<Vec<_>>(),
        )
        .fetch_all(&self.pool)
        .await?;
        let kept = kept
            .iter()
            .map(|r| Ok((r.try_get::<String, _>("word")?, r.try_get::<i64, _>("n")?)))
            .collect::<Result<std::collections::HashMap<String, i64>>>()?;
        let mut counted: Vec<(i64, String)> = words
            .iter()
            .map(|w| (kept.get(w).copied().unwrap_or(0), w.clone()))
            .collect();
        counted.sort();
        let mut binds: Vec<Bind> = counted.iter().map(|(_, w)| Bind::Text(w.clone())).collect();
        let others: String = (2..=binds.len())
            .map(|i| {
                format!(
                    " AND EXISTS (SELECT 1 FROM referral_name_words o WHERE o.word = ${i} \
                     AND o.referral_id = w.referral_id)"
                )
            })
            .collect();
        let total = if counted[0].0 == 0 {
            0
        } else if counted.len() == 1 {
            // One word: the key is (word, referral), so its count is the total.
            counted[0].0
        } else {
            self.count_of(
                &format!(
                    "SELECT COUNT(*) AS n FROM referral_name_words w WHERE w.word = $1{others}"
                ),
                &binds,
            )
            .await?
        };
        if total == 0 || offset >= total {
            return Ok((total, Vec::new()));
        }
        let dir = if descending { "DESC" } else { "ASC" };
        let n = binds.len();
        binds.push(Bind::Int(limit));
        binds.push(Bind::Int(offset));
        let rows = bind_all(
            sqlx::query(&format!(
                "SELECT w.referral_id FROM referral_name_words w WHERE w.word = $1{others} \
                 ORDER BY w.submitted_at {dir}, w.referral_id {dir} LIMIT ${} OFFSET ${}",
                n + 1,
                n + 2
            )),
            &binds,
        )
        .fetch_all(&self.pool)
        .await?;
        let ids = rows
            .iter()
            .map(|r| r.try_get::<i64, _>("referral_id"))
            .collect::<std::result::Result<_, _>>()?;
        Ok((total, ids))
    }

    /// Which of `words` begins the fewest rows of the words index (counted up to a cap,
    /// so a common word costs no more than the cap).
    async fn rarest_word(&self, words: &[String]) -> Result<usize> {
        if words.len() < 2 {
            return Ok(0);
        }
        let mut best = (i64::MAX, 0);
        for (i, w) in words.iter().enumerate() {
            let n = self
                .count_of(
                    "SELECT COUNT(*) AS n FROM (SELECT 1 FROM referral_name_words \
                     WHERE word >= $1 AND word < $2 LIMIT $3) capped",
                    &[
                        Bind::Text(w.clone()),
                        Bind::Text(format!("{w}{WORD_END}")),
                        Bind::Int(RARE_CAP),
                    ],
                )
                .await?;
            if n < best.0 {
                best = (n, i);
            }
        }
        Ok(best.1)
    }

    /// The ids of one tray page of referrals with any of `words` in a child's name, in
    /// order received: the first `offset + limit` of each word from the (word, time)
    /// index, merged, each referral once.
    async fn ids_by_words(
        &self,
        words: &[String],
        descending: bool,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<i64>> {
        let dir = if descending { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT submitted_at, referral_id FROM referral_name_words WHERE word = $1 \
             ORDER BY submitted_at {dir}, referral_id {dir} LIMIT $2"
        );
        let mut all: Vec<(i64, i64)> = Vec::new();
        for word in words {
            let rows = sqlx::query(&sql)
                .bind(word)
                .bind(offset + limit)
                .fetch_all(&self.pool)
                .await?;
            for r in &rows {
                all.push((r.try_get("submitted_at")?, r.try_get("referral_id")?));
            }
        }
        Ok(merged_page(all, descending, limit, offset))
    }

    /// The ids of one tray page in status order (`descending`: closed first), oldest
    /// first within a status, for `statuses` with no other filter.
    async fn ids_in_status_order(
        &self,
        statuses: &[ReferralStatus],
        descending: bool,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<i64>> {
        let mut ordered = statuses.to_vec();
        ordered.sort_by_key(|s| s.rank());
        if descending {
            ordered.reverse();
        }
        let mut skip = offset;
        let mut ids = Vec::new();
        for status in ordered {
            let want = limit - ids.len() as i64;
            if want <= 0 {
                break;
            }
            let n: i64 = sqlx::query(
                "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n FROM referral_tray_counts WHERE status = $1",
            )
            .bind(status.code())
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
            if skip >= n {
                skip -= n;
                continue;
            }
            let rows = sqlx::query(
                "SELECT r.id FROM referrals r WHERE r.status = $1 \
                 ORDER BY r.submitted_at ASC, r.id ASC LIMIT $2 OFFSET $3",
            )
            .bind(status.code())
            .bind(want)
            .bind(skip)
            .fetch_all(&self.pool)
            .await?;
            for r in &rows {
                ids.push(r.try_get("id")?);
            }
            skip = 0;
        }
        Ok(ids)
    }

    /// Fills the name-search words of every submitted referral from its `child_names`
    /// (what the submission writes row by row): for referrals written in bulk, as the
    /// staff benchmark does. Returns how many words were added.
    pub async fn index_name_words(&self) -> Result<u64> {
        let sql = match self.backend() {
            crate::Backend::Sqlite => {
                "WITH RECURSIVE split(id, word, rest) AS ( \
                 SELECT id, '', replace(child_names, ' | ', ' ') || ' ' FROM referrals WHERE child_names IS NOT NULL \
                 UNION ALL \
                 SELECT id, substr(rest, 1, instr(rest, ' ') - 1), substr(rest, instr(rest, ' ') + 1) FROM split WHERE rest <> '') \
                 INSERT OR IGNORE INTO referral_name_words (word, referral_id, submitted_at) \
                 SELECT split.word, split.id, r.submitted_at FROM split JOIN referrals r ON r.id = split.id \
                 WHERE split.word NOT IN ('', '|') AND r.submitted_at IS NOT NULL"
            }
            crate::Backend::Postgres => {
                "INSERT INTO referral_name_words (word, referral_id, submitted_at) \
                 SELECT DISTINCT w, id, submitted_at FROM referrals, regexp_split_to_table(child_names, '[ |]+') AS w \
                 WHERE child_names IS NOT NULL AND submitted_at IS NOT NULL AND w <> '' ON CONFLICT DO NOTHING"
            }
        };
        Ok(sqlx::query(sql).execute(&self.pool).await?.rows_affected())
    }

    /// One page of the MASH work tray: submitted referrals matching `filter`, in `sort`
    /// order (ties by id), with the total count.
    pub async fn work_tray(
        &self,
        filter: &TrayFilter,
        sort: TraySort,
        descending: bool,
        limit: i64,
        offset: i64,
    ) -> Result<TrayPage> {
        let mut binds: Vec<Bind> = Vec::new();
        let mut conds: Vec<String> = Vec::new();
        let p = |binds: &mut Vec<Bind>, b: Bind| {
            binds.push(b);
            format!("${}", binds.len())
        };
        let mut statuses: Vec<ReferralStatus> = if filter.statuses.is_empty() {
            ReferralStatus::IN_TRAY.to_vec()
        } else {
            filter
                .statuses
                .iter()
                .copied()
                .filter(|s| *s != ReferralStatus::Draft)
                .collect()
        };
        statuses.sort();
        statuses.dedup();
        if filter.overdue_at.is_some() {
            // Only a referral awaiting a decision can be waiting too long: one status list
            // (two would leave the planner free to pick an index by the wider one).
            statuses.retain(|s| s.awaits_a_decision());
        }
        if statuses.is_empty() {
            return Ok(TrayPage {
                rows: Vec::new(),
                total: 0,
            });
        }
        // The name search's words (at most SEARCH_WORDS).
        let mut name_words_used: Vec<String> = Vec::new();
        let narrowed = filter.service.is_some()
            || filter.assigned.is_some()
            || filter.overdue_at.is_some()
            || filter
                .search
                .as_deref()
                .is_some_and(|t| !t.trim().is_empty());
        if statuses.len() == ReferralStatus::IN_TRAY.len() && !narrowed {
            // Every status but draft: exactly the referrals with a submission time, which
            // lets the database walk the submitted_at index in order. With other filters
            // the status list below lets it scan the narrow covering index instead.
            // In reference order, the same referrals are the ones with a reference (given at
            // submission), which walks the reference index in order instead.
            conds.push(if sort == TraySort::Reference {
                "r.reference IS NOT NULL".into()
            } else {
                "r.submitted_at IS NOT NULL".into()
            });
        } else {
            let list: Vec<String> = statuses
                .iter()
                .map(|s| p(&mut binds, Bind::Text(s.code().to_owned())))
                .collect();
            conds.push(format!("r.status IN ({})", list.join(", ")));
        }
        if let Some(service) = &filter.service {
            let x = p(&mut binds, Bind::Text(service.clone()));
            conds.push(format!("r.referral_type = {x}"));
        }
        match filter.assigned {
            Some(AssignedFilter::To(id)) => {
                let x = p(&mut binds, Bind::Int(id));
                conds.push(format!("r.assigned_to = {x}"));
            }
            Some(AssignedFilter::Unassigned) => conds.push("r.assigned_to IS NULL".into()),
            None => {}
        }
        if let Some(at) = filter.overdue_at {
            let x = p(&mut binds, Bind::Int(to_ms(at)));
            // In order received, walk that index and test the due time on the way (the
            // unary plus keeps SQLite from picking the due-time index and then sorting
            // every overdue referral by time received, which costs most when most are
            // overdue, the worst moment to be slow).
            let due = if sort == TraySort::Received {
                "+r.decision_due_at"
            } else {
                "r.decision_due_at"
            };
            conds.push(format!("{due} <= {x}"));
        }
        if let Some(term) = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            if let Ok(reference) = ReferenceNumber::parse(term) {
                let x = p(&mut binds, Bind::Text(reference.to_string()));
                conds.push(format!("r.reference = {x}"));
            } else {
                let folded = search_text(term);
                let words = name_words(&folded);
                if words.is_empty() {
                    // Only punctuation: no name can match.
                    conds.push("1 = 0".into());
                }
                // Every word typed begins a word of a child's name ("sam oco" finds
                // Samuel O'Connor): one index range each.
                for w in words.iter().take(SEARCH_WORDS) {
                    let lo = p(&mut binds, Bind::Text(w.clone()));
                    let hi = p(&mut binds, Bind::Text(format!("{w}{WORD_END}")));
                    conds.push(format!(
                        "r.id IN (SELECT referral_id FROM referral_name_words WHERE word >= {lo} AND word < {hi})"
                    ));
                    name_words_used.push(w.clone());
                }
            }
        }
        let where_ = conds.join(" AND ");
        let dir = if descending { "DESC" } else { "ASC" };
        let order = match sort {
            TraySort::Received => format!("r.submitted_at {dir}, r.id {dir}"),
            TraySort::Due => format!("r.decision_due_at {dir}, r.id {dir}"),
            TraySort::Reference => format!("r.reference {dir}, r.id {dir}"),
            TraySort::Status => {
                let cases: Vec<String> = ReferralStatus::ALL
                    .iter()
                    .map(|s| format!("WHEN '{}' THEN {}", s.code(), s.rank()))
                    .collect();
                format!(
                    "CASE r.status {} END {dir}, r.submitted_at ASC, r.id ASC",
                    cases.join(" ")
                )
            }
        };
        let limit = limit.clamp(1, 500);
        let offset = offset.max(0);
        // A name search with nothing else narrowing it, newest or oldest first (the common
        // case), is answered from the words table alone: only submitted referrals have
        // words, and each word row carries the submission time. Anything else reads the
        // referrals' covering indexes (or, for a search, the matching rows).
        let words_only = !name_words_used.is_empty()
            && statuses.len() == ReferralStatus::IN_TRAY.len()
            && filter.service.is_none()
            && filter.assigned.is_none()
            && filter.overdue_at.is_none()
            && sort == TraySort::Received;
        // Each word typed, when it begins only a few distinct words of names (a whole
        // name usually begins one): the words it stands for.
        let mut expanded: Option<Vec<Vec<String>>> = None;
        if words_only {
            let mut all = Vec::with_capacity(name_words_used.len());
            for w in &name_words_used {
                let found = self.words_beginning(w, WALKED_WORDS + 1).await?;
                if found.len() > WALKED_WORDS {
                    break;
                }
                all.push(found);
            }
            if all.len() == name_words_used.len() {
                expanded = Some(all);
            }
        }
        let walked_words = match expanded.as_deref() {
            // A word typed that begins no name: nothing matches.
            Some(e) if e.iter().any(Vec::is_empty) => {
                return Ok(TrayPage {
                    rows: Vec::new(),
                    total: 0,
                });
            }
            // One word typed, beginning a few: each walked in time order, merged.
            Some([one]) if one.len() > 1 && offset + limit <= MERGED => Some(one.clone()),
            _ => None,
        };
        // Each word typed begins one word of names ("smith", "ava smith"): whole words.
        let whole_words: Option<Vec<String>> = match expanded {
            Some(e) if e.iter().all(|w| w.len() == 1) => Some(e.into_iter().flatten().collect()),
            _ => None,
        };
        // The page's ids listed by walking indexes in order (no sort of every match).
        let listed: Option<(i64, Vec<i64>)> = if let Some(words) = whole_words {
            Some(
                self.ids_with_all_words(&words, descending, limit, offset)
                    .await?,
            )
        } else if let Some(words) = walked_words {
            // Several words of names begin with the one typed: a referral may have two.
            let w = &name_words_used[0];
            let total = self
                .count_of(
                    "SELECT COUNT(DISTINCT referral_id) AS n FROM referral_name_words \
                     WHERE word >= $1 AND word < $2",
                    &[Bind::Text(w.clone()), Bind::Text(format!("{w}{WORD_END}"))],
                )
                .await?;
            let ids = self.ids_by_words(&words, descending, limit, offset).await?;
            Some((total, ids))
        } else {
            None
        };
        let (total, page, binds) = if let Some((total, ids)) = listed {
            if ids.is_empty() {
                return Ok(TrayPage {
                    rows: Vec::new(),
                    total,
                });
            }
            (total, rows_of_ids(&ids), Vec::new())
        } else if words_only {
            // The rarest word typed drives (its range read in order); each other word is
            // a lookup of that referral's own few words. A common word ("o" of O'Neill, a
            // frequent first name) then costs a seek per match of the rare one, not a
            // list of everything it begins.
            let driving = self.rarest_word(&name_words_used).await?;
            let mut wbinds: Vec<Bind> = Vec::new();
            let mut wconds = Vec::new();
            let ordered = std::iter::once(&name_words_used[driving]).chain(
                name_words_used
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != driving)
                    .map(|(_, w)| w),
            );
            for (i, w) in ordered.enumerate() {
                let lo = p(&mut wbinds, Bind::Text(w.clone()));
                let hi = p(&mut wbinds, Bind::Text(format!("{w}{WORD_END}")));
                wconds.push(if i == 0 {
                    format!("w.word >= {lo} AND w.word < {hi}")
                } else {
                    format!(
                        "EXISTS (SELECT 1 FROM referral_name_words o WHERE o.referral_id = w.referral_id \
                         AND o.word >= {lo} AND o.word < {hi})"
                    )
                });
            }
            let words_where = wconds.join(" AND ");
            let total: i64 = self.count_of(&format!(
                    "SELECT COUNT(DISTINCT w.referral_id) AS n FROM referral_name_words w WHERE {words_where}"
                ), &wbinds).await?;
            let l = p(&mut wbinds, Bind::Int(limit));
            let o = p(&mut wbinds, Bind::Int(offset));
            let page = format!(
                // A referral's rows all carry its one submission time, so DISTINCT on
                // both is one row per referral (cheaper than GROUP BY then sort).
                "SELECT DISTINCT w.submitted_at AS at, w.referral_id AS id FROM referral_name_words w \
                 WHERE {words_where} ORDER BY at {dir}, id {dir} LIMIT {l} OFFSET {o}"
            );
            (total, page, wbinds)
        } else {
            let searched = filter
                .search
                .as_deref()
                .is_some_and(|t| !t.trim().is_empty());
            let total: i64 = if searched {
                self.count_of(
                    &format!("SELECT COUNT(*) AS n FROM referrals r WHERE {where_}"),
                    &binds,
                )
                .await?
            } else {
                self.kept_total(&statuses, filter).await?
            };
            // Status filters alone, in an order that one query would sort every match
            // by: the page is put together from each status's own index instead.
            let some_statuses =
                statuses.len() > 1 && statuses.len() < ReferralStatus::IN_TRAY.len();
            // "Waiting too long" with no other filter: the statuses awaiting a decision.
            let only_overdue = filter.overdue_at.is_some()
                && filter.service.is_none()
                && filter.assigned.is_none()
                && !searched;
            let walked = if only_overdue && sort == TraySort::Received && offset + limit <= MERGED {
                Some(
                    self.ids_received_across(
                        &statuses,
                        filter.overdue_at,
                        descending,
                        limit,
                        offset,
                    )
                    .await?,
                )
            } else if narrowed {
                None
            } else if sort == TraySort::Status {
                // Walk the statuses in order, taking each one's share of the page from
                // its index (status, then time received) and skipping whole statuses by
                // their kept counts.
                Some(
                    self.ids_in_status_order(&statuses, descending, limit, offset)
                        .await?,
                )
            } else if sort == TraySort::Received && some_statuses && offset + limit <= MERGED {
                // Several statuses in order received: the first pages from each status's
                // index, merged.
                Some(
                    self.ids_received_across(&statuses, None, descending, limit, offset)
                        .await?,
                )
            } else {
                None
            };
            let page = if let Some(ids) = walked {
                if ids.is_empty() {
                    return Ok(TrayPage {
                        rows: Vec::new(),
                        total,
                    });
                }
                binds.clear();
                rows_of_ids(&ids)
            } else {
                let l = p(&mut binds, Bind::Int(limit));
                let o = p(&mut binds, Bind::Int(offset));
                format!(
                    "SELECT r.id FROM referrals r WHERE {where_} ORDER BY {order} LIMIT {l} OFFSET {o}"
                )
            };
            (total, page, binds)
        };
        // Two steps: the page's ids from the covering index alone (filters and order use
        // only its columns) or from the words table, then those rows. The referral's
        // answers sit in the same row; reading rows only to filter or sort them would read
        // the answers too.
        let sql = format!(
            "SELECT r.id, r.public_id, r.reference, r.status, r.referral_type, r.submitted_at, \
             r.decision_due_at, r.assigned_to, u.display_name AS assigned_name, r.child_display, r.child_dobs \
             FROM ({page}) page \
             JOIN referrals r ON r.id = page.id LEFT JOIN users u ON u.id = r.assigned_to \
             ORDER BY {order}"
        );
        let rows = bind_all(sqlx::query(&sql), &binds)
            .fetch_all(&self.pool)
            .await?;
        let rows = rows
            .iter()
            .map(|r| {
                Ok(TrayRow {
                    id: r.try_get("id")?,
                    public_id: r.try_get("public_id")?,
                    reference: r.try_get("reference")?,
                    status: status_of(&r.try_get::<String, _>("status")?)?,
                    referral_type: r.try_get("referral_type")?,
                    submitted_at: opt_ms(r, "submitted_at")?,
                    decision_due_at: opt_ms(r, "decision_due_at")?,
                    assigned_to: r.try_get("assigned_to")?,
                    assigned_name: r.try_get("assigned_name")?,
                    child_display: r.try_get("child_display")?,
                    child_dobs: r.try_get("child_dobs")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TrayPage { rows, total })
    }
}
