//! `ehm bench`: prints how fast the portal saves drafts under concurrent load and how
//! long a ~20-page referral PDF takes to render. A benchmark, not a test: it prints
//! figures and fails only when something did not work (an error or a save conflict).
//!
//! Saves: the real app is started in this process on 127.0.0.1 (a fresh SQLite database
//! in a temporary folder, or `--database-url`), login codes off. Each client has its own
//! referrer account, signs in over HTTP, creates its own draft, then repeatedly GETs the
//! "Your concerns" page (to read the form's `version` and CSRF token, like a browser)
//! and POSTs a few KB of answers with `action=later`. The POST latency and the GET
//! latency are reported separately.
//!
//! PDF: a `ReferralDraft` with long answers goes through the same code as the
//! `/referrals/{pid}/pdf` route (`ehm_web::referral_pdf_document`, then
//! `ehm_pdf::render`).

use anyhow::{Context, bail};
use axum::body::Body;
use axum::http::{Method, header};
use ehm_domain::account::{Email, Role};
use ehm_domain::referral::{
    ChildDraft, HouseholdMemberDraft, OrganisationDraft, ProfessionalDraft, ReferralDraft,
    ReferrerDraft,
};
use ehm_storage::{Backend, NewUser, Store};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

use crate::commands::runtime;
use crate::config::Config;

const SESSION_COOKIE: &str = "__Host-ehm_session";
pub(super) const PASSWORD: &str = "bench-walnut-heron-lantern-42";
const SECTION: &str = "concerns";

#[derive(clap::Args)]
pub struct Args {
    /// Concurrent clients; each has its own account, session and draft.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1000))]
    clients: u32,
    /// How long the save phase runs.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
    seconds: u64,
    /// Saves per client instead of a fixed duration (overrides --seconds).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    saves: Option<u64>,
    /// Saves per second for the paced phase, spread evenly over the clients (0 skips it;
    /// so does --saves). Latency is counted from when each save was due, so a server that falls behind
    /// shows it (no "coordinated omission").
    #[arg(long, default_value_t = 1_500, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    rate: u32,
    /// How long the paced phase runs.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
    paced_seconds: u64,
    /// A database to use instead of a fresh SQLite file in a temporary folder, e.g.
    /// postgres://user:pass@localhost/ehm_bench. Use a throwaway database: the bench
    /// accounts and drafts are left in it.
    #[arg(long)]
    database_url: Option<String>,
    /// Seconds of `wrk` load per page for the anonymous-page comparison with a bare axum
    /// "hello world" (0 skips it; needs `wrk` on the PATH).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=600))]
    page_seconds: u64,
    /// How many times to render the ~20-page referral PDF (0 skips it).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pdf_runs: u32,
    /// Run the MASH staff benchmark instead (work tray and referral pages at volume, on
    /// a fresh SQLite file or the empty database of --database-url; see bench_staff.rs).
    #[arg(long)]
    staff: bool,
    /// --staff: people in the person index.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1_000..=5_000_000))]
    persons: u64,
    /// --staff: submitted referrals in the tray.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(100..=2_000_000))]
    referrals: u64,
    /// --staff: staff signed in at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=200))]
    staff_sessions: u64,
    /// --staff: requests per session for each view measured.
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    staff_requests: u64,
    /// --staff: measure only the views whose label contains this text (for example
    /// "name" or "first page"), to profile one view.
    #[arg(long)]
    staff_view: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    init_quiet_tracing();
    // Templates and static files, service name, etc. as `ehm serve` would use them; the
    // database, login codes, go-live and demo mode are the bench's own.
    let config = Config::load()?;
    let mut out = String::new();
    writeln!(
        out,
        "ehm bench ({} build)",
        if cfg!(debug_assertions) {
            "DEBUG: figures are not meaningful, use --release"
        } else {
            "release"
        }
    )?;
    writeln!(out, "Machine: {}", machine())?;
    writeln!(out, "Load average at start: {}", load_average())?;
    print!("{out}");

    let rt = runtime()?;
    if args.staff {
        let result = rt.block_on(super::bench_staff::bench(
            &config,
            super::bench_staff::StaffArgs {
                database_url: args.database_url.as_deref(),
                persons: args.persons as usize,
                referrals: args.referrals as usize,
                sessions: args.staff_sessions as usize,
                requests: args.staff_requests as usize,
                only_view: args.staff_view.as_deref(),
            },
        ));
        println!("Load average at end: {}", load_average());
        return result;
    }
    let saves_result = rt.block_on(save_bench(&args, &config));
    drop(rt);

    let pdf_result = if args.pdf_runs > 0 {
        pdf_bench(args.pdf_runs)
    } else {
        Ok(())
    };
    println!("Load average at end: {}", load_average());
    saves_result?;
    pdf_result
}

