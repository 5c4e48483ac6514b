//! The append-only audit log, hash-chained so an edited or deleted row is detected.
//!
//! Each row stores `prev_hash` (the previous row's `hash`) and
//! `hash = SHA-256("ehm-audit-v1" ‖ prev_hash ‖ id ‖ at ‖ actor ‖ action ‖ object_type ‖
//! object_id ‖ outcome ‖ ip)`, every field length-prefixed (see [`row_hash`]), so changing
//! any field of a row, deleting a row or reordering rows breaks the chain at that row or the
//! next one; [`Store::verify_audit_chain`] finds the first break.
//!
//! Writes are serialised so the chain is linear: on PostgreSQL the writer takes
//! `pg_advisory_xact_lock` inside its transaction before reading the last hash; on SQLite
//! it first updates the one-row `audit_chain_lock` table, which takes the database's write
//! lock, so the read of the last hash happens inside the same write transaction. Both locks
//! are held until the transaction (the caller's, for [`Store::audit_tx`]) commits.
//!
//! Rows written before the chain existed (migration 0005) have no hash; they are chained
//! *virtually* (their hashes are computed, not stored) and the first stored row links to
//! that computed head, so they are covered too. A row without a hash after a hashed one is
//! reported as broken.
//!
//! Limits: a hash chain without a secret proves order and integrity against anyone who
//! cannot recompute it. Someone with write access to the database *and* this code could
//! rewrite every row after the one they changed, or drop rows from the very end. The head
//! hash that `ehm audit verify` prints can be kept elsewhere (a daily note, a ticket) to
//! catch that: the head must always extend the one recorded before.

use crate::exec::Exec;
use crate::mash::{Bind, bind_all};
use crate::referrals::SaveOutcome;
use crate::row::Row as ColumnRow;
use crate::{Backend, Result, Store, Tx, from_ms, to_ms};
use sha2::{Digest, Sha256};
use sqlx::Row;
use time::OffsetDateTime;

/// One line of the append-only audit log. Identifiers only: never a name, a date
/// of birth, a password, a code or free text.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub actor_user_id: Option<i64>,
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: &'a str,
    pub outcome: &'a str,
    pub ip: &'a str,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditRecord {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor_user_id: Option<i64>,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub outcome: String,
    pub ip: String,
}

/// The chain's starting value (before the first row).
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Arbitrary constant naming the audit chain's advisory lock on PostgreSQL ("ehmaudit").
const PG_LOCK_KEY: i64 = 0x6568_6d61_7564_6974;

/// The result of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Rows checked.
    pub rows: u64,
    /// The first row that does not fit the chain, and why.
    pub first_broken: Option<BrokenRow>,
    /// The hash of the last row (or of the rows up to the break).
    pub head: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenRow {
    pub id: i64,
    pub reason: String,
}

/// Which audit records to show on the administrator's search page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub user_id: Option<i64>,
    /// "referral", "person", "user", …; with `object_id`, one object's records.
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    /// From this instant (inclusive).
    pub from: Option<OffsetDateTime>,
    /// Before this instant (exclusive).
    pub to: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditPage {
    pub rows: Vec<AuditRecord>,
    pub total: i64,
}

/// A row's fields as hashed.
struct ChainRow {
    id: i64,
    at: i64,
    actor_user_id: Option<i64>,
    action: String,
    object_type: String,
    object_id: String,
    outcome: String,
    ip: String,
    prev_hash: Option<String>,
    hash: Option<String>,
}

