//! Writes a sample outcome letter: `cargo run -p ehm-pdf --example outcome_letter -- out.pdf`.

use ehm_pdf::{LetterChild, OutcomeLetter, render_outcome_letter};

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "outcome-letter.pdf".into());
    let letter = OutcomeLetter {
        reference: "EH-7KQ4-M2XP".into(),
        marking: "OFFICIAL-SENSITIVE".into(),
        date: "26 November 2026".into(),
        from_lines: vec![
            "Example Council".into(),
            "Multi-Agency Safeguarding Hub (MASH)".into(),
            "Telephone 01632 960000".into(),
        ],
        to_lines: vec!["Sam Teacher".into(), "Example Primary School".into()],
        greeting: "Dear Sam Teacher,".into(),
        introduction: "Thank you for your referral about the child below. The Multi-Agency \
                       Safeguarding Hub has looked at it and a manager has agreed the outcome."
            .into(),
        children: vec![LetterChild {
            name: "Mia Example".into(),
            date_of_birth: "3 March 2019".into(),
        }],
        outcome_label: "Early Help Service".into(),
        outcome_text: "Early Help Service: a family support worker will contact the family to \
                       agree a plan of support with them."
            .into(),
        closing: vec![
            "If you have questions or new information, call the Multi-Agency Safeguarding Hub \
             (MASH) on 01632 960000 and give the reference EH-7KQ4-M2XP. If a child is in \
             immediate danger, call 999."
                .into(),
        ],
        sign_off: vec![
            "Yours sincerely,".into(),
            "Multi-Agency Safeguarding Hub".into(),
            "Example Council".into(),
        ],
    };
    let bytes = render_outcome_letter(&letter).expect("render");
    std::fs::write(&path, bytes).expect("write");
    println!("Wrote {path}");
}
