//! SQLite reads made by nearly every request (the session lookup, the referral behind a
//! page), run on the calling thread instead of through sqlx.
//!
//! sqlx runs every SQLite connection on a thread of its own and hands each statement to
//! it and each row back through channels: two thread wake-ups and context switches for a
//! lookup that SQLite itself answers in microseconds from its page cache (the database is
//! memory-mapped). Under load those hand-overs cost more CPU than the statements did
//! (docs/benchmarks.md). Here the same SQL runs on a connection of this module's own,
//! opened on the same file (`rusqlite`, over the same SQLite library sqlx links), on the
//! thread that asked. Only reads: WAL lets them proceed while the single writer commits,
//! and they never wait on it. Writes stay on sqlx's connections, except the group commit
//! (`crate::audit`), which has a connection of its own ([`open_writer`]) on a thread of
//! its own, so that its fsyncs never hold up a request thread.
//!
//! A read sees every commit acknowledged before it started (each statement is its own
//! read transaction). A connection a statement failed on is closed, not reused.

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::row::Row;
use crate::{Result, StorageError};

/// Idle connections kept (more are opened when more threads read at once, then closed).
const KEEP: usize = 4;

/// How long a read waits for a lock (only during WAL recovery or a checkpoint that
/// truncates the log; ordinary commits never block a WAL reader).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) struct Direct {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Direct {
    /// Reads on the SQLite file at `path`, once it exists (an in-memory database has no
    /// file another connection could open: its reads stay on sqlx's connections).
    pub(crate) fn new(path: &Path) -> Option<Direct> {
        path.is_file().then(|| Direct {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn open(&self) -> Result<Connection> {
        let conn = open(&self.path, BUSY_TIMEOUT)?;
        // Reads only, with read(2) rather than a memory map: these connections read a
        // row or two between commits, and SQLite unmaps the whole file from a connection
        // whenever another one committed since its last read (`pagerBeginReadTransaction`),
        // so every lookup paid for an munmap (a TLB flush on every core), a new map and
        // its page faults: 9 % of their time, more than reading the pages.
        conn.execute_batch("PRAGMA query_only = ON; PRAGMA mmap_size = 0")?;
        Ok(conn)
    }

    /// `sql` with the text parameters `keys`: its first row, mapped by `map`.
    pub(crate) fn query_one<T>(
        &self,
        sql: &str,
        keys: &[&str],
        map: impl FnOnce(&dyn Row) -> Result<T>,
    ) -> Result<Option<T>> {
        let taken = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match taken {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = run(&conn, sql, keys, map);
        if result.is_ok() {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < KEEP {
                idle.push(conn);
            }
        }
        result
    }
}

/// A connection to the file at `path` with the pool's page cache and memory map.
fn open(path: &Path, busy: Duration) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy)?;
    conn.execute_batch("PRAGMA cache_size = -32768; PRAGMA mmap_size = 1073741824;")?;
    // Room for the group commit's statements, one per batch size.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// The group commit's connection (`crate::audit`), with the settings every writer on
/// the pool has (`Store::connect`): commits durable before they are acknowledged
/// (synchronous = FULL in WAL mode), foreign keys enforced, deleted data overwritten, and
/// up to 10 s of waiting for another writer (a command run beside the server).
/// With `checkpointed_elsewhere` ([`checkpointer`]), its commits do not checkpoint.
pub(crate) fn open_writer(path: &Path, checkpointed_elsewhere: bool) -> Result<Connection> {
    let conn = open(path, Duration::from_secs(10))?;
    conn.busy_handler(Some(WRITER_WAITS))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA secure_delete = ON;",
    )?;
    if checkpointed_elsewhere {
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
    }
    Ok(conn)
}

/// The writer's busy handler: it waits for a lock (another process writing, a checkpoint
/// finishing) in steps of 0.2 ms for up to 10 s; SQLite's own steps grow to 100 ms.
const WRITER_WAITS: fn(i32) -> bool = wait_a_little::<50_000>;

/// A busy handler: true (try the lock again) after 0.2 ms, `TRIES` times.
fn wait_a_little<const TRIES: i32>(attempts: i32) -> bool {
    if attempts >= TRIES {
        return false;
    }
    std::thread::sleep(Duration::from_micros(200));
    true
}

/// Most often the checkpointer runs.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);

/// Starts the thread that copies committed pages from the WAL back into the database file
/// (a checkpoint). By default SQLite does that on the connection whose commit takes the
/// log past 1,000 pages, so under a load of saves every few dozen group commits one
/// waited for a checkpoint and its fsync: 15 to 57 ms, with every save behind it queued.
/// Here a checkpoint (`PASSIVE`: it never waits for, nor holds up, readers or the
/// writer) runs on a thread of its own at most every [`CHECKPOINT_EVERY`] after commits,
/// told by the writer through [`Checkpoints::after_commit`], and the writer's connection
/// does not checkpoint, except to start the log again ([`Checkpoints::restart_if_due`]).
/// The thread ends when the [`Checkpoints`] is dropped. `None` if the thread could not
/// start: the writer then checkpoints as SQLite does by default.
pub(crate) fn checkpointer(path: &Path) -> Option<Checkpoints> {
    let (tell, told) = std::sync::mpsc::sync_channel::<()>(1);
    let log_pages = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
    let path = path.to_owned();
    let seen = log_pages.clone();
    let spawned = std::thread::Builder::new()
        .name("sqlite-ckpt".into())
        .spawn(move || {
            let mut conn: Option<Connection> = None;
            while told.recv().is_ok() {
                let started = std::time::Instant::now();
                let done = match &conn {
                    Some(c) => checkpoint_as(c, "PASSIVE"),
                    None => open(&path, Duration::ZERO).and_then(|c| {
                        let done = checkpoint_as(&c, "PASSIVE");
                        conn = Some(c);
                        done
                    }),
                };
                match done {
                    Ok((_, log)) => seen.store(log, std::sync::atomic::Ordering::Relaxed),
                    Err(e) => {
                        tracing::warn!(error = %e, "WAL checkpoint failed; tried again after the next commit");
                        conn = None;
                    }
                }
                std::thread::sleep(CHECKPOINT_EVERY.saturating_sub(started.elapsed()));
            }
        });
    match spawned {
        Ok(_) => Some(Checkpoints {
            tell,
            log_pages,
            restart_from: std::time::Instant::now(),
            back_off: RESTART_BACK_OFF,
        }),
        Err(e) => {
            tracing::error!(error = %e, "the SQLite checkpoint thread could not start");
            None
        }
    }
}

/// Past this many pages in the log (32 MiB of 4 KiB pages), the writer starts it again
/// from its beginning.
pub const RESTART_PAGES: i64 = 8192;

/// How long after a `RESTART` that gave up the next one is tried: doubled after each
/// that gives up, up to [`RESTART_BACK_OFF_MAX`].
const RESTART_BACK_OFF: Duration = Duration::from_millis(250);
const RESTART_BACK_OFF_MAX: Duration = Duration::from_secs(8);

/// The writer's end of the checkpoint thread.
pub(crate) struct Checkpoints {
    tell: std::sync::mpsc::SyncSender<()>,
    /// Pages in the log after the checkpoint thread's last checkpoint.
    log_pages: std::sync::Arc<std::sync::atomic::AtomicI64>,
    restart_from: std::time::Instant,
    back_off: Duration,
}

impl Checkpoints {
    /// Tells the checkpoint thread that there is something to copy.
    pub(crate) fn after_commit(&self) {
        // Full means a checkpoint is due already.
        let _ = self.tell.try_send(());
    }

    /// Between two group commits, on the writer's connection `conn`: once the log is past
    /// [`RESTART_PAGES`], a `RESTART` checkpoint, which copies what the checkpoint thread
    /// has not yet copied, fsyncs, and waits for the readers still reading the log, so that
    /// the next commit starts the log from its beginning. SQLite starts it again by itself
    /// only when a commit begins with every page of the log already in the database file
    /// and no reader in the log; with the checkpoints on their own thread and lookups all
    /// the time, that moment never came under load (the log grew by about 30 MB a second,
    /// to 1 GB in 40 s, and commits and checkpoints slowed with it: 60 to 80 ms). The
    /// writer does it itself because a checkpoint from another connection has to catch
    /// the writer between two commits, which a busy writer hardly leaves.
    ///
    /// It waits at most 10 ms for a lock (the checkpoint thread's checkpoint, then the
    /// readers), or 100 ms once the log is past twice the limit (one wait that long is
    /// better than a log that keeps growing); if it gave up (a backup or a long report
    /// reads for seconds), the next try is [`RESTART_BACK_OFF`] later, then twice as long
    /// after each that gives up, up to 8 s: a read of a minute holds saves up a second
    /// in all.
    pub(crate) fn restart_if_due(&mut self, conn: &Connection) -> Result<()> {
        use std::sync::atomic::Ordering::Relaxed;
        let log = self.log_pages.load(Relaxed);
        if log < RESTART_PAGES || std::time::Instant::now() < self.restart_from {
            return Ok(());
        }
        let tries: fn(i32) -> bool = if log >= 2 * RESTART_PAGES {
            wait_a_little::<500>
        } else {
            wait_a_little::<50>
        };
        conn.busy_handler(Some(tries))?;
        let restarted = checkpoint_as(conn, "RESTART");
        conn.busy_handler(Some(WRITER_WAITS))?;
        if restarted?.0 {
            self.restart_from = std::time::Instant::now() + self.back_off;
            self.back_off = (self.back_off * 2).min(RESTART_BACK_OFF_MAX);
        } else {
            self.log_pages.store(0, Relaxed);
            self.back_off = RESTART_BACK_OFF;
        }
        Ok(())
    }
}

/// Runs a checkpoint of `mode`: whether it gave up waiting for a lock, and the pages in
/// the log before it.
fn checkpoint_as(conn: &Connection, mode: &str) -> Result<(bool, i64)> {
    let started = std::time::Instant::now();
    let (busy, log, moved): (i64, i64, i64) =
        conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    tracing::debug!(
        mode,
        busy,
        ms = started.elapsed().as_secs_f64() * 1000.0,
        log_pages = log,
        moved_pages = moved,
        "WAL checkpoint"
    );
    Ok((busy != 0, log))
}

/// The result of `work`, which never waits (its statements run on this thread, SQLite's
/// implementation of [`crate::exec::Exec`]): polled once, without a runtime.
pub(crate) fn at_once<F: std::future::Future>(work: F) -> Result<F::Output> {
    let mut work = std::pin::pin!(work);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match work.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => Ok(out),
        std::task::Poll::Pending => Err(StorageError::Corrupt(
            "a statement on the SQLite writer's thread waited".into(),
        )),
    }
}

