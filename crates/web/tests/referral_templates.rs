//! Renders every referral page template with realistic contexts built from the
//! domain (a fully filled draft, `form_options()`, `summary()`), under strict
//! undefined behaviour so a misspelt variable fails, and checks what matters:
//! every input id of a section, `autocomplete="off"` on child inputs,
//! errors inline and in the summary, nothing like "undefined" or "none" leaking,
//! and that what a page posts back, fed to `apply_form`, gives the same draft.
//!
//! The pages are also written to `$TMPDIR/referral-pages/` (or
//! `$REFERRAL_PAGES_DIR`) for a look in a browser or an axe-core run.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ehm_domain::referral::{
    AttachmentDraft, ChildDraft, FieldError, HouseholdMemberDraft, OrganisationDraft,
    ProfessionalDraft, ReferralDraft, ReferrerDraft, Section, apply_form, form_options, summary,
    validate_section,
};
use minijinja::{Environment, UndefinedBehavior, path_loader};
use serde_json::{Value, json};
use time::macros::date;

const TODAY: time::Date = date!(2026 - 03 - 14);

// ---------------------------------------------------------------------------
// Set-up.

fn env() -> Environment<'static> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates");
    let mut env = Environment::new();
    env.set_loader(path_loader(dir));
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

/// Every value fictional; every field filled, every tick box ticked somewhere.
fn full_draft() -> ReferralDraft {
    let mia = ChildDraft {
        first_name: "Mia".into(),
        last_name: "O'Example & Co".into(),
        other_names: "Mimi".into(),
        unborn: false,
        dob_day: "3".into(),
        dob_month: "7".into(),
        dob_year: "2015".into(),
        dob_estimated: true,
        due_day: "".into(),
        due_month: "".into(),
        due_year: "".into(),
        gender: "female".into(),
        ethnicity: "MWBA".into(),
        address: "1 Test Street\nSampletown".into(),
        postcode: "SA1 2XY".into(),
        nhs_number: "999 000 0018".into(),
        gp: "Sampletown Surgery".into(),
        school: "Sampletown Primary".into(),
        religion: "Buddhist".into(),
        first_language: "English".into(),
        interpreter_needed: "no".into(),
        disability_or_health_needs: "Asthma <severe>.\nUses an inhaler.".into(),
    };
    let baby = ChildDraft {
        last_name: "Example".into(),
        unborn: true,
        due_day: "1".into(),
        due_month: "9".into(),
        due_year: "2026".into(),
        gender: "unborn".into(),
        ethnicity: "NOBT".into(),
        ..Default::default()
    };
    ReferralDraft {
        allocated_social_worker: "yes".into(),
        social_worker_name: "Priya Worker".into(),
        social_worker_contact: "01632 960500".into(),
        level_of_need: "targeted".into(),
        referral_type: "early-help-service".into(),
        children: vec![mia, baby],
        household: vec![
            HouseholdMemberDraft {
                name: "Jo Example".into(),
                relationship: "mother".into(),
                dob_day: "12".into(),
                dob_month: "5".into(),
                dob_year: "1990".into(),
                address: "1 Test Street\nSampletown".into(),
                phone: "01632 960321".into(),
                parental_responsibility: "yes".into(),
                language: "English".into(),
                interpreter_needed: "no".into(),
            },
            HouseholdMemberDraft {
                name: "Lee Example".into(),
                relationship: "father".into(),
                parental_responsibility: "dont-know".into(),
                language: "Polish".into(),
                interpreter_needed: "yes".into(),
                ..Default::default()
            },
        ],
        referrer: ReferrerDraft {
            name: "Sam Teacher".into(),
            role: "Designated safeguarding lead".into(),
            email: "sam.teacher@example.org".into(),
            phone: "01632 960001".into(),
        },
        organisation: OrganisationDraft {
            name: "Sampletown Primary".into(),
            agency_type: "other".into(),
            agency_type_other: "Youth club".into(),
            phone: "01632 960000".into(),
        },
        professionals: vec![
            ProfessionalDraft {
                name: "Alex Nurse".into(),
                agency: "Sampletown School Nursing".into(),
                role: "School nurse".into(),
                contact: "01632 960123".into(),
                is_lead_professional: true,
            },
            ProfessionalDraft {
                name: "Kim Visitor".into(),
                agency: "Sampletown Health Visiting".into(),
                role: "".into(),
                contact: "kim.visitor@example.org".into(),
                is_lead_professional: false,
            },
        ],
        concerns: "Mia has been late to school most days this term.\n\nShe says \"it's fine\"."
            .into(),
        what_has_been_done: "Meetings with her mother.".into(),
        childs_views: "Mia says she is tired.".into(),
        strengths: "Mia has a good relationship with her mother.".into(),
        risks: "No known risks to visitors.".into(),
        previous_references: "EH-2024-0001".into(),
        support_requested: "Family support worker.".into(),
        parents_aware: "yes".into(),
        consent: "no".into(),
        consent_reasons: "Mother asked us\nto wait.".into(),
        attachments: vec![AttachmentDraft {
            id: "a1".into(),
            file_name: "Chronology.pdf".into(),
            kind: "pdf".into(),
            size_bytes: 2048,
        }],
        saved_sections: vec!["before-you-start".into()],
        come_back_later: vec!["concerns".into()],
    }
}