fn chain_row<R: ColumnRow + ?Sized>(r: &R) -> Result<ChainRow> {
    Ok(ChainRow {
        id: r.int("id")?,
        at: r.int("at")?,
        actor_user_id: r.opt_int("actor_user_id")?,
        action: r.text("action")?,
        object_type: r.text("object_type")?,
        object_id: r.text("object_id")?,
        outcome: r.text("outcome")?,
        ip: r.text("ip")?,
        prev_hash: r.opt_text("prev_hash")?,
        hash: r.opt_text("hash")?,
    })
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// The canonical hash of a row: a version tag, the previous hash, then every field,
/// integers as 8 big-endian bytes, an absent actor as one 0 byte (present: 1 byte then
/// the id), text as its 8-byte length then its UTF-8 bytes.
#[allow(clippy::too_many_arguments)]
pub fn row_hash(
    prev_hash: &str,
    id: i64,
    at_ms: i64,
    actor_user_id: Option<i64>,
    action: &str,
    object_type: &str,
    object_id: &str,
    outcome: &str,
    ip: &str,
) -> String {
    let mut h = Sha256::new();
    let text = |h: &mut Sha256, s: &str| {
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    };
    text(&mut h, "ehm-audit-v1");
    text(&mut h, prev_hash);
    h.update(id.to_be_bytes());
    h.update(at_ms.to_be_bytes());
    match actor_user_id {
        None => h.update([0u8]),
        Some(a) => {
            h.update([1u8]);
            h.update(a.to_be_bytes());
        }
    }
    for s in [action, object_type, object_id, outcome, ip] {
        text(&mut h, s);
    }
    hex(&h.finalize())
}

fn expected_hash(prev: &str, r: &ChainRow) -> String {
    row_hash(
        prev,
        r.id,
        r.at,
        r.actor_user_id,
        &r.action,
        &r.object_type,
        &r.object_id,
        &r.outcome,
        &r.ip,
    )
}

/// Walks rows in id order, carrying the chain. Stops at the first break.
struct Walker {
    prev: String,
    prev_id: Option<i64>,
    seen_hashed: bool,
    rows: u64,
    broken: Option<BrokenRow>,
}

impl Walker {
    fn new() -> Self {
        Walker {
            prev: GENESIS_HASH.to_owned(),
            prev_id: None,
            seen_hashed: false,
            rows: 0,
            broken: None,
        }
    }

    fn step(&mut self, r: &ChainRow) {
        if self.broken.is_some() {
            return;
        }
        self.rows += 1;
        let expected = expected_hash(&self.prev, r);
        let after = match self.prev_id {
            Some(p) => format!("row {p}"),
            None => "the start of the log".to_owned(),
        };
        match (&r.hash, &r.prev_hash) {
            (None, _) if !self.seen_hashed => {
                // Written before the chain existed: chained virtually.
                self.prev = expected;
            }
            (None, _) => {
                self.broken = Some(BrokenRow {
                    id: r.id,
                    reason: format!(
                        "it has no hash but follows hashed rows (added outside the portal after {after})"
                    ),
                });
            }
            (Some(_), prev) if prev.as_deref() != Some(self.prev.as_str()) => {
                self.broken = Some(BrokenRow {
                    id: r.id,
                    reason: format!(
                        "its previous hash does not match {after}: a row between them was deleted, \
                         or {after} was changed"
                    ),
                });
            }
            (Some(h), _) if *h != expected => {
                self.broken = Some(BrokenRow {
                    id: r.id,
                    reason: "its contents do not match its hash: the row was changed".to_owned(),
                });
            }
            (Some(h), _) => {
                self.seen_hashed = true;
                self.prev = h.clone();
            }
        }
        self.prev_id = Some(r.id);
    }
}

const CHAIN_COLUMNS: &str =
    "id, at, actor_user_id, action, object_type, object_id, outcome, ip, prev_hash, hash";
const PAGE: i64 = 10_000;

/// Walks the whole log in id order, in pages.
async fn walk<C: Exec>(conn: &mut C) -> Result<Walker> {
    let mut w = Walker::new();
    let mut after = i64::MIN;
    loop {
        let rows = conn
            .rows(
                &format!(
                    "SELECT {CHAIN_COLUMNS} FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2"
                ),
                &[Bind::Int(after), Bind::Int(PAGE)],
            )
            .await?;
        for r in &rows {
            let r = chain_row(r)?;
            w.step(&r);
            after = r.id;
        }
        if (rows.len() as i64) < PAGE || w.broken.is_some() {
            return Ok(w);
        }
    }
}

/// An audit record as the writer holds it.
struct Record {
    actor_user_id: Option<i64>,
    action: String,
    object_type: String,
    object_id: String,
    outcome: String,
    ip: String,
    at: OffsetDateTime,
}

impl Record {
    fn of(e: &AuditEntry<'_>, at: OffsetDateTime) -> Record {
        Record {
            actor_user_id: e.actor_user_id,
            action: e.action.to_owned(),
            object_type: e.object_type.to_owned(),
            object_id: e.object_id.to_owned(),
            outcome: e.outcome.to_owned(),
            ip: e.ip.to_owned(),
            at,
        }
    }

    fn entry(&self) -> AuditEntry<'_> {
        AuditEntry {
            actor_user_id: self.actor_user_id,
            action: &self.action,
            object_type: &self.object_type,
            object_id: &self.object_id,
            outcome: &self.outcome,
            ip: &self.ip,
        }
    }
}

