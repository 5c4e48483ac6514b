//! The MASH workflow end to end against the real binary, on both databases (issue 9 items
//! 5–8): a submitted referral is triaged, allocated, sent for a decision, decided, returned
//! by a manager with a comment, decided again and authorised by a manager; the outcome
//! email reaches the real SMTP server and the outcome letter PDF reads back with poppler's
//! `pdftotext`; then it is closed. Steps the rules refuse answer with the domain's message
//! and change nothing; every step writes an event and an audit record with who and when.

use ehm_storage::{AuditFilter, Store};
use ehm_testkit::{Backend, Client, Page, backends};

mod common;
use common::{Env, create_user, fill, new_draft, nhs_number, reference_in, signed_in, submit};

const REFERRER: &str = "rita.referrer@example.org";
/// The address typed in the referrer section (`common::sections`).
const SECTION_ADDRESS: &str = "robin.referrer@example.org";
const SUPPORT: &str = "bea.support@example.org";
const WORKER: &str = "sol.worker@example.org";
const MANAGER: &str = "mona.manager@example.org";
const OTHER_MANAGER: &str = "max.manager@example.org";

/// Words the first decision's reasons use: none of them may reach the referrer.
const FIRST_REASONS: &str = "Attendance is poor; school nurse to be consulted first.";
const REASONS: &str =
    "Nadia Testwell asked for help with meals; Early Help fits the family's needs.";

struct Ids {
    support: i64,
    worker: i64,
    manager: i64,
    other_manager: i64,
}

async fn setup(backend: Backend) -> (Env, Ids) {
    let env = common::start(backend, &[("EHM_LOGIN_CODE", "false")]).await;
    for (email, role, name) in [
        (REFERRER, "referrer", "Rita Referrer"),
        (SUPPORT, "business-support", "Bea Support"),
        (WORKER, "social-worker", "Sol Worker"),
        (MANAGER, "manager", "Mona Manager"),
        (OTHER_MANAGER, "manager", "Max Manager"),
    ] {
        create_user(&env, email, role, name);
    }
    let store = common::store(&env).await;
    let ids = Ids {
        support: user_id(&store, SUPPORT).await,
        worker: user_id(&store, WORKER).await,
        manager: user_id(&store, MANAGER).await,
        other_manager: user_id(&store, OTHER_MANAGER).await,
    };
    (env, ids)
}

async fn user_id(store: &Store, email: &str) -> i64 {
    store.user_by_email(email).await.unwrap().unwrap().id
}

/// A submitted referral: (staff page path, reference, referral row id).
async fn submitted(env: &Env, referrer: &Client, seed: u32) -> (String, String, i64) {
    let draft = new_draft(referrer).await;
    fill(
        referrer,
        &draft,
        "Amira is often hungry and missing school.",
        &nhs_number(seed),
    )
    .await;
    let done = submit(referrer, &draft).await;
    assert_eq!(done.status, 303, "{}", done.text());
    let confirmation = referrer.follow(done).await;
    let reference = reference_in(&confirmation.text());
    let pid = draft.trim_start_matches("/referrals/").to_string();
    let id = common::store(env)
        .await
        .referral_by_public_id(&pid)
        .await
        .unwrap()
        .unwrap()
        .id;
    (format!("/mash/referrals/{pid}"), reference, id)
}

/// The workflow row and the number of events: what must not change when a step is refused.
async fn snapshot(store: &Store, id: i64) -> (ehm_storage::WorkflowRow, usize) {
    (
        store.workflow(id).await.unwrap().unwrap(),
        store.referral_events(id).await.unwrap().len(),
    )
}

/// POST a step (the CSRF token of the page last seen) and follow it back to the page.
async fn take(c: &Client, path: &str, fields: &[(&str, &str)]) -> Page {
    c.get(path.rsplit_once('/').unwrap().0).await;
    c.post_form(path, fields).await
}

