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

/// Sign in `email` with the test password on a new client. With login codes off the
/// referrer lands on the home page; staff are taken through the authenticator set-up
/// (first sign-in) or its code. Returns the signed-in client and, for staff, their
/// authenticator.
pub async fn signed_in(env: &Env, email: &str) -> (ehm_testkit::Client, Option<totp_rs::TOTP>) {
    let c = env.app.client();
    c.get("/sign-in").await;
    let p = c
        .post_form("/sign-in", &[("email", email), ("password", PASSWORD)])
        .await;
    let totp = match p.location.as_deref() {
        Some("/") => None,
        Some("/sign-in/set-up-authenticator") => {
            let page = c.get("/sign-in/set-up-authenticator").await;
            let secret: String = page
                .select("code.app-secret")
                .join("")
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect();
            let totp = totp_rs::TOTP::new(
                totp_rs::Algorithm::SHA1,
                6,
                1,
                30,
                totp_rs::Secret::Encoded(secret).to_bytes().unwrap(),
                None,
                String::new(),
            )
            .unwrap();
            let code = totp.generate_current().unwrap();
            assert_redirect(
                &c.post_form("/sign-in/set-up-authenticator", &[("code", &code)])
                    .await,
                "/",
            );
            Some(totp)
        }
        other => panic!("{email}: unexpected sign-in answer {other:?}: {}", p.text()),
    };
    c.get("/").await.assert_status(200);
    (c, totp)
}

// ------------------------------------------------- a whole referral, as a browser posts it

pub async fn new_draft(c: &ehm_testkit::Client) -> String {
    c.get("/").await.assert_status(200);
    let p = c.post_form("/referrals", &[]).await;
    assert_eq!(p.status, 303, "{}", p.text());
    p.location.unwrap()
}

pub async fn version(c: &ehm_testkit::Client, path: &str) -> String {
    let page = c.get(path).await;
    page.assert_status(200);
    page.form_value("version")
        .unwrap_or_else(|| panic!("no version field on {path}: {}", page.text()))
}

pub fn nhs_number(seed: u32) -> String {
    let mut n = seed;
    loop {
        let s = format!("999{:06}", n % 1_000_000);
        let sum: u32 = s
            .bytes()
            .enumerate()
            .map(|(i, b)| (b - b'0') as u32 * (10 - i as u32))
            .sum();
        let check = 11 - sum % 11;
        if check != 10 {
            return format!("{s}{}", if check == 11 { 0 } else { check });
        }
        n += 1;
    }
}

/// Every section of a complete Early Help referral, as a browser would post it.
pub fn sections(concerns: &str, nhs: &str) -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    let s = |v: &str| v.to_string();
    vec![
        (
            "before-you-start",
            vec![
                ("allocated-social-worker", s("no")),
                ("level-of-need", s("universal-plus")),
            ],
        ),
        (
            "referral-type",
            vec![("referral-type", s("early-help-service"))],
        ),
        (
            "children",
            vec![
                ("child-count", s("1")),
                ("child-0-first-name", s("Amira")),
                ("child-0-last-name", s("Testwell")),
                ("child-0-other-names", s("Mira")),
                ("child-0-dob-day", s("14")),
                ("child-0-dob-month", s("2")),
                ("child-0-dob-year", s("2016")),
                ("child-0-dob-estimated", s("yes")),
                ("child-0-gender", s("female")),
                ("child-0-ethnicity", s("MWAS")),
                ("child-0-address", s("12 Fictional Road\nSampleton")),
                ("child-0-postcode", s("ab1 2xy")),
                ("child-0-nhs-number", nhs.to_string()),
                ("child-0-gp", s("Sampleton Health Centre")),
                ("child-0-school", s("Sampleton Juniors")),
                ("child-0-religion", s("None stated")),
                ("child-0-first-language", s("Urdu")),
                ("child-0-interpreter", s("no")),
                ("child-0-health-needs", s("Asthma, uses an inhaler")),
            ],
        ),
        (
            "household",
            vec![
                ("household-count", s("1")),
                ("household-0-name", s("Nadia Testwell")),
                ("household-0-relationship", s("mother")),
                ("household-0-dob-day", s("3")),
                ("household-0-dob-month", s("9")),
                ("household-0-dob-year", s("1988")),
                ("household-0-address", s("12 Fictional Road\nSampleton")),
                ("household-0-phone", s("01632 960123")),
                ("household-0-parental-responsibility", s("yes")),
                ("household-0-language", s("Urdu")),
                ("household-0-interpreter", s("yes")),
            ],
        ),
        (
            "referrer",
            vec![
                ("referrer-name", s("Robin Referrer")),
                ("referrer-role", s("Designated safeguarding lead")),
                ("referrer-email", s("robin.referrer@example.org")),
                ("referrer-phone", s("01632 960456")),
                ("organisation-name", s("Sampleton Juniors")),
                ("organisation-type", s("school")),
                ("organisation-phone", s("01632 960789")),
            ],
        ),
        (
            "professionals",
            vec![
                ("professional-count", s("1")),
                ("professional-0-name", s("Dr Quentin Placeholder")),
                ("professional-0-agency", s("Sampleton Health Centre")),
                ("professional-0-role", s("GP")),
                ("professional-0-contact", s("01632 960321")),
                ("professional-0-lead", s("yes")),
            ],
        ),
        (
            "concerns",
            vec![
                ("concerns", concerns.to_string()),
                (
                    "what-has-been-done",
                    s("Met the family twice; school nurse involved."),
                ),
                (
                    "childs-views",
                    s("Amira says she is tired and hungry at school."),
                ),
                ("strengths", s("Mother is engaged and wants help.")),
                ("risks", s("Missed meals; poor attendance.")),
            ],
        ),
        (
            "previous-references",
            vec![("previous-references", s("MARF-2025-0042"))],
        ),
        (
            "support",
            vec![(
                "support-requested",
                s("Family support worker and help with food."),
            )],
        ),
        (
            "consent",
            vec![("parents-aware", s("yes")), ("consent", s("yes"))],
        ),
    ]
}

pub async fn save(
    c: &ehm_testkit::Client,
    draft: &str,
    slug: &str,
    fields: &[(&str, String)],
) -> ehm_testkit::Page {
    let path = format!("{draft}/{slug}");
    let v = version(c, &path).await;
    let mut form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    form.push(("version", &v));
    form.push(("completed", "yes"));
    form.push(("action", "continue"));
    c.post_form(&path, &form).await
}

pub async fn fill(c: &ehm_testkit::Client, draft: &str, concerns: &str, nhs: &str) {
    for (slug, fields) in sections(concerns, nhs) {
        let p = save(c, draft, slug, &fields).await;
        assert_eq!(
            p.status,
            303,
            "section {slug} not accepted: {:?}",
            p.error_summary()
        );
        assert_eq!(p.location.as_deref(), Some(draft), "{slug}");
    }
}

pub async fn submit(c: &ehm_testkit::Client, draft: &str) -> ehm_testkit::Page {
    let check = c.get(&format!("{draft}/check")).await;
    check.assert_status(200);
    let v = check
        .form_value("version")
        .expect("no submit form on the check page: referral not complete?");
    c.post_form(&format!("{draft}/submit"), &[("version", &v)])
        .await
}

pub fn reference_in(text: &str) -> String {
    let at = text
        .find("EH-")
        .unwrap_or_else(|| panic!("no reference in {text}"));
    text[at..at + 12].to_string()
}
