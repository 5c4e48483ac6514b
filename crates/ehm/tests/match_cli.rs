//! Black-box tests of `ehm match` through the real binary: exit codes, stderr, and the
//! output CSV, with the input-file quirks an external data set may have (BOM, CRLF,
//! reordered or unknown columns, empty cells, malformed dates).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const INDEX: &str = "id,first_name,last_name,dob,dob_estimated,gender,postcode,address
P1,Oliver,Okafor,2016-05-04,false,M,LS6 2AB,14 Mill Lane
P2,Olivia,Okafor,2013-01-20,false,F,LS6 2AB,14 Mill Lane
P3,Amelia,Whitfield,2018-11-30,no,F,M1 1AE,3 Station Road
P4,Oliver,Okafor,2016-05-04,false,M,,
P5,Harry,Llewellyn,2010-02-14,false,M,B33 8TH,
P6,Sophie,Brannigan,2012-07-09,false,F,NE1 4XY,22 Elm Grove
P7,Noah,Fairweather,2014-09-21,false,M,BS3 1QP,5 Quarry Close
";

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

fn ehm_match(index: &Path, queries: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ehm"))
        .arg("match")
        .arg("--index")
        .arg(index)
        .arg("--queries")
        .arg(queries)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("run the ehm binary")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The output rows, after checking the exact header.
fn rows(out: &Path) -> Vec<(String, String, f64)> {
    let text = std::fs::read_to_string(out).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("query_id,person_id,score"), "{text}");
    lines
        .map(|l| {
            let v: Vec<&str> = l.split(',').collect();
            assert_eq!(v.len(), 3, "{l}");
            let s: f64 = v[2].parse().unwrap();
            assert!((0.0..=1.0).contains(&s), "{l}");
            (v[0].to_string(), v[1].to_string(), s)
        })
        .collect()
}

fn best(r: &[(String, String, f64)], q: &str) -> Option<String> {
    r.iter().find(|x| x.0 == q).map(|x| x.1.clone())
}

fn assert_sorted(r: &[(String, String, f64)]) {
    for w in r.windows(2) {
        assert!(w[0].0 <= w[1].0, "not sorted by query: {r:?}");
        if w[0].0 == w[1].0 {
            assert!(w[0].2 >= w[1].2, "not sorted by descending score: {r:?}");
        }
    }
}

#[test]
fn a_missing_index_file_exits_non_zero_with_one_stderr_line() {
    let dir = tempfile::tempdir().unwrap();
    let q = write(dir.path(), "q.csv", "id,first_name\nQ1,Oliver\n");
    let out = dir.path().join("out.csv");
    let o = ehm_match(&dir.path().join("no-such-index.csv"), &q, &out, &[]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e:?}");
    assert!(e.contains("no-such-index.csv"), "{e:?}");
}

#[test]
fn a_missing_queries_file_exits_non_zero_with_one_stderr_line() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(dir.path(), "i.csv", INDEX);
    let o = ehm_match(
        &i,
        &dir.path().join("absent.csv"),
        &dir.path().join("out.csv"),
        &[],
    );
    assert!(!o.status.success());
    assert_eq!(stderr(&o).lines().count(), 1, "{:?}", stderr(&o));
}

#[test]
fn a_csv_without_an_id_column_exits_non_zero_with_one_stderr_line() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(dir.path(), "i.csv", "first_name,last_name\nOliver,Okafor\n");
    let q = write(dir.path(), "q.csv", "id,first_name\nQ1,Oliver\n");
    let o = ehm_match(&i, &q, &dir.path().join("out.csv"), &[]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e:?}");
    assert!(e.contains("id"), "{e:?}");

    // Same for the queries file.
    let i = write(dir.path(), "i.csv", INDEX);
    let q = write(dir.path(), "q.csv", "person,first_name\nQ1,Oliver\n");
    let o = ehm_match(&i, &q, &dir.path().join("out.csv"), &[]);
    assert!(!o.status.success());
    assert_eq!(stderr(&o).lines().count(), 1, "{:?}", stderr(&o));
}

