//! Renders real PDFs and reads them back with poppler's `pdftotext`,
//! `pdfinfo` and `pdffonts`. These tools are required: if they are missing the
//! tests fail (install Debian's `poppler-utils`).

use std::path::Path;
use std::process::Command;

use ehm_pdf::{Item, PdfDocument, Section, render};

const REFERENCE: &str = "EH-7KQ4-M2XP";
const MARKING: &str = "OFFICIAL-SENSITIVE";

fn field(label: &str, value: &str) -> Item {
    Item::Field {
        label: label.into(),
        value: value.into(),
    }
}

fn text(label: &str, value: &str) -> Item {
    Item::Text {
        label: label.into(),
        value: value.into(),
    }
}

fn doc(sections: Vec<Section>) -> PdfDocument {
    PdfDocument {
        title: "Early Help referral".into(),
        reference: REFERENCE.into(),
        marking: MARKING.into(),
        generated: "Created 25 November 2026 at 18:20".into(),
        sections,
    }
}

fn section(heading: &str, items: Vec<Item>) -> Section {
    Section {
        heading: heading.into(),
        items,
    }
}

/// A rendered PDF on disk, removed when dropped.
struct Rendered {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

fn render_to_file(d: &PdfDocument) -> Rendered {
    let bytes = render(d).expect("render should succeed");
    assert!(bytes.starts_with(b"%PDF-"), "output is not a PDF");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("referral.pdf");
    std::fs::write(&path, bytes).unwrap();
    Rendered { _dir: dir, path }
}

fn tool(name: &str, args: &[&str], pdf: &Path) -> String {
    let out = Command::new(name)
        .args(args)
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "could not run `{name}` ({e}). These tests need poppler's command line tools: \
             install them with `apt-get install poppler-utils`"
            )
        });
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("tool output is UTF-8")
}

fn info_tool(name: &str, pdf: &Path) -> String {
    let out = Command::new(name).arg(pdf).output().unwrap_or_else(|e| {
        panic!(
            "could not run `{name}` ({e}). These tests need poppler's command line tools: \
             install them with `apt-get install poppler-utils`"
        )
    });
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("tool output is UTF-8")
}

fn pdftotext(pdf: &Path) -> String {
    tool("pdftotext", &["-enc", "UTF-8"], pdf)
}

fn pdftotext_layout(pdf: &Path) -> String {
    tool("pdftotext", &["-layout", "-enc", "UTF-8"], pdf)
}

fn page_text(pdf: &Path, page: usize) -> String {
    let p = page.to_string();
    tool(
        "pdftotext",
        &["-layout", "-enc", "UTF-8", "-f", &p, "-l", &p],
        pdf,
    )
}

