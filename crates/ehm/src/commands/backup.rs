//! `ehm backup FILE`: a consistent copy of the SQLite database, taken while the portal
//! keeps serving (see docs/operations.md for restoring it).
//!
//! `VACUUM INTO` copies the database as one read transaction sees it: in WAL mode writers
//! go on committing meanwhile, and the copy holds every transaction committed before it
//! began and none after. Attachments live in the database, so they are in the copy. The
//! file is created new (an existing file is never overwritten), readable by its owner
//! only, synced to disk, then opened again and checked (`PRAGMA integrity_check`).
//!
//! PostgreSQL is backed up with its own tools (`pg_dump`): the command says how and exits
//! with status 2 rather than pretend.

use crate::commands::{init_tracing, runtime};
use crate::config::Config;
use anyhow::{Context, bail};
use sqlx::{Connection, Row};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the copy: a new file (an existing file is never overwritten).
    pub file: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    init_tracing();
    let config = Config::load()?;
    let url = config.database_url.as_str();
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        bail!(
            "this portal's database is PostgreSQL: back it up with PostgreSQL's own tool, \
             which takes a consistent copy while the portal serves:\n\
             \n  pg_dump --format=custom --file={file} '{url}'\n\
             \nRestore it into a new, empty database (then point EHM_DATABASE_URL at it):\n\
             \n  createdb NEW_DATABASE\n  pg_restore --no-owner --exit-on-error --dbname=NEW_DATABASE {file}\n\
             \nUse the pg_dump of the server's major version or newer. See docs/operations.md.",
            file = args.file.display(),
            url = redact_password(url),
        );
    }
    let Some(db) = sqlite_path(url) else {
        bail!("cannot back up this database URL (sqlite://PATH or postgres://… expected)");
    };
    if !db.is_file() {
        bail!(
            "no database at {}: nothing to back up (run with the same EHM_DATA_DIR or \
             EHM_DATABASE_URL as `ehm serve`)",
            db.display()
        );
    }
    runtime()?.block_on(backup(url, &db, &args.file))
}

/// The file of a `sqlite://PATH[?options]` URL.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(':')).then(|| PathBuf::from(path))
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

async fn backup(url: &str, db: &Path, file: &Path) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    // Created here, new and private, so that nothing is ever overwritten and the copy of
    // personal data is not readable by other accounts. VACUUM INTO accepts an empty file.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(file) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!(
            "{} already exists: a backup never overwrites a file; choose a new name",
            file.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", file.display())),
    }
    let target = std::path::absolute(file)?;
    let copied = async {
        let mut conn = sqlx::AnyConnection::connect(url)
            .await
            .with_context(|| format!("opening {}", db.display()))?;
        sqlx::query("PRAGMA busy_timeout = 30000")
            .execute(&mut conn)
            .await?;
        sqlx::query("VACUUM INTO $1")
            .bind(target.to_string_lossy().into_owned())
            .execute(&mut conn)
            .await
            .context("copying the database (VACUUM INTO)")?;
        conn.close().await?;
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = copied {
        let _ = std::fs::remove_file(file);
        return Err(e);
    }
    // Durable before we say so: the file, then its directory entry.
    std::fs::File::open(&target)?.sync_all()?;
    if let Some(dir) = target.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    let check = verify(&target).await;
    let report = match check {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(file);
            return Err(e.context("the copy failed its check and was deleted"));
        }
    };
    let bytes = std::fs::metadata(&target)?.len();
    println!(
        "Backed up {} to {} ({bytes} bytes).",
        db.display(),
        target.display()
    );
    println!(
        "Checked the copy: integrity ok; {} accounts, {} referrals ({} submitted, {} drafts), \
         {} attachments, {} audit records.",
        report.users,
        report.referrals,
        report.submitted,
        report.referrals - report.submitted,
        report.attachments,
        report.audit
    );
    println!(
        "To restore: stop the portal, copy the file to {} (delete any {}-wal and {}-shm \
         beside it), start the portal, run `ehm audit verify`. See docs/operations.md.",
        db.display(),
        db.display(),
        db.display()
    );
    Ok(())
}

struct Report {
    users: i64,
    referrals: i64,
    submitted: i64,
    attachments: i64,
    audit: i64,
}

/// Opens the copy read-only and checks it.
async fn verify(file: &Path) -> anyhow::Result<Report> {
    let url = format!("sqlite://{}?mode=ro", file.display());
    let mut conn = sqlx::AnyConnection::connect(&url).await?;
    let ok: String = sqlx::query("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await?
        .try_get(0)?;
    if ok != "ok" {
        bail!("PRAGMA integrity_check: {ok}");
    }
    let mut count = async |sql: &str| -> anyhow::Result<i64> {
        Ok(sqlx::query(sql).fetch_one(&mut conn).await?.try_get(0)?)
    };
    let report = Report {
        users: count("SELECT COUNT(*) FROM users").await?,
        referrals: count("SELECT COUNT(*) FROM referrals").await?,
        submitted: count("SELECT COUNT(*) FROM referrals WHERE status = 'submitted'").await?,
        attachments: count("SELECT COUNT(*) FROM attachments").await?,
        audit: count("SELECT COUNT(*) FROM audit_log").await?,
    };
    conn.close().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_of_a_sqlite_url() {
        assert_eq!(
            sqlite_path("sqlite:///srv/ehm/data/ehm.db?mode=rwc"),
            Some(PathBuf::from("/srv/ehm/data/ehm.db"))
        );
        assert_eq!(
            sqlite_path("sqlite://data/ehm.db"),
            Some(PathBuf::from("data/ehm.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x@y/z"), None);
    }

    #[test]
    fn a_password_in_the_url_is_not_printed() {
        assert_eq!(
            redact_password("postgres://ehm:s3cret@db.example.org/ehm"),
            "postgres://ehm:***@db.example.org/ehm"
        );
        assert_eq!(
            redact_password("postgres://ehm@db.example.org/ehm"),
            "postgres://ehm@db.example.org/ehm"
        );
    }
}
