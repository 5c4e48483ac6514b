//! Black-box tests of "safe to deploy" (issue 7, items 1 and 8; issue 11, static assets):
//! demo mode only when asked for and only where nobody else can reach it, one
//! self-contained binary, and static files cached for a year while pages are never stored.

use ehm_storage::Store;
use ehm_testkit::{Backend, Page, TestApp, TestAppBuilder, TestDb, backends};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{BIN, PASSWORD};

const DEMO_PASSWORD: &str = "demo kettle orbit";
const ADMIN_HINT: &str = "ehm create-user --role admin";

fn tempdir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(prefix).tempdir().unwrap()
}

/// `ehm ARGS` in an empty working folder with only `env` set (plus a fresh data dir);
/// it must exit by itself (a safety limit of 30 s stops one that keeps running).
/// Returns (exit code, stdout, stderr, the working folder with `data` in it).
fn run_to_exit(
    args: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, String, String, tempfile::TempDir) {
    let cwd = tempdir("ehm-cwd-");
    let data = cwd.path().join("data");
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(cwd.path());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("EHM_") {
            cmd.env_remove(&k);
        }
    }
    cmd.env("EHM_DATA_DIR", &data);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ehm");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.map(|s| s.code().unwrap_or(-1)), out, err, cwd)
}

/// A demo start that must be refused: non-zero exit, one line on stderr saying why,
/// nothing listening, nothing created.
fn assert_refused(args: &[&str], env: &[(&str, &str)], why: &str) {
    let (code, out, err, cwd) = run_to_exit(args, env);
    let code = code.unwrap_or_else(|| {
        panic!("ehm {args:?} {env:?} kept running instead of refusing; stdout:\n{out}")
    });
    assert_ne!(code, 0, "ehm {args:?} {env:?} exited 0; stderr:\n{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line on stderr, got:\n{err}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(why),
        "stderr should say `{why}`: {err}"
    );
    assert!(!out.contains("Listening on"), "{out}");
    assert!(!out.contains(DEMO_PASSWORD), "{out}");
    assert!(
        !cwd.path().join("data/ehm.db").exists(),
        "a refused demo created a database"
    );
}

async fn count_users(url: &str) -> i64 {
    Store::connect(url)
        .await
        .unwrap()
        .count_users()
        .await
        .unwrap()
}

fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("ehm.db").display())
}

/// What `ehm serve` (or `ehm` alone) must do on an empty database: no demo account, no
/// demo page, no demo login printed, and how to create the first administrator.
async fn assert_plain_serve(app: &TestApp, db_url: &str) {
    let out = app.stdout_all();
    assert!(out.contains(ADMIN_HINT), "no first-admin hint:\n{out}");
    assert!(!out.contains("Demo"), "{out}");
    assert!(!out.contains("password: "), "{out}");
    assert!(!out.contains(DEMO_PASSWORD), "{out}");
    assert!(!out.contains("@example.org"), "{out}");
    let c = app.client();
    c.get("/demo/mailbox").await.assert_status(404);
    let start = c.get("/").await;
    start.assert_status(200);
    assert!(!start.text_contains("demonstration"), "{}", start.text());
    assert_eq!(count_users(db_url).await, 0, "serve created accounts");
}

#[tokio::test]
async fn serve_on_an_empty_database_creates_no_demo_account_and_tells_how_to_create_an_admin() {
    for backend in backends() {
        let cwd = tempdir("ehm-cwd-");
        // The embedded database (no EHM_DATABASE_URL, no config file, EHM_DEMO unset) is the
        // case that used to switch demo mode on by itself.
        let (app, db_url, _db) = match backend {
            Backend::Sqlite => {
                let app = TestApp::builder(BIN)
                    .unset("EHM_DEMO")
                    .current_dir(cwd.path())
                    .spawn()
                    .await;
                let url = sqlite_url(app.data_dir());
                (app, url, None)
            }
            Backend::Postgres => {
                let db = TestDb::create(backend).await;
                let app = TestApp::builder(BIN)
                    .db(&db)
                    .unset("EHM_DEMO")
                    .current_dir(cwd.path())
                    .spawn()
                    .await;
                (app, db.url.clone(), Some(db))
            }
        };
        assert_plain_serve(&app, &db_url).await;
    }
}

