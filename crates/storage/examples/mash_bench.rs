//! Benchmarks for the MASH storage (figures in docs/benchmarks.md). Not a test: it prints.
//!
//! ```sh
//! # Work tray page query over 100,000 submitted referrals, on a fresh SQLite database and
//! # (when EHM_TEST_POSTGRES_URL is set) a fresh PostgreSQL database:
//! cargo run --release -p ehm-storage --example mash_bench -- tray [REFERRALS]
//! # Loading the whole person index the way the matching index is built at start-up:
//! cargo run --release -p ehm-storage --example mash_bench -- load DATABASE_URL
//! ```

use ehm_domain::account::{Email, Role};
use ehm_domain::mash::{ReferralStatus, search_text};
use ehm_domain::referral::ReferenceNumber;
use ehm_storage::{AssignedFilter, NewUser, Store, TrayFilter, TraySort};
use ehm_testkit::{TestDb, backends};
use std::time::Instant;
use time::{Duration, OffsetDateTime};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("tray") => {
            let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
            for b in backends() {
                let db = TestDb::create(b).await;
                let store = Store::connect(&db.url).await.unwrap();
                println!("== work tray, {b}, {n} referrals");
                tray(&store, n).await;
            }
        }
        Some("load") => {
            let url = args.get(1).expect("load DATABASE_URL");
            let store = Store::connect(url).await.unwrap();
            load(&store).await;
        }
        Some("rawload") => {
            let url = args.get(1).expect("rawload DATABASE_URL");
            let store = Store::connect(url).await.unwrap();
            for sql in [
                "SELECT id, first_name, last_name, other_names, dob, dob_estimated, gender, address, postcode, change_seq FROM persons",
                "SELECT id, first_name, last_name, other_names, dob, dob_estimated, gender, address, postcode, change_seq FROM persons ORDER BY change_seq",
            ] {
                let t = Instant::now();
                let rows = sqlx::query(sql).fetch_all(store.pool()).await.unwrap();
                println!(
                    "{} rows in {:.2} s: {sql}",
                    rows.len(),
                    t.elapsed().as_secs_f64()
                );
            }
        }
        _ => eprintln!("usage: mash_bench tray [N] | load DATABASE_URL"),
    }
}

/// A small deterministic generator.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const FIRST: &[&str] = &[
    "Amelia", "Oliver", "Isla", "Noah", "Ava", "Leo", "Mia", "Arthur", "Zoë", "Harry", "Freya",
    "Oscar", "Lily", "George", "Ivy", "Theo", "Evie", "Jack", "Rosie", "Alfie",
];
const LAST: &[&str] = &[
    "Okafor",
    "Whitfield",
    "Llewellyn",
    "Brannigan",
    "Fairweather",
    "O'Neill",
    "Nowak",
    "Patel",
    "Hughes",
    "Ahmed",
    "Kowalski",
    "Murphy",
    "Evans",
    "Singh",
    "Walker",
    "Khan",
    "Davies",
    "Thompson",
    "Roberts",
    "Wright",
];

