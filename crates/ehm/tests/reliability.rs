//! Proof under faults: the real `ehm` binary killed mid-load, its mail server gone, its
//! database stopped or out of disk, two instances on one database, and its backups
//! restored. Every test records what the app acknowledged (a 303 after a save or a
//! submit) and then checks that exactly that is in the database afterwards, nothing
//! half-written (every draft decodes, every submitted referral has its reference and its
//! confirmation, `ehm audit verify` passes, SQLite's `integrity_check` says ok).
//! Operations: docs/operations.md.

use ehm_domain::form_fields::FormFields;
use ehm_domain::referral::form::{apply_form, new_draft};
use ehm_domain::referral::{ReferralDraft, Section};
use ehm_testkit::{Backend, Client, Page, PgServer, SmtpSink, TestApp, TestDb, backends};
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::{BIN, PASSWORD, nhs_number, reference_in, sections};

/// A section's fields as a browser posts them.
type Fields = Vec<(&'static str, String)>;
/// Saves of a draft, in order: (section slug, fields).
type Saves = Vec<(&'static str, Fields)>;

// ------------------------------------------------------------------ the app, restartable

/// How to (re)start the app on the same database, data folder and port, so that clients
/// (and their sessions, which live in the database) carry on after a restart.
#[derive(Clone)]
struct Server {
    db_url: String,
    data_dir: PathBuf,
    port: u16,
    smtp_url: Option<String>,
}

impl Server {
    fn new(db_url: &str, data_dir: &Path) -> Server {
        Server {
            db_url: db_url.to_string(),
            data_dir: data_dir.to_path_buf(),
            port: ehm_testkit::free_port().expect("a free port"),
            smtp_url: None,
        }
    }

    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn spawn(&self) -> TestApp {
        let mut last = String::new();
        // The port was free a moment ago; after a SIGKILL it is free again at once
        // (SO_REUSEADDR), but retry a few times rather than fail on a coincidence.
        for _ in 0..5 {
            let mut b = TestApp::builder(BIN)
                .data_dir(&self.data_dir)
                .env("EHM_DATABASE_URL", &self.db_url)
                .env("EHM_LISTEN", format!("127.0.0.1:{}", self.port))
                .env("EHM_LOGIN_CODE", "false");
            if let Some(url) = &self.smtp_url {
                b = b.env("EHM_SMTP_URL", url);
            }
            match b.try_spawn().await {
                Ok(app) => return app,
                Err(e) => last = format!("{e:#}"),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("the app did not start: {last}");
    }

    fn client(&self) -> Client {
        Client::new(&self.base_url())
    }

    /// `ehm ARGS` with this server's settings; (success, stdout, stderr).
    fn run(&self, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
        run_ehm(&self.db_url, &self.data_dir, args, stdin)
    }

    fn create_user(&self, email: &str, role: &str) {
        create_user(&self.db_url, &self.data_dir, email, role);
    }

    async fn store(&self) -> ehm_storage::Store {
        ehm_storage::Store::connect(&self.db_url)
            .await
            .expect("connect to the test database")
    }
}

fn run_ehm(
    db_url: &str,
    data_dir: &Path,
    args: &[&str],
    stdin: Option<&str>,
) -> (bool, String, String) {
    use std::io::Write;
    let mut cmd = std::process::Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("EHM_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .args(args)
        .env("EHM_DATABASE_URL", db_url)
        .env("EHM_DATA_DIR", data_dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run ehm");
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn create_user(db_url: &str, data_dir: &Path, email: &str, role: &str) {
    let (ok, _, err) = run_ehm(
        db_url,
        data_dir,
        &[
            "create-user",
            "--role",
            role,
            "--email",
            email,
            "--name",
            "Robin Testperson",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(ok, "create-user {email}: {err}");
}

fn audit_verifies(db_url: &str, data_dir: &Path) {
    let (ok, out, err) = run_ehm(db_url, data_dir, &["audit", "verify"], None);
    assert!(ok, "ehm audit verify failed:\n{out}\n{err}");
    assert!(out.contains("Audit log intact"), "{out}");
}

/// Signs a referrer in (sign-in codes are off in these tests: `EHM_LOGIN_CODE=false`).
async fn sign_in(c: &Client, email: &str) {
    c.get("/sign-in").await.assert_status(200);
    let p = c
        .post_form("/sign-in", &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(
        (p.status, p.location.as_deref()),
        (303, Some("/")),
        "sign-in of {email}: {}",
        short(&p)
    );
    c.get("/").await.assert_status(200);
}

/// The sections of a complete referral whose referrer address is `email` (so that the
/// confirmation goes to the account only), with `concerns` and a unique NHS number.
fn referral_sections(concerns: &str, seed: u32, email: &str) -> Saves {
    let mut all = sections(concerns, &nhs_number(seed));
    for (slug, fields) in &mut all {
        if *slug == "referrer" {
            for (k, v) in fields.iter_mut() {
                if *k == "referrer-email" {
                    *v = email.to_string();
                }
            }
        }
    }
    all
}

/// The fields a browser posts for a section, after its own: what the server applies.
fn posted(fields: &[(&'static str, String)], version: i64) -> Vec<(String, String)> {
    let mut form: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    form.push(("version".into(), version.to_string()));
    form.push(("completed".into(), "yes".into()));
    form.push(("action".into(), "continue".into()));
    form
}

fn as_refs(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// What the draft must be after these saves: the same function the server applies
/// (`apply_form`), from the same start (`new_draft`).
fn expected_draft(saves: &[(&'static str, Fields)]) -> ReferralDraft {
    let mut d = new_draft();
    for (slug, fields) in saves {
        let pairs: Vec<(String, String)> = posted(fields, 0)
            .into_iter()
            .filter(|(k, _)| k != "version")
            .collect();
        apply_form(
            Section::from_slug(slug).expect("a section slug"),
            &mut d,
            &FormFields::from_pairs(pairs).unwrap(),
        );
    }
    d
}

/// Fill a fresh draft quickly: the version is counted here (1 for a new draft, one more
/// per save) instead of read from each page first.
async fn fill_fast(c: &Client, draft: &str, all: &[(&'static str, Fields)]) {
    for (i, (slug, fields)) in all.iter().enumerate() {
        let form = posted(fields, 1 + i as i64);
        let p = c
            .post_form(&format!("{draft}/{slug}"), &as_refs(&form))
            .await;
        assert_eq!(
            p.status,
            303,
            "{draft}/{slug}: {:?} {}",
            p.error_summary(),
            short(&p)
        );
    }
}

async fn new_draft_path(c: &Client) -> String {
    c.get("/").await.assert_status(200);
    let p = c.post_form("/referrals", &[]).await;
    assert_eq!(p.status, 303, "{}", short(&p));
    p.location.unwrap()
}

/// Submit a complete draft; returns its reference (from the confirmation page).
async fn submit_draft(c: &Client, draft: &str) -> String {
    let p = common::submit(c, draft).await;
    assert_eq!(
        p.location.as_deref(),
        Some(format!("{draft}/confirmation").as_str()),
        "{}",
        short(&p)
    );
    reference_in(&c.get(&format!("{draft}/confirmation")).await.text())
}

/// The start of a page's text, for failure messages.
fn short(p: &Page) -> String {
    let t = p.text();
    let cut: String = t.chars().take(400).collect();
    format!("{} {} …", p.status, cut)
}

fn public_id(path: &str) -> &str {
    path.rsplit('/').next().unwrap()
}

/// Waits for `cond` (a condition on the database) for at most `limit`: a bound on a
/// hang, not a timing assertion.
async fn eventually<F, Fut>(what: &str, limit: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + limit;
    loop {
        let r = cond().await;
        match r {
            Ok(()) => return,
            Err(e) if Instant::now() >= deadline => {
                panic!("{what}: still not so after {limit:?}: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn scalar(store: &ehm_storage::Store, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .try_get(0)
        .unwrap()
}

/// Nothing half-written: every draft decodes, every submitted referral has its reference,
/// its submission time, its confirmation email and its audit record.
async fn assert_consistent(store: &ehm_storage::Store) {
    let rows = sqlx::query("SELECT public_id, data FROM referrals")
        .fetch_all(store.pool())
        .await
        .unwrap();
    for r in &rows {
        let pid: String = r.try_get("public_id").unwrap();
        let data: String = r.try_get("data").unwrap();
        serde_json::from_str::<ReferralDraft>(&data)
            .unwrap_or_else(|e| panic!("referral {pid} does not decode: {e}"));
    }
    for (what, sql) in [
        (
            "submitted without a reference or a time",
            "SELECT COUNT(*) FROM referrals WHERE status = 'submitted' AND (reference IS NULL OR submitted_at IS NULL)",
        ),
        (
            "a draft with a reference",
            "SELECT COUNT(*) FROM referrals WHERE status = 'draft' AND reference IS NOT NULL",
        ),
        (
            "submitted without its confirmation email",
            "SELECT COUNT(*) FROM referrals r WHERE r.status = 'submitted' AND NOT EXISTS \
             (SELECT 1 FROM outbox o WHERE o.subject = 'Referral submitted: ' || r.reference)",
        ),
        (
            "submitted without its audit record",
            "SELECT COUNT(*) FROM referrals r WHERE r.status = 'submitted' AND NOT EXISTS \
             (SELECT 1 FROM audit_log a WHERE a.action = 'submit-referral' AND a.object_id = CAST(r.id AS TEXT))",
        ),
    ] {
        assert_eq!(scalar(store, sql).await, 0, "{what}");
    }
}

/// `stored` is `expected`; a failure names the fields that differ.
fn assert_same_draft(stored: &ReferralDraft, expected: &ReferralDraft, what: &str) {
    if stored == expected {
        return;
    }
    let (da, db) = (format!("{stored:?}"), format!("{expected:?}"));
    let at = da
        .chars()
        .zip(db.chars())
        .position(|(x, y)| x != y)
        .unwrap_or(da.len().min(db.len()));
    let around = |s: &str| {
        s.chars()
            .skip(at.saturating_sub(80))
            .take(200)
            .collect::<String>()
    };
    panic!(
        "{what}: the stored draft differs from its acknowledged saves:\nstored:   …{}\nexpected: …{}",
        around(&da),
        around(&db)
    );
}

/// A referral as stored (read with SQL, below the repository layer).
struct StoredReferral {
    status: String,
    reference: Option<String>,
    data: String,
}

async fn referral_row(store: &ehm_storage::Store, public_id: &str) -> Option<StoredReferral> {
    let row = sqlx::query("SELECT status, reference, data FROM referrals WHERE public_id = $1")
        .bind(public_id)
        .fetch_optional(store.pool())
        .await
        .unwrap()?;
    Some(StoredReferral {
        status: row.try_get("status").unwrap(),
        reference: row.try_get("reference").unwrap(),
        data: row.try_get("data").unwrap(),
    })
}

async fn sqlite_integrity_ok(store: &ehm_storage::Store) {
    let ok: String = sqlx::query("PRAGMA integrity_check")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(ok, "ok", "PRAGMA integrity_check");
}

// ------------------------------------------------------------------ crash under load

/// What the app acknowledged while it was being killed.
#[derive(Default)]
struct Ledger {
    /// Drafts whose creation was answered 303.
    created: Vec<String>,
    /// Per draft: the saves answered 303, in order.
    saves: BTreeMap<String, Saves>,
    /// Drafts whose submission was answered 303 (to the confirmation).
    submitted: BTreeSet<String>,
    /// Drafts found submitted after a submission whose answer was lost in a kill.
    submitted_unacknowledged: BTreeSet<String>,
    /// The reference on each submitted referral's confirmation page.
    references: BTreeMap<String, String>,
    /// Answers that are neither success nor a lost connection: each fails the test.
    unexpected: Vec<String>,
    /// Requests answered with a success, for pacing the kills.
    acks: usize,
    /// Requests that got no answer (the app was killed under them).
    lost: usize,
}

type Shared = Arc<Mutex<Ledger>>;

/// Waits until the app answers `/health` (it is being restarted).
async fn until_up(c: &Client) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(p) = c.try_get("/health").await
            && p.status == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "the app did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The outcome of one request under kills.
enum Sent {
    Answered(Page),
    /// No answer: the app died (or was restarting); whether it happened is unknown.
    Lost,
}

async fn send_post(c: &Client, path: &str, form: &[(&str, &str)], l: &Shared) -> Sent {
    match c.try_post_form(path, form).await {
        Ok(p) => Sent::Answered(p),
        Err(_) => {
            l.lock().unwrap().lost += 1;
            until_up(c).await;
            Sent::Lost
        }
    }
}

async fn get_until_answered(c: &Client, path: &str) -> Page {
    loop {
        match c.try_get(path).await {
            Ok(p) => return p,
            Err(_) => until_up(c).await,
        }
    }
}

fn unexpected(l: &Shared, what: String) {
    l.lock().unwrap().unexpected.push(what);
}

/// One load generator: starts drafts, saves every section, submits two referrals in three
/// and leaves the third a draft, until `stop`; finishes the referral it is on.
async fn load(c: Client, email: String, worker: u32, l: Shared, stop: Arc<AtomicBool>) {
    let mut n = 0u32;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        // Start a draft.
        let draft = loop {
            let home = get_until_answered(&c, "/").await;
            if home.status != 200 {
                return unexpected(&l, format!("GET / answered {}", home.status));
            }
            match send_post(&c, "/referrals", &[], &l).await {
                Sent::Answered(p) if p.status == 303 && p.location.is_some() => {
                    let path = p.location.unwrap();
                    let mut g = l.lock().unwrap();
                    g.created.push(path.clone());
                    g.acks += 1;
                    break path;
                }
                Sent::Answered(p) => {
                    return unexpected(&l, format!("POST /referrals answered {}", p.status));
                }
                Sent::Lost => continue, // perhaps created, never to be seen: harmless
            }
        };
        // Save every section; a save whose answer was lost is sent again (same values)
        // with the version the page shows now.
        let concerns = format!("Worker {worker}, referral {n}: tired and hungry at school.");
        let all = referral_sections(&concerns, worker * 10_000 + n, &email);
        let mut version = Some(1i64);
        for (slug, fields) in &all {
            let path = format!("{draft}/{slug}");
            loop {
                let v = match version {
                    Some(v) => v,
                    None => {
                        let p = get_until_answered(&c, &path).await;
                        match p.form_value("version").and_then(|v| v.parse().ok()) {
                            Some(v) if p.status == 200 => v,
                            _ => {
                                return unexpected(
                                    &l,
                                    format!("GET {path} answered {} without a version", p.status),
                                );
                            }
                        }
                    }
                };
                let form = posted(fields, v);
                match send_post(&c, &path, &as_refs(&form), &l).await {
                    Sent::Answered(p) if p.status == 303 => {
                        let mut g = l.lock().unwrap();
                        g.saves
                            .entry(draft.clone())
                            .or_default()
                            .push((slug, fields.clone()));
                        g.acks += 1;
                        version = Some(v + 1);
                        break;
                    }
                    Sent::Answered(p) => {
                        return unexpected(
                            &l,
                            format!("POST {path} answered {}: {}", p.status, short(&p)),
                        );
                    }
                    Sent::Lost => version = None,
                }
            }
        }
        if n.is_multiple_of(3) {
            continue; // stays a draft
        }
        // Submit; after a lost answer, the confirmation page tells whether it happened.
        loop {
            let check = get_until_answered(&c, &format!("{draft}/check")).await;
            if check.status == 303 {
                // No longer a draft: the lost submission went through.
                l.lock()
                    .unwrap()
                    .submitted_unacknowledged
                    .insert(draft.clone());
                break;
            }
            let Some(v) = check.form_value("version") else {
                return unexpected(
                    &l,
                    format!("{draft}/check has no submit form: {}", short(&check)),
                );
            };
            match send_post(&c, &format!("{draft}/submit"), &[("version", &v)], &l).await {
                Sent::Answered(p)
                    if p.status == 303
                        && p.location.as_deref() == Some(&format!("{draft}/confirmation")) =>
                {
                    let mut g = l.lock().unwrap();
                    g.submitted.insert(draft.clone());
                    g.acks += 1;
                    break;
                }
                Sent::Answered(p) => {
                    return unexpected(
                        &l,
                        format!("submit {draft} answered {} {:?}", p.status, p.location),
                    );
                }
                Sent::Lost => {}
            }
        }
        let conf = get_until_answered(&c, &format!("{draft}/confirmation")).await;
        if conf.status != 200 {
            return unexpected(&l, format!("{draft}/confirmation answered {}", conf.status));
        }
        l.lock()
            .unwrap()
            .references
            .insert(draft.clone(), reference_in(&conf.text()));
    }
}

const WORKERS: u32 = 4;
const KILLS: usize = 4;

#[tokio::test]
async fn killed_under_load_the_app_keeps_every_acknowledged_save_and_submission() {
    for backend in backends() {
        crash_under_load(backend).await;
    }
}

async fn crash_under_load(backend: Backend) {
    let started = Instant::now();
    let db = TestDb::create(backend).await;
    let data = tempfile::tempdir().unwrap();
    let server = Server::new(&db.url, data.path());
    let mut app = server.spawn().await;
    let emails: Vec<String> = (0..WORKERS)
        .map(|w| format!("load.referrer{w}@example.org"))
        .collect();
    let ledger: Shared = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for (w, email) in emails.iter().enumerate() {
        server.create_user(email, "referrer");
        let c = server.client();
        sign_in(&c, email).await;
        workers.push(tokio::spawn(load(
            c,
            email.clone(),
            w as u32,
            ledger.clone(),
            stop.clone(),
        )));
    }
    // Kill the app (SIGKILL) whenever the load has made some progress since it started,
    // a few times; each time it comes back on the same database, data folder and port.
    let mut rng = started.elapsed().subsec_nanos() as u64 | 1;
    for kill in 0..KILLS {
        let before = ledger.lock().unwrap().acks;
        eventually("load progress", Duration::from_secs(120), || {
            let acks = ledger.lock().unwrap().acks;
            async move {
                (acks >= before + 25)
                    .then_some(())
                    .ok_or(format!("{acks} acknowledged"))
            }
        })
        .await;
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        tokio::time::sleep(Duration::from_millis(rng % 200)).await;
        let pid = app.pid();
        app.stop().await;
        println!("{backend}: kill {} of {KILLS} (pid {pid:?})", kill + 1);
        app = server.spawn().await;
    }
    // A little more load on the last process, then let every worker finish its referral.
    let before = ledger.lock().unwrap().acks;
    eventually("load progress", Duration::from_secs(120), || {
        let acks = ledger.lock().unwrap().acks;
        async move { (acks >= before + 10).then_some(()).ok_or(format!("{acks}")) }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let l = std::mem::take(&mut *ledger.lock().unwrap());
    assert!(
        l.unexpected.is_empty(),
        "{backend}: {:#?}{}",
        l.unexpected,
        app.diagnostics()
    );
    assert!(
        l.lost > 0,
        "{backend}: no request was in flight at any kill: the test proved nothing"
    );

    let store = server.store().await;
    // Every acknowledged draft is there, with exactly the values of its acknowledged saves.
    for draft in &l.created {
        let row = referral_row(&store, public_id(draft))
            .await
            .unwrap_or_else(|| panic!("{backend}: acknowledged draft {draft} is gone"));
        let stored: ReferralDraft = serde_json::from_str(&row.data).unwrap();
        let saves = l.saves.get(draft).map(Vec::as_slice).unwrap_or_default();
        assert_same_draft(
            &stored,
            &expected_draft(saves),
            &format!("{backend}: {draft}"),
        );
        let submitted = l.submitted.contains(draft) || l.submitted_unacknowledged.contains(draft);
        assert_eq!(
            row.status,
            if submitted { "submitted" } else { "draft" },
            "{backend}: {draft}"
        );
        if submitted {
            assert_eq!(
                row.reference.as_deref(),
                l.references.get(draft).map(String::as_str),
                "{backend}: {draft}: the reference shown is the one stored"
            );
        }
    }
    assert_consistent(&store).await;
    if backend == Backend::Sqlite {
        sqlite_integrity_ok(&store).await;
    }
    audit_verifies(&server.db_url, data.path());
    println!(
        "{backend}: {KILLS} kills under {WORKERS} clients: {} drafts, {} saves, {} submissions \
         acknowledged ({} more found submitted), {} requests lost in kills; all there ({:.0?})",
        l.created.len(),
        l.saves.values().map(Vec::len).sum::<usize>(),
        l.submitted.len(),
        l.submitted_unacknowledged.len(),
        l.lost,
        started.elapsed()
    );
}

// ------------------------------------------------------------------ mail outage

/// `n` complete drafts of `email`'s (signed in on `c`), filled `parallel` at a time.
async fn complete_drafts(c: &Client, email: &str, n: u32, seed: u32) -> Vec<String> {
    let mut drafts = Vec::new();
    for i in 0..n {
        let draft = new_draft_path(c).await;
        let concerns = format!("Referral {i}: missed meals and poor attendance.");
        fill_fast(c, &draft, &referral_sections(&concerns, seed + i, email)).await;
        drafts.push(draft);
    }
    drafts
}

/// The confirmations received for `references`: panics on one received twice or one
/// that is not ours; returns how many arrived.
fn confirmations(smtp: &SmtpSink, references: &BTreeSet<String>) -> usize {
    let mut by_reference: BTreeMap<String, usize> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for m in smtp.all() {
        let Some(r) = m.subject.strip_prefix("Referral submitted: ") else {
            continue;
        };
        assert!(
            references.contains(r),
            "a confirmation for {r}, not submitted here"
        );
        *by_reference.entry(r.to_string()).or_default() += 1;
        let id = m.message_id.clone().expect("a Message-ID");
        assert!(ids.insert(id.clone()), "Message-ID {id} received twice");
    }
    for (r, n) in &by_reference {
        assert_eq!(*n, 1, "the confirmation of {r} arrived {n} times");
    }
    by_reference.len()
}

#[tokio::test]
async fn fifty_referrals_submitted_while_mail_is_down_are_each_confirmed_once() {
    let started = Instant::now();
    let db = TestDb::create(Backend::Sqlite).await;
    let data = tempfile::tempdir().unwrap();
    let mut smtp = SmtpSink::start().await;
    let mut server = Server::new(&db.url, data.path());
    server.smtp_url = Some(smtp.url());
    let mut app = server.spawn().await;
    // Two referrers, two browsers each: 50 complete drafts.
    let mut clients = Vec::new();
    for who in ["outage.one@example.org", "outage.two@example.org"] {
        server.create_user(who, "referrer");
        for _ in 0..2 {
            let c = server.client();
            sign_in(&c, who).await;
            clients.push((c, who));
        }
    }
    let filled = futures_join(clients.iter().enumerate().map(|(i, (c, who))| {
        complete_drafts(
            c,
            who,
            50 / 4 + u32::from(i < 50 % 4),
            20_000 + 100 * i as u32,
        )
    }))
    .await;

    // The mail server goes away; all 50 are submitted.
    smtp.stop().await;
    let references: BTreeSet<String> = futures_join(clients.iter().zip(&filled).map(
        |((c, _), drafts)| async move {
            let mut refs = Vec::new();
            for d in drafts {
                refs.push(submit_draft(c, d).await);
            }
            refs
        },
    ))
    .await
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(references.len(), 50);
    let store = server.store().await;
    // Each confirmation has been tried and has failed (the server refuses connections).
    eventually(
        "every confirmation tried once",
        Duration::from_secs(60),
        || async {
            let n = scalar(
                &store,
                "SELECT COUNT(*) FROM outbox WHERE subject LIKE 'Referral submitted: %' \
             AND sent_at IS NULL AND attempts >= 1 AND last_error IS NOT NULL",
            )
            .await;
            (n == 50)
                .then_some(())
                .ok_or(format!("{n} of 50 failed so far"))
        },
    )
    .await;
    assert_eq!(smtp.all().len(), 0);

    // The app is killed and started again, then the mail server comes back.
    app.stop().await;
    let _app = server.spawn().await;
    smtp.restart().await.unwrap();
    eventually("every confirmation marked sent", Duration::from_secs(120), || async {
        let n = scalar(
            &store,
            "SELECT COUNT(*) FROM outbox WHERE subject LIKE 'Referral submitted: %' AND sent_at IS NOT NULL",
        )
        .await;
        (n == 50).then_some(()).ok_or(format!("{n} of 50 sent"))
    })
    .await;
    // Every message is marked sent only after the server accepted it, and a sent message is
    // never claimed again: what has arrived now is all that will ever arrive.
    assert_eq!(confirmations(&smtp, &references), 50);
    assert_eq!(smtp.all().len(), 50, "nothing else was sent");
    println!(
        "mail outage: 50 referrals submitted with the mail server down, 50 confirmations \
         after the restart, none twice ({:.0?})",
        started.elapsed()
    );
}

/// Runs the futures concurrently and returns their outputs in order.
async fn futures_join<F: std::future::Future>(futs: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut out = Vec::new();
    let handles: Vec<_> = futs.into_iter().map(Box::pin).collect();
    // A small join_all: poll them all together.
    let mut pending: Vec<Option<std::pin::Pin<Box<F>>>> = handles.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (i, slot) in pending.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        results[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    for r in results {
        out.push(r.expect("every future finished"));
    }
    out
}

// ------------------------------------------------------------------ two instances

#[tokio::test]
async fn two_instances_on_one_postgres_give_unique_references_and_send_each_email_once() {
    if !backends().contains(&Backend::Postgres) {
        println!("skipped: EHM_TEST_POSTGRES_URL is not set (scripts/test sets it)");
        return;
    }
    let started = Instant::now();
    let db = TestDb::create(Backend::Postgres).await;
    let smtp = SmtpSink::start().await;
    let data = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let servers: Vec<Server> = data
        .iter()
        .map(|d| {
            let mut s = Server::new(&db.url, d.path());
            s.smtp_url = Some(smtp.url());
            s
        })
        .collect();
    let _a = servers[0].spawn().await;
    let _b = servers[1].spawn().await;
    // Four referrers, each with a browser on each instance; five drafts per browser.
    let mut clients = Vec::new();
    for i in 0..4 {
        let who = format!("twin.referrer{i}@example.org");
        servers[0].create_user(&who, "referrer");
        for s in &servers {
            let c = s.client();
            sign_in(&c, &who).await;
            clients.push((c, who.clone()));
        }
    }
    let filled = futures_join(
        clients
            .iter()
            .enumerate()
            .map(|(i, (c, who))| complete_drafts(c, who, 5, 40_000 + 100 * i as u32)),
    )
    .await;
    // All forty submitted at once, half through each instance.
    let submits = clients
        .iter()
        .zip(&filled)
        .flat_map(|((c, _), drafts)| drafts.iter().map(move |d| submit_draft(c, d)));
    let references: Vec<String> = futures_join(submits).await;
    let unique: BTreeSet<String> = references.iter().cloned().collect();
    assert_eq!(references.len(), 40);
    assert_eq!(
        unique.len(),
        40,
        "a reference was given twice: {references:?}"
    );
    let store = servers[0].store().await;
    assert_eq!(
        scalar(
            &store,
            "SELECT COUNT(DISTINCT reference) FROM referrals WHERE status = 'submitted'"
        )
        .await,
        40
    );
    // Both instances run the outbox worker on the same table.
    eventually(
        "every confirmation marked sent",
        Duration::from_secs(120),
        || async {
            let n = scalar(
                &store,
                "SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL",
            )
            .await;
            let all = scalar(&store, "SELECT COUNT(*) FROM outbox").await;
            (n == 40 && all == 40)
                .then_some(())
                .ok_or(format!("{n} of {all} sent"))
        },
    )
    .await;
    assert_eq!(confirmations(&smtp, &unique), 40);
    assert_eq!(smtp.all().len(), 40, "nothing else was sent");
    for (_, who) in clients.iter().step_by(2) {
        assert_eq!(smtp.messages_to(who).len(), 10, "{who}");
    }
    let delivered_by = |app: &TestApp| app.stderr_all().matches("email delivered").count();
    println!(
        "two instances: 40 concurrent submissions, 40 unique references, 40 confirmations \
         each received once (instance A delivered {}, B {}) ({:.0?})",
        delivered_by(&_a),
        delivered_by(&_b),
        started.elapsed()
    );
}

// ------------------------------------------------------------------ database gone

/// The concerns section as typed in the test: values a person would not want to type
/// twice, with a line break.
fn typed_concerns(n: u32) -> Fields {
    vec![
        (
            "concerns",
            format!(
                "Attempt {n}: Amira arrived without a coat again.\nShe said her mother is unwell."
            ),
        ),
        (
            "what-has-been-done",
            format!("Attempt {n}: spoke to the school nurse."),
        ),
        (
            "childs-views",
            "She wants to stay at her school.".to_string(),
        ),
        ("strengths", "Her aunt collects her on Fridays.".to_string()),
        ("risks", "Missed meals.".to_string()),
    ]
}

/// Every typed value is back in `page`'s form (an input, a textarea or a hidden field).
fn keeps_typed(page: &Page, typed: &[(&'static str, String)]) {
    for (name, value) in typed {
        assert!(
            page.form_value(name).as_deref() == Some(value.as_str()),
            "{name} was not kept on the page: {}",
            short(page)
        );
    }
}

/// The form of the "could not be saved" page, as the browser would send it again.
fn hidden_fields(page: &Page) -> Vec<(String, String)> {
    let names = page.select_attr("form[method='post'] input[type='hidden']", "name");
    let values = page.select_attr("form[method='post'] input[type='hidden']", "value");
    names.into_iter().zip(values).collect()
}

fn require_private_postgres() -> bool {
    if ehm_testkit::pg_bin_dir().is_some() {
        return true;
    }
    assert!(
        std::env::var("EHM_TEST_REQUIRE_POSTGRES").as_deref() != Ok("1"),
        "EHM_TEST_REQUIRE_POSTGRES=1 but no PostgreSQL server binaries under /usr/lib/postgresql"
    );
    println!("skipped: no PostgreSQL server binaries (scripts/test installs them)");
    false
}

#[tokio::test]
async fn postgres_stopped_mid_session_keeps_the_answers_on_the_page_and_recovers() {
    if !require_private_postgres() {
        return;
    }
    let started = Instant::now();
    // A server of this test's own: the suite's shared one must not be stopped.
    let pg = PgServer::start().await;
    let db = pg.create_db().await;
    let data = tempfile::tempdir().unwrap();
    let server = Server::new(&db.url, data.path());
    let app = server.spawn().await;
    let pid = app.pid();
    let who = "gone.referrer@example.org";
    server.create_user(who, "referrer");
    let c = server.client();
    sign_in(&c, who).await;
    let draft = new_draft_path(&c).await;
    let section = format!("{draft}/concerns");
    let version = common::version(&c, &section).await;

    // The database stops while the page is open; the referrer presses "Save and continue".
    pg.stop().await.unwrap();
    let typed = typed_concerns(1);
    let mut form = posted(&typed, version.parse().unwrap());
    form.push(("csrf_token".into(), c.csrf_token().unwrap()));
    let fields = as_refs(&form);
    let anyone = server.client();
    let (saved, health, home) = tokio::join!(
        c.post_form_without_csrf(&section, &fields),
        anyone.get("/health"),
        c.get("/"),
    );
    assert_eq!(saved.status, 503, "{}", short(&saved));
    assert!(
        saved.text_contains("Sorry, your answers could not be saved")
            && saved.text_contains("They are still on this page: try again in a minute"),
        "{}",
        short(&saved)
    );
    keeps_typed(&saved, &typed);
    assert_eq!(saved.header("retry-after").as_deref(), Some("60"));
    assert_eq!(health.status, 503, "/health while the database is down");
    assert_eq!(home.status, 503, "{}", short(&home));
    assert!(
        home.text_contains("Sorry, the service is unavailable") && home.text_contains("Try again"),
        "{}",
        short(&home)
    );

    // The database comes back; the app reconnects by itself (same process).
    pg.start_again().await.unwrap();
    eventually(
        "/health answers 200 again",
        Duration::from_secs(90),
        || async {
            let p = server.client().get("/health").await;
            (p.status == 200)
                .then_some(())
                .ok_or(format!("{}", p.status))
        },
    )
    .await;
    assert_eq!(app.pid(), pid, "the app was not restarted");
    // "Try again" sends the kept form back as it was.
    let again = hidden_fields(&saved);
    let action = saved
        .select_attr("form[method='post']", "action")
        .pop()
        .unwrap();
    assert_eq!(action, section);
    let p = c
        .post_form_without_csrf(
            &action,
            &again
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(
        (p.status, p.location.as_deref()),
        (303, Some(draft.as_str())),
        "{}",
        short(&p)
    );
    keeps_typed(&c.get(&section).await, &typed);

    // A database that can be read but not written (a failover to a read-only standby):
    // this time the session is read, the save fails, and the section comes back with the
    // answers and a banner.
    let admin = async || {
        use sqlx::Connection;
        sqlx::postgres::PgConnection::connect(&pg.admin_url())
            .await
            .unwrap()
    };
    let name = db.name();
    let read_only = async |on: bool| {
        let mut conn = admin().await;
        sqlx::raw_sql(&format!(
            "ALTER DATABASE \"{name}\" SET default_transaction_read_only = {on}; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    };
    // (Opening a section page writes its audit record, so the page is open beforehand.)
    let version = common::version(&c, &section).await;
    read_only(true).await;
    let typed = typed_concerns(2);
    let form = posted(&typed, version.parse().unwrap());
    let p = c.post_form(&section, &as_refs(&form)).await;
    assert_eq!(p.status, 503, "{}", short(&p));
    assert!(p.text_contains("Sorry, your answers could not be saved. They are still on this page"));
    assert_eq!(p.h1(), vec!["Your concerns".to_string()]);
    keeps_typed(&p, &typed);
    assert_eq!(p.form_value("version"), Some(version.clone()));
    read_only(false).await;
    let p = c.post_form(&section, &as_refs(&form)).await;
    assert_eq!(p.status, 303, "{}", short(&p));
    keeps_typed(&c.get(&section).await, &typed);
    audit_verifies(&db.url, data.path());
    println!(
        "database gone: 503 pages kept the answers; recovered without a restart ({:.0?})",
        started.elapsed()
    );
}

// ------------------------------------------------------------------ full disk (SQLite)

/// A small tmpfs mounted for the test, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        if !ehm_testkit::running_as_root() {
            println!("skipped: mounting a tmpfs needs root (CI runs as root)");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("ehm-full-")
            .tempdir()
            .unwrap();
        let out = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .unwrap();
        if !out.status.success() {
            println!(
                "skipped: mount -t tmpfs was refused: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the filesystem to the last byte with `filler`.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        for chunk in [1 << 20, 4096, 1] {
            let buf = vec![0u8; chunk];
            while f.write_all(&buf).is_ok() {}
        }
        let _ = f.sync_all();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test]
async fn sqlite_on_a_full_disk_says_so_keeps_the_answers_and_recovers() {
    let Some(disk) = Tmpfs::mount("8m") else {
        return;
    };
    let started = Instant::now();
    let url = format!("sqlite://{}?mode=rwc", disk.path().join("ehm.db").display());
    let server = Server::new(&url, disk.path());
    let mut app = server.spawn().await;
    let who = "full.referrer@example.org";
    server.create_user(who, "referrer");
    let c = server.client();
    sign_in(&c, who).await;
    let draft = new_draft_path(&c).await;
    let section = format!("{draft}/concerns");
    let mut version: i64 = common::version(&c, &section).await.parse().unwrap();

    let filler = disk.fill();
    // Save long answers until one no longer fits (the write-ahead log must grow).
    let mut refused = None;
    for n in 0..40 {
        let mut typed = typed_concerns(n);
        typed[0].1.push_str(&" She is often hungry.".repeat(900));
        let p = c
            .post_form(&section, &as_refs(&posted(&typed, version)))
            .await;
        match p.status {
            303 => version += 1,
            503 => {
                refused = Some((p, typed));
                break;
            }
            s => panic!(
                "a save on a full disk answered {s}: {}{}",
                short(&p),
                app.diagnostics()
            ),
        }
    }
    let (page, typed) = refused.expect("no save failed on the full disk: the test proved nothing");
    assert!(
        page.text_contains("Sorry, your answers could not be saved")
            && page.text_contains("They are still on this page: try again in a minute"),
        "{}\n{}",
        short(&page),
        app.stderr_all()
    );
    keeps_typed(&page, &typed);
    // Other pages answer clearly too, never with a 500.
    for path in [draft.as_str(), "/", "/health"] {
        let p = c.get(path).await;
        assert!(
            p.status == 200 || p.status == 503,
            "GET {path} on a full disk: {}",
            p.status
        );
        assert!(!p.body.trim().is_empty(), "GET {path}: an empty page");
    }

    // Space comes back: the same answers are saved.
    std::fs::remove_file(&filler).unwrap();
    let p = c
        .post_form(&section, &as_refs(&posted(&typed, version)))
        .await;
    assert_eq!(p.status, 303, "{}\n{}", short(&p), app.stderr_all());
    keeps_typed(&c.get(&section).await, &typed);

    // No corruption.
    app.stop().await;
    let store = server.store().await;
    sqlite_integrity_ok(&store).await;
    assert_consistent(&store).await;
    store.pool().close().await;
    audit_verifies(&url, disk.path());
    println!(
        "full disk: refused clearly, answers kept, recovered, integrity ok ({:.0?})",
        started.elapsed()
    );
}

// ------------------------------------------------------------------ backups

/// Referrals made before a backup: what they must be after the restore.
struct Made {
    draft: String,
    saves: Saves,
    reference: Option<String>,
    /// (attachment id, bytes)
    attachment: Option<(String, Vec<u8>)>,
    /// The row as the source database held it before the backup.
    source: StoredReferral,
}

/// Three submitted referrals and two drafts (one half-filled, one with an attachment).
async fn make_referrals(server: &Server, c: &Client, who: &str, seed: u32) -> Vec<Made> {
    let store = server.store().await;
    let mut made = Vec::new();
    for i in 0..5u32 {
        let draft = new_draft_path(c).await;
        let mut all = referral_sections(&format!("Backed-up referral {i}."), seed + i, who);
        if i == 3 {
            all.truncate(4);
        }
        fill_fast(c, &draft, &all).await;
        let attachment = if i == 4 {
            let path = format!("{draft}/attachments");
            let v = c.get(&path).await.form_value("version").unwrap();
            let pdf =
                format!("%PDF-1.4\n% chronology {seed}\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
                    .into_bytes();
            let p = c
                .post_multipart(
                    &path,
                    &[("version", &v)],
                    ("file", "chronology.pdf", "application/pdf", pdf.clone()),
                )
                .await;
            assert_eq!(p.status, 303, "{}", short(&p));
            let aid = c
                .get(&path)
                .await
                .select_attr("a[href*='/attachments/']", "href")
                .into_iter()
                .find_map(|h| h.split("/attachments/").nth(1).map(str::to_string))
                .expect("the attachment's link");
            Some((aid, pdf))
        } else {
            None
        };
        let reference = if i < 3 {
            Some(submit_draft(c, &draft).await)
        } else {
            None
        };
        let source = referral_row(&store, public_id(&draft)).await.unwrap();
        made.push(Made {
            draft,
            saves: all,
            reference,
            attachment,
            source,
        });
    }
    made
}

/// Everything made before the backup is in the restored copy, as it was.
async fn assert_restored(restored: &Server, who: &str, made: &[Made]) {
    let c = restored.client();
    sign_in(&c, who).await;
    let store = restored.store().await;
    for m in made {
        let row = referral_row(&store, public_id(&m.draft))
            .await
            .unwrap_or_else(|| panic!("{} is not in the restored copy", m.draft));
        let mut stored: ReferralDraft = serde_json::from_str(&row.data).unwrap();
        // Exactly what the source database held when the backup was taken...
        assert_eq!(
            (&row.status, &row.reference, &row.data),
            (&m.source.status, &m.source.reference, &m.source.data),
            "{}",
            m.draft
        );
        // ... which is what the referrer saved (an upload adds its file to the draft).
        if m.attachment.is_some() {
            assert_eq!(stored.attachments.len(), 1, "{}", m.draft);
            stored.attachments.clear();
            stored.saved_sections.retain(|s| s != "attachments");
        }
        assert_same_draft(&stored, &expected_draft(&m.saves), &m.draft);
        assert_eq!(row.reference, m.reference, "{}", m.draft);
        let page = c.get(&m.draft).await;
        assert_eq!(page.status, 200, "{}: {}", m.draft, short(&page));
        if let Some(r) = &m.reference {
            assert!(
                page.text_contains(r),
                "{}: no {r} on {}",
                m.draft,
                short(&page)
            );
        }
        if let Some((aid, bytes)) = &m.attachment {
            let file = c.get(&format!("{}/attachments/{aid}", m.draft)).await;
            assert_eq!(file.status, 200);
            assert!(file.raw == *bytes, "the attachment came back different");
        }
    }
    assert_consistent(&store).await;
    audit_verifies(&restored.db_url, &restored.data_dir);
}

#[tokio::test]
async fn a_sqlite_backup_taken_while_serving_restores_every_referral() {
    let started = Instant::now();
    let db = TestDb::create(Backend::Sqlite).await;
    let data = tempfile::tempdir().unwrap();
    let server = Server::new(&db.url, data.path());
    let _app = server.spawn().await;
    let who = "backup.referrer@example.org";
    server.create_user(who, "referrer");
    let c = server.client();
    sign_in(&c, who).await;
    let made = make_referrals(&server, &c, who, 60_000).await;

    // Another browser keeps saving while the backup runs.
    let busy = server.client();
    sign_in(&busy, who).await;
    let busy_draft = new_draft_path(&busy).await;
    let saved = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (saved, stop, draft) = (saved.clone(), stop.clone(), busy_draft.clone());
        tokio::spawn(async move {
            let mut n = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let typed = typed_concerns(n as u32);
                let p = busy
                    .post_form(
                        &format!("{draft}/concerns"),
                        &as_refs(&posted(&typed, 1 + n)),
                    )
                    .await;
                assert_eq!(p.status, 303, "{}", short(&p));
                n += 1;
                saved.store(n, Ordering::Relaxed);
            }
        })
    };
    eventually("saves under way", Duration::from_secs(60), || {
        let n = saved.load(Ordering::Relaxed);
        async move { (n >= 5).then_some(()).ok_or(format!("{n}")) }
    })
    .await;
    let backup_dir = tempfile::tempdir().unwrap();
    let file = backup_dir.path().join("ehm-backup.db");
    let saved_before = saved.load(Ordering::Relaxed);
    let (ok, out, err) = {
        let (server, file) = (server.clone(), file.clone());
        tokio::task::spawn_blocking(move || server.run(&["backup", file.to_str().unwrap()], None))
            .await
            .unwrap()
    };
    assert!(ok, "ehm backup failed:\n{out}\n{err}");
    assert!(
        out.contains("Backed up") && out.contains("integrity ok"),
        "{out}"
    );
    let saved_after = saved.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the backup is readable by others: {mode:o}"
        );
    }

    // A backup never overwrites a file.
    let copy = std::fs::read(&file).unwrap();
    let (ok, _, err) = server.run(&["backup", file.to_str().unwrap()], None);
    assert!(!ok && err.contains("already exists"), "{err}");
    assert!(
        std::fs::read(&file).unwrap() == copy,
        "the backup was changed"
    );

    // Restore: the file becomes the database of a new data folder.
    let restored_dir = tempfile::tempdir().unwrap();
    std::fs::copy(&file, restored_dir.path().join("ehm.db")).unwrap();
    let restored = Server::new(
        &format!(
            "sqlite://{}?mode=rwc",
            restored_dir.path().join("ehm.db").display()
        ),
        restored_dir.path(),
    );
    let _restored_app = restored.spawn().await;
    assert_restored(&restored, who, &made).await;
    // The busy draft: at least every save acknowledged before the backup began, at most
    // those acknowledged before it ended; one consistent version.
    let store = restored.store().await;
    let version = scalar(
        &store,
        &format!(
            "SELECT version FROM referrals WHERE public_id = '{}'",
            public_id(&busy_draft)
        ),
    )
    .await;
    assert!(
        (1 + saved_before..=1 + saved_after).contains(&version),
        "restored version {version}, saves acknowledged {saved_before} before and {saved_after} after"
    );
    sqlite_integrity_ok(&store).await;
    println!(
        "sqlite backup: taken during {} saves, restored with every referral ({:.0?})",
        saved_after - saved_before,
        started.elapsed()
    );
}

#[tokio::test]
async fn a_postgres_dump_restores_into_a_fresh_database_with_every_referral() {
    if !backends().contains(&Backend::Postgres) {
        println!("skipped: EHM_TEST_POSTGRES_URL is not set (scripts/test sets it)");
        return;
    }
    let started = Instant::now();
    let bin = ehm_testkit::pg_bin_dir().expect("pg_dump: no /usr/lib/postgresql/*/bin");
    let db = TestDb::create(Backend::Postgres).await;
    let data = tempfile::tempdir().unwrap();
    let server = Server::new(&db.url, data.path());
    let _app = server.spawn().await;
    let who = "dump.referrer@example.org";
    server.create_user(who, "referrer");
    let c = server.client();
    sign_in(&c, who).await;
    let made = make_referrals(&server, &c, who, 70_000).await;

    // `ehm backup` says how instead of pretending.
    let (ok, _, err) = server.run(&["backup", "/tmp/never-written.dump"], None);
    assert!(
        !ok && err.contains("pg_dump") && err.contains("pg_restore"),
        "{err}"
    );
    assert!(!Path::new("/tmp/never-written.dump").exists());

    // The README's procedure, while the app serves.
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("ehm.dump");
    let out = std::process::Command::new(bin.join("pg_dump"))
        .arg("--format=custom")
        .arg(format!("--file={}", dump.display()))
        .arg(&db.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fresh = TestDb::create(Backend::Postgres).await;
    let out = std::process::Command::new(bin.join("pg_restore"))
        .args(["--no-owner", "--exit-on-error"])
        .arg(format!("--dbname={}", fresh.url))
        .arg(&dump)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let restored_dir = tempfile::tempdir().unwrap();
    let restored = Server::new(&fresh.url, restored_dir.path());
    let _restored_app = restored.spawn().await;
    assert_restored(&restored, who, &made).await;
    println!(
        "postgres dump: restored into a fresh database with every referral ({:.0?})",
        started.elapsed()
    );
}