fn referral_ctx(status: &str) -> Value {
    json!({
        "pid": "r7Kq2",
        "status": status,
        "version": 4,
        "reference": if status == "submitted" { json!("MASH-7KQ2-XR") } else { Value::Null },
        "title": "Referral for Mia O'Example & Co",
        "deletion_date": if status == "draft" { json!("25 December 2026") } else { Value::Null },
    })
}

fn base(page_title: &str, errors: &[FieldError]) -> Value {
    let map: BTreeMap<&str, &str> = errors
        .iter()
        .map(|e| (e.field.as_str(), e.message.as_str()))
        .collect();
    json!({
        "service_name": "Early Help referrals",
        "page_title": page_title,
        "csrf_token": "csrf-abc",
        "user": {"display_name": "Sam Teacher", "email": "sam.teacher@example.org", "role": "referrer"},
        "nav": [],
        "errors": map,
        "errors_list": errors,
        "mash_phone": "01632 960999",
        "referral": referral_ctx("draft"),
    })
}

fn merge(mut a: Value, b: Value) -> Value {
    let (Value::Object(a_map), Value::Object(b_map)) = (&mut a, b) else {
        panic!("contexts are objects");
    };
    a_map.extend(b_map);
    a
}

fn render(name: &str, ctx: Value) -> String {
    let env = env();
    let html = env
        .get_template(name)
        .and_then(|t| t.render(&ctx))
        .unwrap_or_else(|e| panic!("{name}: {e:#}"));
    assert_no_leaks(name, &html);
    // minijinja escapes "/" as "&#x2f;" (harmless in HTML); undo it so the
    // assertions below can name URLs plainly.
    html.replace("&#x2f;", "/")
}

