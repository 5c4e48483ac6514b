//! Renders real outcome letters and reads them back with poppler's `pdftotext` and
//! `pdfinfo` (required: `apt-get install poppler-utils`).

use std::path::Path;
use std::process::Command;

use ehm_pdf::{LetterChild, OutcomeLetter, render_outcome_letter};

const REFERENCE: &str = "EH-7KQ4-M2XP";
const MARKING: &str = "OFFICIAL-SENSITIVE";

fn letter() -> OutcomeLetter {
    OutcomeLetter {
        reference: REFERENCE.into(),
        marking: MARKING.into(),
        date: "26 November 2026".into(),
        from_lines: vec![
            "Example Council".into(),
            "Multi-Agency Safeguarding Hub (MASH)".into(),
            "Telephone 01632 960000".into(),
        ],
        to_lines: vec!["Sam Teacher".into(), "Example Primary School".into()],
        greeting: "Dear Sam Teacher,".into(),
        introduction: "Thank you for your referral about the children below.".into(),
        children: vec![
            LetterChild {
                name: "Mia Example".into(),
                date_of_birth: "3 March 2019".into(),
            },
            LetterChild {
                name: "Zoë O'Neill-Smith".into(),
                date_of_birth: "Unborn (due 1 May 2027)".into(),
            },
        ],
        outcome_label: "Early Help Service".into(),
        outcome_text: "Early Help Service: a family support worker will contact the family to agree a plan of support with them.".into(),
        closing: vec!["If you have questions, call the MASH on 01632 960000 and give the reference EH-7KQ4-M2XP.".into()],
        sign_off: vec![
            "Yours sincerely,".into(),
            "Multi-Agency Safeguarding Hub".into(),
            "Example Council".into(),
        ],
    }
}

struct Rendered {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

fn render_to_file(l: &OutcomeLetter) -> Rendered {
    let bytes = render_outcome_letter(l).expect("render should succeed");
    assert!(bytes.starts_with(b"%PDF-"), "output is not a PDF");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("letter.pdf");
    std::fs::write(&path, bytes).unwrap();
    Rendered { _dir: dir, path }
}

fn run(name: &str, args: &[&str], pdf: &Path, to_stdout: bool) -> String {
    let mut c = Command::new(name);
    c.args(args).arg(pdf);
    if to_stdout {
        c.arg("-");
    }
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("could not run `{name}` ({e}): install poppler-utils"));
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn assert_contains(haystack: &str, needle: &str) {
    let (h, n) = (squash(haystack), squash(needle));
    assert!(h.contains(&n), "expected {n:?} in the PDF text:\n{h}");
}

#[test]
fn the_letter_says_who_what_and_how_to_get_in_touch() {
    let r = render_to_file(&letter());
    let t = run("pdftotext", &["-enc", "UTF-8"], &r.path, true);
    for s in [
        "Sam Teacher",
        "Example Primary School",
        "Example Council",
        "Telephone 01632 960000",
        "26 November 2026",
        "Referral reference EH-7KQ4-M2XP",
        "Dear Sam Teacher,",
        "Mia Example",
        "3 March 2019",
        "Zoë O'Neill-Smith",
        "Unborn (due 1 May 2027)",
        "Outcome",
        "Early Help Service",
        "a family support worker will contact the family",
        "give the reference EH-7KQ4-M2XP",
        "Yours sincerely,",
    ] {
        assert_contains(&t, s);
    }
    let layout = run("pdftotext", &["-layout", "-enc", "UTF-8"], &r.path, true);
    assert!(
        layout
            .lines()
            .any(|l| l.contains("Mia Example") && l.contains("3 March 2019")),
        "a child's name and date of birth share a row:\n{layout}"
    );
}

#[test]
fn every_page_has_the_house_header_and_footer() {
    let r = render_to_file(&letter());
    let t = run("pdftotext", &["-layout", "-enc", "UTF-8"], &r.path, true);
    assert_contains(&t, &format!("Outcome of referral: {REFERENCE}"));
    assert_contains(&t, MARKING);
    assert_contains(&t, "Page 1 of 1");
    let info = run("pdfinfo", &[], &r.path, false);
    assert_contains(&info, &format!("Title: Outcome of referral: {REFERENCE}"));
    assert_contains(&info, "Page size: 595.276 x 841.89 pts (A4)");
    assert_contains(&info, "Tagged: yes");
}

#[test]
fn markup_in_names_is_printed_literally() {
    let mut l = letter();
    l.to_lines = vec!["#import \"x\" *Sam* $y$".into(), "School ] <b> @x".into()];
    l.children[0].name = "= Heading #eval(\"1\")".into();
    let r = render_to_file(&l);
    let t = run("pdftotext", &["-enc", "UTF-8"], &r.path, true);
    for s in [
        "#import \"x\" *Sam* $y$",
        "School ] <b> @x",
        "= Heading #eval(\"1\")",
    ] {
        assert_contains(&t, s);
    }
}

#[test]
fn many_children_flow_onto_a_second_page_with_the_header_repeated() {
    let mut l = letter();
    l.children = (1..=60)
        .map(|i| LetterChild {
            name: format!("Child{i:02} Example"),
            date_of_birth: "1 January 2020".into(),
        })
        .collect();
    let r = render_to_file(&l);
    let t = run("pdftotext", &["-enc", "UTF-8"], &r.path, true);
    for i in 1..=60 {
        assert_contains(&t, &format!("Child{i:02} Example"));
    }
    let pages: usize = run("pdfinfo", &[], &r.path, false)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pages >= 2, "{pages}");
    let last = run(
        "pdftotext",
        &[
            "-layout",
            "-f",
            &pages.to_string(),
            "-l",
            &pages.to_string(),
        ],
        &r.path,
        true,
    );
    assert_contains(&last, &format!("Page {pages} of {pages}"));
    assert_contains(&last, REFERENCE);
    assert_contains(&last, MARKING);
}
