//! The draft: exactly what the referrer typed.
//!
//! Every answer is kept as typed (strings, booleans for tick boxes, vectors for
//! the lists), valid or not, so a page can always show it again (WCAG 2.2
//! success criterion 3.3.7, and "no typed work is lost" of R-05). Choices are
//! stored as their codes (`"female"`, `"WBRI"`, `"yes"`). Nothing is parsed here:
//! [`crate::referral::sections`] turns a draft into errors or a typed
//! [`crate::referral::Referral`].
//!
//! Every struct is `#[serde(default)]`, so JSON saved by an older version, with
//! fewer fields, still loads; unknown fields are ignored.
//!
//! The doc comment of each field gives the HTML id of its input (for lists,
//! `{i}` is the item's index from 0); errors use the same ids.

use serde::{Deserialize, Serialize};

use super::sections::Section;

/// A referral being written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReferralDraft {
    // --- Before you start (R-09) ---
    /// `allocated-social-worker`: "yes" / "no" / "dont-know".
    pub allocated_social_worker: String,
    /// `social-worker-name`: when the child has an allocated social worker.
    pub social_worker_name: String,
    /// `social-worker-contact`: their phone, email or team (optional).
    pub social_worker_contact: String,
    /// `level-of-need`: a [`crate::referral::LevelOfNeed`] code.
    pub level_of_need: String,

    // --- Referral type (R-10) ---
    /// `referral-type`: a [`crate::referral::ReferralType`] code.
    pub referral_type: String,

    // --- Children (R-11 … R-13) ---
    /// `child-{i}-…`; at least one is needed to submit.
    pub children: Vec<ChildDraft>,

    // --- Household and family (R-14) ---
    /// `household-{i}-…`.
    pub household: Vec<HouseholdMemberDraft>,

    // --- Referrer and organisation (R-15) ---
    pub referrer: ReferrerDraft,
    pub organisation: OrganisationDraft,

    // --- Other professionals (R-15a) ---
    /// `professional-{i}-…`.
    pub professionals: Vec<ProfessionalDraft>,

    // --- Free-text sections (R-16) ---
    /// `concerns`.
    pub concerns: String,
    /// `what-has-been-done`.
    pub what_has_been_done: String,
    /// `childs-views`.
    pub childs_views: String,
    /// `strengths`.
    pub strengths: String,
    /// `risks`.
    pub risks: String,

    // --- Previous references (R-17) ---
    /// `previous-references`: free text.
    pub previous_references: String,

    // --- Support requested (R-18) ---
    /// `support-requested`.
    pub support_requested: String,

    // --- Consent (R-19) ---
    /// `parents-aware`: "yes" / "no".
    pub parents_aware: String,
    /// `consent`: "yes" / "no".
    pub consent: String,
    /// `consent-reasons`: needed when consent is "no".
    pub consent_reasons: String,

    // --- Attachments (R-23) ---
    /// Files already uploaded and checked (the bytes live in storage).
    pub attachments: Vec<AttachmentDraft>,

    // --- Task-list bookkeeping (not typed by the referrer) ---
    /// Slugs of sections the referrer has saved at least once, so a section with
    /// only optional questions can be "Completed" while empty.
    pub saved_sections: Vec<String>,
    /// Slugs of sections the referrer said they will come back to
    /// ("No, I'll come back later"): shown as "In progress".
    pub come_back_later: Vec<String>,
}

/// One child (R-11 … R-13). Ids: `child-{i}-{suffix}` with the suffix given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChildDraft {
    /// `first-name` (not needed for an unborn child).
    pub first_name: String,
    /// `last-name`.
    pub last_name: String,
    /// `other-names`: other names or aliases.
    pub other_names: String,
    /// `unborn`: tick box "The child is not born yet".
    pub unborn: bool,
    /// `dob-day`, `dob-month`, `dob-year`.
    pub dob_day: String,
    pub dob_month: String,
    pub dob_year: String,
    /// `dob-estimated`: tick box "Is date of birth estimated?".
    pub dob_estimated: bool,
    /// `due-day`, `due-month`, `due-year`: expected due date of an unborn child.
    pub due_day: String,
    pub due_month: String,
    pub due_year: String,
    /// `gender`: a [`crate::referral::Gender`] code.
    pub gender: String,
    /// `ethnicity`: a [`crate::referral::Ethnicity`] census code.
    pub ethnicity: String,
    /// `address`.
    pub address: String,
    /// `postcode`.
    pub postcode: String,
    /// `nhs-number`.
    pub nhs_number: String,
    /// `gp`: GP practice.
    pub gp: String,
    /// `school`: school, college or early years setting.
    pub school: String,
    /// `religion`.
    pub religion: String,
    /// `first-language`.
    pub first_language: String,
    /// `interpreter`: "yes" / "no".
    pub interpreter_needed: String,
    /// `health-needs`: disability or health needs.
    pub disability_or_health_needs: String,
}

