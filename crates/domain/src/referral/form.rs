//! From a submitted section page to the draft, and the option lists the pages show.
//!
//! [`apply_form`] copies one section's posted fields into a [`ReferralDraft`].
//! Input names are the HTML ids documented in [`crate::referral::draft`]
//! (`child-0-first-name`, `referrer-email`, `professional-1-lead`, …), so the
//! name of an input, its id, and the `field` of its [`crate::referral::FieldError`]
//! are always the same string.
//!
//! Rules:
//! - only the fields of the section being saved are touched; unknown names are
//!   ignored, so a tampered form cannot write into another section;
//! - values are kept exactly as typed (the parsers in
//!   [`crate::referral::sections`] trim and check them later), except that
//!   textareas have `\r\n` (and lone `\r`) turned into `\n`;
//! - a value more than [`STORAGE_FACTOR`] times its field's limit is cut at that
//!   length: the draft stays bounded, and the person still sees (and is told to
//!   shorten) what they typed;
//! - a text input or radio group that is absent from the post is left as it is;
//!   a tick box is `true` when its name is present (any value) and `false` when
//!   absent, but only for list items that were on the page, which the hidden
//!   `child-count`, `household-count` and `professional-count` fields say;
//! - the `action` field (the button pressed) chooses a [`FormAction`];
//! - `completed` ("Have you completed this section?") is recorded with
//!   [`ReferralDraft::set_completed`] when present, and every call records the
//!   save with [`ReferralDraft::mark_saved`].
//!
//! [`form_options`] gives every closed list (labels, hints, census groups) and
//! the character limits, for the templates.

use serde::Serialize;

use crate::form_fields::FormFields;

use super::choice::{AgencyType, Relationship, YesNo, YesNoDontKnow};
use super::draft::{ChildDraft, HouseholdMemberDraft, ProfessionalDraft, ReferralDraft};
use super::ethnicity::Ethnicity;
use super::gender::Gender;
use super::referral_type::{LevelOfNeed, ReferralType};
use super::sections::Section;
use super::text::{
    ADDRESS_MAX, CONCERNS_MAX, NAME_MAX, PREVIOUS_REFERENCES_MAX, SECTION_TEXT_MAX, SHORT_TEXT_MAX,
};

/// Stored values are cut at this many times their field's limit.
pub const STORAGE_FACTOR: usize = 5;

/// The most items a list (children, household, professionals) can hold; "Add
/// another" does nothing beyond it. Far above any real family.
pub const MAX_LIST_ITEMS: usize = 30;

/// Limit used for storage bounding of a radio or select code.
const CHOICE_MAX: usize = 40;
/// Limit used for storage bounding of one part of a date.
const DATE_PART_MAX: usize = 10;
/// Limit used for storage bounding of a telephone number as typed.
const PHONE_MAX: usize = 30;
/// Limit used for storage bounding of an email address.
const EMAIL_MAX: usize = 254;

/// What the person asked for with the button they pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FormAction {
    /// "Save and continue" (also any unknown or missing action).
    Continue,
    /// "Save and come back later".
    Later,
    /// "Add another …": show the same page again with a new blank item.
    Added,
    /// "Remove": show the same page again without the item.
    Removed,
}

impl FormAction {
    /// Whether the same page should be shown again (after adding or removing an item).
    pub fn stays_on_page(self) -> bool {
        matches!(self, FormAction::Added | FormAction::Removed)
    }
}

/// A new draft: one blank child, so the children page never starts empty.
pub fn new_draft() -> ReferralDraft {
    ReferralDraft {
        children: vec![ChildDraft::default()],
        ..Default::default()
    }
}

/// Adds one blank child when there are none (call before showing the children page).
pub fn ensure_a_child(draft: &mut ReferralDraft) {
    if draft.children.is_empty() {
        draft.children.push(ChildDraft::default());
    }
}

