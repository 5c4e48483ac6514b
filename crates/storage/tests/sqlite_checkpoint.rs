//! SQLite's checkpoints run on a thread of their own beside the group commit's writer.

use ehm_storage::{AuditEntry, Store};
use ehm_testkit::{Backend, TestDb};
use time::OffsetDateTime;

/// The writer's own commits never checkpoint (so none waits for one); the checkpointer
/// copies what they wrote into the database file shortly after, while the store is open.
#[tokio::test]
async fn committed_pages_reach_the_database_file_while_serving() {
    let db = TestDb::create(Backend::Sqlite).await;
    let store = Store::connect(&db.url).await.unwrap();
    let file = std::path::PathBuf::from(db.name());
    let size = || std::fs::metadata(&file).unwrap().len();
    let e = AuditEntry {
        actor_user_id: None,
        action: "view",
        object_type: "page",
        object_id: "start",
        outcome: "success",
        ip: "192.0.2.1",
    };
    // Empty the log first, so that only these records' pages are in it.
    store.audit(&e, OffsetDateTime::now_utc()).await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let before = size();
    let mut writes = Vec::new();
    for _ in 0..2000 {
        let store = store.clone();
        writes.push(tokio::spawn(async move {
            let e = AuditEntry {
                actor_user_id: None,
                action: "view",
                object_type: "page",
                object_id: "start",
                outcome: "success",
                ip: "192.0.2.1",
            };
            store.audit(&e, OffsetDateTime::now_utc()).await.unwrap();
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