/// On failure: whether the database was unavailable, and the error.
type Failure = (bool, String);

/// Work waiting for the next group commit.
enum Pending {
    /// An audit record on its own.
    Audit {
        record: Record,
        done: tokio::sync::oneshot::Sender<std::result::Result<(), Failure>>,
    },
    /// A draft save (the draft encoded) and its audit record, written if the save is.
    Save {
        id: i64,
        expected_version: i64,
        data: String,
        record: Record,
        done: tokio::sync::oneshot::Sender<std::result::Result<SaveOutcome, Failure>>,
    },
}

/// What a caller of the group commit gets back.
fn finished<T>(
    r: std::result::Result<std::result::Result<T, Failure>, tokio::sync::oneshot::error::RecvError>,
) -> Result<T> {
    match r {
        Ok(Ok(t)) => Ok(t),
        Ok(Err((true, message))) => Err(crate::StorageError::Unavailable(format!(
            "group commit failed: {message}"
        ))),
        Ok(Err((false, message))) => Err(crate::StorageError::Corrupt(format!(
            "group commit failed: {message}"
        ))),
        Err(_) => Err(crate::StorageError::Corrupt(
            "the writer stopped before committing".into(),
        )),
    }
}

/// Most records one group commit writes.
const BATCH: usize = 256;

/// Most audit rows in one `INSERT` (10 parameters each).
const INSERT_ROWS: usize = 64;

/// The last row of the chain, while its lock is held.
struct ChainHead {
    last_id: i64,
    prev: String,
}

/// Writes audit records that stand on their own (page views, sign-in attempts) in group
/// commits: whatever has queued while the previous commit was running is written in one
/// transaction, and each caller returns only once its record is durable. Under load this
/// turns one commit per page view into one per batch; alone, a record costs what it did.
pub(crate) struct Batcher {
    queue: tokio::sync::mpsc::UnboundedSender<Pending>,
}

type Queue = tokio::sync::mpsc::UnboundedReceiver<Pending>;

impl Batcher {
    /// On SQLite (a database file), the writer is a thread of its own with a connection
    /// of its own ([`crate::direct`]): a commit's statements run there one after the other,
    /// instead of each being handed to a sqlx connection's thread and back, and its fsync
    /// never holds up a request thread. On PostgreSQL (and SQLite in memory), a task on
    /// the runtime writing through a hot connection.
    fn start(store: Store) -> Batcher {
        let (queue, rx) = tokio::sync::mpsc::unbounded_channel::<Pending>();
        let path = store.direct.as_ref().map(|d| d.path().to_owned());
        match path {
            Some(path) => {
                // The thread holds no `Store`: when the last one is dropped, the queue
                // closes and the thread ends, closing its connection.
                let spawned = std::thread::Builder::new()
                    .name("sqlite-writer".into())
                    .spawn(move || sqlite_writer(&path, rx));
                if let Err(e) = spawned {
                    // The queue's receiver went with the closure: senders see it closed
                    // and write their group of one themselves.
                    tracing::error!(error = %e, "the SQLite writer thread could not start");
                }
            }
            None => {
                tokio::spawn(runtime_writer(store, rx));
            }
        }
        Batcher { queue }
    }
}

/// The first item and whatever else is queued, up to [`BATCH`].
fn gather(first: Pending, rx: &mut Queue) -> Vec<Pending> {
    let mut batch = vec![first];
    while batch.len() < BATCH {
        match rx.try_recv() {
            Ok(p) => batch.push(p),
            Err(_) => break,
        }
    }
    batch
}

async fn runtime_writer(store: Store, mut rx: Queue) {
    while let Some(first) = rx.recv().await {
        // Let the tasks that are ready run first: under load, more records and
        // saves join this commit; when idle, this returns at once.
        tokio::task::yield_now().await;
        let batch = gather(first, &mut rx);
        let started = std::time::Instant::now();
        let written = store.write_batch(&batch).await;
        answer(batch, written, started);
    }
}

