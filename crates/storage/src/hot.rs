//! Connections for the statements nearly every request makes: the session lookup, the
//! referral behind a page (on PostgreSQL; SQLite reads those on the request's own thread,
//! see [`crate::direct`]), and the group commit of saves and audit records.
//!
//! sqlx's pool sends a ping before it hands a connection out (PostgreSQL; off for SQLite)
//! and another every time one goes back, whatever happened on it: a round trip to the
//! server (or to the SQLite connection's thread) each. For a one-statement lookup that is
//! three round trips instead of one; under load they were a third of PostgreSQL's CPU.
//! Here connections taken out of that pool (so with its settings and pragmas) are kept
//! in a [`deadpool`] pool that checks a connection only when there is reason to:
//!
//! - it sat unused for [`IDLE_CHECK`] (a restart of the database, a dropped network
//!   connection): pinged before it is used again;
//! - it still counts an open transaction (one given up half-way): never reused;
//! - a statement on it failed: dropped, not put back. A lookup that failed because the
//!   database was unavailable is tried once more on a fresh connection, so a restart of
//!   the database costs nobody an error once it is back.

use deadpool::managed::{self, Metrics, Object, RecycleError, RecycleResult};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Connection};
use std::time::Duration;

use crate::mash::{Bind, bind_all};
use crate::{Result, StorageError};

/// A connection unused for longer than this is pinged before it is used again.
const IDLE_CHECK: Duration = Duration::from_secs(10);

/// How long a request waits for a connection before it is told the database is busy.
const WAIT: Duration = Duration::from_secs(30);

pub(crate) struct Manager {
    pool: AnyPool,
}

impl managed::Manager for Manager {
    type Type = AnyConnection;
    type Error = sqlx::Error;

    async fn create(&self) -> std::result::Result<AnyConnection, sqlx::Error> {
        Ok(self.pool.acquire().await?.detach())
    }

    async fn recycle(
        &self,
        conn: &mut AnyConnection,
        metrics: &Metrics,
    ) -> RecycleResult<sqlx::Error> {
        if conn.is_in_transaction() || metrics.last_used() > IDLE_CHECK {
            // Lets a rollback queued by a transaction given up half-way finish, and finds
            // a connection the database (or the network) has closed meanwhile.
            conn.ping().await?;
            if conn.is_in_transaction() {
                return Err(RecycleError::message("a transaction is still open"));
            }
        }
        Ok(())
    }
}

pub(crate) type Hot = managed::Pool<Manager>;

pub(crate) fn pool(pool: &AnyPool, size: usize) -> Hot {
    managed::Pool::builder(Manager { pool: pool.clone() })
        .max_size(size)
        .build()
        .expect("a pool without timeouts needs no runtime")
}

/// A connection from `hot`, waiting at most [`WAIT`].
async fn get(hot: &Hot) -> Result<Conn> {
    match tokio::time::timeout(WAIT, hot.get()).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(managed::PoolError::Backend(e))) => Err(e.into()),
        Ok(Err(e)) => Err(StorageError::Unavailable(e.to_string())),
        Err(_) => Err(sqlx::Error::PoolTimedOut.into()),
    }
}

/// A connection out of [`Hot`]; dropped, it goes back.
pub(crate) type Conn = Object<Manager>;

/// `sql` with `binds`, at most one row, on a hot connection. A connection a statement
/// failed on is dropped, never put back; if the database was unavailable, the query is
/// tried once more on a fresh connection (it only reads).
pub(crate) async fn fetch_optional(hot: &Hot, sql: &str, binds: &[Bind]) -> Result<Option<AnyRow>> {
    Ok(first_statement(hot, sql, binds).await?.1)
}

/// One statement on a hot connection, which is returned with what it read: tried once
/// more on a fresh connection when the database was unavailable (so it must be one that
/// can be repeated: a read, or `BEGIN`). The connection it failed on is dropped.
async fn first_statement(hot: &Hot, sql: &str, binds: &[Bind]) -> Result<(Conn, Option<AnyRow>)> {
    let mut tried = false;
    loop {
        let mut conn = get(hot).await?;
        match bind_all(sqlx::query(sql), binds)
            .fetch_optional(&mut *conn)
            .await
        {
            Ok(row) => return Ok((conn, row)),
            Err(e) => {
                discard(conn);
                let e = StorageError::from(e);
                if tried || !e.is_unavailable() {
                    return Err(e);
                }
                tried = true;
            }
        }
    }
}

/// A transaction on a hot connection. Committed with [`Transaction::commit`], the
/// connection goes back; dropped before that (a failure, or the work given up), the
/// connection is closed, which rolls the transaction back, and never reused.
pub(crate) struct Transaction {
    conn: Option<Conn>,
}

impl Transaction {
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        self.conn.as_mut().expect("open until committed")
    }

    pub(crate) async fn commit(mut self) -> Result<()> {
        sqlx::query("COMMIT").execute(self.conn()).await?;
        // Committed: the connection can serve again.
        self.conn.take();
        Ok(())
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            discard(conn);
        }
    }
}

/// Begin a transaction on a hot connection with `begin_sql` (`Store::begin_sql`). If the
/// database was unavailable when it began, nothing was written yet: tried once more on a
/// fresh connection.
pub(crate) async fn begin(hot: &Hot, begin_sql: &str) -> Result<Transaction> {
    let (conn, _) = first_statement(hot, begin_sql, &[]).await?;
    Ok(Transaction { conn: Some(conn) })
}

/// Drop a connection something failed on instead of putting it back: closing it rolls
/// back whatever it had open.
fn discard(conn: Conn) {
    drop(Object::take(conn));
}

impl crate::Store {
    /// The first row of `sql`, whose parameters (`$1`, `$2`, …) are `keys`, mapped by
    /// `map`: on SQLite read on this thread ([`crate::direct`]), on PostgreSQL on a hot
    /// connection.
    pub(crate) async fn read_one<T>(
        &self,
        sql: &str,
        keys: &[&str],
        map: impl Fn(&dyn crate::row::Row) -> Result<T>,
    ) -> Result<Option<T>> {
        if let Some(direct) = &self.direct {
            return direct.query_one(sql, keys, |r| map(r));
        }
        let binds: Vec<Bind> = keys.iter().map(|k| Bind::Text((*k).to_owned())).collect();
        let row = fetch_optional(&self.hot, sql, &binds).await?;
        row.as_ref().map(|r| map(r)).transpose()
    }
}
