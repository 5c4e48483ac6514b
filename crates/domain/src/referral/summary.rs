//! The rows of "check your answers" and of the PDF.
//!
//! Built from the draft, not the parsed referral, so it works for drafts with
//! errors too and shows exactly what was typed: choices by their labels
//! ("White British", "Non-Binary", "Yes"), valid dates and NHS numbers in their
//! display form, anything that does not parse as typed, empty optional answers
//! as "Not provided", and free text in full (never truncated). Each row carries
//! the HTML id of its input for the "Change" link.

use super::attachment::{AttachmentKind, format_size};
use super::choice::{AgencyType, Relationship, YesNo, YesNoDontKnow};
use super::dob::{format_date, parse_date_input};
use super::draft::{ChildDraft, HouseholdMemberDraft, ProfessionalDraft, ReferralDraft};
use super::ethnicity::Ethnicity;
use super::gender::Gender;
use super::nhs_number::NhsNumber;
use super::postcode::Postcode;
use super::referral_type::{LevelOfNeed, ReferralType};
use super::sections::Section;

/// Shown for an empty answer.
pub const NOT_PROVIDED: &str = "Not provided";
/// Shown for an empty list (no household members, professionals or files).
pub const NONE_ADDED: &str = "None added";

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SummaryRow {
    pub label: String,
    pub value: String,
    /// HTML id of the input to change.
    pub field: String,
    /// Free text: keep line breaks, wrap, and let it flow across PDF pages.
    pub long_text: bool,
}

/// A sub-heading with its rows ("Child 1", "Parent or carer 1", "Your organisation").
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SummaryGroup {
    pub heading: String,
    pub rows: Vec<SummaryRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SummarySection {
    #[serde(serialize_with = "section_slug")]
    pub section: Section,
    pub title: String,
    /// Rows directly under the section title.
    pub rows: Vec<SummaryRow>,
    /// Sub-headed groups, after `rows`.
    pub groups: Vec<SummaryGroup>,
}

fn section_slug<S: serde::Serializer>(s: &Section, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.slug())
}

/// Every section, in task-list order.
pub fn summary(draft: &ReferralDraft) -> Vec<SummarySection> {
    Section::ALL
        .iter()
        .map(|s| section_summary(*s, draft))
        .collect()
}