/// A parent, carer, sibling or other significant adult (R-14).
/// Ids: `household-{i}-{suffix}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HouseholdMemberDraft {
    /// `name`: full name.
    pub name: String,
    /// `relationship`: a [`crate::referral::Relationship`] code.
    pub relationship: String,
    /// `dob-day`, `dob-month`, `dob-year`: if known.
    pub dob_day: String,
    pub dob_month: String,
    pub dob_year: String,
    /// `address`.
    pub address: String,
    /// `phone`.
    pub phone: String,
    /// `parental-responsibility`: "yes" / "no" / "dont-know".
    pub parental_responsibility: String,
    /// `language`: first language.
    pub language: String,
    /// `interpreter`: "yes" / "no".
    pub interpreter_needed: String,
}

/// The person making the referral (R-15). Ids: `referrer-{suffix}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReferrerDraft {
    /// `referrer-name`.
    pub name: String,
    /// `referrer-role`: job title or role.
    pub role: String,
    /// `referrer-email`.
    pub email: String,
    /// `referrer-phone`: direct telephone number.
    pub phone: String,
}

/// The referrer's organisation (R-15). Ids: `organisation-{suffix}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrganisationDraft {
    /// `organisation-name`.
    pub name: String,
    /// `organisation-type`: an [`crate::referral::AgencyType`] code.
    pub agency_type: String,
    /// `organisation-type-other`: when the type is "other".
    pub agency_type_other: String,
    /// `organisation-phone`: main or duty telephone number.
    pub phone: String,
}

/// Another professional involved (R-15a). Ids: `professional-{i}-{suffix}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProfessionalDraft {
    /// `name`.
    pub name: String,
    /// `agency`.
    pub agency: String,
    /// `role`.
    pub role: String,
    /// `contact`: telephone number or email address.
    pub contact: String,
    /// `lead`: tick box "This is the lead professional".
    pub is_lead_professional: bool,
}

/// An uploaded file's metadata (R-23), filled in by the web layer after
/// [`crate::referral::CheckedAttachment::check`] accepted it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AttachmentDraft {
    /// Storage id of the file.
    pub id: String,
    /// Sanitised file name.
    pub file_name: String,
    /// [`crate::referral::AttachmentKind::code`].
    pub kind: String,
    pub size_bytes: u64,
}

impl ReferralDraft {
    /// Records that the referrer saved `section` (call on every save of its page).
    pub fn mark_saved(&mut self, section: Section) {
        let slug = section.slug().to_owned();
        if !self.saved_sections.contains(&slug) {
            self.saved_sections.push(slug);
        }
    }

    pub fn is_saved(&self, section: Section) -> bool {
        self.saved_sections.iter().any(|s| s == section.slug())
    }

    /// Records the answer to "Have you completed this section?": `false` means
    /// "No, I'll come back later".
    pub fn set_completed(&mut self, section: Section, completed: bool) {
        self.come_back_later.retain(|s| s != section.slug());
        if !completed {
            self.come_back_later.push(section.slug().to_owned());
        }
    }

    pub fn will_come_back_later(&self, section: Section) -> bool {
        self.come_back_later.iter().any(|s| s == section.slug())
    }

    /// Whether anything has been typed or chosen in the section.
    pub fn has_answers(&self, section: Section) -> bool {
        let any = |fields: &[&str]| fields.iter().any(|f| !f.trim().is_empty());
        match section {
            Section::BeforeYouStart => any(&[
                &self.allocated_social_worker,
                &self.social_worker_name,
                &self.social_worker_contact,
                &self.level_of_need,
            ]),
            Section::ReferralType => any(&[&self.referral_type]),
            Section::Children => self.children.iter().any(|c| !c.is_blank()),
            Section::Household => !self.household.is_empty(),
            Section::Referrer => {
                let r = &self.referrer;
                let o = &self.organisation;
                any(&[
                    &r.name,
                    &r.role,
                    &r.email,
                    &r.phone,
                    &o.name,
                    &o.agency_type,
                    &o.agency_type_other,
                    &o.phone,
                ])
            }
            Section::Professionals => !self.professionals.is_empty(),
            Section::Concerns => any(&[
                &self.concerns,
                &self.what_has_been_done,
                &self.childs_views,
                &self.strengths,
                &self.risks,
            ]),
            Section::PreviousReferences => any(&[&self.previous_references]),
            Section::Support => any(&[&self.support_requested]),
            Section::Consent => any(&[&self.parents_aware, &self.consent, &self.consent_reasons]),
            Section::Attachments => !self.attachments.is_empty(),
        }
    }
}

