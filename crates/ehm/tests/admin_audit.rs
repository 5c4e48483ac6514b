//! The administrator's audit search (issue 9 item 7, R-46) against the real binary on both
//! databases: filters by person, referral reference, user and days as GET parameters,
//! paginated with the filters kept, and GOV.UK errors for filters that cannot be used.

use ehm_storage::AuditEntry;
use ehm_testkit::{Backend, Page, backends};

mod common;
use common::{create_user, fill, new_draft, nhs_number, reference_in, signed_in, submit};

const ADMIN: &str = "ada.admin@example.org";
const REFERRER: &str = "rhea.referrer@example.org";
const SUPPORT: &str = "ben.support@example.org";

fn rows(p: &Page) -> Vec<String> {
    p.select("table.govuk-table tbody tr")
}

fn caption(p: &Page) -> String {
    p.select("table.govuk-table caption").join("")
}

/// `/admin/audit?` with `pairs` percent-encoded, as a browser submits the GET form.
fn query(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    format!("/admin/audit?{}", q.join("&"))
}

#[tokio::test]
async fn administrators_search_the_audit_log() {
    for backend in backends() {
        search(backend).await;
    }
}

async fn search(backend: Backend) {
    let env = common::start(backend, &[("EHM_LOGIN_CODE", "false")]).await;
    create_user(&env, ADMIN, "admin", "Ada Admin");
    create_user(&env, REFERRER, "referrer", "Rhea Referrer");
    create_user(&env, SUPPORT, "business-support", "Ben Support");
    let store = common::store(&env).await;
    let support_id = store.user_by_email(SUPPORT).await.unwrap().unwrap().id;

    // A submitted referral, viewed by business support.
    let (referrer, _) = signed_in(&env, REFERRER).await;
    let draft = new_draft(&referrer).await;
    fill(
        &referrer,
        &draft,
        "Worried about attendance.",
        &nhs_number(5100),
    )
    .await;
    let done = submit(&referrer, &draft).await;
    let reference = reference_in(&referrer.follow(done).await.text());
    let pid = draft.trim_start_matches("/referrals/");
    let referral_id = store.referral_by_public_id(pid).await.unwrap().unwrap().id;
    let (support, _) = signed_in(&env, SUPPORT).await;
    support
        .get(&format!("/mash/referrals/{pid}"))
        .await
        .assert_status(200);
    // Records about a person of the person index (written as the person pages will).
    let now = time::OffsetDateTime::now_utc();
    for _ in 0..130 {
        store
            .audit(
                &AuditEntry {
                    actor_user_id: Some(support_id),
                    action: "view-person",
                    object_type: "person",
                    object_id: "P-000123",
                    outcome: "success",
                    ip: "127.0.0.1",
                },
                now,
            )
            .await
            .unwrap();
    }

    let (admin, _) = signed_in(&env, ADMIN).await;
    // Unfiltered: newest first, 100 a page, the total said.
    let all = admin.get("/admin/audit").await;
    all.assert_status(200);
    assert_eq!(rows(&all).len(), 100);
    assert!(
        caption(&all).starts_with("Records 1 to 100 of "),
        "{}",
        caption(&all)
    );

    // By reference: that referral's records only (its submission and the view).
    let p = admin
        .get(&query(&[("reference", &reference.to_lowercase())]))
        .await;
    p.assert_status(200);
    let found = rows(&p);
    assert!(!found.is_empty());
    let object = format!("referral {referral_id}");
    assert!(found.iter().all(|r| r.contains(&object)), "{found:?}");
    assert!(
        found
            .iter()
            .any(|r| r.contains("submit-referral") && r.contains(REFERRER))
    );
    assert!(
        found
            .iter()
            .any(|r| r.contains("view-referral") && r.contains(SUPPORT))
    );
    assert_eq!(
        p.form_value("reference").as_deref(),
        Some(reference.to_lowercase().as_str())
    );
    // A well-formed reference nobody has: nothing, not an error.
    let unused = ehm_domain::referral::ReferenceNumber::generate([7; 8]).to_string();
    assert_ne!(unused, reference);
    let p = admin.get(&query(&[("reference", &unused)])).await;
    p.assert_status(200);
    assert!(rows(&p).is_empty());
    assert_eq!(caption(&p), "No records match the search");

    // By user: what they did.
    let p = admin.get(&query(&[("user", SUPPORT)])).await;
    p.assert_status(200);
    assert!(rows(&p).iter().all(|r| r.contains(SUPPORT)));
    assert!(caption(&p).contains("matching the search"));

    // By person, paged with the filter kept.
    let p = admin.get(&query(&[("person", "P-000123")])).await;
    p.assert_status(200);
    assert_eq!(rows(&p).len(), 100);
    assert_eq!(caption(&p), "Records 1 to 100 of 130 matching the search");
    let next = p.select_attr(".govuk-pagination__next a", "href");
    assert_eq!(next, ["/admin/audit?person=P-000123&page=2"]);
    let p2 = admin.get(&next[0]).await;
    assert_eq!(rows(&p2).len(), 30);
    assert_eq!(
        caption(&p2),
        "Records 101 to 130 of 130 matching the search"
    );
    assert!(rows(&p2).iter().all(|r| r.contains("person P-000123")));

    // By day (UTC): today finds them, tomorrow nothing.
    let day = |d: time::Date| {
        (
            d.day().to_string(),
            (d.month() as u8).to_string(),
            d.year().to_string(),
        )
    };
    let (td, tm, ty) = day(now.date());
    let (nd, nm, ny) = day(now.date().next_day().unwrap());
    let p = admin
        .get(&query(&[
            ("person", "P-000123"),
            ("from-day", &td),
            ("from-month", &tm),
            ("from-year", &ty),
            ("to-day", &td),
            ("to-month", &tm),
            ("to-year", &ty),
        ]))
        .await;
    p.assert_status(200);
    assert!(
        caption(&p).ends_with("of 130 matching the search"),
        "{}",
        caption(&p)
    );
    let p = admin
        .get(&query(&[
            ("from-day", &nd),
            ("from-month", &nm),
            ("from-year", &ny),
        ]))
        .await;
    p.assert_status(200);
    assert!(rows(&p).is_empty());

    // Filters that cannot be used: GOV.UK errors, what was typed kept, no table.
    for (pairs, message, link) in [
        (
            vec![("user", "nobody@example.org")],
            "There is no account with this email address",
            "#user",
        ),
        (
            vec![("reference", "not a reference")],
            "Enter a reference number in the right format, like EH-7KQ4-MCX4",
            "#reference",
        ),
        (
            vec![("person", "P-1"), ("reference", &reference)],
            "Search for a person or a referral, not both",
            "#person",
        ),
        (
            vec![("from-day", "3")],
            "The first day must include a month and year",
            "#from-month",
        ),
        (
            vec![
                ("from-day", &nd),
                ("from-month", &nm),
                ("from-year", &ny),
                ("to-day", &td),
                ("to-month", &tm),
                ("to-year", &ty),
            ],
            "The last day must be the same as or after the first day",
            "#to-day",
        ),
    ] {
        let p = admin.get(&query(&pairs)).await;
        assert_eq!(p.status, 422, "{pairs:?}");
        assert_eq!(p.error_summary(), [message], "{pairs:?}");
        assert_eq!(
            p.select_attr(".govuk-error-summary__list a", "href"),
            [link]
        );
        assert!(rows(&p).is_empty());
        for (k, v) in &pairs {
            assert_eq!(p.form_value(k).as_deref(), Some(*v), "{k} not kept");
        }
    }

    // Every search is itself audited.
    let views = store
        .search_audit(
            &ehm_storage::AuditFilter {
                object_type: Some("audit".into()),
                ..Default::default()
            },
            1000,
            0,
        )
        .await
        .unwrap();
    assert!(
        views
            .rows
            .iter()
            .filter(|r| r.action == "view-audit")
            .count()
            >= 10
    );
}