/// Copies `section`'s submitted `fields` into `draft` (see the module docs) and
/// returns what the person asked for.
pub fn apply_form(section: Section, draft: &mut ReferralDraft, fields: &FormFields) -> FormAction {
    let form = Form(fields);
    match section {
        Section::BeforeYouStart => {
            form.choice(
                "allocated-social-worker",
                &mut draft.allocated_social_worker,
            );
            form.text(
                "social-worker-name",
                NAME_MAX,
                &mut draft.social_worker_name,
            );
            form.text(
                "social-worker-contact",
                SHORT_TEXT_MAX,
                &mut draft.social_worker_contact,
            );
            form.choice("level-of-need", &mut draft.level_of_need);
        }
        Section::ReferralType => form.choice("referral-type", &mut draft.referral_type),
        Section::Children => {
            let count = form.item_count("child");
            apply_items(&mut draft.children, count, |i, c| {
                apply_child(&form, &format!("child-{i}-"), c)
            });
        }
        Section::Household => {
            let count = form.item_count("household");
            apply_items(&mut draft.household, count, |i, m| {
                apply_household_member(&form, &format!("household-{i}-"), m)
            });
        }
        Section::Referrer => {
            let r = &mut draft.referrer;
            form.text("referrer-name", NAME_MAX, &mut r.name);
            form.text("referrer-role", SHORT_TEXT_MAX, &mut r.role);
            form.text("referrer-email", EMAIL_MAX, &mut r.email);
            form.text("referrer-phone", PHONE_MAX, &mut r.phone);
            let o = &mut draft.organisation;
            form.text("organisation-name", SHORT_TEXT_MAX, &mut o.name);
            form.choice("organisation-type", &mut o.agency_type);
            form.text(
                "organisation-type-other",
                SHORT_TEXT_MAX,
                &mut o.agency_type_other,
            );
            form.text("organisation-phone", PHONE_MAX, &mut o.phone);
        }
        Section::Professionals => {
            let count = form.item_count("professional");
            apply_items(&mut draft.professionals, count, |i, p| {
                apply_professional(&form, &format!("professional-{i}-"), p)
            });
        }
        Section::Concerns => {
            form.long_text("concerns", CONCERNS_MAX, &mut draft.concerns);
            form.long_text(
                "what-has-been-done",
                SECTION_TEXT_MAX,
                &mut draft.what_has_been_done,
            );
            form.long_text("childs-views", SECTION_TEXT_MAX, &mut draft.childs_views);
            form.long_text("strengths", SECTION_TEXT_MAX, &mut draft.strengths);
            form.long_text("risks", SECTION_TEXT_MAX, &mut draft.risks);
        }
        Section::PreviousReferences => form.long_text(
            "previous-references",
            PREVIOUS_REFERENCES_MAX,
            &mut draft.previous_references,
        ),
        Section::Support => form.long_text(
            "support-requested",
            SECTION_TEXT_MAX,
            &mut draft.support_requested,
        ),
        Section::Consent => {
            form.choice("parents-aware", &mut draft.parents_aware);
            form.choice("consent", &mut draft.consent);
            form.long_text(
                "consent-reasons",
                SECTION_TEXT_MAX,
                &mut draft.consent_reasons,
            );
        }
        // Files are uploaded and removed by their own forms; this page only
        // records the "completed" answer.
        Section::Attachments => {}
    }

    let action = apply_action(section, draft, form.get("action").unwrap_or(""));
    if section == Section::Children {
        ensure_a_child(draft);
    }
    match form.get("completed").map(str::trim) {
        Some("yes") => draft.set_completed(section, true),
        Some("no") => draft.set_completed(section, false),
        _ => {}
    }
    draft.mark_saved(section);
    action
}

/// The `action` value → [`FormAction`], adding or removing list items of this
/// section only.
fn apply_action(section: Section, draft: &mut ReferralDraft, action: &str) -> FormAction {
    let action = action.trim();
    match action {
        "later" => return FormAction::Later,
        "continue" | "" => return FormAction::Continue,
        _ => {}
    }
    match section {
        Section::Children => list_action(action, "child", &mut draft.children),
        Section::Household => list_action(action, "household", &mut draft.household),
        Section::Professionals => list_action(action, "professional", &mut draft.professionals),
        _ => FormAction::Continue,
    }
}

/// `add-{kind}` and `remove-{kind}-{i}`; anything else is `Continue`.
fn list_action<T: Default>(action: &str, kind: &str, items: &mut Vec<T>) -> FormAction {
    if action.strip_prefix("add-") == Some(kind) {
        if items.len() < MAX_LIST_ITEMS {
            items.push(T::default());
        }
        return FormAction::Added;
    }
    let index = action
        .strip_prefix("remove-")
        .and_then(|rest| rest.strip_prefix(kind))
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|i| i.parse::<usize>().ok());
    match index {
        Some(i) if i < items.len() => {
            items.remove(i);
            FormAction::Removed
        }
        // A stale "Remove" for an item that is already gone: nothing to do.
        Some(_) => FormAction::Removed,
        None => FormAction::Continue,
    }
}

/// Applies the posted fields to the first `count` items, creating blank ones
/// when the page had more items than the draft.
fn apply_items<T: Default>(items: &mut Vec<T>, count: usize, mut apply: impl FnMut(usize, &mut T)) {
    let count = count.min(MAX_LIST_ITEMS);
    while items.len() < count {
        items.push(T::default());
    }
    for (i, item) in items.iter_mut().enumerate().take(count) {
        apply(i, item);
    }
}

fn apply_child(form: &Form<'_>, p: &str, c: &mut ChildDraft) {
    let n = |suffix: &str| format!("{p}{suffix}");
    form.text(&n("first-name"), NAME_MAX, &mut c.first_name);
    form.text(&n("last-name"), NAME_MAX, &mut c.last_name);
    form.text(&n("other-names"), SHORT_TEXT_MAX, &mut c.other_names);
    form.tick(&n("unborn"), &mut c.unborn);
    form.text(&n("dob-day"), DATE_PART_MAX, &mut c.dob_day);
    form.text(&n("dob-month"), DATE_PART_MAX, &mut c.dob_month);
    form.text(&n("dob-year"), DATE_PART_MAX, &mut c.dob_year);
    form.tick(&n("dob-estimated"), &mut c.dob_estimated);
    form.text(&n("due-day"), DATE_PART_MAX, &mut c.due_day);
    form.text(&n("due-month"), DATE_PART_MAX, &mut c.due_month);
    form.text(&n("due-year"), DATE_PART_MAX, &mut c.due_year);
    form.choice(&n("gender"), &mut c.gender);
    form.choice(&n("ethnicity"), &mut c.ethnicity);
    form.long_text(&n("address"), ADDRESS_MAX, &mut c.address);
    form.text(&n("postcode"), SHORT_TEXT_MAX, &mut c.postcode);
    form.text(&n("nhs-number"), SHORT_TEXT_MAX, &mut c.nhs_number);
    form.text(&n("gp"), SHORT_TEXT_MAX, &mut c.gp);
    form.text(&n("school"), SHORT_TEXT_MAX, &mut c.school);
    form.text(&n("religion"), SHORT_TEXT_MAX, &mut c.religion);
    form.text(&n("first-language"), SHORT_TEXT_MAX, &mut c.first_language);
    form.choice(&n("interpreter"), &mut c.interpreter_needed);
    form.long_text(
        &n("health-needs"),
        SECTION_TEXT_MAX,
        &mut c.disability_or_health_needs,
    );
}