fn run<T>(
    conn: &Connection,
    sql: &str,
    keys: &[&str],
    map: impl FnOnce(&dyn Row) -> Result<T>,
) -> Result<Option<T>> {
    let mut statement = conn.prepare_cached(&crate::exec::numbered(sql))?;
    let names: Vec<String> = statement
        .column_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut rows = statement.query(rusqlite::params_from_iter(keys))?;
    match rows.next()? {
        Some(row) => map(&Named { row, names: &names }).map(Some),
        None => Ok(None),
    }
}

/// A row with its statement's column names, found by exact comparison: rusqlite's own
/// lookup by name asks SQLite for every column's name again and compares it ignoring
/// case, for each column read (40 columns in a session-with-referral row: 13 % of a
/// lookup's time).
struct Named<'a> {
    row: &'a rusqlite::Row<'a>,
    names: &'a [String],
}

impl Named<'_> {
    fn get<T: rusqlite::types::FromSql>(&self, column: &str) -> Result<T> {
        let i = self
            .names
            .iter()
            .position(|n| n == column)
            .ok_or_else(|| StorageError::Corrupt(format!("no column {column}")))?;
        Ok(self.row.get(i)?)
    }
}

impl Row for Named<'_> {
    fn int(&self, column: &str) -> Result<i64> {
        self.get(column)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        self.get(column)
    }
    fn text(&self, column: &str) -> Result<String> {
        self.get(column)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        self.get(column)
    }
}

/// Whether a direct read failed because the database could not be read right now (the
/// same primary codes as sqlx's SQLite errors in [`StorageError::is_unavailable`]).
pub(crate) fn is_unavailable(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::*;
    match e {
        rusqlite::Error::SqliteFailure(f, _) => matches!(
            f.code,
            DatabaseBusy
                | DatabaseLocked
                | OutOfMemory
                | ReadOnly
                | SystemIoFailure
                | DiskFull
                | CannotOpen
        ),
        _ => false,
    }
}

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        if is_unavailable(&e) {
            StorageError::Unavailable(e.to_string())
        } else {
            StorageError::Corrupt(e.to_string())
        }
    }
}
