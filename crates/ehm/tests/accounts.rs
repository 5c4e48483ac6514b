//! Black-box tests of accounts: the real `ehm` binary on a random port, a fresh database
//! (SQLite, and PostgreSQL when the test script started one), and a real SMTP server
//! process receiving the mail.

use ehm_testkit::{Backend, Client, Page, SmtpSink, TestApp, TestDb, backends};
use std::time::Duration;

mod common;
use common::{BIN, Env, PASSWORD, create_user};

const MAIL_WAIT: Duration = Duration::from_secs(20);

async fn start(backend: Backend, extra: &[(&str, &str)]) -> Env {
    let mut env = vec![("EHM_LOGIN_CODE", "true")];
    env.extend_from_slice(extra);
    common::start(backend, &env).await
}

/// The first run of 8 digits in an email body.
fn code_in(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    for i in 0..chars.len().saturating_sub(7) {
        let w = &chars[i..i + 8];
        let before = i
            .checked_sub(1)
            .map(|j| chars[j].is_ascii_digit())
            .unwrap_or(false);
        let after = chars.get(i + 8).is_some_and(|c| c.is_ascii_digit());
        if w.iter().all(|c| c.is_ascii_digit()) && !before && !after {
            return w.iter().collect();
        }
    }
    panic!("no 8-digit code in: {text}");
}

async fn latest_code(env: &Env, to: &str, subject: &str, after: usize) -> String {
    let deadline = std::time::Instant::now() + MAIL_WAIT;
    loop {
        let mails: Vec<_> = env
            .smtp
            .messages_to(to)
            .into_iter()
            .filter(|m| m.subject == subject)
            .collect();
        if mails.len() > after {
            return code_in(&mails.last().unwrap().text);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no new '{subject}' mail to {to}; got {:?}",
            env.smtp
                .all()
                .iter()
                .map(|m| &m.subject)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn count(env: &Env, to: &str, subject: &str) -> usize {
    env.smtp
        .messages_to(to)
        .into_iter()
        .filter(|m| m.subject == subject)
        .count()
}

fn assert_redirect(page: &Page, to: &str) {
    assert_eq!(
        page.status,
        303,
        "expected a redirect to {to}, got {} with {}",
        page.status,
        page.text()
    );
    assert_eq!(page.location.as_deref(), Some(to));
}

async fn register(c: &Client, email: &str) -> Page {
    c.get("/register").await.assert_status(200);
    c.post_form(
        "/register",
        &[
            ("full_name", "Robin Example"),
            ("email", email),
            ("password", PASSWORD),
        ],
    )
    .await
}

/// Register, confirm the email, sign in with password and emailed code.
async fn registered_and_signed_in(env: &Env, email: &str) -> Client {
    let c = env.app.client();
    assert_redirect(&register(&c, email).await, "/register/confirm-email");
    let code = latest_code(env, email, "Confirm your email address", 0).await;
    assert_redirect(
        &c.post_form("/register/confirm-email", &[("code", &code)])
            .await,
        "/sign-in",
    );
    sign_in(env, &c, email, 0).await;
    c
}

async fn sign_in(env: &Env, c: &Client, email: &str, codes_before: usize) {
    c.get("/sign-in").await.assert_status(200);
    assert_redirect(
        &c.post_form("/sign-in", &[("email", email), ("password", PASSWORD)])
            .await,
        "/sign-in/code",
    );
    let code = latest_code(env, email, "Your sign-in code", codes_before).await;
    let signed_in = c.post_form("/sign-in/code", &[("code", &code)]).await;
    assert_redirect(&signed_in, "/");
    assert_hardened(&signed_in.set_cookies().join("\n"), "__Host-ehm_session=");
    let home = c.get("/").await;
    home.assert_status(200);
    assert!(home.text_contains("Your referrals"), "{}", home.text());
}

#[tokio::test]
async fn register_confirm_and_sign_in_with_codes_from_a_real_smtp_server() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let email = "robin.register@example.org";
        let c = registered_and_signed_in(&env, email).await;
        // The session cookie is hardened.
        let cookie = c.cookie("__Host-ehm_session");
        assert!(cookie.is_some(), "{backend:?}: no session cookie");
        // Signing out ends the session: the old cookie no longer signs anyone in.
        let old = c.cookie("__Host-ehm_session").unwrap();
        c.get("/").await;
        assert_redirect(&c.post_form("/sign-out", &[]).await, "/signed-out");
        let replay = env.app.client();
        replay.set_cookie("__Host-ehm_session", &old);
        let page = replay.get("/").await;
        assert!(
            !page.text_contains("Your referrals"),
            "{backend:?}: old session still valid after sign-out"
        );
    }
}

#[tokio::test]
async fn a_used_code_cannot_be_used_again() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let email = "riley.reuse@example.org";
        let c = registered_and_signed_in(&env, email).await;
        let first_sign_in_code = latest_code(&env, email, "Your sign-in code", 0).await;
        let verify_code = latest_code(&env, email, "Confirm your email address", 0).await;
        c.post_form("/sign-out", &[]).await;
        c.get("/sign-in").await;
        assert_redirect(
            &c.post_form("/sign-in", &[("email", email), ("password", PASSWORD)])
                .await,
            "/sign-in/code",
        );
        let second = latest_code(&env, email, "Your sign-in code", 1).await;
        for used in [&first_sign_in_code, &verify_code] {
            if used == &second {
                continue; // one chance in 10^8
            }
            let page = c.post_form("/sign-in/code", &[("code", used)]).await;
            assert_eq!(page.status, 422, "{backend:?}: a used code was accepted");
            assert!(!page.error_summary().is_empty());
        }
        assert_redirect(
            &c.post_form("/sign-in/code", &[("code", &second)]).await,
            "/",
        );
    }
}

