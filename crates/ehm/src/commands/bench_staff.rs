//! `ehm bench --staff`: how long MASH staff wait for the work tray and for a referral page
//! with its system match, at realistic volumes (issue 9: 100,000 referrals and 1,000,000
//! people; tray pages p99 ≤ 50 ms and a referral page p99 ≤ 30 ms at 16 concurrent staff
//! sessions on a 2-core machine).
//!
//! Set-up (timed, not measured): `--persons` fictional people from `ehm_matching::synth`
//! (households, twins, recording errors) written with the importer's batch upsert;
//! `--referrals` submitted referrals in every status (most of them closed, as in a tray
//! that has run for a few years) written in multi-row inserts with the columns a
//! submission sets; 500 more referrals submitted through the storage API whose child is
//! one of the generator's queries (about 80 % about someone on record, with typing errors,
//! nicknames and estimated dates of birth); the matching index loaded from the database
//! and fitted, as `ehm serve` does at start-up. Staff accounts sign in over HTTP with
//! password and authenticator, like a browser.
//!
//! Measured: `--staff-sessions` signed-in staff each send `--staff-requests` requests
//! per view, all sessions at once, one request at a time per session: the whole response
//! (session, access decision, audit record, query, rendering). Each view also prints this
//! process's CPU time per page (getrusage: clients, server and SQLite together; not the
//! PostgreSQL server's), which queueing on a shared machine does not inflate.
//! `--staff-view TEXT` measures only the views whose label contains TEXT (to profile one).

use anyhow::{Context, bail};
use ehm_domain::account::{Email, Role};
use ehm_domain::mash::{ReferralStatus, search_text};
use ehm_domain::referral::{ChildDraft, ReferenceNumber, ReferralDraft, ReferralType};
use ehm_matching::{Gender, Person};
use ehm_storage::{Backend, NewUser, Store, Submission, to_ms};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

use super::bench::{
    Browser, Dist, Form, PASSWORD, Resp, TempDir, csrf_of, load_average, process_cpu,
};
use crate::config::Config;

/// Referrals about the generator's queries: the pages opened (and the fit's data).
const QUERY_REFERRALS: usize = 500;

pub struct StaffArgs<'a> {
    pub database_url: Option<&'a str>,
    pub persons: usize,
    pub referrals: usize,
    pub sessions: usize,
    pub requests: usize,
    /// Only the views whose label contains this.
    pub only_view: Option<&'a str>,
}

/// A referral about `child` as a referrer would have sent it (one child, the usual
/// sections, answers of a few thousand characters).
pub(super) fn referral_about(child: &Person) -> ReferralDraft {
    let mut d = super::bench::long_referral();
    let mut c: ChildDraft = d.children[0].clone();
    let dob = child.dob;
    c.first_name = child.first_name.clone().unwrap_or_default();
    c.last_name = child.last_name.clone().unwrap_or_default();
    c.other_names = child.other_names.join(", ");
    c.dob_day = dob.map(|d| d.day().to_string()).unwrap_or_default();
    c.dob_month = dob.map(|d| d.month().to_string()).unwrap_or_default();
    c.dob_year = dob.map(|d| d.year().to_string()).unwrap_or_default();
    c.dob_estimated = child.dob_estimated;
    c.gender = match child.gender {
        Some(Gender::Male) => "male".into(),
        Some(Gender::Female) => "female".into(),
        None => "non-binary".into(),
    };
    c.address = child.address.clone().unwrap_or_default();
    c.postcode = child.postcode.clone().unwrap_or_default();
    d.children = vec![c];
    d.concerns.truncate(3_000);
    for s in [
        &mut d.what_has_been_done,
        &mut d.childs_views,
        &mut d.strengths,
        &mut d.risks,
        &mut d.support_requested,
    ] {
        s.truncate(800);
    }
    d.previous_references.truncate(100);
    d
}

fn rss_mib() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| format!("{} MiB", kb / 1024))
        .unwrap_or_else(|| "unknown".into())
}

