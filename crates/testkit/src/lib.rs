//! Black-box test harness for the Early Help referral portal.
//!
//! Everything here is real: [`SmtpSink`] is a separate SMTP server process
//! (`scripts/smtp_sink.py`, on aiosmtpd) that stores what it receives,
//! [`TestDb`] creates real SQLite files and real PostgreSQL databases,
//! [`TestApp`] runs the real `ehm` binary, and [`Client`] speaks real HTTP to
//! it, keeping cookies and CSRF tokens like a browser. See `docs/testing.md`.
//!
//! ```no_run
//! # async fn demo() {
//! use ehm_testkit::{backends, Client, SmtpSink, TestApp, TestDb};
//! use std::time::Duration;
//! for backend in backends() {
//!     let db = TestDb::create(backend).await;
//!     let smtp = SmtpSink::start().await;
//!     // In the app's own tests: TestApp::builder(env!("CARGO_BIN_EXE_ehm"))
//!     let app = TestApp::builder("target/debug/ehm")
//!         .db(&db)
//!         .smtp(&smtp)
//!         .spawn()
//!         .await;
//!     let client = app.client();
//!     let page = client.get("/").await;
//!     assert_eq!(page.status, 200);
//!     let _mail = smtp.wait_for_mail("someone@example.org", Duration::from_secs(10)).await;
//! }
//! # }
//! ```

mod app;
mod client;
mod db;
mod pg;
mod smtp;

pub use app::{TestApp, TestAppBuilder};
pub use client::{Client, Page};
pub use db::{Backend, TestDb, backends};
pub use pg::{PgServer, pg_bin_dir, running_as_root};
pub use smtp::{ReceivedMail, SmtpSink};

/// The repository root (two levels above this crate).
pub fn repo_root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| manifest.to_path_buf())
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bound, then released).
pub fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?.port())
}

/// A name that is unique within this machine for a while: pid, time, counter.
pub(crate) fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64 ^ d.as_secs())
        .unwrap_or(0);
    format!("{:x}_{:x}_{:x}", std::process::id(), nanos, n)
}