fn apply_household_member(form: &Form<'_>, p: &str, m: &mut HouseholdMemberDraft) {
    let n = |suffix: &str| format!("{p}{suffix}");
    form.text(&n("name"), NAME_MAX, &mut m.name);
    form.choice(&n("relationship"), &mut m.relationship);
    form.text(&n("dob-day"), DATE_PART_MAX, &mut m.dob_day);
    form.text(&n("dob-month"), DATE_PART_MAX, &mut m.dob_month);
    form.text(&n("dob-year"), DATE_PART_MAX, &mut m.dob_year);
    form.long_text(&n("address"), ADDRESS_MAX, &mut m.address);
    form.text(&n("phone"), PHONE_MAX, &mut m.phone);
    form.choice(
        &n("parental-responsibility"),
        &mut m.parental_responsibility,
    );
    form.text(&n("language"), SHORT_TEXT_MAX, &mut m.language);
    form.choice(&n("interpreter"), &mut m.interpreter_needed);
}

fn apply_professional(form: &Form<'_>, p: &str, pro: &mut ProfessionalDraft) {
    let n = |suffix: &str| format!("{p}{suffix}");
    form.text(&n("name"), NAME_MAX, &mut pro.name);
    form.text(&n("agency"), SHORT_TEXT_MAX, &mut pro.agency);
    form.text(&n("role"), SHORT_TEXT_MAX, &mut pro.role);
    form.text(&n("contact"), SHORT_TEXT_MAX, &mut pro.contact);
    form.tick(&n("lead"), &mut pro.is_lead_professional);
}

/// The posted fields, looked up by name (the first value wins).
struct Form<'a>(&'a FormFields);

impl Form<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name)
    }

    /// A single-line input: kept as typed, bounded.
    fn text(&self, name: &str, limit: usize, target: &mut String) {
        if let Some(v) = self.get(name) {
            *target = bounded(v, limit);
        }
    }

    /// A textarea: line endings normalised to `\n`, bounded.
    fn long_text(&self, name: &str, limit: usize, target: &mut String) {
        if let Some(v) = self.get(name) {
            let v = v.replace("\r\n", "\n").replace('\r', "\n");
            *target = bounded(&v, limit);
        }
    }

    /// A radio group or select: the chosen code.
    fn choice(&self, name: &str, target: &mut String) {
        self.text(name, CHOICE_MAX, target);
    }

    /// A tick box: present (any value) is ticked.
    fn tick(&self, name: &str, target: &mut bool) {
        *target = self.0.contains(name);
    }

    /// How many `{kind}-{i}-…` items were on the page: the hidden
    /// `{kind}-count` field, or else one more than the highest index posted.
    fn item_count(&self, kind: &str) -> usize {
        if let Some(n) = self
            .get(&format!("{kind}-count"))
            .and_then(|v| v.trim().parse::<usize>().ok())
        {
            return n;
        }
        let prefix = format!("{kind}-");
        self.0
            .names()
            .filter_map(|name| {
                let rest = name.strip_prefix(&prefix)?;
                let (index, _) = rest.split_once('-')?;
                index.parse::<usize>().ok()
            })
            .filter(|i| *i < MAX_LIST_ITEMS)
            .max()
            .map_or(0, |i| i + 1)
    }
}

/// `value`, cut to [`STORAGE_FACTOR`] × `limit` characters.
fn bounded(value: &str, limit: usize) -> String {
    let max = limit.saturating_mul(STORAGE_FACTOR);
    match value.char_indices().nth(max) {
        Some((cut, _)) => value[..cut].to_owned(),
        None => value.to_owned(),
    }
}

// ---------------------------------------------------------------------------
// Options for the templates.

/// One radio, checkbox or select option.
///
/// `divider`, `conditional_html`, `exclusive` and `disabled` are always
/// serialised (empty) because the GOV.UK macros read them, so pages also
/// render with minijinja's strict undefined behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FormOption {
    pub value: &'static str,
    pub text: &'static str,
    pub hint: Option<&'static str>,
    pub divider: Option<&'static str>,
    pub conditional_html: Option<&'static str>,
    pub exclusive: bool,
    pub disabled: bool,
}

impl FormOption {
    fn new(value: &'static str, text: &'static str, hint: Option<&'static str>) -> Self {
        Self {
            value,
            text,
            hint,
            divider: None,
            conditional_html: None,
            exclusive: false,
            disabled: false,
        }
    }
}

/// Options under a heading (an `<optgroup>`, or a group of radios).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OptionGroup {
    pub label: &'static str,
    pub options: Vec<FormOption>,
}

/// Character limits, for the character-count textareas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FormLimits {
    pub concerns: usize,
    pub section_text: usize,
    pub previous_references: usize,
    pub address: usize,
    pub short_text: usize,
    pub name: usize,
}

