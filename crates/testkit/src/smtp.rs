//! A real SMTP server process that stores every message it receives.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// One message received by [`SmtpSink`] (or read from an outbox `.eml` file).
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The `From:` header's address (falls back to the SMTP `MAIL FROM`).
    pub from: String,
    /// The recipients: the SMTP envelope's `RCPT TO` addresses when known,
    /// otherwise the `To:`, `Cc:` and `Bcc:` header addresses.
    pub to: Vec<String>,
    /// The decoded `Subject:` header.
    pub subject: String,
    /// The decoded text/plain body (derived from the HTML when there is none).
    pub text: String,
    /// The decoded text/html body, if the message has one.
    pub html: Option<String>,
    /// The `Message-ID:` header without angle brackets.
    pub message_id: Option<String>,
    /// The message exactly as received.
    pub raw: String,
    /// The `.eml` file the message is stored in.
    pub path: PathBuf,
}

impl ReceivedMail {
    /// Parses an RFC 5322 message. `envelope_to` overrides the header recipients.
    pub fn parse(
        raw: &[u8],
        envelope_from: Option<&str>,
        envelope_to: Option<Vec<String>>,
    ) -> Result<Self> {
        let msg = mail_parser::MessageParser::default()
            .parse(raw)
            .ok_or_else(|| anyhow!("not a parseable RFC 5322 message"))?;
        let addrs = |a: Option<&mail_parser::Address>| -> Vec<String> {
            a.map(|a| {
                a.iter()
                    .filter_map(|x| x.address().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
        };
        let from = addrs(msg.from())
            .into_iter()
            .next()
            .or_else(|| envelope_from.map(str::to_string))
            .unwrap_or_default();
        let to = match envelope_to {
            Some(to) if !to.is_empty() => to,
            _ => {
                let mut to = addrs(msg.to());
                to.extend(addrs(msg.cc()));
                to.extend(addrs(msg.bcc()));
                to
            }
        };
        let html = (0..msg.html_body_count()).find_map(|i| match msg.html_part(i as u32) {
            Some(mail_parser::MessagePart {
                body: mail_parser::PartType::Html(h),
                ..
            }) => Some(h.to_string()),
            _ => None,
        });
        Ok(ReceivedMail {
            from,
            to,
            subject: msg.subject().unwrap_or_default().to_string(),
            text: msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
            html,
            message_id: msg.message_id().map(str::to_string),
            raw: String::from_utf8_lossy(raw).into_owned(),
            path: PathBuf::new(),
        })
    }

    /// Reads a stored `.eml` file (and the sink's `.json` envelope beside it, if any).
    pub fn from_file(path: &Path) -> Result<Self> {
        let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let (env_from, env_to) = match std::fs::read_to_string(path.with_extension("json")) {
            Ok(json) => parse_envelope(&json),
            Err(_) => (None, None),
        };
        let mut mail = Self::parse(&raw, env_from.as_deref(), env_to)
            .with_context(|| format!("parsing {}", path.display()))?;
        mail.path = path.to_path_buf();
        Ok(mail)
    }

    /// Whether `addr` is one of the recipients (case-insensitive).
    pub fn is_to(&self, addr: &str) -> bool {
        self.to.iter().any(|t| t.eq_ignore_ascii_case(addr.trim()))
    }
}

/// Reads `{"mail_from": "...", "rcpt_tos": ["..."]}` as written by
/// scripts/smtp_sink.py (a flat object of strings; no JSON crate needed).
fn parse_envelope(json: &str) -> (Option<String>, Option<Vec<String>>) {
    fn strings(s: &str) -> Vec<String> {
        // Collect the JSON string literals in `s`, unescaping the simple escapes.
        let mut out = Vec::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c != '"' {
                continue;
            }
            let mut cur = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => match chars.next() {
                        Some('n') => cur.push('\n'),
                        Some('t') => cur.push('\t'),
                        Some(other) => cur.push(other),
                        None => {}
                    },
                    c => cur.push(c),
                }
            }
            out.push(cur);
        }
        out
    }
    let from = json
        .split_once("\"mail_from\":")
        .and_then(|(_, rest)| strings(rest).into_iter().next());
    let to = json.split_once("\"rcpt_tos\":").and_then(|(_, rest)| {
        let list = rest.split_once('[')?.1.split_once(']')?.0;
        Some(strings(list))
    });
    (from, to)
}

/// Lists the `.eml` files of `dir` in arrival order (their names sort so).
pub(crate) fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// A real SMTP server (`python3 scripts/smtp_sink.py`) on 127.0.0.1, storing
/// each message it receives as a `.eml` file. The process is killed on drop.
pub struct SmtpSink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    taken: Mutex<HashSet<PathBuf>>,
    reject: Vec<String>,
}

impl SmtpSink {
    /// Starts the sink, panicking with the reason if it cannot.
    pub async fn start() -> SmtpSink {
        match Self::try_start().await {
            Ok(sink) => sink,
            Err(e) => panic!("SmtpSink::start failed: {e:#}"),
        }
    }

