//! Storage: one repository layer over SQLite (the embedded default) and PostgreSQL.
//!
//! Queries are written once in SQL that both backends accept (`$1` placeholders,
//! `RETURNING`, `ON CONFLICT`) and run through sqlx's `Any` driver, so domain and web
//! code never see which backend is in use. The few places where the dialects differ
//! (row locking for queue workers) ask [`Backend`]. On SQLite, the lookups nearly every
//! request makes and the group commit run the same SQL on connections of their own,
//! without sqlx's thread hand-over ([`direct`], [`exec`]). Every time is stored as Unix
//! milliseconds in a 64-bit integer column.

mod audit;
mod codes;
mod direct;
mod exec;
mod hot;
mod mash;
mod outbox;
mod persons;
mod referrals;
mod row;
mod sessions;
mod throttle;
mod users;

pub use audit::{
    AuditEntry, AuditFilter, AuditPage, AuditRecord, BrokenRow, ChainReport, GENESIS_HASH, row_hash,
};
pub use codes::{CodeAttempt, CodePurpose, OneTimeCode};
/// Past this many pages a SQLite write-ahead log is started again from its beginning.
pub use direct::RESTART_PAGES as SQLITE_LOG_RESTART_PAGES;
pub use mash::{
    AssignedFilter, ReferralEvent, TrayFilter, TrayPage, TrayRow, TraySort, WorkflowRow,
};
pub use outbox::{NewMail, OutboxMessage};
pub use persons::{
    LinkOutcome, LinkRow, PersonData, PersonReferral, PersonRow, PersonUpdate, UPSERT_BATCH_ROWS,
    UpsertCounts,
};
pub use referrals::{
    AttachmentRow, DraftPurge, NewPendingSave, PendingKind, PendingSave, ReferralRow, SaveOutcome,
    Submission,
};
pub use sessions::{SessionRow, SessionWithReferral};
pub use throttle::Gate;
pub use users::{NewUser, User};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use std::time::Duration;
use time::OffsetDateTime;

pub type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// Commit `tx`: the change is durable when this returns.
pub async fn commit(tx: Tx<'_>) -> Result<()> {
    tx.commit().await?;
    Ok(())
}

/// Tables whose size [`Store::count`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Sessions,
    PendingSaves,
    Users,
    Referrals,
    Attachments,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("unsupported database URL: use sqlite://PATH or postgres://…")]
    UnsupportedUrl,
    #[error("that email address already has an account")]
    EmailTaken,
    #[error("that reference number is already in use")]
    ReferenceTaken,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    /// The database could not take a write made on this request's behalf elsewhere (a
    /// group commit) because it was unavailable.
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

impl StorageError {
    /// The database cannot be reached or cannot take writes right now (server down or
    /// restarting, connection lost, no connection free in time, disk full, file locked):
    /// a passing condition, worth "try again in a minute" (503), not a fault of the
    /// request or of the code (500).
    pub fn is_unavailable(&self) -> bool {
        use sqlx::error::DatabaseError as _;
        let e = match self {
            StorageError::Database(e) => e,
            StorageError::Unavailable(_) => return true,
            _ => return false,
        };
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => {
                if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                    let code = pg.code();
                    // 08: connection exception; 53: insufficient resources (disk full,
                    // out of memory, too many connections); 57P: the server is shutting
                    // down, restarting or not yet accepting; 25006: read-only (a standby).
                    code.starts_with("08")
                        || code.starts_with("53")
                        || code.starts_with("57P")
                        || code == "25006"
                } else if let Some(lite) = db.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
                    // The primary result code (low byte of the extended one): BUSY, LOCKED,
                    // NOMEM, READONLY, IOERR, FULL, CANTOPEN.
                    let code: i64 = lite.code().and_then(|c| c.parse().ok()).unwrap_or(0);
                    matches!(code & 0xff, 5 | 6 | 7 | 8 | 10 | 13 | 14)
                } else {
                    false
                }
            }
            _ => false,
        }
    }
}

/// How SQLite transactions begin (see [`Store::begin`]).
pub(crate) const SQLITE_BEGIN: &str = "BEGIN IMMEDIATE";