/// One section's rows.
pub fn section_summary(section: Section, d: &ReferralDraft) -> SummarySection {
    let mut rows = Vec::new();
    let mut groups = Vec::new();
    match section {
        Section::BeforeYouStart => {
            rows.push(row(
                "Does the child already have an allocated social worker?",
                choice(&d.allocated_social_worker, YesNoDontKnow::label_of),
                "allocated-social-worker",
            ));
            if YesNoDontKnow::parse(&d.allocated_social_worker) == Ok(YesNoDontKnow::Yes) {
                rows.push(row(
                    "Social worker's name",
                    text(&d.social_worker_name),
                    "social-worker-name",
                ));
                rows.push(row(
                    "Social worker's contact details",
                    text(&d.social_worker_contact),
                    "social-worker-contact",
                ));
            }
            rows.push(row(
                "Level of need you think applies",
                choice(&d.level_of_need, LevelOfNeed::label_of),
                "level-of-need",
            ));
        }
        Section::ReferralType => rows.push(row(
            "Service you are referring to",
            choice(&d.referral_type, ReferralType::label_of),
            "referral-type",
        )),
        Section::Children => {
            if d.children.is_empty() {
                rows.push(row("Children", NONE_ADDED.to_owned(), "children"));
            }
            for (i, c) in d.children.iter().enumerate() {
                groups.push(SummaryGroup {
                    heading: format!("Child {}", i + 1),
                    rows: child_rows(i, c),
                });
            }
        }
        Section::Household => {
            if d.household.is_empty() {
                rows.push(row("Household members", NONE_ADDED.to_owned(), "household"));
            }
            let mut counts = [0usize; 3];
            for (i, m) in d.household.iter().enumerate() {
                let heading = match Relationship::parse(&m.relationship).map(Relationship::group) {
                    Ok(group) => {
                        let n = &mut counts[group as usize];
                        *n += 1;
                        format!("{} {n}", group.heading())
                    }
                    Err(_) => format!("Household member {}", i + 1),
                };
                groups.push(SummaryGroup {
                    heading,
                    rows: household_rows(i, m),
                });
            }
        }
        Section::Referrer => {
            let r = &d.referrer;
            let o = &d.organisation;
            groups.push(SummaryGroup {
                heading: "Your details".to_owned(),
                rows: vec![
                    row("Full name", text(&r.name), "referrer-name"),
                    row("Job title or role", text(&r.role), "referrer-role"),
                    row("Email address", text(&r.email), "referrer-email"),
                    row("Direct telephone number", text(&r.phone), "referrer-phone"),
                ],
            });
            let agency = match AgencyType::parse(&o.agency_type) {
                Ok(AgencyType::Other) if !o.agency_type_other.trim().is_empty() => {
                    format!("Other: {}", o.agency_type_other.trim())
                }
                _ => choice(&o.agency_type, AgencyType::label_of),
            };
            groups.push(SummaryGroup {
                heading: "Your organisation".to_owned(),
                rows: vec![
                    row("Organisation name", text(&o.name), "organisation-name"),
                    row("Type of agency", agency, "organisation-type"),
                    row(
                        "Main or duty telephone number",
                        text(&o.phone),
                        "organisation-phone",
                    ),
                ],
            });
        }
        Section::Professionals => {
            if d.professionals.is_empty() {
                rows.push(row(
                    "Other professionals",
                    NONE_ADDED.to_owned(),
                    "professionals",
                ));
            }
            for (i, p) in d.professionals.iter().enumerate() {
                groups.push(SummaryGroup {
                    heading: format!("Professional {}", i + 1),
                    rows: professional_rows(i, p),
                });
            }
        }
        Section::Concerns => {
            rows.push(long("Your concerns", &d.concerns, "concerns"));
            rows.push(long(
                "What has already been done",
                &d.what_has_been_done,
                "what-has-been-done",
            ));
            rows.push(long("The child's views", &d.childs_views, "childs-views"));
            rows.push(long("Strengths", &d.strengths, "strengths"));
            rows.push(long("Risks", &d.risks, "risks"));
        }
        Section::PreviousReferences => rows.push(long(
            "Previous reference numbers",
            &d.previous_references,
            "previous-references",
        )),
        Section::Support => rows.push(long(
            "Support or action you think is needed",
            &d.support_requested,
            "support-requested",
        )),
        Section::Consent => {
            rows.push(row(
                "Are the parents or carers aware of the referral?",
                choice(&d.parents_aware, YesNo::label_of),
                "parents-aware",
            ));
            rows.push(row(
                "Has a parent or carer given consent to the referral?",
                choice(&d.consent, YesNo::label_of),
                "consent",
            ));
            if YesNo::parse(&d.consent) == Ok(YesNo::No) {
                rows.push(long(
                    "Reasons there is no consent",
                    &d.consent_reasons,
                    "consent-reasons",
                ));
            }
        }
        Section::Attachments => {
            if d.attachments.is_empty() {
                rows.push(row("Files", NONE_ADDED.to_owned(), "attachments"));
            }
            for (i, a) in d.attachments.iter().enumerate() {
                let kind = AttachmentKind::from_code(&a.kind)
                    .map(AttachmentKind::label)
                    .unwrap_or("Unknown type");
                rows.push(row(
                    &format!("File {}", i + 1),
                    format!(
                        "{} ({kind}, {})",
                        a.file_name,
                        format_size(a.size_bytes as usize)
                    ),
                    "attachments",
                ));
            }
        }
    }
    SummarySection {
        section,
        title: section.title().to_owned(),
        rows,
        groups,
    }
}

