//! The MASH storage (person index, links, workflow, work tray, audit chain) against real
//! databases: SQLite always, PostgreSQL when EHM_TEST_POSTGRES_URL is set.

use ehm_domain::access::Actor;
use ehm_domain::account::{Email, Role};
use ehm_domain::mash::{
    Assignee, Decision, Outcome, Rationale, ReferralStatus, ReturnComment, Transition,
    UnlinkReason, WorkflowState, allocate, apply,
};
use ehm_domain::referral::{ReferenceNumber, ReferralType};
use ehm_storage::{
    AssignedFilter, AuditEntry, AuditFilter, LinkOutcome, NewUser, PersonData, PersonUpdate, Store,
    Submission, TrayFilter, TraySort,
};
use ehm_testkit::{Backend, TestDb, backends};
use time::{Duration, OffsetDateTime};

async fn stores() -> Vec<(TestDb, Store)> {
    let mut out = Vec::new();
    for b in backends() {
        let db = TestDb::create(b).await;
        let store = Store::connect(&db.url)
            .await
            .unwrap_or_else(|e| panic!("{b:?}: {e}"));
        out.push((db, store));
    }
    out
}

async fn user(store: &Store, email: &str, role: Role) -> Actor {
    let email = Email::parse(email).unwrap();
    let mut tx = store.begin().await.unwrap();
    let id = store
        .create_user(
            &mut tx,
            NewUser {
                email: &email,
                display_name: "Test Person",
                role,
                password_hash: "x",
                verified: true,
            },
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    Actor { user_id: id, role }
}

fn person(id: &str, first: &str, last: &str) -> PersonData {
    PersonData {
        id: id.into(),
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        other_names: vec![],
        dob: Some("2019-03-03".into()),
        dob_estimated: false,
        gender: Some("female".into()),
        address: Some("1 Example Street".into()),
        postcode: Some("LS1 4AB".into()),
    }
}

/// A submitted referral (by `owner`) with its tray fields; returns its id.
async fn submitted(
    store: &Store,
    owner: i64,
    n: u64,
    referral_type: &str,
    children: &[&str],
    received: OffsetDateTime,
) -> (i64, String) {
    let draft = store
        .create_draft(&format!("pid-{n}"), owner, &Default::default(), received)
        .await
        .unwrap();
    let number = ReferenceNumber::generate((n * 7919 + 13).to_le_bytes());
    let reference = number.to_string();
    let mut tx = store.begin().await.unwrap();
    assert!(
        store
            .submit_referral(
                &mut tx,
                &Submission {
                    id: draft.id,
                    expected_version: 1,
                    draft: &Default::default(),
                    reference: &number,
                    referral_type: ReferralType::parse(referral_type).unwrap(),
                },
                received,
            )
            .await
            .unwrap()
    );
    let names: Vec<String> = children.iter().map(|c| c.to_string()).collect();
    store
        .set_tray_fields(
            &mut tx,
            draft.id,
            &names,
            "2016-02-14",
            received + Duration::days(1),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (draft.id, reference)
}

#[tokio::test]
async fn a_batch_upsert_counts_new_updated_and_unchanged_people() {
    for (_db, store) in stores().await {
        let now = OffsetDateTime::now_utc();
        let first = vec![
            person("1", "Mia", "Example"),
            person("2", "Leo", "Example"),
            person("3", "Ava", "Sample"),
        ];
        let c = store.upsert_persons_batch(&first, now).await.unwrap();
        assert_eq!((c.inserted, c.updated, c.unchanged), (3, 0, 0));
        let before_2 = store.person("2").await.unwrap().unwrap();
        let before_1 = store.person("1").await.unwrap().unwrap();

        let mut changed = person("1", "Mia", "Example");
        changed.postcode = Some("LS2 7AB".into());
        changed.other_names = vec!["Mimi".into(), "Amelia".into()];
        let second = vec![
            changed,
            person("2", "Leo", "Example"),
            person("4", "Noah", "Test"),
        ];
        let c = store
            .upsert_persons_batch(&second, now + Duration::seconds(1))
            .await
            .unwrap();
        assert_eq!((c.inserted, c.updated, c.unchanged), (1, 1, 1));
        let after_1 = store.person("1").await.unwrap().unwrap();
        assert_eq!(after_1.data.postcode.as_deref(), Some("LS2 7AB"));
        assert_eq!(after_1.data.other_names, ["Mimi", "Amelia"]);
        assert!(after_1.change_seq > before_1.change_seq);
        assert_eq!(after_1.created_at, before_1.created_at);
        assert_eq!(
            store.person("2").await.unwrap().unwrap(),
            before_2,
            "unchanged row untouched"
        );
        assert_eq!(store.persons_count().await.unwrap(), 4);
    }
}

#[tokio::test]
async fn a_batch_larger_than_one_statement_is_written_whole() {
    for (_db, store) in stores().await {
        let batch: Vec<PersonData> = (0..7_001)
            .map(|i| person(&format!("P{i:05}"), "Child", &format!("Number{i}")))
            .collect();
        let c = store
            .upsert_persons_batch(&batch, OffsetDateTime::now_utc())
            .await
            .unwrap();
        assert_eq!(c.inserted, 7_001);
        assert_eq!(store.persons_count().await.unwrap(), 7_001);
        let p = store.person("P07000").await.unwrap().unwrap();
        assert_eq!(p.data.last_name.as_deref(), Some("Number7000"));
    }
}

#[tokio::test]
async fn changes_are_read_back_in_change_order_page_by_page() {
    for (_db, store) in stores().await {
        let now = OffsetDateTime::now_utc();
        let batch: Vec<PersonData> = (0..5).map(|i| person(&format!("{i}"), "A", "B")).collect();
        store.upsert_persons_batch(&batch, now).await.unwrap();
        // A full load is paging from 0.
        let mut seen = Vec::new();
        let mut seq = 0;
        loop {
            let page = store.persons_changed_since(seq, 2).await.unwrap();
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 2);
            for p in page {
                assert!(p.change_seq > seq);
                seq = p.change_seq;
                seen.push(p.data.id);
            }
        }
        seen.sort();
        assert_eq!(seen, ["0", "1", "2", "3", "4"]);
        assert!(
            store
                .persons_changed_since(seq, 100)
                .await
                .unwrap()
                .is_empty()
        );

        // A correction made anywhere shows up in the next poll.
        let current = store.person("3").await.unwrap().unwrap();
        let mut fixed = current.data.clone();
        fixed.first_name = Some("Corrected".into());
        let mut tx = store.begin().await.unwrap();
        let r = store
            .update_person(&mut tx, &fixed, current.change_seq, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(matches!(r, PersonUpdate::Updated(_)), "{r:?}");
        let polled = store.persons_changed_since(seq, 100).await.unwrap();
        assert_eq!(polled.len(), 1);
        assert_eq!(polled[0].data.first_name.as_deref(), Some("Corrected"));
    }
}

#[tokio::test]
async fn a_correction_based_on_an_old_version_is_refused() {
    for (_db, store) in stores().await {
        let now = OffsetDateTime::now_utc();
        store
            .upsert_persons_batch(&[person("9", "Mia", "Example")], now)
            .await
            .unwrap();
        let v = store.person("9").await.unwrap().unwrap();
        let mut a = v.data.clone();
        a.last_name = Some("Exampel".into());
        let mut tx = store.begin().await.unwrap();
        assert!(matches!(
            store
                .update_person(&mut tx, &a, v.change_seq, now)
                .await
                .unwrap(),
            PersonUpdate::Updated(_)
        ));
        tx.commit().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        assert_eq!(
            store
                .update_person(&mut tx, &a, v.change_seq, now)
                .await
                .unwrap(),
            PersonUpdate::Conflict
        );
        let mut missing = a.clone();
        missing.id = "nobody".into();
        assert_eq!(
            store
                .update_person(&mut tx, &missing, 1, now)
                .await
                .unwrap(),
            PersonUpdate::NotFound
        );
    }
}

#[tokio::test]
async fn creating_a_person_with_a_taken_id_writes_nothing() {
    for (_db, store) in stores().await {
        let now = OffsetDateTime::now_utc();
        let mut tx = store.begin().await.unwrap();
        let created = store
            .create_person(&mut tx, &person("P-AAAA", "Mia", "Example"), now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(created.data.first_name.as_deref(), Some("Mia"));
        assert!(
            store
                .create_person(&mut tx, &person("P-AAAA", "Other", "Person"), now)
                .await
                .unwrap()
                .is_none()
        );
        tx.commit().await.unwrap();
        let p = store.person("P-AAAA").await.unwrap().unwrap();
        assert_eq!(p.data.first_name.as_deref(), Some("Mia"));
    }
}

#[tokio::test]
async fn a_child_has_one_current_link_and_an_undone_link_keeps_who_when_and_why() {
    for (_db, store) in stores().await {
        let now = OffsetDateTime::now_utc();
        let owner = user(&store, "ref@example.org", Role::Referrer).await;
        let support = user(&store, "bs@example.org", Role::BusinessSupport).await;
        let (r1, _) = submitted(
            &store,
            owner.user_id,
            1,
            "early-help-service",
            &["Mia Example", "Leo Example"],
            now,
        )
        .await;
        let (r2, _) = submitted(
            &store,
            owner.user_id,
            2,
            "early-help-service",
            &["Mia Example"],
            now,
        )
        .await;
        store
            .upsert_persons_batch(
                &[
                    person("100", "Mia", "Example"),
                    person("200", "Mia", "Exemple"),
                ],
                now,
            )
            .await
            .unwrap();

        let mut tx = store.begin().await.unwrap();
        let first = store
            .link_person(&mut tx, r1, 0, "200", support.user_id, now)
            .await
            .unwrap();
        let LinkOutcome::Linked { link_id } = first else {
            panic!("{first:?}")
        };
        assert_eq!(
            store
                .link_person(&mut tx, r1, 0, "100", support.user_id, now)
                .await
                .unwrap(),
            LinkOutcome::ChildAlreadyLinked
        );
        assert_eq!(
            store
                .link_person(&mut tx, r1, 1, "nobody", support.user_id, now)
                .await
                .unwrap(),
            LinkOutcome::NoSuchPerson
        );
        let reason = UnlinkReason::parse("Different date of birth on the school record").unwrap();
        assert!(
            store
                .unlink_person(&mut tx, link_id, support.user_id, &reason, now)
                .await
                .unwrap()
        );
        assert!(
            !store
                .unlink_person(&mut tx, link_id, support.user_id, &reason, now)
                .await
                .unwrap(),
            "an undone link cannot be undone again"
        );
        assert!(matches!(
            store
                .link_person(&mut tx, r1, 0, "100", support.user_id, now)
                .await
                .unwrap(),
            LinkOutcome::Linked { .. }
        ));
        assert!(matches!(
            store
                .link_person(&mut tx, r2, 0, "100", support.user_id, now)
                .await
                .unwrap(),
            LinkOutcome::Linked { .. }
        ));
        tx.commit().await.unwrap();

        let links = store.links_of_referral(r1).await.unwrap();
        assert_eq!(links.len(), 2);
        assert!(!links[0].is_current());
        assert_eq!(links[0].unlinked_by, Some(support.user_id));
        assert_eq!(links[0].unlink_reason.as_deref(), Some(reason.as_str()));
        assert!(links[1].is_current());
        assert_eq!(links[1].person_id, "100");

        let about_100: Vec<i64> = store
            .referrals_of_person("100")
            .await
            .unwrap()
            .iter()
            .map(|r| r.referral_id)
            .collect();
        assert_eq!(about_100.len(), 2);
        assert!(about_100.contains(&r1) && about_100.contains(&r2));
        assert!(
            store.referrals_of_person("200").await.unwrap().is_empty(),
            "undone link"
        );
    }
}

fn decision() -> Decision {
    Decision {
        outcome: Outcome::EarlyHelpService,
        rationale: Rationale::parse("Several needs; the family agree to support").unwrap(),
    }
}

async fn step(store: &Store, referral: i64, t: Transition, actor: Actor) -> bool {
    let state = store.workflow(referral).await.unwrap().unwrap().state();
    let step = apply(&state, t, actor).unwrap();
    let mut tx = store.begin().await.unwrap();
    let ok = store
        .apply_step(&mut tx, referral, &step, OffsetDateTime::now_utc())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    ok
}

#[tokio::test]
async fn the_workflow_runs_from_submitted_to_closed_and_records_every_step() {
    for (_db, store) in stores().await {
        let now = OffsetDateTime::now_utc();
        let owner = user(&store, "ref@example.org", Role::Referrer).await;
        let support = user(&store, "bs@example.org", Role::BusinessSupport).await;
        let worker = user(&store, "sw@example.org", Role::SocialWorker).await;
        let manager = user(&store, "mgr@example.org", Role::Manager).await;
        let (r, _) = submitted(
            &store,
            owner.user_id,
            1,
            "early-help-service",
            &["Mia Example"],
            now,
        )
        .await;

        let w = store.workflow(r).await.unwrap().unwrap();
        assert_eq!(w.status, ReferralStatus::Submitted);
        assert!(w.decision_due_at.is_some());

        assert!(step(&store, r, Transition::StartTriage, support).await);
        let state = store.workflow(r).await.unwrap().unwrap().state();
        let a = allocate(
            &state,
            Assignee {
                user_id: worker.user_id,
                role: Role::SocialWorker,
            },
            support,
        )
        .unwrap();
        let mut tx = store.begin().await.unwrap();
        assert!(store.allocate(&mut tx, r, &a, now).await.unwrap());
        tx.commit().await.unwrap();
        assert!(step(&store, r, Transition::SendForDecision, support).await);
        assert!(step(&store, r, Transition::RecordDecision(decision()), worker).await);
        let w = store.workflow(r).await.unwrap().unwrap();
        assert_eq!(w.status, ReferralStatus::Decided);
        assert_eq!(w.decision_outcome, Some(Outcome::EarlyHelpService));
        assert_eq!(w.decided_by, Some(worker.user_id));

        let comment = ReturnComment::parse("Check who has parental responsibility").unwrap();
        assert!(
            step(
                &store,
                r,
                Transition::ReturnDecision(comment.clone()),
                manager
            )
            .await
        );
        let w = store.workflow(r).await.unwrap().unwrap();
        assert_eq!(w.status, ReferralStatus::AwaitingDecision);
        assert_eq!(w.decision_outcome, None);
        assert_eq!(w.return_comment.as_deref(), Some(comment.as_str()));

        assert!(step(&store, r, Transition::RecordDecision(decision()), worker).await);
        assert!(step(&store, r, Transition::Authorise, manager).await);
        let mut tx = store.begin().await.unwrap();
        store
            .record_outcome_letter(&mut tx, r, manager.user_id, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(step(&store, r, Transition::Close, support).await);

        let w = store.workflow(r).await.unwrap().unwrap();
        assert_eq!(w.status, ReferralStatus::Closed);
        assert_eq!(w.authorised_by, Some(manager.user_id));
        assert!(
            w.feedback_sent_at.is_some() && w.letter_created_at.is_some() && w.closed_at.is_some()
        );

        let events = store.referral_events(r).await.unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "start-triage",
                "allocate",
                "send-for-decision",
                "record-decision",
                "return-decision",
                "record-decision",
                "authorise",
                "outcome-letter",
                "close"
            ]
        );
        assert_eq!(events[0].actor_user_id, Some(support.user_id));
        assert_eq!(events[0].status_from.as_deref(), Some("submitted"));
        assert_eq!(events[0].status_to.as_deref(), Some("in-triage"));
        assert_eq!(events[1].detail["to"], worker.user_id);
        assert_eq!(events[3].detail["outcome"], "early-help-service");
        assert_eq!(events[4].detail["comment"], comment.as_str());
        assert_eq!(events[6].actor_user_id, Some(manager.user_id));
    }
}

#[tokio::test]
async fn two_people_taking_the_same_step_at_once_cannot_both_succeed() {
    for (_db, store) in stores().await {
        let now = OffsetDateTime::now_utc();
        let owner = user(&store, "ref@example.org", Role::Referrer).await;
        let support = user(&store, "bs@example.org", Role::BusinessSupport).await;
        let other = user(&store, "bs2@example.org", Role::BusinessSupport).await;
        let worker = user(&store, "sw@example.org", Role::SocialWorker).await;
        let worker2 = user(&store, "sw2@example.org", Role::SocialWorker).await;
        let (r, _) = submitted(
            &store,
            owner.user_id,
            1,
            "early-help-service",
            &["Mia Example"],
            now,
        )
        .await;

        // Both loaded the referral as submitted and pressed "Start triage".
        let state = store.workflow(r).await.unwrap().unwrap().state();
        let a = apply(&state, Transition::StartTriage, support).unwrap();
        let b = apply(&state, Transition::StartTriage, other).unwrap();
        let mut tx = store.begin().await.unwrap();
        assert!(store.apply_step(&mut tx, r, &a, now).await.unwrap());
        tx.commit().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        assert!(!store.apply_step(&mut tx, r, &b, now).await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(store.referral_events(r).await.unwrap().len(), 1);

        // Both allocated the unallocated referral to different workers.
        let state = store.workflow(r).await.unwrap().unwrap().state();
        let to = |w: Actor| Assignee {
            user_id: w.user_id,
            role: w.role,
        };
        let a = allocate(&state, to(worker), support).unwrap();
        let b = allocate(&state, to(worker2), other).unwrap();
        let mut tx = store.begin().await.unwrap();
        assert!(store.allocate(&mut tx, r, &a, now).await.unwrap());
        assert!(!store.allocate(&mut tx, r, &b, now).await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(
            store.workflow(r).await.unwrap().unwrap().assigned_to,
            Some(worker.user_id)
        );
    }
}

#[tokio::test]
async fn a_decision_checked_before_a_reallocation_is_not_written_after_it() {
    for (_db, store) in stores().await {
        let now = OffsetDateTime::now_utc();
        let owner = user(&store, "ref@example.org", Role::Referrer).await;
        let worker = user(&store, "sw@example.org", Role::SocialWorker).await;
        let worker2 = user(&store, "sw2@example.org", Role::SocialWorker).await;
        let manager = user(&store, "mgr@example.org", Role::Manager).await;
        let (r, _) = submitted(
            &store,
            owner.user_id,
            1,
            "early-help-service",
            &["Mia Example"],
            now,
        )
        .await;
        assert!(step(&store, r, Transition::StartTriage, manager).await);
        let state = store.workflow(r).await.unwrap().unwrap().state();
        let a = allocate(
            &state,
            Assignee {
                user_id: worker.user_id,
                role: worker.role,
            },
            manager,
        )
        .unwrap();
        let mut tx = store.begin().await.unwrap();
        assert!(store.allocate(&mut tx, r, &a, now).await.unwrap());
        tx.commit().await.unwrap();
        assert!(step(&store, r, Transition::SendForDecision, manager).await);

        let state = store.workflow(r).await.unwrap().unwrap().state();
        let decide = apply(&state, Transition::RecordDecision(decision()), worker).unwrap();
        let re = allocate(
            &state,
            Assignee {
                user_id: worker2.user_id,
                role: worker2.role,
            },
            manager,
        )
        .unwrap();
        let mut tx = store.begin().await.unwrap();
        assert!(store.allocate(&mut tx, r, &re, now).await.unwrap());
        tx.commit().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        assert!(!store.apply_step(&mut tx, r, &decide, now).await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(
            store.workflow(r).await.unwrap().unwrap().status,
            ReferralStatus::AwaitingDecision
        );
    }
}

#[tokio::test]
async fn the_work_tray_filters_sorts_searches_and_pages() {
    for (_db, store) in stores().await {
        let base = OffsetDateTime::now_utc() - Duration::days(10);
        let owner = user(&store, "ref@example.org", Role::Referrer).await;
        let worker = user(&store, "sw@example.org", Role::SocialWorker).await;
        let manager = user(&store, "mgr@example.org", Role::Manager).await;
        // A draft never shows.
        store
            .create_draft("draft-1", owner.user_id, &Default::default(), base)
            .await
            .unwrap();
        let mut ids = Vec::new();
        for i in 0..12u64 {
            let service = if i % 3 == 0 {
                "childrens-social-care"
            } else {
                "early-help-service"
            };
            let name = if i == 5 {
                "Zoë O’Neill".to_string()
            } else {
                format!("Child{i} Example")
            };
            let (id, reference) = submitted(
                &store,
                owner.user_id,
                i,
                service,
                &[name.as_str()],
                base + Duration::hours(i as i64),
            )
            .await;
            ids.push((id, reference));
        }
        // Two in triage, one of them allocated.
        for (id, _) in &ids[..2] {
            assert!(step(&store, *id, Transition::StartTriage, manager).await);
        }
        let state = store.workflow(ids[0].0).await.unwrap().unwrap().state();
        let a = allocate(
            &state,
            Assignee {
                user_id: worker.user_id,
                role: worker.role,
            },
            manager,
        )
        .unwrap();
        let mut tx = store.begin().await.unwrap();
        assert!(store.allocate(&mut tx, ids[0].0, &a, base).await.unwrap());
        tx.commit().await.unwrap();

        let all = store
            .work_tray(&TrayFilter::default(), TraySort::Received, false, 5, 0)
            .await
            .unwrap();
        assert_eq!(all.total, 12);
        assert_eq!(all.rows.len(), 5);
        assert_eq!(all.rows[0].id, ids[0].0, "oldest first");
        let page3 = store
            .work_tray(&TrayFilter::default(), TraySort::Received, false, 5, 10)
            .await
            .unwrap();
        assert_eq!(page3.rows.len(), 2);
        assert_eq!(page3.rows[1].id, ids[11].0);
        let newest = store
            .work_tray(&TrayFilter::default(), TraySort::Received, true, 1, 0)
            .await
            .unwrap();
        assert_eq!(newest.rows[0].id, ids[11].0);

        let in_triage = TrayFilter {
            statuses: vec![ReferralStatus::InTriage],
            ..Default::default()
        };
        assert_eq!(
            store
                .work_tray(&in_triage, TraySort::Received, false, 50, 0)
                .await
                .unwrap()
                .total,
            2
        );
        let social_care = TrayFilter {
            service: Some("childrens-social-care".into()),
            ..Default::default()
        };
        assert_eq!(
            store
                .work_tray(&social_care, TraySort::Received, false, 50, 0)
                .await
                .unwrap()
                .total,
            4
        );
        let mine = TrayFilter {
            assigned: Some(AssignedFilter::To(worker.user_id)),
            ..Default::default()
        };
        let mine = store
            .work_tray(&mine, TraySort::Received, false, 50, 0)
            .await
            .unwrap();
        assert_eq!(mine.total, 1);
        assert_eq!(mine.rows[0].assigned_name.as_deref(), Some("Test Person"));
        let unassigned = TrayFilter {
            assigned: Some(AssignedFilter::Unassigned),
            ..Default::default()
        };
        assert_eq!(
            store
                .work_tray(&unassigned, TraySort::Received, false, 50, 0)
                .await
                .unwrap()
                .total,
            11
        );

        // Due one day after receipt: at base + 1 day + 3.5 hours, referrals 0..=3 are overdue.
        let overdue = TrayFilter {
            overdue_at: Some(base + Duration::days(1) + Duration::minutes(210)),
            ..Default::default()
        };
        assert_eq!(
            store
                .work_tray(&overdue, TraySort::Due, false, 50, 0)
                .await
                .unwrap()
                .total,
            4
        );

        let by_name = TrayFilter {
            search: Some("zoe o'neill".into()),
            ..Default::default()
        };
        let found = store
            .work_tray(&by_name, TraySort::Received, false, 50, 0)
            .await
            .unwrap();
        assert_eq!(found.total, 1);
        assert_eq!(found.rows[0].child_display.as_deref(), Some("Zoë O’Neill"));
        let part = TrayFilter {
            search: Some("CHILD1".into()),
            ..Default::default()
        };
        assert_eq!(
            store
                .work_tray(&part, TraySort::Received, false, 50, 0)
                .await
                .unwrap()
                .total,
            3,
            "Child1, Child10, Child11"
        );
        let literal = TrayFilter {
            search: Some("%".into()),
            ..Default::default()
        };
        assert_eq!(
            store
                .work_tray(&literal, TraySort::Received, false, 50, 0)
                .await
                .unwrap()
                .total,
            0
        );
        let reference = ids[7].1.to_lowercase().replace('-', " ");
        let by_ref = TrayFilter {
            search: Some(reference),
            ..Default::default()
        };
        let found = store
            .work_tray(&by_ref, TraySort::Received, false, 50, 0)
            .await
            .unwrap();
        assert_eq!((found.total, found.rows[0].id), (1, ids[7].0));

        let by_status = store
            .work_tray(&TrayFilter::default(), TraySort::Status, true, 2, 0)
            .await
            .unwrap();
        assert!(
            by_status
                .rows
                .iter()
                .all(|r| r.status == ReferralStatus::InTriage)
        );
        let by_reference = store
            .work_tray(&TrayFilter::default(), TraySort::Reference, false, 50, 0)
            .await
            .unwrap();
        let refs: Vec<String> = by_reference
            .rows
            .iter()
            .map(|r| r.reference.clone().unwrap())
            .collect();
        let mut sorted = refs.clone();
        sorted.sort();
        assert_eq!(refs, sorted);
    }
}

fn entry<'a>(actor: Option<i64>, action: &'a str, object_id: &'a str) -> AuditEntry<'a> {
    AuditEntry {
        actor_user_id: actor,
        action,
        object_type: "referral",
        object_id,
        outcome: "success",
        ip: "192.0.2.1",
    }
}

/// What someone with database access would run to change the log behind the portal's back.
async fn tamper(db: &TestDb, store: &Store, sql: &str) {
    use sqlx::Executor;
    let disable = match db.backend {
        Backend::Sqlite => {
            "DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete;"
        }
        Backend::Postgres => "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change;",
    };
    store.pool().execute(disable).await.unwrap();
    store.pool().execute(sql).await.unwrap();
}

async fn write_log(store: &Store, n: i64) {
    let t0 = OffsetDateTime::now_utc();
    for i in 0..n {
        let id = i.to_string();
        store
            .audit(
                &entry(Some(1), "view-referral", &id),
                t0 + Duration::seconds(i),
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn an_untouched_audit_log_verifies() {
    for (_db, store) in stores().await {
        let empty = store.verify_audit_chain().await.unwrap();
        assert_eq!((empty.rows, empty.first_broken), (0, None));
        write_log(&store, 5).await;
        let report = store.verify_audit_chain().await.unwrap();
        assert_eq!(report.rows, 5);
        assert_eq!(report.first_broken, None);
        assert_eq!(report.head.len(), 64);
        assert_ne!(report.head, empty.head);
    }
}

#[tokio::test]
async fn an_edited_audit_row_is_named() {
    for (db, store) in stores().await {
        write_log(&store, 5).await;
        let third = store
            .search_audit(&AuditFilter::default(), 10, 0)
            .await
            .unwrap()
            .rows[2]
            .id;
        tamper(
            &db,
            &store,
            &format!("UPDATE audit_log SET actor_user_id = 99 WHERE id = {third}"),
        )
        .await;
        let broken = store
            .verify_audit_chain()
            .await
            .unwrap()
            .first_broken
            .unwrap();
        assert_eq!(broken.id, third, "{broken:?}");
        assert!(broken.reason.contains("changed"), "{}", broken.reason);
    }
}

#[tokio::test]
async fn a_deleted_audit_row_is_detected_at_the_next_row() {
    for (db, store) in stores().await {
        write_log(&store, 5).await;
        let rows = store
            .search_audit(&AuditFilter::default(), 10, 0)
            .await
            .unwrap()
            .rows;
        let (deleted, next) = (rows[2].id, rows[1].id);
        tamper(
            &db,
            &store,
            &format!("DELETE FROM audit_log WHERE id = {deleted}"),
        )
        .await;
        let broken = store
            .verify_audit_chain()
            .await
            .unwrap()
            .first_broken
            .unwrap();
        assert_eq!(broken.id, next, "{broken:?}");
        assert!(broken.reason.contains("deleted"), "{}", broken.reason);
    }
}

#[tokio::test]
async fn rows_written_before_the_chain_are_covered_by_it() {
    for (db, store) in stores().await {
        // Rows as the portal wrote them before migration 0005: no hashes.
        tamper(&db, &store, "INSERT INTO audit_log (at, actor_user_id, action, object_type, object_id, outcome, ip) \
             VALUES (1, 1, 'sign-in', 'user', '1', 'success', ''), (2, NULL, 'sign-in', 'user', 'unknown', 'refused', '')").await;
        write_log(&store, 2).await;
        let report = store.verify_audit_chain().await.unwrap();
        assert_eq!((report.rows, report.first_broken), (4, None));
        tamper(
            &db,
            &store,
            "UPDATE audit_log SET outcome = 'success' WHERE at = 2",
        )
        .await;
        let broken = store
            .verify_audit_chain()
            .await
            .unwrap()
            .first_broken
            .unwrap();
        assert!(broken.reason.contains("previous hash"), "{broken:?}");
    }
}

#[tokio::test]
async fn concurrent_audit_writes_form_one_chain() {
    for (_db, store) in stores().await {
        let mut tasks = Vec::new();
        for t in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..15 {
                    let id = format!("{t}-{i}");
                    if i % 2 == 0 {
                        store
                            .audit(
                                &entry(Some(t), "view-referral", &id),
                                OffsetDateTime::now_utc(),
                            )
                            .await
                            .unwrap();
                    } else {
                        let mut tx = store.begin().await.unwrap();
                        store
                            .audit_tx(
                                &mut tx,
                                &entry(Some(t), "save", &id),
                                OffsetDateTime::now_utc(),
                            )
                            .await
                            .unwrap();
                        tx.commit().await.unwrap();
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let report = store.verify_audit_chain().await.unwrap();
        assert_eq!((report.rows, report.first_broken), (120, None));
    }
}

#[tokio::test]
async fn a_rolled_back_audit_record_leaves_the_chain_intact() {
    for (_db, store) in stores().await {
        write_log(&store, 2).await;
        let mut tx = store.begin().await.unwrap();
        store
            .audit_tx(
                &mut tx,
                &entry(Some(1), "x", "1"),
                OffsetDateTime::now_utc(),
            )
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        write_log(&store, 2).await;
        let report = store.verify_audit_chain().await.unwrap();
        assert_eq!((report.rows, report.first_broken), (4, None));
    }
}

#[tokio::test]
async fn the_audit_search_filters_by_user_object_and_date_and_pages() {
    for (_db, store) in stores().await {
        // Whole seconds: stored times are milliseconds.
        let t0 = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - Duration::days(3);
        for (i, (actor, otype, oid)) in [
            (Some(1), "referral", "10"),
            (Some(2), "referral", "10"),
            (Some(1), "person", "P-1"),
            (None, "user", "unknown"),
            (Some(1), "referral", "11"),
        ]
        .into_iter()
        .enumerate()
        {
            store
                .audit(
                    &AuditEntry {
                        actor_user_id: actor,
                        action: "view",
                        object_type: otype,
                        object_id: oid,
                        outcome: "success",
                        ip: "",
                    },
                    t0 + Duration::days(i as i64 / 2),
                )
                .await
                .unwrap();
        }
        let by_user = AuditFilter {
            user_id: Some(1),
            ..Default::default()
        };
        let page = store.search_audit(&by_user, 2, 0).await.unwrap();
        assert_eq!(page.total, 3);
        assert_eq!(page.rows.len(), 2);
        assert_eq!(page.rows[0].object_id, "11", "newest first");
        assert_eq!(
            store.search_audit(&by_user, 2, 2).await.unwrap().rows.len(),
            1
        );
        // Past the end: no rows, the total still told.
        let past = store.search_audit(&by_user, 2, 3).await.unwrap();
        assert_eq!((past.rows.len(), past.total), (0, 3));
        let far = store.search_audit(&by_user, 100, 99_999_900).await.unwrap();
        assert_eq!((far.rows.len(), far.total), (0, 3));
        let referral = AuditFilter {
            object_type: Some("referral".into()),
            object_id: Some("10".into()),
            ..Default::default()
        };
        assert_eq!(store.search_audit(&referral, 50, 0).await.unwrap().total, 2);
        let person = AuditFilter {
            object_type: Some("person".into()),
            object_id: Some("P-1".into()),
            ..Default::default()
        };
        assert_eq!(store.search_audit(&person, 50, 0).await.unwrap().total, 1);
        let day_two = AuditFilter {
            from: Some(t0 + Duration::days(1)),
            to: Some(t0 + Duration::days(2)),
            ..Default::default()
        };
        let rows = store.search_audit(&day_two, 50, 0).await.unwrap().rows;
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.at >= t0 + Duration::days(1)));
        assert_eq!(store.list_audit(50, 0).await.unwrap().len(), 5);
    }
}

#[tokio::test]
async fn workflow_state_rules_match_what_storage_reads_back() {
    // The domain check uses the stored state: a social worker cannot decide a referral
    // allocated to someone else, whatever the page offered.
    for (_db, store) in stores().await {
        let now = OffsetDateTime::now_utc();
        let owner = user(&store, "ref@example.org", Role::Referrer).await;
        let worker = user(&store, "sw@example.org", Role::SocialWorker).await;
        let other = user(&store, "sw2@example.org", Role::SocialWorker).await;
        let manager = user(&store, "mgr@example.org", Role::Manager).await;
        let (r, _) = submitted(
            &store,
            owner.user_id,
            1,
            "early-help-service",
            &["Mia Example"],
            now,
        )
        .await;
        assert!(step(&store, r, Transition::StartTriage, manager).await);
        let state = store.workflow(r).await.unwrap().unwrap().state();
        let a = allocate(
            &state,
            Assignee {
                user_id: worker.user_id,
                role: worker.role,
            },
            manager,
        )
        .unwrap();
        let mut tx = store.begin().await.unwrap();
        assert!(store.allocate(&mut tx, r, &a, now).await.unwrap());
        tx.commit().await.unwrap();
        assert!(step(&store, r, Transition::SendForDecision, manager).await);
        let state: WorkflowState = store.workflow(r).await.unwrap().unwrap().state();
        assert_eq!(state.assigned_to, Some(worker.user_id));
        assert!(apply(&state, Transition::RecordDecision(decision()), other).is_err());
    }
}

/// The tray's unfiltered totals come from counts the database keeps by trigger; they must
/// agree with a count of the referrals themselves after submissions, steps and deletions.
#[tokio::test]
async fn the_trays_kept_counts_agree_with_the_referrals() {
    for (_db, store) in stores().await {
        let base = OffsetDateTime::now_utc() - Duration::days(3);
        let owner = user(&store, "ref@example.org", Role::Referrer).await;
        let manager = user(&store, "mgr@example.org", Role::Manager).await;
        store
            .create_draft("draft-only", owner.user_id, &Default::default(), base)
            .await
            .unwrap();
        let mut ids = Vec::new();
        for i in 0..6u64 {
            let (id, _) = submitted(
                &store,
                owner.user_id,
                100 + i,
                "early-help-service",
                &["Ava Example"],
                base + Duration::minutes(i as i64),
            )
            .await;
            ids.push(id);
        }
        for id in &ids[..3] {
            assert!(step(&store, *id, Transition::StartTriage, manager).await);
        }
        // A referral removed (as the purge does) leaves the counts.
        sqlx::query("DELETE FROM referral_events WHERE referral_id = $1")
            .bind(ids[5])
            .execute(store.pool())
            .await
            .unwrap();
        sqlx::query("DELETE FROM referrals WHERE id = $1")
            .bind(ids[5])
            .execute(store.pool())
            .await
            .unwrap();

        let counted = |status: Option<&'static str>| {
            let store = store.clone();
            async move {
                let row = match status {
                    Some(s) => sqlx::query("SELECT COUNT(*) AS n FROM referrals WHERE status = $1")
                        .bind(s)
                        .fetch_one(store.pool())
                        .await
                        .unwrap(),
                    None => {
                        sqlx::query("SELECT COUNT(*) AS n FROM referrals WHERE status <> 'draft'")
                            .fetch_one(store.pool())
                            .await
                            .unwrap()
                    }
                };
                sqlx::Row::try_get::<i64, _>(&row, "n").unwrap()
            }
        };
        let all = store
            .work_tray(&TrayFilter::default(), TraySort::Received, false, 50, 0)
            .await
            .unwrap();
        assert_eq!(all.total, counted(None).await);
        assert_eq!(all.total, 5);
        assert_eq!(all.rows.len(), 5);
        for status in ReferralStatus::IN_TRAY {
            let only = TrayFilter {
                statuses: vec![status],
                ..Default::default()
            };
            let page = store
                .work_tray(&only, TraySort::Received, false, 50, 0)
                .await
                .unwrap();
            assert_eq!(page.total, counted(Some(status.code())).await, "{status:?}");
            assert_eq!(page.total, page.rows.len() as i64, "{status:?}");
        }

        // Worker and service filters come from the kept counts too.
        let worker = user(&store, "sw-counts@example.org", Role::SocialWorker).await;
        let state = store.workflow(ids[0]).await.unwrap().unwrap().state();
        let a = allocate(
            &state,
            Assignee {
                user_id: worker.user_id,
                role: worker.role,
            },
            manager,
        )
        .unwrap();
        let mut tx = store.begin().await.unwrap();
        assert!(store.allocate(&mut tx, ids[0], &a, base).await.unwrap());
        tx.commit().await.unwrap();
        for (filter, expected) in [
            (
                TrayFilter {
                    assigned: Some(AssignedFilter::To(worker.user_id)),
                    ..Default::default()
                },
                1,
            ),
            (
                TrayFilter {
                    assigned: Some(AssignedFilter::Unassigned),
                    ..Default::default()
                },
                4,
            ),
            (
                TrayFilter {
                    service: Some("early-help-service".into()),
                    assigned: Some(AssignedFilter::Unassigned),
                    statuses: vec![ReferralStatus::InTriage],
                    ..Default::default()
                },
                2,
            ),
            (
                TrayFilter {
                    service: Some("childrens-social-care".into()),
                    ..Default::default()
                },
                0,
            ),
            // Due a day after receipt, received a minute apart: three due by then.
            (
                TrayFilter {
                    overdue_at: Some(base + Duration::days(1) + Duration::seconds(150)),
                    ..Default::default()
                },
                3,
            ),
            (
                TrayFilter {
                    overdue_at: Some(base + Duration::days(1) + Duration::seconds(150)),
                    service: Some("early-help-service".into()),
                    assigned: Some(AssignedFilter::Unassigned),
                    ..Default::default()
                },
                2,
            ),
            (
                TrayFilter {
                    overdue_at: Some(base + Duration::days(1) + Duration::seconds(150)),
                    statuses: vec![ReferralStatus::Submitted],
                    ..Default::default()
                },
                0,
            ),
        ] {
            let page = store
                .work_tray(&filter, TraySort::Received, false, 50, 0)
                .await
                .unwrap();
            assert_eq!(page.total, expected, "{filter:?}");
            assert_eq!(page.rows.len() as i64, expected, "{filter:?}");
        }

        // Status order, page by page across the statuses' boundaries (submitted before in
        // triage; oldest first within a status; descending puts in triage first).
        for (descending, expected) in [
            (false, vec![ids[3], ids[4], ids[0], ids[1], ids[2]]),
            (true, vec![ids[0], ids[1], ids[2], ids[3], ids[4]]),
        ] {
            let mut seen = Vec::new();
            for offset in (0..6).step_by(2) {
                let page = store
                    .work_tray(
                        &TrayFilter::default(),
                        TraySort::Status,
                        descending,
                        2,
                        offset,
                    )
                    .await
                    .unwrap();
                assert_eq!(page.total, 5);
                seen.extend(page.rows.iter().map(|r| r.id));
            }
            assert_eq!(seen, expected, "descending: {descending}");
        }

        // Two statuses in order received, page by page (merged from each status's index).
        let two = TrayFilter {
            statuses: vec![ReferralStatus::Submitted, ReferralStatus::InTriage],
            ..Default::default()
        };
        for (descending, expected) in [
            (false, vec![ids[0], ids[1], ids[2], ids[3], ids[4]]),
            (true, vec![ids[4], ids[3], ids[2], ids[1], ids[0]]),
        ] {
            let mut seen = Vec::new();
            for offset in (0..6).step_by(2) {
                let page = store
                    .work_tray(&two, TraySort::Received, descending, 2, offset)
                    .await
                    .unwrap();
                assert_eq!(page.total, 5);
                seen.extend(page.rows.iter().map(|r| r.id));
            }
            assert_eq!(seen, expected, "received, descending: {descending}");
        }
        // "Waiting too long" in order received, page by page (each waiting status walked
        // in order, the due time tested on the way), alone and with a status filter.
        // Due by then: the three in triage and the first submitted one.
        let late = base + Duration::days(1) + Duration::seconds(210);
        for (statuses, descending, expected) in [
            (vec![], false, vec![ids[0], ids[1], ids[2], ids[3]]),
            (vec![], true, vec![ids[3], ids[2], ids[1], ids[0]]),
            (
                vec![ReferralStatus::InTriage, ReferralStatus::Closed],
                false,
                vec![ids[0], ids[1], ids[2]],
            ),
            (vec![ReferralStatus::Closed], false, vec![]),
        ] {
            let filter = TrayFilter {
                statuses: statuses.clone(),
                overdue_at: Some(late),
                ..Default::default()
            };
            let mut seen = Vec::new();
            for offset in (0..6).step_by(2) {
                let page = store
                    .work_tray(&filter, TraySort::Received, descending, 2, offset)
                    .await
                    .unwrap();
                assert_eq!(page.total, expected.len() as i64, "{statuses:?}");
                seen.extend(page.rows.iter().map(|r| r.id));
            }
            assert_eq!(
                seen, expected,
                "overdue {statuses:?}, descending: {descending}"
            );
        }
        // In reference order: every referral in the tray, once.
        let by_reference = store
            .work_tray(&TrayFilter::default(), TraySort::Reference, false, 50, 0)
            .await
            .unwrap();
        let mut listed: Vec<i64> = by_reference.rows.iter().map(|r| r.id).collect();
        let refs: Vec<String> = by_reference
            .rows
            .iter()
            .map(|r| r.reference.clone().unwrap_or_default())
            .collect();
        let mut sorted = refs.clone();
        sorted.sort();
        assert_eq!(refs, sorted);
        listed.sort();
        let mut all = ids[..5].to_vec();
        all.sort();
        assert_eq!(listed, all);
    }
}

/// Name search: each word typed begins a word of a child's name, in any order, accents
/// and case folded; the words follow the names when they are set again.
#[tokio::test]
async fn the_tray_finds_children_by_the_start_of_each_name() {
    for (_db, store) in stores().await {
        let base = OffsetDateTime::now_utc() - Duration::days(2);
        let owner = user(&store, "ref@example.org", Role::Referrer).await;
        let (zoe, _) = submitted(
            &store,
            owner.user_id,
            201,
            "early-help-service",
            &["Zoë O’Neill", "Sam Example"],
            base,
        )
        .await;
        let (other, _) = submitted(
            &store,
            owner.user_id,
            202,
            "early-help-service",
            &["Samuel Oneto"],
            base + Duration::minutes(1),
        )
        .await;
        let search = |q: &'static str| {
            let store = store.clone();
            async move {
                let filter = TrayFilter {
                    search: Some(q.into()),
                    ..Default::default()
                };
                let mut ids: Vec<i64> = store
                    .work_tray(&filter, TraySort::Received, false, 50, 0)
                    .await
                    .unwrap()
                    .rows
                    .iter()
                    .map(|r| r.id)
                    .collect();
                ids.sort();
                ids
            }
        };
        // Two words of one referral in the range of one search word: listed and counted once.
        let (twice, _) = submitted(
            &store,
            owner.user_id,
            203,
            "early-help-service",
            &["Sam Samson"],
            base + Duration::minutes(2),
        )
        .await;
        let newest_first = |q: &'static str| {
            let store = store.clone();
            async move {
                let filter = TrayFilter {
                    search: Some(q.into()),
                    ..Default::default()
                };
                let page = store
                    .work_tray(&filter, TraySort::Received, true, 50, 0)
                    .await
                    .unwrap();
                (
                    page.total,
                    page.rows.iter().map(|r| r.id).collect::<Vec<i64>>(),
                )
            }
        };
        assert_eq!(newest_first("sams").await, (1, vec![twice]));
        assert_eq!(
            newest_first("sam").await,
            (3, vec![twice, other, zoe]),
            "newest first, once each"
        );
        // Page by page, both ways: the same referrals in the same order, once each.
        for (descending, expected) in [
            (true, vec![twice, other, zoe]),
            (false, vec![zoe, other, twice]),
        ] {
            let mut seen = Vec::new();
            for offset in 0..4 {
                let page = store
                    .work_tray(
                        &TrayFilter {
                            search: Some("sam".into()),
                            ..Default::default()
                        },
                        TraySort::Received,
                        descending,
                        1,
                        offset,
                    )
                    .await
                    .unwrap();
                assert_eq!(page.total, 3);
                seen.extend(page.rows.iter().map(|r| r.id));
            }
            assert_eq!(seen, expected, "descending: {descending}");
        }
        sqlx::query("DELETE FROM referral_name_words WHERE referral_id = $1")
            .bind(twice)
            .execute(store.pool())
            .await
            .unwrap();

        assert_eq!(search("zoe").await, vec![zoe]);
        assert_eq!(search("ONEILL zo").await, vec![zoe], "any order, any case");
        assert_eq!(
            search("sam").await,
            vec![zoe, other],
            "a second child's name counts"
        );
        assert_eq!(search("sam one").await, vec![zoe, other]);
        assert_eq!(search("samu").await, vec![other]);
        assert!(
            search("neill").await.is_empty(),
            "words are matched from their start"
        );
        assert!(
            search("zoe oneto").await.is_empty(),
            "every word must match"
        );
        assert!(search("%").await.is_empty());

        // Names set again (a corrected submission): the old words go.
        let mut tx = store.begin().await.unwrap();
        store
            .set_tray_fields(
                &mut tx,
                other,
                &["Theo Hartley".to_string()],
                "2018-01-01",
                base + Duration::days(1),
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(search("samu").await, Vec::<i64>::new());
        assert_eq!(search("hart").await, vec![other]);

        // A typed word that begins many different names (more than are walked one by one)
        // finds them all the same, newest first, page by page.
        let mut many = Vec::new();
        for (i, letter) in ('a'..='l').enumerate() {
            let (id, _) = submitted(
                &store,
                owner.user_id,
                300 + i as u64,
                "early-help-service",
                &[&format!("Kit Bel{letter}")],
                base + Duration::minutes(10 + i as i64),
            )
            .await;
            many.push(id);
        }
        many.reverse();
        for q in ["bel", "kit", "kit bel"] {
            let mut seen = Vec::new();
            for offset in (0..15).step_by(5) {
                let page = store
                    .work_tray(
                        &TrayFilter {
                            search: Some(q.into()),
                            ..Default::default()
                        },
                        TraySort::Received,
                        true,
                        5,
                        offset,
                    )
                    .await
                    .unwrap();
                assert_eq!(page.total, 12, "{q}");
                seen.extend(page.rows.iter().map(|r| r.id));
            }
            assert_eq!(seen, many, "{q}");
        }
        assert_eq!(newest_first("belc").await, (1, vec![many[9]]));
        // Several words where a later one is the rare one (it drives the search): the
        // same answer whichever order they are typed in.
        for q in ["kit belc", "belc kit", "k belc", "belc k"] {
            assert_eq!(newest_first(q).await, (1, vec![many[9]]), "{q}");
        }
        assert_eq!(newest_first("k belx").await, (0, vec![]));

        // A referral deleted takes its words with it, and the kept count of each word
        // (the one-word total) follows every change above.
        sqlx::query("DELETE FROM referrals WHERE id = $1")
            .bind(many[0])
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(newest_first("kit").await, (11, many[1..].to_vec()));
        let pairs = |sql: &'static str| {
            let store = store.clone();
            async move {
                sqlx::query(sql)
                    .fetch_all(store.pool())
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| {
                        use sqlx::Row;
                        (r.get::<String, _>("word"), r.get::<i64, _>("n"))
                    })
                    .collect::<Vec<_>>()
            }
        };
        let kept = pairs("SELECT word, n FROM referral_name_word_counts ORDER BY word").await;
        let counted = pairs(
            "SELECT word, COUNT(*) AS n FROM referral_name_words GROUP BY word ORDER BY word",
        )
        .await;
        assert!(kept.iter().any(|(w, n)| w == "kit" && *n == 11));
        assert_eq!(kept, counted);
    }
}

#[tokio::test]
async fn accounts_are_listed_by_role_without_the_others() {
    for (db, store) in stores().await {
        let b = db.backend;
        let worker = user(&store, "sw@example.org", Role::SocialWorker).await;
        let manager = user(&store, "mgr@example.org", Role::Manager).await;
        let _support = user(&store, "bs@example.org", Role::BusinessSupport).await;
        for i in 0..5 {
            user(&store, &format!("teacher{i}@example.org"), Role::Referrer).await;
        }
        store.set_disabled(manager.user_id, true).await.unwrap();

        let listed = store
            .users_with_roles(&[Role::SocialWorker, Role::Manager])
            .await
            .unwrap();
        let ids: Vec<(i64, Role, bool)> =
            listed.iter().map(|u| (u.id, u.role, u.disabled)).collect();
        assert_eq!(
            ids,
            vec![
                (worker.user_id, Role::SocialWorker, false),
                (manager.user_id, Role::Manager, true)
            ],
            "{b:?}"
        );
        let referrers = store.users_with_roles(&[Role::Referrer]).await.unwrap();
        assert_eq!(referrers.len(), 5, "{b:?}");
        assert!(
            store.users_with_roles(&[]).await.unwrap().is_empty(),
            "{b:?}"
        );
    }
}

#[tokio::test]
async fn accounts_are_searched_by_email_or_name_and_paged_staff_first() {
    for (db, store) in stores().await {
        let b = db.backend;
        for i in 0..5 {
            user(&store, &format!("teacher{i}@example.org"), Role::Referrer).await;
        }
        user(&store, "sw@example.org", Role::SocialWorker).await;
        user(&store, "ada.admin@example.org", Role::Admin).await;

        let (all, total) = store.search_users(None, 50, 0).await.unwrap();
        assert_eq!(total, 7, "{b:?}");
        let emails: Vec<&str> = all.iter().map(|u| u.email.as_str()).collect();
        assert_eq!(
            emails,
            [
                "ada.admin@example.org",
                "sw@example.org",
                "teacher0@example.org",
                "teacher1@example.org",
                "teacher2@example.org",
                "teacher3@example.org",
                "teacher4@example.org"
            ],
            "{b:?}: staff first"
        );

        let (page, total) = store.search_users(None, 3, 3).await.unwrap();
        let emails: Vec<&str> = page.iter().map(|u| u.email.as_str()).collect();
        assert_eq!(
            emails,
            [
                "teacher1@example.org",
                "teacher2@example.org",
                "teacher3@example.org"
            ],
            "{b:?}"
        );
        assert_eq!(total, 7, "{b:?}");

        let (found, total) = store.search_users(Some(" TEACHER3 "), 50, 0).await.unwrap();
        assert_eq!(
            (found.len(), total),
            (1, 1),
            "{b:?}: case and spaces ignored"
        );
        assert_eq!(found[0].email, "teacher3@example.org", "{b:?}");
        // By name (every test account is "Test Person").
        let (_, total) = store.search_users(Some("test pers"), 50, 0).await.unwrap();
        assert_eq!(total, 7, "{b:?}");
        // LIKE's wildcards are searched for as themselves.
        for wild in ["%", "_", "teacher_", "\\"] {
            let (found, total) = store.search_users(Some(wild), 50, 0).await.unwrap();
            assert_eq!((found.len(), total), (0, 0), "{b:?}: {wild}");
        }
    }
}
