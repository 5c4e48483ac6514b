//! Test data: one complete, valid, entirely fictional referral.

use time::Date;
use time::macros::date;

use super::draft::{
    AttachmentDraft, ChildDraft, HouseholdMemberDraft, OrganisationDraft, ProfessionalDraft,
    ReferralDraft, ReferrerDraft,
};
use super::nhs_number::tests::invented_nhs_number;

pub(crate) const TODAY: Date = date!(2026 - 03 - 14);

pub(crate) fn child() -> ChildDraft {
    ChildDraft {
        first_name: "Mia".into(),
        last_name: "Example".into(),
        other_names: "Mimi".into(),
        dob_day: "3".into(),
        dob_month: "7".into(),
        dob_year: "2015".into(),
        gender: "female".into(),
        ethnicity: "WBRI".into(),
        address: "1 Test Street\nSampletown".into(),
        postcode: "ab1 2xy".into(),
        nhs_number: invented_nhs_number(123_456),
        gp: "Sampletown Surgery".into(),
        school: "Sampletown Primary".into(),
        religion: "".into(),
        first_language: "English".into(),
        interpreter_needed: "no".into(),
        ..Default::default()
    }
}

pub(crate) fn unborn_child() -> ChildDraft {
    ChildDraft {
        last_name: "Example".into(),
        unborn: true,
        due_day: "1".into(),
        due_month: "9".into(),
        due_year: "2026".into(),
        gender: "unborn".into(),
        ethnicity: "NOBT".into(),
        ..Default::default()
    }
}

pub(crate) fn parent() -> HouseholdMemberDraft {
    HouseholdMemberDraft {
        name: "Jo Example".into(),
        relationship: "mother".into(),
        dob_year: "".into(),
        address: "1 Test Street\nSampletown".into(),
        phone: "07700 900982".into(),
        parental_responsibility: "yes".into(),
        language: "English".into(),
        interpreter_needed: "no".into(),
        ..Default::default()
    }
}

pub(crate) fn professional() -> ProfessionalDraft {
    ProfessionalDraft {
        name: "Alex Nurse".into(),
        agency: "Sampletown School Nursing".into(),
        role: "School nurse".into(),
        contact: "01632 960123".into(),
        is_lead_professional: true,
    }
}

pub(crate) fn valid_draft() -> ReferralDraft {
    ReferralDraft {
        allocated_social_worker: "no".into(),
        social_worker_name: "".into(),
        social_worker_contact: "".into(),
        level_of_need: "targeted".into(),
        referral_type: "early-help-service".into(),
        children: vec![child()],
        household: vec![parent()],
        referrer: ReferrerDraft {
            name: "Sam Teacher".into(),
            role: "Designated safeguarding lead".into(),
            email: "sam.teacher@example.org".into(),
            phone: "01632 960001".into(),
        },
        organisation: OrganisationDraft {
            name: "Sampletown Primary".into(),
            agency_type: "school".into(),
            agency_type_other: "".into(),
            phone: "01632 960000".into(),
        },
        professionals: vec![professional()],
        concerns: "Mia has been late to school most days this term.".into(),
        what_has_been_done: "Meetings with her mother.".into(),
        childs_views: "Mia says she is tired.".into(),
        strengths: "Mia has a good relationship with her mother.".into(),
        risks: "".into(),
        previous_references: "".into(),
        support_requested: "Family support worker.".into(),
        parents_aware: "yes".into(),
        consent: "yes".into(),
        consent_reasons: "".into(),
        attachments: vec![AttachmentDraft {
            id: "a1".into(),
            file_name: "Chronology.pdf".into(),
            kind: "pdf".into(),
            size_bytes: 2048,
        }],
        saved_sections: vec![],
        come_back_later: vec![],
    }
}
