//! The task list: sections, their errors and statuses, and the final parse.
//!
//! Each section has one parser turning its part of the [`ReferralDraft`] into
//! typed values or a list of [`FieldError`]s. [`validate_section`] and
//! [`parse_referral`] both use those parsers, so the errors shown while filling
//! in a section and the errors that block submission are always the same.
//!
//! # Section status ([`section_status`])
//! - **Not started**: nothing typed or chosen in the section, and the referrer
//!   has never saved it;
//! - **In progress**: the referrer answered "No, I'll come back later" to "Have
//!   you completed this section?", whatever is typed;
//! - **There is a problem** (`HasErrors`): the section has answers (or was saved)
//!   and at least one rule fails, including a partly filled item in a list;
//! - **Completed**: the section has answers (or was saved) and every rule holds.
//!   A section whose questions are all optional (other professionals, previous
//!   references, attachments, household) is completed by saving it empty.
//!
//! # Error messages
//! Plain English in the GOV.UK style. In the lists (children, household,
//! professionals), when there is more than one item the message starts with the
//! item's heading ("Child 2: Enter the child's last name") so the error summary
//! says which one is wrong.

use time::Date;

use super::attachment::{AttachmentKind, MAX_ATTACHMENTS};
use super::choice::{AgencyType, ChoiceError, Relationship, YesNo, YesNoDontKnow};
use super::consent::{ConsentAndAwareness, ConsentError};
use super::contact::{ContactEmail, UkPhoneNumber};
use super::dob::{BirthStatus, DateError, DateOfBirth, UnbornDueDate, parse_adult_date_of_birth};
use super::draft::{ChildDraft, HouseholdMemberDraft, ProfessionalDraft, ReferralDraft};
use super::ethnicity::Ethnicity;
use super::gender::Gender;
use super::model::{
    AllocatedSocialWorker, AttachmentRef, BeforeYouStart, Child, Concerns, HouseholdMember,
    Organisation, Professional, Referral, Referrer,
};
use super::nhs_number::NhsNumber;
use super::postcode::{Postcode, PostcodeError};
use super::referral_type::{LevelOfNeed, ReferralType};
use super::text::{
    AddressText, BoundedText, ConcernsText, Name, PreviousReferencesText, SectionText,
};

/// The sections of the form, in task-list order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Section {
    BeforeYouStart,
    ReferralType,
    Children,
    Household,
    Referrer,
    Professionals,
    Concerns,
    PreviousReferences,
    Support,
    Consent,
    Attachments,
}

impl Section {
    pub const ALL: &'static [Section] = &[
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
        Section::Attachments,
    ];

    /// The task list and page heading.
    pub fn title(self) -> &'static str {
        match self {
            Section::BeforeYouStart => "Before you start",
            Section::ReferralType => "Type of referral",
            Section::Children => "Children",
            Section::Household => "Household and family",
            Section::Referrer => "Your details and organisation",
            Section::Professionals => "Other professionals involved",
            Section::Concerns => "Your concerns",
            Section::PreviousReferences => "Previous referrals",
            Section::Support => "Support needed",
            Section::Consent => "Parental awareness and consent",
            Section::Attachments => "Attachments",
        }
    }

    /// The URL path segment of the section's page.
    pub fn slug(self) -> &'static str {
        match self {
            Section::BeforeYouStart => "before-you-start",
            Section::ReferralType => "referral-type",
            Section::Children => "children",
            Section::Household => "household",
            Section::Referrer => "referrer",
            Section::Professionals => "professionals",
            Section::Concerns => "concerns",
            Section::PreviousReferences => "previous-references",
            Section::Support => "support",
            Section::Consent => "consent",
            Section::Attachments => "attachments",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Section> {
        Section::ALL.iter().copied().find(|s| s.slug() == slug)
    }
}

/// An error to show in the error summary and beside its input.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct FieldError {
    /// The HTML id of the input (for radios: the first radio's id, which is the
    /// question's id; for date inputs: the first part with the problem).
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A task-list status (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SectionStatus {
    NotStarted,
    InProgress,
    Completed,
    HasErrors,
}

impl SectionStatus {
    /// The GOV.UK task list wording.
    pub fn label(self) -> &'static str {
        match self {
            SectionStatus::NotStarted => "Not yet started",
            SectionStatus::InProgress => "In progress",
            SectionStatus::Completed => "Completed",
            SectionStatus::HasErrors => "There is a problem",
        }
    }
}

/// The errors of one section, in the order of its inputs.
pub fn validate_section(section: Section, draft: &ReferralDraft, today: Date) -> Vec<FieldError> {
    fn errs<T>(r: Result<T, Vec<FieldError>>) -> Vec<FieldError> {
        r.err().unwrap_or_default()
    }
    match section {
        Section::BeforeYouStart => errs(parse_before_you_start(draft)),
        Section::ReferralType => errs(parse_referral_type(draft)),
        Section::Children => errs(parse_children(draft, today)),
        Section::Household => errs(parse_household(draft, today)),
        Section::Referrer => errs(parse_referrer(draft)),
        Section::Professionals => errs(parse_professionals(draft)),
        Section::Concerns => errs(parse_concerns(draft)),
        Section::PreviousReferences => errs(parse_previous_references(draft)),
        Section::Support => errs(parse_support(draft)),
        Section::Consent => errs(parse_consent(draft)),
        Section::Attachments => errs(parse_attachments(draft)),
    }
}

/// The section's task-list status (see the module docs).
pub fn section_status(section: Section, draft: &ReferralDraft, today: Date) -> SectionStatus {
    if !draft.has_answers(section) && !draft.is_saved(section) {
        return SectionStatus::NotStarted;
    }
    if draft.will_come_back_later(section) {
        return SectionStatus::InProgress;
    }
    if validate_section(section, draft, today).is_empty() {
        SectionStatus::Completed
    } else {
        SectionStatus::HasErrors
    }
}

/// Every error of the whole draft, section by section.
pub fn validate_all(draft: &ReferralDraft, today: Date) -> Vec<FieldError> {
    Section::ALL
        .iter()
        .flat_map(|s| validate_section(*s, draft, today))
        .collect()
}

