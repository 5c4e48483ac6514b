//! Black-box tests of the person index, the system match and the links (R-41, R-42,
//! R-51) through the real binary, on SQLite and (when EHM_TEST_POSTGRES_URL is set)
//! PostgreSQL:
//!
//! - people imported with `ehm import-persons` while the app runs are found without a
//!   restart (the index polls the database);
//! - a misspelt, nicknamed child with an estimated date of birth finds the known person
//!   first, ahead of her twin sister and a namesake, with the reasons in plain words;
//! - business support link, undo with a reason (a clear error without one) and create a
//!   person from the child; social workers see the match but may not change links;
//! - a correction of the person record leaves the referral as the referrer wrote it, and
//!   the index finds the corrected record at once;
//! - another agency's open referral about the same person is highlighted;
//! - every view and change is in the audit log;
//! - a person created through one `ehm serve` process is found by a second process on the
//!   same database within seconds, without a restart.

use ehm_storage::{AuditFilter, Store};
use ehm_testkit::{Backend, Client, Page, TestApp, TestDb, backends};
use std::path::Path;
use std::time::{Duration, Instant};

mod common;
use common::{BIN, Env, assert_redirect, create_user, new_draft, nhs_number, save, signed_in};

/// The case-management records: the known child, her twin sister (same household and
/// date of birth), an older namesake elsewhere, and other children.
const PEOPLE: &str = "id,first_name,last_name,dob,dob_estimated,gender,postcode,address,other_names
CM-1001,Katherine,Whitlock,2014-03-09,false,F,AB1 2XY,12 Fictional Road Sampleton,
CM-1002,Charlotte,Whitlock,2014-03-09,false,F,AB1 2XY,12 Fictional Road Sampleton,Lottie
CM-1003,Katherine,Whitlock,2008-11-21,false,F,LS6 2AB,4 Example Street Leeds,
CM-1004,Kate,Whitlow,2015-06-02,false,F,M1 1AE,3 Station Road Manchester,
CM-1005,Oliver,Okafor,2016-05-04,false,M,AB1 2XY,14 Fictional Road Sampleton,Olly
CM-1006,Amelia,Whitfield,2013-01-30,false,F,AB1 3ZZ,9 Sample Lane Sampleton,Millie
";

/// The referral's child as the referrer wrote her: a nickname, a misspelt surname and an
/// estimated date of birth almost two years out.
fn child_fields() -> Vec<(&'static str, String)> {
    let s = |v: &str| v.to_string();
    vec![
        ("child-count", s("1")),
        ("child-0-first-name", s("Katie")),
        ("child-0-last-name", s("Whitlok")),
        ("child-0-other-names", s("")),
        ("child-0-dob-day", s("1")),
        ("child-0-dob-month", s("1")),
        ("child-0-dob-year", s("2016")),
        ("child-0-dob-estimated", s("yes")),
        ("child-0-gender", s("female")),
        ("child-0-ethnicity", s("WBRI")),
        ("child-0-address", s("12 Fictional Road\nSampleton")),
        ("child-0-postcode", s("ab1 2xy")),
        ("child-0-nhs-number", String::new()),
        ("child-0-gp", s("Sampleton Health Centre")),
        ("child-0-school", s("Sampleton Juniors")),
        ("child-0-religion", s("None stated")),
        ("child-0-first-language", s("English")),
        ("child-0-interpreter", s("no")),
        ("child-0-health-needs", s("None known")),
    ]
}

/// Submits a referral about Katie as the referrer of `c`, from `organisation`; returns
/// its public id.
async fn submit_referral(c: &Client, organisation: &str, seed: u32) -> String {
    let draft = new_draft(c).await;
    for (slug, mut fields) in
        common::sections("Katie is often hungry at school.", &nhs_number(seed))
    {
        if slug == "children" {
            fields = child_fields();
        }
        if slug == "referrer" {
            for (k, v) in fields.iter_mut() {
                if *k == "organisation-name" {
                    *v = organisation.to_string();
                }
            }
        }
        let p = save(c, &draft, slug, &fields).await;
        assert_eq!(p.status, 303, "section {slug}: {:?}", p.error_summary());
    }
    let done = common::submit(c, &draft).await;
    assert_eq!(done.status, 303, "{}", done.text());
    draft.trim_start_matches("/referrals/").to_string()
}