/// Connections to each backend: (sqlx's pool, the hot connections of [`hot`]). Each SQLite
/// connection is a thread of its own; PostgreSQL's are server processes (two instances
/// of the app use up to 40 of the server's default 100). Four hot connections did more
/// with less CPU than eight or twelve on two cores (fewer threads and server processes
/// to switch between; docs/benchmarks.md).
pub const SQLITE_CONNECTIONS: (u32, usize) = (8, 4);
pub const POSTGRES_CONNECTIONS: (u32, usize) = (16, 4);

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Connections for the statements of nearly every request (see [`hot`]).
    hot: hot::Hot,
    /// SQLite only: the reads of [`hot`] made on the calling thread (see [`direct`]).
    direct: Option<std::sync::Arc<direct::Direct>>,
    backend: Backend,
    /// Group commit of audit records written on their own (see [`audit`]).
    audit_batcher: std::sync::Arc<tokio::sync::OnceCell<audit::Batcher>>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Connect, creating the SQLite file if needed, and run the migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StorageError::UnsupportedUrl);
        };
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        let pool = match backend {
            Backend::Sqlite => {
                options
                    .max_connections(SQLITE_CONNECTIONS.0)
                    // A SQLite connection is a file handle on a thread of its own: it does
                    // not go stale like a network connection, and a ping before every use
                    // was a round trip to that thread (5 % of a tray page's CPU).
                    .test_before_acquire(false)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // WAL lets readers proceed while one writer commits; FULL makes
                            // every commit durable before it is acknowledged.
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA synchronous = FULL").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            // Deleted personal data is overwritten, not left in free pages.
                            conn.execute("PRAGMA secure_delete = ON").await?;
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            // 32 MiB of pages per connection (the default is 2 MiB): the
                            // tray's indexes stay in memory instead of being re-read.
                            conn.execute("PRAGMA cache_size = -32768").await?;
                            // Reads through a memory map: every commit empties the other
                            // connections' page caches (WAL), and re-reading pages with
                            // read(2) copied the tray's indexes on every page view. Writes
                            // still go through the WAL and fsync.
                            conn.execute("PRAGMA mmap_size = 1073741824").await?;
                            Ok(())
                        })
                    })
                    // A COMMIT (or a statement) that fails with SQLITE_FULL or SQLITE_IOERR
                    // can make SQLite roll the whole transaction back by itself; sqlx's own
                    // count of open transactions then disagrees with SQLite's, and the next
                    // transaction given up on that connection ("ROLLBACK TO SAVEPOINT")
                    // leaves one open: later writes on it would be acknowledged but never
                    // committed, and every other writer locked out. So a connection that
                    // comes back to the pool still counting a transaction is closed (which
                    // rolls back whatever is open), never reused. The ping first lets a
                    // rollback queued by a dropped transaction finish.
                    .after_release(|conn, _| {
                        Box::pin(async move {
                            use sqlx::Connection;
                            // No transaction counted: none open, none being rolled back
                            // (a queued rollback only lowers a count above zero), so no
                            // round trip to the connection's thread for most queries.
                            if !conn.is_in_transaction() {
                                return Ok(true);
                            }
                            conn.ping().await?;
                            Ok(!conn.is_in_transaction())
                        })
                    })
                    .connect(url)
                    .await?
            }
            Backend::Postgres => {
                options
                    .max_connections(POSTGRES_CONNECTIONS.0)
                    .connect(url)
                    .await?
            }
        };
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        let hot = hot::pool(
            &pool,
            match backend {
                Backend::Sqlite => SQLITE_CONNECTIONS.1,
                Backend::Postgres => POSTGRES_CONNECTIONS.1,
            },
        );
        let direct = match backend {
            Backend::Sqlite => {
                let options: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
                direct::Direct::new(options.get_filename()).map(std::sync::Arc::new)
            }
            Backend::Postgres => None,
        };
        Ok(Self {
            pool,
            hot,
            direct,
            backend,
            audit_batcher: Default::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begin a transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`,
    /// waiting up to the busy timeout for it): a transaction that reads and then writes
    /// would otherwise fail at once with "database is locked" (SQLITE_BUSY_SNAPSHOT)
    /// whenever another connection committed between its first read and its first write.
    pub async fn begin(&self) -> Result<Tx<'static>> {
        Ok(self.pool.begin_with(self.begin_sql()).await?)
    }

    /// The statement that begins a transaction on this backend (see [`Store::begin`]).
    pub(crate) fn begin_sql(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => SQLITE_BEGIN,
            Backend::Postgres => "BEGIN",
        }
    }

    /// `FOR UPDATE SKIP LOCKED` where the backend has row locks (PostgreSQL); SQLite
    /// serialises writers, so the lease condition alone is enough there.
    pub(crate) fn skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        }
    }

    /// How many rows `what` has (operational figures and tests).
    pub async fn count(&self, what: Counted) -> Result<i64> {
        let table = match what {
            Counted::Sessions => "sessions",
            Counted::PendingSaves => "pending_saves",
            Counted::Users => "users",
            Counted::Referrals => "referrals",
            Counted::Attachments => "attachments",
        };
        let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .fetch_one(&self.pool)
            .await?;
        Ok(sqlx::Row::try_get(&row, "n")?)
    }

    /// A server secret shared by every instance on this database, created on first use.
    pub async fn secret(&self, name: &str, fresh: impl FnOnce() -> String) -> Result<String> {
        sqlx::query(
            "INSERT INTO app_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(fresh())
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT value FROM app_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(sqlx::Row::try_get(&row, "value")?)
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

pub fn to_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.is_unique_violation() || db.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}