/// The only way to get a [`Referral`]: every section must be valid. The errors
/// are those of [`validate_all`], in the same order.
pub fn parse_referral(draft: &ReferralDraft, today: Date) -> Result<Referral, Vec<FieldError>> {
    fn ok<T>(r: Result<T, Vec<FieldError>>, errors: &mut Vec<FieldError>) -> Option<T> {
        r.map_err(|e| errors.extend(e)).ok()
    }
    let mut errors = Vec::new();
    let e = &mut errors;
    let parts = (
        ok(parse_before_you_start(draft), e),
        ok(parse_referral_type(draft), e),
        ok(parse_children(draft, today), e),
        ok(parse_household(draft, today), e),
        ok(parse_referrer(draft), e),
        ok(parse_professionals(draft), e),
        ok(parse_concerns(draft), e),
        ok(parse_previous_references(draft), e),
        ok(parse_support(draft), e),
        ok(parse_consent(draft), e),
        ok(parse_attachments(draft), e),
    );
    match parts {
        (
            Some(before_you_start),
            Some(referral_type),
            Some(children),
            Some(household),
            Some((referrer, organisation)),
            Some(professionals),
            Some(concerns),
            Some(previous_references),
            Some(support_requested),
            Some(consent),
            Some(attachments),
        ) => Ok(Referral {
            before_you_start,
            referral_type,
            children,
            household,
            referrer,
            organisation,
            professionals,
            concerns,
            previous_references,
            support_requested,
            parents_aware: consent.parents_aware,
            consent: consent.consent,
            attachments,
        }),
        _ => Err(errors),
    }
}

// ---------------------------------------------------------------------------
// Field helpers: each pushes its error and returns `None` when the input is bad.

struct Errors {
    list: Vec<FieldError>,
    /// Prefix of ids ("child-0-"), empty outside lists.
    id_prefix: String,
}

impl Errors {
    fn new(id_prefix: impl Into<String>) -> Self {
        Self {
            list: Vec::new(),
            id_prefix: id_prefix.into(),
        }
    }

    fn id(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.id_prefix)
    }

    fn push(&mut self, suffix: &str, message: impl Into<String>) {
        let field = self.id(suffix);
        self.list.push(FieldError::new(field, message));
    }

    fn required<const M: usize>(
        &mut self,
        suffix: &str,
        input: &str,
        subject: &str,
        empty: &str,
    ) -> Option<BoundedText<M>> {
        BoundedText::<M>::parse(input)
            .map_err(|e| self.push(suffix, e.message(subject, empty)))
            .ok()
    }

    /// `Some(None)` for empty input, `None` for an error.
    fn optional<const M: usize>(
        &mut self,
        suffix: &str,
        input: &str,
        subject: &str,
    ) -> Option<Option<BoundedText<M>>> {
        BoundedText::<M>::parse_optional(input)
            .map_err(|e| self.push(suffix, e.message(subject, "")))
            .ok()
    }

    fn choice<T>(
        &mut self,
        suffix: &str,
        parsed: Result<T, ChoiceError>,
        message: &str,
    ) -> Option<T> {
        parsed.map_err(|_| self.push(suffix, message)).ok()
    }

    fn optional_yes_no(
        &mut self,
        suffix: &str,
        input: &str,
        message: &str,
    ) -> Option<Option<bool>> {
        YesNo::parse_optional(input)
            .map(|v| v.map(YesNo::as_bool))
            .map_err(|_| self.push(suffix, message))
            .ok()
    }

    fn date<T>(
        &mut self,
        prefix: &str,
        parsed: Result<T, DateError>,
        subject: &str,
        empty: &str,
    ) -> Option<T> {
        parsed
            .map_err(|e| {
                let suffix = format!("{prefix}-{}", e.parts.first());
                self.push(&suffix, e.message(subject, empty));
            })
            .ok()
    }

    fn phone(&mut self, suffix: &str, input: &str, empty: &str) -> Option<UkPhoneNumber> {
        UkPhoneNumber::parse(input)
            .map_err(|e| match e {
                super::contact::PhoneError::Empty => self.push(suffix, empty),
                other => self.push(suffix, other.to_string()),
            })
            .ok()
    }

    fn optional_phone(&mut self, suffix: &str, input: &str) -> Option<Option<UkPhoneNumber>> {
        if input.trim().is_empty() {
            return Some(None);
        }
        self.phone(suffix, input, "").map(Some)
    }

    /// For list items: prefix every message with the item's heading when the
    /// list has more than one item.
    fn into_list_errors(self, heading: Option<String>) -> Vec<FieldError> {
        match heading {
            None => self.list,
            Some(h) => self
                .list
                .into_iter()
                .map(|e| FieldError::new(e.field, format!("{h}: {}", e.message)))
                .collect(),
        }
    }
}

fn item_heading(kind: &str, index: usize, len: usize) -> Option<String> {
    (len > 1).then(|| format!("{kind} {}", index + 1))
}

// ---------------------------------------------------------------------------
// Section parsers.

/// R-09.
pub fn parse_before_you_start(d: &ReferralDraft) -> Result<BeforeYouStart, Vec<FieldError>> {
    let mut e = Errors::new("");
    let has_worker = e.choice(
        "allocated-social-worker",
        YesNoDontKnow::parse(&d.allocated_social_worker),
        "Select yes if the child already has an allocated social worker",
    );
    let worker = match has_worker {
        Some(YesNoDontKnow::Yes) => {
            let name = e.required::<{ super::text::NAME_MAX }>(
                "social-worker-name",
                &d.social_worker_name,
                "The social worker's name",
                "Enter the social worker's name",
            );
            let contact = e.optional::<{ super::text::SHORT_TEXT_MAX }>(
                "social-worker-contact",
                &d.social_worker_contact,
                "The social worker's contact details",
            );
            match (name, contact) {
                (Some(name), Some(contact)) => Some(AllocatedSocialWorker::Yes { name, contact }),
                _ => None,
            }
        }
        Some(YesNoDontKnow::No) => Some(AllocatedSocialWorker::No),
        Some(YesNoDontKnow::DontKnow) => Some(AllocatedSocialWorker::DontKnow),
        None => None,
    };
    let level = e.choice(
        "level-of-need",
        LevelOfNeed::parse(&d.level_of_need),
        "Select the level of need you think applies",
    );
    match (worker, level) {
        (Some(allocated_social_worker), Some(level_of_need)) if e.list.is_empty() => {
            Ok(BeforeYouStart {
                allocated_social_worker,
                level_of_need,
            })
        }
        _ => Err(e.list),
    }
}

