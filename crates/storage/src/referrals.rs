use crate::mash::Bind;
use crate::row::Row as _;
use crate::{Backend, Result, StorageError, Store, Tx, from_ms, is_unique_violation, to_ms};
use ehm_domain::mash::ReferralStatus;
use ehm_domain::referral::{ReferenceNumber, ReferralDraft, ReferralType};
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

/// One draft save of a group commit: (referral id, expected version, encoded draft, time).
pub(crate) type DraftSave<'a> = (i64, i64, &'a str, OffsetDateTime);

/// A referral as stored: what was typed (the draft document, decoded) plus bookkeeping.
/// Household members, children and professionals live inside the document (stored as
/// JSON), so deleting the row deletes them by construction; attachments cascade.
#[derive(Debug, Clone)]
pub struct ReferralRow {
    pub id: i64,
    pub public_id: String,
    pub owner_id: i64,
    pub status: ReferralStatus,
    pub version: i64,
    pub draft: ReferralDraft,
    pub created_at: OffsetDateTime,
    pub saved_at: OffsetDateTime,
    pub submitted_at: Option<OffsetDateTime>,
    pub reference: Option<ReferenceNumber>,
}

impl ReferralRow {
    pub fn is_draft(&self) -> bool {
        self.status == ReferralStatus::Draft
    }

    /// "EH-XXXX-XXXX", once submitted.
    pub fn reference_text(&self) -> Option<String> {
        self.reference.as_ref().map(ToString::to_string)
    }
}

fn encode(draft: &ReferralDraft) -> Result<String> {
    serde_json::to_string(draft)
        .map_err(|e| StorageError::Corrupt(format!("encoding a draft: {e}")))
}

/// The outcome of a save that names the version it was based on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveOutcome {
    Saved {
        version: i64,
    },
    /// Someone (another tab) saved since: nothing was written.
    Conflict,
    /// The referral is no longer a draft (submitted, or deleted).
    NotADraft,
}

/// What submitting a draft writes (see [`Store::submit_referral`]).
#[derive(Debug, Clone, Copy)]
pub struct Submission<'a> {
    pub id: i64,
    /// The version the referrer checked: a draft changed since is not submitted.
    pub expected_version: i64,
    pub draft: &'a ReferralDraft,
    pub reference: &'a ReferenceNumber,
    pub referral_type: ReferralType,
}

#[derive(Debug, Clone)]
pub struct AttachmentRow {
    pub id: i64,
    pub public_id: String,
    pub referral_id: i64,
    pub file_name: String,
    pub kind: String,
    pub size_bytes: i64,
    pub created_at: OffsetDateTime,
}

/// Answers posted after a session timed out, kept until the person signs in again.
#[derive(Debug, Clone)]
pub struct PendingSave {
    pub id: i64,
    pub user_id: i64,
    pub referral_id: i64,
    pub referral_public_id: String,
    /// The section's slug.
    pub section: String,
    /// The draft version the page was showing when the answers were typed.
    pub base_version: i64,
    /// The posted fields as a JSON array of `[name, value]` pairs, in order.
    pub fields_json: String,
    pub created_at: OffsetDateTime,
    /// What the row waits for.
    pub kind: PendingKind,
}

/// What a row of kept answers waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingKind {
    /// Posted after a timeout: saved when its author signs in again.
    Kept,
    /// Could not be saved because the same section changed since it was typed: its author
    /// chooses between the two versions.
    Conflict,
}

impl PendingKind {
    pub fn code(self) -> &'static str {
        match self {
            PendingKind::Kept => "kept",
            PendingKind::Conflict => "conflict",
        }
    }
    fn parse(s: &str) -> PendingKind {
        if s == "conflict" {
            PendingKind::Conflict
        } else {
            PendingKind::Kept
        }
    }
}

pub struct NewPendingSave<'a> {
    pub user_id: i64,
    pub referral_id: i64,
    pub section: &'a str,
    pub base_version: i64,
    pub fields_json: &'a str,
    pub kind: PendingKind,
}

