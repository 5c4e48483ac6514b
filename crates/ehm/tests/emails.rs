//! Black-box tests of the emails as they arrive (issue 8, item 4): through a real SMTP server
//! every email is `multipart/alternative` with the plain text first and the HTML second, both
//! saying the same thing; the Message-ID is the outbox's; a code email keeps neither body in
//! the outbox once delivered, an ordinary one keeps both. In demo mode (the `.eml` file
//! transport) the mailbox page shows the plain-text part.

use ehm_storage::Store;
use ehm_testkit::{Client, Page, ReceivedMail, TestApp, backends};
use std::time::{Duration, Instant};

mod common;
use common::{BIN, PASSWORD};

const WAIT: Duration = Duration::from_secs(30);

/// Everything one multipart email must be, whatever it says. Returns the HTML part.
fn assert_multipart_alternative(mail: &ReceivedMail, sentence: &str) -> String {
    let raw = &mail.raw;
    assert!(
        raw.contains("Content-Type: multipart/alternative"),
        "not multipart/alternative:\n{raw}"
    );
    let text_at = raw
        .find("Content-Type: text/plain")
        .expect("a text/plain part");
    let html_at = raw
        .find("Content-Type: text/html")
        .expect("a text/html part");
    assert!(text_at < html_at, "the plain text must come first:\n{raw}");
    assert!(mail.text.contains(sentence), "{}", mail.text);
    assert!(
        !mail.text.contains('<'),
        "markup in the text part: {}",
        mail.text
    );
    let html = mail.html.clone().expect("an HTML part");
    assert!(html.contains("<html lang=\"en\">"), "{html}");
    assert!(html.contains(sentence), "{html}");
    assert!(html.contains("If a child is in immediate danger call 999."));
    html
}

/// The outbox row of the message that arrived as `mail`, once it is marked sent.
async fn sent_row(store: &Store, mail: &ReceivedMail) -> ehm_storage::OutboxMessage {
    let message_id = mail.message_id.clone().expect("a Message-ID");
    let deadline = Instant::now() + WAIT;
    loop {
        let row = store
            .list_mail(100)
            .await
            .unwrap()
            .into_iter()
            .find(|m| message_id == format!("{}@example.org", m.message_id));
        if let Some(row) = row.filter(|m| m.sent_at.is_some()) {
            return row;
        }
        assert!(Instant::now() < deadline, "{message_id} not marked sent");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn register(c: &Client, email: &str) -> Page {
    c.get("/register").await.assert_status(200);
    c.post_form(
        "/register",
        &[
            ("full_name", "Noor Emailtester"),
            ("email", email),
            ("password", PASSWORD),
        ],
    )
    .await
}

#[tokio::test]
async fn emails_arrive_through_smtp_as_text_then_html_and_the_outbox_keeps_what_it_should() {
    for backend in backends() {
        let env = common::start(backend, &[]).await;
        let store = common::store(&env).await;
        let email = "noor.emailtester@example.org";

        // A code email: the same code in both parts, in large type in the HTML.
        let c = env.app.client();
        common::assert_redirect(&register(&c, email).await, "/register/confirm-email");
        let mail = env.smtp.wait_for_mail(email, WAIT).await.unwrap();
        assert_eq!(mail.subject, "Confirm your email address");
        let html = assert_multipart_alternative(
            &mail,
            "The code expires in 10 minutes and can only be used once.",
        );
        let code = common::code_in(&mail.text).expect("a code in the text");
        assert!(
            html.contains(&format!("font-size: 36px; line-height: 40px; font-weight: bold; letter-spacing: 2px; color: #0b0c0c;\">{code}</p>")),
            "{html}"
        );
        // Delivered: neither body is kept (the code lives on only as a hash).
        let row = sent_row(&store, &mail).await;
        assert!(row.secret);
        assert_eq!(row.body_html, None, "{row:?}");
        assert!(!row.body_text.contains(&code), "{row:?}");
        // And the code works.
        common::assert_redirect(
            &c.post_form("/register/confirm-email", &[("code", &code)])
                .await,
            "/sign-in",
        );

        // An ordinary email: both bodies kept until the retention purge.
        register(&env.app.client(), email).await;
        let mail = env.smtp.wait_for_mail(email, WAIT).await.unwrap();
        assert_eq!(mail.subject, "You already have an account");
        let html = assert_multipart_alternative(
            &mail,
            "If it was not you, you do not need to do anything.",
        );
        let row = sent_row(&store, &mail).await;
        assert!(!row.secret);
        // What arrived is what was queued (lines end in CRLF on the wire).
        assert_eq!(
            row.body_html.as_deref(),
            Some(html.replace("\r\n", "\n").as_str()),
            "{row:?}"
        );
    }
}

#[tokio::test]
async fn the_demo_mailbox_shows_the_plain_text_part_of_a_multipart_email() {
    let cwd = tempfile::Builder::new()
        .prefix("ehm-cwd-")
        .tempdir()
        .unwrap();
    let app = TestApp::builder(BIN)
        .args(["demo"])
        .unset("EHM_DEMO")
        .current_dir(cwd.path())
        .spawn()
        .await;
    let c = app.client();
    c.get("/sign-in").await;
    let p = c
        .post_form(
            "/sign-in",
            &[
                ("email", "sam.teacher@example.org"),
                ("password", "demo kettle orbit"),
            ],
        )
        .await;
    common::assert_redirect(&p, "/sign-in/code");
    let deadline = Instant::now() + WAIT;
    let text = loop {
        let mailbox = c.get("/demo/mailbox").await;
        mailbox.assert_status(200);
        let text = mailbox.text();
        if text.contains("Your sign-in code") && common::code_in(&text).is_some() {
            break text;
        }
        assert!(Instant::now() < deadline, "no code in the mailbox: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The file is multipart/alternative …
    let eml = std::fs::read_dir(app.data_dir().join("outbox"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "eml"))
        .expect("an .eml file");
    let raw = std::fs::read_to_string(eml).unwrap();
    assert!(raw.contains("Content-Type: multipart/alternative"), "{raw}");
    // … and the page shows its plain text, not the HTML source.
    assert!(text.contains("Use this code to sign in for the"), "{text}");
    for html in ["DOCTYPE", "<p", "font-size"] {
        assert!(!text.contains(html), "{html} on the mailbox page: {text}");
    }
}
