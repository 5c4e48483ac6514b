//! Black-box tests of secrets and personal data at rest and in logs (issue 7, item 9; R-02,
//! a delivered code leaves no copy in the outbox, and a realistic journey against a
//! real SMTP server that rejects a recipient leaves no address, name, child detail,
//! password or code in anything the app printed, nor in the stored delivery error.

use ehm_storage::{OutboxMessage, Store};
use ehm_testkit::{Client, Page, SmtpSink, TestApp, TestDb, backends};
use std::time::{Duration, Instant};

mod common;
use common::{BIN, Env, PASSWORD, create_user};

const WAIT: Duration = Duration::from_secs(30);

// Everything below is invented for this test.
const REFERRER_EMAIL: &str = "marguerite.quillfeather@example.org";
const REFERRER_NAME: &str = "Marguerite Quillfeather";
const REFERRER_PASSWORD: &str = "copper violin harbour";
const REFERRER_PHONE: &str = "01632 960457";
const REJECTED_EMAIL: &str = "thaddeus.brindlecombe@example.org";
const REJECTED_NAME: &str = "Thaddeus Brindlecombe";
const CHILD_FIRST: &str = "Peregrina";
const CHILD_LAST: &str = "Ashdownfield";
const CHILD_OTHER: &str = "Perry";
const PARENT_NAME: &str = "Ottoline Ashdownfield";
const POSTCODE_TYPED: &str = "ze9 8xy";
const ADDRESS_LINE: &str = "7 Imaginary Crescent";

/// The first run of exactly 8 digits.
fn code_in(text: &str) -> String {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(7))
        .find_map(|i| {
            let alone = (i == 0 || !b[i - 1].is_ascii_digit())
                && b.get(i + 8).is_none_or(|c| !c.is_ascii_digit());
            (alone && b[i..i + 8].iter().all(u8::is_ascii_digit))
                .then(|| text[i..i + 8].to_string())
        })
        .unwrap_or_else(|| panic!("no 8-digit code in: {text}"))
}

async fn mail_code(env: &Env, to: &str) -> String {
    let mail = env.smtp.wait_for_mail(to, WAIT).await.unwrap();
    code_in(&mail.text)
}

async fn outbox(db: &TestDb) -> Vec<OutboxMessage> {
    let store = Store::connect(&db.url).await.unwrap();
    store.list_mail(1000).await.unwrap()
}