#[test]
fn an_impossible_date_is_reported_with_its_row_and_the_run_completes() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(dir.path(), "i.csv", INDEX);
    let q = write(
        dir.path(),
        "q.csv",
        "id,first_name,last_name,dob,gender,postcode\n\
         Q1,Oliver,Okafor,2016-05-04,M,LS6 2AB\n\
         Q2,Amelia,Whitfield,2015-02-30,F,M1 1AE\n\
         Q3,Harry,Llewellyn,2010-02-14,M,B33 8TH\n",
    );
    let out = dir.path().join("out.csv");
    let o = ehm_match(&i, &q, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    // The header is row 1, so Q2 is row 3.
    let line = e.lines().find(|l| l.contains("2015-02-30")).expect(&e);
    assert!(line.contains("row 3"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    let r = rows(&out);
    assert_eq!(best(&r, "Q1").as_deref(), Some("P1"), "{r:?}");
    assert_eq!(best(&r, "Q3").as_deref(), Some("P5"), "{r:?}");
    // The impossible date is compared as text; the rest of the row still finds Amelia.
    assert_eq!(best(&r, "Q2").as_deref(), Some("P3"), "{r:?}");
}

#[test]
fn the_output_has_the_header_and_is_sorted_by_query_then_descending_score() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(dir.path(), "i.csv", INDEX);
    // Queries deliberately out of id order.
    let q = write(
        dir.path(),
        "q.csv",
        "id,first_name,last_name,dob,gender,postcode\n\
         Q3,Harry,Llewellyn,2010-02-14,M,B33 8TH\n\
         Q1,Oliver,Okafor,2016-05-04,M,LS6 2AB\n\
         Q2,Sophie,Brannigan,2012-07-09,F,NE1 4XY\n",
    );
    let out = dir.path().join("out.csv");
    let o = ehm_match(&i, &q, &out, &["--threshold", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = rows(&out);
    assert_sorted(&r);
    // P1 and its duplicate P4 both match Q1.
    let q1: Vec<&str> = r
        .iter()
        .filter(|x| x.0 == "Q1")
        .map(|x| x.1.as_str())
        .collect();
    assert!(q1.contains(&"P1") && q1.contains(&"P4"), "{r:?}");
    assert_eq!(best(&r, "Q2").as_deref(), Some("P6"));
}

#[test]
fn an_empty_query_file_writes_only_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(dir.path(), "i.csv", INDEX);
    let q = write(dir.path(), "q.csv", "id,first_name,last_name\n");
    let out = dir.path().join("out.csv");
    let o = ehm_match(&i, &q, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "query_id,person_id,score\n"
    );
}

#[test]
fn threshold_and_top_are_respected() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(dir.path(), "i.csv", INDEX);
    let q = write(
        dir.path(),
        "q.csv",
        "id,first_name,last_name,dob,gender,postcode\n\
         Q1,Oliver,Okafor,2016-05-04,M,LS6 2AB\n\
         Q2,,Okafor,,,LS6 2AB\n",
    );
    let out = dir.path().join("out.csv");

    let o = ehm_match(&i, &q, &out, &["--threshold", "0", "--top", "10"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = rows(&out);
    assert!(all.iter().filter(|x| x.0 == "Q1").count() >= 2, "{all:?}");

    let o = ehm_match(&i, &q, &out, &["--threshold", "0", "--top", "1"]);
    assert!(o.status.success());
    let one = rows(&out);
    for qid in ["Q1", "Q2"] {
        assert!(one.iter().filter(|x| x.0 == qid).count() <= 1, "{one:?}");
    }
    assert_eq!(best(&one, "Q1"), best(&all, "Q1"));

    let o = ehm_match(&i, &q, &out, &["--threshold", "0.9"]);
    assert!(o.status.success());
    let high = rows(&out);
    assert!(high.iter().all(|x| x.2 >= 0.9), "{high:?}");
    assert!(high.len() < all.len());

    // Default threshold 0.5 and top 5.
    let o = ehm_match(&i, &q, &out, &[]);
    assert!(o.status.success());
    let def = rows(&out);
    assert!(def.iter().all(|x| x.2 >= 0.5), "{def:?}");
    for qid in ["Q1", "Q2"] {
        assert!(def.iter().filter(|x| x.0 == qid).count() <= 5);
    }
    assert_eq!(
        def.len(),
        all.iter().filter(|x| x.2 >= 0.5).count().min(def.len())
    );
}

#[test]
fn unknown_columns_are_ignored_and_columns_may_come_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(
        dir.path(),
        "i.csv",
        "postcode,nhs_colour,dob,last_name,id,first_name,gender,address,dob_estimated\n\
         LS6 2AB,blue,2016-05-04,Okafor,P1,Oliver,M,14 Mill Lane,false\n\
         M1 1AE,green,2018-11-30,Whitfield,P3,Amelia,F,3 Station Road,false\n",
    );
    let q = write(
        dir.path(),
        "q.csv",
        "referral_source,first_name,id,last_name,dob\n\
         school,Amelia,Q1,Whitfield,2018-11-30\n\
         gp,Oliver,Q2,Okafor,2016-05-04\n",
    );
    let out = dir.path().join("out.csv");
    let o = ehm_match(&i, &q, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = rows(&out);
    assert_eq!(best(&r, "Q1").as_deref(), Some("P3"), "{r:?}");
    assert_eq!(best(&r, "Q2").as_deref(), Some("P1"), "{r:?}");
}

#[test]
fn empty_cells_are_missing_values_not_errors() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(dir.path(), "i.csv", INDEX);
    let q = write(
        dir.path(),
        "q.csv",
        "id,first_name,last_name,dob,dob_estimated,gender,postcode,address\n\
         Q1,Amelia,Whitfield,2018-11-30,,,,\n\
         Q2,,,,,,,\n\
         Q3,Harry,Llewellyn,,, ,  ,\n",
    );
    let out = dir.path().join("out.csv");
    let o = ehm_match(&i, &q, &out, &["--threshold", "0.3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "empty cells are not warnings");
    let r = rows(&out);
    assert_eq!(best(&r, "Q1").as_deref(), Some("P3"), "{r:?}");
    assert_eq!(
        best(&r, "Q2"),
        None,
        "a query with nothing in it matches nobody"
    );
}

#[test]
fn a_utf8_bom_and_crlf_line_endings_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let index_crlf = format!("\u{feff}{}", INDEX.replace('\n', "\r\n"));
    let i = write(dir.path(), "i.csv", &index_crlf);
    let q = write(
        dir.path(),
        "q.csv",
        "\u{feff}id,first_name,last_name,dob,gender,postcode\r\n\
         Q1,Amelia,Whitfield,2018-11-30,F,M1 1AE\r\n\
         Q2,Noah,Fairweather,2014-09-21,M,BS3 1QP\r\n",
    );
    let out = dir.path().join("out.csv");
    let o = ehm_match(&i, &q, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    let r = rows(&out);
    assert_eq!(best(&r, "Q1").as_deref(), Some("P3"), "{r:?}");
    assert_eq!(best(&r, "Q2").as_deref(), Some("P7"), "{r:?}");
    // No stray carriage return in ids or scores.
    assert!(r.iter().all(|x| !x.0.contains('\r') && !x.1.contains('\r')));
}

#[test]
fn a_bom_with_only_crlf_in_the_queries_and_quoted_fields_work() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(
        dir.path(),
        "i.csv",
        "\u{feff}\"id\",\"first_name\",\"last_name\",\"dob\",\"address\"\r\n\
         \"P1\",\"Sophie\",\"Brannigan\",\"2012-07-09\",\"22 Elm Grove, Newcastle\"\r\n",
    );
    let q = write(
        dir.path(),
        "q.csv",
        "id,first_name,last_name,dob,address\nQ1,Sophie,Brannigan,2012-07-09,\"22 Elm Grove, Newcastle\"\n",
    );
    let out = dir.path().join("out.csv");
    let o = ehm_match(&i, &q, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(best(&rows(&out), "Q1").as_deref(), Some("P1"));
}