/// The SQLite writer starts a commit at most this often. Each commit costs the same
/// statements, a WAL write and an fsync whatever it holds: back to back, under load a
/// commit held 4 or 5 records and the writer's thread was busy all the time; spaced, more
/// records join each one, for a millisecond or two more on a save. Idle, the first
/// record is written at once.
const SQLITE_COMMIT_EVERY: std::time::Duration = std::time::Duration::from_millis(2);

fn sqlite_writer(path: &std::path::Path, mut rx: Queue) {
    // Checkpoints on a thread of their own (see `crate::direct::checkpointer`); it ends
    // when this thread does. Without it, the writer checkpoints as SQLite does by default.
    let mut checkpoints = crate::direct::checkpointer(path);
    let mut conn: Option<rusqlite::Connection> = None;
    let mut last: Option<std::time::Instant> = None;
    while let Some(first) = rx.blocking_recv() {
        if let Some(wait) = last.and_then(|t| SQLITE_COMMIT_EVERY.checked_sub(t.elapsed())) {
            std::thread::sleep(wait);
        }
        let batch = gather(first, &mut rx);
        let started = std::time::Instant::now();
        last = Some(started);
        let written = write_on_sqlite(path, &mut conn, checkpoints.is_some(), &batch);
        if let (Ok(_), Some(c)) = (&written, &checkpoints) {
            c.after_commit();
        }
        if written.is_err() {
            // Closing the connection rolls back whatever it had open; the next group
            // opens a new one.
            conn = None;
        }
        answer(batch, written, started);
        if let (Some(c), Some(db)) = (&mut checkpoints, &conn)
            && let Err(e) = c.restart_if_due(db)
        {
            tracing::warn!(error = %e, "the write-ahead log could not be started again; tried again later");
            conn = None;
        }
    }
}

/// One group commit on the SQLite writer's connection (opened if needed).
fn write_on_sqlite(
    path: &std::path::Path,
    conn: &mut Option<rusqlite::Connection>,
    checkpointed_elsewhere: bool,
    batch: &[Pending],
) -> Result<Vec<Option<SaveOutcome>>> {
    let c = match conn {
        Some(c) => c,
        None => conn.insert(crate::direct::open_writer(path, checkpointed_elsewhere)?),
    };
    c.execute_batch(crate::SQLITE_BEGIN)?;
    let outcomes = crate::direct::at_once(write_batch_on(Backend::Sqlite, c, batch))??;
    c.execute_batch("COMMIT")?;
    Ok(outcomes)
}

/// Tells every caller in `batch` what its commit came to.
fn answer(
    batch: Vec<Pending>,
    written: Result<Vec<Option<SaveOutcome>>>,
    started: std::time::Instant,
) {
    tracing::debug!(
        items = batch.len(),
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "group commit"
    );
    match written {
        Ok(outcomes) => {
            for (p, outcome) in batch.into_iter().zip(outcomes) {
                match p {
                    Pending::Audit { done, .. } => {
                        let _ = done.send(Ok(()));
                    }
                    Pending::Save { done, .. } => {
                        let _ = done.send(Ok(outcome.unwrap_or(SaveOutcome::Conflict)));
                    }
                }
            }
        }
        Err(e) => {
            let failure = (e.is_unavailable(), e.to_string());
            for p in batch {
                match p {
                    Pending::Audit { done, .. } => {
                        let _ = done.send(Err(failure.clone()));
                    }
                    Pending::Save { done, .. } => {
                        let _ = done.send(Err(failure.clone()));
                    }
                }
            }
        }
    }
}

impl Store {
    /// Record `e` durably (it is committed when this returns), in a group commit with any
    /// other records written at the same moment.
    pub async fn audit(&self, e: &AuditEntry<'_>, now: OffsetDateTime) -> Result<()> {
        let batcher = self
            .audit_batcher
            .get_or_init(|| async { Batcher::start(self.clone()) })
            .await;
        let (done, wait) = tokio::sync::oneshot::channel();
        let pending = Pending::Audit {
            record: Record::of(e, now),
            done,
        };
        if let Err(tokio::sync::mpsc::error::SendError(pending)) = batcher.queue.send(pending) {
            // The writer's runtime has gone (a command finishing): a group of one, here.
            self.write_batch(std::slice::from_ref(&pending)).await?;
            return Ok(());
        }
        finished(wait.await)
    }

