//! The fully typed referral: what [`crate::referral::parse_referral`] returns
//! when every rule holds. Holding a [`Referral`] means it is complete and valid.

use serde::Serialize;

use super::attachment::AttachmentKind;
use super::choice::{AgencyType, Relationship, YesNoDontKnow};
use super::consent::Consent;
use super::contact::{ContactEmail, UkPhoneNumber};
use super::dob::{BirthStatus, iso_date};
use super::ethnicity::Ethnicity;
use super::gender::Gender;
use super::nhs_number::NhsNumber;
use super::postcode::Postcode;
use super::referral_type::{LevelOfNeed, ReferralType};
use super::text::{
    AddressText, ConcernsText, Name, PreviousReferencesText, SectionText, ShortText,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Referral {
    pub before_you_start: BeforeYouStart,
    pub referral_type: ReferralType,
    /// Never empty.
    pub children: Vec<Child>,
    pub household: Vec<HouseholdMember>,
    pub referrer: Referrer,
    pub organisation: Organisation,
    pub professionals: Vec<Professional>,
    pub concerns: Concerns,
    pub previous_references: Option<PreviousReferencesText>,
    pub support_requested: SectionText,
    pub parents_aware: bool,
    pub consent: Consent,
    pub attachments: Vec<AttachmentRef>,
}

///
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BeforeYouStart {
    pub allocated_social_worker: AllocatedSocialWorker,
    pub level_of_need: LevelOfNeed,
}

/// Whether the child already has an allocated social worker; "yes" carries
/// their name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum AllocatedSocialWorker {
    No,
    DontKnow,
    Yes {
        name: Name,
        contact: Option<ShortText>,
    },
}

/// R-11 … R-13.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Child {
    /// Only `None` for an unborn child.
    pub first_name: Option<Name>,
    pub last_name: Name,
    pub other_names: Option<ShortText>,
    pub birth: BirthStatus,
    pub gender: Gender,
    pub ethnicity: Ethnicity,
    pub address: Option<AddressText>,
    pub postcode: Option<Postcode>,
    pub nhs_number: Option<NhsNumber>,
    pub gp: Option<ShortText>,
    pub school: Option<ShortText>,
    pub religion: Option<ShortText>,
    pub first_language: Option<ShortText>,
    pub interpreter_needed: Option<bool>,
    pub disability_or_health_needs: Option<SectionText>,
}

impl Child {
    /// "Mia Example", or "Unborn Example" for an unborn child without a first name.
    pub fn display_name(&self) -> String {
        match &self.first_name {
            Some(first) => format!("{first} {}", self.last_name),
            None => format!("Unborn {}", self.last_name),
        }
    }
}

///
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HouseholdMember {
    pub name: Name,
    pub relationship: Relationship,
    #[serde(serialize_with = "optional_iso_date")]
    pub date_of_birth: Option<time::Date>,
    pub address: Option<AddressText>,
    pub phone: Option<UkPhoneNumber>,
    pub parental_responsibility: Option<YesNoDontKnow>,
    pub language: Option<ShortText>,
    pub interpreter_needed: Option<bool>,
}

fn optional_iso_date<S: serde::Serializer>(
    date: &Option<time::Date>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match date {
        Some(d) => iso_date(d, s),
        None => s.serialize_none(),
    }
}

///
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Referrer {
    pub name: Name,
    pub role: ShortText,
    pub email: ContactEmail,
    pub phone: UkPhoneNumber,
}

///
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organisation {
    pub name: ShortText,
    pub agency_type: AgencyType,
    /// The description typed when the agency type is "Other".
    pub agency_type_other: Option<ShortText>,
    pub phone: UkPhoneNumber,
}

/// R-15a.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Professional {
    pub name: Name,
    pub agency: ShortText,
    pub role: Option<ShortText>,
    pub contact: ShortText,
    pub is_lead_professional: bool,
}

///
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Concerns {
    pub concerns: ConcernsText,
    pub what_has_been_done: Option<SectionText>,
    pub childs_views: Option<SectionText>,
    pub strengths: Option<SectionText>,
    pub risks: Option<SectionText>,
}

/// an uploaded file, by its storage id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentRef {
    pub id: String,
    pub file_name: String,
    #[serde(serialize_with = "kind_code")]
    pub kind: AttachmentKind,
    pub size_bytes: u64,
}

fn kind_code<S: serde::Serializer>(k: &AttachmentKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(k.code())
}