pub(super) fn init_quiet_tracing() {
    use tracing_subscriber::EnvFilter;
    // Warnings only: request logging would cost time and bury the figures.
    let filter =
        EnvFilter::try_from_env("EHM_LOG").unwrap_or_else(|_| EnvFilter::new("warn,sqlx=warn"));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

pub(super) fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} CPUs available to this process ({model})")
}

pub(super) fn load_average() -> String {
    match std::fs::read_to_string("/proc/loadavg") {
        Ok(s) => {
            let v: Vec<&str> = s.split_whitespace().take(3).collect();
            format!("{} (1, 5, 15 min)", v.join(" "))
        }
        Err(_) => "unknown (no /proc/loadavg)".into(),
    }
}

/// CPU time this process has used so far (user and system, all threads): per request,
/// a figure that queueing on a shared machine does not inflate the way latency is.
pub(super) fn process_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

// ------------------------------------------------------------------- save phase

/// A temporary folder removed on drop.
pub(super) struct TempDir(pub(super) PathBuf);

impl TempDir {
    pub(super) fn new() -> anyhow::Result<Self> {
        let hex: String = ehm_web::random_bytes(6)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let path = std::env::temp_dir().join(format!("ehm-bench-{}-{hex}", std::process::id()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create temporary folder {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn save_bench(args: &Args, config: &Config) -> anyhow::Result<()> {
    let temp;
    let (url, where_) = match &args.database_url {
        Some(url) => (url.clone(), "from --database-url".to_string()),
        None => {
            temp = TempDir::new()?;
            let db = temp.0.join("ehm.db");
            (
                format!("sqlite://{}?mode=rwc", db.display()),
                format!("fresh file {}", db.display()),
            )
        }
    };
    let store = Store::connect(&url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
    let backend = match store.backend() {
        Backend::Sqlite => {
            let (pool, hot) = ehm_storage::SQLITE_CONNECTIONS;
            format!(
                "SQLite (WAL, synchronous=FULL, {pool} pooled connections + {hot} for every request's statements)"
            )
        }
        Backend::Postgres => {
            let (pool, hot) = ehm_storage::POSTGRES_CONNECTIONS;
            format!("PostgreSQL ({pool} pooled connections + {hot} for every request's statements)")
        }
    };
    println!("Database: {backend}, {where_}");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen on 127.0.0.1")?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    let settings = ehm_web::Settings {
        service_name: config.service_name.clone(),
        organisation_name: config.organisation_name.clone(),
        public_url: base.clone(),
        mash_phone: config.mash_phone.clone(),
        go_live: None,
        draft_retention: time::Duration::days(30),
        session_idle: time::Duration::minutes(60),
        session_warning: time::Duration::minutes(2),
        session_max: time::Duration::hours(12),
        // The clients stand for people behind a reverse proxy on this machine.
        trusted_proxies: vec![
            ehm_web::IpNet::parse("127.0.0.1/32")
                .map_err(|e| anyhow::anyhow!("proxy address: {e}"))?,
        ],
        decision_target_days: 1,
        login_code: false,
        demo: false,
        templates_dir: config.templates_dir.clone(),
        static_dir: config.static_dir.clone(),
    };
    let state = ehm_web::AppState::new(store.clone(), settings)?;
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

    let mut result = drive(args, &store, &base).await;
    if result.is_ok() && args.page_seconds > 0 {
        result = pages(&base, args.page_seconds).await;
    }

    let _ = stop_tx.send(());
    match tokio::time::timeout(Duration::from_secs(10), server).await {
        Ok(Ok(Ok(()))) | Err(_) => {}
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "server stopped with an error"),
        Ok(Err(e)) => tracing::warn!(error = %e, "server task failed"),
    }
    store.pool().close().await;
    result
}

// ----------------------------------------------------------------- page phase

/// Requests per second `wrk` gets from `url` with 64 connections on 2 threads.
async fn wrk(url: &str, seconds: u64) -> anyhow::Result<f64> {
    let out = tokio::process::Command::new("wrk")
        .args(["-t2", "-c64", &format!("-d{seconds}s"), "--latency", url])
        .output()
        .await
        .context("cannot run wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rate = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .with_context(|| format!("no Requests/sec in wrk's output: {text}"))?;
    if let Some(bad) = text
        .lines()
        .find(|l| l.contains("Non-2xx or 3xx responses"))
    {
        bail!("{url}: {bad}");
    }
    Ok(rate)
}

/// Anonymous pages against a bare axum "hello world" served by this same process, with
/// the same load tool in the same run (`wrk -t2 -c64`). The hello world runs again just
/// before each page and each page is compared with that run: the machine's speed drifts
/// within a minute (a shared VM; PostgreSQL vacuuming what the save phases wrote), and a
/// single baseline at the start compared later pages with a different machine.
async fn pages(base: &str, seconds: u64) -> anyhow::Result<()> {
    if std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("\nPages: skipped (wrk is not installed: apt-get install wrk)");
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hello_url = format!("http://{}/", listener.local_addr()?);
    let hello = axum::Router::new().route("/", axum::routing::get(|| async { "Hello, world!" }));
    let hello_server = tokio::spawn(async move { axum::serve(listener, hello).await });
    println!(
        "\nPages: wrk -t2 -c64 for {seconds} s each, each just after a bare axum hello world served by this same process"
    );
    println!(
        "  {:<34} {:>10}        {:>5}  {:>17}",
        "", "req/s", "", "hello world req/s"
    );
    let css = static_css_path(base).await?;
    for (label, path) in [
        ("GET /health", "/health".to_string()),
        ("GET / (start page, signed out)", "/".to_string()),
        ("GET /sign-in (signed out)", "/sign-in".to_string()),
        ("GET static CSS (hashed, gzip off)", css),
    ] {
        let baseline = wrk(&hello_url, seconds).await?;
        let rate = wrk(&format!("{base}{path}"), seconds).await?;
        println!(
            "  {label:<34} {rate:>10.0} req/s  {:>4.0}%  {baseline:>17.0}",
            100.0 * rate / baseline
        );
    }
    hello_server.abort();
    Ok(())
}

/// The content-hashed URL of the main stylesheet, as the start page links it.
async fn static_css_path(base: &str) -> anyhow::Result<String> {
    let page = Browser::new(base)?.get("/").await?.body;
    page.split('"')
        .find(|s| s.starts_with("/static/") && s.ends_with(".css"))
        .map(str::to_string)
        .context("no stylesheet link on the start page")
}

async fn drive(args: &Args, store: &Store, base: &str) -> anyhow::Result<()> {
    let n = args.clients as usize;
    let per_client = args.saves;
    match per_client {
        Some(s) => println!(
            "\nDraft saves: {n} concurrent clients, {s} saves each; every client its own account, session and draft"
        ),
        None => println!(
            "\nDraft saves: {n} concurrent clients for {} s; every client its own account, session and draft",
            args.seconds
        ),
    }

    // Accounts, straight into the database (like `ehm create-user`). One hash for all:
    // hashing is deliberately slow and not what is measured.
    let t0 = Instant::now();
    let run_id: String = ehm_web::random_bytes(4)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let hash = ehm_web::hash_password(PASSWORD.to_string())
        .await
        .map_err(|e| anyhow::anyhow!("cannot hash the bench password: {e}"))?;
    let mut emails = Vec::with_capacity(n);
    let now = OffsetDateTime::now_utc();
    let mut tx = store.begin().await?;
    for i in 0..n {
        let email = Email::parse(&format!("bench-{run_id}-{i}@example.org"))
            .map_err(|e| anyhow::anyhow!("bench email address: {e}"))?;
        store
            .create_user(
                &mut tx,
                NewUser {
                    email: &email,
                    display_name: &format!("Bench Referrer {i}"),
                    role: Role::Referrer,
                    password_hash: &hash,
                    verified: true,
                },
                now,
            )
            .await
            .map_err(|e| anyhow::anyhow!("cannot create bench account {email}: {e}"))?;
        emails.push(email.as_str().to_string());
    }
    tx.commit()
        .await
        .context("cannot create the bench accounts")?;

    // Sign in and create a draft, every client over HTTP, all at once.
    let mut setup = tokio::task::JoinSet::new();
    for (i, email) in emails.into_iter().enumerate() {
        let base = base.to_string();
        setup.spawn(async move {
            let r = Client::start(&base, &email, i).await;
            (i, r.with_context(|| format!("client {i} setup")))
        });
    }
    let mut clients: Vec<Option<Client>> = (0..n).map(|_| None).collect();
    while let Some(joined) = setup.join_next().await {
        let (i, client) = joined.context("a client setup task failed")?;
        clients[i] = Some(client?);
    }
    let clients: Vec<Client> = clients.into_iter().flatten().collect();
    let body_bytes = clients
        .first()
        .map(|c| c.save_body(1).len())
        .unwrap_or_default();
    println!(
        "  Setup: {n} accounts created, signed in and given a draft each in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    println!(
        "  Each save: GET /referrals/{{pid}}/{SECTION} (read version + CSRF token), then POST it back: {body_bytes} bytes form-encoded, action=later"
    );

    // As fast as the clients can go: the most saves a second this machine manages.
    println!("  Flat out (each client saves again as soon as its page is back):");
    let plan = Plan {
        per_client,
        deadline: Instant::now() + Duration::from_secs(args.seconds),
        pace: None,
    };
    let clients = run_phase(clients, &plan).await?;

    // At the target rate: the latency a save has when the portal is busy but keeping up.
    // Saturated, the latency above only says how long the queue is (64 clients / saves a
    // second); paced, it says how long a save takes.
    if args.rate > 0 && per_client.is_none() {
        let every = Duration::from_secs_f64(n as f64 / f64::from(args.rate));
        println!(
            "  Paced at {} saves/s (each client saves every {:.1} ms, the clients evenly staggered; latency counted from when the save was due):",
            args.rate,
            every.as_secs_f64() * 1000.0
        );
        let start = Instant::now() + Duration::from_millis(100);
        let plan = Plan {
            per_client: None,
            deadline: start + Duration::from_secs(args.paced_seconds),
            pace: Some((start, every)),
        };
        run_phase(clients, &plan).await?;
    }
    Ok(())
}

/// How a phase of saves runs: until a deadline or a number of saves, flat out or with
/// each client's saves due at `start + offset + k * every`.
struct Plan {
    per_client: Option<u64>,
    deadline: Instant,
    pace: Option<(Instant, Duration)>,
}

/// Runs `clients` through one phase and prints its figures; the clients come back for
/// the next phase. Fails on any error or conflict.
async fn run_phase(clients: Vec<Client>, plan: &Plan) -> anyhow::Result<Vec<Client>> {
    let n = clients.len();
    let start = Instant::now();
    let cpu = process_cpu();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, c) in clients.into_iter().enumerate() {
        // Client i's saves are due at start + i/n of the interval + k intervals.
        let pace = plan
            .pace
            .map(|(start, every)| (start + every.mul_f64(i as f64 / n as f64), every));
        tasks.spawn(c.save_loop(plan.per_client, plan.deadline, pace));
    }
    let mut total = Stats::default();
    let mut clients = Vec::with_capacity(n);
    while let Some(joined) = tasks.join_next().await {
        let (c, s) = joined.context("a client task failed")?;
        clients.push(c);
        total.merge(s);
    }
    let elapsed = match plan.pace {
        Some((paced_start, _)) => plan.deadline.saturating_duration_since(paced_start),
        None => start.elapsed(),
    }
    .as_secs_f64();
    let cpu_ms = (process_cpu() - cpu).as_secs_f64() * 1000.0 / total.saves.max(1) as f64;

    let rate = total.saves as f64 / elapsed;
    println!(
        "    Saves: {} in {elapsed:.2} s = {rate:.1} saves/s ({:.1} per client per s)",
        total.saves,
        rate / n as f64
    );
    println!(
        "    CPU of this process (clients and server, with SQLite's threads; not PostgreSQL's) per save: {cpu_ms:.2} ms"
    );
    println!("    POST (save) latency, ms: {}", Dist::of(&mut total.post));
    println!("    GET (page) latency, ms:  {}", Dist::of(&mut total.get));
    println!(
        "    Conflicts (409): {}  Errors: {}",
        total.conflicts, total.errors
    );
    if total.conflicts > 0 || total.errors > 0 {
        bail!(
            "{} conflict(s) and {} error(s) in the save phase; first: {}",
            total.conflicts,
            total.errors,
            total.first_error.as_deref().unwrap_or("none recorded")
        );
    }
    Ok(clients)
}

/// Response of one request: status, `Location`, body.
pub(super) struct Resp {
    pub(super) status: u16,
    pub(super) location: Option<String>,
    pub(super) body: String,
}

/// A browser-like client: one connection pool, its own cookies (sent back by hand:
/// the session cookie is `Secure`, which cookie stores drop over http), no redirects.
struct Client {
    b: Browser,
    csrf: String,
    pid: String,
    version: i64,
    text: SaveText,
    /// Saves made so far (each one's text differs).
    n: u64,
}

impl Client {
    /// Client `i` comes from its own address (10.x.y.z, through the trusted proxy at
    /// 127.0.0.1), as many professionals behind a reverse proxy would: from one address
    /// the sign-in throttle would refuse them after 50.
    async fn start(base: &str, email: &str, i: usize) -> anyhow::Result<Client> {
        let mut b = Browser::new(base)?;
        b.forwarded_for = Some(format!(
            "10.{}.{}.{}",
            (i >> 16) & 255,
            (i >> 8) & 255,
            i & 255
        ));
        let mut c = Client {
            b,
            csrf: String::new(),
            pid: String::new(),
            version: 0,
            text: SaveText::new(),
            n: 0,
        };
        let page = c.b.get("/sign-in").await?;
        expect(&page, 200, "GET /sign-in")?;
        c.csrf = csrf_of(&page.body).context("no CSRF token on the sign-in page")?;
        let mut form = Form::default();
        form.add("csrf_token", &c.csrf)
            .add("email", email)
            .add("password", PASSWORD);
        let r = c.b.post("/sign-in", form.0).await?;
        expect(&r, 303, "POST /sign-in")?;
        if r.location.as_deref() != Some("/") {
            bail!(
                "sign-in redirected to {:?}, not / (are login codes on?)",
                r.location
            );
        }
        if !c.b.cookies.contains_key(SESSION_COOKIE) {
            bail!("no {SESSION_COOKIE} cookie after sign-in");
        }
        let home = c.b.get("/").await?;
        expect(&home, 200, "GET / after sign-in")?;
        c.csrf = csrf_of(&home.body).context("no CSRF token on the home page")?;
        let mut form = Form::default();
        form.add("csrf_token", &c.csrf);
        let r = c.b.post("/referrals", form.0).await?;
        expect(&r, 303, "POST /referrals")?;
        c.pid = r
            .location
            .as_deref()
            .and_then(|l| l.strip_prefix("/referrals/"))
            .filter(|p| !p.is_empty() && !p.contains('/'))
            .context("POST /referrals did not redirect to the new draft")?
            .to_string();
        c.load_section().await?;
        Ok(c)
    }

    fn section_path(&self) -> String {
        format!("/referrals/{}/{SECTION}", self.pid)
    }

    /// GET the section page; take its version and CSRF token.
    async fn load_section(&mut self) -> anyhow::Result<()> {
        let path = self.section_path();
        let page = self.b.get(&path).await?;
        expect(&page, 200, &format!("GET {path}"))?;
        self.version = version_of(&page.body).context("no version field on the section page")?;
        self.csrf = csrf_of(&page.body).context("no CSRF token on the section page")?;
        Ok(())
    }

    fn save_body(&self, n: u64) -> String {
        let mut form = Form::default();
        form.add("csrf_token", &self.csrf)
            .add("version", &self.version.to_string());
        self.text.add_to(&mut form, n);
        form.add("completed", "no").add("action", "later");
        form.0
    }

    /// Saves until `deadline` (or `per_client` saves): flat out, or with `pace`
    /// `(first, every)` save k due at `first + k * every`, its latency counted from then.
    async fn save_loop(
        mut self,
        per_client: Option<u64>,
        deadline: Instant,
        pace: Option<(Instant, Duration)>,
    ) -> (Client, Stats) {
        let mut s = Stats::default();
        let first_version = self.version;
        let path = self.section_path();
        let task_list = format!("/referrals/{}", self.pid);
        let mut n = 0u64;
        loop {
            let due = pace.map(|(first, every)| first + every.mul_f64(n as f64));
            match (per_client, due) {
                (Some(max), _) if n >= max => break,
                (_, Some(due)) if due >= deadline => break,
                (None, None) if Instant::now() >= deadline => break,
                _ => {}
            }
            if let Some(due) = due {
                tokio::time::sleep_until(due.into()).await;
            }
            n += 1;
            self.n += 1;
            let body = self.save_body(self.n);
            let t = due.unwrap_or_else(Instant::now);
            let r = self.b.post(&path, body).await;
            let dt = t.elapsed();
            match r {
                Ok(r) if r.status == 303 && r.location.as_deref() == Some(&task_list) => {
                    s.saves += 1;
                    s.post.push(dt);
                }
                Ok(r) if r.status == 409 => s.conflicts += 1,
                Ok(r) => {
                    s.fail(format!(
                        "POST {path}: status {} location {:?}",
                        r.status, r.location
                    ));
                    break;
                }
                Err(e) => {
                    s.fail(format!("POST {path}: {e:#}"));
                    break;
                }
            }
            let t = Instant::now();
            let r = self.load_section().await;
            let dt = t.elapsed();
            match r {
                Ok(()) => s.get.push(dt),
                Err(e) => {
                    s.fail(format!("{e:#}"));
                    break;
                }
            }
        }
        // Every save must have made exactly one new version of this client's draft.
        if s.errors == 0 && self.version - first_version != s.saves as i64 {
            s.fail(format!(
                "draft {} went from version {first_version} to {} after {} saves",
                self.pid, self.version, s.saves
            ));
        }
        (self, s)
    }
}

/// One browser: its own HTTP/1.1 keep-alive connection (opened again if the server closed
/// it) and cookie jar, redirects not followed. hyper's connection API rather than a full
/// client: the load generator shares the machine's two cores with the server, and every
/// cycle it spends is one the server does not get.
pub(super) struct Browser {
    /// host:port of the server.
    authority: String,
    conn: Option<SendRequest<Body>>,
    pub(super) cookies: BTreeMap<String, String>,
    /// Sent as `X-Forwarded-For` when set.
    pub(super) forwarded_for: Option<String>,
}

/// How long one request may take before the bench gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

impl Browser {
    pub(super) fn new(base: &str) -> anyhow::Result<Browser> {
        let authority = base
            .strip_prefix("http://")
            .context("the bench talks plain HTTP to its own server")?
            .trim_end_matches('/')
            .to_string();
        Ok(Browser {
            authority,
            conn: None,
            cookies: BTreeMap::new(),
            forwarded_for: None,
        })
    }

    pub(super) async fn get(&mut self, path: &str) -> anyhow::Result<Resp> {
        self.send(Method::GET, path, None).await
    }

    pub(super) async fn post(&mut self, path: &str, form: String) -> anyhow::Result<Resp> {
        self.send(Method::POST, path, Some(form)).await
    }

    async fn connect(&self) -> anyhow::Result<SendRequest<Body>> {
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .with_context(|| format!("cannot connect to {}", self.authority))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // Ends when the server closes the connection; the next request opens another.
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// `method path` with a URL-encoded `form` body if given, the cookies and
    /// `X-Forwarded-For`; keeps the cookies the response sets.
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<String>,
    ) -> anyhow::Result<Resp> {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.authority);
        if form.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        if let Some(ip) = &self.forwarded_for {
            req = req.header("x-forwarded-for", ip);
        }
        if !self.cookies.is_empty() {
            let cookie = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            req = req.header(header::COOKIE, cookie);
        }
        let req = req.body(Body::from(form.unwrap_or_default()))?;
        let mut sender = match self.conn.take() {
            Some(sender) if !sender.is_closed() => sender,
            _ => self.connect().await?,
        };
        let (parts, body) = tokio::time::timeout(REQUEST_TIMEOUT, async {
            sender.ready().await?;
            let resp = sender.send_request(req).await?;
            let (parts, body) = resp.into_parts();
            let body = axum::body::to_bytes(Body::new(body), usize::MAX).await?;
            anyhow::Ok((parts, body))
        })
        .await
        .with_context(|| format!("no answer to {path} within {REQUEST_TIMEOUT:?}"))??;
        self.conn = Some(sender);
        for v in parts.headers.get_all(header::SET_COOKIE) {
            let Ok(v) = v.to_str() else { continue };
            let pair = v.split(';').next().unwrap_or("");
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let expired = v.to_ascii_lowercase().contains("max-age=0");
            if value.is_empty() || expired {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_string(), value.trim().to_string());
            }
        }
        let location = parts
            .headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = match String::from_utf8(body.into()) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Ok(Resp {
            status: parts.status.as_u16(),
            location,
            body,
        })
    }
}

fn expect(r: &Resp, status: u16, what: &str) -> anyhow::Result<()> {
    if r.status != status {
        bail!(
            "{what}: expected status {status}, got {} (location {:?})",
            r.status,
            r.location
        );
    }
    Ok(())
}

/// The value of the attribute that follows `marker` up to the next quote.
fn attr_after<'a>(html: &'a str, marker: &str) -> Option<&'a str> {
    let start = html.find(marker)? + marker.len();
    let rest = &html[start..];
    rest.find('"').map(|end| &rest[..end])
}

