//! ehm-pdf: renders a whole referral (draft or submitted) to PDF, and the outcome letter
//! to the referrer ([`render_outcome_letter`]) in the same house style.
//!
//! The layout is a fixed typst template (`referral.typ`, compiled into the
//! binary) run by an in-process typst engine. The engine, with the embedded
//! DejaVu Sans fonts, is built once per process ([`LazyLock`]) and shared by
//! every render, so a render is one typst compile plus PDF export.
//!
//! User text never becomes typst markup: the document is converted into a
//! typst dictionary of plain strings and arrays and handed to the template as
//! `sys.inputs`. The template only displays those values as strings, which
//! typst prints literally.

use std::sync::LazyLock;

use typst::diag::{Severity, SourceDiagnostic};
use typst::foundations::{Array, Dict, IntoValue, Value};
use typst_as_lib::{TypstAsLibError, TypstEngine, TypstTemplateMainFile};
use typst_layout::PagedDocument;

/// A whole document to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdfDocument {
    /// e.g. "Early Help referral".
    pub title: String,
    /// e.g. "EH-7KQ4-M2XP" or "Draft — not submitted".
    pub reference: String,
    /// Protective marking printed on every page, e.g. "OFFICIAL-SENSITIVE".
    pub marking: String,
    /// Human text, e.g. "Created 25 November 2026 at 18:20".
    pub generated: String,
    pub sections: Vec<Section>,
}

/// A titled part of the document, e.g. "About the child".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub heading: String,
    pub items: Vec<Item>,
}

/// One entry in a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// Short answer, shown as a label/value row. An empty value is shown as
    /// "Not provided".
    Field { label: String, value: String },
    /// Long free text: the label, then full-width paragraphs. Line breaks are
    /// kept; a blank line starts a new paragraph.
    Text { label: String, value: String },
    /// A subheading inside a section, e.g. "Child 2".
    Subheading(String),
}

/// Why a PDF could not be produced. `Display` is a single line.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The typst layout failed (a bug in the template, not in user data).
    #[error("PDF layout failed: {0}")]
    Layout(String),
    /// Writing the laid-out document as PDF failed.
    #[error("PDF export failed: {0}")]
    Export(String),
}

/// The layout template. User data is not part of it.
const TEMPLATE: &str = include_str!("referral.typ");

/// Fonts shipped with the project (see `fonts/LICENSE-DejaVu.txt`).
const FONTS: [&[u8]; 2] = [
    include_bytes!("../fonts/DejaVuSans.ttf"),
    include_bytes!("../fonts/DejaVuSans-Bold.ttf"),
];

/// The compiled engine: template, parsed fonts and standard library, built once.
static ENGINE: LazyLock<TypstEngine<TypstTemplateMainFile>> = LazyLock::new(|| {
    TypstEngine::builder()
        .main_file(TEMPLATE)
        .fonts(FONTS)
        .build()
});

/// Renders `doc` to the bytes of a PDF file.
pub fn render(doc: &PdfDocument) -> Result<Vec<u8>, PdfError> {
    let inputs = to_inputs(doc);
    let compiled = ENGINE.compile_with_input::<_, PagedDocument>(inputs);
    let paged = compiled.output.map_err(|e| PdfError::Layout(describe(e)))?;
    export(&paged)
}

/// The outcome letter to a referrer: who it is to and from, the date, the
/// reference, the children as the referrer described them, the outcome in plain words
/// and how to get in touch. The wording comes from `ehm_domain::mash::feedback`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeLetter {
    /// "EH-7KQ4-M2XP".
    pub reference: String,
    /// Protective marking printed on every page, e.g. "OFFICIAL-SENSITIVE".
    pub marking: String,
    /// "26 November 2026".
    pub date: String,
    /// Sender block (council, hub, telephone), printed on the right.
    pub from_lines: Vec<String>,
    /// Recipient block (referrer's name, organisation), printed on the left.
    pub to_lines: Vec<String>,
    /// "Dear Sam Teacher,".
    pub greeting: String,
    pub introduction: String,
    pub children: Vec<LetterChild>,
    /// The outcome's name, e.g. "Early Help Service".
    pub outcome_label: String,
    /// What it means, in plain words.
    pub outcome_text: String,
    /// Paragraphs after the outcome (how to get in touch).
    pub closing: Vec<String>,
    /// "Yours sincerely," and the signature lines.
    pub sign_off: Vec<String>,
}