/// Everything the section pages list, in display order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FormOptions {
    /// the seven genders.
    pub genders: Vec<FormOption>,
    /// all 20 census codes with their full names, in the DfE order.
    pub ethnicities: Vec<FormOption>,
    /// The same, grouped under the census group headings.
    pub ethnicity_groups: Vec<OptionGroup>,
    /// the three services, each with a one-line description.
    pub referral_types: Vec<FormOption>,
    /// the four levels of need, with hints.
    pub levels_of_need: Vec<FormOption>,
    pub agency_types: Vec<FormOption>,
    pub relationships: Vec<FormOption>,
    pub yes_no: Vec<FormOption>,
    pub yes_no_dont_know: Vec<FormOption>,
    pub limits: FormLimits,
    /// A blank child, shown when a draft has none.
    pub blank_child: ChildDraft,
    pub max_list_items: usize,
}

/// One-line description of each service.
pub fn referral_type_description(t: ReferralType) -> &'static str {
    match t {
        ReferralType::ChildrensSocialCare => {
            "The child is at risk of significant harm or has needs that need a social work assessment"
        }
        ReferralType::EarlyHelpService => {
            "A key worker co-ordinates support from several agencies for a family with multiple or complex needs. Needs the family's consent"
        }
        ReferralType::EarlyHelpUniversalPlus => {
            "Short, light-touch support from one service for a family with additional needs. Needs the family's consent"
        }
    }
}