fn hex(n: usize) -> String {
    ehm_web::random_bytes(n)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A small deterministic generator for the bulk referrals.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Runs the benchmark on a fresh SQLite file in a temporary folder, or on the empty
/// database `args.database_url`.
pub(super) async fn bench(config: &Config, args: StaffArgs<'_>) -> anyhow::Result<()> {
    let temp;
    let url = match args.database_url {
        Some(url) => url.to_string(),
        None => {
            temp = TempDir::new()?;
            format!("sqlite://{}?mode=rwc", temp.0.join("staff.db").display())
        }
    };
    let store = Store::connect(&url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
    println!(
        "Database: {}",
        match store.backend() {
            Backend::Sqlite => "SQLite (WAL, synchronous=FULL)",
            Backend::Postgres => "PostgreSQL",
        }
    );
    let settings = ehm_web::Settings {
        service_name: config.service_name.clone(),
        organisation_name: config.organisation_name.clone(),
        public_url: "http://127.0.0.1".into(),
        mash_phone: config.mash_phone.clone(),
        go_live: None,
        draft_retention: time::Duration::days(30),
        session_idle: time::Duration::minutes(60),
        session_warning: time::Duration::minutes(2),
        session_max: time::Duration::hours(12),
        trusted_proxies: Vec::new(),
        decision_target_days: 1,
        login_code: false,
        demo: false,
        templates_dir: config.templates_dir.clone(),
        static_dir: config.static_dir.clone(),
    };
    let state = ehm_web::AppState::new(store.clone(), settings)?;
    let result = run(&store, state, &args).await;
    store.pool().close().await;
    result
}

async fn run(store: &Store, state: ehm_web::AppState, args: &StaffArgs<'_>) -> anyhow::Result<()> {
    if store.persons_count().await? > 0 {
        bail!("the database already holds people: use a fresh database for --staff");
    }
    println!(
        "Set-up: {} people, {} + {QUERY_REFERRALS} submitted referrals, {} staff sessions",
        args.persons, args.referrals, args.sessions
    );

    // People, generated and imported as `ehm import-persons` writes them.
    let t = Instant::now();
    let persons = args.persons;
    let (people, queries, _) = tokio::task::spawn_blocking(move || {
        ehm_matching::synth::Generator::new(0x0E41_2026).scenario(persons, QUERY_REFERRALS)
    })
    .await?;
    let generated = t.elapsed();
    let t = Instant::now();
    ehm_app::person_index::store_people(store, &people)
        .await
        .context("importing the people")?;
    // Names for the searches: surnames of people in the index, some referred.
    let names: Vec<String> = people
        .iter()
        .step_by((people.len() / 50).max(1))
        .filter_map(|p| p.last_name.clone())
        .take(50)
        .collect();
    drop(people);
    println!(
        "  {} people generated in {:.1} s, imported in {:.1} s",
        args.persons,
        generated.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );

    // Accounts: a referrer and the staff.
    let hash = ehm_web::hash_password(PASSWORD.to_string())
        .await
        .map_err(|e| anyhow::anyhow!("cannot hash the bench password: {e}"))?;
    let run_id = hex(4);
    let now = OffsetDateTime::now_utc();
    let mut tx = store.begin().await?;
    let mut staff = Vec::new();
    let mut workers = Vec::new();
    let mut owner = 0;
    for i in 0..=args.sessions {
        let (role, who) = match i {
            0 => (Role::Referrer, "referrer".to_string()),
            i if i % 3 == 1 => (Role::BusinessSupport, format!("support{i}")),
            i if i % 3 == 2 => (Role::SocialWorker, format!("worker{i}")),
            i => (Role::Manager, format!("manager{i}")),
        };
        let email = Email::parse(&format!("bench-{run_id}-{who}@example.org"))
            .map_err(|e| anyhow::anyhow!("bench email address: {e}"))?;
        let id = store
            .create_user(
                &mut tx,
                NewUser {
                    email: &email,
                    display_name: &format!("Bench {who}"),
                    role,
                    password_hash: &hash,
                    verified: true,
                },
                now,
            )
            .await?;
        match role {
            Role::Referrer => owner = id,
            Role::SocialWorker => {
                workers.push(id);
                staff.push(email.as_str().to_string())
            }
            _ => staff.push(email.as_str().to_string()),
        }
    }
    tx.commit().await?;

    // The bulk of the tray: referrals received every few minutes over the past years.
    let t = Instant::now();
    let references = bulk_referrals(store, owner, &workers, &names, args.referrals, now).await?;
    store.index_name_words().await?;
    println!(
        "  {} referrals written (and their names indexed for search) in {:.1} s",
        args.referrals,
        t.elapsed().as_secs_f64()
    );

    // The referrals the pages are opened from, submitted as the portal submits them.
    let t = Instant::now();
    let mut pids = Vec::with_capacity(QUERY_REFERRALS);
    for q in &queries {
        let draft = referral_about(&q.person);
        let pid = hex(16);
        let row = store.create_draft(&pid, owner, &draft, now).await?;
        let reference = ReferenceNumber::generate(
            ehm_web::random_bytes(8)
                .try_into()
                .map_err(|_| anyhow::anyhow!("random bytes"))?,
        );
        let mut tx = store.begin().await?;
        store
            .submit_referral(
                &mut tx,
                &Submission {
                    id: row.id,
                    expected_version: 1,
                    draft: &draft,
                    reference: &reference,
                    referral_type: ReferralType::EarlyHelpService,
                },
                now,
            )
            .await?;
        let c = &draft.children[0];
        store
            .set_tray_fields(
                &mut tx,
                row.id,
                &[format!("{} {}", c.first_name, c.last_name)],
                "",
                now + time::Duration::days(1),
            )
            .await?;
        tx.commit().await?;
        pids.push(pid);
    }
    analyze(store).await?;
    println!(
        "  {QUERY_REFERRALS} referrals submitted in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // The index, as `ehm serve` builds it at start-up.
    let index = state.app.persons.clone();
    let t = Instant::now();
    let loaded = index.load(store).await?;
    let load = t.elapsed();
    let t = Instant::now();
    let fitted = index.fit(store).await?;
    println!(
        "  Index: {loaded} people loaded and built in {:.1} s; fitted on {} referral children in {:.1} s; RSS {}",
        load.as_secs_f64(),
        fitted.as_ref().map_or(0, |f| f.queries),
        t.elapsed().as_secs_f64(),
        rss_mib()
    );

    // The system match alone, in process.
    let mut search = Vec::with_capacity(queries.len());
    let (mut on_record, mut first) = (0, 0);
    for (n, q) in queries.iter().enumerate() {
        let query = ehm_app::mash::persons::query_of_child(
            n as i64,
            0,
            &referral_about(&q.person).children[0],
        );
        let t = Instant::now();
        let found = index
            .search(
                &query,
                ehm_app::mash::persons::TOP_K,
                ehm_app::mash::persons::THRESHOLD,
            )
            .context("the index is not loaded")?;
        search.push(t.elapsed());
        if let Some(truth) = &q.truth {
            on_record += 1;
            if found.first().is_some_and(|c| &c.person_id == truth) {
                first += 1;
            }
        }
    }
    println!(
        "  System match alone (index search in process), ms: {}",
        Dist::of(&mut search)
    );
    println!(
        "  The person on record ranked first for {first} of the {on_record} referrals about someone on record"
    );

    // Over HTTP.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen on 127.0.0.1")?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = ehm_web::app(state);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stop_rx.await;
        })
        .await
    });
    let result = measure(
        &base,
        &staff,
        &pids,
        &names,
        &references,
        args.requests,
        args.only_view,
    )
    .await;
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    result?;
    println!("  Load average after the staff phase: {}", load_average());
    Ok(())
}