impl ChildDraft {
    /// Nothing typed or ticked at all.
    pub fn is_blank(&self) -> bool {
        *self == ChildDraft::default()
            || (!self.unborn
                && !self.dob_estimated
                && [
                    &self.first_name,
                    &self.last_name,
                    &self.other_names,
                    &self.dob_day,
                    &self.dob_month,
                    &self.dob_year,
                    &self.due_day,
                    &self.due_month,
                    &self.due_year,
                    &self.gender,
                    &self.ethnicity,
                    &self.address,
                    &self.postcode,
                    &self.nhs_number,
                    &self.gp,
                    &self.school,
                    &self.religion,
                    &self.first_language,
                    &self.interpreter_needed,
                    &self.disability_or_health_needs,
                ]
                .iter()
                .all(|f| f.trim().is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_json_object_loads_as_an_empty_draft() {
        let d: ReferralDraft = serde_json::from_str("{}").unwrap();
        assert_eq!(d, ReferralDraft::default());
    }

    #[test]
    fn older_json_with_fewer_fields_still_loads() {
        let json = r#"{
            "referral_type": "early-help-service",
            "children": [{"first_name": "Mia", "dob_day": "3"}],
            "referrer": {"name": "Sam Teacher"}
        }"#;
        let d: ReferralDraft = serde_json::from_str(json).unwrap();
        assert_eq!(d.referral_type, "early-help-service");
        assert_eq!(d.children[0].first_name, "Mia");
        assert_eq!(d.children[0].dob_day, "3");
        assert_eq!(d.children[0].last_name, "");
        assert_eq!(d.referrer.name, "Sam Teacher");
        assert!(d.household.is_empty());
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let d: ReferralDraft = serde_json::from_str(r#"{"retired_field": 1}"#).unwrap();
        assert_eq!(d, ReferralDraft::default());
    }

    #[test]
    fn invalid_answers_survive_a_save_and_load_unchanged() {
        let mut d = ReferralDraft::default();
        d.children.push(ChildDraft {
            first_name: "  Mia  ".into(),
            dob_day: "31".into(),
            dob_month: "2".into(),
            dob_year: "20".into(),
            nhs_number: "not a number".into(),
            ..Default::default()
        });
        d.concerns = "x".repeat(30_000);
        let json = serde_json::to_string(&d).unwrap();
        let back: ReferralDraft = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn saved_and_come_back_later_are_recorded_once() {
        let mut d = ReferralDraft::default();
        d.mark_saved(Section::Household);
        d.mark_saved(Section::Household);
        assert_eq!(d.saved_sections, ["household"]);
        assert!(d.is_saved(Section::Household));
        d.set_completed(Section::Concerns, false);
        d.set_completed(Section::Concerns, false);
        assert_eq!(d.come_back_later, ["concerns"]);
        assert!(d.will_come_back_later(Section::Concerns));
        d.set_completed(Section::Concerns, true);
        assert!(!d.will_come_back_later(Section::Concerns));
    }

    #[test]
    fn a_child_with_only_spaces_is_blank_but_a_ticked_box_is_not() {
        let blank = ChildDraft {
            first_name: "  ".into(),
            ..Default::default()
        };
        assert!(blank.is_blank());
        let ticked = ChildDraft {
            unborn: true,
            ..Default::default()
        };
        assert!(!ticked.is_blank());
    }

    #[test]
    fn has_answers_looks_only_at_the_sections_own_fields() {
        let mut d = ReferralDraft::default();
        assert!(Section::ALL.iter().all(|s| !d.has_answers(*s)));
        d.organisation.phone = "01632 960000".into();
        assert!(d.has_answers(Section::Referrer));
        assert!(!d.has_answers(Section::Consent));
    }
}