/// R-10.
pub fn parse_referral_type(d: &ReferralDraft) -> Result<ReferralType, Vec<FieldError>> {
    ReferralType::parse(&d.referral_type).map_err(|_| {
        vec![FieldError::new(
            "referral-type",
            "Select which service you are referring to",
        )]
    })
}

/// R-11 … R-13: at least one child.
pub fn parse_children(d: &ReferralDraft, today: Date) -> Result<Vec<Child>, Vec<FieldError>> {
    if d.children.is_empty() {
        return Err(vec![FieldError::new("children", "Add at least one child")]);
    }
    let len = d.children.len();
    let mut errors = Vec::new();
    let mut children = Vec::with_capacity(len);
    for (i, c) in d.children.iter().enumerate() {
        match parse_child(i, c, today) {
            Ok(child) => children.push(child),
            Err(e) => errors.extend(e.into_list_errors(item_heading("Child", i, len))),
        }
    }
    if errors.is_empty() {
        Ok(children)
    } else {
        Err(errors)
    }
}

fn parse_child(i: usize, c: &ChildDraft, today: Date) -> Result<Child, Errors> {
    use super::text::{NAME_MAX, SECTION_TEXT_MAX, SHORT_TEXT_MAX};
    let mut e = Errors::new(format!("child-{i}-"));
    let first_name = if c.unborn {
        e.optional::<NAME_MAX>("first-name", &c.first_name, "First name")
    } else {
        e.required::<NAME_MAX>(
            "first-name",
            &c.first_name,
            "First name",
            "Enter the child's first name",
        )
        .map(Some)
    };
    let last_name: Option<Name> = e.required::<NAME_MAX>(
        "last-name",
        &c.last_name,
        "Last name",
        "Enter the child's last name",
    );
    let other_names = e.optional::<SHORT_TEXT_MAX>("other-names", &c.other_names, "Other names");
    let birth = if c.unborn {
        e.date(
            "due",
            UnbornDueDate::parse(&c.due_day, &c.due_month, &c.due_year, today),
            "Due date",
            "Enter the expected due date",
        )
        .map(|due_date| BirthStatus::Unborn { due_date })
    } else {
        e.date(
            "dob",
            DateOfBirth::parse(
                &c.dob_day,
                &c.dob_month,
                &c.dob_year,
                c.dob_estimated,
                today,
            ),
            "Date of birth",
            "Enter the child's date of birth",
        )
        .map(|dob| BirthStatus::Born { dob })
    };
    let mut gender = e.choice(
        "gender",
        Gender::parse(&c.gender),
        "Select the child's gender",
    );
    if gender == Some(Gender::Unborn) && !c.unborn {
        e.push(
            "gender",
            "Select 'Unborn' only for a child who has not been born yet",
        );
        gender = None;
    }
    let ethnicity = e.choice(
        "ethnicity",
        Ethnicity::parse(&c.ethnicity),
        "Select the child's ethnicity",
    );
    let address: Option<Option<AddressText>> = e.optional("address", &c.address, "Address");
    let postcode = match Postcode::parse(&c.postcode) {
        Ok(p) => Some(Some(p)),
        Err(PostcodeError::Empty) => Some(None),
        Err(err) => {
            e.push("postcode", err.to_string());
            None
        }
    };
    let nhs_number = if c.nhs_number.trim().is_empty() {
        Some(None)
    } else {
        NhsNumber::parse(&c.nhs_number)
            .map(Some)
            .map_err(|err| e.push("nhs-number", err.to_string()))
            .ok()
    };
    let gp = e.optional::<SHORT_TEXT_MAX>("gp", &c.gp, "GP practice");
    let school = e.optional::<SHORT_TEXT_MAX>("school", &c.school, "School or setting");
    let religion = e.optional::<SHORT_TEXT_MAX>("religion", &c.religion, "Religion");
    let first_language =
        e.optional::<SHORT_TEXT_MAX>("first-language", &c.first_language, "First language");
    let interpreter_needed = e.optional_yes_no(
        "interpreter",
        &c.interpreter_needed,
        "Select yes if the child needs an interpreter",
    );
    let health = e.optional::<SECTION_TEXT_MAX>(
        "health-needs",
        &c.disability_or_health_needs,
        "Disability or health needs",
    );
    if !e.list.is_empty() {
        return Err(e);
    }
    let missing = "no error recorded for a missing value";
    Ok(Child {
        first_name: first_name.expect(missing),
        last_name: last_name.expect(missing),
        other_names: other_names.expect(missing),
        birth: birth.expect(missing),
        gender: gender.expect(missing),
        ethnicity: ethnicity.expect(missing),
        address: address.expect(missing),
        postcode: postcode.expect(missing),
        nhs_number: nhs_number.expect(missing),
        gp: gp.expect(missing),
        school: school.expect(missing),
        religion: religion.expect(missing),
        first_language: first_language.expect(missing),
        interpreter_needed: interpreter_needed.expect(missing),
        disability_or_health_needs: health.expect(missing),
    })
}

/// R-14: any number of household members, none required.
pub fn parse_household(
    d: &ReferralDraft,
    today: Date,
) -> Result<Vec<HouseholdMember>, Vec<FieldError>> {
    let len = d.household.len();
    let mut errors = Vec::new();
    let mut members = Vec::with_capacity(len);
    for (i, m) in d.household.iter().enumerate() {
        match parse_household_member(i, m, today) {
            Ok(member) => members.push(member),
            Err(e) => errors.extend(e.into_list_errors(item_heading("Household member", i, len))),
        }
    }
    if errors.is_empty() {
        Ok(members)
    } else {
        Err(errors)
    }
}

