//! Runs the real app binary (`ehm serve`) for black-box tests.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

use crate::{Client, SmtpSink, TestDb};

const KEEP_LINES: usize = 300;
const START_TIMEOUT: Duration = Duration::from_secs(30);

type Lines = Arc<Mutex<VecDeque<String>>>;
/// Everything a stream printed, for tests that read all of it (what the app logged).
type Full = Arc<Mutex<String>>;

/// Configures and starts a [`TestApp`].
#[must_use]
pub struct TestAppBuilder {
    bin: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    db_url: Option<String>,
    smtp_url: Option<String>,
    data_dir: Option<PathBuf>,
    unset: Vec<String>,
    current_dir: Option<PathBuf>,
}

impl TestAppBuilder {
    /// Leaves a variable the builder would set out of the app's environment, e.g.
    /// `.unset("EHM_DEMO")` to run with the app's own default.
    pub fn unset(mut self, key: impl Into<String>) -> Self {
        self.unset.push(key.into());
        self
    }

    /// Runs the app in this working directory (default: the test's own).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    /// Sets an environment variable for the app (after the defaults, so it
    /// overrides them, e.g. `.env("EHM_DEMO", "true")`).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Uses this database (`EHM_DATABASE_URL`). Without it the app uses its default.
    pub fn db(mut self, db: &TestDb) -> Self {
        self.db_url = Some(db.url.clone());
        self
    }

    /// Sends mail to this sink (`EHM_SMTP_URL`). Without it the app writes
    /// `.eml` files to `<data dir>/outbox/`.
    pub fn smtp(mut self, sink: &SmtpSink) -> Self {
        self.smtp_url = Some(sink.url());
        self
    }

    /// Replaces the default arguments (`serve`).
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Uses an existing data dir (e.g. to restart an app on the same data)
    /// instead of a fresh temporary one. It is not deleted on drop.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Starts the app and waits until `GET /health` answers 200; panics with
    /// the app's output if it does not within 30 s.
    pub async fn spawn(self) -> TestApp {
        match self.try_spawn().await {
            Ok(app) => app,
            Err(e) => panic!("TestApp::spawn failed: {e:#}"),
        }
    }

