//! The repository layer against real databases: SQLite always, PostgreSQL when the test
//! script started one (EHM_TEST_POSTGRES_URL). Both backends pass the same tests.

use ehm_domain::account::{Email, Role};
use ehm_domain::referral::{ReferenceNumber, ReferralDraft, ReferralType};
use ehm_storage::{
    AuditEntry, CodeAttempt, CodePurpose, Gate, NewMail, NewUser, StorageError, Store, from_ms,
    to_ms,
};
mod common;

use common::page_view;
use ehm_testkit::{TestDb, backends};
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

/// A signed-in session row of `user`, begun at `now`.
fn signed_in(id_hash: &str, user: i64, now: OffsetDateTime) -> ehm_storage::SessionRow {
    ehm_storage::SessionRow {
        id_hash: id_hash.into(),
        user_id: Some(user),
        stage: "signed-in".into(),
        csrf_token: "t".into(),
        data: "{}".into(),
        created_at: now,
        last_seen_at: now,
    }
}

async fn user(store: &Store, email: &str) -> i64 {
    let email = Email::parse(email).unwrap();
    let mut tx = store.begin().await.unwrap();
    let id = store
        .create_user(
            &mut tx,
            NewUser {
                email: &email,
                display_name: "Test Person",
                role: Role::Referrer,
                password_hash: "x",
                verified: false,
            },
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

#[tokio::test]
async fn one_account_per_email_address() {
    for (_db, store) in stores().await {
        user(&store, "one@example.org").await;
        let email = Email::parse("ONE@example.org").unwrap();
        let mut tx = store.begin().await.unwrap();
        let again = store
            .create_user(
                &mut tx,
                NewUser {
                    email: &email,
                    display_name: "Again",
                    role: Role::Referrer,
                    password_hash: "x",
                    verified: false,
                },
                OffsetDateTime::now_utc(),
            )
            .await;
        assert!(matches!(again, Err(StorageError::EmailTaken)), "{again:?}");
    }
}

#[tokio::test]
async fn a_code_is_consumed_once_and_a_new_code_retires_the_old() {
    for (_db, store) in stores().await {
        let id = user(&store, "codes@example.org").await;
        let now = OffsetDateTime::now_utc();
        let mut tx = store.begin().await.unwrap();
        let first = store
            .issue_code(
                &mut tx,
                id,
                CodePurpose::SignIn,
                "h1",
                now,
                now + Duration::minutes(10),
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let second = store
            .issue_code(
                &mut tx,
                id,
                CodePurpose::SignIn,
                "h2",
                now,
                now + Duration::minutes(10),
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            store
                .current_code(id, CodePurpose::SignIn)
                .await
                .unwrap()
                .unwrap()
                .id,
            second
        );
        assert!(
            store
                .current_code(id, CodePurpose::VerifyEmail)
                .await
                .unwrap()
                .is_none(),
            "purposes are separate"
        );
        let mut tx = store.begin().await.unwrap();
        assert!(
            !store.consume_code(&mut tx, first, now).await.unwrap(),
            "a retired code was consumed"
        );
        assert!(store.consume_code(&mut tx, second, now).await.unwrap());
        assert!(
            !store.consume_code(&mut tx, second, now).await.unwrap(),
            "a code was consumed twice"
        );
        tx.commit().await.unwrap();
        assert_eq!(
            store
                .reserve_code_attempt(id, CodePurpose::SignIn, 5, now)
                .await
                .unwrap(),
            CodeAttempt::NoCode,
            "a used code cannot be tried"
        );
    }
}

#[tokio::test]
async fn the_outbox_hands_each_message_to_exactly_one_worker() {
    for (db, store) in stores().await {
        let now = OffsetDateTime::now_utc();
        let mut tx = store.begin().await.unwrap();
        for i in 0..20 {
            let id = format!("m{i}");
            store
                .enqueue_mail(
                    &mut tx,
                    NewMail {
                        message_id: &id,
                        to: "q@example.org",
                        subject: "s",
                        body_text: "b",
                        body_html: None,
                    },
                    now,
                )
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        // Four workers, each with its own connection pool, as separate instances would have.
        let mut handles = Vec::new();
        for _ in 0..4 {
            let s = Store::connect(&db.url).await.unwrap();
            handles.push(tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(m) = s
                    .claim_mail(OffsetDateTime::now_utc(), Duration::minutes(2))
                    .await
                    .unwrap()
                {
                    got.push(m.message_id.clone());
                    s.mark_mail_sent(m.id, OffsetDateTime::now_utc())
                        .await
                        .unwrap();
                }
                got
            }));
        }
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.unwrap());
        }
        all.sort();
        let mut unique = all.clone();
        unique.dedup();
        assert_eq!(all.len(), 20, "{:?}: {all:?}", db.backend);
        assert_eq!(
            unique.len(),
            20,
            "{:?}: a message was claimed twice",
            db.backend
        );
    }
}