#[tokio::test]
async fn ehm_with_no_arguments_is_serve_and_never_demo() {
    let cwd = tempdir("ehm-cwd-");
    let app = TestApp::builder(BIN)
        .args(Vec::<String>::new())
        .unset("EHM_DEMO")
        .current_dir(cwd.path())
        .spawn()
        .await;
    let url = sqlite_url(app.data_dir());
    assert_plain_serve(&app, &url).await;
}

#[test]
fn demo_refuses_an_address_that_is_not_loopback() {
    assert_refused(
        &["demo"],
        &[("EHM_LISTEN", "0.0.0.0:0")],
        "demo mode only runs on a loopback address",
    );
    assert_refused(
        &["serve", "--demo"],
        &[("EHM_LISTEN", "[::]:0")],
        "demo mode only runs on a loopback address",
    );
    assert_refused(
        &["serve"],
        &[("EHM_LISTEN", "0.0.0.0:0"), ("EHM_DEMO", "true")],
        "demo mode only runs on a loopback address",
    );
}

#[test]
fn demo_refuses_to_run_with_smtp_configured() {
    assert_refused(
        &["demo"],
        &[
            ("EHM_LISTEN", "127.0.0.1:0"),
            ("EHM_SMTP_URL", "smtp://127.0.0.1:2525"),
        ],
        "EHM_SMTP_URL",
    );
}

/// The first run of 8 digits.
fn code_in(text: &str) -> Option<String> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(7)).find_map(|i| {
        let run = &b[i..i + 8];
        let alone = (i == 0 || !b[i - 1].is_ascii_digit())
            && b.get(i + 8).is_none_or(|c| !c.is_ascii_digit());
        (alone && run.iter().all(u8::is_ascii_digit))
            .then(|| String::from_utf8(run.to_vec()).unwrap())
    })
}