/// The option lists and limits for the templates.
pub fn form_options() -> FormOptions {
    fn list<T: Copy>(
        all: &[T],
        code: fn(T) -> &'static str,
        label: fn(T) -> &'static str,
    ) -> Vec<FormOption> {
        all.iter()
            .map(|v| FormOption::new(code(*v), label(*v), None))
            .collect()
    }
    let mut ethnicity_groups: Vec<OptionGroup> = Vec::new();
    for e in Ethnicity::ALL {
        let option = FormOption::new(e.code(), e.label(), None);
        match ethnicity_groups.last_mut() {
            Some(g) if g.label == e.group() => g.options.push(option),
            _ => ethnicity_groups.push(OptionGroup {
                label: e.group(),
                options: vec![option],
            }),
        }
    }
    FormOptions {
        genders: list(Gender::ALL, Gender::code, Gender::label),
        ethnicities: list(Ethnicity::ALL, Ethnicity::code, Ethnicity::label),
        ethnicity_groups,
        referral_types: ReferralType::ALL
            .iter()
            .map(|t| FormOption::new(t.code(), t.label(), Some(referral_type_description(*t))))
            .collect(),
        levels_of_need: LevelOfNeed::ALL
            .iter()
            .map(|l| FormOption::new(l.code(), l.label(), Some(l.hint())))
            .collect(),
        agency_types: list(AgencyType::ALL, AgencyType::code, AgencyType::label),
        relationships: list(Relationship::ALL, Relationship::code, Relationship::label),
        yes_no: list(YesNo::ALL, YesNo::code, YesNo::label),
        yes_no_dont_know: list(
            YesNoDontKnow::ALL,
            YesNoDontKnow::code,
            YesNoDontKnow::label,
        ),
        limits: FormLimits {
            concerns: CONCERNS_MAX,
            section_text: SECTION_TEXT_MAX,
            previous_references: PREVIOUS_REFERENCES_MAX,
            address: ADDRESS_MAX,
            short_text: SHORT_TEXT_MAX,
            name: NAME_MAX,
        },
        blank_child: ChildDraft::default(),
        max_list_items: MAX_LIST_ITEMS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::referral::fixtures;
    use crate::referral::summary::section_summary;

    /// The tests post plain pairs, as a browser does.
    fn apply_form(s: Section, d: &mut ReferralDraft, fields: &[(String, String)]) -> FormAction {
        super::apply_form(s, d, &FormFields::from_pairs(fields.to_vec()).unwrap())
    }

    // --- A fully filled draft, and the fields its pages would post. -------

    /// Every field non-empty and every tick box ticked somewhere, so a field
    /// that is not copied shows up as a difference.
    fn full_draft() -> ReferralDraft {
        let mut d = fixtures::valid_draft();
        d.allocated_social_worker = "yes".into();
        d.social_worker_name = "Priya Worker".into();
        d.social_worker_contact = "01632 960500".into();
        let mut c = d.children[0].clone();
        c.religion = "None".into();
        c.dob_estimated = true;
        c.disability_or_health_needs = "Asthma.\nUses an inhaler.".into();
        c.due_day = "9".into(); // typed before unticking "not born yet": kept
        c.due_month = "9".into();
        c.due_year = "2026".into();
        let mut unborn = fixtures::unborn_child();
        unborn.first_name = "Baby".into();
        unborn.other_names = "None known".into();
        unborn.dob_day = "1".into();
        unborn.address = "1 Test Street".into();
        d.children = vec![c, unborn];
        let mut p = fixtures::parent();
        p.dob_day = "12".into();
        p.dob_month = "5".into();
        p.dob_year = "1990".into();
        let mut p2 = fixtures::parent();
        p2.name = "Lee Example".into();
        p2.relationship = "father".into();
        p2.parental_responsibility = "dont-know".into();
        p2.interpreter_needed = "yes".into();
        p2.language = "Polish".into();
        d.household = vec![p, p2];
        d.organisation.agency_type = "other".into();
        d.organisation.agency_type_other = "Youth club".into();
        let mut pro2 = fixtures::professional();
        pro2.name = "Kim Visitor".into();
        pro2.is_lead_professional = false;
        d.professionals = vec![fixtures::professional(), pro2];
        d.risks = "None known.".into();
        d.previous_references = "EH-1234".into();
        d.consent = "no".into();
        d.consent_reasons = "Mother asked us\nnot to refer.".into();
        d
    }

    fn f(name: impl Into<String>, value: impl Into<String>) -> (String, String) {
        (name.into(), value.into())
    }

    /// The fields a browser would post for `section`, written out by hand
    /// (not from the code under test).
    fn fields_for(section: Section, d: &ReferralDraft) -> Vec<(String, String)> {
        let mut v = vec![f("csrf_token", "t"), f("version", "3")];
        match section {
            Section::BeforeYouStart => v.extend([
                f("allocated-social-worker", &d.allocated_social_worker),
                f("social-worker-name", &d.social_worker_name),
                f("social-worker-contact", &d.social_worker_contact),
                f("level-of-need", &d.level_of_need),
            ]),
            Section::ReferralType => v.push(f("referral-type", &d.referral_type)),
            Section::Children => {
                v.push(f("child-count", d.children.len().to_string()));
                for (i, c) in d.children.iter().enumerate() {
                    let n = |s: &str| format!("child-{i}-{s}");
                    v.extend([
                        f(n("first-name"), &c.first_name),
                        f(n("last-name"), &c.last_name),
                        f(n("other-names"), &c.other_names),
                        f(n("dob-day"), &c.dob_day),
                        f(n("dob-month"), &c.dob_month),
                        f(n("dob-year"), &c.dob_year),
                        f(n("due-day"), &c.due_day),
                        f(n("due-month"), &c.due_month),
                        f(n("due-year"), &c.due_year),
                        f(n("gender"), &c.gender),
                        f(n("ethnicity"), &c.ethnicity),
                        f(n("address"), &c.address),
                        f(n("postcode"), &c.postcode),
                        f(n("nhs-number"), &c.nhs_number),
                        f(n("gp"), &c.gp),
                        f(n("school"), &c.school),
                        f(n("religion"), &c.religion),
                        f(n("first-language"), &c.first_language),
                        f(n("interpreter"), &c.interpreter_needed),
                        f(n("health-needs"), &c.disability_or_health_needs),
                    ]);
                    if c.unborn {
                        v.push(f(n("unborn"), "yes"));
                    }
                    if c.dob_estimated {
                        v.push(f(n("dob-estimated"), "yes"));
                    }
                }
            }
            Section::Household => {
                v.push(f("household-count", d.household.len().to_string()));
                for (i, m) in d.household.iter().enumerate() {
                    let n = |s: &str| format!("household-{i}-{s}");
                    v.extend([
                        f(n("name"), &m.name),
                        f(n("relationship"), &m.relationship),
                        f(n("dob-day"), &m.dob_day),
                        f(n("dob-month"), &m.dob_month),
                        f(n("dob-year"), &m.dob_year),
                        f(n("address"), &m.address),
                        f(n("phone"), &m.phone),
                        f(n("parental-responsibility"), &m.parental_responsibility),
                        f(n("language"), &m.language),
                        f(n("interpreter"), &m.interpreter_needed),
                    ]);
                }
            }
            Section::Referrer => v.extend([
                f("referrer-name", &d.referrer.name),
                f("referrer-role", &d.referrer.role),
                f("referrer-email", &d.referrer.email),
                f("referrer-phone", &d.referrer.phone),
                f("organisation-name", &d.organisation.name),
                f("organisation-type", &d.organisation.agency_type),
                f("organisation-type-other", &d.organisation.agency_type_other),
                f("organisation-phone", &d.organisation.phone),
            ]),
            Section::Professionals => {
                v.push(f("professional-count", d.professionals.len().to_string()));
                for (i, p) in d.professionals.iter().enumerate() {
                    let n = |s: &str| format!("professional-{i}-{s}");
                    v.extend([
                        f(n("name"), &p.name),
                        f(n("agency"), &p.agency),
                        f(n("role"), &p.role),
                        f(n("contact"), &p.contact),
                    ]);
                    if p.is_lead_professional {
                        v.push(f(n("lead"), "yes"));
                    }
                }
            }
            Section::Concerns => v.extend([
                f("concerns", &d.concerns),
                f("what-has-been-done", &d.what_has_been_done),
                f("childs-views", &d.childs_views),
                f("strengths", &d.strengths),
                f("risks", &d.risks),
            ]),
            Section::PreviousReferences => v.push(f("previous-references", &d.previous_references)),
            Section::Support => v.push(f("support-requested", &d.support_requested)),
            Section::Consent => v.extend([
                f("parents-aware", &d.parents_aware),
                f("consent", &d.consent),
                f("consent-reasons", &d.consent_reasons),
            ]),
            Section::Attachments => {}
        }
        v.push(f("action", "continue"));
        v
    }

    /// The draft without the bookkeeping `apply_form` adds.
    fn answers(d: &ReferralDraft) -> ReferralDraft {
        ReferralDraft {
            saved_sections: vec![],
            come_back_later: vec![],
            ..d.clone()
        }
    }

    // --- Round trips. -----------------------------------------------------

    #[test]
    fn every_field_of_every_section_round_trips_into_an_empty_draft() {
        let full = full_draft();
        let mut d = new_draft();
        d.attachments = full.attachments.clone(); // uploaded separately
        for s in Section::ALL {
            let action = apply_form(*s, &mut d, &fields_for(*s, &full));
            assert_eq!(action, FormAction::Continue, "{s:?}");
        }
        assert_eq!(answers(&d), answers(&full));
        assert_eq!(d.saved_sections.len(), Section::ALL.len());
    }

    #[test]
    fn each_section_copies_its_own_fields_and_nothing_else() {
        let full = full_draft();
        for s in Section::ALL {
            let mut d = new_draft();
            apply_form(*s, &mut d, &fields_for(*s, &full));
            // Its own rows now read as the full draft's (files are uploaded
            // separately, so not for attachments)…
            if *s != Section::Attachments {
                assert_eq!(section_summary(*s, &d), section_summary(*s, &full), "{s:?}");
            }
            // …and every other section is still empty.
            for other in Section::ALL.iter().filter(|o| *o != s) {
                assert_eq!(
                    section_summary(*other, &d),
                    section_summary(*other, &new_draft()),
                    "{s:?} touched {other:?}"
                );
            }
        }
    }

    #[test]
    fn saving_a_section_leaves_other_sections_answers_untouched() {
        let full = full_draft();
        let mut d = full.clone();
        // A tampered post naming another section's fields.
        let fields = vec![
            f("concerns", "changed"),
            f("referrer-name", "Someone Else"),
            f("child-0-first-name", "Changed"),
            f("consent", "yes"),
            f("action", "add-child"),
            f("completed", "yes"),
        ];
        let action = apply_form(Section::Concerns, &mut d, &fields);
        assert_eq!(action, FormAction::Continue);
        assert_eq!(d.concerns, "changed");
        assert_eq!(d.referrer, full.referrer);
        assert_eq!(d.children, full.children);
        assert_eq!(d.consent, full.consent);
    }

    #[test]
    fn every_change_link_on_check_your_answers_names_a_posted_field() {
        // The summary (written separately) links to input ids; each must be an
        // input this module reads (dates link to their day field).
        let full = full_draft();
        for s in Section::ALL {
            let posted: Vec<String> = fields_for(*s, &full).into_iter().map(|(n, _)| n).collect();
            let summary = section_summary(*s, &full);
            let rows = summary
                .rows
                .iter()
                .chain(summary.groups.iter().flat_map(|g| g.rows.iter()));
            for row in rows {
                let field = &row.field;
                let ticked = field.ends_with("-unborn") || field.ends_with("-lead");
                if *s == Section::Attachments {
                    continue;
                }
                assert!(
                    ticked || posted.contains(field),
                    "{s:?}: summary links to {field}, not an input"
                );
                // And changing that field through the form changes the draft.
                if !ticked && !field.ends_with("-day") {
                    let mut d = full.clone();
                    let mut fields = fields_for(*s, &full);
                    for (n, v) in fields.iter_mut() {
                        if n == field {
                            *v = format!("{v}x");
                        }
                    }
                    apply_form(*s, &mut d, &fields);
                    assert_ne!(answers(&d), answers(&full), "{field} was not copied");
                }
            }
        }
    }

    #[test]
    fn values_are_kept_exactly_as_typed() {
        let mut d = new_draft();
        let fields = vec![
            f("child-count", "1"),
            f("child-0-first-name", "  Mia  "),
            f("child-0-dob-day", "31"),
            f("child-0-dob-month", "Feb"),
            f("child-0-nhs-number", "not a number"),
            f("child-0-gender", "made-up"),
        ];
        apply_form(Section::Children, &mut d, &fields);
        let c = &d.children[0];
        assert_eq!(c.first_name, "  Mia  ");
        assert_eq!(c.dob_month, "Feb");
        assert_eq!(c.nhs_number, "not a number");
        assert_eq!(c.gender, "made-up");
    }

    // --- Tick boxes and counts. -------------------------------------------

    #[test]
    fn unticked_boxes_become_false() {
        let mut d = full_draft();
        assert!(d.children[0].dob_estimated && d.children[1].unborn);
        assert!(d.professionals[0].is_lead_professional);
        let mut fields = fields_for(Section::Children, &d);
        fields.retain(|(n, _)| !n.ends_with("-unborn") && !n.ends_with("-dob-estimated"));
        apply_form(Section::Children, &mut d, &fields);
        assert!(!d.children[0].dob_estimated);
        assert!(!d.children[1].unborn);
        let mut fields = fields_for(Section::Professionals, &d);
        fields.retain(|(n, _)| !n.ends_with("-lead"));
        apply_form(Section::Professionals, &mut d, &fields);
        assert!(!d.professionals[0].is_lead_professional);
    }

    #[test]
    fn a_tick_box_with_any_value_is_ticked() {
        let mut d = new_draft();
        let fields = vec![f("child-count", "1"), f("child-0-unborn", "")];
        apply_form(Section::Children, &mut d, &fields);
        assert!(d.children[0].unborn);
    }

    #[test]
    fn items_beyond_the_posted_count_are_not_touched() {
        let mut d = full_draft();
        // Only the first professional was on the page.
        let fields = vec![
            f("professional-count", "1"),
            f("professional-0-name", "Changed"),
        ];
        apply_form(Section::Professionals, &mut d, &fields);
        assert_eq!(d.professionals[0].name, "Changed");
        assert!(!d.professionals[0].is_lead_professional);
        assert_eq!(d.professionals[1], full_draft().professionals[1]);
    }

    #[test]
    fn without_a_count_the_items_posted_are_the_ones_on_the_page() {
        let mut d = full_draft();
        let fields = vec![f("household-1-name", "Changed")];
        apply_form(Section::Household, &mut d, &fields);
        assert_eq!(d.household[0], full_draft().household[0]);
        assert_eq!(d.household[1].name, "Changed");
    }

    #[test]
    fn a_count_above_the_drafts_items_keeps_the_extra_items_answers() {
        // For example "Use my answers" after another tab removed an item.
        let mut d = new_draft();
        let full = full_draft();
        apply_form(
            Section::Household,
            &mut d,
            &fields_for(Section::Household, &full),
        );
        assert_eq!(d.household, full.household);
    }

    #[test]
    fn a_huge_count_is_capped() {
        let mut d = new_draft();
        let fields = vec![f("household-count", "1000000000")];
        apply_form(Section::Household, &mut d, &fields);
        assert_eq!(d.household.len(), MAX_LIST_ITEMS);
    }

    // --- Add and remove. --------------------------------------------------

    #[test]
    fn add_another_keeps_what_was_typed_and_adds_a_blank_item() {
        let full = full_draft();
        let mut d = new_draft();
        let mut fields = fields_for(Section::Children, &full);
        fields.retain(|(n, _)| n != "action");
        fields.push(f("action", "add-child"));
        let action = apply_form(Section::Children, &mut d, &fields);
        assert_eq!(action, FormAction::Added);
        assert!(action.stays_on_page());
        assert_eq!(d.children.len(), 3);
        assert_eq!(d.children[..2], full.children[..]);
        assert_eq!(d.children[2], ChildDraft::default());
    }

    #[test]
    fn add_household_and_add_professional_add_one_blank_item_each() {
        let mut d = new_draft();
        let a = apply_form(
            Section::Household,
            &mut d,
            &[f("household-count", "0"), f("action", "add-household")],
        );
        let b = apply_form(
            Section::Professionals,
            &mut d,
            &[
                f("professional-count", "0"),
                f("action", "add-professional"),
            ],
        );
        assert_eq!((a, b), (FormAction::Added, FormAction::Added));
        assert_eq!(d.household, vec![HouseholdMemberDraft::default()]);
        assert_eq!(d.professionals, vec![ProfessionalDraft::default()]);
    }

    #[test]
    fn a_removed_child_is_gone_and_the_others_keep_their_answers() {
        let mut full = full_draft();
        full.children.push(fixtures::child());
        full.children[2].first_name = "Noah".into();
        let mut d = new_draft();
        let mut fields = fields_for(Section::Children, &full);
        // The person also edited child 3 before pressing "Remove" on child 2.
        for (n, v) in fields.iter_mut() {
            if n == "child-2-last-name" {
                *v = "Edited".into();
            }
        }
        fields.retain(|(n, _)| n != "action");
        fields.push(f("action", "remove-child-1"));
        let action = apply_form(Section::Children, &mut d, &fields);
        assert_eq!(action, FormAction::Removed);
        assert_eq!(d.children.len(), 2);
        assert_eq!(d.children[0], full.children[0]);
        assert_eq!(d.children[1].first_name, "Noah");
        assert_eq!(d.children[1].last_name, "Edited");
    }

    #[test]
    fn removing_the_last_child_leaves_one_blank_child() {
        let mut d = fixtures::valid_draft();
        let mut fields = fields_for(Section::Children, &d);
        fields.push(f("action", "remove-child-0"));
        // The first `action` wins; put remove first.
        fields.retain(|(n, v)| n != "action" || v != "continue");
        let action = apply_form(Section::Children, &mut d, &fields);
        assert_eq!(action, FormAction::Removed);
        assert_eq!(d.children, vec![ChildDraft::default()]);
    }

    #[test]
    fn removing_a_household_member_or_professional_can_leave_none() {
        let mut d = full_draft();
        apply_form(
            Section::Household,
            &mut d,
            &[f("household-count", "0"), f("action", "remove-household-0")],
        );
        apply_form(
            Section::Household,
            &mut d,
            &[f("household-count", "0"), f("action", "remove-household-0")],
        );
        assert!(d.household.is_empty());
        apply_form(
            Section::Professionals,
            &mut d,
            &[f("action", "remove-professional-1")],
        );
        assert_eq!(d.professionals, vec![fixtures::professional()]);
    }

    #[test]
    fn a_stale_or_malformed_remove_changes_nothing() {
        let full = full_draft();
        let mut d = full.clone();
        let a = apply_form(
            Section::Professionals,
            &mut d,
            &[f("action", "remove-professional-7")],
        );
        assert_eq!(a, FormAction::Removed);
        for action in [
            "remove-professional-x",
            "remove-professional",
            "remove-child-0",
        ] {
            let a = apply_form(Section::Professionals, &mut d, &[f("action", action)]);
            assert_eq!(a, FormAction::Continue, "{action}");
        }
        assert_eq!(d.professionals, full.professionals);
        assert_eq!(d.children, full.children);
    }

    #[test]
    fn a_new_draft_has_one_blank_child_and_saving_children_never_leaves_none() {
        assert_eq!(new_draft().children, vec![ChildDraft::default()]);
        let mut d = ReferralDraft::default();
        apply_form(Section::Children, &mut d, &[f("child-count", "0")]);
        assert_eq!(d.children.len(), 1);
        let mut d = ReferralDraft::default();
        ensure_a_child(&mut d);
        ensure_a_child(&mut d);
        assert_eq!(d.children.len(), 1);
    }

    #[test]
    fn adding_stops_at_the_maximum() {
        let mut d = new_draft();
        for _ in 0..MAX_LIST_ITEMS + 5 {
            apply_form(
                Section::Professionals,
                &mut d,
                &[f("action", "add-professional")],
            );
        }
        assert_eq!(d.professionals.len(), MAX_LIST_ITEMS);
    }

    // --- Actions and "completed". -----------------------------------------

    #[test]
    fn the_button_pressed_gives_the_action() {
        let mut d = new_draft();
        let act = |d: &mut ReferralDraft, a: Option<&str>| {
            let fields: Vec<_> = a.map(|a| f("action", a)).into_iter().collect();
            apply_form(Section::Concerns, d, &fields)
        };
        assert_eq!(act(&mut d, Some("continue")), FormAction::Continue);
        assert_eq!(act(&mut d, Some("later")), FormAction::Later);
        assert_eq!(act(&mut d, None), FormAction::Continue);
        assert_eq!(act(&mut d, Some("explode")), FormAction::Continue);
        assert_eq!(act(&mut d, Some("add-child")), FormAction::Continue);
    }

    #[test]
    fn completed_yes_and_no_are_recorded_and_absence_leaves_the_answer() {
        let mut d = new_draft();
        apply_form(Section::Support, &mut d, &[f("completed", "no")]);
        assert!(d.will_come_back_later(Section::Support));
        apply_form(Section::Support, &mut d, &[]);
        assert!(d.will_come_back_later(Section::Support));
        apply_form(Section::Support, &mut d, &[f("completed", "yes")]);
        assert!(!d.will_come_back_later(Section::Support));
        apply_form(Section::Support, &mut d, &[f("completed", "maybe")]);
        assert!(!d.will_come_back_later(Section::Support));
    }

    #[test]
    fn every_save_is_recorded_once() {
        let mut d = new_draft();
        apply_form(Section::Attachments, &mut d, &[]);
        apply_form(Section::Attachments, &mut d, &[f("action", "later")]);
        assert!(d.is_saved(Section::Attachments));
        assert_eq!(d.saved_sections, ["attachments"]);
    }

    // --- Text handling. ---------------------------------------------------

    #[test]
    fn textarea_line_endings_become_newlines() {
        let mut d = new_draft();
        apply_form(
            Section::Concerns,
            &mut d,
            &[
                f("concerns", "one\r\ntwo\rthree\nfour"),
                f("risks", "a\r\n"),
            ],
        );
        assert_eq!(d.concerns, "one\ntwo\nthree\nfour");
        assert_eq!(d.risks, "a\n");
    }

    #[test]
    fn huge_input_is_cut_at_five_times_its_limit_and_the_rest_kept() {
        let mut d = new_draft();
        let huge = "é".repeat(CONCERNS_MAX * 10);
        apply_form(
            Section::Concerns,
            &mut d,
            &[
                f("concerns", &huge),
                f("risks", "x".repeat(SECTION_TEXT_MAX + 1)),
            ],
        );
        assert_eq!(d.concerns.chars().count(), CONCERNS_MAX * STORAGE_FACTOR);
        assert!(d.concerns.chars().all(|c| c == 'é'));
        // Over the limit but under the bound: kept whole, so the error can show it.
        assert_eq!(d.risks.chars().count(), SECTION_TEXT_MAX + 1);
        let mut d = new_draft();
        apply_form(
            Section::Children,
            &mut d,
            &[f("child-0-first-name", "a".repeat(1_000_000))],
        );
        assert_eq!(d.children[0].first_name.len(), NAME_MAX * STORAGE_FACTOR);
    }

    // --- Options. ---------------------------------------------------------

    #[test]
    fn options_list_every_choice_with_its_label() {
        let o = form_options();
        assert_eq!(o.genders.len(), 7);
        assert_eq!(o.ethnicities.len(), 20);
        assert_eq!(o.ethnicities[0].value, "WBRI");
        assert_eq!(o.ethnicities[0].text, "White British");
        assert_eq!(o.ethnicities[19].text, "Information not yet obtained");
        let grouped: Vec<_> = o
            .ethnicity_groups
            .iter()
            .flat_map(|g| g.options.iter().cloned())
            .collect();
        assert_eq!(grouped, o.ethnicities);
        assert_eq!(o.ethnicity_groups.len(), 6);
        assert_eq!(o.referral_types.len(), 3);
        assert!(o.referral_types.iter().all(|t| t.hint.is_some()));
        assert_eq!(o.levels_of_need.len(), 4);
        assert!(o.levels_of_need.iter().all(|l| l.hint.is_some()));
        assert_eq!(o.agency_types.len(), AgencyType::ALL.len());
        assert_eq!(o.relationships.len(), Relationship::ALL.len());
        assert_eq!(o.yes_no_dont_know[2].text, "I do not know");
        assert_eq!(o.limits.concerns, CONCERNS_MAX);
    }

    #[test]
    fn options_serialise_every_key_the_macros_read() {
        let json = serde_json::to_value(form_options()).unwrap();
        let first = &json["genders"][0];
        for key in [
            "value",
            "text",
            "hint",
            "divider",
            "conditional_html",
            "exclusive",
            "disabled",
        ] {
            assert!(first.get(key).is_some(), "{key}");
        }
        assert_eq!(json["limits"]["section_text"], SECTION_TEXT_MAX);
        assert_eq!(json["blank_child"]["first_name"], "");
    }
}