fn save(file: &str, html: &str) {
    let dir = std::env::var_os("REFERRAL_PAGES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("referral-pages"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(file), html).unwrap();
}

fn section_page(section: Section, d: &ReferralDraft, errors: &[FieldError]) -> String {
    let ctx = merge(
        base(section.title(), errors),
        json!({
            "section": {"slug": section.slug(), "title": section.title()},
            "d": d,
            "opt": form_options(),
            "form_action": format!("/referrals/r7Kq2/{}", section.slug()),
        }),
    );
    render("pages/referral/section.html", ctx)
}

/// The draft's ids for a section's inputs (from the doc comments in draft.rs).
fn input_ids(section: Section, d: &ReferralDraft) -> Vec<String> {
    let list = |kind: &str, n: usize, suffixes: &[&str]| -> Vec<String> {
        (0..n)
            .flat_map(|i| suffixes.iter().map(move |s| format!("{kind}-{i}-{s}")))
            .collect()
    };
    let plain = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect();
    match section {
        Section::BeforeYouStart => plain(&[
            "allocated-social-worker",
            "social-worker-name",
            "social-worker-contact",
            "level-of-need",
        ]),
        Section::ReferralType => plain(&["referral-type"]),
        Section::Children => list(
            "child",
            d.children.len().max(1),
            &[
                "first-name",
                "last-name",
                "other-names",
                "unborn",
                "dob-day",
                "dob-month",
                "dob-year",
                "dob-estimated",
                "due-day",
                "due-month",
                "due-year",
                "gender",
                "ethnicity",
                "address",
                "postcode",
                "nhs-number",
                "gp",
                "school",
                "religion",
                "first-language",
                "interpreter",
                "health-needs",
            ],
        ),
        Section::Household => list(
            "household",
            d.household.len(),
            &[
                "name",
                "relationship",
                "dob-day",
                "dob-month",
                "dob-year",
                "address",
                "phone",
                "parental-responsibility",
                "language",
                "interpreter",
            ],
        ),
        Section::Referrer => plain(&[
            "referrer-name",
            "referrer-role",
            "referrer-email",
            "referrer-phone",
            "organisation-name",
            "organisation-type",
            "organisation-type-other",
            "organisation-phone",
        ]),
        Section::Professionals => list(
            "professional",
            d.professionals.len(),
            &["name", "agency", "role", "contact", "lead"],
        ),
        Section::Concerns => plain(&[
            "concerns",
            "what-has-been-done",
            "childs-views",
            "strengths",
            "risks",
        ]),
        Section::PreviousReferences => plain(&["previous-references"]),
        Section::Support => plain(&["support-requested"]),
        Section::Consent => plain(&["parents-aware", "consent", "consent-reasons"]),
        Section::Attachments => vec![],
    }
}

const FORM_SECTIONS: &[Section] = &[
    Section::BeforeYouStart,
    Section::ReferralType,
    Section::Children,
    Section::Household,
    Section::Referrer,
    Section::Professionals,
    Section::Concerns,
    Section::PreviousReferences,
    Section::Support,
    Section::Consent,
];

// ---------------------------------------------------------------------------
// A small HTML reader: enough for the markup these templates produce.

#[derive(Debug)]
struct Tag {
    name: String,
    attrs: BTreeMap<String, String>,
    /// Byte offset just after the tag.
    end: usize,
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

/// Every start tag named `name` (`input`, `textarea`, …).
fn tags(html: &str, name: &str) -> Vec<Tag> {
    let open = format!("<{name}");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = html[from..].find(&open) {
        let start = from + pos;
        let after = start + open.len();
        let next = html[after..].chars().next();
        if !matches!(next, Some(c) if c.is_whitespace() || c == '>') {
            from = after;
            continue;
        }
        let end = after + html[after..].find('>').expect("tag ends") + 1;
        out.push(Tag {
            name: name.to_owned(),
            attrs: attributes(&html[after..end - 1]),
            end,
        });
        from = end;
    }
    out
}

fn attributes(s: &str) -> BTreeMap<String, String> {
    let mut attrs = BTreeMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_owned();
        rest = rest[name_end..].trim_start();
        if let Some(r) = rest.strip_prefix('=') {
            let r = r.trim_start();
            let (value, remaining) = if let Some(r) = r.strip_prefix('"') {
                let close = r.find('"').expect("closing quote");
                (&r[..close], &r[close + 1..])
            } else {
                let close = r.find(char::is_whitespace).unwrap_or(r.len());
                (&r[..close], &r[close..])
            };
            attrs.insert(name, unescape(value));
            rest = remaining.trim_start();
        } else {
            attrs.insert(name, String::new());
        }
    }
    attrs
}

/// What a browser would post for the form whose action is `action`, without
/// pressing any button (the caller adds `action`).
fn posted_fields(html: &str, action: &str) -> Vec<(String, String)> {
    let form_start = tags(html, "form")
        .into_iter()
        .find(|t| t.attrs.get("action").map(String::as_str) == Some(action))
        .expect("the form")
        .end;
    let form_end = form_start + html[form_start..].find("</form>").expect("form ends");
    let form = &html[..form_end];
    let inside = |t: &Tag| t.end > form_start && t.end <= form_end;
    let mut fields: Vec<(usize, String, String)> = Vec::new();
    for t in tags(form, "input").into_iter().filter(inside) {
        let Some(name) = t.attrs.get("name") else {
            continue;
        };
        let ty = t.attrs.get("type").map(String::as_str).unwrap_or("text");
        let value = t.attrs.get("value").cloned().unwrap_or_default();
        match ty {
            "radio" | "checkbox" if !t.attrs.contains_key("checked") => {}
            "radio" | "checkbox" => fields.push((t.end, name.clone(), value)),
            _ => fields.push((t.end, name.clone(), value)),
        }
    }
    for t in tags(form, "textarea").into_iter().filter(inside) {
        let close = t.end + form[t.end..].find("</textarea>").unwrap();
        let mut text = &form[t.end..close];
        // The HTML parser drops one newline straight after <textarea>.
        text = text.strip_prefix('\n').unwrap_or(text);
        fields.push((t.end, t.attrs["name"].clone(), unescape(text)));
    }
    for t in tags(form, "select").into_iter().filter(inside) {
        let close = t.end + form[t.end..].find("</select>").unwrap();
        let options = tags(&form[..close], "option");
        let chosen = options
            .iter()
            .filter(|o| o.end > t.end)
            .find(|o| o.attrs.contains_key("selected"))
            .or_else(|| options.iter().find(|o| o.end > t.end))
            .map(|o| o.attrs.get("value").cloned().unwrap_or_default())
            .unwrap_or_default();
        fields.push((t.end, t.attrs["name"].clone(), chosen));
    }
    fields.sort_by_key(|(pos, _, _)| *pos);
    fields.into_iter().map(|(_, n, v)| (n, v)).collect()
}

fn assert_no_leaks(name: &str, html: &str) {
    for bad in [
        "undefined",
        ">none<",
        ">None<",
        "=\"none\"",
        "\"None\"",
        " none ",
        "[object",
        "{{",
        "{%",
    ] {
        assert!(!html.contains(bad), "{name}: found {bad:?}");
    }
    // Text nodes that are exactly "none".
    for line in html.lines() {
        let t = line.trim();
        assert!(t != "none" && t != "None", "{name}: a bare none");
    }
}

fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

// ---------------------------------------------------------------------------
// Section pages.

#[test]
fn every_section_page_has_an_input_for_every_id_of_its_section() {
    let d = full_draft();
    for s in FORM_SECTIONS {
        let html = section_page(*s, &d, &[]);
        save(&format!("section-{}.html", s.slug()), &html);
        for id in input_ids(*s, &d) {
            assert!(html.contains(&format!("id=\"{id}\"")), "{s:?}: no #{id}");
        }
        assert!(html.contains("data-autosave-on-timeout"));
        assert!(html.contains("<input type=\"hidden\" name=\"version\" value=\"4\">"));
        assert!(html.contains("name=\"csrf_token\" value=\"csrf-abc\""));
        assert!(html.contains("Have you completed this section?"));
        assert!(html.contains("No, I’ll come back later"));
        assert!(html.contains("name=\"action\" value=\"continue\""));
        assert!(html.contains(
            "It will be deleted on <strong>25 December 2026</strong> unless you save it again."
        ));
        assert!(!html.contains("Error:"), "{s:?}");
    }
}

#[test]
fn what_a_section_page_posts_back_gives_the_same_draft() {
    // Render each page from a full draft, read the form back as a browser
    // would post it, and apply it to a blank draft: every answer must survive.
    let full = full_draft();
    let mut d = ReferralDraft::default();
    for s in FORM_SECTIONS {
        let html = section_page(*s, &full, &[]);
        let mut fields = posted_fields(&html, &format!("/referrals/r7Kq2/{}", s.slug()));
        fields.push(("action".into(), "continue".into()));
        apply_form(
            *s,
            &mut d,
            &ehm_domain::form_fields::FormFields::from_pairs(fields.clone()).unwrap(),
        );
    }
    d.attachments = full.attachments.clone();
    d.saved_sections = full.saved_sections.clone();
    d.come_back_later = full.come_back_later.clone();
    assert_eq!(d, full);
}

#[test]
fn an_empty_draft_renders_every_section_with_one_blank_child() {
    let d = ReferralDraft::default();
    for s in FORM_SECTIONS {
        let html = section_page(*s, &d, &[]);
        save(&format!("section-{}-empty.html", s.slug()), &html);
        for id in input_ids(*s, &d) {
            assert!(html.contains(&format!("id=\"{id}\"")), "{s:?}: no #{id}");
        }
    }
    let html = section_page(Section::Children, &d, &[]);
    assert!(html.contains("name=\"child-count\" value=\"1\""));
    assert!(html.contains("Child 1"));
    assert!(
        !html.contains("remove-child-0"),
        "no Remove for the only child"
    );
    let html = section_page(Section::Household, &d, &[]);
    assert!(html.contains("name=\"household-count\" value=\"0\""));
    assert!(html.contains("Add a person"));
    let html = section_page(Section::Professionals, &d, &[]);
    assert!(html.contains("Add a professional"));
}

#[test]
fn every_child_input_has_autocomplete_off() {
    let d = full_draft();
    let html = section_page(Section::Children, &d, &[]);
    let mut checked = 0;
    for name in ["input", "textarea", "select"] {
        for t in tags(&html, name) {
            let Some(id) = t.attrs.get("id") else {
                continue;
            };
            if !id.starts_with("child-") {
                continue;
            }
            let ty = t.attrs.get("type").map(String::as_str).unwrap_or("text");
            if matches!(ty, "radio" | "checkbox") {
                continue; // covered by the form's autocomplete="off"
            }
            assert_eq!(
                t.attrs.get("autocomplete").map(String::as_str),
                Some("off"),
                "{} #{id}",
                t.name
            );
            checked += 1;
        }
    }
    // 2 children × (13 text inputs/date parts + 3 due parts + 2 textareas + 1 select).
    assert!(checked >= 2 * 18, "only {checked} child inputs found");
    let form = tags(&html, "form")
        .into_iter()
        .find(|t| t.attrs.get("action").map(String::as_str) == Some("/referrals/r7Kq2/children"))
        .unwrap();
    assert_eq!(form.attrs["autocomplete"], "off");
}

#[test]
fn the_children_page_has_the_add_another_pattern() {
    let d = full_draft();
    let html = section_page(Section::Children, &d, &[]);
    assert!(html.contains("name=\"child-count\" value=\"2\""));
    assert!(html.contains("<h2 class=\"govuk-fieldset__heading\">Child 1</h2>"));
    assert!(html.contains("<h2 class=\"govuk-fieldset__heading\">Child 2</h2>"));
    assert!(html.contains("value=\"remove-child-0\""));
    assert!(html.contains("value=\"remove-child-1\""));
    assert!(html.contains("Remove<span class=\"govuk-visually-hidden\"> child 2</span>"));
    assert!(html.contains("value=\"add-child\""));
    // Enter in a text box must not press "Remove": the first submit button continues.
    let first_button = tags(&html, "button")
        .into_iter()
        .find(|b| {
            b.attrs.get("type").map(String::as_str) == Some("submit")
                && b.attrs.contains_key("name")
        })
        .unwrap();
    assert_eq!(first_button.attrs["value"], "continue");
}

#[test]
fn the_children_page_shows_every_gender_ethnicity_and_the_nhs_hint() {
    let d = full_draft();
    let html = section_page(Section::Children, &d, &[]);
    for g in [
        "Female",
        "Gender Dysphoria",
        "Indeterminate",
        "Male",
        "Non-Binary",
        "Transgender",
        "Unborn",
    ] {
        assert!(html.contains(&format!("\n          {g}\n")), "{g}");
    }
    let opt = form_options();
    for e in &opt.ethnicities {
        assert!(
            html.contains(&format!("<option value=\"{}\"", e.value))
                && html.contains(&format!(">{}</option>", escaped(e.text))),
            "{}",
            e.value
        );
    }
    assert!(html.contains("<optgroup label=\"Mixed or Multiple ethnic groups\">"));
    assert!(html.contains("<option value=\"MWBA\" selected>White and Black African</option>"));
    assert!(html.contains("For example, 485 777 3456"));
    assert!(html.contains("Is date of birth estimated?"));
    assert!(html.contains("The child is not born yet"));
    assert!(html.contains("Expected due date"));
    assert!(html.contains("data-maxlength=\"5000\""));
    // Typed values are shown again, escaped.
    assert!(html.contains("value=\"O&#x27;Example &amp; Co\""));
    assert!(html.contains("Asthma &lt;severe&gt;."));
}

#[test]
fn before_you_start_has_the_999_warning_mash_phone_social_worker_and_levels() {
    let html = section_page(Section::BeforeYouStart, &full_draft(), &[]);
    assert!(html.contains("If a child is in immediate danger, call 999."));
    assert!(html.contains("01632 960999"));
    assert!(html.contains("Does the child already have an allocated social worker?"));
    assert!(html.contains("contact them about your concerns"));
    // Name and contact are shown without JavaScript (no hidden reveal).
    assert!(!html.contains("govuk-radios__conditional"));
    assert!(html.contains("value=\"Priya Worker\""));
    for l in form_options().levels_of_need {
        assert!(html.contains(&escaped(l.text)), "{}", l.text);
        assert!(html.contains(&escaped(l.hint.unwrap())), "{}", l.text);
    }
}

#[test]
fn consent_reveals_the_reasons_and_explains_the_early_help_rule() {
    let html = section_page(Section::Consent, &full_draft(), &[]);
    assert!(html.contains(
        "Early Help Service and Early Help Universal Plus need a parent’s or carer’s consent"
    ));
    // The reasons box is always shown, so it works without JavaScript.
    assert!(!html.contains("govuk-radios__conditional"));
    assert!(html.contains("If no, why has consent not been given or asked for?"));
    assert!(html.contains("Mother asked us\nto wait.</textarea>"));
}

#[test]
fn completed_answer_is_shown_again() {
    let d = full_draft();
    let concerns = section_page(Section::Concerns, &d, &[]);
    assert!(
        concerns
            .contains("id=\"completed-2\" name=\"completed\" type=\"radio\" value=\"no\" checked")
    );
    let before = section_page(Section::BeforeYouStart, &d, &[]);
    assert!(
        before.contains("id=\"completed\" name=\"completed\" type=\"radio\" value=\"yes\" checked")
    );
    let support = section_page(Section::Support, &d, &[]);
    assert!(!support.contains("name=\"completed\" type=\"radio\" value=\"yes\" checked"));
    assert!(!support.contains("name=\"completed\" type=\"radio\" value=\"no\" checked"));
}

#[test]
fn every_validation_error_appears_in_the_summary_and_beside_its_field() {
    // A draft with something wrong in every section.
    let mut d = ReferralDraft {
        allocated_social_worker: "yes".into(),
        referral_type: "early-help-service".into(),
        consent: "no".into(),
        concerns: "x".repeat(20_001),
        ..Default::default()
    };
    d.children = vec![
        ChildDraft {
            first_name: "Mia".into(),
            dob_day: "31".into(),
            dob_month: "2".into(),
            dob_year: "2015".into(),
            nhs_number: "123".into(),
            ..Default::default()
        },
        ChildDraft::default(),
    ];
    d.household = vec![HouseholdMemberDraft {
        phone: "12".into(),
        dob_year: "3000".into(),
        ..Default::default()
    }];
    d.professionals = vec![ProfessionalDraft::default()];
    d.organisation.agency_type = "other".into();
    let mut seen = 0;
    for s in FORM_SECTIONS {
        let errors = validate_section(*s, &d, TODAY);
        if errors.is_empty() {
            continue;
        }
        let html = section_page(*s, &d, &errors);
        save(&format!("section-{}-errors.html", s.slug()), &html);
        assert!(html.contains("<title>Error: "), "{s:?}");
        assert!(html.contains("govuk-error-summary"), "{s:?}");
        for e in &errors {
            let message = escaped(&e.message);
            assert!(
                html.contains(&format!("<a href=\"#{}\">{message}</a>", e.field)),
                "{s:?}: {} not in the summary",
                e.field
            );
            assert!(
                count(&html, &message) >= 2,
                "{s:?}: {} not shown inline",
                e.field
            );
            // The summary link goes to an element that exists.
            assert!(
                html.contains(&format!("id=\"{}\"", e.field)),
                "{s:?}: #{}",
                e.field
            );
            seen += 1;
        }
    }
    assert!(seen >= 15, "only {seen} errors checked");
}

#[test]
fn a_date_error_marks_the_date_group() {
    let d = ReferralDraft {
        children: vec![ChildDraft {
            dob_day: "31".into(),
            dob_month: "2".into(),
            dob_year: "2015".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let errors = validate_section(Section::Children, &d, TODAY);
    let dob = errors
        .iter()
        .find(|e| e.field.starts_with("child-0-dob-"))
        .expect("a date of birth error");
    let html = section_page(Section::Children, &d, &errors);
    assert!(html.contains("id=\"child-0-dob-error\""));
    assert!(html.contains(&format!("href=\"#{}\"", dob.field)));
}

// ---------------------------------------------------------------------------
// The other pages.

#[test]
fn the_attachments_page_lists_files_with_remove_forms_and_an_upload_form() {
    let ctx = |files: Value, errors: &[FieldError]| {
        merge(
            base("Attachments", errors),
            json!({
                "attachments": files,
                "upload_action": "/referrals/r7Kq2/attachments",
                "max_mb": 10,
            }),
        )
    };
    let files = json!([
        {"id": "a1", "file_name": "Chronology <v2>.pdf", "kind_label": "PDF", "size_text": "2.0 KB",
         "remove_action": "/referrals/r7Kq2/attachments/a1/remove"},
        {"id": "a2", "file_name": "Assessment.docx", "kind_label": "Word document", "size_text": "1.2 MB",
         "remove_action": "/referrals/r7Kq2/attachments/a2/remove"},
    ]);
    let html = render("pages/referral/attachments.html", ctx(files, &[]));
    save("attachments.html", &html);
    assert!(html.contains("enctype=\"multipart/form-data\""));
    assert!(html.contains(
        "id=\"file\" name=\"file\" type=\"file\" accept=\".pdf,.doc,.docx,.png,.jpg,.jpeg,.gif\""
    ));
    assert!(html.contains("Chronology &lt;v2&gt;.pdf"));
    assert!(html.contains("action=\"/referrals/r7Kq2/attachments/a2/remove\""));
    assert!(html.contains("smaller than 10 MB"));
    assert_eq!(count(&html, "name=\"version\" value=\"4\""), 3);
    assert_eq!(count(&html, "name=\"csrf_token\" value=\"csrf-abc\""), 4); // + sign out
    assert!(html.contains("href=\"/referrals/r7Kq2\""));

    let err = [FieldError::new(
        "file",
        "The selected file must be smaller than 10 MB",
    )];
    let html = render("pages/referral/attachments.html", ctx(json!([]), &err));
    save("attachments-errors.html", &html);
    assert!(html.contains("You have not added any files."));
    assert!(html.contains("id=\"file-error\""));
    assert_eq!(
        count(&html, "The selected file must be smaller than 10 MB"),
        2
    );
}

#[test]
fn the_task_list_shows_statuses_warning_and_links() {
    let sections: Vec<Value> = Section::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let status = ["completed", "in-progress", "has-errors", "not-started"][i % 4];
            json!({
                "title": s.title(),
                "href": format!("/referrals/r7Kq2/{}", s.slug()),
                "status": status,
                "hint": if *s == Section::Attachments { json!("Optional") } else { Value::Null },
            })
        })
        .collect();
    for can_submit in [false, true] {
        let ctx = merge(
            base("Make a referral", &[]),
            json!({
                "sections": sections,
                "can_submit": can_submit,
                "check_href": "/referrals/r7Kq2/check",
                "pdf_href": "/referrals/r7Kq2/pdf",
                "delete_href": "/referrals/r7Kq2/delete",
            }),
        );
        let html = render("pages/referral/task_list.html", ctx);
        save("task-list.html", &html);
        assert!(html.contains("Make a referral</h1>"));
        assert!(html.contains("If a child is in immediate danger, call 999."));
        assert!(html.contains("You have completed 3 of 11 sections."));
        assert!(html.contains("There is a problem"));
        assert!(html.contains("href=\"/referrals/r7Kq2/check\""));
        assert!(html.contains("href=\"/referrals/r7Kq2/pdf\""));
        assert!(html.contains("Delete this draft"));
        assert!(html.contains("25 December 2026"));
    }
}

fn check_ctx(problems: Value) -> Value {
    merge(
        base("Check your answers", &[]),
        json!({
            "summary": summary(&full_draft()),
            "problems": problems,
            "submit_action": "/referrals/r7Kq2/submit",
        }),
    )
}

#[test]
fn check_answers_shows_every_answer_with_change_links_and_a_submit_button() {
    let html = render("pages/referral/check_answers.html", check_ctx(json!([])));
    save("check-answers.html", &html);
    let sections = summary(&full_draft());
    for s in &sections {
        assert!(html.contains(&escaped(&s.title)), "{}", s.title);
        let rows = s
            .rows
            .iter()
            .chain(s.groups.iter().flat_map(|g| g.rows.iter()));
        for row in rows {
            assert!(html.contains(&escaped(&row.value)), "{}", row.label);
            let href = format!(
                "/referrals/r7Kq2/{}?return_to=check#{}",
                s.section.slug(),
                row.field
            );
            assert!(html.contains(&format!("href=\"{href}\"")), "{href}");
        }
        for g in &s.groups {
            assert!(html.contains(&format!(">{}</h3>", escaped(&g.heading))));
        }
    }
    assert!(html.contains("action=\"/referrals/r7Kq2/submit\""));
    assert!(html.contains("Submit referral"));
    assert!(html.contains("data-prevent-double-click=\"true\""));
    assert!(html.contains("name=\"version\" value=\"4\""));
    assert!(html.contains("app-preserve-line-breaks\">Mia has been late"));
}

#[test]
fn check_answers_with_problems_links_to_them_and_hides_submit() {
    let problems = json!([
        {"field": "child-0-ethnicity", "message": "Child 1: Select the child's ethnicity",
         "href": "/referrals/r7Kq2/children#child-0-ethnicity"},
        {"field": "support-requested", "message": "Enter the support or action you think is needed",
         "href": "/referrals/r7Kq2/support#support-requested"},
    ]);
    let html = render("pages/referral/check_answers.html", check_ctx(problems));
    save("check-answers-problems.html", &html);
    assert!(html.contains("You cannot submit the referral yet"));
    assert!(html.contains(
        "<a href=\"/referrals/r7Kq2/children#child-0-ethnicity\">Child 1: Select the child&#x27;s ethnicity</a>"
    ));
    assert!(!html.contains("Submit referral"));
    assert!(!html.contains("/referrals/r7Kq2/submit"));
}

#[test]
fn the_confirmation_page_shows_the_reference_and_what_happens_next() {
    let mut ctx = merge(
        base("Referral submitted", &[]),
        json!({
            "reference": "MASH-7KQ2-XR",
            "recipients": ["sam.teacher@example.org"],
            "view_href": "/referrals/r7Kq2/view",
            "pdf_href": "/referrals/r7Kq2/pdf",
        }),
    );
    ctx["referral"] = referral_ctx("submitted");
    let html = render("pages/referral/confirmation.html", ctx);
    save("confirmation.html", &html);
    assert!(html.contains("govuk-panel--confirmation"));
    assert!(html.contains("Referral submitted"));
    assert!(html.contains(
        "Your reference number<br><strong class=\"govuk-!-font-size-48\">MASH-7KQ2-XR</strong>"
    ));
    assert!(html.contains("sam.teacher@example.org"));
    assert!(html.contains("by email or letter"));
    assert!(html.contains("01632 960999"));
    assert!(html.contains("href=\"/referrals/r7Kq2/view\""));
    assert!(html.contains("href=\"/referrals/r7Kq2/pdf\""));
}

#[test]
fn the_view_page_shows_the_whole_referral_without_change_links() {
    let mut ctx = merge(
        base("Referral MASH-7KQ2-XR", &[]),
        json!({
            "submitted_at": "14 March 2026 at 2:05pm",
            "summary": summary(&full_draft()),
            "pdf_href": "/referrals/r7Kq2/pdf",
        }),
    );
    ctx["referral"] = referral_ctx("submitted");
    let html = render("pages/referral/view.html", ctx);
    save("view.html", &html);
    assert!(html.contains("Referral MASH-7KQ2-XR"));
    assert!(html.contains("Submitted on 14 March 2026 at 2:05pm"));
    assert!(html.contains("Download PDF"));
    assert!(!html.contains(">Change<"));
    assert!(html.contains("Sampletown School Nursing"));
    assert!(!html.contains("will be deleted"));
}

#[test]
fn the_conflict_page_shows_both_versions_and_reposts_my_answers() {
    let ctx = merge(
        base("This section was changed in another window or tab", &[]),
        json!({
            "section": {"slug": "support", "title": "Support needed"},
            "saved_rows": [{"label": "Support or action you think is needed", "value": "Parenting course."}],
            "your_rows": [{"label": "Support or action you think is needed", "value": "Family support \"now\"."}],
            "posted": [
                {"name": "csrf_token", "value": "old-token"},
                {"name": "version", "value": "3"},
                {"name": "support-requested", "value": "Family support \"now\".\nSoon."},
                {"name": "completed", "value": "yes"},
                {"name": "action", "value": "later"},
            ],
            "form_action": "/referrals/r7Kq2/support",
            "current_version": 5,
        }),
    );
    let html = render("pages/referral/conflict.html", ctx);
    save("conflict.html", &html);
    assert!(html.contains("This section was changed in another window or tab since you opened it"));
    assert!(html.contains("Parenting course."));
    assert!(html.contains("Use my answers"));
    assert!(html.contains("Keep the saved answers"));
    assert!(html.contains("href=\"/referrals/r7Kq2/support\""));
    let fields = posted_fields(&html, "/referrals/r7Kq2/support");
    assert_eq!(
        fields,
        vec![
            ("csrf_token".to_owned(), "csrf-abc".to_owned()),
            ("version".to_owned(), "5".to_owned()),
            (
                "support-requested".to_owned(),
                "Family support \"now\".\nSoon.".to_owned()
            ),
            ("completed".to_owned(), "yes".to_owned()),
        ]
    );
    assert!(html.contains("name=\"action\" value=\"continue\""));
}

#[test]
fn the_delete_page_asks_for_confirmation() {
    let ctx = merge(
        base("Are you sure you want to delete this draft?", &[]),
        json!({"delete_action": "/referrals/r7Kq2/delete"}),
    );
    let html = render("pages/referral/delete.html", ctx);
    save("delete.html", &html);
    assert!(html.contains("Are you sure you want to delete this draft?"));
    assert!(html.contains("You cannot undo this."));
    assert!(html.contains("govuk-button--warning"));
    assert!(html.contains("action=\"/referrals/r7Kq2/delete\""));
    assert!(html.contains("Cancel"));
}

#[test]
fn the_referrer_home_lists_drafts_and_submitted_referrals() {
    let full = json!({
        "live": true,
        "opens": "1 April 2026",
        "drafts": [{"title": "Referral for Mia Example", "saved_text": "Today at 9:14am",
                    "deletion_date": "13 April 2026", "href": "/referrals/r7Kq2"}],
        "submitted": [{"title": "Referral for Noah Sample", "reference": "MASH-3F9A-KD",
                       "submitted_text": "2 March 2026", "href": "/referrals/x9Zt1/view"}],
        "new_action": "/referrals",
    });
    let html = render(
        "pages/referrer_home.html",
        merge(base("Your referrals", &[]), full),
    );
    save("referrer-home.html", &html);
    assert!(html.contains(
        "<caption class=\"govuk-table__caption govuk-table__caption--m\">Drafts</caption>"
    ));
    assert!(html.contains("Submitted referrals</caption>"));
    assert!(html.contains("on 13 April 2026 unless you save it again"));
    assert!(html.contains("MASH-3F9A-KD"));
    assert!(html.contains("action=\"/referrals\""));
    assert!(html.contains("Start a new referral"));

    let empty = json!({
        "live": false, "opens": "1 April 2026", "drafts": [], "submitted": [], "new_action": "/referrals",
    });
    let html = render(
        "pages/referrer_home.html",
        merge(base("Your referrals", &[]), empty),
    );
    save("referrer-home-empty.html", &html);
    assert!(html.contains("You have no draft referrals."));
    assert!(html.contains("You have not submitted any referrals."));
    assert!(html.contains("opens for referrals on 1 April 2026"));
    assert!(!html.contains("Start a new referral"));
}
