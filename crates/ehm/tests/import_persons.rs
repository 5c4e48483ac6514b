//! Black-box tests of `ehm import-persons` through the real binary, against SQLite and
//! (when EHM_TEST_POSTGRES_URL is set) PostgreSQL: bad rows, re-import, a missing file,
//! a CSV without an `id` column, lenient headers.

use ehm_storage::{AuditFilter, Store};
use ehm_testkit::{TestDb, backends};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

/// Runs `ehm import-persons FILE` with the test database, from an empty folder (no
/// `ehm.toml` is picked up).
fn import(db: &TestDb, dir: &Path, file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ehm"))
        .arg("import-persons")
        .arg(file)
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

const GOOD: &str = "id,first_name,last_name,dob,dob_estimated,gender,postcode,address,other_names
P1,Oliver,Okafor,2016-05-04,false,M,LS6 2AB,14 Mill Lane,Olly
P2,Olivia,Okafor,20/01/2013,false,F,LS6 2AB,14 Mill Lane,
P3,Amelia,Whitfield,2018-11-30,yes,F,M1 1AE,3 Station Road,Amy;Millie
";

#[tokio::test]
async fn bad_rows_are_reported_with_their_row_numbers_and_skipped() {
    for backend in backends() {
        let db = TestDb::create(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "people.csv",
            &format!(
                "{GOOD}\
                 ,Nobody,Noid,2015-01-01,false,M,,\n\
                 P5,Harry,Llewellyn,31/02/2010,false,M,B33 8TH,\n\
                 P6,Sophie,Brannigan,2012-07-09,maybe,F,NE1 4XY,22 Elm Grove\n\
                 P7,Noah,Fairweather,2014-09-21,false,Q,BS3 1QP,5 Quarry Close\n\
                 P8,,,2014-09-21,false,M,,\n\
                 P1,Oliver,Again,2016-05-04,false,M,,\n\
                 P9,Ava,Sample,2017-03-03,false,F,not a postcode!,\n"
            ),
        );
        let out = import(&db, dir.path(), &file);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "{backend}: {stderr}");
        for expected in [
            "row 5: empty id, row skipped",
            "row 6: dob \"31/02/2010\" is not a date, row skipped",
            "row 7: dob_estimated \"maybe\" is not true or false, row skipped",
            "row 8: gender \"Q\" is not recognised, row skipped",
            "row 9: no first_name or last_name, row skipped",
            "row 10: duplicate id \"P1\" (first on row 2), row skipped",
            "row 11: postcode \"not a postcode!\" is not a postcode, row skipped",
        ] {
            assert!(
                stderr.contains(expected),
                "{backend}: {expected:?} not in:\n{stderr}"
            );
        }
        assert_eq!(
            stderr.lines().count(),
            7,
            "{backend}: one line per bad row:\n{stderr}"
        );
        assert!(
            stdout.starts_with(
                "Imported 3 people (3 new, 0 updated, 0 unchanged; 7 rows skipped) in "
            ),
            "{backend}: {stdout}"
        );

        let store = Store::connect(&db.url).await.unwrap();
        assert_eq!(store.persons_count().await.unwrap(), 3);
        let p1 = store.person("P1").await.unwrap().unwrap().data;
        assert_eq!(
            p1.last_name.as_deref(),
            Some("Okafor"),
            "the first P1 is kept"
        );
        assert_eq!(p1.gender.as_deref(), Some("male"));
        assert_eq!(p1.other_names, ["Olly"]);
        let p2 = store.person("P2").await.unwrap().unwrap().data;
        assert_eq!(
            p2.dob.as_deref(),
            Some("2013-01-20"),
            "UK date read day first"
        );
        let p3 = store.person("P3").await.unwrap().unwrap().data;
        assert!(p3.dob_estimated);
        assert_eq!(p3.other_names, ["Amy", "Millie"]);
        let audit = store
            .search_audit(
                &AuditFilter {
                    object_type: Some("person-index".into()),
                    ..Default::default()
                },
                10,
                0,
            )
            .await
            .unwrap();
        assert_eq!(audit.total, 1);
        assert_eq!(audit.rows[0].action, "import-persons");
        assert_eq!(
            audit.rows[0].outcome,
            "3 new, 0 updated, 0 unchanged, 7 skipped"
        );
    }
}