fn page_count(pdf: &Path) -> usize {
    let info = info_tool("pdfinfo", pdf);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .expect("pdfinfo prints Pages:")
        .trim()
        .parse()
        .unwrap()
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn assert_contains(haystack: &str, needle: &str) {
    let (h, n) = (squash(haystack), squash(needle));
    assert!(
        h.contains(&n),
        "expected to find {n:?} in the PDF text:\n{h}"
    );
}

/// Checks every page carries the reference, the marking and "Page N of M".
fn assert_every_page_marked(pdf: &Path) -> usize {
    let pages = page_count(pdf);
    for n in 1..=pages {
        let t = page_text(pdf, n);
        assert_contains(&t, &format!("Page {n} of {pages}"));
        assert_contains(&t, MARKING);
        assert_contains(&t, REFERENCE);
    }
    pages
}

#[test]
fn every_kind_of_item_is_shown() {
    let d = doc(vec![
        section(
            "About the child",
            vec![
                field("First name", "Amelia"),
                field("Date of birth", "3 March 2019"),
                field("Address", "12 Acacia Avenue\nLeeds\nLS1 4AB"),
                text(
                    "What is the concern?",
                    "Amelia has missed school.\nShe seems tired.\n\nA second paragraph.",
                ),
            ],
        ),
        section(
            "Family",
            vec![
                Item::Subheading("Parent or carer 1".into()),
                field("Name", "Jo Bloggs"),
                field("Relationship to child", "Mother"),
                Item::Subheading("Parent or carer 2".into()),
                field("Name", "Sam Bloggs"),
            ],
        ),
        section("Consent", vec![]),
    ]);
    let r = render_to_file(&d);
    let t = pdftotext(&r.path);
    let layout = pdftotext_layout(&r.path);
    for s in [
        "Early Help referral",
        REFERENCE,
        MARKING,
        "Created 25 November 2026 at 18:20",
        "About the child",
        "First name",
        "Amelia",
        "Date of birth",
        "3 March 2019",
        "Address",
        "12 Acacia Avenue",
        "Leeds",
        "LS1 4AB",
        "What is the concern?",
        "Amelia has missed school.",
        "She seems tired.",
        "A second paragraph.",
        "Family",
        "Parent or carer 1",
        "Parent or carer 2",
        "Name",
        "Jo Bloggs",
        "Relationship to child",
        "Mother",
        "Sam Bloggs",
        "Consent",
        "Page 1 of 1",
    ] {
        assert_contains(&t, s);
    }
    // The label and its value are on the same row.
    assert!(
        layout
            .lines()
            .any(|l| l.contains("First name") && l.contains("Amelia")),
        "label and value should share a line:\n{layout}"
    );
    // Line breaks inside free text are kept: the two sentences are on separate lines.
    assert!(
        layout
            .lines()
            .any(|l| l.trim() == "Amelia has missed school."),
        "{layout}"
    );
    assert_eq!(assert_every_page_marked(&r.path), 1);
}

#[test]
fn long_free_text_flows_across_pages_whole_and_in_order() {
    let words: Vec<String> = (1..=2858).map(|i| format!("w{i:05}")).collect();
    let long = words.join(" ");
    assert!(
        long.len() >= 20_000,
        "test text is {} characters",
        long.len()
    );
    let d = doc(vec![section(
        "What is the concern?",
        vec![
            field("Concern raised by", "Teacher"),
            text("Describe the concern", &long),
        ],
    )]);
    let r = render_to_file(&d);
    let t = pdftotext(&r.path);
    let found: Vec<&str> = t
        .split_whitespace()
        .filter(|w| {
            w.len() == 6 && w.starts_with('w') && w[1..].bytes().all(|b| b.is_ascii_digit())
        })
        .collect();
    assert_eq!(
        found.len(),
        words.len(),
        "every word comes back exactly once"
    );
    assert!(
        found.iter().zip(&words).all(|(a, b)| a == b),
        "words come back in order"
    );
    assert_eq!(found.join(" "), long);
    let pages = assert_every_page_marked(&r.path);
    assert!(
        pages > 1,
        "20,000 characters should need more than one page, got {pages}"
    );
    eprintln!("20,000-character text rendered on {pages} pages");
}

#[test]
fn markup_in_user_text_is_printed_literally() {
    let nasty = [
        r#"#import "x""#,
        "*a*",
        "$x$",
        r"back\slash \ end",
        "close ] bracket",
        "<b>",
        "@x",
        "// c",
        "= Heading",
        "_under_ `raw` ~ -- --- ... 'q' \"dq\"",
        r#"#let x = 1 #x #eval("1+1") #{ panic() } #[ ]"#,
        "/* c */ - item + item 1. item / term: desc",
    ];
    let mut items = vec![Item::Subheading("= Heading * sub $".into())];
    for (i, n) in nasty.iter().enumerate() {
        items.push(field(&format!("label {i} {n}"), n));
    }
    items.push(text("#strong[Text] $y$", &nasty.join("\n")));
    let d = PdfDocument {
        reference: "#ref *r* $z$".into(),
        ..doc(vec![section("#heading[S]", items)])
    };
    let r = render_to_file(&d);
    let t = pdftotext(&r.path);
    for (i, n) in nasty.iter().enumerate() {
        assert_contains(&t, n);
        // Long labels wrap in the narrow label column, and pdftotext joins a
        // line ending in "-" to the next without a space, so only the short
        // labels are compared as a whole.
        if n.len() <= 20 {
            assert_contains(&t, &format!("label {i} {n}"));
        }
    }
    for s in [
        "= Heading * sub $",
        "#strong[Text] $y$",
        "#ref *r* $z$",
        "#heading[S]",
    ] {
        assert_contains(&t, s);
    }
}

#[test]
fn unicode_names_survive() {
    let names = [
        "Zoë",
        "Łukasz",
        "Siobhán",
        "O'Neill-Smith",
        "Nguyễn Thị Minh",
        "Müller",
        "Renée",
        "Ørsted",
    ];
    let items = names.iter().map(|n| field("Name", n)).collect();
    let d = doc(vec![section("Children", items)]);
    let r = render_to_file(&d);
    let t = pdftotext(&r.path);
    for n in names {
        assert!(t.contains(n), "expected {n:?} in:\n{t}");
    }
}

#[test]
fn empty_field_shows_not_provided() {
    let d = doc(vec![section(
        "About the child",
        vec![
            field("First name", "Amelia"),
            field("Middle name", ""),
            field("Nickname", "  \n "),
            text("Notes", ""),
        ],
    )]);
    let r = render_to_file(&d);
    let layout = pdftotext_layout(&r.path);
    for label in ["Middle name", "Nickname"] {
        assert!(
            layout
                .lines()
                .any(|l| l.contains(label) && l.contains("Not provided")),
            "{label} should be followed by Not provided:\n{layout}"
        );
    }
    assert_eq!(layout.matches("Not provided").count(), 3, "{layout}");
}

#[test]
fn fonts_are_embedded_and_metadata_set() {
    let d = doc(vec![section("About the child", vec![field("Name", "Zoë")])]);
    let r = render_to_file(&d);
    let fonts = info_tool("pdffonts", &r.path);
    let dejavu: Vec<&str> = fonts.lines().filter(|l| l.contains("DejaVuSans")).collect();
    assert!(
        dejavu.len() >= 2,
        "regular and bold DejaVu Sans expected:\n{fonts}"
    );
    for l in dejavu {
        // Columns: name type encoding emb sub uni object ID
        let cols: Vec<&str> = l.split_whitespace().collect();
        let n = cols.len();
        assert_eq!(cols[n - 5], "yes", "font not embedded: {l}");
    }
    let info = info_tool("pdfinfo", &r.path);
    assert_contains(&info, &format!("Title: Early Help referral: {REFERENCE}"));
    assert_contains(&info, "Tagged: yes");
    assert_contains(&info, "Page size: 595.276 x 841.89 pts (A4)");
    let out = Command::new("pdfinfo")
        .arg("-meta")
        .arg(&r.path)
        .output()
        .unwrap();
    let meta = String::from_utf8_lossy(&out.stdout);
    assert!(
        meta.contains("<rdf:li>en-GB</rdf:li>"),
        "language en-GB expected:\n{meta}"
    );
    assert!(
        meta.contains("<pdfuaid:part>1</pdfuaid:part>"),
        "PDF/UA-1 expected:\n{meta}"
    );
}

#[test]
fn renders_concurrently_from_many_threads() {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let d = doc(vec![section(
                    "Child",
                    vec![field("Number", &format!("child-{i}"))],
                )]);
                let r = render_to_file(&d);
                assert_contains(&pdftotext(&r.path), &format!("child-{i}"));
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn very_long_words_wrap_instead_of_running_off_the_page() {
    let token: String = (0..300)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let url = format!("https://example.org/{}", "segment/".repeat(20));
    let d = doc(vec![section(
        "Links",
        vec![
            field("Token", &token),
            text("Notes", &format!("See {url} and {token} end")),
        ],
    )]);
    let r = render_to_file(&d);
    // pdftotext only reports text inside the page, so text that ran off the
    // page would be missing. Wrapped pieces come back one per line.
    let t = pdftotext(&r.path);
    let joined: String = t.lines().map(str::trim).collect();
    assert_eq!(joined.matches(token.as_str()).count(), 2, "{t}");
    assert!(joined.contains(&url), "{t}");
    for line in pdftotext_layout(&r.path).lines() {
        assert!(line.chars().count() < 120, "line too long: {line}");
    }
}

#[test]
fn characters_the_font_lacks_do_not_fail_the_render() {
    // DejaVu Sans has no CJK, emoji or Devanagari glyphs; the PDF must still
    // be produced, with the rest of the text intact.
    let d = doc(vec![section(
        "Child",
        vec![
            field("Name", "王芳 😀 नमस्ते \u{E000} محمد"),
            text("Notes", "before 🙂🙃 after"),
        ],
    )]);
    let r = render_to_file(&d);
    let t = pdftotext(&r.path);
    assert_contains(&t, "Name");
    assert_contains(&t, "محمد");
    assert_contains(&t, "before");
    assert_contains(&t, "after");
}