#[tokio::test]
async fn five_wrong_codes_lock_the_code_even_for_the_right_one() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let email = "wren.wrong@example.org";
        let c = env.app.client();
        assert_redirect(&register(&c, email).await, "/register/confirm-email");
        let code = latest_code(&env, email, "Confirm your email address", 0).await;
        let wrong = if code == "11111111" {
            "22222222"
        } else {
            "11111111"
        };
        for i in 1..=5 {
            let page = c
                .post_form("/register/confirm-email", &[("code", wrong)])
                .await;
            assert_eq!(page.status, 422);
            let msg = page.error_summary().join(" ");
            if i < 5 {
                assert!(msg.contains("not correct"), "attempt {i}: {msg}");
            } else {
                assert!(msg.contains("too many times"), "attempt {i}: {msg}");
            }
        }
        let page = c
            .post_form("/register/confirm-email", &[("code", &code)])
            .await;
        assert_eq!(
            page.status, 422,
            "{backend:?}: the right code worked after five wrong ones"
        );
        assert!(page.error_summary().join(" ").contains("too many times"));
        // "Send a new code" gives a fresh code that works.
        assert_redirect(
            &c.post_form("/register/new-code", &[]).await,
            "/register/confirm-email",
        );
        let fresh = latest_code(&env, email, "Confirm your email address", 1).await;
        assert_redirect(
            &c.post_form("/register/confirm-email", &[("code", &fresh)])
                .await,
            "/sign-in",
        );
    }
}

#[tokio::test]
async fn generic_mailboxes_are_refused_with_the_reason() {
    let env = start(Backend::Sqlite, &[]).await;
    let c = env.app.client();
    for generic in [
        "info@school.example.org",
        "office@example.org",
        "reception@example.org",
    ] {
        let page = register(&c, generic).await;
        assert_eq!(page.status, 422);
        let summary = page.error_summary().join(" ");
        assert!(summary.contains("shared mailbox"), "{summary}");
        assert!(page.title().starts_with("Error: "), "{}", page.title());
        // What was typed is shown again.
        assert_eq!(page.form_value("email").as_deref(), Some(generic));
        assert_eq!(
            page.form_value("full_name").as_deref(),
            Some("Robin Example")
        );
    }
}

#[tokio::test]
async fn bad_registration_input_gets_specific_errors_and_keeps_typed_values() {
    let env = start(Backend::Sqlite, &[]).await;
    let c = env.app.client();
    c.get("/register").await;
    let page = c
        .post_form(
            "/register",
            &[
                ("full_name", ""),
                ("email", "not-an-email"),
                ("password", "password"),
            ],
        )
        .await;
    assert_eq!(page.status, 422);
    let summary = page.error_summary();
    assert!(
        summary.iter().any(|m| m == "Enter your full name"),
        "{summary:?}"
    );
    assert!(
        summary.iter().any(|m| m.contains("correct format")),
        "{summary:?}"
    );
    assert!(
        summary.iter().any(|m| m.contains("12 characters")),
        "{summary:?}"
    );
    assert_eq!(page.form_value("email").as_deref(), Some("not-an-email"));
    assert_eq!(
        page.select_attr(".govuk-error-summary__list a", "href"),
        vec!["#full-name", "#email", "#password"]
    );
}