pub(super) fn csrf_of(html: &str) -> Option<String> {
    attr_after(html, "<meta name=\"csrf-token\" content=\"")
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

fn version_of(html: &str) -> Option<i64> {
    attr_after(html, "name=\"version\" value=\"")?.parse().ok()
}

/// An `application/x-www-form-urlencoded` body.
#[derive(Default)]
pub(super) struct Form(pub(super) String);

impl Form {
    pub(super) fn add(&mut self, name: &str, value: &str) -> &mut Self {
        if !self.0.is_empty() {
            self.0.push('&');
        }
        encode_into(&mut self.0, name);
        self.0.push('=');
        encode_into(&mut self.0, value);
        self
    }
}

fn encode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
}

/// The answers of the "Your concerns" page: a few KB, as a browser posts them (CRLF),
/// form-encoded once so that the load generator spends as little of the shared CPUs as
/// it can on every save.
struct SaveText {
    /// The concerns text, encoded (each save adds a line to it).
    concerns: String,
    /// The other four answers, encoded, as `&name=value` pairs.
    rest: String,
}

impl SaveText {
    fn new() -> Self {
        let crlf = |s: String| s.replace('\n', "\r\n");
        let mut concerns = String::new();
        encode_into(&mut concerns, &crlf(prose(0, 3_000)));
        let mut rest = Form::default();
        rest.add("what-has-been-done", &crlf(prose(3, 1_000)))
            .add("childs-views", &crlf(prose(6, 400)))
            .add("strengths", &crlf(prose(9, 400)))
            .add("risks", &crlf(prose(12, 400)));
        Self {
            concerns,
            rest: rest.0,
        }
    }