/// A child as the referrer gave their details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterChild {
    pub name: String,
    pub date_of_birth: String,
}

/// The letter layout. User data is not part of it.
const LETTER_TEMPLATE: &str = include_str!("outcome_letter.typ");

static LETTER_ENGINE: LazyLock<TypstEngine<TypstTemplateMainFile>> = LazyLock::new(|| {
    TypstEngine::builder()
        .main_file(LETTER_TEMPLATE)
        .fonts(FONTS)
        .build()
});

/// Renders the outcome letter to the bytes of a PDF file.
pub fn render_outcome_letter(letter: &OutcomeLetter) -> Result<Vec<u8>, PdfError> {
    let inputs = letter_inputs(letter);
    let compiled = LETTER_ENGINE.compile_with_input::<_, PagedDocument>(inputs);
    let paged = compiled.output.map_err(|e| PdfError::Layout(describe(e)))?;
    export(&paged)
}

fn letter_inputs(l: &OutcomeLetter) -> Dict {
    let mut d = Dict::new();
    let title = "Outcome of referral";
    let reference = single_line(&l.reference);
    put(&mut d, "doc-title", format!("{title}: {reference}"));
    put(&mut d, "author", "Early Help referral portal");
    put(&mut d, "title", title);
    put(&mut d, "subject", format!("Referral reference {reference}"));
    put(&mut d, "reference", reference);
    put(&mut d, "marking", single_line(&l.marking));
    put(&mut d, "date", single_line(&l.date));
    let block = |ls: &[String]| -> Array {
        ls.iter()
            .map(|s| single_line(s))
            .filter(|s| !s.is_empty())
            .map(IntoValue::into_value)
            .collect()
    };
    put(&mut d, "from-lines", block(&l.from_lines));
    put(&mut d, "to-lines", block(&l.to_lines));
    put(&mut d, "sign-off", block(&l.sign_off));
    put(&mut d, "greeting", single_line(&l.greeting));
    put(&mut d, "introduction", single_line(&l.introduction));
    let children: Array = l
        .children
        .iter()
        .map(|c| {
            let mut r = Dict::new();
            put(&mut r, "name", single_line(&c.name));
            put(&mut r, "dob", single_line(&c.date_of_birth));
            r.into_value()
        })
        .collect();
    put(&mut d, "children", children);
    put(&mut d, "outcome-heading", "Outcome");
    put(&mut d, "outcome-label", single_line(&l.outcome_label));
    put(&mut d, "outcome-text", single_line(&l.outcome_text));
    put(&mut d, "closing", block(&l.closing));
    d
}

/// Exports a laid-out document, preferring PDF/UA-1.
fn export(paged: &PagedDocument) -> Result<Vec<u8>, PdfError> {
    // Prefer PDF/UA-1 (typst checks it). It rejects text with characters the
    // embedded fonts have no glyph for (e.g. CJK names); such a document is
    // still exported, as an ordinary tagged PDF, rather than refused.
    let ua = typst_pdf::PdfOptions {
        standards: typst_pdf::PdfStandards::new(&[typst_pdf::PdfStandard::Ua_1])
            .map_err(|e| PdfError::Export(one_line(e.message())))?,
        ..Default::default()
    };
    typst_pdf::pdf(paged, &ua)
        .or_else(|_| typst_pdf::pdf(paged, &typst_pdf::PdfOptions::default()))
        .map_err(|diags| PdfError::Export(join_diagnostics(&diags)))
}

fn describe(error: TypstAsLibError) -> String {
    match error {
        TypstAsLibError::TypstSource(diags) => join_diagnostics(&diags),
        other => one_line(&other.to_string()),
    }
}