    /// Starts a sink that refuses these recipients at `RCPT TO` the way a real server
    /// does: `550 5.1.1 <ADDR>: Recipient address rejected: User unknown …`.
    pub async fn start_rejecting(addresses: &[&str]) -> SmtpSink {
        match Self::try_start_with(addresses).await {
            Ok(sink) => sink,
            Err(e) => panic!("SmtpSink::start_rejecting failed: {e:#}"),
        }
    }

    /// Starts the sink.
    pub async fn try_start() -> Result<SmtpSink> {
        Self::try_start_with(&[]).await
    }

    async fn try_start_with(reject: &[&str]) -> Result<SmtpSink> {
        let dir = tempfile::Builder::new().prefix("ehm-smtp-").tempdir()?;
        let reject: Vec<String> = reject.iter().map(|a| a.to_string()).collect();
        let (child, port) = spawn_sink(dir.path(), 0, &reject).await?;
        Ok(SmtpSink {
            child,
            port,
            dir,
            taken: Mutex::new(HashSet::new()),
            reject,
        })
    }

    /// Stops the server (SIGKILL: an outage, not a shutdown) and waits until it has
    /// exited; connections to its port are refused until [`SmtpSink::restart`].
    pub async fn stop(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// Starts the server again on the same port, storing into the same folder (what it
    /// received before is kept). Files of the new run are numbered from 1 again, so
    /// [`SmtpSink::all`]'s order mixes the runs.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop().await;
        let mut last = None;
        // The port was just freed; another process could take it, so try a few times.
        for _ in 0..20 {
            match spawn_sink(self.dir.path(), self.port, &self.reject).await {
                Ok((child, _)) => {
                    self.child = child;
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Err(last.unwrap_or_else(|| anyhow!("smtp sink did not restart")))
    }

    /// `smtp://127.0.0.1:PORT`, for `EHM_SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The port the sink listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where the `.eml` files are stored.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// The sink's own log (its stderr), for diagnostics.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sink.log")).unwrap_or_default()
    }

    /// Every message received so far, oldest first.
    pub fn all(&self) -> Vec<ReceivedMail> {
        eml_files(&self.dir())
            .iter()
            .map(|p| ReceivedMail::from_file(p).unwrap_or_else(|e| panic!("{e:#}")))
            .collect()
    }

    /// Every message received so far for `to` (case-insensitive), oldest first.
    pub fn messages_to(&self, to: &str) -> Vec<ReceivedMail> {
        self.all().into_iter().filter(|m| m.is_to(to)).collect()
    }

    /// Waits until a message for `to` arrives that no earlier `wait_for_mail`
    /// call returned, and returns it (the oldest such). So a test can send
    /// two mails to one person and wait for each in turn.
    pub async fn wait_for_mail(&self, to: &str, timeout: Duration) -> Result<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            for path in eml_files(&self.dir()) {
                if self.taken.lock().unwrap().contains(&path) {
                    continue;
                }
                let mail = ReceivedMail::from_file(&path)?;
                if mail.is_to(to) {
                    self.taken.lock().unwrap().insert(path);
                    return Ok(mail);
                }
            }
            if Instant::now() >= deadline {
                let seen: Vec<String> = self
                    .all()
                    .iter()
                    .map(|m| format!("  to {:?}: {:?}", m.to, m.subject))
                    .collect();
                bail!(
                    "no new mail to {to} within {timeout:?}; received so far:\n{}\nsink log:\n{}",
                    if seen.is_empty() {
                        "  (none)".to_string()
                    } else {
                        seen.join("\n")
                    },
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Runs `scripts/smtp_sink.py` storing into `dir/mail` on `port` (0: a free one);
/// returns the process and its port.
async fn spawn_sink(dir: &Path, port: u16, reject: &[String]) -> Result<(Child, u16)> {
    let script = std::env::var_os("EHM_SMTP_SINK_SCRIPT")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join("scripts/smtp_sink.py"));
    let python = std::env::var("EHM_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let mail_dir = dir.join("mail");
    let log_path = dir.join("sink.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)?;
    let mut cmd = Command::new(&python);
    cmd.arg(&script)
        .arg("--dir")
        .arg(&mail_dir)
        .arg("--port")
        .arg(port.to_string())
        .arg("--exit-on-stdin-eof");
    for addr in reject {
        cmd.arg("--reject-rcpt").arg(addr);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("spawning {python} {}", script.display()))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
    let log_text = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let port: u16 = match first {
        Ok(Ok(Some(line))) => line
            .trim()
            .parse()
            .with_context(|| format!("smtp_sink.py printed {line:?}, not a port"))?,
        Ok(Ok(None)) => bail!(
            "smtp_sink.py exited before printing its port (is aiosmtpd installed? \
             `python3 -m pip install aiosmtpd`; port {port} taken?):\n{}",
            log_text()
        ),
        Ok(Err(e)) => bail!("reading smtp_sink.py's stdout: {e}\n{}", log_text()),
        Err(_) => bail!("smtp_sink.py printed no port within 20 s:\n{}", log_text()),
    };
    // Keep reading stdout so the process never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, port))
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