    /// Adds the fields; save `n` changes the concerns text, so each save writes new data.
    fn add_to(&self, form: &mut Form, n: u64) {
        form.add("concerns", "");
        form.0.push_str(&self.concerns);
        encode_into(&mut form.0, &format!("\r\n\r\nUpdated after call {n}."));
        form.0.push('&');
        form.0.push_str(&self.rest);
    }
}

#[derive(Default)]
struct Stats {
    saves: u64,
    conflicts: u64,
    errors: u64,
    first_error: Option<String>,
    post: Vec<Duration>,
    get: Vec<Duration>,
}

impl Stats {
    fn fail(&mut self, message: String) {
        self.errors += 1;
        self.first_error.get_or_insert(message);
    }

    fn merge(&mut self, other: Stats) {
        self.saves += other.saves;
        self.conflicts += other.conflicts;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.post.extend(other.post);
        self.get.extend(other.get);
    }
}

/// Percentiles of a set of durations (nearest rank), for printing in ms.
pub(super) struct Dist(Option<[f64; 5]>);

impl Dist {
    pub(super) fn of(samples: &mut [Duration]) -> Dist {
        if samples.is_empty() {
            return Dist(None);
        }
        samples.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        Dist(Some([
            ms(percentile(samples, 50.0)),
            ms(percentile(samples, 95.0)),
            ms(percentile(samples, 99.0)),
            ms(samples[samples.len() - 1]),
            ms(samples.iter().sum::<Duration>()) / samples.len() as f64,
        ]))
    }
}

