//! In-process tests of `run_match` with temporary CSV files.

use ehm_matching::cli::{MatchArgs, run_match};
use std::io::Write;
use std::path::{Path, PathBuf};

const HEADER: &str = "id,first_name,last_name,dob,dob_estimated,gender,postcode,address\n";

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p)
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    p
}

fn args(index: PathBuf, queries: PathBuf, out: PathBuf) -> MatchArgs {
    MatchArgs {
        index,
        queries,
        out,
        threshold: 0.5,
        top: 5,
        no_train: false,
        print_model: false,
        explain: false,
    }
}

fn rows(out: &Path) -> Vec<(String, String, f64)> {
    let text = std::fs::read_to_string(out).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("query_id,person_id,score"));
    lines
        .map(|l| {
            let v: Vec<&str> = l.split(',').collect();
            (v[0].to_string(), v[1].to_string(), v[2].parse().unwrap())
        })
        .collect()
}

const INDEX: &str = "id,first_name,last_name,dob,dob_estimated,gender,postcode,address
P1,Oliver,Okafor,2016-05-04,false,M,LS6 2AB,14 Mill Lane
P2,Olivia,Okafor,2013-01-20,false,F,LS6 2AB,14 Mill Lane
P3,Amelia,Whitfield,2018-11-30,no,F,M1 1AE,3 Station Road
P4,Oliver,Okafor,2016-05-04,false,M,,
P5,Harry,Llewellyn,2010-02-14,false,M,B33 8TH,
";

#[test]
fn a_missing_file_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let q = write(dir.path(), "q.csv", HEADER);
    let a = args(dir.path().join("nope.csv"), q, dir.path().join("out.csv"));
    let mut warnings = Vec::new();
    let e = run_match(&a, &mut warnings).unwrap_err().to_string();
    assert!(!e.contains('\n'), "{e}");
    assert!(e.contains("nope.csv"), "{e}");
}

#[test]
fn a_csv_without_an_id_column_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(dir.path(), "i.csv", "first_name,last_name\nOliver,Okafor\n");
    let q = write(dir.path(), "q.csv", HEADER);
    let a = args(i, q, dir.path().join("out.csv"));
    let e = run_match(&a, &mut Vec::new()).unwrap_err().to_string();
    assert!(e.contains("no id column"), "{e}");
    assert!(!e.contains('\n'));
}

#[test]
fn an_impossible_date_is_a_warning_with_its_row_number_and_the_run_completes() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(dir.path(), "i.csv", INDEX);
    let q = write(
        dir.path(),
        "q.csv",
        "id,first_name,last_name,dob\nQ1,Oliver,Okafor,2016-05-04\nQ2,Amelia,Whitfield,2018-02-31\n",
    );
    let out = dir.path().join("out.csv");
    let mut warnings = Vec::new();
    run_match(&args(i, q, out.clone()), &mut warnings).unwrap();
    let w = String::from_utf8(warnings).unwrap();
    assert!(w.contains("row 3") && w.contains("2018-02-31"), "{w}");
    assert!(!w.contains("row 2"), "{w}");
    let r = rows(&out);
    assert!(r.iter().any(|(q, p, _)| q == "Q1" && p == "P1"), "{r:?}");
}

#[test]
fn unknown_columns_are_ignored_and_missing_columns_are_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(dir.path(), "i.csv", INDEX);
    let q = write(
        dir.path(),
        "q.csv",
        "nhs_colour,last_name,id,first_name\nblue,Whitfield,Q1,Amelia\n",
    );
    let out = dir.path().join("out.csv");
    run_match(&args(i, q, out.clone()), &mut Vec::new()).unwrap();
    assert_eq!(rows(&out).first().map(|r| r.1.as_str()), Some("P3"));
}

#[test]
fn output_is_sorted_by_query_then_descending_score_and_limited_by_top_and_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(dir.path(), "i.csv", INDEX);
    let q = write(
        dir.path(),
        "q.csv",
        "id,first_name,last_name,dob,gender,postcode\nQB,Harry,Llewellyn,2010-02-14,M,B33 8TH\nQA,Oliver,Okafor,2016-05-04,M,LS6 2AB\n",
    );
    let out = dir.path().join("out.csv");
    let mut a = args(i, q, out.clone());
    a.threshold = 0.0;
    run_match(&a, &mut Vec::new()).unwrap();
    let r = rows(&out);
    // Sorted by query id (QA before QB although QB comes first in the input), scores
    // descending within a query.
    let first_qb = r.iter().position(|x| x.0 == "QB").unwrap();
    assert!(r[..first_qb].iter().all(|x| x.0 == "QA"));
    assert!(r[first_qb..].iter().all(|x| x.0 == "QB"));
    for w in r.windows(2) {
        if w[0].0 == w[1].0 {
            assert!(w[0].2 >= w[1].2, "{r:?}");
        }
    }
    assert!(r.iter().filter(|x| x.0 == "QA").count() >= 2, "{r:?}");

    a.top = 1;
    run_match(&a, &mut Vec::new()).unwrap();
    let r1 = rows(&out);
    assert_eq!(r1.iter().filter(|x| x.0 == "QA").count(), 1);
    assert_eq!(r1.iter().filter(|x| x.0 == "QB").count(), 1);

    a.top = 5;
    a.threshold = 0.999_999;
    run_match(&a, &mut Vec::new()).unwrap();
    let r2 = rows(&out);
    assert!(r2.iter().all(|x| x.2 >= 0.999_999), "{r2:?}");
    assert!(r2.len() < r.len());
}

