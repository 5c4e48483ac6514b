//! One session clock across tabs (issue 12), over HTTP on both databases: the status
//! endpoint (no caching, no CSRF, no personal data, not activity, the expiry the server
//! enforces), the keep-alive, every page posted after a timeout kept and restored, a stale
//! page never overwriting newer answers, and changing one's password.

use ehm_testkit::{Backend, Client, backends};
use std::time::{Duration, Instant};

mod common;
use common::{Env, PASSWORD, create_user, mails, new_draft, start};

const SESSION_COOKIE: &str = "__Host-ehm_session";

async fn referrer(env: &Env, email: &str) -> Client {
    create_user(env, email, "referrer", "Robin Referrer");
    sign_in(env, email, PASSWORD).await
}

async fn sign_in(env: &Env, email: &str, password: &str) -> Client {
    let c = env.app.client();
    c.get("/sign-in").await;
    let p = c
        .post_form("/sign-in", &[("email", email), ("password", password)])
        .await;
    assert_eq!(p.location.as_deref(), Some("/"), "{}", p.text());
    // The signed-in session's token, as the next page gives it.
    c.get("/").await.assert_status(200);
    c
}

/// `GET /session/status`, as JSON.
async fn status(c: &Client) -> serde_json::Value {
    let p = c.get("/session/status").await;
    assert_eq!(p.status, 200, "{}", p.body_text());
    serde_json::from_str(&p.body_text()).expect("JSON")
}

trait BodyText {
    fn body_text(&self) -> String;
}

impl BodyText for ehm_testkit::Page {
    fn body_text(&self) -> String {
        self.body.clone()
    }
}

/// Another tab of the same browser as `c` (its cookies and token), sending `headers` with
/// every request.
fn tab(env: &Env, c: &Client, headers: &[(&str, &str)]) -> Client {
    let t = env.app.client();
    for (name, value) in c.cookies() {
        t.set_cookie(&name, &value);
    }
    t.set_csrf_token(c.csrf_token().as_deref());
    for (k, v) in headers {
        t.set_default_header(k, v);
    }
    t
}

/// `POST /session/keep-alive` as app.js sends it: the token in `X-CSRF-Token`.
async fn keep_alive(env: &Env, c: &Client, token: &str) -> ehm_testkit::Page {
    tab(env, c, &[("x-csrf-token", token)])
        .post_form_without_csrf("/session/keep-alive", &[])
        .await
}

fn expires_in(s: &serde_json::Value) -> u64 {
    assert_eq!(s["signed_in"], true, "{s}");
    s["expires_in_ms"].as_u64().expect("expires_in_ms")
}

#[tokio::test]
async fn the_status_endpoint_answers_uncached_without_csrf_or_personal_data() {
    for backend in backends() {
        let env = start(backend, &[("EHM_LOGIN_CODE", "false")]).await;
        let email = "clock.reader@example.org";
        let c = referrer(&env, email).await;
        let page = c.get("/session/status").await;
        assert_eq!(page.status, 200, "{backend:?}");
        assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
        assert!(
            page.header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "{:?}",
            page.header("content-type")
        );
        let body = page.body_text();
        for personal in [email, "Robin", "Referrer", "referrer"] {
            assert!(
                !body.contains(personal),
                "{backend:?}: {personal} in {body}"
            );
        }
        let s: serde_json::Value = serde_json::from_str(&body).unwrap();
        let left = expires_in(&s);
        assert!(left > 0 && left <= 15 * 60 * 1000, "{backend:?}: {s}");
        assert_eq!(s["idle_timeout_seconds"], 900);
        assert_eq!(s["warning_seconds"], 120);
        // No token, no cookie: a plain answer, never a redirect, and no session made.
        let stranger = env.app.client();
        let page = stranger.get("/session/status").await;
        assert_eq!(page.status, 200);
        assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&page.body_text()).unwrap(),
            serde_json::json!({ "signed_in": false })
        );
        assert!(
            !page
                .set_cookies()
                .iter()
                .any(|c| c.starts_with(SESSION_COOKIE)),
            "{:?}",
            page.set_cookies()
        );
        // A keep-alive needs the token; with it, the session is extended.
        let forged = keep_alive(&env, &c, "forged").await;
        assert_eq!(forged.status, 403);
        let token = c.csrf_token().unwrap();
        let kept = keep_alive(&env, &c, &token).await;
        assert_eq!(kept.status, 200, "{}", kept.body_text());
        assert_eq!(kept.header("cache-control").as_deref(), Some("no-store"));
        let s: serde_json::Value = serde_json::from_str(&kept.body_text()).unwrap();
        assert!(expires_in(&s) > 15 * 60 * 1000 - 10_000, "{s}");
        // Signed out: the keep-alive is refused, the status says so.
        let token = stranger.csrf_token().unwrap_or_default();
        let stranger_keep = keep_alive(&env, &stranger, &token).await;
        assert!(
            [401, 403].contains(&stranger_keep.status),
            "{}",
            stranger_keep.status
        );
    }
}