async fn tray(store: &Store, n: usize) {
    let now = OffsetDateTime::now_utc();
    let mut workers = Vec::new();
    let mut tx = store.begin().await.unwrap();
    for i in 0..6 {
        let email = Email::parse(&format!("worker{i}@example.org")).unwrap();
        let role = if i == 0 {
            Role::Referrer
        } else {
            Role::SocialWorker
        };
        let id = store
            .create_user(
                &mut tx,
                NewUser {
                    email: &email,
                    display_name: "Worker",
                    role,
                    password_hash: "x",
                    verified: true,
                },
                now,
            )
            .await
            .unwrap();
        workers.push(id);
    }
    tx.commit().await.unwrap();
    let owner = workers.remove(0);

    let started = Instant::now();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let statuses = [
        ReferralStatus::Submitted,
        ReferralStatus::InTriage,
        ReferralStatus::AwaitingDecision,
        ReferralStatus::Decided,
        ReferralStatus::FeedbackSent,
        ReferralStatus::Closed,
        ReferralStatus::Closed,
        ReferralStatus::Closed,
    ];
    let types = [
        "childrens-social-care",
        "early-help-service",
        "early-help-universal-plus",
    ];
    let mut sample_reference = String::new();
    let chunk = 500;
    let mut i = 0;
    while i < n {
        let rows = chunk.min(n - i);
        let mut sql = String::from(
            "INSERT INTO referrals (public_id, owner_id, status, version, data, created_at, saved_at, \
             submitted_at, reference, referral_type, assigned_to, decision_due_at, child_names, child_display) VALUES ",
        );
        let mut values = Vec::new();
        for k in 0..rows {
            let at = now - Duration::minutes((n - i - k) as i64 * 3);
            let status = statuses[rng.below(statuses.len() as u64) as usize];
            let reference =
                ReferenceNumber::generate(((i + k) as u64 * 7_919).to_le_bytes()).to_string();
            if i + k == n / 2 {
                sample_reference = reference.clone();
            }
            let name = format!(
                "{} {}",
                FIRST[rng.below(FIRST.len() as u64) as usize],
                LAST[rng.below(LAST.len() as u64) as usize]
            );
            let assigned = if rng.below(3) == 0 {
                "NULL".to_owned()
            } else {
                workers[rng.below(workers.len() as u64) as usize].to_string()
            };
            values.push(format!(
                "('p{}', {owner}, '{}', 1, '{{}}', {ms}, {ms}, {ms}, '{reference}', '{}', {assigned}, {due}, '{}', '{}')",
                i + k,
                status.code(),
                types[rng.below(3) as usize],
                search_text(&name).replace('\'', "''"),
                name.replace('\'', "''"),
                ms = at.unix_timestamp() * 1000,
                due = (at + Duration::days(1)).unix_timestamp() * 1000,
            ));
        }
        sql.push_str(&values.join(","));
        sqlx::query(&sql).execute(store.pool()).await.unwrap();
        i += rows;
    }
    store.index_name_words().await.unwrap();
    println!("inserted in {:.1} s", started.elapsed().as_secs_f64());
    if store.backend() == ehm_storage::Backend::Postgres {
        sqlx::query("ANALYZE referrals")
            .execute(store.pool())
            .await
            .unwrap();
    } else {
        sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
    }

    let cases: Vec<(&str, TrayFilter, TraySort, bool, i64)> = vec![
        (
            "all, oldest first, page 1",
            TrayFilter::default(),
            TraySort::Received,
            false,
            0,
        ),
        (
            "all, newest first, page 1",
            TrayFilter::default(),
            TraySort::Received,
            true,
            0,
        ),
        (
            "awaiting a decision",
            TrayFilter {
                statuses: ReferralStatus::AWAITING_A_DECISION.to_vec(),
                ..Default::default()
            },
            TraySort::Received,
            false,
            0,
        ),
        (
            "one worker's referrals",
            TrayFilter {
                assigned: Some(AssignedFilter::To(workers[0])),
                ..Default::default()
            },
            TraySort::Received,
            false,
            0,
        ),
        (
            "unassigned, one service",
            TrayFilter {
                assigned: Some(AssignedFilter::Unassigned),
                service: Some("early-help-service".into()),
                ..Default::default()
            },
            TraySort::Received,
            false,
            0,
        ),
        (
            "overdue, by due time",
            TrayFilter {
                overdue_at: Some(now),
                ..Default::default()
            },
            TraySort::Due,
            false,
            0,
        ),
        (
            "child name search",
            TrayFilter {
                search: Some("zoe o'neill".into()),
                ..Default::default()
            },
            TraySort::Received,
            true,
            0,
        ),
        (
            "reference search",
            TrayFilter {
                search: Some(sample_reference.clone()),
                ..Default::default()
            },
            TraySort::Received,
            false,
            0,
        ),
        (
            "sorted by status",
            TrayFilter::default(),
            TraySort::Status,
            false,
            0,
        ),
        (
            "sorted by reference",
            TrayFilter::default(),
            TraySort::Reference,
            false,
            0,
        ),
        (
            "page 2,000 (offset 49,975)",
            TrayFilter::default(),
            TraySort::Received,
            false,
            49_975,
        ),
    ];
    println!(
        "{:<32} {:>8} {:>9} {:>9} {:>9}",
        "query (25 rows + count)", "total", "p50 ms", "p99 ms", "max ms"
    );
    for (name, filter, sort, desc, offset) in cases {
        let mut times = Vec::new();
        let mut total = 0;
        for _ in 0..100 {
            let t = Instant::now();
            let page = store
                .work_tray(&filter, sort, desc, 25, offset)
                .await
                .unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            total = page.total;
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "{name:<32} {total:>8} {:>9.2} {:>9.2} {:>9.2}",
            times[49], times[98], times[99]
        );
    }
}

async fn load(store: &Store) {
    let started = Instant::now();
    let mut seq = 0;
    let mut n = 0usize;
    loop {
        let page = store.persons_changed_since(seq, 50_000).await.unwrap();
        if page.is_empty() {
            break;
        }
        n += page.len();
        seq = page.last().unwrap().change_seq;
    }
    println!(
        "loaded {n} people in {:.2} s ({:.0} rows/s)",
        started.elapsed().as_secs_f64(),
        n as f64 / started.elapsed().as_secs_f64()
    );
}