    pub async fn try_spawn(self) -> Result<TestApp> {
        let (tmp, data_dir) = match self.data_dir {
            Some(d) => {
                std::fs::create_dir_all(&d)?;
                (None, d)
            }
            None => {
                let t = tempfile::Builder::new().prefix("ehm-app-").tempdir()?;
                let d = t.path().to_path_buf();
                (Some(t), d)
            }
        };
        let mut cmd = Command::new(&self.bin);
        cmd.args(&self.args);
        // Nothing from the developer's own EHM_* settings leaks into a test.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("EHM_") {
                cmd.env_remove(&key);
            }
        }
        cmd.env("EHM_LISTEN", "127.0.0.1:0")
            .env("EHM_DATA_DIR", &data_dir)
            .env("EHM_DEMO", "false");
        if let Some(url) = &self.db_url {
            cmd.env("EHM_DATABASE_URL", url);
        }
        if let Some(url) = &self.smtp_url {
            cmd.env("EHM_SMTP_URL", url);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for k in &self.unset {
            cmd.env_remove(k);
        }
        if let Some(dir) = &self.current_dir {
            cmd.current_dir(dir);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| anyhow::anyhow!("spawning {}: {e}", self.bin.display()))?;

        let stdout_lines: Lines = Arc::default();
        let stderr_lines: Lines = Arc::default();
        let stdout_full: Full = Arc::default();
        let stderr_full: Full = Arc::default();
        let (tx, mut rx) = oneshot::channel::<String>();
        let drains = vec![
            drain(
                child.stdout.take().expect("piped"),
                stdout_lines.clone(),
                stdout_full.clone(),
                Some(tx),
            ),
            drain(
                child.stderr.take().expect("piped"),
                stderr_lines.clone(),
                stderr_full.clone(),
                None,
            ),
        ];

        let mut app = TestApp {
            base_url: String::new(),
            child,
            data_dir,
            _tmp: tmp,
            stdout: stdout_lines,
            stderr: stderr_lines,
            stdout_full,
            stderr_full,
            drains,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match rx.try_recv() {
                Ok(url) => {
                    app.base_url = url.trim().trim_end_matches('/').to_string();
                    break;
                }
                Err(oneshot::error::TryRecvError::Closed) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    bail!(
                        "{} closed its stdout without printing `Listening on URL`{}",
                        self.bin.display(),
                        app.diagnostics()
                    );
                }
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            if let Some(status) = app.child.try_wait()? {
                tokio::time::sleep(Duration::from_millis(100)).await;
                bail!(
                    "{} exited ({status}) before printing `Listening on URL`{}",
                    self.bin.display(),
                    app.diagnostics()
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} printed no `Listening on URL` within {START_TIMEOUT:?}{}",
                    self.bin.display(),
                    app.diagnostics()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()?;
        let health = format!("{}/health", app.base_url);
        let mut last;
        loop {
            match http.get(&health).send().await {
                Ok(r) if r.status().as_u16() == 200 => break,
                Ok(r) => last = format!("status {}", r.status()),
                Err(e) => last = format!("{e}"),
            }
            if let Some(status) = app.child.try_wait()? {
                bail!(
                    "the app exited ({status}) before GET /health answered 200{}",
                    app.diagnostics()
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "GET {health} did not answer 200 within {START_TIMEOUT:?} (last: {last}){}",
                    app.diagnostics()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(app)
    }
}

/// Reads `reader` line by line until EOF, keeping the last lines (and all of it in
/// `full`); sends the URL of the first `Listening on URL` line through `listening`.
fn drain(
    reader: impl AsyncRead + Unpin + Send + 'static,
    keep: Lines,
    full: Full,
    mut listening: Option<oneshot::Sender<String>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.trim().strip_prefix("Listening on ")
                && let Some(tx) = listening.take()
            {
                let _ = tx.send(url.trim().to_string());
            }
            {
                let mut full = full.lock().unwrap();
                full.push_str(&line);
                full.push('\n');
            }
            let mut keep = keep.lock().unwrap();
            if keep.len() >= KEEP_LINES {
                keep.pop_front();
            }
            keep.push_back(line);
        }
    })
}

/// A running app process (`ehm serve`) with its own data dir; killed on drop.
pub struct TestApp {
    /// e.g. `http://127.0.0.1:43123` (no trailing slash).
    pub base_url: String,
    child: Child,
    data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    stdout: Lines,
    stderr: Lines,
    stdout_full: Full,
    stderr_full: Full,
    drains: Vec<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    /// Starts configuring an app run of `bin` (e.g. `env!("CARGO_BIN_EXE_ehm")`).
    pub fn builder(bin: impl AsRef<Path>) -> TestAppBuilder {
        TestAppBuilder {
            bin: bin.as_ref().to_path_buf(),
            args: vec!["serve".to_string()],
            env: Vec::new(),
            db_url: None,
            smtp_url: None,
            data_dir: None,
            unset: Vec::new(),
            current_dir: None,
        }
    }

    /// The app's `EHM_DATA_DIR`.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// A fresh browser-like client (no cookies) for this app.
    pub fn client(&self) -> Client {
        Client::new(&self.base_url)
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The last lines the app printed on stdout.
    pub fn stdout_tail(&self) -> String {
        self.stdout
            .lock()
            .unwrap()
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The last lines the app printed on stderr.
    pub fn stderr_tail(&self) -> String {
        self.stderr
            .lock()
            .unwrap()
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Everything the app has printed on stdout so far (not only the last lines).
    pub fn stdout_all(&self) -> String {
        self.stdout_full.lock().unwrap().clone()
    }

    /// Everything the app has printed on stderr (its log) so far.
    pub fn stderr_all(&self) -> String {
        self.stderr_full.lock().unwrap().clone()
    }

    /// The app's recent stdout and stderr, for a failure message.
    pub fn diagnostics(&self) -> String {
        format!(
            "\n--- app stdout (last lines) ---\n{}\n--- app stderr (last lines) ---\n{}\n---",
            self.stdout_tail(),
            self.stderr_tail()
        )
    }

    /// Stops the app (SIGKILL) and waits for it to exit.
    pub async fn stop(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// Stops the app, reads its output to the end and returns all of it: (stdout, stderr).
    pub async fn stop_and_collect_output(&mut self) -> (String, String) {
        self.stop().await;
        for d in self.drains.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(10), d).await;
        }
        (self.stdout_all(), self.stderr_all())
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
