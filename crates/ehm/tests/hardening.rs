//! Black-box tests of the hardening that makes the portal safe to put in front of the
//! public: no writes for anonymous page views, attempt limits that hold under
//! concurrency, no account enumeration, no mail floods, throttles that work behind a
//! reverse proxy and cannot lock a named person out, bounded work per request, and a
//! maximum session age. The real `ehm` binary, both databases, a real SMTP server.

use ehm_storage::{AuditRecord, Counted};
use ehm_testkit::{Backend, Client, Page, backends};
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::{Env, PASSWORD, assert_redirect, create_user, mails, store, wait_code};

async fn start(backend: Backend, extra: &[(&str, &str)]) -> Env {
    let mut env = vec![("EHM_LOGIN_CODE", "true")];
    env.extend_from_slice(extra);
    common::start(backend, &env).await
}

async fn audit(env: &Env) -> Vec<AuditRecord> {
    store(env).await.list_audit(100_000, 0).await.unwrap()
}

fn count(rows: &[AuditRecord], action: &str, outcome: &str) -> usize {
    rows.iter()
        .filter(|r| r.action == action && r.outcome == outcome)
        .count()
}

/// A code that is certainly not `code`.
fn wrong(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:08}", (n + 1) % 100_000_000)
}

/// What a page says, for comparing two journeys: status, redirect, errors, message.
fn said(p: &Page) -> String {
    format!(
        "{} {:?} {:?} {:?}",
        p.status,
        p.location,
        p.error_summary(),
        p.select(".govuk-notification-banner__content")
    )
}

// ------------------------------------------------------------------- item 2

#[tokio::test]
async fn anonymous_page_views_write_nothing_and_forms_stay_protected() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let db = store(&env).await;
        let pages = ["/", "/sign-in", "/register", "/forgot-password"];
        for i in 0..400 {
            let c = env.app.client();
            c.get(pages[i % pages.len()]).await.assert_status(200);
        }
        assert_eq!(
            db.count(Counted::Sessions).await.unwrap(),
            0,
            "{backend:?}: cookie-less page views created session rows"
        );
        // A signed-out visitor's form token is bound to their own cookie.
        let a = env.app.client();
        a.get("/sign-in").await;
        let a_token = a.csrf_token().expect("a token on the sign-in form");
        let b = env.app.client();
        let stolen = b
            .post_form(
                "/sign-in",
                &[
                    ("csrf_token", &a_token),
                    ("email", "x@example.org"),
                    ("password", "wrong password here"),
                ],
            )
            .await;
        assert_eq!(stolen.status, 403, "{backend:?}: token without its cookie");
        b.get("/sign-in").await;
        // Signed-out pages are rendered once and kept: each visitor still gets their own
        // token in them.
        let b_token = b.csrf_token().expect("a token on the sign-in form");
        assert_ne!(b_token, a_token, "{backend:?}: two visitors, one token");
        a.get("/sign-in").await;
        assert_eq!(a.csrf_token().as_deref(), Some(a_token.as_str()));
        let crossed = b
            .post_form(
                "/sign-in",
                &[
                    ("csrf_token", &a_token),
                    ("email", "x@example.org"),
                    ("password", "wrong password here"),
                ],
            )
            .await;
        assert_eq!(crossed.status, 403, "{backend:?}: another visitor's token");
        let missing = a
            .post_form_without_csrf(
                "/sign-in",
                &[("email", "x@example.org"), ("password", "wrong password")],
            )
            .await;
        assert_eq!(missing.status, 403);
        let own = a
            .post_form(
                "/sign-in",
                &[
                    ("email", "x@example.org"),
                    ("password", "wrong password here"),
                ],
            )
            .await;
        assert_eq!(own.status, 422, "{backend:?}: the visitor's own token");
        assert_eq!(
            db.count(Counted::Sessions).await.unwrap(),
            0,
            "{backend:?}: a failed sign-in created a session row"
        );
    }
}

// ------------------------------------------------------------------- item 3

