//! `ehm bench` runs end to end on SQLite and (with EHM_TEST_POSTGRES_URL) PostgreSQL:
//! clients sign in over HTTP, save drafts flat out, then at a fixed rate. No timing is
//! checked (figures belong to the benchmark, not to tests); what is checked is that it
//! works: no error, no conflict, and the paced phase makes exactly the saves it was asked
//! for (rate × seconds, every client on its own schedule).

use ehm_testkit::{TestDb, backends};
use std::process::Command;

#[tokio::test]
async fn the_save_benchmark_runs_flat_out_then_paced() {
    for backend in backends() {
        let db = TestDb::create(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_ehm"))
            .current_dir(dir.path())
            .env_remove("EHM_CONFIG")
            .env("EHM_DATA_DIR", dir.path().join("data"))
            .args([
                "bench",
                "--clients",
                "3",
                "--seconds",
                "1",
                "--rate",
                "30",
                "--paced-seconds",
                "1",
                "--page-seconds",
                "0",
                "--pdf-runs",
                "0",
                "--database-url",
                &db.url,
            ])
            .output()
            .expect("run the ehm binary");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{backend}: ehm bench failed\n{stdout}\n{stderr}"
        );
        let saves: Vec<&str> = stdout
            .lines()
            .filter(|l| l.trim_start().starts_with("Saves:"))
            .collect();
        assert_eq!(saves.len(), 2, "{backend}: two phases\n{stdout}");
        assert!(
            !saves[0].contains("Saves: 0 "),
            "{backend}: flat out made saves\n{stdout}"
        );
        // 3 clients, one save every 100 ms each, for 1 s: 30 saves.
        assert!(
            saves[1].trim_start().starts_with("Saves: 30 in 1.00 s"),
            "{backend}: the paced phase made rate × seconds saves\n{stdout}"
        );
        assert_eq!(
            stdout.matches("Conflicts (409): 0  Errors: 0").count(),
            2,
            "{backend}\n{stdout}"
        );
        assert!(stdout.contains("Paced at 30 saves/s"), "{stdout}");
    }
}