#[tokio::test]
async fn a_post_without_the_csrf_token_is_refused() {
    let env = start(Backend::Sqlite, &[]).await;
    let c = env.app.client();
    c.get("/sign-in").await;
    let page = c
        .post_form_without_csrf(
            "/sign-in",
            &[("email", "a@example.org"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, 403);
    let page = c
        .post_form(
            "/sign-in",
            &[
                ("email", "a@example.org"),
                ("password", PASSWORD),
                ("csrf_token", "forged"),
            ],
        )
        .await;
    assert_eq!(page.status, 403);
}

#[tokio::test]
async fn before_go_live_nobody_can_register() {
    for backend in backends() {
        let env = start(backend, &[("EHM_GO_LIVE", "2099-10-03")]).await;
        let c = env.app.client();
        let page = c.get("/register").await;
        page.assert_status(200);
        assert!(
            page.text_contains("opens on 3 October 2099"),
            "{}",
            page.text()
        );
        assert!(
            page.select("form[action='/register']").is_empty(),
            "registration form shown before go-live"
        );
        let page = c
            .post_form(
                "/register",
                &[
                    ("full_name", "Early Bird"),
                    ("email", "early.bird@example.org"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(page.status, 403);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(
            count(&env, "early.bird@example.org", "Confirm your email address"),
            0
        );
        // And the account does not exist: signing in fails like an unknown address.
        c.get("/sign-in").await;
        let page = c
            .post_form(
                "/sign-in",
                &[("email", "early.bird@example.org"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(page.status, 422);
    }
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_sign_in_without_revealing_the_account() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let email = "lee.locked@example.org";
        let _c = registered_and_signed_in(&env, email).await;
        let unknown = "nobody.here@example.org";
        let messages = |addr: &'static str| {
            let app_client = env.app.client();
            async move {
                app_client.get("/sign-in").await;
                let mut out = Vec::new();
                for _ in 0..5 {
                    let p = app_client
                        .post_form(
                            "/sign-in",
                            &[("email", addr), ("password", "wrong password here")],
                        )
                        .await;
                    assert_eq!(p.status, 422);
                    out.push(p.error_summary().join(" "));
                }
                let p = app_client
                    .post_form("/sign-in", &[("email", addr), ("password", PASSWORD)])
                    .await;
                out.push(p.error_summary().join(" "));
                out
            }
        };
        let known = messages(email).await;
        let unknown_msgs = messages(unknown).await;
        assert_eq!(
            known, unknown_msgs,
            "{backend:?}: responses reveal whether the account exists"
        );
        assert!(
            known[0].contains("Enter a correct email address and password"),
            "{known:?}"
        );
        assert!(known[4].contains("locked"), "{known:?}");
        assert!(
            known[5].contains("locked"),
            "{backend:?}: right password accepted while locked: {known:?}"
        );
    }
}

#[tokio::test]
async fn password_reset_by_emailed_code_ends_old_sessions() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let email = "pat.reset@example.org";
        let old_session = registered_and_signed_in(&env, email).await;
        let c = env.app.client();
        c.get("/forgot-password").await;
        assert_redirect(
            &c.post_form("/forgot-password", &[("email", email)]).await,
            "/reset-password",
        );
        let code = latest_code(&env, email, "Reset your password", 0).await;
        c.get("/reset-password").await;
        let weak = c
            .post_form(
                "/reset-password",
                &[("code", &code), ("password", "password123")],
            )
            .await;
        assert_eq!(weak.status, 422);
        let new_password = "harbour thistle comet";
        assert_redirect(
            &c.post_form(
                "/reset-password",
                &[("code", &code), ("password", new_password)],
            )
            .await,
            "/sign-in",
        );
        // The session signed in before the reset is over.
        assert!(
            !old_session.get("/").await.text_contains("Your referrals"),
            "{backend:?}: old session survived a password change"
        );
        // The old password no longer works; the new one does.
        c.get("/sign-in").await;
        assert_eq!(
            c.post_form("/sign-in", &[("email", email), ("password", PASSWORD)])
                .await
                .status,
            422
        );
        assert_redirect(
            &c.post_form("/sign-in", &[("email", email), ("password", new_password)])
                .await,
            "/sign-in/code",
        );
        // An unknown address gets the same answer and no mail.
        let u = env.app.client();
        u.get("/forgot-password").await;
        assert_redirect(
            &u.post_form("/forgot-password", &[("email", "ghost@example.org")])
                .await,
            "/reset-password",
        );
    }
}

#[tokio::test]
async fn staff_set_up_an_authenticator_app_and_a_code_cannot_be_replayed() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let email = "casey.worker@example.org";
        create_user(&env, email, "social-worker", "Casey Worker");
        let c = env.app.client();
        c.get("/sign-in").await;
        assert_redirect(
            &c.post_form("/sign-in", &[("email", email), ("password", PASSWORD)])
                .await,
            "/sign-in/code",
        );
        let code = latest_code(&env, email, "Your sign-in code", 0).await;
        assert_redirect(
            &c.post_form("/sign-in/code", &[("code", &code)]).await,
            "/sign-in/set-up-authenticator",
        );
        let page = c.get("/sign-in/set-up-authenticator").await;
        page.assert_status(200);
        let secret: String = page
            .select("code.app-secret")
            .join("")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        assert!(secret.len() >= 16, "no secret on the page: {}", page.text());
        let bytes = totp_rs::Secret::Encoded(secret).to_bytes().unwrap();
        let totp = totp_rs::TOTP::new(
            totp_rs::Algorithm::SHA1,
            6,
            1,
            30,
            bytes,
            None,
            String::new(),
        )
        .unwrap();
        let wrong = c
            .post_form("/sign-in/set-up-authenticator", &[("code", "000000")])
            .await;
        assert_eq!(wrong.status, 422);
        let now_code = totp.generate_current().unwrap();
        assert_redirect(
            &c.post_form("/sign-in/set-up-authenticator", &[("code", &now_code)])
                .await,
            "/",
        );
        assert!(c.get("/").await.text_contains("MASH social worker"));
        // Next sign-in asks for the app's code, and the code just used is refused.
        let c2 = env.app.client();
        c2.get("/sign-in").await;
        assert_redirect(
            &c2.post_form("/sign-in", &[("email", email), ("password", PASSWORD)])
                .await,
            "/sign-in/code",
        );
        let code2 = latest_code(&env, email, "Your sign-in code", 1).await;
        assert_redirect(
            &c2.post_form("/sign-in/code", &[("code", &code2)]).await,
            "/sign-in/authenticator",
        );
        let replay = c2
            .post_form("/sign-in/authenticator", &[("code", &now_code)])
            .await;
        assert_eq!(
            replay.status, 422,
            "{backend:?}: a TOTP code was accepted twice"
        );
        // The next step's code (within the allowed clock drift) is new, so it works.
        let now_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let next = totp.generate(now_s + 30);
        assert_redirect(
            &c2.post_form("/sign-in/authenticator", &[("code", &next)])
                .await,
            "/",
        );
    }
}

/// Every attribute a cookie of this service must carry (ASVS V3.3).
fn assert_hardened(set_cookie: &str, name: &str) {
    let line = set_cookie
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} cookie in: {set_cookie}"));
    assert!(
        name.starts_with("__Host-"),
        "{name} lacks the __Host- prefix"
    );
    for attr in ["; Secure", "; HttpOnly", "; SameSite=Lax", "; Path=/"] {
        assert!(line.contains(attr), "{name} lacks {attr}: {line}");
    }
    assert!(
        !line.contains("Domain="),
        "a __Host- cookie must not name a domain: {line}"
    );
}

#[tokio::test]
async fn pages_carry_security_headers_and_the_cookie_is_hardened() {
    let env = start(Backend::Sqlite, &[]).await;
    let c = env.app.client();
    let page = c.get("/sign-in").await;
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(
        page.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(
        page.header("referrer-policy").as_deref(),
        Some("no-referrer")
    );
    assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
    // Every answer carries a request id for tracing; a proxy's own id is kept.
    assert!(
        page.header("x-request-id").is_some_and(|v| v.len() >= 32),
        "no request id"
    );
    let traced = env.app.client();
    traced.set_default_header("x-request-id", "proxy-7f3a9c");
    assert_eq!(
        traced
            .get("/health")
            .await
            .header("x-request-id")
            .as_deref(),
        Some("proxy-7f3a9c")
    );
    // A signed-out visitor gets only the CSRF nonce cookie (no server-side session).
    let set_cookie = page.set_cookies().join("\n");
    assert!(
        !set_cookie.contains("__Host-ehm_session="),
        "a page view started a session: {set_cookie}"
    );
    assert_hardened(&set_cookie, "__Host-ehm_anon=");
    // Password and code fields allow paste and carry the right autocomplete.
    assert_eq!(
        page.select_attr("input[name=password]", "autocomplete"),
        vec!["current-password"]
    );
    assert_eq!(
        page.select_attr("input[name=email]", "autocomplete"),
        vec!["email"]
    );
    assert!(!page.body.contains("onpaste"));
    let reg = c.get("/register").await;
    assert_eq!(
        reg.select_attr("input[name=password]", "autocomplete"),
        vec!["new-password"]
    );
    let health = c.get("/health").await;
    health.assert_status(200);
    let missing = c.get("/no-such-page").await;
    assert_eq!(missing.status, 404);
    assert!(missing.text_contains("Page not found"));
}

#[tokio::test]
async fn an_idle_session_times_out_on_the_server() {
    let env = start(Backend::Sqlite, &[("EHM_SESSION_IDLE_SECONDS", "3")]).await;
    let email = "ida.idle@example.org";
    let c = registered_and_signed_in(&env, email).await;
    // Activity (the keep-alive) extends the session.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let token = c.csrf_token().unwrap();
        let p = c
            .post_form("/session/keep-alive", &[("csrf_token", &token)])
            .await;
        assert_eq!(p.status, 200, "keep-alive refused");
    }
    assert!(c.get("/").await.text_contains("Your referrals"));
    tokio::time::sleep(Duration::from_millis(4000)).await;
    let page = c.get("/").await;
    assert_redirect(&page, "/sign-in?timeout=1");
    let sign_in = c.get("/sign-in?timeout=1").await;
    assert!(
        sign_in.text_contains("You were signed out because you did not do anything for a while"),
        "{}",
        sign_in.text()
    );
    assert!(
        !c.get("/").await.text_contains("Your referrals"),
        "session outlived its idle timeout"
    );
}

#[tokio::test]
async fn mail_written_while_smtp_is_down_is_delivered_once_after_a_restart() {
    for backend in backends() {
        let db = TestDb::create(backend).await;
        let data = tempfile_dir();
        let email = "otto.outbox@example.org";
        {
            // SMTP points at a closed port: delivery fails and is retried later.
            let app = TestApp::builder(BIN)
                .db(&db)
                .data_dir(&data)
                .env("EHM_SMTP_URL", "smtp://127.0.0.1:9")
                .spawn()
                .await;
            let c = app.client();
            assert_redirect(&register(&c, email).await, "/register/confirm-email");
            tokio::time::sleep(Duration::from_secs(2)).await;
        } // the app process is killed here
        let smtp = SmtpSink::start().await;
        let _app = TestApp::builder(BIN)
            .db(&db)
            .data_dir(&data)
            .smtp(&smtp)
            .spawn()
            .await;
        let mail = smtp
            .wait_for_mail(email, Duration::from_secs(45))
            .await
            .expect("mail delivered after restart");
        assert_eq!(mail.subject, "Confirm your email address");
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            smtp.messages_to(email).len(),
            1,
            "{backend:?}: message sent more than once"
        );
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ehm-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

// ------------------------------------------------------------------------------------------
// Code expiry and the admin pages (issue 8, item 6).

/// Moves the issue and expiry times of every unused code back by `by`, as if it had been
/// sent that long ago.
async fn age_unused_codes(env: &Env, by: Duration) {
    let store = common::store(env).await;
    let ms = by.as_millis() as i64;
    let done = sqlx::query(
        "UPDATE one_time_codes SET created_at = created_at - $1, expires_at = expires_at - $1 \
         WHERE used_at IS NULL",
    )
    .bind(ms)
    .execute(store.pool())
    .await
    .unwrap();
    assert!(done.rows_affected() > 0, "no unused code to age");
}

#[tokio::test]
async fn an_emailed_code_expires_after_ten_minutes_and_a_new_one_works() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let email = "tess.timeout@example.org";
        let c = env.app.client();
        assert_redirect(&register(&c, email).await, "/register/confirm-email");
        let code = latest_code(&env, email, "Confirm your email address", 0).await;
        // Stored to live ten minutes exactly.
        let store = common::store(&env).await;
        let lifetimes: Vec<i64> = sqlx::query_scalar(
            "SELECT expires_at - created_at FROM one_time_codes WHERE used_at IS NULL",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert_eq!(lifetimes, vec![10 * 60 * 1000], "{backend:?}");
        // Ten minutes and a second later the right code is refused as expired.
        age_unused_codes(&env, Duration::from_secs(10 * 60 + 1)).await;
        let page = c
            .post_form("/register/confirm-email", &[("code", &code)])
            .await;
        assert_eq!(
            page.status, 422,
            "{backend:?}: an expired code was accepted"
        );
        assert_eq!(
            page.error_summary(),
            vec!["The code has expired. Request a new code"]
        );
        assert!(
            !c.get("/").await.text_contains("Your referrals"),
            "{backend:?}: signed in with an expired code"
        );
        // A new code works.
        c.get("/register/confirm-email").await;
        assert_redirect(
            &c.post_form("/register/new-code", &[]).await,
            "/register/confirm-email",
        );
        let fresh = latest_code(&env, email, "Confirm your email address", 1).await;
        assert_redirect(
            &c.post_form("/register/confirm-email", &[("code", &fresh)])
                .await,
            "/sign-in",
        );
        // A sign-in code nine and a half minutes old still works: the lifetime is ten
        // minutes, not less (half a minute of slack for a slow test machine).
        c.get("/sign-in").await;
        assert_redirect(
            &c.post_form("/sign-in", &[("email", email), ("password", PASSWORD)])
                .await,
            "/sign-in/code",
        );
        let sign_in_code = latest_code(&env, email, "Your sign-in code", 0).await;
        age_unused_codes(&env, Duration::from_secs(9 * 60 + 30)).await;
        assert_redirect(
            &c.post_form("/sign-in/code", &[("code", &sign_in_code)])
                .await,
            "/",
        );
    }
}

/// A TOTP generator for the secret shown on the set-up page.
fn totp_of(page: &Page) -> totp_rs::TOTP {
    let secret: String = page
        .select("code.app-secret")
        .join("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    assert!(secret.len() >= 16, "no secret on the page: {}", page.text());
    let bytes = totp_rs::Secret::Encoded(secret).to_bytes().unwrap();
    totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        None,
        String::new(),
    )
    .unwrap()
}

/// A staff account's first sign-in: password, emailed code, authenticator set-up.
async fn staff_first_sign_in(env: &Env, email: &str, codes_before: usize) -> Client {
    let c = env.app.client();
    c.get("/sign-in").await;
    assert_redirect(
        &c.post_form("/sign-in", &[("email", email), ("password", PASSWORD)])
            .await,
        "/sign-in/code",
    );
    let code = latest_code(env, email, "Your sign-in code", codes_before).await;
    assert_redirect(
        &c.post_form("/sign-in/code", &[("code", &code)]).await,
        "/sign-in/set-up-authenticator",
    );
    let page = c.get("/sign-in/set-up-authenticator").await;
    let totp = totp_of(&page);
    assert_redirect(
        &c.post_form(
            "/sign-in/set-up-authenticator",
            &[("code", &totp.generate_current().unwrap())],
        )
        .await,
        "/",
    );
    c
}

const ADMIN_PAGES: [&str; 3] = ["/admin/users", "/admin/users/new", "/admin/audit"];

#[tokio::test]
async fn an_administrator_manages_staff_accounts_and_reads_the_audit_log() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let admin = "ada.admin@example.org";
        create_user(&env, admin, "admin", "Ada Admin");
        let c = staff_first_sign_in(&env, admin, 0).await;
        let home = c.get("/").await;
        assert!(home.text_contains("Administrator"), "{}", home.text());

        let users = c.get("/admin/users").await;
        users.assert_status(200);
        assert_eq!(users.h1(), vec!["Users"]);
        let rows = users.select("tbody tr");
        assert_eq!(
            rows,
            vec!["Ada Admin ada.admin@example.org Administrator Active Set up"],
            "{backend:?}"
        );

        // A form with mistakes is shown again with the errors and what was typed.
        let form = c.get("/admin/users/new").await;
        form.assert_status(200);
        assert_eq!(
            form.select_attr("input[name=role]", "value"),
            vec!["business-support", "social-worker", "manager", "admin"]
        );
        let bad = c
            .post_form(
                "/admin/users/new",
                &[
                    ("full_name", "Casey Worker"),
                    ("email", "not-an-email"),
                    ("role", "social-worker"),
                ],
            )
            .await;
        assert_eq!(bad.status, 422);
        assert!(!bad.error_summary().is_empty());
        assert_eq!(bad.form_value("full_name").as_deref(), Some("Casey Worker"));
        assert_eq!(bad.form_value("role").as_deref(), Some("social-worker"));

        let worker = "casey.worker@example.org";
        let created = c
            .post_form(
                "/admin/users/new",
                &[
                    ("full_name", "Casey Worker"),
                    ("email", worker),
                    ("role", "social-worker"),
                ],
            )
            .await;
        assert_redirect(&created, "/admin/users");
        let users = c.get("/admin/users").await;
        assert!(
            users.text_contains(&format!(
                "Account created for {worker}. They have been emailed how to set their password."
            )),
            "{}",
            users.text()
        );
        assert!(
            users.select("tbody tr").contains(&format!(
                "Casey Worker {worker} MASH social worker Active Not set up yet"
            )),
            "{backend:?}: {:?}",
            users.select("tbody tr")
        );
        let mail = env
            .smtp
            .wait_for_mail(worker, MAIL_WAIT)
            .await
            .expect("the new person is emailed");
        assert_eq!(mail.subject, "Your account has been created");
        assert!(
            mail.text.contains("MASH social worker account")
                && mail
                    .text
                    .contains(&format!("{}/forgot-password", env.app.base_url)),
            "{}",
            mail.text
        );
        // The new person chooses a password from the email and signs in as staff.
        let w = env.app.client();
        w.get("/forgot-password").await;
        assert_redirect(
            &w.post_form("/forgot-password", &[("email", worker)]).await,
            "/reset-password",
        );
        let code = latest_code(&env, worker, "Reset your password", 0).await;
        w.get("/reset-password").await;
        assert_redirect(
            &w.post_form(
                "/reset-password",
                &[("code", &code), ("password", PASSWORD)],
            )
            .await,
            "/sign-in",
        );
        let w = staff_first_sign_in(&env, worker, 0).await;
        assert!(w.get("/").await.text_contains("MASH social worker"));

        // The audit log shows what happened, newest first.
        let audit = c.get("/admin/audit").await;
        audit.assert_status(200);
        let actions: Vec<String> = audit.select("tbody tr td:nth-child(3)");
        for action in ["create-user", "sign-in", "totp-enrol", "password-reset"] {
            assert!(
                actions.iter().any(|a| a == action),
                "{backend:?}: no {action} in the audit log: {actions:?}"
            );
        }
        let times: Vec<String> = audit.select("tbody tr td:nth-child(1)");
        assert!(
            times.windows(2).all(|w| w[0] >= w[1]),
            "{backend:?}: not newest first: {times:?}"
        );
        // The social worker cannot open the admin pages.
        for path in ADMIN_PAGES {
            assert_eq!(w.get(path).await.status, 403, "{backend:?}: {path}");
        }
    }
}

