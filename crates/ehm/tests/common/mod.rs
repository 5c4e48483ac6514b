//! What the black-box test files share: the app under test with its own database and a
//! real SMTP server process, and account creation through the real `ehm create-user`.

#![allow(dead_code)] // each test file uses its own part

use ehm_testkit::{Backend, SmtpSink, TestApp, TestDb};
use std::io::Write;

pub const BIN: &str = env!("CARGO_BIN_EXE_ehm");
pub const PASSWORD: &str = "lantern quartz meadow";

pub struct Env {
    pub app: TestApp,
    pub smtp: SmtpSink,
    pub db: TestDb,
}

/// Start the app on `backend` with a real SMTP sink; `extra` environment variables win.
pub async fn start(backend: Backend, extra: &[(&str, &str)]) -> Env {
    let db = TestDb::create(backend).await;
    let smtp = SmtpSink::start().await;
    let mut b = TestApp::builder(BIN).db(&db).smtp(&smtp);
    for (k, v) in extra {
        b = b.env(*k, *v);
    }
    let app = b.spawn().await;
    Env { app, smtp, db }
}

/// `ehm create-user` against the app's database, password on standard input.
pub fn create_user(env: &Env, email: &str, role: &str, name: &str) {
    let mut child = std::process::Command::new(BIN)
        .args([
            "create-user",
            "--role",
            role,
            "--email",
            email,
            "--name",
            name,
            "--password-stdin",
        ])
        .env("EHM_DATABASE_URL", &env.db.url)
        .env("EHM_DATA_DIR", env.app.data_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run ehm create-user");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "create-user failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
