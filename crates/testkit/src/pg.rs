//! A private, throwaway PostgreSQL server for tests that stop and start the database
//! (the suite's shared server, `EHM_TEST_POSTGRES_URL`, must never be stopped).
//!
//! The same commands as `scripts/test`'s `start_postgres`: `initdb` into a temporary
//! directory, `pg_ctl start` on 127.0.0.1 and a free port, `trust` authentication; run as
//! the `postgres` OS user when the test runs as root (the server refuses to run as root).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::process::Command;

use crate::TestDb;

/// The newest `/usr/lib/postgresql/*/bin` holding the server binaries, if any.
pub fn pg_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version: Vec<u32> = e
                .file_name()
                .to_string_lossy()
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            let bin = e.path().join("bin");
            ["postgres", "initdb", "pg_ctl"]
                .iter()
                .all(|b| bin.join(b).is_file())
                .then_some((version, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, bin)| bin)
}

/// Whether this process runs as root.
pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A command for a PostgreSQL binary, run as `postgres` when we are root.
fn as_pg(program: &Path) -> Command {
    if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

async fn run(mut cmd: Command, what: &str) -> Result<String> {
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .with_context(|| format!("{what}: timed out"))?
        .with_context(|| format!("{what}: could not run"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!("{what} failed ({}):\n{text}", out.status);
    }
    Ok(text)
}

/// A PostgreSQL server of the test's own, stopped and deleted on drop.
pub struct PgServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl PgServer {
    /// Starts a fresh server, panicking with the reason if it cannot.
    pub async fn start() -> PgServer {
        match Self::try_start().await {
            Ok(s) => s,
            Err(e) => panic!("PgServer::start failed: {e:#}"),
        }
    }

    pub async fn try_start() -> Result<PgServer> {
        let bin = pg_bin_dir()
            .context("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")?;
        let dir = tempfile::Builder::new().prefix("ehm-pgserver-").tempdir()?;
        std::fs::create_dir_all(dir.path().join("sock"))?;
        if running_as_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.arg("-R").arg("postgres:").arg(dir.path());
                    c
                },
                "chown postgres",
            )
            .await?;
        }
        let mut initdb = as_pg(&bin.join("initdb"));
        initdb.arg("-D").arg(dir.path().join("data")).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]);
        run(initdb, "initdb").await?;
        let mut server = PgServer { bin, dir, port: 0 };
        let mut last = None;
        for _ in 0..3 {
            server.port = crate::free_port()?;
            match server.start_again().await {
                Ok(()) => return Ok(server),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("PostgreSQL did not start")))
    }

    /// The port the server listens on (127.0.0.1), the same across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The directory of the PostgreSQL binaries in use (for `pg_dump`, `pg_restore`).
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// A fresh database on this server (dropped on drop, if the server runs then).
    pub async fn create_db(&self) -> TestDb {
        match TestDb::try_create_on(&self.admin_url()).await {
            Ok(db) => db,
            Err(e) => panic!("creating a database on the private PostgreSQL: {e:#}"),
        }
    }

    /// (Re)starts the server on its port and waits until it accepts connections.
    pub async fn start_again(&self) -> Result<()> {
        let sock = self.dir.path().join("sock");
        let mut start = as_pg(&self.bin.join("pg_ctl"));
        start
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "-t", "60", "-o"])
            .arg(format!(
                "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c synchronous_commit=off \
                 -c full_page_writes=off -c max_connections=100 -c shared_buffers=16MB",
                self.port,
                sock.display()
            ))
            .arg("start");
        run(start, "pg_ctl start")
            .await
            .map_err(|e| anyhow::anyhow!("{e:#}\nserver log:\n{}", self.log()))?;
        for _ in 0..120 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        bail!(
            "PostgreSQL started but accepts no connection:\n{}",
            self.log()
        )
    }

    /// Stops the server the way an administrator does (`pg_ctl stop -m fast`: sessions
    /// are ended, the server shuts down cleanly) and waits until it is gone.
    pub async fn stop(&self) -> Result<()> {
        let mut stop = as_pg(&self.bin.join("pg_ctl"));
        stop.arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "fast", "-w", "-t", "60", "stop"]);
        run(stop, "pg_ctl stop").await.map(|_| ())
    }

    /// The server's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if self.dir.path().join("data/postmaster.pid").exists() {
            let mut cmd = if running_as_root() {
                let mut c = std::process::Command::new("runuser");
                c.args(["-u", "postgres", "--"])
                    .arg(self.bin.join("pg_ctl"));
                c
            } else {
                std::process::Command::new(self.bin.join("pg_ctl"))
            };
            let _ = cmd
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .args(["-m", "immediate", "-w", "stop"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}