impl std::fmt::Display for Dist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            None => write!(f, "no samples"),
            Some([p50, p95, p99, max, mean]) => write!(
                f,
                "p50 {p50:.1}  p95 {p95:.1}  p99 {p99:.1}  max {max:.1}  (mean {mean:.1})"
            ),
        }
    }
}

/// Nearest-rank percentile of sorted, non-empty samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

// -------------------------------------------------------------------- PDF phase

fn pdf_bench(runs: u32) -> anyhow::Result<()> {
    let draft = long_referral();
    let chars = draft.concerns.chars().count()
        + draft.what_has_been_done.chars().count()
        + draft.childs_views.chars().count()
        + draft.strengths.chars().count()
        + draft.risks.chars().count()
        + draft.previous_references.chars().count()
        + draft.support_requested.chars().count()
        + draft.consent_reasons.chars().count();
    println!(
        "\nPDF: a real referral (ReferralDraft, {chars} characters of free text) through ehm_web::referral_pdf_document + ehm_pdf::render, {runs} runs"
    );
    let mut times = Vec::with_capacity(runs as usize);
    let mut pdf = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let doc =
            ehm_web::referral_pdf_document(&draft, Some("EH-7KQ4-M2XP"), OffsetDateTime::now_utc());
        pdf = ehm_pdf::render(&doc).map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(t.elapsed());
    }
    let pages = page_count(&pdf);
    println!(
        "  Pages: {}  Size: {} bytes ({} KiB)",
        pages.map_or_else(|| "unknown".to_string(), |p| p.to_string()),
        pdf.len(),
        pdf.len() / 1024
    );
    let first = times[0];
    let mut sorted = times.clone();
    sorted.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  ms: first (cold) {:.1}  min {:.1}  median {:.1}  p99 {:.1}  max {:.1}",
        ms(first),
        ms(sorted[0]),
        ms(percentile(&sorted, 50.0)),
        ms(percentile(&sorted, 99.0)),
        ms(sorted[sorted.len() - 1])
    );
    if let Some(dir) = std::env::var_os("EHM_BENCH_PDF_OUT") {
        let path = Path::new(&dir).join("bench-referral.pdf");
        std::fs::write(&path, &pdf).with_context(|| format!("cannot write {}", path.display()))?;
        println!("  Written to {}", path.display());
    }
    Ok(())
}

