//! The referral as a PDF document: every section and row of the summary, in full.

use ehm_domain::referral::{ReferralDraft, summary};
use ehm_pdf::{Item, PdfDocument, Section};
use time::OffsetDateTime;

pub fn document(
    draft: &ReferralDraft,
    reference: Option<&str>,
    now: OffsetDateTime,
) -> PdfDocument {
    let f = time::macros::format_description!(
        "[day padding:none] [month repr:long] [year] at [hour]:[minute] UTC"
    );
    let sections = summary(draft)
        .into_iter()
        .map(|s| {
            let mut items: Vec<Item> = s.rows.iter().map(item).collect();
            for g in &s.groups {
                items.push(Item::Subheading(g.heading.clone()));
                items.extend(g.rows.iter().map(item));
            }
            Section {
                heading: s.title,
                items,
            }
        })
        .collect();
    PdfDocument {
        title: "Early Help referral".to_string(),
        reference: reference
            .map(str::to_string)
            .unwrap_or_else(|| "Draft — not submitted".to_string()),
        marking: "OFFICIAL-SENSITIVE".to_string(),
        generated: format!("Created {}", now.format(&f).unwrap_or_default()),
        sections,
    }
}

fn item(r: &ehm_domain::referral::SummaryRow) -> Item {
    if r.long_text {
        Item::Text {
            label: r.label.clone(),
            value: r.value.clone(),
        }
    } else {
        Item::Field {
            label: r.label.clone(),
            value: r.value.clone(),
        }
    }
}
