//! Writes a sample referral PDF: `cargo run -p ehm-pdf --example sample -- out.pdf`.

use ehm_pdf::{Item, PdfDocument, Section, render};

fn field(label: &str, value: &str) -> Item {
    Item::Field {
        label: label.into(),
        value: value.into(),
    }
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "referral.pdf".into());
    let concern = "Zoë has missed 14 days of school this term and arrives tired.\nHer mother says things are difficult at home.\n\n".repeat(30)
        + &"averyveryverylongwordwithoutanyspacesatall".repeat(6);
    let doc = PdfDocument {
        title: "Early Help referral".into(),
        reference: "EH-7KQ4-M2XP".into(),
        marking: "OFFICIAL-SENSITIVE".into(),
        generated: "Created 25 November 2026 at 18:20".into(),
        sections: vec![
            Section {
                heading: "About the child".into(),
                items: vec![
                    Item::Subheading("Child 1".into()),
                    field("First name", "Zoë"),
                    field("Last name", "O'Neill-Smith"),
                    field("Date of birth", "3 March 2019"),
                    field("Address", "12 Acacia Avenue\nLeeds\nLS1 4AB"),
                    field("Additional needs", ""),
                    Item::Subheading("Child 2".into()),
                    field("First name", "Łukasz"),
                    field("Last name", "Siobhán #import \"x\" *a* $x$"),
                ],
            },
            Section {
                heading: "The concern".into(),
                items: vec![
                    field("Raised by", "Class teacher"),
                    Item::Text {
                        label: "Describe the concern".into(),
                        value: concern,
                    },
                ],
            },
        ],
    };
    std::fs::write(&out, render(&doc).expect("render")).expect("write");
    println!("wrote {out}");
}