async fn analyze(store: &Store) -> anyhow::Result<()> {
    // PostgreSQL: VACUUM too, as autovacuum would soon after a bulk load, so that
    // index-only scans need not visit the table to check visibility.
    let sql = match store.backend() {
        Backend::Postgres => "VACUUM ANALYZE",
        Backend::Sqlite => "ANALYZE",
    };
    sqlx::query(sql).execute(store.pool()).await?;
    Ok(())
}

/// Writes `n` submitted referrals in multi-row inserts (the columns a submission and the
/// workflow set), statuses weighted towards closed. Returns a sample of their references.
async fn bulk_referrals(
    store: &Store,
    owner: i64,
    workers: &[i64],
    names: &[String],
    n: usize,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<String>> {
    let statuses = [
        ReferralStatus::Submitted,
        ReferralStatus::InTriage,
        ReferralStatus::AwaitingDecision,
        ReferralStatus::Decided,
        ReferralStatus::FeedbackSent,
        ReferralStatus::Closed,
        ReferralStatus::Closed,
        ReferralStatus::Closed,
        ReferralStatus::Closed,
        ReferralStatus::Closed,
    ];
    let firsts = [
        "Ava", "Noah", "Isla", "Leo", "Mia", "Oscar", "Zoe", "Arlo", "Ruby", "Theo",
    ];
    // One small, valid draft for every bulk row (the tray reads the columns, not this).
    let draft = serde_json::to_string(&ReferralDraft::default())?.replace('\'', "''");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut sample = Vec::new();
    let chunk = 250;
    let mut i = 0;
    while i < n {
        let rows = chunk.min(n - i);
        let mut sql = String::from(
            "INSERT INTO referrals (public_id, owner_id, status, version, data, created_at, saved_at, \
             submitted_at, reference, referral_type, assigned_to, decision_due_at, child_names, \
             child_display, child_dobs) VALUES ",
        );
        for k in 0..rows {
            let at = now - time::Duration::minutes(((n - i - k) * 7) as i64);
            let status = statuses[rng.below(statuses.len())];
            let reference =
                ReferenceNumber::generate(((i + k) as u64 * 7_919 + 1).to_le_bytes()).to_string();
            if (i + k) % (n / 20).max(1) == 0 {
                sample.push(reference.clone());
            }
            let name = format!(
                "{} {}",
                firsts[rng.below(firsts.len())],
                names
                    .get(rng.below(names.len().max(1)))
                    .map_or("Smith", |s| s)
            );
            let assigned = if status == ReferralStatus::Submitted || rng.below(4) == 0 {
                "NULL".to_owned()
            } else {
                workers[rng.below(workers.len().max(1))].to_string()
            };
            let ty = ReferralType::ALL[rng.below(ReferralType::ALL.len())].code();
            let year = 2010 + rng.below(14);
            if k > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('b{run}{idx}', {owner}, '{st}', 1, '{draft}', {ms}, {ms}, {ms}, '{reference}', '{ty}', {assigned}, {due}, '{folded}', '{display}', '{year}-0{m}-1{d}')",
                run = now.unix_timestamp(),
                idx = i + k,
                st = status.code(),
                ms = to_ms(at),
                due = to_ms(at + time::Duration::days(1)),
                folded = search_text(&name).replace('\'', "''"),
                display = name.replace('\'', "''"),
                m = 1 + rng.below(9),
                d = rng.below(9),
            ));
        }
        sqlx::query(&sql).execute(store.pool()).await?;
        i += rows;
    }
    Ok(sample)
}