#[tokio::test]
async fn demo_on_loopback_prints_the_logins_and_the_mailbox_shows_the_codes() {
    let cwd = tempdir("ehm-cwd-");
    let app = TestApp::builder(BIN)
        .args(["demo"])
        .unset("EHM_DEMO")
        .current_dir(cwd.path())
        .spawn()
        .await;
    let out = app.stdout_all();
    assert!(out.contains("/demo/mailbox"), "{out}");
    for login in ["sam.teacher@example.org", "ada.admin@example.org"] {
        assert!(out.contains(login), "{out}");
    }
    assert!(out.contains(&format!("password: {DEMO_PASSWORD}")), "{out}");
    assert!(!out.contains(ADMIN_HINT), "{out}");

    let c = app.client();
    let start = c.get("/").await;
    assert!(start.text_contains("demonstration"), "{}", start.text());
    c.get("/sign-in").await;
    let p = c
        .post_form(
            "/sign-in",
            &[
                ("email", "sam.teacher@example.org"),
                ("password", DEMO_PASSWORD),
            ],
        )
        .await;
    assert_eq!(p.location.as_deref(), Some("/sign-in/code"), "{}", p.text());
    // The code email is delivered (the database keeps no copy of the code), and the
    // mailbox page shows it from the outbox folder.
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        let mailbox = c.get("/demo/mailbox").await;
        mailbox.assert_status(200);
        let text = mailbox.text();
        if text.contains("Your sign-in code")
            && text.contains("sam.teacher@example.org")
            && let Some(code) = code_in(&text)
        {
            break code;
        }
        assert!(Instant::now() < deadline, "no code in the mailbox: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let p = c.post_form("/sign-in/code", &[("code", &code)]).await;
    assert_eq!(p.location.as_deref(), Some("/"), "{}", p.text());
    let home = c.get("/").await;
    assert!(home.text_contains("Your referrals"), "{}", home.text());
    // The demo's referrals, sent by this referrer, waiting in the MASH's work tray.
    assert_eq!(
        home.select("table tbody tr").len(),
        6,
        "the demo referrals: {}",
        home.text()
    );
    assert!(home.text_contains("Submitted referrals"), "{}", home.text());
}

/// `unshare` can give a process its own mount table here (root, or user namespaces).
fn can_hide_folders() -> bool {
    let probe = tempdir("ehm-ns-probe-");
    Command::new("unshare")
        .args(["--mount", "--map-root-user", "sh", "-c"])
        .arg(format!("mount -t tmpfs none '{}'", probe.path().display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Start `bin serve` from `cwd`, with the source checkout (the repository root) covered
/// by an empty folder for this process only, when the machine allows it.
fn without_source(bin: &Path, cwd: &Path) -> TestAppBuilder {
    let b = if can_hide_folders() {
        let repo = ehm_testkit::repo_root();
        let script = format!(
            "mount -t tmpfs none '{repo}' && test ! -e '{repo}/Cargo.toml' && exec '{bin}' serve",
            repo = repo.display(),
            bin = bin.display()
        );
        TestApp::builder("unshare").args(["--mount", "--map-root-user", "sh", "-c", &script])
    } else {
        eprintln!(
            "note: cannot hide the source tree (no mount namespace here); \
             running the copied binary from an empty folder only"
        );
        TestApp::builder(bin)
    };
    b.current_dir(cwd)
}

#[tokio::test]
async fn a_copied_binary_runs_from_an_empty_folder_without_the_source_tree() {
    let place = tempdir("ehm-copied-");
    let bin = place.path().join("ehm");
    std::fs::copy(BIN, &bin).unwrap();
    let cwd = place.path().join("empty");
    std::fs::create_dir(&cwd).unwrap();

    let app = without_source(&bin, &cwd).spawn().await;
    let c = app.client();
    let start = c.get("/").await;
    start.assert_status(200);
    assert!(
        start.text_contains("Early Help referral portal"),
        "{}",
        start.text()
    );
    let css = start
        .select_attr("link[rel=stylesheet]", "href")
        .into_iter()
        .find(|h| h.ends_with("govuk-frontend.min.css"))
        .expect("a stylesheet link");
    let sheet = c.get(&css).await;
    sheet.assert_status(200);
    assert!(sheet.body.contains(".govuk-"), "not the GOV.UK stylesheet");
    c.get("/static/app.js").await.assert_status(200);
    c.get("/sign-in").await.assert_status(200);
    drop(app);

    // Templates from a folder still work for development; a wrong folder is a clear error.
    let empty = place.path().join("no-templates");
    std::fs::create_dir(&empty).unwrap();
    let err = TestApp::builder(&bin)
        .env("EHM_TEMPLATES_DIR", empty.display().to_string())
        .current_dir(&cwd)
        .try_spawn()
        .await
        .err()
        .expect("an empty EHM_TEMPLATES_DIR must stop the start");
    assert!(format!("{err:#}").contains("EHM_TEMPLATES_DIR"), "{err:#}");
}

#[test]
fn no_runtime_code_looks_for_files_in_the_source_tree() {
    // Compiled-in source paths (`env!("CARGO_MANIFEST_DIR")`) break a copied binary. The
    // test harness may use them; the app's crates may not.
    let crates = ehm_testkit::repo_root().join("crates");
    let mut found = Vec::new();
    let mut stack = vec![crates.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p
                .strip_prefix(&crates)
                .unwrap()
                .to_string_lossy()
                .to_string();
            if p.is_dir() {
                let skip = rel == "testkit"
                    || rel.ends_with("/tests")
                    || rel.ends_with("/benches")
                    || rel.ends_with("/examples");
                if !skip {
                    stack.push(p);
                }
            } else if rel.ends_with(".rs")
                && std::fs::read_to_string(&p)
                    .unwrap()
                    .contains("CARGO_MANIFEST_DIR")
            {
                found.push(rel);
            }
        }
    }
    assert!(found.is_empty(), "source paths compiled in: {found:?}");
}

fn header(p: &Page, name: &str) -> String {
    p.header(name).unwrap_or_default()
}

#[tokio::test]
async fn static_files_are_cached_for_a_year_and_gzipped_while_pages_are_never_stored() {
    let env = common::start(Backend::Sqlite, &[("EHM_LOGIN_CODE", "false")]).await;
    let c = env.app.client();
    let start = c.get("/").await;
    assert!(header(&start, "cache-control").contains("no-store"));
    let css = start
        .select_attr("link[rel=stylesheet]", "href")
        .into_iter()
        .find(|h| h.ends_with("/govuk/govuk-frontend.min.css"))
        .expect("a stylesheet link");
    let hash = css
        .strip_prefix("/static/")
        .and_then(|r| r.strip_suffix("/govuk/govuk-frontend.min.css"))
        .unwrap_or("");
    assert!(
        hash.len() >= 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "the stylesheet URL carries no content hash: {css}"
    );

    let plain = c.request(reqwest::Method::GET, &css, &[], None).await;
    plain.assert_status(200);
    let zipped = c
        .request(
            reqwest::Method::GET,
            &css,
            &[("accept-encoding", "gzip, deflate, br")],
            None,
        )
        .await;
    zipped.assert_status(200);
    for p in [&plain, &zipped] {
        let cache = header(p, "cache-control");
        assert!(
            cache.contains("max-age=31536000") && cache.contains("immutable"),
            "{cache}"
        );
        assert!(header(p, "content-type").starts_with("text/css"));
        assert!(!header(p, "etag").is_empty());
        // The security headers stay on static files.
        assert_eq!(header(p, "x-content-type-options"), "nosniff");
        assert!(header(p, "content-security-policy").contains("default-src 'self'"));
    }
    assert_eq!(header(&zipped, "content-encoding"), "gzip");
    assert!(header(&plain, "content-encoding").is_empty());
    assert!(zipped.raw.len() * 3 < plain.raw.len(), "barely compressed");
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&zipped.raw[..])
        .read_to_end(&mut unzipped)
        .expect("a gzip body");
    assert_eq!(unzipped, plain.raw);

    // A browser that has it already is told so.
    let etag = header(&zipped, "etag");
    let again = c
        .request(
            reqwest::Method::GET,
            &css,
            &[("accept-encoding", "gzip"), ("if-none-match", &etag)],
            None,
        )
        .await;
    again.assert_status(304);

    // The plain URL still works, with a short cache.
    let unhashed = c.get("/static/govuk/govuk-frontend.min.css").await;
    unhashed.assert_status(200);
    assert!(!header(&unhashed, "cache-control").contains("immutable"));
    assert_eq!(unhashed.raw, plain.raw);

    // Pages, personal ones above all, are never stored (nor compressed).
    common::create_user(&env, "robin.cache@example.org", "referrer", "Robin Cache");
    let sign_in = c.get("/sign-in").await;
    assert_eq!(header(&sign_in, "cache-control"), "no-store");
    let p = c
        .post_form(
            "/sign-in",
            &[("email", "robin.cache@example.org"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(p.location.as_deref(), Some("/"), "{}", p.text());
    c.get("/").await.assert_status(200);
    let draft = c.post_form("/referrals", &[]).await.location.unwrap();
    for path in ["/privacy", "/", &format!("{draft}/children")] {
        let p = c
            .request(
                reqwest::Method::GET,
                path,
                &[("accept-encoding", "gzip")],
                None,
            )
            .await;
        p.assert_status(200);
        assert_eq!(header(&p, "cache-control"), "no-store", "{path}");
        assert!(header(&p, "content-encoding").is_empty(), "{path}");
    }
    assert!(c.get("/").await.text_contains("Your referrals"));
}