#[tokio::test]
async fn a_failed_message_waits_for_its_retry_time_and_an_expired_lease_is_reclaimed() {
    for (_db, store) in stores().await {
        let now = OffsetDateTime::now_utc();
        let mut tx = store.begin().await.unwrap();
        store
            .enqueue_mail(
                &mut tx,
                NewMail {
                    message_id: "retry",
                    to: "r@example.org",
                    subject: "s",
                    body_text: "b",
                    body_html: None,
                },
                now,
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let m = store
            .claim_mail(now, Duration::minutes(2))
            .await
            .unwrap()
            .unwrap();
        assert!(
            store
                .claim_mail(now, Duration::minutes(2))
                .await
                .unwrap()
                .is_none(),
            "leased message claimed again"
        );
        // The worker died holding the lease: after the lease expires another worker gets it.
        let later = now + Duration::minutes(3);
        let again = store
            .claim_mail(later, Duration::minutes(2))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.id, m.id);
        assert_eq!(again.attempts, 2);
        store
            .mark_mail_failed(m.id, "connection refused", later + Duration::seconds(30))
            .await
            .unwrap();
        assert!(
            store
                .claim_mail(later + Duration::seconds(10), Duration::minutes(2))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .claim_mail(later + Duration::seconds(31), Duration::minutes(2))
                .await
                .unwrap()
                .is_some()
        );
    }
}