#[test]
fn dob_estimated_accepts_the_documented_spellings() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::from(HEADER);
    for (k, v) in ["true", "false", "1", "0", "yes", "no", "y", "n", "", "TRUE"]
        .iter()
        .enumerate()
    {
        body.push_str(&format!("P{k},Ann,Lee,2015-01-01,{v},F,,\n"));
    }
    body.push_str("PX,Ann,Lee,2015-01-01,maybe,F,,\n");
    let i = write(dir.path(), "i.csv", &body);
    let q = write(dir.path(), "q.csv", HEADER);
    let mut w = Vec::new();
    run_match(&args(i, q, dir.path().join("o.csv")), &mut w).unwrap();
    let w = String::from_utf8(w).unwrap();
    assert_eq!(w.lines().count(), 1, "{w}");
    assert!(w.contains("row 12") && w.contains("maybe"), "{w}");
}

#[test]
fn numeric_query_ids_sort_numerically() {
    use ehm_matching::cli::compare_ids;
    use std::cmp::Ordering::*;
    assert_eq!(compare_ids("9", "10"), Less);
    assert_eq!(compare_ids("010", "9"), Greater);
    assert_eq!(compare_ids("Q10", "Q9"), Less);
    assert_eq!(compare_ids("a", "a"), Equal);
}

#[test]
fn lenient_dates_genders_a_bom_and_crlf_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(
        dir.path(),
        "i.csv",
        "\u{feff}\"id\",\"first_name\",\"last_name\",\"dob\",\"gender\"\r\n\
         P1,Amelia,Whitfield,30/11/2018,2\r\n\
         P2,Oliver,Okafor,2016-05-04T00:00:00,Male\r\n\
         P3,Harry,Llewellyn,20100214,non-binary\r\n",
    );
    let q = write(
        dir.path(),
        "q.csv",
        "id,first_name,last_name,dob,gender\nQ1,Amelia,Whitfield,2018-11-30,F\nQ2,Oliver,Okafor,2016-05-04 00:00:00,1\nQ3,Harry,Llewellyn,2010/02/14,\n",
    );
    let out = dir.path().join("out.csv");
    let mut w = Vec::new();
    run_match(&args(i, q, out.clone()), &mut w).unwrap();
    assert_eq!(String::from_utf8(w).unwrap(), "");
    let r = rows(&out);
    let best = |q: &str| r.iter().find(|x| x.0 == q).map(|x| x.1.clone());
    assert_eq!(best("Q1").as_deref(), Some("P1"), "{r:?}");
    assert_eq!(best("Q2").as_deref(), Some("P2"), "{r:?}");
    assert_eq!(best("Q3").as_deref(), Some("P3"), "{r:?}");
}

#[test]
fn header_names_are_read_leniently_but_id_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(
        dir.path(),
        "i.csv",
        "ID,First Name,Surname,Date of Birth,Sex,Post-Code\nP1,Amelia,Whitfield,30/11/2018,F,m11ae\nP2,Oliver,Okafor,2016-05-04,M,LS6 2AB\n",
    );
    let q = write(
        dir.path(),
        "q.csv",
        "id,forename,last_name,dob,surname\nQ1,Amelia,Whitfield,2018-11-30,Ignored\n",
    );
    let out = dir.path().join("out.csv");
    let mut w = Vec::new();
    run_match(&args(i, q, out.clone()), &mut w).unwrap();
    assert_eq!(String::from_utf8(w).unwrap(), "");
    // last_name is present in the queries, so the synonym `surname` column is ignored.
    assert_eq!(rows(&out).first().map(|r| r.1.as_str()), Some("P1"));
    let no_id = write(dir.path(), "n.csv", "person_id,first_name\nP1,Amelia\n");
    let q = write(dir.path(), "q2.csv", "id,first_name\nQ1,Amelia\n");
    assert!(run_match(&args(no_id, q, dir.path().join("o2.csv")), &mut Vec::new()).is_err());
}