async fn race<F, Fut>(n: usize, f: F) -> Vec<Page>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Page> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|_| tokio::spawn(f())).collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn sixty_concurrent_wrong_guesses_get_at_most_five_checks() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let email = "rae.racer@example.org";
        create_user(&env, email, "referrer", "Rae Racer");

        // An emailed reset code.
        let c = Arc::new(env.app.client());
        c.get("/forgot-password").await;
        assert_redirect(
            &c.post_form("/forgot-password", &[("email", email)]).await,
            "/reset-password",
        );
        c.get("/reset-password").await.assert_status(200);
        let code = wait_code(&env, email, "Reset your password", 0).await;
        let bad = wrong(&code);
        let pages = race(60, || {
            let (c, bad) = (c.clone(), bad.clone());
            async move {
                c.post_form(
                    "/reset-password",
                    &[("code", &bad), ("password", "a brand new passphrase")],
                )
                .await
            }
        })
        .await;
        assert!(pages.iter().all(|p| p.status == 422), "{backend:?}");
        let rows = audit(&env).await;
        let checked = count(&rows, "password-reset", "wrong-code");
        assert!(
            (1..=5).contains(&checked),
            "{backend:?}: {checked} codes were checked"
        );
        let right = c
            .post_form(
                "/reset-password",
                &[("code", &code), ("password", "a brand new passphrase")],
            )
            .await;
        assert_eq!(right.status, 422, "{backend:?}: the dead code still worked");
        assert!(
            right.error_summary().join(" ").contains("too many times"),
            "{:?}",
            right.error_summary()
        );

        // Passwords: the same account from one client address.
        let pages = race(60, || {
            let c = env.app.client();
            async move {
                c.get("/sign-in").await;
                c.post_form(
                    "/sign-in",
                    &[
                        ("email", "rae.racer@example.org"),
                        ("password", "not the password"),
                    ],
                )
                .await
            }
        })
        .await;
        assert!(pages.iter().all(|p| p.status == 422), "{backend:?}");
        let rows = audit(&env).await;
        let checked = count(&rows, "sign-in", "wrong-password");
        assert!(
            (1..=5).contains(&checked),
            "{backend:?}: {checked} passwords were checked"
        );
        let late = env.app.client();
        late.get("/sign-in").await;
        let p = late
            .post_form("/sign-in", &[("email", email), ("password", PASSWORD)])
            .await;
        assert!(
            p.error_summary().join(" ").contains("locked"),
            "{backend:?}: the right password got past the lock: {}",
            said(&p)
        );
    }
}

#[tokio::test]
async fn sixty_concurrent_wrong_authenticator_codes_get_at_most_five_checks() {
    let env = start(Backend::Sqlite, &[("EHM_LOGIN_CODE", "false")]).await;
    let email = "sid.staff@example.org";
    create_user(&env, email, "social-worker", "Sid Staff");
    let c = Arc::new(env.app.client());
    c.get("/sign-in").await;
    assert_redirect(
        &c.post_form("/sign-in", &[("email", email), ("password", PASSWORD)])
            .await,
        "/sign-in/set-up-authenticator",
    );
    let enrol = c.get("/sign-in/set-up-authenticator").await;
    let secret: String = enrol
        .select("code.app-secret")
        .join("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    assert!(
        secret.len() >= 16,
        "no secret on the page: {}",
        enrol.text()
    );
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
    let now_s = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    assert_redirect(
        &c.post_form(
            "/sign-in/set-up-authenticator",
            &[("code", &totp.generate(now_s()))],
        )
        .await,
        "/",
    );
    c.get("/").await.assert_status(200);
    assert_redirect(&c.post_form("/sign-out", &[]).await, "/signed-out");
    c.get("/sign-in").await;
    assert_redirect(
        &c.post_form("/sign-in", &[("email", email), ("password", PASSWORD)])
            .await,
        "/sign-in/authenticator",
    );
    c.get("/sign-in/authenticator").await;
    // Codes that are never right: six digits no step near now produces.
    let valid: Vec<String> = (-2..=2)
        .map(|k: i64| totp.generate((now_s() as i64 + 30 * k) as u64))
        .collect();
    let bad = (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|s| !valid.contains(s))
        .unwrap();
    let pages = race(60, || {
        let (c, bad) = (c.clone(), bad.clone());
        async move {
            c.post_form("/sign-in/authenticator", &[("code", &bad)])
                .await
        }
    })
    .await;
    assert!(pages.iter().all(|p| p.status == 422));
    let checked = count(&audit(&env).await, "sign-in-totp", "wrong-code");
    assert!((1..=5).contains(&checked), "{checked} codes were checked");
    tokio::time::sleep(Duration::from_secs(31)).await;
    let right = c
        .post_form(
            "/sign-in/authenticator",
            &[("code", &totp.generate(now_s()))],
        )
        .await;
    assert_eq!(right.status, 422, "the right code got past the limit");
    assert!(
        right
            .error_summary()
            .join(" ")
            .contains("Too many wrong codes")
    );
}