fn join_diagnostics(diags: &[SourceDiagnostic]) -> String {
    let messages: Vec<String> = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            let mut message = d.message.to_string();
            for hint in &d.hints {
                message.push_str(" (hint: ");
                message.push_str(&hint.v);
                message.push(')');
            }
            one_line(&message)
        })
        .collect();
    if messages.is_empty() {
        "unknown error".to_owned()
    } else {
        messages.join("; ")
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Converts the document into the `sys.inputs` dictionary read by the
/// template. Everything user-supplied ends up as a typst *string value*.
fn to_inputs(doc: &PdfDocument) -> Dict {
    let mut d = Dict::new();
    let title = single_line(&doc.title);
    let reference = single_line(&doc.reference);
    put(&mut d, "doc-title", format!("{title}: {reference}"));
    put(&mut d, "author", "Early Help referral portal");
    put(&mut d, "title", title);
    put(&mut d, "reference", reference);
    put(&mut d, "marking", single_line(&doc.marking));
    put(&mut d, "generated", single_line(&doc.generated));
    let sections: Array = doc.sections.iter().map(section_value).collect();
    put(&mut d, "sections", sections);
    d
}

fn section_value(section: &Section) -> Value {
    let mut blocks: Vec<Value> = Vec::new();
    // Consecutive fields are laid out as one label/value list.
    let mut rows: Vec<Value> = Vec::new();
    let flush = |rows: &mut Vec<Value>, blocks: &mut Vec<Value>| {
        if !rows.is_empty() {
            let mut b = Dict::new();
            put(&mut b, "kind", "fields");
            put(
                &mut b,
                "rows",
                std::mem::take(rows).into_iter().collect::<Array>(),
            );
            blocks.push(b.into_value());
        }
    };
    for item in &section.items {
        match item {
            Item::Field { label, value } => {
                let mut r = Dict::new();
                put(&mut r, "label", single_line(label));
                let lines: Array = lines(value)
                    .into_iter()
                    .map(IntoValue::into_value)
                    .collect();
                put(&mut r, "lines", lines);
                rows.push(r.into_value());
            }
            Item::Text { label, value } => {
                flush(&mut rows, &mut blocks);
                let mut b = Dict::new();
                put(&mut b, "kind", "text");
                put(&mut b, "label", single_line(label));
                let paras: Array = paragraphs(value)
                    .into_iter()
                    .map(|p| {
                        p.into_iter()
                            .map(IntoValue::into_value)
                            .collect::<Array>()
                            .into_value()
                    })
                    .collect();
                put(&mut b, "paras", paras);
                blocks.push(b.into_value());
            }
            Item::Subheading(text) => {
                flush(&mut rows, &mut blocks);
                let mut b = Dict::new();
                put(&mut b, "kind", "subheading");
                put(&mut b, "text", single_line(text));
                blocks.push(b.into_value());
            }
        }
    }
    flush(&mut rows, &mut blocks);
    let mut s = Dict::new();
    put(&mut s, "heading", single_line(&section.heading));
    put(&mut s, "blocks", blocks.into_iter().collect::<Array>());
    s.into_value()
}

fn put(dict: &mut Dict, key: &str, value: impl IntoValue) {
    dict.insert(key.into(), value.into_value());
}

/// Normalises line endings and drops control characters (which have no
/// glyphs); tabs become spaces. Newlines are kept.
fn clean(s: &str) -> String {
    let s = s.replace("\r\n", "\n").replace('\r', "\n");
    s.chars()
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// Text for one-line places (labels, headings): line breaks become spaces.
fn single_line(s: &str) -> String {
    one_line(&clean(s))
}

/// The non-blank lines of a short answer, trimmed. Empty means "Not provided".
fn lines(s: &str) -> Vec<String> {
    clean(s)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Paragraphs (separated by blank lines), each a list of its lines.
fn paragraphs(s: &str) -> Vec<Vec<String>> {
    let mut paras = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for line in clean(s).lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            if !current.is_empty() {
                paras.push(std::mem::take(&mut current));
            }
        } else {
            current.push(line.to_owned());
        }
    }
    if !current.is_empty() {
        paras.push(current);
    }
    paras
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_split_on_blank_lines_and_keep_line_breaks() {
        let p = paragraphs("one\r\ntwo\n\n \nthree\n");
        assert_eq!(
            p,
            vec![
                vec!["one".to_owned(), "two".to_owned()],
                vec!["three".to_owned()]
            ]
        );
        assert!(paragraphs(" \n\n").is_empty());
    }

    #[test]
    fn clean_drops_control_characters() {
        assert_eq!(clean("a\u{0}b\tc\u{7}"), "ab c");
        assert_eq!(single_line(" a\n b "), "a b");
        assert!(lines("  \n ").is_empty());
    }
}