/// A member of staff's browser.
struct Staff(Browser);

impl Staff {
    async fn get(&mut self, path: &str) -> anyhow::Result<Resp> {
        self.0.get(path).await
    }

    /// Signs in with the password, then sets up the authenticator (first sign-in).
    async fn sign_in(base: &str, email: &str) -> anyhow::Result<Staff> {
        let mut c = Staff(Browser::new(base)?);
        let page = c.get("/sign-in").await?;
        let mut form = Form::default();
        form.add(
            "csrf_token",
            &csrf_of(&page.body).context("no CSRF token on the sign-in page")?,
        )
        .add("email", email)
        .add("password", PASSWORD);
        let r = c.0.post("/sign-in", form.0).await?;
        if r.location.as_deref() != Some("/sign-in/set-up-authenticator") {
            bail!("staff sign-in went to {:?}", r.location);
        }
        let page = c.get("/sign-in/set-up-authenticator").await?;
        let marker = "<code class=\"app-secret\">";
        let start = page
            .body
            .find(marker)
            .context("no authenticator key shown")?
            + marker.len();
        let secret: String = page.body[start..]
            .chars()
            .take_while(|c| *c != '<')
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let totp = ehm_app::crypto::totp(&secret, email, "bench")
            .map_err(|e| anyhow::anyhow!("authenticator key: {e}"))?;
        let mut form = Form::default();
        form.add(
            "csrf_token",
            &csrf_of(&page.body).context("no CSRF token on the authenticator page")?,
        )
        .add("code", &totp.generate_current()?);
        let r = c.0.post("/sign-in/set-up-authenticator", form.0).await?;
        if r.location.as_deref() != Some("/") {
            bail!("authenticator set-up went to {:?}", r.location);
        }
        Ok(c)
    }
}

/// What one view is checked for: a page that rendered, not an error page.
fn check(r: &Resp, path: &str, marker: &str) -> anyhow::Result<()> {
    if r.status != 200 {
        bail!(
            "GET {path}: status {} (location {:?})",
            r.status,
            r.location
        );
    }
    if !r.body.contains(marker) {
        bail!("GET {path}: the page has no {marker}");
    }
    Ok(())
}

/// The path a session requests, from its number and the request's.
type Paths = Arc<dyn Fn(usize, usize) -> String + Send + Sync>;