// ------------------------------------------------------------------- item 4

/// Everything a stranger sees when they register `email` and guess its code.
async fn register_transcript(env: &Env, email: &str) -> Vec<String> {
    let c = env.app.client();
    c.get("/register").await;
    let mut out = vec![said(
        &c.post_form(
            "/register",
            &[
                ("full_name", "Pat Prober"),
                ("email", email),
                ("password", "quiet harbour lantern"),
            ],
        )
        .await,
    )];
    let page = c.get("/register/confirm-email").await;
    out.push(format!("{} {}", page.status, page.h1().join(" ")));
    for _ in 0..6 {
        out.push(said(
            &c.post_form("/register/confirm-email", &[("code", "12345678")])
                .await,
        ));
    }
    out.push(said(&c.post_form("/register/new-code", &[]).await));
    out.push(said(&c.get("/register/confirm-email").await));
    out.push(said(
        &c.post_form("/register/confirm-email", &[("code", "12345678")])
            .await,
    ));
    out
}

/// Everything a stranger sees when they try to sign in as `email` and reset its password.
async fn sign_in_transcript(env: &Env, email: &str) -> Vec<String> {
    let c = env.app.client();
    c.get("/sign-in").await;
    let mut out = Vec::new();
    for _ in 0..6 {
        out.push(said(
            &c.post_form(
                "/sign-in",
                &[("email", email), ("password", "wrong password here")],
            )
            .await,
        ));
    }
    let c = env.app.client();
    c.get("/forgot-password").await;
    out.push(said(
        &c.post_form("/forgot-password", &[("email", email)]).await,
    ));
    out.push(said(&c.get("/reset-password").await));
    let local = email.split('@').next().unwrap();
    // A password containing the address, with a wrong code: the answer must not depend on
    // whether the account exists.
    out.push(said(
        &c.post_form(
            "/reset-password",
            &[
                ("code", "12345678"),
                ("password", &format!("{local} harbour lantern")),
            ],
        )
        .await,
    ));
    for _ in 0..5 {
        out.push(said(
            &c.post_form(
                "/reset-password",
                &[("code", "12345678"), ("password", "quiet harbour lantern")],
            )
            .await,
        ));
    }
    out
}

#[tokio::test]
async fn registered_and_unregistered_addresses_get_identical_answers() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let known = "kim.known@example.org";
        create_user(&env, known, "referrer", "Kim Known");
        let a = register_transcript(&env, known).await;
        let b = register_transcript(&env, "nia.new@example.org").await;
        assert_eq!(a, b, "{backend:?}: registration reveals the account");
        assert!(a[2].contains("not correct"), "{a:?}");
        assert!(a[6].contains("too many times"), "{a:?}");
        let a = sign_in_transcript(&env, known).await;
        let b = sign_in_transcript(&env, "nobody.here@example.org").await;
        assert_eq!(a, b, "{backend:?}: sign-in or reset reveals the account");
        assert!(a[4].contains("locked"), "{a:?}");
        assert!(a[8].contains("not correct"), "{a:?}");
    }
}