fn pending_from_row(r: &AnyRow) -> Result<PendingSave> {
    let kind: String = r.try_get("kind")?;
    Ok(PendingSave {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        referral_id: r.try_get("referral_id")?,
        referral_public_id: r.try_get("public_id")?,
        section: r.try_get("section")?,
        base_version: r.try_get("base_version")?,
        fields_json: r.try_get("fields")?,
        created_at: from_ms(r.try_get("created_at")?),
        kind: PendingKind::parse(&kind),
    })
}

const PENDING_COLUMNS: &str = "p.id, p.user_id, p.referral_id, r.public_id, p.section, p.base_version, p.fields, p.created_at, p.kind";

pub(crate) const COLUMNS: &str =
    "id, public_id, owner_id, status, version, data, created_at, saved_at, submitted_at, reference";

pub(crate) fn from_row<R: crate::row::Row + ?Sized>(r: &R) -> Result<ReferralRow> {
    let id = r.int("id")?;
    let status = r.text("status")?;
    let data = r.text("data")?;
    let reference = r.opt_text("reference")?;
    Ok(ReferralRow {
        id,
        public_id: r.text("public_id")?,
        owner_id: r.int("owner_id")?,
        status: ReferralStatus::parse(&status)
            .map_err(|_| StorageError::Corrupt(format!("referral {id} has an unknown status")))?,
        version: r.int("version")?,
        draft: serde_json::from_str(&data)
            .map_err(|e| StorageError::Corrupt(format!("referral {id} does not decode: {e}")))?,
        created_at: from_ms(r.int("created_at")?),
        saved_at: from_ms(r.int("saved_at")?),
        submitted_at: r.opt_int("submitted_at")?.map(from_ms),
        reference: reference
            .map(|s| {
                ReferenceNumber::parse(&s).map_err(|_| {
                    StorageError::Corrupt(format!("referral {id} has a malformed reference"))
                })
            })
            .transpose()?,
    })
}

