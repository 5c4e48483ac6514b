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

/// The first run of exactly 8 digits in an email body.
pub fn code_in(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    (0..chars.len().saturating_sub(7)).find_map(|i| {
        let w = &chars[i..i + 8];
        let before = i.checked_sub(1).is_some_and(|j| chars[j].is_ascii_digit());
        let after = chars.get(i + 8).is_some_and(|c| c.is_ascii_digit());
        (w.iter().all(|c| c.is_ascii_digit()) && !before && !after).then(|| w.iter().collect())
    })
}

/// Mail with `subject` to `to` received so far.
pub fn mails(env: &Env, to: &str, subject: &str) -> Vec<ehm_testkit::ReceivedMail> {
    env.smtp
        .messages_to(to)
        .into_iter()
        .filter(|m| m.subject == subject)
        .collect()
}

/// The code in the newest mail with `subject` to `to`, once more than `after` have come.
pub async fn wait_code(env: &Env, to: &str, subject: &str, after: usize) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let got = mails(env, to, subject);
        if got.len() > after {
            return code_in(&got.last().unwrap().text)
                .unwrap_or_else(|| panic!("no code in {subject:?}"));
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no new {subject:?} mail to {to}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

pub fn assert_redirect(page: &ehm_testkit::Page, to: &str) {
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some(to)),
        "expected a redirect to {to}: {}",
        page.text()
    );
}

/// The app's database, for checks that go below the HTTP surface.
pub async fn store(env: &Env) -> ehm_storage::Store {
    ehm_storage::Store::connect(&env.db.url)
        .await
        .expect("connect to the test database")
}
