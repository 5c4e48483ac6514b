//! `cargo bench -p ehm-pdf`: time to render a referral of about 20 pages.
//! Prints the first (cold: engine and fonts loaded) render, then min / median
//! / max of the warm renders, in milliseconds.

use std::time::Instant;

use ehm_pdf::{Item, PdfDocument, Section, render};

const RUNS: usize = 9;

fn words(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("word{i}"))
        .collect::<Vec<_>>()
        .chunks(60)
        .map(|c| c.join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn field(label: &str, value: &str) -> Item {
    Item::Field {
        label: label.into(),
        value: value.into(),
    }
}

fn document() -> PdfDocument {
    let mut sections = Vec::new();
    let mut children = Vec::new();
    for c in 1..=4 {
        children.push(Item::Subheading(format!("Child {c}")));
        children.push(field("First name", &format!("Zoë {c}")));
        children.push(field("Last name", "O'Neill-Smith"));
        children.push(field("Date of birth", "3 March 2019"));
        children.push(field("School or nursery", "St Siobhán's Primary School"));
        children.push(field("Additional needs", ""));
    }
    sections.push(Section {
        heading: "About the children".into(),
        items: children,
    });
    for s in 1..=4 {
        sections.push(Section {
            heading: format!("Concern {s}"),
            items: vec![
                field("Raised by", "Class teacher"),
                Item::Text {
                    label: "Describe the concern".into(),
                    value: words(s * 10_000, 1_150),
                },
                Item::Text {
                    label: "What has been tried".into(),
                    value: words(s * 20_000, 220),
                },
            ],
        });
    }
    PdfDocument {
        title: "Early Help referral".into(),
        reference: "EH-7KQ4-M2XP".into(),
        marking: "OFFICIAL-SENSITIVE".into(),
        generated: "Created 25 November 2026 at 18:20".into(),
        sections,
    }
}

/// Page count read back with poppler's `pdfinfo`, if it is installed.
fn pages(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.pdf");
    std::fs::write(&path, pdf).expect("write pdf");
    std::process::Command::new("pdfinfo")
        .arg(&path)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find_map(|l| l.strip_prefix("Pages:").map(|p| p.trim().to_owned()))
        })
        .unwrap_or_else(|| "? (pdfinfo missing)".to_owned())
}

fn main() {
    let doc = document();
    let t = Instant::now();
    let pdf = render(&doc).expect("render");
    let cold = t.elapsed().as_secs_f64() * 1000.0;
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        let out = render(&doc).expect("render");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(out);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "render ~20-page referral: {} pages, {} KiB; cold {cold:.1} ms; warm over {RUNS} runs: min {:.1} ms, median {:.1} ms, max {:.1} ms",
        pages(&pdf),
        pdf.len() / 1024,
        times[0],
        times[RUNS / 2],
        times[RUNS - 1],
    );
}