#[tokio::test]
async fn referrers_and_social_workers_are_refused_the_admin_pages() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let store = common::store(&env).await;
        let referrer = registered_and_signed_in(&env, "rory.referrer@example.org").await;
        create_user(
            &env,
            "sol.worker@example.org",
            "social-worker",
            "Sol Worker",
        );
        let worker = staff_first_sign_in(&env, "sol.worker@example.org", 0).await;
        create_user(&env, "ada.admin@example.org", "admin", "Ada Admin");
        let users_before = store.count(ehm_storage::Counted::Users).await.unwrap();
        for (who, c) in [("referrer", &referrer), ("social worker", &worker)] {
            for path in ADMIN_PAGES {
                let page = c.get(path).await;
                assert_eq!(page.status, 403, "{backend:?}: {who} got {path}");
                assert!(
                    !page.text_contains("All accounts") && !page.text_contains("IP address"),
                    "{backend:?}: {who} saw the content of {path}"
                );
            }
            c.get("/").await;
            let posted = c
                .post_form(
                    "/admin/users/new",
                    &[
                        ("full_name", "Mallory Sneak"),
                        ("email", "mallory.sneak@example.org"),
                        ("role", "admin"),
                    ],
                )
                .await;
            assert_eq!(posted.status, 403, "{backend:?}: {who} created an account");
        }
        assert_eq!(
            store.count(ehm_storage::Counted::Users).await.unwrap(),
            users_before,
            "{backend:?}: an account was created without the right"
        );
        // Signed-out visitors are sent to sign in.
        let anon = env.app.client();
        for path in ADMIN_PAGES {
            let page = anon.get(path).await;
            assert_eq!(page.location.as_deref(), Some("/sign-in"), "{path}");
        }
        // Each refusal is in the audit log, for the administrator to see.
        let admin = staff_first_sign_in(&env, "ada.admin@example.org", 0).await;
        let audit = admin.get("/admin/audit").await;
        let refusals = audit
            .select("tbody tr")
            .into_iter()
            .filter(|r| r.contains("access-check") && r.contains("refused"))
            .count();
        assert!(
            refusals >= 2 * (ADMIN_PAGES.len() + 1),
            "{backend:?}: {refusals} refusals audited"
        );
    }
}

