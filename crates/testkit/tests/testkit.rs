//! Tests of the testkit itself, against real processes and servers: a real
//! SMTP sink receiving mail from lettre, a real PostgreSQL (when
//! EHM_TEST_POSTGRES_URL is set), a real axum server for the client, and a
//! stand-in app process for TestApp (the real app is tested by its own crate).

use std::path::PathBuf;
use std::time::Duration;

use ehm_testkit::{Backend, Client, SmtpSink, TestApp, TestDb, backends};

// ------------------------------------------------------------------ SMTP

mod smtp {
    use super::*;
    use lettre::message::header::{ContentTransferEncoding, ContentType};
    use lettre::message::{MultiPart, SinglePart};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

    fn mailer(sink: &SmtpSink) -> AsyncSmtpTransport<Tokio1Executor> {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(sink.port())
            .build()
    }

    fn unix_newlines(s: &str) -> String {
        s.replace("\r\n", "\n")
    }

    #[tokio::test]
    async fn receives_real_mail_and_decodes_quoted_printable() {
        let sink = SmtpSink::start().await;
        assert_eq!(sink.url(), format!("smtp://127.0.0.1:{}", sink.port()));
        let body = "Dear Sam,\n\nYour Early Help referral for Zoë (£0 = no charge) was received. \
                    This line is deliberately longer than seventy-six characters so that it has to be soft-wrapped.\n\
                    Reference: EH-2026-0001\n";
        let msg = Message::builder()
            .from("Early Help <noreply@council.example>".parse().unwrap())
            .to("Sam Smith <Sam@Example.org>".parse().unwrap())
            .message_id(Some("<ref-1@council.example>".to_string()))
            .subject("Referral received – café")
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .header(ContentTransferEncoding::QuotedPrintable)
                    .body(body.to_string()),
            )
            .unwrap();
        mailer(&sink).send(msg).await.unwrap();

        let mail = sink
            .wait_for_mail("sam@example.org", Duration::from_secs(10))
            .await
            .unwrap();
        assert!(
            mail.raw
                .contains("Content-Transfer-Encoding: quoted-printable"),
            "{}",
            mail.raw
        );
        assert!(
            mail.raw.contains("=C2=A3"),
            "the £ travelled encoded:\n{}",
            mail.raw
        );
        assert!(
            !mail.raw.contains("Zoë"),
            "the body travelled encoded:\n{}",
            mail.raw
        );
        assert_eq!(mail.subject, "Referral received – café");
        assert_eq!(mail.from, "noreply@council.example");
        assert_eq!(mail.to, vec!["Sam@Example.org"]);
        assert_eq!(mail.message_id.as_deref(), Some("ref-1@council.example"));
        assert_eq!(unix_newlines(&mail.text).trim_end(), body.trim_end());
        assert_eq!(mail.html, None);
        assert!(mail.path.exists());

