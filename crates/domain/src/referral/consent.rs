//! Parental awareness and consent (R-19).
//!
//! `Consent::No` carries its reasons, so a "no" without reasons cannot exist.
//! [`ConsentAndAwareness::parse`] applies the cross-field rules: both Early
//! Help services need consent, and parents who consented are aware.

use super::choice::{ChoiceError, YesNo};
use super::referral_type::ReferralType;
use super::text::{SECTION_TEXT_MAX, SectionText, TextError, format_thousands};

/// Has a parent or carer consented to the referral?
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Consent {
    Yes,
    No { reasons: SectionText },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    #[error("Select yes if a parent or carer has given consent to this referral")]
    NotAnswered,
    #[error("Enter the reasons there is no consent")]
    ReasonsMissing,
    #[error(
        "Reasons there is no consent must be {} characters or less",
        format_thousands(SECTION_TEXT_MAX)
    )]
    ReasonsTooLong,
    #[error("Select yes if the parents or carers are aware of this referral")]
    AwarenessNotAnswered,
    #[error(
        "Early Help referrals need parental consent. If you do not have consent, choose Children's Social Care as the referral type"
    )]
    EarlyHelpNeedsConsent,
    #[error(
        "Parents or carers who have given consent are aware of the referral. Check your answers about consent and awareness"
    )]
    ConsentWithoutAwareness,
}

impl Consent {
    /// From the yes/no radio and the reasons textarea (ignored when "yes").
    pub fn parse(answer: &str, reasons: &str) -> Result<Self, ConsentError> {
        match YesNo::parse(answer) {
            Err(ChoiceError::Empty | ChoiceError::Unknown) => Err(ConsentError::NotAnswered),
            Ok(YesNo::Yes) => Ok(Consent::Yes),
            Ok(YesNo::No) => match SectionText::parse(reasons) {
                Ok(reasons) => Ok(Consent::No { reasons }),
                Err(TextError::Empty) => Err(ConsentError::ReasonsMissing),
                Err(TextError::TooLong { .. }) => Err(ConsentError::ReasonsTooLong),
            },
        }
    }

    pub fn is_given(&self) -> bool {
        matches!(self, Consent::Yes)
    }
}

/// R-19 as a whole: awareness, consent, and whether the chosen service allows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConsentAndAwareness {
    pub parents_aware: bool,
    pub consent: Consent,
}

impl ConsentAndAwareness {
    /// Checks the rules that join the answers; returns the first error of each
    /// field (awareness, consent) so both can be shown at once.
    pub fn parse(
        referral_type: Option<ReferralType>,
        parents_aware: &str,
        consent: &str,
        reasons: &str,
    ) -> Result<Self, Vec<ConsentError>> {
        let mut errors = Vec::new();
        let aware = match YesNo::parse(parents_aware) {
            Ok(a) => Some(a.as_bool()),
            Err(_) => {
                errors.push(ConsentError::AwarenessNotAnswered);
                None
            }
        };
        let consent = match Consent::parse(consent, reasons) {
            Ok(c) => Some(c),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        if let Some(Consent::No { .. }) = &consent
            && referral_type.is_some_and(ReferralType::is_early_help)
        {
            errors.push(ConsentError::EarlyHelpNeedsConsent);
        }
        if let (Some(false), Some(Consent::Yes)) = (aware, &consent) {
            errors.push(ConsentError::ConsentWithoutAwareness);
        }
        match (aware, consent) {
            (Some(parents_aware), Some(consent)) if errors.is_empty() => Ok(Self {
                parents_aware,
                consent,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_needs_no_reasons() {
        assert_eq!(Consent::parse("yes", ""), Ok(Consent::Yes));
    }

    #[test]
    fn reasons_typed_before_changing_to_yes_are_ignored() {
        assert_eq!(Consent::parse("yes", "some earlier text"), Ok(Consent::Yes));
    }

    #[test]
    fn no_carries_its_reasons() {
        let c = Consent::parse("no", "  Parent could not be contacted  ").unwrap();
        match c {
            Consent::No { reasons } => {
                assert_eq!(reasons.as_str(), "Parent could not be contacted")
            }
            Consent::Yes => panic!("expected no"),
        }
    }

    #[test]
    fn consent_no_without_reasons_is_refused() {
        assert_eq!(
            Consent::parse("no", "   "),
            Err(ConsentError::ReasonsMissing)
        );
        assert_eq!(
            ConsentError::ReasonsMissing.to_string(),
            "Enter the reasons there is no consent"
        );
    }

    #[test]
    fn over_long_reasons_are_refused() {
        assert!(Consent::parse("no", &"r".repeat(SECTION_TEXT_MAX)).is_ok());
        assert_eq!(
            Consent::parse("no", &"r".repeat(SECTION_TEXT_MAX + 1)),
            Err(ConsentError::ReasonsTooLong)
        );
    }

    #[test]
    fn consent_not_answered_is_refused() {
        assert_eq!(Consent::parse("", ""), Err(ConsentError::NotAnswered));
        assert_eq!(
            Consent::parse("perhaps", ""),
            Err(ConsentError::NotAnswered)
        );
    }

    #[test]
    fn early_help_service_without_consent_is_refused() {
        let e = ConsentAndAwareness::parse(
            Some(ReferralType::EarlyHelpService),
            "yes",
            "no",
            "Parent declined",
        )
        .unwrap_err();
        assert_eq!(e, vec![ConsentError::EarlyHelpNeedsConsent]);
        assert!(
            e[0].to_string()
                .starts_with("Early Help referrals need parental consent")
        );
    }

    #[test]
    fn early_help_universal_plus_without_consent_is_refused() {
        let e = ConsentAndAwareness::parse(
            Some(ReferralType::EarlyHelpUniversalPlus),
            "no",
            "no",
            "Parent not told",
        )
        .unwrap_err();
        assert_eq!(e, vec![ConsentError::EarlyHelpNeedsConsent]);
    }

    #[test]
    fn childrens_social_care_without_consent_is_accepted_with_reasons() {
        let ok = ConsentAndAwareness::parse(
            Some(ReferralType::ChildrensSocialCare),
            "no",
            "no",
            "Telling the parent would put the child at risk",
        )
        .unwrap();
        assert!(!ok.parents_aware);
        assert!(!ok.consent.is_given());
    }

    #[test]
    fn early_help_with_consent_is_accepted() {
        let ok = ConsentAndAwareness::parse(Some(ReferralType::EarlyHelpService), "yes", "yes", "")
            .unwrap();
        assert!(ok.parents_aware && ok.consent.is_given());
    }

    #[test]
    fn consent_given_by_unaware_parents_is_contradictory() {
        let e =
            ConsentAndAwareness::parse(Some(ReferralType::ChildrensSocialCare), "no", "yes", "")
                .unwrap_err();
        assert_eq!(e, vec![ConsentError::ConsentWithoutAwareness]);
    }

    #[test]
    fn both_unanswered_questions_are_reported() {
        let e = ConsentAndAwareness::parse(None, "", "", "").unwrap_err();
        assert_eq!(
            e,
            vec![
                ConsentError::AwarenessNotAnswered,
                ConsentError::NotAnswered
            ]
        );
    }
}