fn parse_household_member(
    i: usize,
    m: &HouseholdMemberDraft,
    today: Date,
) -> Result<HouseholdMember, Errors> {
    use super::text::{NAME_MAX, SHORT_TEXT_MAX};
    let mut e = Errors::new(format!("household-{i}-"));
    let name = e.required::<NAME_MAX>("name", &m.name, "Name", "Enter the person's full name");
    let relationship = e.choice(
        "relationship",
        Relationship::parse(&m.relationship),
        "Select how the person is related to the child",
    );
    let dob = if [&m.dob_day, &m.dob_month, &m.dob_year]
        .iter()
        .all(|p| p.trim().is_empty())
    {
        Some(None)
    } else {
        e.date(
            "dob",
            parse_adult_date_of_birth(&m.dob_day, &m.dob_month, &m.dob_year, today),
            "Date of birth",
            "",
        )
        .map(Some)
    };
    let address: Option<Option<AddressText>> = e.optional("address", &m.address, "Address");
    let phone = e.optional_phone("phone", &m.phone);
    let parental_responsibility = e.choice(
        "parental-responsibility",
        YesNoDontKnow::parse_optional(&m.parental_responsibility),
        "Select whether the person has parental responsibility",
    );
    let language = e.optional::<SHORT_TEXT_MAX>("language", &m.language, "Language");
    let interpreter_needed = e.optional_yes_no(
        "interpreter",
        &m.interpreter_needed,
        "Select yes if the person needs an interpreter",
    );
    if !e.list.is_empty() {
        return Err(e);
    }
    let missing = "no error recorded for a missing value";
    Ok(HouseholdMember {
        name: name.expect(missing),
        relationship: relationship.expect(missing),
        date_of_birth: dob.expect(missing),
        address: address.expect(missing),
        phone: phone.expect(missing),
        parental_responsibility: parental_responsibility.expect(missing),
        language: language.expect(missing),
        interpreter_needed: interpreter_needed.expect(missing),
    })
}

/// R-15: the referrer and their organisation, all required.
pub fn parse_referrer(d: &ReferralDraft) -> Result<(Referrer, Organisation), Vec<FieldError>> {
    use super::text::{NAME_MAX, SHORT_TEXT_MAX};
    let r = &d.referrer;
    let o = &d.organisation;
    let mut e = Errors::new("");
    let name = e.required::<NAME_MAX>(
        "referrer-name",
        &r.name,
        "Your name",
        "Enter your full name",
    );
    let role = e.required::<SHORT_TEXT_MAX>(
        "referrer-role",
        &r.role,
        "Your role",
        "Enter your job title or role",
    );
    let email = ContactEmail::parse(&r.email)
        .map_err(|err| match err {
            super::contact::ContactEmailError::Empty => {
                e.push("referrer-email", "Enter your email address")
            }
            other => e.push("referrer-email", other.to_string()),
        })
        .ok();
    let phone = e.phone(
        "referrer-phone",
        &r.phone,
        "Enter your direct telephone number",
    );
    let org_name = e.required::<SHORT_TEXT_MAX>(
        "organisation-name",
        &o.name,
        "Organisation name",
        "Enter the name of your organisation",
    );
    let agency_type = e.choice(
        "organisation-type",
        AgencyType::parse(&o.agency_type),
        "Select the type of agency you work for",
    );
    let agency_type_other = if agency_type == Some(AgencyType::Other) {
        e.required::<SHORT_TEXT_MAX>(
            "organisation-type-other",
            &o.agency_type_other,
            "Type of agency",
            "Enter the type of agency you work for",
        )
        .map(Some)
    } else {
        Some(None)
    };
    let org_phone = e.phone(
        "organisation-phone",
        &o.phone,
        "Enter your organisation's main or duty telephone number",
    );
    if !e.list.is_empty() {
        return Err(e.list);
    }
    let missing = "no error recorded for a missing value";
    Ok((
        Referrer {
            name: name.expect(missing),
            role: role.expect(missing),
            email: email.expect(missing),
            phone: phone.expect(missing),
        },
        Organisation {
            name: org_name.expect(missing),
            agency_type: agency_type.expect(missing),
            agency_type_other: agency_type_other.expect(missing),
            phone: org_phone.expect(missing),
        },
    ))
}

/// R-15a: any number of professionals; at most one lead professional.
pub fn parse_professionals(d: &ReferralDraft) -> Result<Vec<Professional>, Vec<FieldError>> {
    let len = d.professionals.len();
    let mut errors = Vec::new();
    let mut list = Vec::with_capacity(len);
    let mut lead_seen = false;
    for (i, p) in d.professionals.iter().enumerate() {
        let second_lead = p.is_lead_professional && lead_seen;
        lead_seen |= p.is_lead_professional;
        match parse_professional(i, p, second_lead) {
            Ok(professional) => list.push(professional),
            Err(e) => errors.extend(e.into_list_errors(item_heading("Professional", i, len))),
        }
    }
    if errors.is_empty() {
        Ok(list)
    } else {
        Err(errors)
    }
}

fn parse_professional(
    i: usize,
    p: &ProfessionalDraft,
    second_lead: bool,
) -> Result<Professional, Errors> {
    use super::text::{NAME_MAX, SHORT_TEXT_MAX};
    let mut e = Errors::new(format!("professional-{i}-"));
    let name = e.required::<NAME_MAX>("name", &p.name, "Name", "Enter the professional's name");
    let agency = e.required::<SHORT_TEXT_MAX>(
        "agency",
        &p.agency,
        "Agency",
        "Enter the professional's agency or organisation",
    );
    let role = e.optional::<SHORT_TEXT_MAX>("role", &p.role, "Role");
    let contact = e.required::<SHORT_TEXT_MAX>(
        "contact",
        &p.contact,
        "Contact details",
        "Enter a telephone number or email address for the professional",
    );
    if second_lead {
        e.push("lead", "Only one professional can be the lead professional");
    }
    if !e.list.is_empty() {
        return Err(e);
    }
    let missing = "no error recorded for a missing value";
    Ok(Professional {
        name: name.expect(missing),
        agency: agency.expect(missing),
        role: role.expect(missing),
        contact: contact.expect(missing),
        is_lead_professional: p.is_lead_professional,
    })
}