fn child_rows(i: usize, c: &ChildDraft) -> Vec<SummaryRow> {
    let id = |suffix: &str| format!("child-{i}-{suffix}");
    let mut rows = vec![
        row("First name", text(&c.first_name), &id("first-name")),
        row("Last name", text(&c.last_name), &id("last-name")),
        row(
            "Other names or aliases",
            text(&c.other_names),
            &id("other-names"),
        ),
        row(
            "Has the child been born?",
            if c.unborn { "No, unborn" } else { "Yes" }.to_owned(),
            &id("unborn"),
        ),
    ];
    if c.unborn {
        rows.push(row(
            "Expected due date",
            date(&c.due_day, &c.due_month, &c.due_year, false),
            &id("due-day"),
        ));
    } else {
        rows.push(row(
            "Date of birth",
            date(&c.dob_day, &c.dob_month, &c.dob_year, c.dob_estimated),
            &id("dob-day"),
        ));
    }
    let nhs = match NhsNumber::parse(&c.nhs_number) {
        Ok(n) => n.to_string(),
        Err(_) => text(&c.nhs_number),
    };
    rows.extend([
        row("Gender", choice(&c.gender, Gender::label_of), &id("gender")),
        row(
            "Ethnicity",
            choice(&c.ethnicity, Ethnicity::label_of),
            &id("ethnicity"),
        ),
        long("Address", &c.address, &id("address")),
        row("Postcode", postcode(&c.postcode), &id("postcode")),
        row("NHS number", nhs, &id("nhs-number")),
        row("GP practice", text(&c.gp), &id("gp")),
        row("School or setting", text(&c.school), &id("school")),
        row("Religion", text(&c.religion), &id("religion")),
        row(
            "First language",
            text(&c.first_language),
            &id("first-language"),
        ),
        row(
            "Interpreter needed",
            choice(&c.interpreter_needed, YesNo::label_of),
            &id("interpreter"),
        ),
        long(
            "Disability or health needs",
            &c.disability_or_health_needs,
            &id("health-needs"),
        ),
    ]);
    rows
}

fn household_rows(i: usize, m: &HouseholdMemberDraft) -> Vec<SummaryRow> {
    let id = |suffix: &str| format!("household-{i}-{suffix}");
    vec![
        row("Full name", text(&m.name), &id("name")),
        row(
            "Relationship to the child",
            choice(&m.relationship, Relationship::label_of),
            &id("relationship"),
        ),
        row(
            "Date of birth",
            date(&m.dob_day, &m.dob_month, &m.dob_year, false),
            &id("dob-day"),
        ),
        long("Address", &m.address, &id("address")),
        row("Telephone number", text(&m.phone), &id("phone")),
        row(
            "Parental responsibility",
            choice(&m.parental_responsibility, YesNoDontKnow::label_of),
            &id("parental-responsibility"),
        ),
        row("Language", text(&m.language), &id("language")),
        row(
            "Interpreter needed",
            choice(&m.interpreter_needed, YesNo::label_of),
            &id("interpreter"),
        ),
    ]
}

fn professional_rows(i: usize, p: &ProfessionalDraft) -> Vec<SummaryRow> {
    let id = |suffix: &str| format!("professional-{i}-{suffix}");
    vec![
        row("Name", text(&p.name), &id("name")),
        row("Agency or organisation", text(&p.agency), &id("agency")),
        row("Role", text(&p.role), &id("role")),
        row("Contact details", text(&p.contact), &id("contact")),
        row(
            "Lead professional",
            yes_no(p.is_lead_professional),
            &id("lead"),
        ),
    ]
}

fn row(label: &str, value: String, field: &str) -> SummaryRow {
    SummaryRow {
        label: label.to_owned(),
        value,
        field: field.to_owned(),
        long_text: false,
    }
}

fn long(label: &str, value: &str, field: &str) -> SummaryRow {
    SummaryRow {
        long_text: true,
        ..row(label, text(value), field)
    }
}

/// Trimmed text with `\n` line endings, or "Not provided".
fn text(value: &str) -> String {
    let v = value.replace("\r\n", "\n").replace('\r', "\n");
    let v = v.trim();
    if v.is_empty() {
        NOT_PROVIDED.to_owned()
    } else {
        v.to_owned()
    }
}

/// The label of a stored code; an unrecognised code is shown as stored.
fn choice(code: &str, label_of: fn(&str) -> Option<&'static str>) -> String {
    match label_of(code) {
        Some(label) => label.to_owned(),
        None => text(code),
    }
}

fn yes_no(value: bool) -> String {
    if value { "Yes" } else { "No" }.to_owned()
}

fn date(day: &str, month: &str, year: &str, estimated: bool) -> String {
    let parts = [day.trim(), month.trim(), year.trim()];
    if parts.iter().all(|p| p.is_empty()) {
        return NOT_PROVIDED.to_owned();
    }
    let shown = match parse_date_input(day, month, year) {
        Ok(d) => format_date(d),
        Err(_) => parts.join("/"),
    };
    if estimated {
        format!("{shown} (estimated)")
    } else {
        shown
    }
}