/// Page objects (`/Type /Page` or `/Type/Page`, not `/Pages`) in the PDF's object table.
fn page_count(pdf: &[u8]) -> Option<usize> {
    let mut count = 0;
    let mut rest = pdf;
    while let Some(i) = find(rest, b"/Type") {
        rest = &rest[i + 5..];
        let skip = rest.iter().take_while(|c| c.is_ascii_whitespace()).count();
        let after = &rest[skip..];
        if after.starts_with(b"/Page")
            && !after
                .get(5)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            count += 1;
        }
    }
    (count > 0).then_some(count)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

const SENTENCES: &[&str] = &[
    "Mia has arrived at school late on most days this term, often without breakfast and in clothes that have not been washed.",
    "Her class teacher noticed that she has become quiet and withdrawn, and she has stopped joining in at break time.",
    "On several occasions she said that there had been shouting at home late at night and that she could not sleep.",
    "Her mother told the family support worker that she is struggling with her own health since the birth of the baby.",
    "The family moved to the current address in the spring after rent arrears at the previous flat.",
    "Attendance has fallen from ninety-six to eighty-one per cent since September, with most absences on Mondays.",
    "Mia's older brother has been collecting her from school, and he is not always there at the end of the day.",
    "The school nurse saw Mia about recurring headaches and suggested an eye test, which has not yet happened.",
    "Staff have offered a place at breakfast club, and Mia has attended on the days her brother brings her.",
    "Mum has been open about the difficulties and says she would welcome help with routines and with money.",
    "There are no known concerns about anyone visiting the family, and no dogs or other animals at the address.",
    "Mia says she likes drawing and wants to be a vet; she is proud of looking after her baby brother.",
];