/// R-16: the concerns are required; the other boxes are optional.
pub fn parse_concerns(d: &ReferralDraft) -> Result<Concerns, Vec<FieldError>> {
    let mut e = Errors::new("");
    let concerns: Option<ConcernsText> = e.required(
        "concerns",
        &d.concerns,
        "Concerns",
        "Enter your concerns about the child",
    );
    let done: Option<Option<SectionText>> = e.optional(
        "what-has-been-done",
        &d.what_has_been_done,
        "What has already been done",
    );
    let views: Option<Option<SectionText>> =
        e.optional("childs-views", &d.childs_views, "The child's views");
    let strengths: Option<Option<SectionText>> = e.optional("strengths", &d.strengths, "Strengths");
    let risks: Option<Option<SectionText>> = e.optional("risks", &d.risks, "Risks");
    match (concerns, done, views, strengths, risks) {
        (
            Some(concerns),
            Some(what_has_been_done),
            Some(childs_views),
            Some(strengths),
            Some(risks),
        ) => Ok(Concerns {
            concerns,
            what_has_been_done,
            childs_views,
            strengths,
            risks,
        }),
        _ => Err(e.list),
    }
}

/// R-17: optional free text.
pub fn parse_previous_references(
    d: &ReferralDraft,
) -> Result<Option<PreviousReferencesText>, Vec<FieldError>> {
    let mut e = Errors::new("");
    e.optional(
        "previous-references",
        &d.previous_references,
        "Previous reference numbers",
    )
    .ok_or(e.list)
}

/// R-18: required.
pub fn parse_support(d: &ReferralDraft) -> Result<SectionText, Vec<FieldError>> {
    let mut e = Errors::new("");
    e.required(
        "support-requested",
        &d.support_requested,
        "Support requested",
        "Enter the support or action you think is needed",
    )
    .ok_or(e.list)
}

/// R-19: uses the referral type (when chosen) for the Early Help rule.
pub fn parse_consent(d: &ReferralDraft) -> Result<ConsentAndAwareness, Vec<FieldError>> {
    let referral_type = ReferralType::parse(&d.referral_type).ok();
    ConsentAndAwareness::parse(
        referral_type,
        &d.parents_aware,
        &d.consent,
        &d.consent_reasons,
    )
    .map_err(|errors| {
        errors
            .into_iter()
            .map(|err| {
                let field = match err {
                    ConsentError::AwarenessNotAnswered => "parents-aware",
                    ConsentError::NotAnswered
                    | ConsentError::EarlyHelpNeedsConsent
                    | ConsentError::ConsentWithoutAwareness => "consent",
                    ConsentError::ReasonsMissing | ConsentError::ReasonsTooLong => {
                        "consent-reasons"
                    }
                };
                FieldError::new(field, err.to_string())
            })
            .collect()
    })
}