fn import_persons(db: &TestDb, data_dir: &Path, csv: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("people.csv");
    std::fs::write(&file, csv).unwrap();
    let out = std::process::Command::new(BIN)
        .arg("import-persons")
        .arg(&file)
        .current_dir(dir.path())
        .env_remove("EHM_CONFIG")
        .env("EHM_DATA_DIR", data_dir)
        .env("EHM_DATABASE_URL", &db.url)
        .output()
        .expect("run ehm import-persons");
    assert!(
        out.status.success(),
        "import-persons: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The person ids of the candidates on a referral page, best first.
fn candidates(p: &Page) -> Vec<String> {
    p.select_attr("tr.app-candidate", "data-person-id")
}

/// GETs `path` until `ready` holds for the page (the index polls every 2 s).
async fn wait_for(c: &Client, path: &str, what: &str, ready: impl Fn(&Page) -> bool) -> Page {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let p = c.get(path).await;
        p.assert_status(200);
        if ready(&p) {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "{what} never showed on {path}: {}",
            p.text()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn person_id_in_flash(p: &Page) -> String {
    let text = p.text();
    let at = text
        .find("P-")
        .unwrap_or_else(|| panic!("no new person id in {text}"));
    text[at..at + 10].to_string()
}

async fn audit_actions(store: &Store, object_type: &str, object_id: &str) -> Vec<(String, String)> {
    let f = AuditFilter {
        object_type: Some(object_type.into()),
        object_id: Some(object_id.into()),
        ..AuditFilter::default()
    };
    store
        .search_audit(&f, 500, 0)
        .await
        .unwrap()
        .rows
        .into_iter()
        .map(|r| (r.action, r.outcome))
        .collect()
}

fn has(actions: &[(String, String)], action: &str, outcome: &str) -> bool {
    actions.iter().any(|(a, o)| a == action && o == outcome)
}

#[tokio::test]
async fn staff_match_link_unlink_create_and_correct_on_both_databases() {
    for backend in backends() {
        journey(backend).await;
    }
}

async fn journey(backend: Backend) {
    let env: Env = common::start(backend, &[("EHM_LOGIN_CODE", "false")]).await;
    for (email, role, name) in [
        ("robin.referrer@example.org", "referrer", "Robin Referrer"),
        ("hana.visitor@example.org", "referrer", "Hana Visitor"),
        ("bea.support@example.org", "business-support", "Bea Support"),
        ("sam.social@example.org", "social-worker", "Sam Social"),
    ] {
        create_user(&env, email, role, name);
    }
    let (robin, _) = signed_in(&env, "robin.referrer@example.org").await;
    let pid = submit_referral(&robin, "Sampleton Juniors", 4101).await;
    let page_path = format!("/mash/referrals/{pid}");
    let store = common::store(&env).await;
    let rid = store
        .referral_by_public_id(&pid)
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string();

    // The index starts empty and says so.
    let (bea, _) = signed_in(&env, "bea.support@example.org").await;
    let p = wait_for(&bea, &page_path, "the empty index", |p| {
        p.text_contains("No person record in the index looks like this child")
    })
    .await;
    assert!(p.text_contains("Not linked to a person record yet"));

    // People imported while the app runs are found without a restart.
    import_persons(&env.db, env.app.data_dir(), PEOPLE);
    let p = wait_for(&bea, &page_path, "the imported people", |p| {
        !candidates(p).is_empty()
    })
    .await;
    let found = candidates(&p);
    assert_eq!(
        found.first().map(String::as_str),
        Some("CM-1001"),
        "{backend}: the known child is not first: {found:?}\n{}",
        p.text()
    );
    let twin = found.iter().position(|c| c == "CM-1002");
    assert!(twin.is_none_or(|i| i > 0), "{found:?}");
    // Why, in plain words.
    let reasons = p.select("tr.app-candidate + tr .app-reasons")[0].clone();
    for words in [
        "Katie is a short form of Katherine",
        "estimated, about 2 years apart",
        "counts for this record",
        "Whitlok",
    ] {
        assert!(reasons.contains(words), "{words:?} not in {reasons}");
    }
    let score = p.select("tr.app-candidate td.govuk-table__cell--numeric")[0].clone();
    assert!(score.trim().ends_with('%'), "{score}");
    // The referral keeps what the referrer wrote.
    assert!(p.text_contains("1 January 2016 (estimated)"));

    // A social worker sees the match but may not change the links.
    let (sam, _) = signed_in(&env, "sam.social@example.org").await;
    let sp = sam.get(&page_path).await;
    sp.assert_status(200);
    assert_eq!(candidates(&sp).first().map(String::as_str), Some("CM-1001"));
    assert!(sp.select("form[action$='/link']").is_empty());
    assert!(sp.text_contains("Business support or a manager links children"));
    let refused = sam
        .post_form(
            &format!("{page_path}/children/0/link"),
            &[("person_id", "CM-1001")],
        )
        .await;
    refused.assert_status(403);

    // Business support link the child to the known person.
    let linked = bea
        .post_form(
            &format!("{page_path}/children/0/link"),
            &[("person_id", "CM-1001")],
        )
        .await;
    assert_redirect(&linked, &page_path);
    let p = bea.follow(linked).await;
    assert!(
        p.text_contains("Katie Whitlok linked to person record CM-1001"),
        "{}",
        p.text()
    );
    let status = p.select(".app-link-status").join(" ");
    assert!(
        status.contains("Linked to CM-1001")
            && status.contains("Katherine Whitlock, born 9 March 2014")
            && status.contains("by Bea Support on"),
        "{status}"
    );
    assert!(p.text_contains("None: this is the only referral linked to this person"));
    // A second link is refused with a clear error.
    let again = bea
        .post_form(
            &format!("{page_path}/children/0/link"),
            &[("person_id", "CM-1002")],
        )
        .await;
    again.assert_status(422);
    assert_eq!(
        again.error_summary(),
        ["This child is already linked to a person record. Undo that link first"]
    );

    // The person page lists the referral.
    let person = bea.get("/mash/persons/CM-1001").await;
    person.assert_status(200);
    let reference = store
        .referral_by_public_id(&pid)
        .await
        .unwrap()
        .unwrap()
        .reference_text()
        .unwrap();
    assert!(
        person
            .select("table.app-person-referrals a")
            .contains(&reference),
        "{}",
        person.text()
    );
    // … and a social worker may read it but not correct it.
    let sp = sam.get("/mash/persons/CM-1001").await;
    sp.assert_status(200);
    assert!(!sp.text_contains("Correct these details"));
    sam.get("/mash/persons/CM-1001/edit")
        .await
        .assert_status(403);
    bea.get("/mash/persons/CM-9999").await.assert_status(404);

    // Undo the link: the reason is required.
    let link_id = store.links_of_referral(rid.parse().unwrap()).await.unwrap()[0].id;
    let unlink_path = format!("{page_path}/links/{link_id}/unlink");
    let form = bea.get(&unlink_path).await;
    form.assert_status(200);
    assert!(form.text_contains("Undo the link to person record CM-1001"));
    let empty = bea.post_form(&unlink_path, &[("reason", "  ")]).await;
    empty.assert_status(422);
    assert_eq!(empty.error_summary(), ["Enter why the link is wrong"]);
    let undone = bea
        .post_form(
            &unlink_path,
            &[("reason", "Different date of birth on the case record")],
        )
        .await;
    assert_redirect(&undone, &page_path);
    let p = bea.follow(undone).await;
    assert!(p.text_contains("Link to person record CM-1001 undone"));
    assert!(p.text_contains("Not linked to a person record yet"));
    assert!(p.text_contains("Different date of birth on the case record"));
    assert!(p.text_contains("undone by Bea Support"));
    let stored = &store.links_of_referral(rid.parse().unwrap()).await.unwrap()[0];
    assert_eq!(
        stored.unlink_reason.as_deref(),
        Some("Different date of birth on the case record")
    );
    assert!(stored.unlinked_at.is_some() && stored.unlinked_by.is_some());
    // A second undo of the same link changes nothing.
    let twice = bea.post_form(&unlink_path, &[("reason", "again")]).await;
    assert_redirect(&twice, &page_path);

    // Create a new person from the child.
    let created = bea
        .post_form(&format!("{page_path}/children/0/new-person"), &[])
        .await;
    assert_redirect(&created, &page_path);
    let p = bea.follow(created).await;
    let new_id = person_id_in_flash(&p);
    assert!(
        p.select(".app-link-status")
            .join(" ")
            .contains(&format!("Linked to {new_id}"))
    );
    let row = store.person(&new_id).await.unwrap().unwrap();
    assert_eq!(
        (
            row.data.first_name.as_deref(),
            row.data.last_name.as_deref(),
            row.data.dob.as_deref(),
            row.data.dob_estimated,
            row.data.postcode.as_deref(),
        ),
        (
            Some("Katie"),
            Some("Whitlok"),
            Some("2016-01-01"),
            true,
            Some("AB1 2XY")
        )
    );

    // Correct the new person's date of birth: clear errors first, typed values kept.
    let edit_path = format!("/mash/persons/{new_id}/edit");
    let form = bea.get(&edit_path).await;
    form.assert_status(200);
    let version = form.form_value("version").unwrap();
    let fields = |day: &'static str, postcode: &'static str, version: String| {
        vec![
            ("first-name", "Katie".to_string()),
            ("last-name", "Whitlock".to_string()),
            ("other-names", "Katherine".to_string()),
            ("dob-day", day.to_string()),
            ("dob-month", "3".to_string()),
            ("dob-year", "2014".to_string()),
            ("gender", "female".to_string()),
            ("address", "12 Fictional Road\nSampleton".to_string()),
            ("postcode", postcode.to_string()),
            ("version", version),
        ]
    };
    let post = |f: Vec<(&'static str, String)>| {
        let bea = &bea;
        let edit_path = &edit_path;
        async move {
            let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            bea.post_form(edit_path, &refs).await
        }
    };
    let bad = post(fields("32", "nowhere", version.clone())).await;
    bad.assert_status(422);
    assert_eq!(
        bad.error_summary(),
        [
            "Date of birth must be a real date",
            "Enter a real postcode, like AA1 1AA"
        ]
    );
    assert_eq!(bad.form_value("postcode").as_deref(), Some("nowhere"));
    assert_eq!(bad.form_value("dob-day").as_deref(), Some("32"));
    let ok = post(fields("9", "AB1 2XY", version.clone())).await;
    assert_redirect(&ok, &format!("/mash/persons/{new_id}"));
    let person = bea.follow(ok).await;
    assert!(person.text_contains(&format!("Person record {new_id} corrected")));
    assert!(person.text_contains("9 March 2014"));
    assert!(!person.text_contains("(estimated)"));
    // The form as first opened is now stale: nothing is written.
    let stale = post(fields("10", "AB1 2XY", version)).await;
    stale.assert_status(409);
    assert!(stale.text_contains("Someone else changed this record"));
    assert_eq!(
        store
            .person(&new_id)
            .await
            .unwrap()
            .unwrap()
            .data
            .dob
            .as_deref(),
        Some("2014-03-09")
    );
    // The referral still shows what the referrer wrote; the index already has the
    // corrected record (no wait for the poll).
    let p = bea.get(&page_path).await;
    assert!(p.text_contains("1 January 2016 (estimated)"));
    assert!(p.text_contains("Whitlok"));
    let new_row = p
        .select("tr.app-candidate")
        .into_iter()
        .zip(candidates(&p))
        .find(|(_, id)| *id == new_id)
        .map(|(text, _)| text)
        .unwrap_or_else(|| panic!("{new_id} not a candidate: {:?}", candidates(&p)));
    assert!(new_row.contains("9 March 2014"), "{new_row}");

    // Another agency's referral about the same child, linked to the same person: each
    // referral shows the other, the open one from another agency highlighted.
    let (hana, _) = signed_in(&env, "hana.visitor@example.org").await;
    let pid2 = submit_referral(&hana, "Sampleton Health Visiting", 4102).await;
    let page2 = format!("/mash/referrals/{pid2}");
    let linked = bea
        .post_form(
            &format!("{page2}/children/0/link"),
            &[("person_id", &new_id)],
        )
        .await;
    assert_redirect(&linked, &page2);
    let p = bea.follow(linked).await;
    let related = p.select("table.app-related tbody tr").join(" | ");
    assert!(related.contains(&reference), "{related}");
    assert!(related.contains("Open, another agency"), "{related}");
    assert!(related.contains("Sampleton Juniors"), "{related}");
    assert!(p.text_contains("1 open referral about this person from another agency"));

    // The audit log has every view and change.
    let on_referral = audit_actions(&store, "referral", &rid).await;
    for action in ["view-referral", "link-person", "unlink-person"] {
        assert!(
            has(&on_referral, action, "success"),
            "{action}: {on_referral:?}"
        );
    }
    assert!(
        has(&on_referral, "access-check", "refused"),
        "{on_referral:?}"
    );
    let on_known = audit_actions(&store, "person", "CM-1001").await;
    assert!(has(&on_known, "view-person", "success"), "{on_known:?}");
    assert!(has(&on_known, "access-check", "refused"), "{on_known:?}");
    let on_new = audit_actions(&store, "person", &new_id).await;
    for action in ["create-person", "view-person", "update-person"] {
        assert!(has(&on_new, action, "success"), "{action}: {on_new:?}");
    }
}

#[tokio::test]
async fn a_person_created_through_one_instance_is_found_by_another_without_a_restart() {
    for backend in backends() {
        two_instances(backend).await;
    }
}

async fn two_instances(backend: Backend) {
    let env = common::start(backend, &[("EHM_LOGIN_CODE", "false")]).await;
    let second = TestApp::builder(BIN)
        .db(&env.db)
        .smtp(&env.smtp)
        .env("EHM_LOGIN_CODE", "false")
        .spawn()
        .await;
    create_user(
        &env,
        "robin.referrer@example.org",
        "referrer",
        "Robin Referrer",
    );
    create_user(
        &env,
        "bea.support@example.org",
        "business-support",
        "Bea Support",
    );
    let (robin, _) = signed_in(&env, "robin.referrer@example.org").await;
    let pid = submit_referral(&robin, "Sampleton Juniors", 4201).await;
    let pid2 = submit_referral(&robin, "Sampleton Juniors", 4202).await;
    let (bea, totp) = signed_in(&env, "bea.support@example.org").await;

    // The same member of staff on the second instance (a second sign-in; the code of the
    // next 30-second step, as an authenticator would show it).
    let bea2 = second.client();
    bea2.get("/sign-in").await;
    let p = bea2
        .post_form(
            "/sign-in",
            &[
                ("email", "bea.support@example.org"),
                ("password", common::PASSWORD),
            ],
        )
        .await;
    assert_redirect(&p, "/sign-in/authenticator");
    bea2.get("/sign-in/authenticator").await;
    let totp = totp.expect("staff have an authenticator");
    let step = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 30;
    let code = totp.generate((step + 1) * 30);
    let p = bea2
        .post_form("/sign-in/authenticator", &[("code", &code)])
        .await;
    assert_redirect(&p, "/");

    // Nobody on record yet: both instances search an empty index.
    let on_second = format!("/mash/referrals/{pid2}");
    wait_for(&bea2, &on_second, "the empty index", |p| {
        p.text_contains("No person record in the index looks like this child")
    })
    .await;

    // A person created on the first instance …
    let created = bea
        .post_form(&format!("/mash/referrals/{pid}/children/0/new-person"), &[])
        .await;
    assert_redirect(&created, &format!("/mash/referrals/{pid}"));
    let new_id = person_id_in_flash(&bea.follow(created).await);

    // … is a candidate on the second within seconds.
    let started = Instant::now();
    let p = wait_for(&bea2, &on_second, "the person created elsewhere", |p| {
        candidates(p).contains(&new_id)
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{backend}: took {:?}",
        started.elapsed()
    );
    assert_eq!(candidates(&p).first(), Some(&new_id));
}