/// Readable English of about `len` characters, in paragraphs of five sentences.
fn prose(seed: usize, len: usize) -> String {
    let mut s = String::with_capacity(len + 200);
    let mut i = 0;
    while s.len() < len {
        if i > 0 {
            s.push_str(if i % 5 == 0 { "\n\n" } else { " " });
        }
        s.push_str(SENTENCES[(seed + i) % SENTENCES.len()]);
        i += 1;
    }
    // ASCII only, so any byte index is a character boundary.
    s.truncate(len);
    s.truncate(s.trim_end().len());
    s
}

/// A complete referral with every free-text answer long (concerns at its 20,000
/// character limit, the others at theirs), four children, three adults, four professionals:
/// 20 pages.
pub(super) fn long_referral() -> ReferralDraft {
    use ehm_domain::referral::{CONCERNS_MAX, PREVIOUS_REFERENCES_MAX, SECTION_TEXT_MAX};
    let child = |first: &str, day: &str, school: &str| ChildDraft {
        first_name: first.into(),
        last_name: "Example".into(),
        other_names: "".into(),
        dob_day: day.into(),
        dob_month: "7".into(),
        dob_year: "2015".into(),
        gender: "female".into(),
        ethnicity: "WBRI".into(),
        address: "1 Test Street\nSampletown".into(),
        postcode: "AB1 2XY".into(),
        gp: "Sampletown Surgery".into(),
        school: school.into(),
        first_language: "English".into(),
        interpreter_needed: "no".into(),
        disability_or_health_needs: prose(4, 300),
        ..Default::default()
    };
    let adult = |name: &str, relationship: &str| HouseholdMemberDraft {
        name: name.into(),
        relationship: relationship.into(),
        dob_day: "12".into(),
        dob_month: "2".into(),
        dob_year: "1990".into(),
        address: "1 Test Street\nSampletown".into(),
        phone: "07700 900123".into(),
        parental_responsibility: "yes".into(),
        language: "English".into(),
        interpreter_needed: "no".into(),
    };
    let professional = |name: &str, agency: &str, lead: bool| ProfessionalDraft {
        name: name.into(),
        agency: agency.into(),
        role: "Family support worker".into(),
        contact: "01632 960123".into(),
        is_lead_professional: lead,
    };
    ReferralDraft {
        allocated_social_worker: "no".into(),
        level_of_need: "targeted".into(),
        referral_type: "early-help-service".into(),
        children: vec![
            child("Mia", "3", "Sampletown Primary"),
            child("Zoë", "21", "Sampletown Nursery"),
            child("Noah", "9", "Sampletown Nursery"),
            child("Ava", "14", "Sampletown Primary"),
        ],
        household: vec![
            adult("Sam Example", "mother"),
            adult("Alex Example", "father"),
        ],
        referrer: ReferrerDraft {
            name: "Jo Referrer".into(),
            role: "Designated safeguarding lead".into(),
            email: "jo.referrer@example.org".into(),
            phone: "01632 960456".into(),
        },
        organisation: OrganisationDraft {
            name: "Sampletown Primary School".into(),
            agency_type: "school".into(),
            agency_type_other: "".into(),
            phone: "01632 960789".into(),
        },
        professionals: vec![
            professional("Pat Health", "Sampletown Health Visiting", true),
            professional("Lee Housing", "Sampletown Housing", false),
            professional("Ash Youth", "Sampletown Youth Service", false),
            professional("Kim School", "Sampletown Primary School", false),
        ],
        concerns: prose(0, CONCERNS_MAX),
        what_has_been_done: prose(2, SECTION_TEXT_MAX),
        childs_views: prose(4, SECTION_TEXT_MAX),
        strengths: prose(6, SECTION_TEXT_MAX),
        risks: prose(8, SECTION_TEXT_MAX),
        previous_references: prose(10, PREVIOUS_REFERENCES_MAX),
        support_requested: prose(1, SECTION_TEXT_MAX),
        parents_aware: "yes".into(),
        consent: "yes".into(),
        consent_reasons: "".into(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_encoded_like_a_browser() {
        let mut f = Form::default();
        f.add("a b", "x&y=z\r\nü").add("k", "");
        assert_eq!(f.0, "a+b=x%26y%3Dz%0D%0A%C3%BC&k=");
    }

    #[test]
    fn tokens_and_versions_are_read_from_pages() {
        let html = r#"<meta name="csrf-token" content="abc123"><input type="hidden" name="version" value="7">"#;
        assert_eq!(csrf_of(html).as_deref(), Some("abc123"));
        assert_eq!(version_of(html), Some(7));
        assert_eq!(version_of("<p>none</p>"), None);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&v[..1], 99.0), Duration::from_millis(1));
    }

    #[test]
    fn pages_are_counted_without_the_page_tree() {
        let pdf = b"<< /Type /Pages /Count 3 >> << /Type /Page >> << /Type /Page/Parent 1 0 R >> <</Type/Page/Parent 1 0 R>>";
        assert_eq!(page_count(pdf), Some(3));
        assert_eq!(page_count(b"nothing"), None);
    }

    #[test]
    fn prose_has_the_length_asked_for() {
        let p = prose(3, 5_000);
        assert!(p.len() <= 5_000 && p.len() > 4_800, "{}", p.len());
    }
}