/// A refused step: `status`, the referral page with exactly `message` in its error summary.
#[track_caller]
fn assert_refused(p: &Page, status: u16, message: &str) {
    assert_eq!(p.status, status, "{}: {}", p.url, p.text());
    assert_eq!(p.error_summary(), vec![message.to_string()], "{}", p.url);
    assert!(p.title().starts_with("Error: "), "{}", p.title());
}

fn status_on(p: &Page) -> String {
    p.select(".app-workflow .govuk-tag")
        .first()
        .cloned()
        .unwrap_or_default()
}

/// The value of the allocate form's option named `name`.
fn option_for(p: &Page, name: &str) -> String {
    let texts = p.select("select#assignee option");
    let values = p.select_attr("select#assignee option", "value");
    texts
        .iter()
        .zip(values)
        .find(|(t, _)| t.starts_with(name))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("{name} is not offered: {texts:?}"))
}

fn buttons(p: &Page) -> Vec<String> {
    p.select(".app-workflow form .govuk-button")
}

async fn wait_mail(env: &Env, to: &str, subject: &str) -> ehm_testkit::ReceivedMail {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(m) = common::mails(env, to, subject).pop() {
            return m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {subject:?} mail to {to}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn pdf_text(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("letter.pdf");
    std::fs::write(&file, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) must be installed");
    assert!(out.status.success(), "pdftotext could not read the PDF");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn a_referral_goes_from_submitted_to_closed_with_one_return() {
    for backend in backends() {
        whole_path(backend).await;
    }
}

async fn whole_path(backend: Backend) {
    let (env, ids) = setup(backend).await;
    let store = common::store(&env).await;
    let (referrer, _) = signed_in(&env, REFERRER).await;
    let (support, _) = signed_in(&env, SUPPORT).await;
    let (worker, _) = signed_in(&env, WORKER).await;
    let (manager, _) = signed_in(&env, MANAGER).await;
    let (other_manager, _) = signed_in(&env, OTHER_MANAGER).await;
    let (page, reference, id) = submitted(&env, &referrer, 4100).await;
    let step = |s: &str| format!("{page}/{s}");

    // Submitted: business support may start triage and allocate; the social worker is
    // offered nothing.
    let p = support.get(&page).await;
    p.assert_status(200);
    assert_eq!(status_on(&p), "Submitted");
    assert_eq!(buttons(&p), ["Allocate", "Start triage"]);
    let p = worker.get(&page).await;
    assert!(buttons(&p).is_empty(), "{:?}", buttons(&p));
    assert!(p.select("select#assignee").is_empty());

    // Refused before anything happened: the domain's words, nothing written.
    let before = snapshot(&store, id).await;
    assert_refused(
        &take(&worker, &step("start-triage"), &[]).await,
        403,
        "Only business support or a manager can start triage",
    );
    assert_refused(
        &worker.get(&step("decision")).await,
        409,
        "This referral has not been sent for a decision yet",
    );
    assert_refused(
        &take(
            &support,
            &step("decision"),
            &[("outcome", "early-help-service"), ("rationale", REASONS)],
        )
        .await,
        403,
        "Only a social worker or a manager can record a decision",
    );
    assert_refused(
        &take(&support, &step("close"), &[]).await,
        409,
        "A referral can only be closed after feedback has been sent",
    );
    assert_refused(
        &take(&support, &step("send-for-decision"), &[]).await,
        409,
        "Start triage before sending the referral for a decision",
    );
    assert_refused(
        &support.get(&step("letter")).await,
        409,
        "The outcome letter can be downloaded once a manager has authorised the decision",
    );
    assert_eq!(
        snapshot(&store, id).await,
        before,
        "a refused step changed the referral"
    );

    // Start triage.
    let p = take(&support, &step("start-triage"), &[]).await;
    common::assert_redirect(&p, &page);
    let p = support.follow(p).await;
    assert_eq!(status_on(&p), "In triage");
    assert!(p.text_contains("Triage started"), "no confirmation");

    // Not allocated yet: cannot be sent.
    let before = snapshot(&store, id).await;
    assert_refused(
        &take(&support, &step("send-for-decision"), &[]).await,
        409,
        "Allocate the referral to a worker before sending it for a decision",
    );
    // Allocating with no worker chosen: the GOV.UK error, on the referral page.
    let p = take(&support, &step("allocate"), &[("assignee", "")]).await;
    assert_eq!(p.status, 422);
    assert_eq!(
        p.error_summary(),
        ["Select who to allocate the referral to"]
    );
    assert_eq!(
        p.select_attr(".govuk-error-summary__list a", "href"),
        ["#assignee"]
    );
    // Business support is no worker: refused as a choice.
    let p = take(
        &support,
        &step("allocate"),
        &[("assignee", &ids.support.to_string())],
    )
    .await;
    assert_eq!(p.status, 422);
    assert_eq!(
        p.error_summary(),
        ["A referral can only be allocated to a social worker or a manager"]
    );
    assert_eq!(snapshot(&store, id).await, before);

    let p = support.get(&page).await;
    let sol = option_for(&p, "Sol Worker");
    assert_eq!(sol, ids.worker.to_string());
    assert!(
        p.select("select#assignee option")
            .iter()
            .all(|o| !o.contains("Bea Support") && !o.contains("Rita")),
        "only workers are offered"
    );
    let p = take(&support, &step("allocate"), &[("assignee", &sol)]).await;
    common::assert_redirect(&p, &page);
    let p = support.follow(p).await;
    assert!(p.text_contains("Referral allocated to Sol Worker"));
    // Business support does not reallocate: no form any more; a manager has one.
    assert!(p.select("select#assignee").is_empty());
    assert_refused(
        &take(
            &support,
            &step("allocate"),
            &[("assignee", &ids.manager.to_string())],
        )
        .await,
        403,
        "Only a manager can reallocate a referral",
    );
    assert!(
        !manager
            .get(&page)
            .await
            .select("select#assignee")
            .is_empty()
    );

    // Send for a decision.
    common::assert_redirect(
        &take(&support, &step("send-for-decision"), &[]).await,
        &page,
    );
    assert_eq!(status_on(&support.get(&page).await), "Awaiting decision");

    // The decision page: both errors, what was typed kept.
    let p = worker.get(&page).await;
    assert_eq!(buttons(&p), ["Record the decision"]);
    let form = worker.get(&step("decision")).await;
    form.assert_status(200);
    assert_eq!(
        form.select_attr("input[type=radio][name=outcome]", "value")
            .len(),
        6
    );
    let p = worker
        .post_form(&step("decision"), &[("outcome", ""), ("rationale", "")])
        .await;
    assert_eq!(p.status, 422);
    assert_eq!(
        p.error_summary(),
        [
            "Select the outcome of the decision",
            "Enter the reasons for the decision"
        ]
    );
    let p = worker
        .post_form(
            &step("decision"),
            &[("outcome", "no-further-action"), ("rationale", "Too short")],
        )
        .await;
    assert_eq!(p.status, 422);
    assert_eq!(
        p.error_summary(),
        ["The reasons for the decision must be at least 10 characters"]
    );
    assert_eq!(
        p.form_value("outcome").as_deref(),
        Some("no-further-action")
    );
    assert_eq!(p.form_value("rationale").as_deref(), Some("Too short"));
    assert_eq!(
        p.select("#rationale-status"),
        ["You have 4,991 characters remaining"]
    );
    // Record it.
    let p = worker
        .post_form(
            &step("decision"),
            &[
                ("outcome", "no-further-action"),
                ("rationale", FIRST_REASONS),
            ],
        )
        .await;
    common::assert_redirect(&p, &page);
    let p = worker.follow(p).await;
    assert_eq!(status_on(&p), "Decided");
    assert!(p.text_contains("No further action or advice"));
    assert!(p.text_contains(FIRST_REASONS));

    // Only a manager authorises; the manager who decides cannot authorise.
    let before = snapshot(&store, id).await;
    let decided = worker
        .get(&page)
        .await
        .form_value("decided")
        .unwrap_or_default();
    assert_refused(
        &take(&worker, &step("authorise"), &[("decided", &decided)]).await,
        403,
        "Only a manager can authorise a decision",
    );
    assert_refused(
        &take(
            &support,
            &step("return"),
            &[("comment", "x"), ("decided", &decided)],
        )
        .await,
        403,
        "Only a manager can return a decision",
    );
    assert_eq!(snapshot(&store, id).await, before);

    // A manager returns it: the comment is required.
    let p = manager.get(&page).await;
    assert_eq!(
        buttons(&p),
        ["Authorise the decision", "Return the decision"]
    );
    let form = manager.get(&step("return")).await;
    form.assert_status(200);
    assert!(form.text_contains(FIRST_REASONS));
    let decided = form.form_value("decided").unwrap();
    let p = manager
        .post_form(&step("return"), &[("comment", " "), ("decided", &decided)])
        .await;
    assert_eq!(p.status, 422);
    assert_eq!(
        p.error_summary(),
        ["Enter what needs to change in the decision"]
    );
    let comment = "Speak to the school nurse before deciding.";
    let p = manager
        .post_form(
            &step("return"),
            &[("comment", comment), ("decided", &decided)],
        )
        .await;
    common::assert_redirect(&p, &page);
    let p = manager.follow(p).await;
    assert!(p.text_contains("Decision returned to Sol Worker with your comment"));
    assert_eq!(status_on(&p), "Awaiting decision");
    let w = store.workflow(id).await.unwrap().unwrap();
    assert_eq!(w.decision_outcome, None);
    assert_eq!(w.return_comment.as_deref(), Some(comment));

    // The social worker sees the comment and decides again.
    let form = worker.get(&step("decision")).await;
    assert!(form.text_contains(comment));
    let p = worker
        .post_form(
            &step("decision"),
            &[("outcome", "early-help-service"), ("rationale", REASONS)],
        )
        .await;
    common::assert_redirect(&p, &page);

    // Authorising a decision other than the one on the page: someone changed it.
    let before = snapshot(&store, id).await;
    let stale = take(&manager, &step("authorise"), &[("decided", &decided)]).await;
    assert_refused(
        &stale,
        409,
        "Someone else has just updated this referral. Check it and try again",
    );
    assert_eq!(snapshot(&store, id).await, before);

    // Authorise: feedback sent.
    let decided = manager.get(&page).await.form_value("decided").unwrap();
    let p = manager
        .post_form(&step("authorise"), &[("decided", &decided)])
        .await;
    common::assert_redirect(&p, &page);
    let p = manager.follow(p).await;
    assert_eq!(status_on(&p), "Feedback sent");
    assert!(p.text_contains("Decision authorised"));
    assert!(p.text_contains("Authorised by Mona Manager"));
    let w = store.workflow(id).await.unwrap().unwrap();
    assert_eq!(w.authorised_by, Some(ids.manager));
    assert!(w.feedback_sent_at.is_some());
    assert_refused(
        &take(&other_manager, &step("authorise"), &[("decided", &decided)]).await,
        409,
        "This decision has already been authorised",
    );

    // The outcome email, to the referrer-section address and the account's.
    let subject = format!("Outcome of your referral {reference}");
    for to in [SECTION_ADDRESS, REFERRER] {
        let m = wait_mail(&env, to, &subject).await;
        assert!(m.text.starts_with("Dear Robin Referrer,"), "{}", m.text);
        assert!(m.text.contains(&reference));
        assert!(m.text.contains("Outcome: Early Help Service"));
        assert!(m.text.contains(
            "A family support worker from the Early Help Service will contact the family"
        ));
        let html = m.html.clone().expect("an HTML alternative");
        assert!(html.contains("Early Help Service") && html.contains(&reference));
        for secret in [
            "Nadia",
            "Testwell",
            "Amira",
            "Sol Worker",
            "Mona",
            "meals",
            "nurse",
            "Attendance",
        ] {
            assert!(
                !m.text.contains(secret),
                "the email says {secret}: {}",
                m.text
            );
            assert!(!html.contains(secret), "the HTML says {secret}");
        }
    }
    assert_eq!(
        common::mails(&env, REFERRER, &subject).len(),
        1,
        "sent once"
    );

    // The outcome letter.
    let letter = manager.get(&step("letter")).await;
    letter.assert_status(200);
    assert_eq!(
        letter.header("content-type").as_deref(),
        Some("application/pdf")
    );
    assert_eq!(
        letter.header("content-disposition"),
        Some(format!(
            "attachment; filename=\"{reference}-outcome-letter.pdf\""
        ))
    );
    assert_eq!(letter.header("cache-control").as_deref(), Some("no-store"));
    let text = pdf_text(&letter.raw);
    for want in [
        reference.as_str(),
        "OFFICIAL-SENSITIVE",
        "Page 1 of",
        "Dear Robin Referrer,",
        "Sampleton Juniors",
        "Amira Testwell",
        "14 February 2016 (estimated)",
        "Early Help Service",
        "A family support worker from the Early Help Service will contact the family",
    ] {
        assert!(text.contains(want), "the letter lacks {want:?}: {text}");
    }
    for secret in ["Nadia", "meals", "Sol Worker", "Mona", "nurse"] {
        assert!(!text.contains(secret), "the letter says {secret}: {text}");
    }
    assert!(
        store
            .workflow(id)
            .await
            .unwrap()
            .unwrap()
            .letter_created_at
            .is_some()
    );
    support.get(&step("letter")).await.assert_status(200);

    // Close.
    let p = take(&support, &step("close"), &[]).await;
    common::assert_redirect(&p, &page);
    let p = support.follow(p).await;
    assert_eq!(status_on(&p), "Closed");
    assert!(buttons(&p).is_empty(), "{:?}", buttons(&p));
    assert_refused(
        &take(&support, &step("close"), &[]).await,
        409,
        "This referral is closed",
    );
    let w = store.workflow(id).await.unwrap().unwrap();
    assert!(w.closed_at.is_some());

    // Every step is an event with who and when, in order.
    let events = store.referral_events(id).await.unwrap();
    let got: Vec<(&str, Option<i64>)> = events
        .iter()
        .map(|e| (e.kind.as_str(), e.actor_user_id))
        .collect();
    assert_eq!(
        got,
        [
            ("start-triage", Some(ids.support)),
            ("allocate", Some(ids.support)),
            ("send-for-decision", Some(ids.support)),
            ("record-decision", Some(ids.worker)),
            ("return-decision", Some(ids.manager)),
            ("record-decision", Some(ids.worker)),
            ("authorise", Some(ids.manager)),
            ("outcome-letter", Some(ids.manager)),
            ("outcome-letter", Some(ids.support)),
            ("close", Some(ids.support)),
        ]
    );
    let first = events.first().unwrap().at;
    assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(time::OffsetDateTime::now_utc() - first < time::Duration::minutes(10));
    // The history on the page names the people.
    let history = support
        .get(&page)
        .await
        .select(".app-workflow table tbody tr");
    assert_eq!(history.len(), events.len());
    assert!(history[1].contains("Bea Support") && history[1].contains("Allocated to Sol Worker"));
    assert!(history[4].contains("Mona Manager") && history[4].contains(comment));

    // And an audit record for every step, every refusal and every view, with the address.
    let audit = store
        .search_audit(
            &AuditFilter {
                object_type: Some("referral".into()),
                object_id: Some(id.to_string()),
                ..Default::default()
            },
            1000,
            0,
        )
        .await
        .unwrap()
        .rows;
    let has = |actor: i64, action: &str, outcome: &str| {
        audit
            .iter()
            .any(|r| r.actor_user_id == Some(actor) && r.action == action && r.outcome == outcome)
    };
    for (actor, action) in [
        (ids.support, "start-triage"),
        (ids.support, "allocate-referral"),
        (ids.support, "send-for-decision"),
        (ids.worker, "record-decision"),
        (ids.manager, "return-decision"),
        (ids.manager, "authorise-decision"),
        (ids.manager, "outcome-letter"),
        (ids.support, "close-referral"),
        (ids.worker, "view-referral"),
        (ids.manager, "view-return-form"),
        (ids.worker, "view-decision-form"),
    ] {
        assert!(
            has(actor, action, "success"),
            "no audit of {action} by {actor}"
        );
    }
    for (actor, action) in [
        (ids.worker, "start-triage"),
        (ids.support, "record-decision"),
        (ids.support, "close-referral"),
        (ids.worker, "authorise-decision"),
        (ids.other_manager, "authorise-decision"),
    ] {
        assert!(
            has(actor, action, "refused"),
            "no audit of refused {action} by {actor}"
        );
    }
    assert_eq!(
        audit
            .iter()
            .filter(|r| r.action == "record-decision" && r.outcome == "success")
            .count(),
        2
    );
    assert!(
        audit.iter().all(|r| r.ip == "127.0.0.1"),
        "client address recorded"
    );
}

/// A manager who decides needs another manager to authorise; a social worker decides only
/// what is allocated to them; a manager reallocates.
#[tokio::test]
async fn four_eyes_and_allocation_rules_hold_over_http() {
    for backend in backends() {
        four_eyes(backend).await;
    }
}

async fn four_eyes(backend: Backend) {
    let (env, ids) = setup(backend).await;
    let store = common::store(&env).await;
    let (referrer, _) = signed_in(&env, REFERRER).await;
    let (worker, _) = signed_in(&env, WORKER).await;
    let (manager, _) = signed_in(&env, MANAGER).await;
    let (other_manager, _) = signed_in(&env, OTHER_MANAGER).await;
    let (page, _, id) = submitted(&env, &referrer, 4200).await;
    let step = |s: &str| format!("{page}/{s}");

    // A manager does business support's steps too, and allocates to themself.
    common::assert_redirect(&take(&manager, &step("start-triage"), &[]).await, &page);
    let p = manager.get(&page).await;
    let mona = option_for(&p, "Mona Manager");
    common::assert_redirect(
        &take(&manager, &step("allocate"), &[("assignee", &mona)]).await,
        &page,
    );
    common::assert_redirect(
        &take(&manager, &step("send-for-decision"), &[]).await,
        &page,
    );

    // The social worker it is not allocated to cannot decide it.
    let before = snapshot(&store, id).await;
    assert_refused(
        &take(
            &worker,
            &step("decision"),
            &[("outcome", "no-further-action"), ("rationale", REASONS)],
        )
        .await,
        403,
        "This referral is allocated to another worker",
    );
    assert_eq!(snapshot(&store, id).await, before);

    // The manager decides; they cannot authorise it themself.
    let p = manager
        .post_form(
            &step("decision"),
            &[("outcome", "strategy-discussion"), ("rationale", REASONS)],
        )
        .await;
    common::assert_redirect(&p, &page);
    let p = manager.get(&page).await;
    assert_eq!(
        buttons(&p),
        ["Return the decision"],
        "own decision: no authorise"
    );
    let decided = p.form_value("decided").unwrap();
    let before = snapshot(&store, id).await;
    assert_refused(
        &manager
            .post_form(&step("authorise"), &[("decided", &decided)])
            .await,
        403,
        "A decision must be authorised by a different manager from the person who made it",
    );
    assert_eq!(snapshot(&store, id).await, before);
    // Another manager can.
    other_manager.get(&page).await;
    common::assert_redirect(
        &other_manager
            .post_form(&step("authorise"), &[("decided", &decided)])
            .await,
        &page,
    );
    let w = store.workflow(id).await.unwrap().unwrap();
    assert_eq!(
        (w.decided_by, w.authorised_by),
        (Some(ids.manager), Some(ids.other_manager))
    );
    assert_eq!(w.assigned_to, Some(ids.manager));
    // Too late to reallocate.
    assert_refused(
        &take(
            &other_manager,
            &step("allocate"),
            &[("assignee", &ids.worker.to_string())],
        )
        .await,
        409,
        "This referral has already been decided",
    );
}