/// A small batch whose queries carry errors, so training has something to learn.
fn batch(dir: &Path) -> (PathBuf, PathBuf) {
    let mut g = ehm_matching::synth::Generator::new(3);
    let (persons, queries, _) = g.scenario(2000, 300);
    let i = dir.join("bi.csv");
    let q = dir.join("bq.csv");
    ehm_matching::synth::write_csv(&i, &persons).unwrap();
    let qs: Vec<_> = queries.into_iter().map(|q| q.person).collect();
    ehm_matching::synth::write_csv(&q, &qs).unwrap();
    (i, q)
}

#[test]
fn print_model_shows_the_fitted_parameters_and_no_train_the_built_in_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (i, q) = batch(dir.path());
    let mut a = args(i, q, dir.path().join("o.csv"));
    a.print_model = true;
    let mut w = Vec::new();
    run_match(&a, &mut w).unwrap();
    let fitted = String::from_utf8(w).unwrap();
    assert!(
        fitted.contains("model fitted by EM on 300 queries"),
        "{fitted}"
    );
    assert!(fitted.contains("forename   exact"), "{fitted}");
    let trained_rows = rows(&dir.path().join("o.csv"));

    a.no_train = true;
    let mut w = Vec::new();
    run_match(&a, &mut w).unwrap();
    let built_in = String::from_utf8(w).unwrap();
    assert!(
        built_in.contains("built-in model (not fitted)"),
        "{built_in}"
    );
    assert!(built_in.contains("π = 0.5000"), "{built_in}");
    let untrained_rows = rows(&dir.path().join("o.csv"));
    // Same candidates found, but the scores differ once the model is fitted.
    assert_ne!(trained_rows, untrained_rows);
}

#[test]
fn explain_adds_a_json_column_with_levels_weights_and_sentences() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(dir.path(), "i.csv", INDEX);
    let q = write(
        dir.path(),
        "q.csv",
        "id,first_name,last_name,dob\nQ1,Ollie,Okafor,2016-05-04\n",
    );
    let out = dir.path().join("out.csv");
    let mut a = args(i, q, out.clone());
    a.explain = true;
    a.no_train = true;
    run_match(&a, &mut Vec::new()).unwrap();
    let mut rdr = csv::Reader::from_path(&out).unwrap();
    assert_eq!(
        rdr.headers().unwrap().iter().collect::<Vec<_>>(),
        ["query_id", "person_id", "score", "explanation"]
    );
    let rec = rdr.records().next().unwrap().unwrap();
    let json = &rec[3];
    assert!(json.starts_with('[') && json.ends_with(']'), "{json}");
    assert!(
        json.contains("\"field\":\"forename\",\"label\":\"First name\",\"level\":\"nickname\""),
        "{json}"
    );
    assert!(json.contains("Ollie is a short form of Oliver"), "{json}");
    assert!(
        json.contains("\"field\":\"dob\",\"label\":\"Date of birth\",\"level\":\"exact\""),
        "{json}"
    );
}

#[test]
fn an_impossible_dob_is_reported_and_still_compared_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(
        dir.path(),
        "i.csv",
        "id,first_name,last_name,dob\nP1,Amelia,Whitfield,1945-04-03\nP2,Amelia,Whitfield,1961-11-20\n",
    );
    let q = write(
        dir.path(),
        "q.csv",
        "id,first_name,last_name,dob\nQ1,Amelia,Whitfield,1945-04-93\n",
    );
    let out = dir.path().join("out.csv");
    let mut a = args(i, q, out.clone());
    a.explain = true;
    a.no_train = true;
    a.threshold = 0.0;
    let mut w = Vec::new();
    run_match(&a, &mut w).unwrap();
    let w = String::from_utf8(w).unwrap();
    assert!(
        w.contains("row 2") && w.contains("1945-04-93") && w.contains("compared as text"),
        "{w}"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let line = |id: &str| {
        text.lines()
            .find(|l| l.contains(&format!("Q1,{id},")))
            .unwrap()
            .to_string()
    };
    // One digit away from P1's date: evidence for P1; P2's date is different.
    assert!(line("P1").contains("one_digit_off"), "{text}");
    assert!(
        line("P2")
            .contains(r#"""field"":""dob"",""label"":""Date of birth"",""level"":""disagree"""#),
        "{text}"
    );
    let score = |id: &str| -> f64 { line(id).split(',').nth(2).unwrap().parse().unwrap() };
    assert!(score("P1") > score("P2"), "{text}");
}