#[tokio::test]
async fn re_importing_is_idempotent_by_id_and_applies_changes() {
    for backend in backends() {
        let db = TestDb::create(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "people.csv", GOOD);
        assert!(import(&db, dir.path(), &file).status.success());
        let store = Store::connect(&db.url).await.unwrap();
        let before = store.persons_changed_since(0, 100).await.unwrap();

        let again = import(&db, dir.path(), &file);
        assert!(
            text(&again.stdout)
                .starts_with("Imported 3 people (0 new, 0 updated, 3 unchanged; 0 rows skipped)"),
            "{backend}: {}",
            text(&again.stdout)
        );
        assert_eq!(
            store.persons_changed_since(0, 100).await.unwrap(),
            before,
            "nothing rewritten"
        );

        let changed = GOOD.replace("LS6 2AB,14 Mill Lane,Olly", "LS7 3CD,2 New Road,Olly")
            + "P4,Noah,Fairweather,2014-09-21,false,M,BS3 1QP,5 Quarry Close,\n";
        let file = write(dir.path(), "people.csv", &changed);
        let third = import(&db, dir.path(), &file);
        assert!(
            text(&third.stdout)
                .starts_with("Imported 4 people (1 new, 1 updated, 2 unchanged; 0 rows skipped)"),
            "{backend}: {}",
            text(&third.stdout)
        );
        assert_eq!(store.persons_count().await.unwrap(), 4);
        let p1 = store.person("P1").await.unwrap().unwrap();
        assert_eq!(p1.data.postcode.as_deref(), Some("LS7 3CD"));
        let last_seen = before.iter().map(|p| p.change_seq).max().unwrap();
        let changes: Vec<String> = store
            .persons_changed_since(last_seen, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.data.id)
            .collect();
        assert_eq!(
            changes,
            ["P1", "P4"],
            "{backend}: only the changed and the new person"
        );
    }
}

#[tokio::test]
async fn a_missing_file_is_a_one_line_error() {
    let db = TestDb::create(ehm_testkit::Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let out = import(&db, dir.path(), &dir.path().join("nope.csv"));
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: cannot open ") && stderr.contains("nope.csv"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[tokio::test]
async fn a_csv_without_an_id_column_is_refused_before_anything_is_imported() {
    for backend in backends() {
        let db = TestDb::create(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "people.csv",
            "person,first_name,last_name\nP1,Oliver,Okafor\n",
        );
        let out = import(&db, dir.path(), &file);
        assert_eq!(out.status.code(), Some(2), "{backend}");
        let stderr = text(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("people.csv has no id column"), "{stderr}");
        let store = Store::connect(&db.url).await.unwrap();
        assert_eq!(store.persons_count().await.unwrap(), 0);
    }
}

#[tokio::test]
async fn a_byte_order_mark_windows_line_endings_and_common_header_names_are_read() {
    let db = TestDb::create(ehm_testkit::Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "export.csv",
        "\u{feff}ID,Forename,Surname,Date of Birth,Sex,Post Code\r\nA-1,Zoë,O'Neill,03/04/2019,Female,ls1 4ab\r\n",
    );
    let out = import(&db, dir.path(), &file);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let store = Store::connect(&db.url).await.unwrap();
    let p = store.person("A-1").await.unwrap().unwrap().data;
    assert_eq!(p.first_name.as_deref(), Some("Zoë"));
    assert_eq!(p.last_name.as_deref(), Some("O'Neill"));
    assert_eq!(p.dob.as_deref(), Some("2019-04-03"));
    assert_eq!(p.gender.as_deref(), Some("female"));
    assert_eq!(p.postcode.as_deref(), Some("ls1 4ab"));
}