/// R-23: the uploaded files' metadata (the files were checked on upload).
pub fn parse_attachments(d: &ReferralDraft) -> Result<Vec<AttachmentRef>, Vec<FieldError>> {
    let mut errors = Vec::new();
    if d.attachments.len() > MAX_ATTACHMENTS {
        errors.push(FieldError::new(
            "attachments",
            format!("You can attach up to {MAX_ATTACHMENTS} files. Remove a file"),
        ));
    }
    let mut list = Vec::new();
    for a in &d.attachments {
        match AttachmentKind::from_code(&a.kind) {
            Some(kind) if !a.id.is_empty() && !a.file_name.trim().is_empty() => {
                list.push(AttachmentRef {
                    id: a.id.clone(),
                    file_name: a.file_name.clone(),
                    kind,
                    size_bytes: a.size_bytes,
                })
            }
            _ => errors.push(FieldError::new(
                "attachments",
                "The selected file must be a PDF, Word document or image",
            )),
        }
    }
    if errors.is_empty() {
        Ok(list)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::referral::consent::Consent;
    use crate::referral::fixtures::{TODAY, child, professional, unborn_child, valid_draft};
    use crate::referral::text::{CONCERNS_MAX, SECTION_TEXT_MAX};

    fn errors_of(section: Section, d: &ReferralDraft) -> Vec<(String, String)> {
        validate_section(section, d, TODAY)
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    fn has_error(section: Section, d: &ReferralDraft, field: &str, message: &str) -> bool {
        errors_of(section, d)
            .iter()
            .any(|(f, m)| f == field && m == message)
    }

    #[test]
    fn the_example_draft_parses_into_a_referral() {
        let r = parse_referral(&valid_draft(), TODAY).unwrap();
        assert_eq!(r.referral_type, ReferralType::EarlyHelpService);
        assert_eq!(r.children.len(), 1);
        assert_eq!(r.children[0].display_name(), "Mia Example");
        assert_eq!(r.children[0].postcode.as_ref().unwrap().as_str(), "AB1 2XY");
        assert!(matches!(r.children[0].birth, BirthStatus::Born { .. }));
        assert_eq!(r.household.len(), 1);
        assert_eq!(r.consent, Consent::Yes);
        assert_eq!(r.attachments[0].kind, AttachmentKind::Pdf);
    }

    #[test]
    fn a_parsed_referral_serialises_with_codes_and_iso_dates() {
        let r = parse_referral(&valid_draft(), TODAY).unwrap();
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["referral_type"], "early-help-service");
        assert_eq!(json["children"][0]["ethnicity"], "WBRI");
        assert_eq!(json["children"][0]["gender"], "female");
        assert_eq!(json["children"][0]["birth"]["status"], "born");
        assert_eq!(json["children"][0]["birth"]["dob"]["date"], "2015-07-03");
        assert_eq!(json["children"][0]["postcode"], "AB1 2XY");
        assert_eq!(json["consent"]["answer"], "yes");
        assert_eq!(json["attachments"][0]["kind"], "pdf");
    }

    #[test]
    fn every_section_of_the_example_is_completed_once_saved() {
        let mut d = valid_draft();
        // Left empty and never saved: an optional section has not been started.
        assert_eq!(
            section_status(Section::PreviousReferences, &d, TODAY),
            SectionStatus::NotStarted
        );
        for s in Section::ALL {
            d.mark_saved(*s);
        }
        for s in Section::ALL {
            assert_eq!(
                section_status(*s, &d, TODAY),
                SectionStatus::Completed,
                "{s:?}"
            );
        }
    }

    #[test]
    fn an_empty_draft_has_every_section_not_started() {
        let d = ReferralDraft::default();
        for s in Section::ALL {
            assert_eq!(
                section_status(*s, &d, TODAY),
                SectionStatus::NotStarted,
                "{s:?}"
            );
        }
    }

    #[test]
    fn an_empty_draft_cannot_be_submitted() {
        let errors = parse_referral(&ReferralDraft::default(), TODAY).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "allocated-social-worker",
            "level-of-need",
            "referral-type",
            "children",
            "referrer-name",
            "organisation-name",
            "concerns",
            "support-requested",
            "parents-aware",
            "consent",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn parse_referral_reports_the_same_errors_as_the_sections() {
        let mut d = valid_draft();
        d.children[0].ethnicity.clear();
        d.concerns.clear();
        let all = parse_referral(&d, TODAY).unwrap_err();
        assert_eq!(all, validate_all(&d, TODAY));
        assert_eq!(all.len(), 2);
    }

    #[test]
    fn sections_have_unique_slugs_that_round_trip() {
        for s in Section::ALL {
            assert_eq!(Section::from_slug(s.slug()), Some(*s));
            assert!(!s.title().is_empty());
        }
        assert_eq!(Section::from_slug("nope"), None);
    }

    // --- Before you start ---

    #[test]
    fn an_allocated_social_worker_needs_a_name() {
        let mut d = valid_draft();
        d.allocated_social_worker = "yes".into();
        assert!(has_error(
            Section::BeforeYouStart,
            &d,
            "social-worker-name",
            "Enter the social worker's name"
        ));
        d.social_worker_name = "Pat Worker".into();
        assert!(errors_of(Section::BeforeYouStart, &d).is_empty());
        let r = parse_referral(&d, TODAY).unwrap();
        assert!(matches!(
            r.before_you_start.allocated_social_worker,
            AllocatedSocialWorker::Yes { contact: None, .. }
        ));
    }

    #[test]
    fn level_of_need_is_required() {
        let mut d = valid_draft();
        d.level_of_need.clear();
        assert!(has_error(
            Section::BeforeYouStart,
            &d,
            "level-of-need",
            "Select the level of need you think applies"
        ));
    }

    #[test]
    fn referral_type_is_required() {
        let mut d = valid_draft();
        d.referral_type = "".into();
        assert_eq!(
            errors_of(Section::ReferralType, &d),
            [(
                "referral-type".to_owned(),
                "Select which service you are referring to".to_owned()
            )]
        );
    }

    // --- Children ---

    #[test]
    fn at_least_one_child_is_required() {
        let mut d = valid_draft();
        d.children.clear();
        d.mark_saved(Section::Children);
        assert_eq!(
            errors_of(Section::Children, &d),
            [("children".to_owned(), "Add at least one child".to_owned())]
        );
        assert_eq!(
            section_status(Section::Children, &d, TODAY),
            SectionStatus::HasErrors
        );
    }

    #[test]
    fn a_childs_first_and_last_names_are_required() {
        let mut d = valid_draft();
        d.children[0].first_name = " ".into();
        d.children[0].last_name.clear();
        assert_eq!(
            errors_of(Section::Children, &d)[..2],
            [
                (
                    "child-0-first-name".to_owned(),
                    "Enter the child's first name".to_owned()
                ),
                (
                    "child-0-last-name".to_owned(),
                    "Enter the child's last name".to_owned()
                )
            ]
        );
    }

    #[test]
    fn an_over_long_name_is_refused() {
        let mut d = valid_draft();
        d.children[0].first_name = "a".repeat(101);
        assert!(has_error(
            Section::Children,
            &d,
            "child-0-first-name",
            "First name must be 100 characters or less"
        ));
    }

    #[test]
    fn date_of_birth_is_mandatory() {
        let mut d = valid_draft();
        d.children[0].dob_day.clear();
        d.children[0].dob_month.clear();
        d.children[0].dob_year.clear();
        assert!(has_error(
            Section::Children,
            &d,
            "child-0-dob-day",
            "Enter the child's date of birth"
        ));
    }

    #[test]
    fn a_missing_month_links_to_the_month_field() {
        let mut d = valid_draft();
        d.children[0].dob_month.clear();
        assert!(has_error(
            Section::Children,
            &d,
            "child-0-dob-month",
            "Date of birth must include a month"
        ));
    }

    #[test]
    fn an_impossible_date_of_birth_is_refused() {
        let mut d = valid_draft();
        d.children[0].dob_day = "31".into();
        d.children[0].dob_month = "2".into();
        assert!(has_error(
            Section::Children,
            &d,
            "child-0-dob-day",
            "Date of birth must be a real date"
        ));
        d.children[0].dob_day = "1".into();
        d.children[0].dob_month = "13".into();
        assert!(has_error(
            Section::Children,
            &d,
            "child-0-dob-month",
            "Date of birth must be a real date"
        ));
    }

    #[test]
    fn a_date_of_birth_in_the_future_is_refused() {
        let mut d = valid_draft();
        d.children[0].dob_year = "2027".into();
        assert!(has_error(
            Section::Children,
            &d,
            "child-0-dob-day",
            "Date of birth must be today or in the past"
        ));
    }

    #[test]
    fn an_estimated_date_of_birth_is_accepted() {
        let mut d = valid_draft();
        d.children[0].dob_estimated = true;
        let r = parse_referral(&d, TODAY).unwrap();
        match r.children[0].birth {
            BirthStatus::Born { dob } => assert!(dob.estimated),
            BirthStatus::Unborn { .. } => panic!("born child parsed as unborn"),
        }
    }

    #[test]
    fn an_unborn_child_without_a_due_date_is_refused() {
        let mut d = valid_draft();
        d.children = vec![ChildDraft {
            due_day: "".into(),
            due_month: "".into(),
            due_year: "".into(),
            ..unborn_child()
        }];
        assert!(has_error(
            Section::Children,
            &d,
            "child-0-due-day",
            "Enter the expected due date"
        ));
    }

    #[test]
    fn an_unborn_child_with_a_due_date_needs_no_first_name_or_date_of_birth() {
        let mut d = valid_draft();
        d.children = vec![unborn_child()];
        let r = parse_referral(&d, TODAY).unwrap();
        let c = &r.children[0];
        assert_eq!(c.first_name, None);
        assert_eq!(c.display_name(), "Unborn Example");
        assert!(matches!(c.birth, BirthStatus::Unborn { .. }));
    }

    #[test]
    fn a_due_date_in_the_past_is_refused() {
        let mut d = valid_draft();
        d.children = vec![ChildDraft {
            due_year: "2025".into(),
            ..unborn_child()
        }];
        assert!(has_error(
            Section::Children,
            &d,
            "child-0-due-day",
            "Due date must be today or in the future"
        ));
    }

    #[test]
    fn gender_unborn_is_only_for_an_unborn_child() {
        let mut d = valid_draft();
        d.children[0].gender = "unborn".into();
        assert!(has_error(
            Section::Children,
            &d,
            "child-0-gender",
            "Select 'Unborn' only for a child who has not been born yet"
        ));
    }

    #[test]
    fn gender_and_ethnicity_are_required() {
        let mut d = valid_draft();
        d.children[0].gender.clear();
        d.children[0].ethnicity.clear();
        assert!(has_error(
            Section::Children,
            &d,
            "child-0-gender",
            "Select the child's gender"
        ));
        assert!(has_error(
            Section::Children,
            &d,
            "child-0-ethnicity",
            "Select the child's ethnicity"
        ));
    }

    #[test]
    fn an_invalid_nhs_number_is_refused_but_an_empty_one_is_fine() {
        let mut d = valid_draft();
        // 999 123 456: the Modulus 11 check would be 10, so no check digit is valid.
        d.children[0].nhs_number = "999 123 4567".into();
        assert!(has_error(
            Section::Children,
            &d,
            "child-0-nhs-number",
            "Enter a real NHS number"
        ));
        d.children[0].nhs_number = "12345".into();
        assert!(has_error(
            Section::Children,
            &d,
            "child-0-nhs-number",
            "NHS number must be 10 digits"
        ));
        d.children[0].nhs_number = "  ".into();
        assert!(errors_of(Section::Children, &d).is_empty());
    }

    #[test]
    fn an_invalid_postcode_is_refused_but_an_empty_one_is_fine() {
        let mut d = valid_draft();
        d.children[0].postcode = "NOT A POSTCODE".into();
        assert!(has_error(
            Section::Children,
            &d,
            "child-0-postcode",
            "Enter a real postcode"
        ));
        d.children[0].postcode.clear();
        assert!(errors_of(Section::Children, &d).is_empty());
    }

    #[test]
    fn errors_of_the_second_child_name_the_child() {
        let mut d = valid_draft();
        d.children.push(ChildDraft {
            first_name: "Leo".into(),
            ..child()
        });
        d.children[1].last_name.clear();
        assert_eq!(
            errors_of(Section::Children, &d),
            [(
                "child-1-last-name".to_owned(),
                "Child 2: Enter the child's last name".to_owned()
            )]
        );
    }

    #[test]
    fn several_children_of_one_family_parse() {
        let mut d = valid_draft();
        d.children.push(ChildDraft {
            first_name: "Leo".into(),
            ..child()
        });
        d.children.push(unborn_child());
        assert_eq!(parse_referral(&d, TODAY).unwrap().children.len(), 3);
    }

    // --- Household ---

    #[test]
    fn the_household_is_optional_but_saving_it_empty_completes_it() {
        let mut d = valid_draft();
        d.household.clear();
        assert_eq!(
            section_status(Section::Household, &d, TODAY),
            SectionStatus::NotStarted
        );
        d.mark_saved(Section::Household);
        assert_eq!(
            section_status(Section::Household, &d, TODAY),
            SectionStatus::Completed
        );
        assert!(parse_referral(&d, TODAY).is_ok());
    }

    #[test]
    fn a_household_member_needs_a_name_and_relationship() {
        let mut d = valid_draft();
        d.household.push(HouseholdMemberDraft::default());
        let errors = errors_of(Section::Household, &d);
        assert_eq!(
            errors,
            [
                (
                    "household-1-name".to_owned(),
                    "Household member 2: Enter the person's full name".to_owned()
                ),
                (
                    "household-1-relationship".to_owned(),
                    "Household member 2: Select how the person is related to the child".to_owned()
                ),
            ]
        );
        assert_eq!(
            section_status(Section::Household, &d, TODAY),
            SectionStatus::HasErrors
        );
    }

    #[test]
    fn a_household_members_date_of_birth_is_optional_but_checked_when_given() {
        let mut d = valid_draft();
        d.household[0].dob_day = "30".into();
        d.household[0].dob_month = "2".into();
        d.household[0].dob_year = "1990".into();
        assert!(has_error(
            Section::Household,
            &d,
            "household-0-dob-day",
            "Date of birth must be a real date"
        ));
        d.household[0].dob_day = "28".into();
        let r = parse_referral(&d, TODAY).unwrap();
        assert!(r.household[0].date_of_birth.is_some());
    }

    #[test]
    fn a_household_members_phone_is_checked_when_given() {
        let mut d = valid_draft();
        d.household[0].phone = "12".into();
        assert!(has_error(
            Section::Household,
            &d,
            "household-0-phone",
            "Enter a telephone number, like 01632 960 001 or 07700 900 982"
        ));
        d.household[0].phone.clear();
        assert!(errors_of(Section::Household, &d).is_empty());
    }

    // --- Referrer ---

    #[test]
    fn referrer_and_organisation_details_are_required() {
        let mut d = valid_draft();
        d.referrer = Default::default();
        d.organisation = Default::default();
        d.mark_saved(Section::Referrer);
        let fields: Vec<String> = errors_of(Section::Referrer, &d)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            [
                "referrer-name",
                "referrer-role",
                "referrer-email",
                "referrer-phone",
                "organisation-name",
                "organisation-type",
                "organisation-phone"
            ]
        );
    }

    #[test]
    fn a_malformed_referrer_email_is_refused() {
        let mut d = valid_draft();
        d.referrer.email = "sam.example.org".into();
        assert!(has_error(
            Section::Referrer,
            &d,
            "referrer-email",
            "Enter an email address in the correct format, like name@example.com"
        ));
    }

    #[test]
    fn agency_type_other_needs_a_description() {
        let mut d = valid_draft();
        d.organisation.agency_type = "other".into();
        assert!(has_error(
            Section::Referrer,
            &d,
            "organisation-type-other",
            "Enter the type of agency you work for"
        ));
        d.organisation.agency_type_other = "Faith group".into();
        assert!(errors_of(Section::Referrer, &d).is_empty());
    }

    // --- Professionals ---

    #[test]
    fn only_one_lead_professional() {
        let mut d = valid_draft();
        d.professionals.push(ProfessionalDraft {
            name: "Chris Officer".into(),
            ..professional()
        });
        assert_eq!(
            errors_of(Section::Professionals, &d),
            [(
                "professional-1-lead".to_owned(),
                "Professional 2: Only one professional can be the lead professional".to_owned()
            )]
        );
    }

    #[test]
    fn a_professional_needs_name_agency_and_contact() {
        let mut d = valid_draft();
        d.professionals = vec![ProfessionalDraft::default()];
        let fields: Vec<String> = errors_of(Section::Professionals, &d)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            [
                "professional-0-name",
                "professional-0-agency",
                "professional-0-contact"
            ]
        );
    }

    // --- Concerns and other text ---

    #[test]
    fn concerns_are_required() {
        let mut d = valid_draft();
        d.concerns = "   ".into();
        assert!(has_error(
            Section::Concerns,
            &d,
            "concerns",
            "Enter your concerns about the child"
        ));
    }

    #[test]
    fn concerns_at_the_limit_are_accepted_and_one_more_is_refused() {
        let mut d = valid_draft();
        d.concerns = "c".repeat(CONCERNS_MAX);
        assert!(errors_of(Section::Concerns, &d).is_empty());
        d.concerns.push('c');
        assert!(has_error(
            Section::Concerns,
            &d,
            "concerns",
            "Concerns must be 20,000 characters or less"
        ));
    }

    #[test]
    fn other_text_sections_are_limited_to_5000() {
        let mut d = valid_draft();
        d.risks = "r".repeat(SECTION_TEXT_MAX);
        assert!(errors_of(Section::Concerns, &d).is_empty());
        d.risks.push('r');
        assert!(has_error(
            Section::Concerns,
            &d,
            "risks",
            "Risks must be 5,000 characters or less"
        ));
        d.support_requested = "s".repeat(SECTION_TEXT_MAX + 1);
        assert!(has_error(
            Section::Support,
            &d,
            "support-requested",
            "Support requested must be 5,000 characters or less"
        ));
    }

    #[test]
    fn support_requested_is_required() {
        let mut d = valid_draft();
        d.support_requested.clear();
        assert!(has_error(
            Section::Support,
            &d,
            "support-requested",
            "Enter the support or action you think is needed"
        ));
    }

    #[test]
    fn previous_references_are_optional_free_text() {
        let mut d = valid_draft();
        d.previous_references = "MARF 2024/123, EH-7KQ4-MCX4".into();
        assert_eq!(
            parse_referral(&d, TODAY)
                .unwrap()
                .previous_references
                .unwrap()
                .as_str(),
            "MARF 2024/123, EH-7KQ4-MCX4"
        );
        d.previous_references = "p".repeat(1_001);
        assert!(has_error(
            Section::PreviousReferences,
            &d,
            "previous-references",
            "Previous reference numbers must be 1,000 characters or less"
        ));
    }

    // --- Consent ---

    #[test]
    fn consent_no_without_reasons_is_refused() {
        let mut d = valid_draft();
        d.referral_type = "childrens-social-care".into();
        d.consent = "no".into();
        assert_eq!(
            errors_of(Section::Consent, &d),
            [(
                "consent-reasons".to_owned(),
                "Enter the reasons there is no consent".to_owned()
            )]
        );
        d.consent_reasons = "Mother could not be contacted".into();
        let r = parse_referral(&d, TODAY).unwrap();
        assert!(matches!(r.consent, Consent::No { .. }));
    }

    #[test]
    fn early_help_without_consent_is_refused() {
        for service in ["early-help-service", "early-help-universal-plus"] {
            let mut d = valid_draft();
            d.referral_type = service.into();
            d.consent = "no".into();
            d.consent_reasons = "Parents declined".into();
            let errors = errors_of(Section::Consent, &d);
            assert_eq!(errors.len(), 1, "{service}");
            assert_eq!(errors[0].0, "consent");
            assert!(errors[0].1.contains("choose Children's Social Care"));
            assert!(parse_referral(&d, TODAY).is_err());
        }
    }

    #[test]
    fn changing_the_referral_type_to_early_help_flags_the_consent_section() {
        let mut d = valid_draft();
        d.referral_type = "childrens-social-care".into();
        d.consent = "no".into();
        d.consent_reasons = "Parents declined".into();
        assert_eq!(
            section_status(Section::Consent, &d, TODAY),
            SectionStatus::Completed
        );
        d.referral_type = "early-help-universal-plus".into();
        assert_eq!(
            section_status(Section::Consent, &d, TODAY),
            SectionStatus::HasErrors
        );
    }

    // --- Attachments ---

    #[test]
    fn too_many_attachments_are_refused() {
        let mut d = valid_draft();
        let one = d.attachments[0].clone();
        d.attachments = vec![one; MAX_ATTACHMENTS + 1];
        assert!(!errors_of(Section::Attachments, &d).is_empty());
    }

    #[test]
    fn an_attachment_of_an_unknown_kind_is_refused() {
        let mut d = valid_draft();
        d.attachments[0].kind = "exe".into();
        assert!(has_error(
            Section::Attachments,
            &d,
            "attachments",
            "The selected file must be a PDF, Word document or image"
        ));
    }

    // --- Statuses ---

    #[test]
    fn come_back_later_shows_in_progress_even_with_errors() {
        let mut d = valid_draft();
        d.concerns.clear();
        d.set_completed(Section::Concerns, false);
        assert_eq!(
            section_status(Section::Concerns, &d, TODAY),
            SectionStatus::InProgress
        );
        d.set_completed(Section::Concerns, true);
        assert_eq!(
            section_status(Section::Concerns, &d, TODAY),
            SectionStatus::HasErrors
        );
    }

    #[test]
    fn a_partly_filled_section_has_errors() {
        let d = ReferralDraft {
            referrer: crate::referral::ReferrerDraft {
                name: "Sam Teacher".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            section_status(Section::Referrer, &d, TODAY),
            SectionStatus::HasErrors
        );
        assert_eq!(SectionStatus::HasErrors.label(), "There is a problem");
    }
}