#[tokio::test]
async fn the_accounts_list_is_searched_and_paged_staff_first() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let admin = "ada.admin@example.org";
        create_user(&env, admin, "admin", "Ada Admin");
        let store = common::store(&env).await;
        for i in 0..55 {
            let email =
                ehm_domain::account::Email::parse(&format!("teacher{i:02}@example.org")).unwrap();
            let mut tx = store.begin().await.unwrap();
            store
                .create_user(
                    &mut tx,
                    ehm_storage::NewUser {
                        email: &email,
                        display_name: &format!("Teacher {i:02}"),
                        role: ehm_domain::account::Role::Referrer,
                        password_hash: "x",
                        verified: true,
                    },
                    time::OffsetDateTime::now_utc(),
                )
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        let c = staff_first_sign_in(&env, admin, 0).await;
        let caption = |p: &Page| p.select("table.govuk-table caption").join("");

        let first = c.get("/admin/users").await;
        first.assert_status(200);
        assert_eq!(caption(&first), "Accounts 1 to 50 of 56", "{backend:?}");
        let rows = first.select("tbody tr");
        assert_eq!(rows.len(), 50, "{backend:?}");
        assert!(rows[0].starts_with("Ada Admin"), "{backend:?}: staff first");
        assert_eq!(
            first.select_attr("a[rel=next]", "href"),
            vec!["/admin/users?page=2"],
            "{backend:?}"
        );

        let second = c.get("/admin/users?page=2").await;
        assert_eq!(caption(&second), "Accounts 51 to 56 of 56", "{backend:?}");
        assert_eq!(second.select("tbody tr").len(), 6, "{backend:?}");

        let found = c.get("/admin/users?q=teacher+07").await;
        assert_eq!(
            caption(&found),
            "Accounts 1 to 1 of 1 matching the search",
            "{backend:?}"
        );
        assert_eq!(
            found.select("tbody tr"),
            vec!["Teacher 07 teacher07@example.org Referrer Active Not needed"],
            "{backend:?}"
        );
        assert_eq!(found.form_value("q").as_deref(), Some("teacher 07"));

        // By name, paged with the search kept.
        let by_name = c.get("/admin/users?q=TEACHER").await;
        assert_eq!(
            caption(&by_name),
            "Accounts 1 to 50 of 55 matching the search",
            "{backend:?}"
        );
        assert_eq!(
            by_name.select_attr("a[rel=next]", "href"),
            vec!["/admin/users?q=TEACHER&page=2"],
            "{backend:?}"
        );

        for nothing in [
            "/admin/users?q=nobody",
            "/admin/users?q=%25",
            "/admin/users?q=_",
        ] {
            let p = c.get(nothing).await;
            p.assert_status(200);
            assert_eq!(
                caption(&p),
                "No accounts match the search",
                "{backend:?} {nothing}"
            );
        }
        // A page past the last goes to the last, with the search kept.
        assert_redirect(&c.get("/admin/users?page=9").await, "/admin/users?page=2");
        assert_redirect(
            &c.get("/admin/users?q=teacher+07&page=3").await,
            "/admin/users?q=teacher+07&page=1",
        );
        // A page number that is not one shows the first page.
        let odd = c.get("/admin/users?page=abc").await;
        assert_eq!(caption(&odd), "Accounts 1 to 50 of 56", "{backend:?}");

        // Every reading of the list is recorded, by whom: 10 requests above.
        let reads = store
            .search_audit(
                &ehm_storage::AuditFilter {
                    object_type: Some("user".into()),
                    ..Default::default()
                },
                1000,
                0,
            )
            .await
            .unwrap();
        let reads: Vec<_> = reads
            .rows
            .iter()
            .filter(|r| r.action == "view-accounts")
            .collect();
        assert_eq!(reads.len(), 10, "{backend:?}");
        let admin_id = store.user_by_email(admin).await.unwrap().unwrap().id;
        assert!(
            reads
                .iter()
                .all(|r| r.actor_user_id == Some(admin_id) && r.outcome == "success"),
            "{backend:?}"
        );
    }
}