#[tokio::test]
async fn asking_the_status_is_not_activity_and_the_expiry_it_reports_is_enforced() {
    for backend in backends() {
        let env = start(
            backend,
            &[
                ("EHM_LOGIN_CODE", "false"),
                ("EHM_SESSION_IDLE_SECONDS", "5"),
            ],
        )
        .await;
        let c = referrer(&env, "poller@example.org").await;
        let first = expires_in(&status(&c).await);
        let asked = Instant::now();
        assert!(first <= 5000, "{backend:?}: {first}");
        // Poll the status, as a background tab would, until well past the expiry it
        // reported: polling must not keep the session alive.
        let mut last = first;
        let mut signed_out_after = None;
        while asked.elapsed() < Duration::from_millis(first + 2500) {
            tokio::time::sleep(Duration::from_millis(400)).await;
            let s = status(&c).await;
            if s["signed_in"] == true {
                let left = expires_in(&s);
                assert!(
                    left <= last,
                    "{backend:?}: the expiry moved from {last} to {left}"
                );
                last = left;
            } else {
                assert_eq!(s, serde_json::json!({ "signed_in": false }));
                signed_out_after.get_or_insert(asked.elapsed());
            }
        }
        let after = signed_out_after.expect("polling the status kept the session alive");
        // Not before the expiry it reported (the server enforces what it reports).
        assert!(
            after + Duration::from_millis(50) >= Duration::from_millis(first),
            "{backend:?}: signed out after {after:?}, though {first} ms were reported"
        );
        let home = c.get("/referrals/kept-answers").await;
        assert_eq!(home.status, 303);
        assert!(home.location.as_deref().unwrap().starts_with("/sign-in"));
    }
}

/// A section page's form as the browser would post it: its hidden fields plus `fields`.
async fn page_form(c: &Client, path: &str) -> Vec<(String, String)> {
    let page = c.get(path).await;
    page.assert_status(200);
    let mut form = vec![("version".to_string(), page.form_value("version").unwrap())];
    if let Some(h) = page.form_value("section_hash") {
        form.push(("section_hash".into(), h));
    }
    form
}

async fn post(
    c: &Client,
    path: &str,
    form: &[(String, String)],
    extra: &[(&str, &str)],
) -> ehm_testkit::Page {
    let mut fields: Vec<(&str, &str)> =
        form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    fields.extend_from_slice(extra);
    c.post_form(path, &fields).await
}