    /// See [`Store::save_draft_audited`].
    pub(crate) async fn grouped_save(
        &self,
        id: i64,
        expected_version: i64,
        data: String,
        now: OffsetDateTime,
        audit: &AuditEntry<'_>,
    ) -> Result<SaveOutcome> {
        let batcher = self
            .audit_batcher
            .get_or_init(|| async { Batcher::start(self.clone()) })
            .await;
        let (done, wait) = tokio::sync::oneshot::channel();
        let pending = Pending::Save {
            id,
            expected_version,
            data,
            record: Record::of(audit, now),
            done,
        };
        if let Err(tokio::sync::mpsc::error::SendError(pending)) = batcher.queue.send(pending) {
            // The writer's runtime has gone: a group of one, written here.
            let outcome = self.write_batch(std::slice::from_ref(&pending)).await?;
            return Ok(outcome
                .into_iter()
                .flatten()
                .next()
                .unwrap_or(SaveOutcome::Conflict));
        }
        finished(wait.await)
    }

    /// One group commit. For each item in order, what it came to (None for an audit
    /// record); nothing is written unless all of it is. The chain lock is taken and its
    /// head read once, and the batch's records go in as multi-row inserts.
    async fn write_batch(&self, batch: &[Pending]) -> Result<Vec<Option<SaveOutcome>>> {
        // On a hot connection: no ping before or after (see `crate::hot`). Any failure
        // drops the transaction, which closes its connection and so rolls it back.
        let mut tx = crate::hot::begin(&self.hot, self.begin_sql()).await?;
        let outcomes = write_batch_on(self.backend, tx.conn(), batch).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Audit inside a transaction, so the record and the change commit together. Holds the
    /// chain lock until that transaction ends.
    pub async fn audit_tx(
        &self,
        tx: &mut Tx<'_>,
        e: &AuditEntry<'_>,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut head = lock_chain(self.backend, &mut **tx).await?;
        append_audit(self.backend, &mut **tx, &mut head, &[&Record::of(e, now)]).await
    }

    /// Recomputes the chain over every row (`ehm audit verify`).
    pub async fn verify_audit_chain(&self) -> Result<ChainReport> {
        let mut conn = self.pool.acquire().await?;
        let w = walk(&mut *conn).await?;
        Ok(ChainReport {
            rows: w.rows,
            first_broken: w.broken,
            head: w.prev,
        })
    }

    pub async fn list_audit(&self, limit: i64, offset: i64) -> Result<Vec<AuditRecord>> {
        Ok(self
            .search_audit(&AuditFilter::default(), limit, offset)
            .await?
            .rows)
    }

    /// The administrator's audit search: newest first, one page and the total.
    pub async fn search_audit(
        &self,
        f: &AuditFilter,
        limit: i64,
        offset: i64,
    ) -> Result<AuditPage> {
        let mut conds: Vec<String> = vec!["1 = 1".into()];
        let mut binds: Vec<Bind> = Vec::new();
        let mut push = |conds: &mut Vec<String>, sql: &str, b: Bind| {
            binds.push(b);
            conds.push(format!("{sql} ${}", binds.len()));
        };
        if let Some(u) = f.user_id {
            push(&mut conds, "actor_user_id =", Bind::Int(u));
        }
        if let Some(t) = &f.object_type {
            push(&mut conds, "object_type =", Bind::Text(t.clone()));
        }
        if let Some(o) = &f.object_id {
            push(&mut conds, "object_id =", Bind::Text(o.clone()));
        }
        if let Some(from) = f.from {
            push(&mut conds, "at >=", Bind::Int(to_ms(from)));
        }
        if let Some(to) = f.to {
            push(&mut conds, "at <", Bind::Int(to_ms(to)));
        }
        let where_ = conds.join(" AND ");
        let total: i64 = bind_all(
            sqlx::query(&format!(
                "SELECT COUNT(*) AS n FROM audit_log WHERE {where_}"
            )),
            &binds,
        )
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        if offset >= total {
            // A page past the end: nothing to read (an offset of millions would make the
            // database step over every record to find none).
            return Ok(AuditPage {
                rows: Vec::new(),
                total,
            });
        }
        let n = binds.len();
        binds.push(Bind::Int(limit.clamp(1, 1_000)));
        binds.push(Bind::Int(offset.max(0)));
        let sql = format!(
            "SELECT id, at, actor_user_id, action, object_type, object_id, outcome, ip FROM audit_log \
             WHERE {where_} ORDER BY id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let rows = bind_all(sqlx::query(&sql), &binds)
            .fetch_all(&self.pool)
            .await?;
        let rows = rows
            .iter()
            .map(|r| {
                Ok(AuditRecord {
                    id: r.try_get("id")?,
                    at: from_ms(r.try_get("at")?),
                    actor_user_id: r.try_get("actor_user_id")?,
                    action: r.try_get("action")?,
                    object_type: r.try_get("object_type")?,
                    object_id: r.try_get("object_id")?,
                    outcome: r.try_get("outcome")?,
                    ip: r.try_get("ip")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(AuditPage { rows, total })
    }
}

/// [`Store::write_batch`] on `conn` (sqlx's or SQLite's own), whose transaction is open.
async fn write_batch_on<C: Exec>(
    backend: Backend,
    conn: &mut C,
    batch: &[Pending],
) -> Result<Vec<Option<SaveOutcome>>> {
    // The saves in one statement, at most one per draft in each (a second save of the
    // same draft, from another tab, comes after the first, in order, and conflicts
    // with it unless it was based on the version the first one wrote).
    let mut outcomes: Vec<Option<SaveOutcome>> = vec![None; batch.len()];
    let mut waiting: Vec<(usize, crate::referrals::DraftSave<'_>)> = batch
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match p {
            Pending::Save {
                id,
                expected_version,
                data,
                record,
                ..
            } => Some((i, (*id, *expected_version, data.as_str(), record.at))),
            Pending::Audit { .. } => None,
        })
        .collect();
    while !waiting.is_empty() {
        let mut drafts = std::collections::HashSet::new();
        let (now, later): (Vec<_>, Vec<_>) = waiting
            .into_iter()
            .partition(|(_, save)| drafts.insert(save.0));
        let saves: Vec<_> = now.iter().map(|(_, save)| *save).collect();
        for ((i, _), outcome) in now
            .iter()
            .zip(crate::referrals::save_encoded_many(conn, &saves).await?)
        {
            outcomes[*i] = Some(outcome);
        }
        waiting = later;
    }
    // The audit records in the order they came: every one on its own, and each save's
    // if it was saved.
    let records: Vec<&Record> = batch
        .iter()
        .zip(&outcomes)
        .filter_map(|(p, outcome)| match (p, outcome) {
            (Pending::Audit { record, .. }, _) => Some(record),
            (Pending::Save { record, .. }, Some(SaveOutcome::Saved { .. })) => Some(record),
            (Pending::Save { .. }, _) => None,
        })
        .collect();
    if !records.is_empty() {
        let mut head = lock_chain(backend, conn).await?;
        for chunk in records.chunks(INSERT_ROWS) {
            append_audit(backend, conn, &mut head, chunk).await?;
        }
    }
    Ok(outcomes)
}

/// Takes the chain lock (held until `tx` ends) and reads the chain's head.
async fn lock_chain<C: Exec>(backend: Backend, conn: &mut C) -> Result<ChainHead> {
    match backend {
        Backend::Postgres => {
            conn.rows(
                "SELECT pg_advisory_xact_lock($1)",
                &[Bind::Int(PG_LOCK_KEY)],
            )
            .await?;
        }
        Backend::Sqlite => {
            conn.run(
                "UPDATE audit_chain_lock SET writes = writes + 1 WHERE id = 1",
                &[],
            )
            .await?;
        }
    }
    let last = conn
        .rows(
            &format!("SELECT {CHAIN_COLUMNS} FROM audit_log ORDER BY id DESC LIMIT 1"),
            &[],
        )
        .await?;
    let (last_id, prev) = match last.first().map(chain_row).transpose()? {
        None => (0, GENESIS_HASH.to_owned()),
        Some(ChainRow {
            id, hash: Some(h), ..
        }) => (id, h),
        // Rows from before the chain: compute their virtual head once.
        Some(ChainRow { id, .. }) => (id, walk(conn).await?.prev),
    };
    Ok(ChainHead { last_id, prev })
}

/// Appends `records` in order after `head` (whose lock `tx` holds), in one statement.
async fn append_audit<C: Exec>(
    backend: Backend,
    conn: &mut C,
    head: &mut ChainHead,
    records: &[&Record],
) -> Result<()> {
    let ids: Vec<i64> = match backend {
        // Under the lock no one else appends, so the ids follow the last one.
        Backend::Sqlite => (1..=records.len() as i64)
            .map(|n| head.last_id + n)
            .collect(),
        Backend::Postgres => {
            let mut ids: Vec<i64> = conn
                .rows(
                    "SELECT nextval(pg_get_serial_sequence('audit_log', 'id')) AS id \
                     FROM generate_series(1, $1)",
                    &[Bind::Int(records.len() as i64)],
                )
                .await?
                .iter()
                .map(|r| r.int("id"))
                .collect::<Result<_>>()?;
            ids.sort_unstable();
            ids
        }
    };
    let mut binds: Vec<Bind> = Vec::with_capacity(records.len() * 10);
    let mut rows: Vec<String> = Vec::with_capacity(records.len());
    for (record, id) in records.iter().zip(ids) {
        let e = record.entry();
        let at = to_ms(record.at);
        let hash = row_hash(
            &head.prev,
            id,
            at,
            e.actor_user_id,
            e.action,
            e.object_type,
            e.object_id,
            e.outcome,
            e.ip,
        );
        let n = binds.len();
        let marks: Vec<String> = (n + 1..=n + 10).map(|i| format!("${i}")).collect();
        rows.push(format!("({})", marks.join(", ")));
        binds.extend([
            Bind::Int(id),
            Bind::Int(at),
            match e.actor_user_id {
                Some(a) => Bind::Int(a),
                None => Bind::NullInt,
            },
            Bind::Text(e.action.to_owned()),
            Bind::Text(e.object_type.to_owned()),
            Bind::Text(e.object_id.to_owned()),
            Bind::Text(e.outcome.to_owned()),
            Bind::Text(e.ip.to_owned()),
            Bind::Text(std::mem::replace(&mut head.prev, hash.clone())),
            Bind::Text(hash),
        ]);
        head.last_id = id;
    }
    conn.run(
        &format!(
            "INSERT{} INTO audit_log (id, at, actor_user_id, action, object_type, object_id, outcome, ip, prev_hash, hash) \
             VALUES {}",
            C::MANY_ROWS,
            rows.join(", ")
        ),
        &binds,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_changes_with_every_field() {
        let base = row_hash(GENESIS_HASH, 1, 2, Some(3), "a", "b", "c", "d", "e");
        assert_eq!(base.len(), 64);
        let variants = [
            row_hash("1", 1, 2, Some(3), "a", "b", "c", "d", "e"),
            row_hash(GENESIS_HASH, 9, 2, Some(3), "a", "b", "c", "d", "e"),
            row_hash(GENESIS_HASH, 1, 9, Some(3), "a", "b", "c", "d", "e"),
            row_hash(GENESIS_HASH, 1, 2, None, "a", "b", "c", "d", "e"),
            row_hash(GENESIS_HASH, 1, 2, Some(9), "a", "b", "c", "d", "e"),
            row_hash(GENESIS_HASH, 1, 2, Some(3), "x", "b", "c", "d", "e"),
            row_hash(GENESIS_HASH, 1, 2, Some(3), "a", "x", "c", "d", "e"),
            row_hash(GENESIS_HASH, 1, 2, Some(3), "a", "b", "x", "d", "e"),
            row_hash(GENESIS_HASH, 1, 2, Some(3), "a", "b", "c", "x", "e"),
            row_hash(GENESIS_HASH, 1, 2, Some(3), "a", "b", "c", "d", "x"),
        ];
        for v in variants {
            assert_ne!(v, base);
        }
    }

    #[test]
    fn moving_text_between_fields_changes_the_hash() {
        // Length prefixes: "ab" + "c" is not "a" + "bc".
        assert_ne!(
            row_hash(GENESIS_HASH, 1, 2, None, "ab", "c", "", "", ""),
            row_hash(GENESIS_HASH, 1, 2, None, "a", "bc", "", "", "")
        );
    }
}
