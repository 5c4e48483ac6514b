//! The referral: every field of the form, its rules, and its reference number.
//!
//! - Value types, each parsed once from what was typed ("parse, don't validate"):
//!   [`NhsNumber`], [`Postcode`], [`DateOfBirth`], [`UnbornDueDate`],
//!   [`BirthStatus`], [`Gender`], [`Ethnicity`], [`ReferralType`], [`LevelOfNeed`],
//!   [`Consent`], [`BoundedText`], [`UkPhoneNumber`], [`ContactEmail`],
//!   [`ReferenceNumber`], [`AttachmentKind`].
//! - [`ReferralDraft`]: exactly what the referrer typed, all strings, never lost.
//! - [`Section`], [`validate_section`], [`section_status`]: the task list and its
//!   per-section errors, each [`FieldError`] naming the HTML id of its input.
//! - [`parse_referral`]: the only way to get a fully typed [`Referral`].
//! - [`summary`]: the rows shown on "check your answers" and in the PDF.

#[macro_use]
pub mod choice;

pub mod attachment;
pub mod consent;
pub mod contact;
pub mod dob;
pub mod ethnicity;
pub mod gender;
pub mod nhs_number;
pub mod postcode;
pub mod reference;
pub mod referral_type;
pub mod text;

pub use attachment::{
    AttachmentError, AttachmentKind, CheckedAttachment, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS,
    sanitise_file_name,
};
pub use choice::{AgencyType, ChoiceError, Relationship, RelationshipGroup, YesNo, YesNoDontKnow};
pub use consent::{Consent, ConsentAndAwareness, ConsentError};
pub use contact::{ContactEmail, ContactEmailError, PhoneError, UkPhoneNumber};
pub use dob::{BirthStatus, DateError, DateErrorKind, DateOfBirth, DateParts, UnbornDueDate};
pub use ethnicity::Ethnicity;
pub use gender::Gender;
pub use nhs_number::{NhsNumber, NhsNumberError};
pub use postcode::{Postcode, PostcodeError};
pub use reference::{ReferenceError, ReferenceNumber};
pub use referral_type::{LevelOfNeed, ReferralType};
pub use text::{
    ADDRESS_MAX, BoundedText, CONCERNS_MAX, NAME_MAX, PREVIOUS_REFERENCES_MAX, SECTION_TEXT_MAX,
    SHORT_TEXT_MAX, TextError, character_count,
};

pub mod draft;
pub mod form;
pub mod model;
pub mod sections;
pub mod summary;

#[cfg(test)]
mod fixtures;

pub use draft::{
    AttachmentDraft, ChildDraft, HouseholdMemberDraft, OrganisationDraft, ProfessionalDraft,
    ReferralDraft, ReferrerDraft,
};
pub use form::{
    FormAction, FormLimits, FormOption, FormOptions, MAX_LIST_ITEMS, OptionGroup, apply_form,
    ensure_a_child, form_options, new_draft, referral_type_description,
};
pub use model::{
    AllocatedSocialWorker, AttachmentRef, BeforeYouStart, Child, Concerns, HouseholdMember,
    Organisation, Professional, Referral, Referrer,
};
pub use sections::{
    FieldError, Section, SectionStatus, parse_referral, section_status, validate_all,
    validate_section,
};
pub use summary::{
    NONE_ADDED, NOT_PROVIDED, SummaryGroup, SummaryRow, SummarySection, section_summary, summary,
};
