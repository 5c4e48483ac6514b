//! Throwaway databases: a fresh SQLite file, or a fresh PostgreSQL database.

use std::fmt;
use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::Connection;

/// A database backend the app supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The admin URL of the test PostgreSQL server (`EHM_TEST_POSTGRES_URL`), if any.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("EHM_TEST_POSTGRES_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// The backends to run each database test against: SQLite always, PostgreSQL
/// when `EHM_TEST_POSTGRES_URL` is set. Panics when `EHM_TEST_REQUIRE_POSTGRES=1`
/// and it is not set, so a CI run cannot silently skip PostgreSQL.
pub fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::Sqlite];
    if postgres_admin_url().is_some() {
        out.push(Backend::Postgres);
    } else if std::env::var("EHM_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
        panic!(
            "EHM_TEST_REQUIRE_POSTGRES=1 but EHM_TEST_POSTGRES_URL is not set: \
             run the suite with scripts/test (it starts a throwaway PostgreSQL), \
             or set EHM_TEST_POSTGRES_URL=postgres://USER@HOST:PORT/postgres"
        );
    }
    out
}

/// A fresh, empty database. SQLite: a file in its own temp dir, removed on
/// drop. PostgreSQL: `ehm_test_<unique>` on the `EHM_TEST_POSTGRES_URL`
/// server, dropped (best effort) on drop.
pub struct TestDb {
    /// The URL to give the app as `EHM_DATABASE_URL`.
    pub url: String,
    pub backend: Backend,
    /// PostgreSQL: (admin URL, database name).
    pg: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl fmt::Debug for TestDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDb")
            .field("url", &self.url)
            .field("backend", &self.backend)
            .finish()
    }
}

impl TestDb {
    /// Creates a fresh database, panicking with the reason if it cannot.
    pub async fn create(backend: Backend) -> TestDb {
        match Self::try_create(backend).await {
            Ok(db) => db,
            Err(e) => panic!("TestDb::create({backend}) failed: {e:#}"),
        }
    }

    pub async fn try_create(backend: Backend) -> Result<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::Builder::new().prefix("ehm-sqlite-").tempdir()?;
                let path = dir.path().join("ehm.sqlite3");
                Ok(TestDb {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    backend,
                    pg: None,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres => {
                let admin = postgres_admin_url().context(
                    "EHM_TEST_POSTGRES_URL is not set (scripts/test starts a throwaway PostgreSQL)",
                )?;
                Self::try_create_on(&admin).await
            }
        }
    }

    /// A fresh PostgreSQL database on the server of `admin` (an admin URL such as
    /// [`crate::PgServer::admin_url`]), dropped (best effort) on drop.
    pub async fn try_create_on(admin: &str) -> Result<TestDb> {
        let name = format!("ehm_test_{}", crate::unique_suffix());
        let mut conn = connect(admin).await?;
        sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .with_context(|| format!("CREATE DATABASE {name}"))?;
        let _ = conn.close().await;
        let mut url = url::Url::parse(admin).context("parsing the PostgreSQL admin URL")?;
        url.set_path(&format!("/{name}"));
        Ok(TestDb {
            url: url.to_string(),
            backend: Backend::Postgres,
            pg: Some((admin.to_string(), name)),
            _dir: None,
        })
    }

    /// The database's name (PostgreSQL) or file path (SQLite).
    pub fn name(&self) -> String {
        match &self.pg {
            Some((_, name)) => name.clone(),
            None => self
                .url
                .trim_start_matches("sqlite://")
                .trim_end_matches("?mode=rwc")
                .to_string(),
        }
    }
}

async fn connect(url: &str) -> Result<sqlx::PgConnection> {
    tokio::time::timeout(Duration::from_secs(15), sqlx::PgConnection::connect(url))
        .await
        .with_context(|| format!("connecting to {url}: timed out"))?
        .with_context(|| format!("connecting to {url}"))
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else {
            return;
        };
        // Best effort, on a thread of its own: Drop may run inside (or outside)
        // a tokio runtime, and must not block it with a nested runtime.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let work = async {
                    let mut conn = connect(&admin).await?;
                    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut conn)
                        .await?;
                    let _ = conn.close().await;
                    anyhow::Ok(())
                };
                let _ = tokio::time::timeout(Duration::from_secs(10), work).await;
            });
        });
        let _ = handle.join();
    }
}