// ------------------------------------------------------------------- item 5

async fn settle(env: &Env, to: &str, subject: &str) -> usize {
    // Let the outbox deliver what it will.
    let mut last = usize::MAX;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let n = mails(env, to, subject).len();
        if n == last && n > 0 {
            return n;
        }
        last = n;
    }
    last
}

#[tokio::test]
async fn repeated_requests_send_at_most_three_emails_per_address() {
    for backend in backends() {
        let env = start(backend, &[]).await;
        let known = "flo.flood@example.org";
        create_user(&env, known, "referrer", "Flo Flood");
        let mut answers = Vec::new();
        for _ in 0..30 {
            let c = env.app.client();
            c.get("/register").await;
            answers.push(said(
                &c.post_form(
                    "/register",
                    &[
                        ("full_name", "Flo Flood"),
                        ("email", known),
                        ("password", "quiet harbour lantern"),
                    ],
                )
                .await,
            ));
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
        let sent = settle(&env, known, "You already have an account").await;
        assert!((1..=3).contains(&sent), "{backend:?}: {sent} emails sent");

        let mut answers = Vec::new();
        for _ in 0..30 {
            let c = env.app.client();
            c.get("/forgot-password").await;
            answers.push(said(
                &c.post_form("/forgot-password", &[("email", known)]).await,
            ));
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
        let sent = settle(&env, known, "Reset your password").await;
        assert!((1..=3).contains(&sent), "{backend:?}: {sent} codes sent");
    }
}

// ------------------------------------------------------------------- item 6

fn from(env: &Env, address: &str) -> Client {
    let c = env.app.client();
    c.set_default_header("x-forwarded-for", address);
    c
}

#[tokio::test]
async fn behind_a_trusted_proxy_one_address_cannot_lock_out_another() {
    for backend in backends() {
        let env = start(backend, &[("EHM_TRUSTED_PROXIES", "127.0.0.1/32, ::1")]).await;
        let owner = "ola.owner@example.org";
        create_user(&env, owner, "referrer", "Ola Owner");
        let attacker = from(&env, "198.51.100.7");
        attacker.get("/sign-in").await;
        for i in 0..60 {
            let email = if i < 6 {
                owner.to_string()
            } else {
                format!("guess{i}@example.org")
            };
            let p = attacker
                .post_form(
                    "/sign-in",
                    &[("email", &email), ("password", "wrong password here")],
                )
                .await;
            assert_eq!(p.status, 422);
        }
        // The owner, from elsewhere, is not locked out.
        let real = from(&env, "203.0.113.5");
        real.get("/sign-in").await;
        assert_redirect(
            &real
                .post_form("/sign-in", &[("email", owner), ("password", PASSWORD)])
                .await,
            "/sign-in/code",
        );
        // The attacker stays refused, even with the right password.
        let p = attacker
            .post_form("/sign-in", &[("email", owner), ("password", PASSWORD)])
            .await;
        assert!(
            p.error_summary().join(" ").contains("locked"),
            "{}",
            said(&p)
        );
        let rows = audit(&env).await;
        assert!(rows.iter().any(|r| r.ip == "198.51.100.7"), "{backend:?}");
        assert!(rows.iter().any(|r| r.ip == "203.0.113.5"), "{backend:?}");
        assert!(
            !rows
                .iter()
                .any(|r| r.action == "sign-in" && r.ip == "127.0.0.1"),
            "{backend:?}: the proxy's address was recorded"
        );
    }
}

#[tokio::test]
async fn without_trusted_proxies_the_forwarded_header_is_ignored() {
    let env = start(Backend::Sqlite, &[]).await;
    let c = from(&env, "198.51.100.7");
    c.get("/sign-in").await;
    c.post_form(
        "/sign-in",
        &[
            ("email", "x@example.org"),
            ("password", "wrong password here"),
        ],
    )
    .await;
    let rows = audit(&env).await;
    assert!(
        rows.iter()
            .any(|r| r.action == "sign-in" && r.ip == "127.0.0.1")
    );
    assert!(!rows.iter().any(|r| r.ip == "198.51.100.7"));
}

#[tokio::test]
async fn the_right_password_from_a_second_address_passes_a_lock_on_the_first() {
    let env = start(Backend::Sqlite, &[("EHM_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let owner = "oli.owner@example.org";
    create_user(&env, owner, "referrer", "Oli Owner");
    let a = from(&env, "198.51.100.8");
    a.get("/sign-in").await;
    for _ in 0..6 {
        a.post_form(
            "/sign-in",
            &[("email", owner), ("password", "wrong password here")],
        )
        .await;
    }
    let b = from(&env, "203.0.113.9");
    b.get("/sign-in").await;
    assert_redirect(
        &b.post_form("/sign-in", &[("email", owner), ("password", PASSWORD)])
            .await,
        "/sign-in/code",
    );
    let p = a
        .post_form("/sign-in", &[("email", owner), ("password", PASSWORD)])
        .await;
    assert!(
        p.error_summary().join(" ").contains("locked"),
        "{}",
        said(&p)
    );
}

// ------------------------------------------------------------------- item 7

fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

#[tokio::test]
async fn a_burst_of_registrations_is_answered_in_bounded_memory() {
    let env = start(Backend::Sqlite, &[]).await;
    let pid = env.app.pid().unwrap();
    let pages = {
        let tasks: Vec<_> = (0..150)
            .map(|i| {
                let c = env.app.client();
                tokio::spawn(async move {
                    c.get("/register").await;
                    c.post_form(
                        "/register",
                        &[
                            ("full_name", "Bea Burst"),
                            ("email", &format!("bea.burst{i}@example.org")),
                            ("password", "quiet harbour lantern"),
                        ],
                    )
                    .await
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    };
    for p in &pages {
        assert!(
            p.status == 303 || p.status == 503,
            "unexpected answer {}: {}",
            p.status,
            p.text()
        );
        if p.status == 503 {
            assert!(p.text_contains("busy"), "{}", p.text());
            assert!(p.header("retry-after").is_some());
        }
    }
    let peak = peak_rss_mb(pid);
    let busy = pages.iter().filter(|p| p.status == 503).count();
    eprintln!(
        "150 concurrent registrations: peak resident memory {peak:.0} MB, {busy} answered busy"
    );
    assert!(peak < 600.0, "peak resident memory {peak:.0} MB");
}

#[tokio::test]
async fn a_form_with_too_many_fields_gets_a_clear_answer() {
    let env = start(Backend::Sqlite, &[]).await;
    let c = env.app.client();
    c.get("/sign-in").await;
    let names: Vec<String> = (0..3000).map(|i| format!("f{i}")).collect();
    let fields: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "x")).collect();
    let p = c.post_form("/sign-in", &fields).await;
    assert_eq!(p.status, 413);
    assert!(p.text_contains("too many fields"), "{}", p.text());
    // Repeated keys count too.
    let fields = vec![("email", "x@example.org"); 3000];
    let p = c.post_form("/sign-in", &fields).await;
    assert_eq!(p.status, 413);
}

// ------------------------------------------------------------------- item 9

#[tokio::test]
async fn a_session_ends_at_its_maximum_age_even_when_active() {
    let env = start(
        Backend::Sqlite,
        &[
            ("EHM_LOGIN_CODE", "false"),
            ("EHM_SESSION_MAX_SECONDS", "3"),
        ],
    )
    .await;
    let email = "max.age@example.org";
    create_user(&env, email, "referrer", "Max Age");
    let c = env.app.client();
    c.get("/sign-in").await;
    assert_redirect(
        &c.post_form("/sign-in", &[("email", email), ("password", PASSWORD)])
            .await,
        "/",
    );
    c.get("/").await.assert_status(200);
    let token = c.csrf_token().unwrap();
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let p = c
            .post_form("/session/keep-alive", &[("csrf_token", &token)])
            .await;
        assert_eq!(p.status, 200);
    }
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_redirect(&c.get("/").await, "/sign-in?timeout=1");
}