/// Every session GETs `paths(session, i)` for i in 0..requests, all sessions at once.
/// Returns each request's path and time.
async fn concurrently(
    sessions: &mut Vec<Staff>,
    requests: usize,
    marker: &'static str,
    paths: Paths,
) -> anyhow::Result<Vec<(String, Duration)>> {
    let mut tasks = Vec::new();
    for (s, mut staff) in sessions.drain(..).enumerate() {
        let paths = paths.clone();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(requests);
            for i in 0..requests {
                let path = paths(s, i);
                let t = Instant::now();
                let r = staff.get(&path).await?;
                times.push((path.clone(), t.elapsed()));
                check(&r, &path, marker)?;
            }
            anyhow::Ok((staff, times))
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let (staff, times) = t.await??;
        sessions.push(staff);
        all.extend(times);
    }
    Ok(all)
}

async fn measure(
    base: &str,
    emails: &[String],
    pids: &[String],
    names: &[String],
    references: &[String],
    requests: usize,
    only_view: Option<&str>,
) -> anyhow::Result<()> {
    let mut sessions = Vec::new();
    for e in emails {
        sessions.push(Staff::sign_in(base, e).await?);
    }
    let n = sessions.len();
    println!(
        "\nStaff pages: {n} signed-in staff sessions at once, {requests} requests each per view, ms"
    );
    // Warm-up: each session's first pages (connections, caches).
    concurrently(
        &mut sessions,
        3,
        "Showing 1 to",
        Arc::new(|_, _| "/mash".into()),
    )
    .await?;

    let filters = [
        "status=awaiting-decision",
        "worker=me",
        "overdue=yes",
        "service=early-help-service&worker=none",
        "status=submitted&status=in-triage",
        "sort=status",
        "sort=due&order=desc",
    ];
    let views: Vec<(&str, &'static str, Paths)> = vec![
        (
            "work tray, first page",
            "Showing 1 to",
            Arc::new(|_, _| "/mash".to_string()),
        ),
        (
            "work tray, filtered or sorted (7 kinds, in turn)",
            "govuk-checkboxes__input",
            Arc::new(move |s, i| format!("/mash?{}", filters[(s + i) % filters.len()])),
        ),
        ("work tray, search by child name", "Showing 1 to", {
            let names = names.to_vec();
            Arc::new(move |s, i| format!("/mash?q={}", names[(s * 7 + i) % names.len()]))
        }),
        ("work tray, search by reference", "Showing 1 to 1 of 1 ", {
            let refs = references.to_vec();
            Arc::new(move |s, i| format!("/mash?q={}", refs[(s * 3 + i) % refs.len()]))
        }),
        (
            "referral page with its system match",
            "id=\"system-match\"",
            {
                let pids = pids.to_vec();
                Arc::new(move |s, i| format!("/mash/referrals/{}", pids[(s * 31 + i) % pids.len()]))
            },
        ),
    ];
    for (label, marker, paths) in views {
        if only_view.is_some_and(|v| !label.contains(v)) {
            continue;
        }
        let t = Instant::now();
        let cpu = process_cpu();
        let timed = concurrently(&mut sessions, requests, marker, paths).await?;
        let rate = timed.len() as f64 / t.elapsed().as_secs_f64();
        let cpu_ms = (process_cpu() - cpu).as_secs_f64() * 1000.0 / timed.len().max(1) as f64;
        let mut times: Vec<Duration> = timed.iter().map(|(_, d)| *d).collect();
        println!(
            "  {label:<50} {}  ({rate:.0} pages/s, {cpu_ms:.2} ms CPU a page)",
            Dist::of(&mut times)
        );
        if label.starts_with("work tray, filtered") {
            // Each kind's share of the mixed run (they queue behind one another).
            for f in filters {
                let path = format!("/mash?{f}");
                let mut kind: Vec<Duration> = timed
                    .iter()
                    .filter(|(p, _)| *p == path)
                    .map(|(_, d)| *d)
                    .collect();
                println!("    {f:<48} {}", Dist::of(&mut kind));
            }
        }
    }

    // One member of staff alone: the referral page without queueing behind the others.
    let mut alone = vec![sessions.remove(0)];
    let pids_alone = pids.to_vec();
    let mut times: Vec<Duration> = concurrently(
        &mut alone,
        requests * 4,
        "id=\"system-match\"",
        Arc::new(move |_, i| {
            format!(
                "/mash/referrals/{}",
                pids_alone[(i * 17) % pids_alone.len()]
            )
        }),
    )
    .await?
    .into_iter()
    .map(|(_, d)| d)
    .collect();
    println!(
        "  {:<50} {}",
        "referral page, one session alone",
        Dist::of(&mut times)
    );
    Ok(())
}