#[tokio::test]
async fn the_audit_log_is_append_only() {
    for (db, store) in stores().await {
        let e = AuditEntry {
            actor_user_id: Some(1),
            action: "view",
            object_type: "referral",
            object_id: "9",
            outcome: "success",
            ip: "127.0.0.1",
        };
        store.audit(&e, OffsetDateTime::now_utc()).await.unwrap();
        let rows = store.list_audit(10, 0).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].action, "view");
        let update = sqlx::query("UPDATE audit_log SET outcome = 'changed'")
            .execute(store.pool())
            .await;
        assert!(update.is_err(), "{:?}: audit row updated", db.backend);
        let delete = sqlx::query("DELETE FROM audit_log")
            .execute(store.pool())
            .await;
        assert!(delete.is_err(), "{:?}: audit row deleted", db.backend);
        assert_eq!(store.list_audit(10, 0).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn throttling_allows_the_limit_in_a_window_and_resets() {
    for (_db, store) in stores().await {
        let now = OffsetDateTime::now_utc();
        let w = Duration::minutes(15);
        for i in 1..=5 {
            assert_eq!(
                store.throttle_reserve("k", now, 5, w).await.unwrap(),
                Gate::Allowed { count: i }
            );
        }
        assert!(
            !store
                .throttle_peek("k", now, 5, w)
                .await
                .unwrap()
                .is_allowed()
        );
        assert_eq!(
            store.throttle_reserve("k", now, 5, w).await.unwrap(),
            Gate::Refused {
                until: from_ms(to_ms(now + w))
            },
            "the sixth attempt in the window is refused"
        );
        // A refused attempt does not restart the counter (the old lock did).
        assert!(
            !store
                .throttle_reserve("k", now + Duration::minutes(1), 5, w)
                .await
                .unwrap()
                .is_allowed()
        );
        // The window ends: attempts are allowed again.
        assert_eq!(
            store
                .throttle_reserve("k", now + Duration::minutes(16), 5, w)
                .await
                .unwrap(),
            Gate::Allowed { count: 1 }
        );
        assert!(
            store
                .throttle_peek("other", now, 5, w)
                .await
                .unwrap()
                .is_allowed()
        );
        store.throttle_refund("k").await.unwrap();
        assert_eq!(
            store
                .throttle_reserve("k", now + Duration::minutes(16), 5, w)
                .await
                .unwrap(),
            Gate::Allowed { count: 1 }
        );
        store.throttle_reset("k").await.unwrap();
        assert_eq!(
            store.throttle_reserve("k", now, 5, w).await.unwrap(),
            Gate::Allowed { count: 1 }
        );
    }
}

#[tokio::test]
async fn concurrent_reservations_never_exceed_the_limit() {
    for (db, store) in stores().await {
        let now = OffsetDateTime::now_utc();
        let id = user(&store, "racer@example.org").await;
        let mut tx = store.begin().await.unwrap();
        store
            .issue_code(
                &mut tx,
                id,
                CodePurpose::ResetPassword,
                "hash",
                now,
                now + Duration::minutes(10),
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut code_tasks = Vec::new();
        let mut throttle_tasks = Vec::new();
        for _ in 0..60 {
            let s = store.clone();
            code_tasks.push(tokio::spawn(async move {
                s.reserve_code_attempt(id, CodePurpose::ResetPassword, 5, now)
                    .await
                    .unwrap()
            }));
            let s = store.clone();
            throttle_tasks.push(tokio::spawn(async move {
                s.throttle_reserve("race", now, 5, Duration::minutes(15))
                    .await
                    .unwrap()
            }));
        }
        let mut checks = 0;
        for t in code_tasks {
            match t.await.unwrap() {
                CodeAttempt::Check { .. } => checks += 1,
                CodeAttempt::TooManyAttempts => {}
                other => panic!("{:?}: unexpected {other:?}", db.backend),
            }
        }
        assert_eq!(checks, 5, "{:?}: code checks allowed", db.backend);
        let mut allowed = 0;
        for t in throttle_tasks {
            if t.await.unwrap().is_allowed() {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 5, "{:?}: throttled attempts allowed", db.backend);
    }
}

#[tokio::test]
async fn a_password_change_ends_every_session_of_that_user_only() {
    for (_db, store) in stores().await {
        let a = user(&store, "a.user@example.org").await;
        let b = user(&store, "b.user@example.org").await;
        let now = OffsetDateTime::now_utc();
        for (h, u) in [("s1", a), ("s2", a), ("s3", b)] {
            store.create_session(&signed_in(h, u, now)).await.unwrap();
        }
        let mut tx = store.begin().await.unwrap();
        store
            .set_password(&mut tx, a, "newhash", now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(store.session("s1").await.unwrap().is_none());
        assert!(store.session("s2").await.unwrap().is_none());
        assert!(store.session("s3").await.unwrap().is_some());
        assert_eq!(
            store
                .purge_idle_sessions(now + Duration::seconds(1))
                .await
                .unwrap(),
            1
        );
    }
}

/// A draft whose concerns say `concerns`.
fn doc(concerns: &str) -> ReferralDraft {
    ReferralDraft {
        concerns: concerns.to_string(),
        ..Default::default()
    }
}

async fn draft(
    store: &Store,
    owner: i64,
    pid: &str,
    concerns: &str,
    saved: OffsetDateTime,
) -> ehm_storage::ReferralRow {
    store
        .create_draft(pid, owner, &doc(concerns), saved)
        .await
        .unwrap()
}

fn reference(seed: u8) -> ReferenceNumber {
    ReferenceNumber::generate([seed; 8])
}

#[tokio::test]
async fn drafts_are_purged_thirty_days_after_their_last_save_with_their_attachments() {
    for (db, store) in stores().await {
        let owner = user(&store, "purge.owner@example.org").await;
        let now = OffsetDateTime::now_utc();
        let retention = Duration::days(30);
        let old = draft(
            &store,
            owner,
            "old",
            "OLD-DRAFT-MARKER-7Q",
            now - retention - Duration::minutes(1),
        )
        .await;
        let young = draft(
            &store,
            owner,
            "young",
            "{}",
            now - retention + Duration::hours(1),
        )
        .await;
        // Saved again recently: the 30 days restart from the last save.
        let resaved = draft(&store, owner, "resaved", "{}", now - Duration::days(40)).await;
        assert_eq!(
            store
                .save_draft(
                    resaved.id,
                    resaved.version,
                    &doc("x"),
                    now - Duration::days(1)
                )
                .await
                .unwrap(),
            ehm_storage::SaveOutcome::Saved { version: 2 }
        );
        store
            .add_attachment(
                old.id,
                "att-old",
                "chronology.pdf",
                "pdf",
                b"%PDF-1.7 OLD-ATTACHMENT-MARKER-9Z",
                now,
            )
            .await
            .unwrap();
        store
            .add_attachment(
                young.id,
                "att-young",
                "plan.pdf",
                "pdf",
                b"%PDF-1.7 young",
                now,
            )
            .await
            .unwrap();
        let report = store.purge_drafts(now - retention).await.unwrap();
        assert_eq!(report.drafts, 1, "{:?}", db.backend);
        assert_eq!(report.attachments, 1);
        assert!(store.referral_by_public_id("old").await.unwrap().is_none());
        assert!(
            store
                .referral_by_public_id("young")
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .referral_by_public_id("resaved")
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .attachment_content(old.id, "att-old")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(store.attachments_of(young.id).await.unwrap().len(), 1);
        // No copy is left in the SQLite files (secure_delete + WAL truncation).
        if db.backend == ehm_testkit::Backend::Sqlite {
            let path = db
                .url
                .trim_start_matches("sqlite://")
                .split('?')
                .next()
                .unwrap()
                .to_string();
            for file in [path.clone(), format!("{path}-wal")] {
                if let Ok(bytes) = std::fs::read(&file) {
                    for marker in [
                        &b"OLD-DRAFT-MARKER-7Q"[..],
                        &b"OLD-ATTACHMENT-MARKER-9Z"[..],
                    ] {
                        assert!(
                            !bytes.windows(marker.len()).any(|w| w == marker),
                            "{file} still holds deleted data"
                        );
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn a_save_based_on_an_old_version_is_refused_not_silently_applied() {
    for (_db, store) in stores().await {
        let owner = user(&store, "tabs@example.org").await;
        let now = OffsetDateTime::now_utc();
        let d = draft(&store, owner, "tabs", "{}", now).await;
        assert_eq!(
            store.save_draft(d.id, 1, &doc("tab 1"), now).await.unwrap(),
            ehm_storage::SaveOutcome::Saved { version: 2 }
        );
        assert_eq!(
            store.save_draft(d.id, 1, &doc("tab 2"), now).await.unwrap(),
            ehm_storage::SaveOutcome::Conflict
        );
        assert_eq!(
            store
                .referral_by_public_id("tabs")
                .await
                .unwrap()
                .unwrap()
                .draft
                .concerns,
            "tab 1"
        );
        let mut tx = store.begin().await.unwrap();
        assert!(
            store
                .submit_referral(
                    &mut tx,
                    &ehm_storage::Submission {
                        id: d.id,
                        expected_version: 2,
                        draft: &doc("tab 1"),
                        reference: &reference(1),
                        referral_type: ReferralType::EarlyHelpService,
                    },
                    now
                )
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        assert_eq!(
            store.save_draft(d.id, 3, &doc(""), now).await.unwrap(),
            ehm_storage::SaveOutcome::NotADraft
        );
        // Submitted referrals are never purged or deleted as drafts.
        assert_eq!(
            store
                .purge_drafts(now + Duration::days(365))
                .await
                .unwrap()
                .drafts,
            0
        );
        assert!(!store.delete_draft(d.id).await.unwrap());
    }
}

#[tokio::test]
async fn a_reference_number_is_unique() {
    for (_db, store) in stores().await {
        let owner = user(&store, "refs@example.org").await;
        let now = OffsetDateTime::now_utc();
        let a = draft(&store, owner, "a", "{}", now).await;
        let b = draft(&store, owner, "b", "{}", now).await;
        let mut tx = store.begin().await.unwrap();
        assert!(
            store
                .submit_referral(
                    &mut tx,
                    &ehm_storage::Submission {
                        id: a.id,
                        expected_version: 1,
                        draft: &doc(""),
                        reference: &reference(7),
                        referral_type: ReferralType::ChildrensSocialCare,
                    },
                    now
                )
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let clash = store
            .submit_referral(
                &mut tx,
                &ehm_storage::Submission {
                    id: b.id,
                    expected_version: 1,
                    draft: &doc(""),
                    reference: &reference(7),
                    referral_type: ReferralType::ChildrensSocialCare,
                },
                now,
            )
            .await;
        assert!(
            matches!(clash, Err(StorageError::ReferenceTaken)),
            "{clash:?}"
        );
    }
}

#[tokio::test]
async fn concurrent_audit_records_are_group_committed_into_one_intact_chain() {
    for (db, store) in stores().await {
        let now = OffsetDateTime::now_utc();
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let s = store.clone();
                tokio::spawn(async move {
                    let id = format!("r{i}");
                    s.audit(
                        &AuditEntry {
                            // Some without an actor (a failed sign-in has none).
                            actor_user_id: (i % 5 != 0).then_some(i),
                            action: "view-referral",
                            object_type: "referral",
                            object_id: &id,
                            outcome: "success",
                            ip: "192.0.2.1",
                        },
                        now,
                    )
                    .await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        // Every caller returned after its record was committed: all 200 are there.
        let rows = store.list_audit(1000, 0).await.unwrap();
        assert_eq!(rows.len(), 200, "{:?}", db.backend);
        let report = store.verify_audit_chain().await.unwrap();
        assert!(
            report.first_broken.is_none(),
            "{:?}: {report:?}",
            db.backend
        );
        assert_eq!(report.rows, 200);
    }
}

/// Saves sent at once are group-committed by one writer: each is judged on its own (one
/// of many saves from the same version wins, the others are conflicts), saves of other
/// drafts in the same group are unaffected, and only a save that is written gets its
/// audit record; the audit chain stays whole.
#[tokio::test]
async fn saves_sent_at_once_are_group_committed_and_each_judged_on_its_own() {
    for (_db, store) in stores().await {
        let owner = user(&store, "group@example.org").await;
        let now = OffsetDateTime::now_utc();
        let shared = draft(&store, owner, "shared", "{}", now).await;
        let mut own = Vec::new();
        for i in 0..20 {
            own.push(draft(&store, owner, &format!("own-{i}"), "{}", now).await);
        }
        let before = store.list_audit(100_000, 0).await.unwrap().len();
        let mut tasks = Vec::new();
        for (i, mine) in own.iter().enumerate() {
            let store = store.clone();
            let (shared_id, own_id) = (shared.id, mine.id);
            tasks.push(tokio::spawn(async move {
                let ip = "192.0.2.1".to_string();
                let object = format!("{own_id}");
                let e = AuditEntry {
                    actor_user_id: Some(owner),
                    action: "save-draft",
                    object_type: "referral",
                    object_id: &object,
                    outcome: "success",
                    ip: &ip,
                };
                let a = store
                    .save_draft_audited(shared_id, 1, &doc(&format!("tab {i}")), now, &e)
                    .await
                    .unwrap();
                let b = store
                    .save_draft_audited(own_id, 1, &doc("mine"), now, &e)
                    .await
                    .unwrap();
                (a, b)
            }));
        }
        let mut won = 0;
        for t in tasks {
            let (a, b) = t.await.unwrap();
            match a {
                ehm_storage::SaveOutcome::Saved { version } => {
                    assert_eq!(version, 2);
                    won += 1;
                }
                other => assert_eq!(other, ehm_storage::SaveOutcome::Conflict),
            }
            assert_eq!(b, ehm_storage::SaveOutcome::Saved { version: 2 });
        }
        assert_eq!(won, 1, "exactly one save from version 1 wins");
        let after = store.list_audit(100_000, 0).await.unwrap().len();
        assert_eq!(
            after - before,
            21,
            "an audit record for each save written, none for conflicts"
        );
        assert_eq!(store.verify_audit_chain().await.unwrap().first_broken, None);
        for d in &own {
            let row = store
                .referral_by_public_id(&d.public_id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!((row.version, row.draft.concerns.as_str()), (2, "mine"));
        }
    }
}

/// A group commit is all or nothing: when one of its statements fails (here an audit
/// record the database refuses, by a trigger this test adds), every save and record
/// sharing that commit fails with it and none is half-written; every one acknowledged
/// is there. On SQLite its statements end the whole transaction on a failure (`OR
/// ROLLBACK`, no statement journal), so this is what keeps that honest.
#[tokio::test]
async fn a_group_commit_that_fails_writes_none_of_it() {
    use sqlx::Executor;
    for (db, store) in stores().await {
        let refuse = match db.backend {
            ehm_testkit::Backend::Sqlite => {
                "CREATE TRIGGER refuse_for_test BEFORE INSERT ON audit_log \
                 WHEN NEW.action = 'refused-by-test' \
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
            }
            ehm_testkit::Backend::Postgres => {
                "CREATE FUNCTION refuse_for_test() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN IF NEW.action = 'refused-by-test' THEN \
                 RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$; \
                 CREATE TRIGGER refuse_for_test BEFORE INSERT ON audit_log \
                 FOR EACH ROW EXECUTE FUNCTION refuse_for_test();"
            }
        };
        store.pool().execute(refuse).await.unwrap();
        let owner = user(&store, "all-or-nothing@example.org").await;
        let now = OffsetDateTime::now_utc();
        let mut drafts = Vec::new();
        for i in 0..40 {
            drafts.push(draft(&store, owner, &format!("aon-{i}"), "{}", now).await);
        }
        let before = store.list_audit(100_000, 0).await.unwrap().len();
        // Saves sent at once, first alone, then with refused records among them, so that
        // some share their commits with a refused one.
        let mut saves = Vec::new();
        let mut refused = Vec::new();
        for (i, d) in drafts.iter().enumerate() {
            if i == 20 {
                for s in saves.iter_mut() {
                    let s: &mut tokio::task::JoinHandle<_> = s;
                    let outcome = s.await.unwrap();
                    assert!(
                        matches!(outcome, Ok(ehm_storage::SaveOutcome::Saved { version: 2 })),
                        "{:?}: {outcome:?}",
                        db.backend
                    );
                }
            }
            let (saver, id) = (store.clone(), d.id);
            saves.push(tokio::spawn(async move {
                let object = id.to_string();
                saver
                    .save_draft_audited(id, 1, &doc("kept"), now, &save_entry(owner, &object))
                    .await
            }));
            if i >= 20 && i % 4 == 0 {
                let store = store.clone();
                refused.push(tokio::spawn(async move {
                    let e = AuditEntry {
                        action: "refused-by-test",
                        ..save_entry(owner, "x")
                    };
                    store.audit(&e, now).await
                }));
            }
        }
        for r in refused {
            assert!(
                r.await.unwrap().is_err(),
                "{:?}: the refused record failed",
                db.backend
            );
        }
        let (mut acknowledged, mut failed) = (0, 0);
        for (i, d) in drafts.iter().enumerate() {
            let row = store
                .referral_by_public_id(&d.public_id)
                .await
                .unwrap()
                .unwrap();
            if i < 20 {
                acknowledged += 1;
                assert_eq!((row.version, row.draft.concerns.as_str()), (2, "kept"));
                continue;
            }
            match (&mut saves[i]).await.unwrap() {
                Ok(ehm_storage::SaveOutcome::Saved { version }) => {
                    acknowledged += 1;
                    assert_eq!(
                        (row.version, row.draft.concerns.as_str()),
                        (version, "kept")
                    );
                }
                Ok(other) => panic!("{:?}: {other:?}", db.backend),
                Err(_) => {
                    failed += 1;
                    assert_eq!(
                        row.version, 1,
                        "{:?}: a failed save wrote nothing",
                        db.backend
                    );
                }
            }
        }
        assert!(
            failed > 0,
            "{:?}: saves shared a commit with a refused record",
            db.backend
        );
        let after = store.list_audit(100_000, 0).await.unwrap();
        assert_eq!(
            after.len() - before,
            acknowledged,
            "{:?}: one record for each acknowledged save, none for the failed ones",
            db.backend
        );
        assert_eq!(store.verify_audit_chain().await.unwrap().first_broken, None);
    }
}

/// A transaction that reads and then writes must not fail because another connection
/// committed in between (SQLite answered such a write at once with "database is locked",
/// SQLITE_BUSY_SNAPSHOT: a staff member's link to a person record was refused so while a
/// referrer's page views were being audited).
#[tokio::test]
async fn a_transaction_that_reads_then_writes_survives_a_commit_in_between() {
    for (db, store) in stores().await {
        let owner = user(&store, "reads.then.writes@example.org").await;
        let mut tx = store.begin().await.unwrap();
        // The transaction's first statement reads.
        let before = store.count(ehm_storage::Counted::Sessions).await.unwrap();
        sqlx::query("SELECT COUNT(*) AS n FROM sessions")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        // Another connection writes meanwhile (on SQLite it waits for this transaction).
        let other = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create_session(&signed_in(
                        &"b".repeat(64),
                        owner,
                        OffsetDateTime::now_utc(),
                    ))
                    .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        // Then this transaction writes and commits.
        let now = to_ms(OffsetDateTime::now_utc());
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, stage, csrf_token, data, created_at, last_seen_at) \
             VALUES ($1, $2, 'signed-in', 't', '{}', $3, $3)",
        )
        .bind("a".repeat(64))
        .bind(owner)
        .bind(now)
        .execute(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{:?}: the write after a read failed: {e}", db.backend));
        tx.commit().await.unwrap();
        other.await.unwrap().unwrap();
        assert_eq!(
            store.count(ehm_storage::Counted::Sessions).await.unwrap(),
            before + 2,
            "{:?}",
            db.backend
        );
    }
}

/// The audit record of a draft save by `owner` of referral `object`.
fn save_entry(owner: i64, object: &str) -> AuditEntry<'_> {
    AuditEntry {
        actor_user_id: Some(owner),
        action: "save-draft",
        object_type: "referral",
        object_id: object,
        outcome: "success",
        ip: "192.0.2.1",
    }
}

/// The lookups every request makes (its session with its account, the referral behind
/// the page) run, on SQLite, on connections of their own beside the writer's: each must
/// see every write acknowledged before it, from any connection, at once.
#[tokio::test]
async fn every_lookup_sees_each_write_acknowledged_before_it() {
    for (_db, store) in stores().await {
        let owner = user(&store, "lookups@example.org").await;
        let now = OffsetDateTime::now_utc();
        assert!(store.session_with_user("s").await.unwrap().is_none());
        store
            .create_session(&signed_in("s", owner, now))
            .await
            .unwrap();
        let (session, account) = store.session_with_user("s").await.unwrap().unwrap();
        assert_eq!(
            (session.user_id, session.stage.as_str()),
            (Some(owner), "signed-in")
        );
        let account = account.expect("the session's account, joined");
        assert_eq!(
            (account.id, account.email.as_str()),
            (owner, "lookups@example.org")
        );
        store
            .update_session("s", Some(owner), "signed-in", r#"{"k":1}"#)
            .await
            .unwrap();
        assert_eq!(
            store.session("s").await.unwrap().unwrap().data,
            r#"{"k":1}"#
        );

        assert!(store.referral_by_public_id("none").await.unwrap().is_none());
        let d = draft(&store, owner, "looked-up", "0", now).await;
        let object = d.id.to_string();
        let e = save_entry(owner, &object);
        for version in 1..=20 {
            let saved = store
                .save_draft_audited(d.id, version, &doc(&version.to_string()), now, &e)
                .await
                .unwrap();
            assert_eq!(
                saved,
                ehm_storage::SaveOutcome::Saved {
                    version: version + 1
                }
            );
            let row = store
                .referral_by_public_id("looked-up")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.version, version + 1);
            assert_eq!(row.draft.concerns, version.to_string());
            // The same referral read with the session, in one statement.
            let (session, account, row) = store
                .session_with_referral("s", "looked-up")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(session.data, r#"{"k":1}"#);
            assert_eq!(account.map(|a| a.id), Some(owner));
            let row = row.expect("the referral beside the session");
            assert_eq!((row.id, row.public_id.as_str()), (d.id, "looked-up"));
            assert_eq!((row.owner_id, row.version), (owner, version + 1));
            assert_eq!(row.draft.concerns, version.to_string());
            assert_eq!(row.created_at, d.created_at);
        }
        let (_, _, none) = store
            .session_with_referral("s", "no-such-referral")
            .await
            .unwrap()
            .unwrap();
        assert!(none.is_none());
        assert!(
            store
                .session_with_referral("no-such-session", "looked-up")
                .await
                .unwrap()
                .is_none()
        );

        store.delete_session("s").await.unwrap();
        assert!(store.session_with_user("s").await.unwrap().is_none());
    }
}

/// On PostgreSQL a draft's answers are compressed with LZ4 when saved (pglz, the default,
/// was the server's largest cost under saves); the answers read back are the same.
#[tokio::test]
async fn postgres_compresses_saved_answers_with_lz4() {
    for (_db, store) in stores().await {
        if store.backend() != ehm_storage::Backend::Postgres {
            continue;
        }
        let owner = user(&store, "lz4@example.org").await;
        let now = OffsetDateTime::now_utc();
        let long = "The child said that nobody was at home after school. ".repeat(200);
        let d = draft(&store, owner, "compressed", &long, now).await;
        let object = d.id.to_string();
        let e = save_entry(owner, &object);
        let saved = store
            .save_draft_audited(d.id, 1, &doc(&long), now, &e)
            .await
            .unwrap();
        assert_eq!(saved, ehm_storage::SaveOutcome::Saved { version: 2 });
        let method: Option<String> =
            sqlx::query_scalar("SELECT pg_column_compression(data) FROM referrals WHERE id = $1")
                .bind(d.id)
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(method.as_deref(), Some("lz4"));
        let row = store
            .referral_by_public_id("compressed")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.draft.concerns, long);
    }
}

/// SQLite only: the writer's own commits never checkpoint (so none waits for one); the checkpointer
/// copies what they wrote into the database file shortly after, while the store is open.
#[tokio::test]
async fn committed_pages_reach_the_database_file_while_serving() {
    let db = TestDb::create(ehm_testkit::Backend::Sqlite).await;
    let store = Store::connect(&db.url).await.unwrap();
    let file = std::path::PathBuf::from(db.name());
    let size = || std::fs::metadata(&file).unwrap().len();
    let e = page_view();
    // Empty the log first, so that only these records' pages are in it.
    store.audit(&e, OffsetDateTime::now_utc()).await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let before = size();
    let mut writes = Vec::new();
    for _ in 0..2000 {
        let store = store.clone();
        writes.push(tokio::spawn(async move {
            store
                .audit(&page_view(), OffsetDateTime::now_utc())
                .await
                .unwrap();
        }));
    }
    for w in writes {
        w.await.unwrap();
    }
    let mut waited = 0;
    while size() <= before && waited < 500 {
        std::thread::sleep(std::time::Duration::from_millis(10));
        waited += 1;
    }
    assert!(
        size() > before,
        "the audit rows were checkpointed into {} ({before} bytes before)",
        file.display()
    );
    let chain = store.verify_audit_chain().await.unwrap();
    assert_eq!((chain.rows, chain.first_broken), (2001, None));
}

/// Under a steady load of saves with lookups beside them, SQLite's write-ahead log is
/// started again from its beginning once it passes a size (`SQLITE_LOG_RESTART_PAGES`),
/// so the file stays near that size, well under all that was written: without a restart
/// it grew with everything written (1 GB in 40 s of the load benchmark), and commits
/// slowed with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_log_starts_again_under_load() {
    let db = TestDb::create(ehm_testkit::Backend::Sqlite).await;
    let store = Store::connect(&db.url).await.unwrap();
    let log = std::path::PathBuf::from(format!("{}-wal", db.name()));
    let owner = user(&store, "log@example.org").await;
    let now = OffsetDateTime::now_utc();
    let mut drafts = Vec::new();
    for i in 0..64 {
        drafts.push(draft(&store, owner, &format!("log-{i}"), "{}", now).await);
    }
    // 40 KB answers: 10 pages a save and more. Four times the limit's worth in all.
    let page = 4096;
    let limit = ehm_storage::SQLITE_LOG_RESTART_PAGES as u64 * page;
    let saves_each = (4 * limit / (11 * page)).div_ceil(64) as i64;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Readers all the time, as when serving: lookups, and one that keeps a read
    // transaction open for 5 ms at a time (so that some reader is nearly always reading
    // the log, and the log is never started again by itself).
    let mut readers = Vec::new();
    for d in drafts.iter().take(2) {
        let (store, stop, pid) = (store.clone(), stop.clone(), d.public_id.clone());
        readers.push(tokio::spawn(async move {
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                store.referral_by_public_id(&pid).await.unwrap().unwrap();
                reads += 1;
                tokio::task::yield_now().await;
            }
            reads
        }));
    }
    {
        let (store, stop) = (store.clone(), stop.clone());
        readers.push(tokio::spawn(async move {
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut tx = store.pool().begin().await.unwrap();
                sqlx::query("SELECT count(*) FROM referrals")
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                tx.commit().await.unwrap();
                reads += 1;
            }
            reads
        }));
    }
    save_large_answers(&store, owner, &drafts, saves_each, now).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        assert!(r.await.unwrap() > 0);
    }
    let size = std::fs::metadata(&log).unwrap().len();
    // Near the limit on a quiet machine; on a busy one (tests running beside this one)
    // the first tries may give up, and the writer waits longer past twice the limit.
    assert!(
        size < limit * 3,
        "{}: {size} bytes, with {limit} bytes the limit and four times that written",
        log.display()
    );
}

/// Starting the log again waits for the readers still reading it, and the writer does it
/// between two commits; a long read (a backup, a long report) must not hold up saves
/// meanwhile: it gives up after a few milliseconds and tries again later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_read_does_not_hold_up_saves_on_sqlite() {
    let db = TestDb::create(ehm_testkit::Backend::Sqlite).await;
    let store = Store::connect(&db.url).await.unwrap();
    let owner = user(&store, "long-read@example.org").await;
    let now = OffsetDateTime::now_utc();
    let mut drafts = Vec::new();
    for i in 0..16 {
        drafts.push(draft(&store, owner, &format!("long-{i}"), "{}", now).await);
    }
    // A read that lasts until every save is done, or 8 s (less than the 10 s a writer
    // waiting for it as for any lock would hold the saves up).
    let done = std::sync::Arc::new(tokio::sync::Notify::new());
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let reader = {
        let (store, done) = (store.clone(), done.clone());
        tokio::spawn(async move {
            let mut tx = store.pool().begin().await.unwrap();
            sqlx::query("SELECT count(*) FROM referrals")
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            started_tx.send(()).unwrap();
            let ended_by_saves =
                tokio::time::timeout(std::time::Duration::from_secs(8), done.notified())
                    .await
                    .is_ok();
            tx.commit().await.unwrap();
            ended_by_saves
        })
    };
    started.await.unwrap();
    // More than the log's limit, so that the checkpointer tries to start it again.
    let page = 4096;
    let limit = ehm_storage::SQLITE_LOG_RESTART_PAGES as u64 * page;
    let saves_each = (3 * limit / (10 * page) / 2).div_ceil(16) as i64;
    save_large_answers(&store, owner, &drafts, saves_each, now).await;
    done.notify_one();
    assert!(
        reader.await.unwrap(),
        "every save was acknowledged while the long read was still open"
    );
}

/// Saves 40 KB answers `saves_each` times to every one of `drafts` (each page different
/// from the last save's), all drafts at once; returns once every save is acknowledged.
async fn save_large_answers(
    store: &Store,
    owner: i64,
    drafts: &[ehm_storage::ReferralRow],
    saves_each: i64,
    now: OffsetDateTime,
) {
    let mut writers = Vec::new();
    for d in drafts {
        let (store, id) = (store.clone(), d.id);
        writers.push(tokio::spawn(async move {
            let object = id.to_string();
            for v in 1..=saves_each {
                let letter = char::from(b'a' + (v % 26) as u8);
                let answers = doc(&letter.to_string().repeat(40_000));
                let saved = store
                    .save_draft_audited(id, v, &answers, now, &save_entry(owner, &object))
                    .await
                    .unwrap();
                assert_eq!(saved, ehm_storage::SaveOutcome::Saved { version: v + 1 });
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
}