/// Waits until every message to `to` with `subject` has been marked sent.
async fn wait_sent(db: &TestDb, to: &str, subject: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let rows = outbox(db).await;
        let mine: Vec<_> = rows
            .iter()
            .filter(|m| m.to == to && m.subject == subject)
            .collect();
        if !mine.is_empty() && mine.iter().all(|m| m.sent_at.is_some()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "'{subject}' to {to} not marked sent: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// No outbox row holds `code` in any column.
fn assert_no_code_in_outbox(rows: &[OutboxMessage], code: &str) {
    for m in rows {
        for (column, value) in [
            ("subject", m.subject.as_str()),
            ("body_text", m.body_text.as_str()),
            ("body_html", m.body_html.as_deref().unwrap_or("")),
            ("last_error", m.last_error.as_deref().unwrap_or("")),
            ("message_id", m.message_id.as_str()),
        ] {
            assert!(
                !value.contains(code),
                "outbox row {} keeps the code {code} in {column}: {m:?}",
                m.id
            );
        }
    }
}

fn assert_redirect(p: &Page, to: &str) {
    assert_eq!(p.location.as_deref(), Some(to), "{} {}", p.status, p.text());
}

#[tokio::test]
async fn a_delivered_sign_in_code_leaves_no_copy_in_the_outbox() {
    for backend in backends() {
        let env = common::start(backend, &[("EHM_LOGIN_CODE", "true")]).await;
        let email = "robin.codes@example.org";
        create_user(&env, email, "referrer", "Robin Codes");
        let c = env.app.client();
        c.get("/sign-in").await;
        assert_redirect(
            &c.post_form("/sign-in", &[("email", email), ("password", PASSWORD)])
                .await,
            "/sign-in/code",
        );
        let code = mail_code(&env, email).await;
        wait_sent(&env.db, email, "Your sign-in code").await;
        let rows = outbox(&env.db).await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_no_code_in_outbox(&rows, &code);
        // The code itself still works: it is checked against its hash, not the email.
        assert_redirect(&c.post_form("/sign-in/code", &[("code", &code)]).await, "/");
    }
}

async fn version(c: &Client, path: &str) -> String {
    let page = c.get(path).await;
    page.assert_status(200);
    page.form_value("version")
        .unwrap_or_else(|| panic!("no version field on {path}: {}", page.text()))
}

async fn save(c: &Client, draft: &str, slug: &str, fields: &[(&str, &str)]) {
    let path = format!("{draft}/{slug}");
    let v = version(c, &path).await;
    let mut form = fields.to_vec();
    form.extend([
        ("version", v.as_str()),
        ("completed", "yes"),
        ("action", "continue"),
    ]);
    let p = c.post_form(&path, &form).await;
    assert_eq!(
        p.location.as_deref(),
        Some(draft),
        "section {slug} not accepted: {:?}",
        p.error_summary()
    );
}

/// An NHS number with a valid check digit (999 numbers are never issued).
fn nhs_number() -> String {
    let mut n = 4711u32;
    loop {
        let s = format!("999{n:06}");
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

/// Every section of a referral about the invented child, as a browser posts them.
async fn refer(c: &Client, draft: &str, nhs: &str) {
    let address = format!("{ADDRESS_LINE}\nSampleton");
    save(
        c,
        draft,
        "before-you-start",
        &[
            ("allocated-social-worker", "no"),
            ("level-of-need", "universal-plus"),
        ],
    )
    .await;
    save(
        c,
        draft,
        "referral-type",
        &[("referral-type", "early-help-service")],
    )
    .await;
    save(
        c,
        draft,
        "children",
        &[
            ("child-count", "1"),
            ("child-0-first-name", CHILD_FIRST),
            ("child-0-last-name", CHILD_LAST),
            ("child-0-other-names", CHILD_OTHER),
            ("child-0-dob-day", "14"),
            ("child-0-dob-month", "2"),
            ("child-0-dob-year", "2016"),
            ("child-0-gender", "female"),
            ("child-0-ethnicity", "MWAS"),
            ("child-0-address", &address),
            ("child-0-postcode", POSTCODE_TYPED),
            ("child-0-nhs-number", nhs),
            ("child-0-gp", "Sampleton Health Centre"),
            ("child-0-school", "Sampleton Juniors"),
            ("child-0-first-language", "English"),
            ("child-0-interpreter", "no"),
            ("child-0-health-needs", "Eczema"),
        ],
    )
    .await;
    save(
        c,
        draft,
        "household",
        &[
            ("household-count", "1"),
            ("household-0-name", PARENT_NAME),
            ("household-0-relationship", "mother"),
            ("household-0-dob-day", "3"),
            ("household-0-dob-month", "9"),
            ("household-0-dob-year", "1988"),
            ("household-0-address", &address),
            ("household-0-phone", "01632 960124"),
            ("household-0-parental-responsibility", "yes"),
            ("household-0-language", "English"),
            ("household-0-interpreter", "no"),
        ],
    )
    .await;
    save(
        c,
        draft,
        "referrer",
        &[
            ("referrer-name", REFERRER_NAME),
            ("referrer-role", "Class teacher"),
            ("referrer-email", REFERRER_EMAIL),
            ("referrer-phone", REFERRER_PHONE),
            ("organisation-name", "Sampleton Juniors"),
            ("organisation-type", "school"),
            ("organisation-phone", "01632 960789"),
        ],
    )
    .await;
    save(
        c,
        draft,
        "professionals",
        &[
            ("professional-count", "1"),
            ("professional-0-name", "Dr Quentin Placeholder"),
            ("professional-0-agency", "Sampleton Health Centre"),
            ("professional-0-role", "GP"),
            ("professional-0-contact", "01632 960321"),
            ("professional-0-lead", "yes"),
        ],
    )
    .await;
    let concerns = format!("{CHILD_FIRST} often arrives hungry and tired.");
    save(
        c,
        draft,
        "concerns",
        &[
            ("concerns", &concerns),
            ("what-has-been-done", "Spoke with the family."),
            ("childs-views", "She would like breakfast club."),
            ("strengths", "Mother is engaged."),
            ("risks", "Missed meals."),
        ],
    )
    .await;
    save(
        c,
        draft,
        "previous-references",
        &[("previous-references", "none")],
    )
    .await;
    save(
        c,
        draft,
        "support",
        &[("support-requested", "Family support worker.")],
    )
    .await;
    save(
        c,
        draft,
        "consent",
        &[("parents-aware", "yes"), ("consent", "yes")],
    )
    .await;
}

/// An email address anywhere in `text` (`x@y`, letters or digits on both sides).
fn an_address_in(text: &str) -> Option<String> {
    let b = text.as_bytes();
    (1..b.len().saturating_sub(1)).find_map(|i| {
        (b[i] == b'@' && b[i - 1].is_ascii_alphanumeric() && b[i + 1].is_ascii_alphanumeric()).then(
            || {
                let from = text[..i].rfind(char::is_whitespace).map_or(0, |j| j + 1);
                let to = text[i..]
                    .find(char::is_whitespace)
                    .map_or(text.len(), |j| i + j);
                text[from..to].to_string()
            },
        )
    })
}

#[tokio::test]
async fn a_journey_with_a_rejected_recipient_leaves_no_personal_data_in_the_logs() {
    for backend in backends() {
        let db = TestDb::create(backend).await;
        let smtp = SmtpSink::start_rejecting(&[REJECTED_EMAIL]).await;
        let app = TestApp::builder(BIN)
            .db(&db)
            .smtp(&smtp)
            .env("EHM_LOGIN_CODE", "true")
            // Everything the app can say.
            .env("EHM_LOG", "debug")
            .spawn()
            .await;
        let mut env = Env { app, smtp, db };

        // Someone registers with an address the council's mail server refuses.
        let r = env.app.client();
        r.get("/register").await;
        assert_redirect(
            &r.post_form(
                "/register",
                &[
                    ("full_name", REJECTED_NAME),
                    ("email", REJECTED_EMAIL),
                    ("password", REFERRER_PASSWORD),
                ],
            )
            .await,
            "/register/confirm-email",
        );

        // A referrer registers, confirms, signs in with a code and refers a child.
        let c = env.app.client();
        c.get("/register").await;
        assert_redirect(
            &c.post_form(
                "/register",
                &[
                    ("full_name", REFERRER_NAME),
                    ("email", REFERRER_EMAIL),
                    ("password", REFERRER_PASSWORD),
                ],
            )
            .await,
            "/register/confirm-email",
        );
        let confirm_code = mail_code(&env, REFERRER_EMAIL).await;
        assert_redirect(
            &c.post_form("/register/confirm-email", &[("code", &confirm_code)])
                .await,
            "/sign-in",
        );
        c.get("/sign-in").await;
        assert_redirect(
            &c.post_form(
                "/sign-in",
                &[("email", REFERRER_EMAIL), ("password", REFERRER_PASSWORD)],
            )
            .await,
            "/sign-in/code",
        );
        let sign_in_code = mail_code(&env, REFERRER_EMAIL).await;
        assert_redirect(
            &c.post_form("/sign-in/code", &[("code", &sign_in_code)])
                .await,
            "/",
        );
        c.get("/").await.assert_status(200);
        let draft = c.post_form("/referrals", &[]).await.location.unwrap();
        let nhs = nhs_number();
        refer(&c, &draft, &nhs).await;
        let check = c.get(&format!("{draft}/check")).await;
        assert!(check.text_contains(CHILD_LAST), "{}", check.text());
        let v = check.form_value("version").expect("a complete referral");
        let done = c
            .post_form(&format!("{draft}/submit"), &[("version", &v)])
            .await;
        assert_eq!(done.status, 303, "{}", done.text());
        let confirmation = env.smtp.wait_for_mail(REFERRER_EMAIL, WAIT).await.unwrap();
        assert!(confirmation.subject.contains("Referral"));

        // The rejected address's confirmation email has been tried and refused.
        let deadline = Instant::now() + WAIT;
        let rejected = loop {
            let rows = outbox(&env.db).await;
            if let Some(m) = rows
                .iter()
                .find(|m| m.to == REJECTED_EMAIL && m.attempts >= 1 && m.last_error.is_some())
            {
                break m.clone();
            }
            assert!(
                Instant::now() < deadline,
                "the rejected email was never tried: {rows:?}{}",
                env.app.diagnostics()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        wait_sent(&env.db, REFERRER_EMAIL, "Your sign-in code").await;
        wait_sent(&env.db, REFERRER_EMAIL, "Confirm your email address").await;
        assert!(env.smtp.messages_to(REJECTED_EMAIL).is_empty());

        // The stored error says what happened, without the address.
        let error = rejected.last_error.clone().unwrap();
        assert!(error.contains("550"), "{error}");
        assert!(an_address_in(&error).is_none(), "{error}");
        assert!(!error.to_lowercase().contains("brindlecombe"), "{error}");
        // Delivered codes are gone from the outbox.
        let rows = outbox(&env.db).await;
        assert_no_code_in_outbox(&rows, &confirm_code);
        assert_no_code_in_outbox(&rows, &sign_in_code);

        // Everything the app printed, start to finish.
        let (stdout, stderr) = env.app.stop_and_collect_output().await;
        assert!(
            stderr.contains("email delivery failed"),
            "the failure was not logged at all:\n{stderr}"
        );
        let everything = format!("{stdout}\n{stderr}");
        let lower = everything.to_lowercase();
        let (first, last) = REFERRER_NAME.split_once(' ').unwrap();
        let (r_first, r_last) = REJECTED_NAME.split_once(' ').unwrap();
        let forbidden = [
            REFERRER_EMAIL,
            REJECTED_EMAIL,
            "marguerite.quillfeather",
            "thaddeus.brindlecombe",
            first,
            last,
            r_first,
            r_last,
            CHILD_FIRST,
            CHILD_LAST,
            CHILD_OTHER,
            PARENT_NAME,
            "14/02/2016",
            "2016-02-14",
            "14 February 2016",
            "ZE9 8XY",
            "ZE98XY",
            ADDRESS_LINE,
            REFERRER_PHONE,
            &nhs,
            REFERRER_PASSWORD,
            &confirm_code,
            &sign_in_code,
        ];
        for needle in forbidden {
            assert!(
                !lower.contains(&needle.to_lowercase()),
                "{backend:?}: the app printed {needle:?}:\n{everything}"
            );
        }
        assert!(
            an_address_in(&everything).is_none(),
            "{backend:?}: the app printed an email address: {:?}",
            an_address_in(&everything)
        );
    }
}
