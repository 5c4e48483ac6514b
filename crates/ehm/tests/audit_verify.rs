//! Black-box tests of `ehm audit verify` through the real binary: an intact log passes;
//! a row edited or deleted directly in the database (with the append-only trigger
//! switched off, as someone with database access could) is detected and named.

use ehm_storage::{AuditEntry, AuditFilter, Store};
use ehm_testkit::{Backend, TestDb, backends};
use std::path::Path;
use std::process::{Command, Output};
use time::OffsetDateTime;

fn verify(db: &TestDb, dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ehm"))
        .args(["audit", "verify"])
        .current_dir(dir)
        .env_remove("EHM_CONFIG")
        .env("EHM_DATA_DIR", dir.join("data"))
        .env("EHM_DATABASE_URL", &db.url)
        .output()
        .expect("run the ehm binary")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A store with five audit records; returns their ids, oldest first.
async fn logged(db: &TestDb) -> (Store, Vec<i64>) {
    let store = Store::connect(&db.url).await.unwrap();
    for i in 0..5 {
        let id = i.to_string();
        store
            .audit(
                &AuditEntry {
                    actor_user_id: Some(1),
                    action: "view-referral",
                    object_type: "referral",
                    object_id: &id,
                    outcome: "success",
                    ip: "192.0.2.7",
                },
                OffsetDateTime::now_utc(),
            )
            .await
            .unwrap();
    }
    let mut ids: Vec<i64> = store
        .search_audit(&AuditFilter::default(), 10, 0)
        .await
        .unwrap()
        .rows
        .iter()
        .map(|r| r.id)
        .collect();
    ids.reverse();
    (store, ids)
}

async fn tamper(db: &TestDb, store: &Store, sql: &str) {
    use sqlx::Executor;
    let disable = match db.backend {
        Backend::Sqlite => "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;",
        Backend::Postgres => "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change;",
    };
    store.pool().execute(disable).await.unwrap();
    store.pool().execute(sql).await.unwrap();
}

#[tokio::test]
async fn an_intact_audit_log_verifies() {
    for backend in backends() {
        let db = TestDb::create(backend).await;
        let dir = tempfile::tempdir().unwrap();
        logged(&db).await;
        let out = verify(&db, dir.path());
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{backend}: {}", text(&out.stderr));
        assert!(
            stdout.starts_with("Audit log intact: 5 rows\n"),
            "{backend}: {stdout}"
        );
        assert!(stdout.contains("Head hash: "), "{stdout}");
    }
}

#[tokio::test]
async fn an_edited_row_fails_verification_naming_it() {
    for backend in backends() {
        let db = TestDb::create(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let (store, ids) = logged(&db).await;
        tamper(
            &db,
            &store,
            &format!(
                "UPDATE audit_log SET ip = '203.0.113.9' WHERE id = {}",
                ids[1]
            ),
        )
        .await;
        let out = verify(&db, dir.path());
        assert_eq!(out.status.code(), Some(2), "{backend}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "audit log broken at row {}: its contents do not match its hash",
                ids[1]
            )),
            "{backend}: {stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[tokio::test]
async fn a_deleted_row_fails_verification_at_the_row_after_it() {
    for backend in backends() {
        let db = TestDb::create(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let (store, ids) = logged(&db).await;
        tamper(
            &db,
            &store,
            &format!("DELETE FROM audit_log WHERE id = {}", ids[2]),
        )
        .await;
        let out = verify(&db, dir.path());
        assert_eq!(out.status.code(), Some(2), "{backend}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "audit log broken at row {}: its previous hash does not match row {}",
                ids[3], ids[1]
            )),
            "{backend}: {stderr}"
        );
        assert!(stderr.contains("deleted"), "{stderr}");
    }
}