fn postcode(value: &str) -> String {
    match Postcode::parse(value) {
        Ok(p) => p.to_string(),
        Err(_) => text(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::referral::fixtures::{child, parent, unborn_child, valid_draft};
    use crate::referral::nhs_number::tests::invented_nhs_number;

    fn find<'a>(rows: &'a [SummaryRow], label: &str) -> &'a SummaryRow {
        rows.iter()
            .find(|r| r.label == label)
            .unwrap_or_else(|| panic!("no row {label}"))
    }

    fn section(d: &ReferralDraft, s: Section) -> SummarySection {
        summary(d).into_iter().find(|x| x.section == s).unwrap()
    }

    #[test]
    fn every_section_appears_in_task_list_order() {
        let sections: Vec<Section> = summary(&valid_draft()).iter().map(|s| s.section).collect();
        assert_eq!(sections, Section::ALL);
    }

    #[test]
    fn children_are_sub_headed_child_1_child_2() {
        let mut d = valid_draft();
        d.children.push(unborn_child());
        let s = section(&d, Section::Children);
        let headings: Vec<&str> = s.groups.iter().map(|g| g.heading.as_str()).collect();
        assert_eq!(headings, ["Child 1", "Child 2"]);
    }

    #[test]
    fn codes_are_shown_by_their_labels() {
        let mut d = valid_draft();
        d.children[0].gender = "non-binary".into();
        let s = section(&d, Section::Children);
        let rows = &s.groups[0].rows;
        assert_eq!(find(rows, "Ethnicity").value, "White British");
        assert_eq!(find(rows, "Gender").value, "Non-Binary");
        assert_eq!(find(rows, "Interpreter needed").value, "No");
        let rt = section(&d, Section::ReferralType);
        assert_eq!(rt.rows[0].value, "Early Help Service");
    }

    #[test]
    fn dates_nhs_numbers_and_postcodes_are_shown_formatted() {
        let mut d = valid_draft();
        d.children[0].dob_estimated = true;
        let rows = &section(&d, Section::Children).groups[0].rows;
        assert_eq!(find(rows, "Date of birth").value, "3 July 2015 (estimated)");
        let n = invented_nhs_number(123_456);
        assert_eq!(
            find(rows, "NHS number").value,
            format!("{} {} {}", &n[..3], &n[3..6], &n[6..])
        );
        assert_eq!(find(rows, "Postcode").value, "AB1 2XY");
    }

    #[test]
    fn invalid_answers_are_shown_as_typed() {
        let mut d = valid_draft();
        d.children[0].dob_day = "31".into();
        d.children[0].dob_month = "2".into();
        d.children[0].nhs_number = "12345".into();
        d.children[0].ethnicity = "XXXX".into();
        let rows = &section(&d, Section::Children).groups[0].rows;
        assert_eq!(find(rows, "Date of birth").value, "31/2/2015");
        assert_eq!(find(rows, "NHS number").value, "12345");
        assert_eq!(find(rows, "Ethnicity").value, "XXXX");
    }

    #[test]
    fn empty_optional_answers_say_not_provided() {
        let rows = &section(&valid_draft(), Section::Children).groups[0].rows;
        assert_eq!(find(rows, "Religion").value, NOT_PROVIDED);
        assert_eq!(find(rows, "Disability or health needs").value, NOT_PROVIDED);
    }

    #[test]
    fn an_unborn_child_shows_the_due_date_instead_of_a_date_of_birth() {
        let mut d = valid_draft();
        d.children = vec![unborn_child()];
        let rows = &section(&d, Section::Children).groups[0].rows;
        assert_eq!(find(rows, "Expected due date").value, "1 September 2026");
        assert_eq!(find(rows, "Expected due date").field, "child-0-due-day");
        assert!(rows.iter().all(|r| r.label != "Date of birth"));
        assert_eq!(find(rows, "Has the child been born?").value, "No, unborn");
    }

    #[test]
    fn household_members_are_headed_by_their_relationship() {
        let mut d = valid_draft();
        d.household.push(HouseholdMemberDraft {
            name: "Leo Example".into(),
            relationship: "sibling".into(),
            ..Default::default()
        });
        d.household.push(HouseholdMemberDraft {
            name: "Max Example".into(),
            relationship: "father".into(),
            ..parent()
        });
        d.household.push(HouseholdMemberDraft::default());
        let s = section(&d, Section::Household);
        let headings: Vec<&str> = s.groups.iter().map(|g| g.heading.as_str()).collect();
        assert_eq!(
            headings,
            [
                "Parent or carer 1",
                "Brother or sister 1",
                "Parent or carer 2",
                "Household member 4"
            ]
        );
        assert_eq!(
            find(&s.groups[0].rows, "Relationship to the child").value,
            "Mother"
        );
        assert_eq!(
            find(&s.groups[0].rows, "Parental responsibility").value,
            "Yes"
        );
        assert_eq!(find(&s.groups[0].rows, "Date of birth").value, NOT_PROVIDED);
    }

    #[test]
    fn empty_lists_say_none_added() {
        let mut d = valid_draft();
        d.household.clear();
        d.professionals.clear();
        d.attachments.clear();
        for (s, field) in [
            (Section::Household, "household"),
            (Section::Professionals, "professionals"),
            (Section::Attachments, "attachments"),
        ] {
            let x = section(&d, s);
            assert_eq!(x.rows[0].value, NONE_ADDED);
            assert_eq!(x.rows[0].field, field);
        }
    }

    #[test]
    fn long_free_text_is_shown_in_full_and_marked_long() {
        let mut d = valid_draft();
        d.concerns = format!("{}\r\nSecond paragraph.", "word ".repeat(4_000).trim());
        let rows = section(&d, Section::Concerns).rows;
        let c = find(&rows, "Your concerns");
        assert!(c.long_text);
        assert_eq!(c.value.chars().count(), d.concerns.chars().count() - 1);
        assert!(c.value.ends_with("\nSecond paragraph."));
        assert_eq!(c.field, "concerns");
    }

    #[test]
    fn consent_reasons_are_shown_only_when_there_is_no_consent() {
        let mut d = valid_draft();
        d.consent_reasons = "stale text".into();
        let rows = section(&d, Section::Consent).rows;
        assert!(
            rows.iter()
                .all(|r| r.label != "Reasons there is no consent")
        );
        d.consent = "no".into();
        let rows = section(&d, Section::Consent).rows;
        assert_eq!(
            find(&rows, "Reasons there is no consent").value,
            "stale text"
        );
        assert_eq!(
            find(
                &rows,
                "Has a parent or carer given consent to the referral?"
            )
            .value,
            "No"
        );
    }

    #[test]
    fn agency_other_shows_its_description() {
        let mut d = valid_draft();
        d.organisation.agency_type = "other".into();
        d.organisation.agency_type_other = "Faith group".into();
        let s = section(&d, Section::Referrer);
        assert_eq!(
            find(&s.groups[1].rows, "Type of agency").value,
            "Other: Faith group"
        );
        d.organisation.agency_type = "school".into();
        let s = section(&d, Section::Referrer);
        assert_eq!(
            find(&s.groups[1].rows, "Type of agency").value,
            "School or college"
        );
    }

    #[test]
    fn attachments_list_name_type_and_size() {
        let rows = section(&valid_draft(), Section::Attachments).rows;
        assert_eq!(rows[0].label, "File 1");
        assert_eq!(rows[0].value, "Chronology.pdf (PDF, 2 KB)");
    }

    #[test]
    fn professionals_show_the_lead() {
        let s = section(&valid_draft(), Section::Professionals);
        assert_eq!(s.groups[0].heading, "Professional 1");
        assert_eq!(find(&s.groups[0].rows, "Lead professional").value, "Yes");
    }

    #[test]
    fn every_row_links_to_an_id_the_validation_uses() {
        // The change links and the error ids are the same scheme.
        let mut d = valid_draft();
        d.children.push(child());
        for s in summary(&d) {
            for r in s
                .rows
                .iter()
                .chain(s.groups.iter().flat_map(|g| g.rows.iter()))
            {
                assert!(!r.field.is_empty() && !r.field.contains(' '), "{r:?}");
            }
        }
    }

    #[test]
    fn the_allocated_social_worker_rows_appear_only_for_yes() {
        let mut d = valid_draft();
        let rows = section(&d, Section::BeforeYouStart).rows;
        assert_eq!(rows.len(), 2);
        d.allocated_social_worker = "yes".into();
        d.social_worker_name = "Pat Worker".into();
        let rows = section(&d, Section::BeforeYouStart).rows;
        assert_eq!(find(&rows, "Social worker's name").value, "Pat Worker");
        assert_eq!(
            find(&rows, "Level of need you think applies").value,
            "Level 3: Targeted / Complex"
        );
    }

    #[test]
    fn a_section_of_an_empty_draft_says_not_provided() {
        let d = ReferralDraft::default();
        let rows = section(&d, Section::Consent).rows;
        assert!(rows.iter().all(|r| r.value == NOT_PROVIDED));
    }
}