        assert_eq!(sink.messages_to("SAM@example.org").len(), 1);
        assert_eq!(sink.all().len(), 1);
        // Already returned: a second wait does not return the same message.
        let again = sink
            .wait_for_mail("sam@example.org", Duration::from_millis(200))
            .await;
        assert!(again.is_err());
    }

    #[tokio::test]
    async fn multipart_bcc_and_waiting_in_turn() {
        let sink = SmtpSink::start().await;
        let m = mailer(&sink);
        let first = Message::builder()
            .from("noreply@council.example".parse().unwrap())
            .to("worker@council.example".parse().unwrap())
            .bcc("audit@council.example".parse().unwrap())
            .subject("First")
            .multipart(MultiPart::alternative_plain_html(
                "Plain first".to_string(),
                "<p>HTML <strong>first</strong></p>".to_string(),
            ))
            .unwrap();
        m.send(first).await.unwrap();

        // Wait concurrently for a message that arrives later.
        let waiter = sink.wait_for_mail("worker@council.example", Duration::from_secs(10));
        let second = Message::builder()
            .from("noreply@council.example".parse().unwrap())
            .to("worker@council.example".parse().unwrap())
            .subject("Second")
            .body("Plain second".to_string())
            .unwrap();
        let got_first = waiter.await.unwrap();
        assert_eq!(got_first.subject, "First");
        assert_eq!(unix_newlines(&got_first.text).trim_end(), "Plain first");
        assert_eq!(
            got_first.html.as_deref(),
            Some("<p>HTML <strong>first</strong></p>")
        );
        // The Bcc recipient is in the SMTP envelope, not in the headers.
        assert!(got_first.is_to("audit@council.example"));
        assert!(!got_first.raw.contains("audit@council.example"));

        m.send(second).await.unwrap();
        let got_second = sink
            .wait_for_mail("worker@council.example", Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(got_second.subject, "Second");
        assert_eq!(sink.messages_to("worker@council.example").len(), 2);
        assert_eq!(sink.messages_to("audit@council.example").len(), 1);

        let err = sink
            .wait_for_mail("nobody@example.org", Duration::from_millis(300))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("nobody@example.org") && err.contains("First"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn sink_process_is_killed_on_drop() {
        let sink = SmtpSink::start().await;
        let port = sink.port();
        drop(sink);
        let mut refused = false;
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err()
            {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(refused, "the sink still accepts connections after drop");
    }
}

// ------------------------------------------------------------------ databases

mod db {
    use super::*;
    use sqlx::{Connection, Row};

    #[tokio::test]
    async fn sqlite_is_a_fresh_file_url() {
        let db = TestDb::create(Backend::Sqlite).await;
        let path = PathBuf::from(db.name());
        assert!(db.url.starts_with("sqlite:///"), "{}", db.url);
        assert!(db.url.ends_with("?mode=rwc"), "{}", db.url);
        assert!(path.parent().unwrap().is_dir());
        assert!(!path.exists(), "fresh: the app creates the file");
        let other = TestDb::create(Backend::Sqlite).await;
        assert_ne!(db.url, other.url);
        let dir = path.parent().unwrap().to_path_buf();
        drop(db);
        assert!(!dir.exists(), "the temp dir is removed on drop");
    }

    #[tokio::test]
    async fn backends_include_postgres_when_configured() {
        let b = backends();
        assert_eq!(b[0], Backend::Sqlite);
        assert_eq!(
            b.contains(&Backend::Postgres),
            std::env::var("EHM_TEST_POSTGRES_URL").is_ok_and(|s| !s.is_empty())
        );
    }

    #[tokio::test]
    async fn postgres_database_is_created_usable_and_dropped() {
        if !backends().contains(&Backend::Postgres) {
            eprintln!("skipped: EHM_TEST_POSTGRES_URL is not set (scripts/test sets it)");
            return;
        }
        let db = TestDb::create(Backend::Postgres).await;
        let name = db.name();
        assert!(name.starts_with("ehm_test_"), "{name}");
        assert!(db.url.ends_with(&format!("/{name}")), "{}", db.url);

        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        let current: String = sqlx::query("SELECT current_database()")
            .fetch_one(&mut conn)
            .await
            .unwrap()
            .get(0);
        assert_eq!(current, name);
        sqlx::raw_sql("CREATE TABLE t (id int primary key, v text); INSERT INTO t VALUES (1, 'x')")
            .execute(&mut conn)
            .await
            .unwrap();
        let v: String = sqlx::query("SELECT v FROM t WHERE id = 1")
            .fetch_one(&mut conn)
            .await
            .unwrap()
            .get(0);
        assert_eq!(v, "x");

        let other = TestDb::create(Backend::Postgres).await;
        assert_ne!(other.name(), name);

        // Dropped on drop, even with a connection still open (WITH (FORCE)).
        drop(db);
        let admin = std::env::var("EHM_TEST_POSTGRES_URL").unwrap();
        let mut admin = sqlx::PgConnection::connect(&admin).await.unwrap();
        let n: i64 = sqlx::query("SELECT count(*) FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "database {name} still exists after drop");
    }
}

// ------------------------------------------------------------------ client

mod client {
    use super::*;
    use axum::Router;
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;

    const FORM: &str = r#"<!doctype html><html><head><title>Form</title></head><body>
        <h1>Form</h1><form method="post" action="/echo">
        <input type="hidden" name="csrf_token" value="tok-1"><button>Go</button></form></body></html>"#;
    const FORM2: &str = r#"<!doctype html><html><head><title>Form 2</title></head><body>
        <form method="post"><input type="hidden" name="csrf_token" value="tok-2"></form></body></html>"#;

    fn html(body: &'static str, cookies: &[&'static str]) -> Response {
        let mut r = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
        for c in cookies {
            r.headers_mut()
                .append(header::SET_COOKIE, c.parse().unwrap());
        }
        r
    }

    async fn echo(headers: HeaderMap, body: String) -> String {
        let cookie = headers
            .get(header::COOKIE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        format!("cookie=[{cookie}] body=[{body}]")
    }

    async fn server() -> String {
        let app = Router::new()
            .route(
                "/form",
                get(|| async {
                    html(
                        FORM,
                        &[
                            "__Host-ehm_session=s1; Secure; HttpOnly; SameSite=Lax; Path=/",
                            "pref=blue; Path=/; Max-Age=3600",
                        ],
                    )
                }),
            )
            .route("/form2", get(|| async { html(FORM2, &[]) }))
            .route("/plain", get(|| async { "csrf_token value=\"nope\"" }))
            .route("/echo", get(echo).post(echo))
            .route(
                "/logout",
                get(|| async {
                    let mut r =
                        (StatusCode::SEE_OTHER, [(header::LOCATION, "/echo")]).into_response();
                    for c in [
                        "__Host-ehm_session=; Max-Age=0; Path=/; Secure; HttpOnly",
                        "pref=blue; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
                    ] {
                        r.headers_mut()
                            .append(header::SET_COOKIE, c.parse().unwrap());
                    }
                    r
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn secure_cookies_round_trip_csrf_is_added_and_deletion_works() {
        let base = server().await;
        let client = Client::new(&base);

        let page = client.get("/echo").await;
        assert_eq!(page.body, "cookie=[] body=[]");
        assert_eq!(client.csrf_token(), None);

        let page = client.get("/form").await;
        assert_eq!(page.status, 200);
        assert_eq!(page.title(), "Form");
        assert_eq!(client.cookie("__Host-ehm_session").as_deref(), Some("s1"));
        assert_eq!(client.csrf_token().as_deref(), Some("tok-1"));
        assert!(page.set_cookies()[0].contains("Secure"));

        // The Secure cookie goes back over plain http, with the other one.
        let page = client.get("/echo").await;
        assert_eq!(
            page.body,
            "cookie=[__Host-ehm_session=s1; pref=blue] body=[]"
        );

        // csrf_token added automatically, after the caller's fields.
        let page = client
            .post_form("/echo", &[("name", "Zoë & Co"), ("x", "1")])
            .await;
        assert_eq!(
            page.body,
            "cookie=[__Host-ehm_session=s1; pref=blue] body=[name=Zo%C3%AB+%26+Co&x=1&csrf_token=tok-1]"
        );
        // The caller's own csrf_token wins; the _without_csrf variant adds none.
        let page = client.post_form("/echo", &[("csrf_token", "mine")]).await;
        assert!(
            page.body.ends_with("body=[csrf_token=mine]"),
            "{}",
            page.body
        );
        let page = client.post_form_without_csrf("/echo", &[("a", "b")]).await;
        assert!(page.body.ends_with("body=[a=b]"), "{}", page.body);

        // The token comes from the most recent HTML page that had one.
        client.get("/form2").await;
        client.get("/plain").await;
        assert_eq!(client.csrf_token().as_deref(), Some("tok-2"));

        // Deletion by Max-Age=0 and by a past Expires; redirects not followed.
        let page = client.get("/logout").await;
        assert_eq!(page.status, 303);
        assert_eq!(page.location.as_deref(), Some("/echo"));
        assert_eq!(client.cookie("__Host-ehm_session"), None);
        assert_eq!(client.cookie("pref"), None);
        let page = client.follow(page).await;
        assert_eq!(page.status, 200);
        assert_eq!(page.body, "cookie=[] body=[]");
    }

    #[tokio::test]
    async fn cookies_are_per_client() {
        let base = server().await;
        let a = Client::new(&base);
        let b = Client::new(&base);
        a.get("/form").await;
        assert_eq!(b.get("/echo").await.body, "cookie=[] body=[]");
        a.clear_cookies();
        assert_eq!(a.get("/echo").await.body, "cookie=[] body=[]");
    }
}

// ------------------------------------------------------------------ app process

mod app {
    use super::*;

    /// A stand-in for the `ehm` binary: prints noise, then `Listening on URL`,
    /// serves /health and /env (its EHM_* environment as lines), logs its
    /// arguments to stderr.
    const FAKE_APP: &str = r#"#!/usr/bin/env python3
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = b"ok"
        elif self.path == "/env":
            body = "\n".join("%s=%s" % kv for kv in sorted(os.environ.items()) if kv[0].startswith("EHM_")).encode()
        else:
            self.send_response(404); self.end_headers(); return
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print("starting up", flush=True)
print("args=%s" % " ".join(sys.argv[1:]), file=sys.stderr, flush=True)
print("Listening on http://127.0.0.1:%d" % s.server_address[1], flush=True)
s.serve_forever()
"#;

    const FAILING_APP: &str =
        "#!/bin/sh\necho 'config error: EHM_DATABASE_URL is bad' >&2\nexit 3\n";

    fn script(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[tokio::test]
    async fn spawns_with_env_waits_for_health_and_dies_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let bin = script(&dir, "fake-ehm", FAKE_APP);
        let db = TestDb::create(Backend::Sqlite).await;
        let sink = SmtpSink::start().await;
        let app = TestApp::builder(&bin)
            .db(&db)
            .smtp(&sink)
            .env("EHM_LOGIN_CODE", "123456")
            .spawn()
            .await;
        assert!(
            app.base_url.starts_with("http://127.0.0.1:"),
            "{}",
            app.base_url
        );
        assert!(app.data_dir().is_dir());

        let client = app.client();
        let env = client.get("/env").await.body;
        let want = [
            format!("EHM_DATABASE_URL={}", db.url),
            format!("EHM_DATA_DIR={}", app.data_dir().display()),
            "EHM_DEMO=false".to_string(),
            "EHM_LISTEN=127.0.0.1:0".to_string(),
            "EHM_LOGIN_CODE=123456".to_string(),
            format!("EHM_SMTP_URL={}", sink.url()),
        ];
        for w in &want {
            assert!(env.lines().any(|l| l == w), "missing {w} in:\n{env}");
        }
        assert!(
            app.stderr_tail().contains("args=serve"),
            "{}",
            app.diagnostics()
        );
        assert!(app.stdout_tail().contains("starting up"));

        // Overriding a default.
        let demo = TestApp::builder(&bin).env("EHM_DEMO", "true").spawn().await;
        let env = demo.client().get("/env").await.body;
        assert!(env.lines().any(|l| l == "EHM_DEMO=true"), "{env}");
        assert!(!env.contains("EHM_DATABASE_URL"), "{env}");

        let url = app.url("/health");
        let data_dir = app.data_dir().to_path_buf();
        drop(app);
        let mut gone = false;
        for _ in 0..100 {
            if reqwest_get(&url).await.is_err() {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(gone, "the app still answers after drop");
        assert!(!data_dir.exists(), "the temp data dir is removed on drop");
    }

    async fn reqwest_get(url: &str) -> Result<u16, ()> {
        let c = Client::new(url);
        c.try_request(reqwest::Method::GET, url, &[], None)
            .await
            .map(|p| p.status)
            .map_err(|_| ())
    }

    #[tokio::test]
    async fn a_failing_app_reports_its_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let bin = script(&dir, "broken-ehm", FAILING_APP);
        let err = match TestApp::builder(&bin).try_spawn().await {
            Ok(_) => panic!("a failing app spawned"),
            Err(e) => format!("{e:#}"),
        };
        assert!(
            err.contains("config error: EHM_DATABASE_URL is bad"),
            "{err}"
        );
        assert!(
            err.contains("exited") || err.contains("closed its stdout"),
            "{err}"
        );
    }
}