#[tokio::test]
async fn every_page_posted_after_a_timeout_is_kept_and_restored_in_order() {
    for backend in backends() {
        let env = start(
            backend,
            &[
                ("EHM_LOGIN_CODE", "false"),
                ("EHM_SESSION_IDLE_SECONDS", "2"),
            ],
        )
        .await;
        let email = "three.tabs@example.org";
        let c = referrer(&env, email).await;
        let draft = new_draft(&c).await;
        // Three tabs, each on a section, all showing the same version of the draft.
        let pages = [
            ("concerns", "concerns", "Concerns typed in the first tab"),
            (
                "support",
                "support-requested",
                "Support typed in the second tab",
            ),
            ("referrer", "referrer-role", "Deputy head teacher"),
        ];
        let mut forms = Vec::new();
        for (slug, _, _) in pages {
            forms.push(page_form(&c, &format!("{draft}/{slug}")).await);
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        for ((slug, field, text), form) in pages.iter().zip(&forms) {
            let late = post(
                &c,
                &format!("{draft}/{slug}"),
                form,
                &[(field, text), ("action", "later")],
            )
            .await;
            assert_eq!(
                late.location.as_deref(),
                Some("/sign-in?timeout=1"),
                "{backend:?} {slug}: {}",
                late.text()
            );
        }
        let sign_in_page = c.get("/sign-in?timeout=1").await;
        assert!(
            sign_in_page.text_contains("We have kept the answers you entered (3 pages)"),
            "{backend:?}: {}",
            sign_in_page.text()
        );
        let p = c
            .post_form("/sign-in", &[("email", email), ("password", PASSWORD)])
            .await;
        assert_eq!(p.location.as_deref(), Some("/referrals/kept-answers"));
        let restored = c.get("/referrals/kept-answers").await;
        assert_eq!(restored.location.as_deref(), Some(draft.as_str()));
        // The person is told what was restored.
        let task_list = c.get(&draft).await;
        let banner = task_list.select(".govuk-notification-banner").join(" ");
        assert!(
            banner.contains("The answers you entered before you were signed out have been saved: ‘Your concerns’, ‘Support needed’ and ‘Your details and organisation’."),
            "{backend:?}: {banner}"
        );
        assert!(
            !task_list.text_contains("needs a look"),
            "{}",
            task_list.text()
        );
        for (slug, field, text) in pages {
            let page = c.get(&format!("{draft}/{slug}")).await;
            let value = page
                .select_attr(&format!("#{field}"), "value")
                .into_iter()
                .chain(page.select(&format!("textarea#{field}")))
                .collect::<Vec<_>>();
            assert!(
                value.iter().any(|v| v.trim() == text),
                "{backend:?}: {slug} lost {text}"
            );
        }
        // Nothing is left waiting.
        let again = c.get("/referrals/kept-answers").await;
        assert_eq!(again.location.as_deref(), Some("/"));
    }
}

#[tokio::test]
async fn a_page_older_than_the_draft_saves_when_only_other_sections_changed() {
    let env = start(Backend::Sqlite, &[("EHM_LOGIN_CODE", "false")]).await;
    let c = referrer(&env, "two.sections@example.org").await;
    let draft = new_draft(&c).await;
    let concerns = page_form(&c, &format!("{draft}/concerns")).await;
    let support = page_form(&c, &format!("{draft}/support")).await;
    let p = post(
        &c,
        &format!("{draft}/support"),
        &support,
        &[
            ("support-requested", "Saved in tab two"),
            ("action", "later"),
        ],
    )
    .await;
    assert_eq!(p.status, 303);
    let p = post(
        &c,
        &format!("{draft}/concerns"),
        &concerns,
        &[("concerns", "Saved in tab one"), ("action", "later")],
    )
    .await;
    assert_eq!(p.status, 303, "{}", p.text());
    assert!(
        c.get(&format!("{draft}/support"))
            .await
            .text_contains("Saved in tab two")
    );
    assert!(
        c.get(&format!("{draft}/concerns"))
            .await
            .text_contains("Saved in tab one")
    );
    // The same section changed meanwhile: still a conflict, nothing overwritten.
    let stale = post(
        &c,
        &format!("{draft}/concerns"),
        &concerns,
        &[("concerns", "Stale"), ("action", "later")],
    )
    .await;
    assert_eq!(stale.status, 409);
    assert!(
        c.get(&format!("{draft}/concerns"))
            .await
            .text_contains("Saved in tab one")
    );
}

#[tokio::test]
async fn a_stale_automatic_save_is_kept_as_a_conflict_and_never_overwrites() {
    for backend in backends() {
        let env = start(backend, &[("EHM_LOGIN_CODE", "false")]).await;
        let c = referrer(&env, "stale.tab@example.org").await;
        let draft = new_draft(&c).await;
        let path = format!("{draft}/concerns");
        let old = page_form(&c, &path).await;
        let newer = post(
            &c,
            &path,
            &old,
            &[
                ("concerns", "Newer answer from the busy tab"),
                ("action", "later"),
            ],
        )
        .await;
        assert_eq!(newer.status, 303);
        // The old tab saves itself (as app.js does when the session ends).
        let idle_tab = tab(&env, &c, &[("x-autosave-on-timeout", "1")]);
        let auto = post(
            &idle_tab,
            &path,
            &old,
            &[
                ("concerns", "Stale answer from the idle tab"),
                ("action", "continue"),
            ],
        )
        .await;
        assert_eq!(auto.status, 409, "{backend:?}");
        assert!(
            c.get(&path)
                .await
                .text_contains("Newer answer from the busy tab")
        );
        // The task list says which section needs a look.
        let task_list = c.get(&draft).await;
        assert!(
            task_list.text_contains("A section needs a look"),
            "{}",
            task_list.text()
        );
        let links = task_list.select_attr(".govuk-notification-banner a", "href");
        assert_eq!(links, vec![format!("{path}/conflict")]);
        // Both versions offered.
        let conflict = c.get(&format!("{path}/conflict")).await;
        assert_eq!(conflict.status, 409);
        assert!(conflict.text_contains("Newer answer from the busy tab"));
        assert!(conflict.text_contains("Stale answer from the idle tab"));
        // "Keep the saved answers": nothing changes, and nothing waits any more.
        let kept = c
            .post_form(&format!("{path}/conflict"), &[("choice", "saved")])
            .await;
        assert_eq!(kept.location.as_deref(), Some(draft.as_str()));
        assert!(
            c.get(&path)
                .await
                .text_contains("Newer answer from the busy tab")
        );
        assert!(!c.get(&draft).await.text_contains("needs a look"));
        assert_eq!(
            c.get(&format!("{path}/conflict")).await.location.as_deref(),
            Some(path.as_str())
        );
        // Again, choosing "Use my answers" this time.
        let old = page_form(&c, &path).await;
        let newer = post(
            &c,
            &path,
            &old,
            &[("concerns", "Second newer answer"), ("action", "later")],
        )
        .await;
        assert_eq!(newer.status, 303);
        let idle_tab = tab(&env, &c, &[("x-autosave-on-timeout", "1")]);
        let auto = post(
            &idle_tab,
            &path,
            &old,
            &[("concerns", "Second stale answer")],
        )
        .await;
        assert_eq!(auto.status, 409);
        c.get(&format!("{path}/conflict")).await;
        let mine = c
            .post_form(&format!("{path}/conflict"), &[("choice", "mine")])
            .await;
        assert_eq!(mine.location.as_deref(), Some(draft.as_str()));
        assert!(c.get(&path).await.text_contains("Second stale answer"));
        assert!(!c.get(&draft).await.text_contains("needs a look"));
    }
}

#[tokio::test]
async fn a_signed_in_person_changes_their_password_and_every_other_session_ends() {
    for backend in backends() {
        let env = start(backend, &[("EHM_LOGIN_CODE", "false")]).await;
        let email = "pat.changer@example.org";
        let c = referrer(&env, email).await;
        let other = sign_in(&env, email, PASSWORD).await;
        other.get("/").await.assert_status(200);
        // Signed out: sign in first.
        let stranger = env.app.client();
        let p = stranger.get("/account/password").await;
        assert_eq!(p.status, 303);
        // The header links to it.
        let home = c.get("/").await;
        assert!(
            home.select_attr("a[href='/account/password']", "href")
                .len()
                == 1
        );
        let form = c.get("/account/password").await;
        form.assert_status(200);
        assert_eq!(form.h1(), vec!["Change your password"]);
        // Empty: both fields' errors.
        let p = c.post_form("/account/password", &[]).await;
        assert_eq!(p.status, 422);
        assert_eq!(p.error_summary().len(), 2, "{:?}", p.error_summary());
        // The same policy as registration.
        let p = c
            .post_form(
                "/account/password",
                &[
                    ("current-password", PASSWORD),
                    ("new-password", "password123"),
                ],
            )
            .await;
        assert_eq!(p.status, 422);
        assert_eq!(p.error_summary().len(), 1, "{:?}", p.error_summary());
        // The wrong current password.
        let p = c
            .post_form(
                "/account/password",
                &[
                    ("current-password", "not my password at all"),
                    ("new-password", "harbour violet engine"),
                ],
            )
            .await;
        assert_eq!(p.status, 422);
        assert_eq!(
            p.error_summary(),
            vec!["Your current password is not correct"]
        );
        let before = c.cookie(SESSION_COOKIE).unwrap();
        let p = c
            .post_form(
                "/account/password",
                &[
                    ("current-password", PASSWORD),
                    ("new-password", "harbour violet engine"),
                ],
            )
            .await;
        assert_eq!(
            p.location.as_deref(),
            Some("/account/password"),
            "{}",
            p.text()
        );
        // This session continues under a new id; the other has ended.
        let after = c.cookie(SESSION_COOKIE).unwrap();
        assert_ne!(before, after);
        let done = c.get("/account/password").await;
        assert!(done.text_contains("Your password has been changed"));
        c.get("/").await.assert_status(200);
        let ended = other.get("/referrals/kept-answers").await;
        assert!(
            ended
                .location
                .as_deref()
                .unwrap_or("")
                .starts_with("/sign-in"),
            "{backend:?}: the other session is still signed in"
        );
        // The email.
        let mail = env
            .smtp
            .wait_for_mail(email, Duration::from_secs(20))
            .await
            .expect("the password-changed email");
        assert_eq!(mail.subject, "Your password has been changed");
        assert!(mail.text.contains("/forgot-password"));
        assert_eq!(
            mails(&env, email, "Your password has been changed").len(),
            1
        );
        // Only the new password works now.
        let old = env.app.client();
        old.get("/sign-in").await;
        let p = old
            .post_form("/sign-in", &[("email", email), ("password", PASSWORD)])
            .await;
        assert_eq!(p.status, 422);
        sign_in(&env, email, "harbour violet engine").await;
    }
}

#[tokio::test]
async fn wrong_current_passwords_are_throttled_like_sign_in() {
    let env = start(Backend::Sqlite, &[("EHM_LOGIN_CODE", "false")]).await;
    let email = "guess.work@example.org";
    let c = referrer(&env, email).await;
    for i in 0..5 {
        let p = c
            .post_form(
                "/account/password",
                &[
                    ("current-password", &format!("wrong guess number {i}")),
                    ("new-password", "harbour violet engine"),
                ],
            )
            .await;
        assert_eq!(
            p.error_summary(),
            vec!["Your current password is not correct"],
            "{i}"
        );
    }
    // Locked: even the right password is refused for now.
    let p = c
        .post_form(
            "/account/password",
            &[
                ("current-password", PASSWORD),
                ("new-password", "harbour violet engine"),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(
        p.error_summary()
            .join(" ")
            .contains("Too many wrong passwords"),
        "{:?}",
        p.error_summary()
    );
    sign_in(&env, email, PASSWORD).await;
}
