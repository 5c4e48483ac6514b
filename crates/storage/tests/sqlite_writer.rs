//! SQLite's group commit runs on a thread of its own (`sqlite-writer`) with its own
//! connection, and its checkpoints on another (`sqlite-ckpt`). Both must end with the
//! last `Store`, closing their connections: a command or a test that drops its store
//! must not leave a thread holding the database file open.
//! (A file of its own: it counts the process's threads.)

mod common;

use ehm_storage::Store;
use ehm_testkit::{Backend, TestDb};
use time::OffsetDateTime;

/// The writer's threads running: the writer and its checkpointer.
fn writer_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("Linux /proc")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| matches!(name.trim(), "sqlite-writer" | "sqlite-ckpt"))
        .count()
}

#[tokio::test]
async fn the_writer_thread_ends_with_the_last_store() {
    let db = TestDb::create(Backend::Sqlite).await;
    assert_eq!(writer_threads(), 0);
    let store = Store::connect(&db.url).await.unwrap();
    let copy = store.clone();
    store
        .audit(&common::page_view(), OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(
        writer_threads(),
        2,
        "the first record starts the writer and its checkpointer"
    );
    drop(store);
    copy.audit(&common::page_view(), OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(copy.list_audit(10, 0).await.unwrap().len(), 2);
    drop(copy);
    let mut waited = 0;
    while writer_threads() > 0 && waited < 500 {
        std::thread::sleep(std::time::Duration::from_millis(10));
        waited += 1;
    }
    assert_eq!(
        writer_threads(),
        0,
        "the writer thread ended with the last store"
    );
}