fn attachment_from_row(r: &AnyRow) -> Result<AttachmentRow> {
    Ok(AttachmentRow {
        id: r.try_get("id")?,
        public_id: r.try_get("public_id")?,
        referral_id: r.try_get("referral_id")?,
        file_name: r.try_get("file_name")?,
        kind: r.try_get("kind")?,
        size_bytes: r.try_get("size_bytes")?,
        created_at: from_ms(r.try_get("created_at")?),
    })
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DraftPurge {
    pub drafts: u64,
    pub attachments: u64,
}

impl Store {
    #[tracing::instrument(level = "debug", skip_all, fields(owner_id = owner_id))]
    pub async fn create_draft(
        &self,
        public_id: &str,
        owner_id: i64,
        draft: &ReferralDraft,
        now: OffsetDateTime,
    ) -> Result<ReferralRow> {
        let row = sqlx::query(&format!(
            "INSERT INTO referrals (public_id, owner_id, status, version, data, created_at, saved_at) \
             VALUES ($1, $2, $3, 1, $4, $5, $5) RETURNING {COLUMNS}"
        ))
        .bind(public_id)
        .bind(owner_id)
        .bind(ReferralStatus::Draft.code())
        .bind(encode(draft)?)
        .bind(to_ms(now))
        .fetch_one(&self.pool)
        .await?;
        from_row(&row)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn referral_by_public_id(&self, public_id: &str) -> Result<Option<ReferralRow>> {
        let sql = format!("SELECT {COLUMNS} FROM referrals WHERE public_id = $1");
        self.read_one(&sql, &[public_id], |r| from_row(r)).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(owner_id = owner_id))]
    pub async fn referrals_of(&self, owner_id: i64) -> Result<Vec<ReferralRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM referrals WHERE owner_id = $1 ORDER BY saved_at DESC"
        ))
        .bind(owner_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Save a draft if nobody saved it since `expected_version` (optimistic concurrency).
    /// Every save restarts the retention period (`saved_at`).
    pub async fn save_draft(
        &self,
        id: i64,
        expected_version: i64,
        draft: &ReferralDraft,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome> {
        let mut tx = self.begin().await?;
        let outcome = self
            .save_draft_tx(&mut tx, id, expected_version, draft, now)
            .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Save a draft as [`Store::save_draft`] does, with its audit record (written only if
    /// the save is), in a group commit with the other saves and audit records arriving at
    /// the same moment: one transaction and one flush to disk for them all, written by one
    /// writer, so concurrent saves neither wait on each other's locks nor flush one by one.
    /// Returns once the save is durable.
    pub async fn save_draft_audited(
        &self,
        id: i64,
        expected_version: i64,
        draft: &ReferralDraft,
        now: OffsetDateTime,
        audit: &crate::AuditEntry<'_>,
    ) -> Result<SaveOutcome> {
        let data = encode(draft)?;
        self.grouped_save(id, expected_version, data, now, audit)
            .await
    }

    /// [`Store::save_draft`] inside `tx`, so the save commits with its audit record (one
    /// commit per save). Nothing is written unless it returns `Saved`.
    #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
    pub async fn save_draft_tx(
        &self,
        tx: &mut Tx<'_>,
        id: i64,
        expected_version: i64,
        draft: &ReferralDraft,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome> {
        let data = encode(draft)?;
        let mut outcomes =
            save_encoded_many(&mut **tx, &[(id, expected_version, &data, now)]).await?;
        Ok(outcomes.pop().expect("one outcome for one save"))
    }
}

/// Drafts saved in one statement, each if nobody saved it since its expected version:
/// (id, expected version, encoded draft, time) in, what each came to out (in the same
/// order). The ids must differ (with one id twice, which save wins would be up to the
/// database). On any connection: a transaction's, or the group commit's (on SQLite not
/// sqlx's).
pub(crate) async fn save_encoded_many<C: crate::exec::Exec>(
    conn: &mut C,
    saves: &[DraftSave<'_>],
) -> Result<Vec<SaveOutcome>> {
    if saves.is_empty() {
        return Ok(Vec::new());
    }
    // A statement both databases take: typed VALUES in a common table expression
    // (SQLite has no `AS v(a, b)` and no `::` casts), UPDATE … FROM, RETURNING.
    let rows: Vec<String> = (0..saves.len())
        .map(|i| {
            let n = i * 4;
            format!(
                "(CAST(${} AS BIGINT), CAST(${} AS BIGINT), CAST(${} AS TEXT), CAST(${} AS BIGINT))",
                n + 1,
                n + 2,
                n + 3,
                n + 4
            )
        })
        .collect();
    // The status is written into the statement, not bound: SQLite re-plans a statement
    // each time a parameter is bound that decides whether a partial index applies (the
    // index of drafts, `WHERE status = 'draft'`), here on every save.
    let sql = format!(
        "WITH v (rid, expected, body, at) AS (VALUES {}) \
         UPDATE{} referrals SET data = v.body, version = referrals.version + 1, saved_at = v.at \
         FROM v WHERE referrals.id = v.rid AND referrals.version = v.expected AND referrals.status = '{}' \
         RETURNING id, version",
        rows.join(", "),
        C::MANY_ROWS,
        ReferralStatus::Draft.code()
    );
    let mut binds = Vec::with_capacity(saves.len() * 4 + 1);
    for (id, expected_version, data, now) in saves {
        binds.extend([
            Bind::Int(*id),
            Bind::Int(*expected_version),
            Bind::Text((*data).to_owned()),
            Bind::Int(to_ms(*now)),
        ]);
    }
    let saved: std::collections::HashMap<i64, i64> = conn
        .rows(&sql, &binds)
        .await?
        .iter()
        .map(|r| Ok((r.int("id")?, r.int("version")?)))
        .collect::<Result<_>>()?;
    let mut outcomes = Vec::with_capacity(saves.len());
    for (id, ..) in saves {
        outcomes.push(match saved.get(id) {
            Some(&version) => SaveOutcome::Saved { version },
            None => not_saved(conn, *id).await?,
        });
    }
    Ok(outcomes)
}

/// Why a save of draft `id` wrote nothing: someone saved it since, or it is no longer
/// a draft.
async fn not_saved<C: crate::exec::Exec>(conn: &mut C, id: i64) -> Result<SaveOutcome> {
    let rows = conn
        .rows(
            "SELECT status FROM referrals WHERE id = $1",
            &[Bind::Int(id)],
        )
        .await?;
    let status = rows.first().map(|r| r.text("status")).transpose()?;
    Ok(match status.as_deref().map(ReferralStatus::parse) {
        Some(Ok(ReferralStatus::Draft)) => SaveOutcome::Conflict,
        _ => SaveOutcome::NotADraft,
    })
}

impl Store {
    /// Turn a draft into a submitted referral with its reference, inside `tx` (so the
    /// confirmation email and the audit record commit with it). Returns false if the draft
    /// changed or was already submitted. A reference clash is reported as
    /// [`StorageError::ReferenceTaken`] so the caller can draw another.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn submit_referral(
        &self,
        tx: &mut Tx<'_>,
        sub: &Submission<'_>,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE referrals SET status = $1, data = $2, reference = $3, referral_type = $4, submitted_at = $5, \
             saved_at = $5, version = version + 1 WHERE id = $6 AND version = $7 AND status = $8",
        )
        .bind(ReferralStatus::Submitted.code())
        .bind(encode(sub.draft)?)
        .bind(sub.reference.to_string())
        .bind(sub.referral_type.code())
        .bind(to_ms(now))
        .bind(sub.id)
        .bind(sub.expected_version)
        .bind(ReferralStatus::Draft.code())
        .execute(&mut **tx)
        .await
        .map_err(|e| if is_unique_violation(&e) { StorageError::ReferenceTaken } else { e.into() })?;
        Ok(done.rows_affected() == 1)
    }

    /// Delete one draft completely (its attachments cascade). Submitted referrals are
    /// never deleted this way.
    #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
    pub async fn delete_draft(&self, id: i64) -> Result<bool> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM attachments WHERE referral_id = $1 AND referral_id IN (SELECT id FROM referrals WHERE status = $2)")
            .bind(id)
            .bind(ReferralStatus::Draft.code())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM referrals WHERE id = $1 AND status = $2")
            .bind(id)
            .bind(ReferralStatus::Draft.code())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.scrub().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Delete every draft last saved before `cutoff`, with its attachments.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn purge_drafts(&self, cutoff: OffsetDateTime) -> Result<DraftPurge> {
        let mut tx = self.begin().await?;
        // `status = 'draft'` written out, not bound: only then can the databases use the
        // partial index of drafts (`referrals_drafts`).
        let attachments = sqlx::query(
            "DELETE FROM attachments WHERE referral_id IN \
             (SELECT id FROM referrals WHERE status = 'draft' AND saved_at < $1)",
        )
        .bind(to_ms(cutoff))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let drafts = sqlx::query("DELETE FROM referrals WHERE status = 'draft' AND saved_at < $1")
            .bind(to_ms(cutoff))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        if drafts > 0 {
            self.scrub().await?;
        }
        Ok(DraftPurge {
            drafts,
            attachments,
        })
    }

    /// After deleting personal data, leave no copy behind in the database files: SQLite
    /// runs with `secure_delete` (freed pages are zeroed) and the write-ahead log is
    /// checkpointed and truncated; PostgreSQL's dead rows are vacuumed.
    async fn scrub(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(&self.pool)
                    .await?;
            }
            Backend::Postgres => {
                sqlx::query("VACUUM attachments, referrals")
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(referral_id = referral_id))]
    pub async fn add_attachment(
        &self,
        referral_id: i64,
        public_id: &str,
        file_name: &str,
        kind: &str,
        content: &[u8],
        now: OffsetDateTime,
    ) -> Result<AttachmentRow> {
        let row = sqlx::query(
            "INSERT INTO attachments (public_id, referral_id, file_name, kind, size_bytes, content, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             RETURNING id, public_id, referral_id, file_name, kind, size_bytes, created_at",
        )
        .bind(public_id)
        .bind(referral_id)
        .bind(file_name)
        .bind(kind)
        .bind(content.len() as i64)
        .bind(content)
        .bind(to_ms(now))
        .fetch_one(&self.pool)
        .await?;
        attachment_from_row(&row)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(referral_id = referral_id))]
    pub async fn attachments_of(&self, referral_id: i64) -> Result<Vec<AttachmentRow>> {
        let rows = sqlx::query(
            "SELECT id, public_id, referral_id, file_name, kind, size_bytes, created_at FROM attachments \
             WHERE referral_id = $1 ORDER BY id",
        )
        .bind(referral_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(attachment_from_row).collect()
    }

    /// The attachment and its bytes, only if it belongs to `referral_id`.
    #[tracing::instrument(level = "debug", skip_all, fields(referral_id = referral_id))]
    pub async fn attachment_content(
        &self,
        referral_id: i64,
        public_id: &str,
    ) -> Result<Option<(AttachmentRow, Vec<u8>)>> {
        let row = sqlx::query(
            "SELECT id, public_id, referral_id, file_name, kind, size_bytes, created_at, content FROM attachments \
             WHERE referral_id = $1 AND public_id = $2",
        )
        .bind(referral_id)
        .bind(public_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok((
                attachment_from_row(&r)?,
                r.try_get::<Vec<u8>, _>("content")?,
            ))
        })
        .transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(referral_id = referral_id))]
    pub async fn delete_attachment(&self, referral_id: i64, public_id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM attachments WHERE referral_id = $1 AND public_id = $2")
            .bind(referral_id)
            .bind(public_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Keep answers posted after the session timed out, to replay once the person signs in
    /// again. They belong to their draft: deleting or purging the draft deletes them.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn add_pending_save(
        &self,
        p: &NewPendingSave<'_>,
        now: OffsetDateTime,
    ) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO pending_saves (user_id, referral_id, section, base_version, fields, created_at, kind) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(p.user_id)
        .bind(p.referral_id)
        .bind(p.section)
        .bind(p.base_version)
        .bind(p.fields_json)
        .bind(to_ms(now))
        .bind(p.kind.code())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// The kept answers of `user_id` waiting for them to sign in again, oldest first.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = user_id))]
    pub async fn pending_saves_of(&self, user_id: i64) -> Result<Vec<PendingSave>> {
        let rows = sqlx::query(&format!(
            "SELECT {PENDING_COLUMNS} FROM pending_saves p JOIN referrals r ON r.id = p.referral_id \
             WHERE p.user_id = $1 AND p.kind = 'kept' ORDER BY p.id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pending_from_row).collect()
    }

    /// The answers of a draft that wait for its author to choose between them and what was
    /// saved since (conflicts), oldest first.
    #[tracing::instrument(level = "debug", skip_all, fields(referral_id = referral_id))]
    pub async fn conflicts_of(&self, referral_id: i64) -> Result<Vec<PendingSave>> {
        let rows = sqlx::query(&format!(
            "SELECT {PENDING_COLUMNS} FROM pending_saves p JOIN referrals r ON r.id = p.referral_id \
             WHERE p.referral_id = $1 AND p.kind = 'conflict' ORDER BY p.id"
        ))
        .bind(referral_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pending_from_row).collect()
    }

    /// Turn kept answers into a conflict waiting for their author.
    #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
    pub async fn mark_pending_conflict(&self, id: i64) -> Result<()> {
        sqlx::query("UPDATE pending_saves SET kind = 'conflict' WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// How many kept answers of `user_id` wait for them to sign in again.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = user_id))]
    pub async fn count_pending_saves(&self, user_id: i64) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM pending_saves WHERE user_id = $1 AND kind = 'kept'",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
    pub async fn delete_pending_save(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM pending_saves WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// How many drafts `owner_id` has open (for the per-referrer cap).
    #[tracing::instrument(level = "debug", skip_all, fields(owner_id = owner_id))]
    pub async fn count_drafts_of(&self, owner_id: i64) -> Result<i64> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM referrals WHERE owner_id = $1 AND status = $2")
                .bind(owner_id)
                .bind(ReferralStatus::Draft.code())
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get("n")?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn purge_pending_saves(&self, cutoff: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM pending_saves WHERE created_at < $1")
            .bind(to_ms(cutoff))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
