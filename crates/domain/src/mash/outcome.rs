//! The outcomes of a MASH decision.

use std::fmt;

use crate::referral::ChoiceError;

/// What MASH decided for the referral. Exactly R-44's six outcomes, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    NoFurtherAction,
    EarlyHelpUniversalPlus,
    EarlyHelpService,
    ChildrensSocialCareAssessment,
    StrategyDiscussion,
    AlreadyOpen,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::NoFurtherAction,
        Outcome::EarlyHelpUniversalPlus,
        Outcome::EarlyHelpService,
        Outcome::ChildrensSocialCareAssessment,
        Outcome::StrategyDiscussion,
        Outcome::AlreadyOpen,
    ];

    /// The stable code used in forms and storage.
    pub const fn code(self) -> &'static str {
        match self {
            Outcome::NoFurtherAction => "no-further-action",
            Outcome::EarlyHelpUniversalPlus => "early-help-universal-plus",
            Outcome::EarlyHelpService => "early-help-service",
            Outcome::ChildrensSocialCareAssessment => "childrens-social-care-assessment",
            Outcome::StrategyDiscussion => "strategy-discussion",
            Outcome::AlreadyOpen => "already-open",
        }
    }

    /// What staff see (radio labels, the referral view).
    pub const fn label(self) -> &'static str {
        match self {
            Outcome::NoFurtherAction => "No further action or advice",
            Outcome::EarlyHelpUniversalPlus => "Early Help Universal Plus",
            Outcome::EarlyHelpService => "Early Help Service",
            Outcome::ChildrensSocialCareAssessment => "Children's Social Care assessment",
            Outcome::StrategyDiscussion => "Strategy discussion",
            Outcome::AlreadyOpen => "Already open to a service",
        }
    }

    /// From a form value or a stored code.
    pub fn parse(input: &str) -> Result<Self, ChoiceError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(ChoiceError::Empty);
        }
        Self::ALL
            .into_iter()
            .find(|o| o.code().eq_ignore_ascii_case(input))
            .ok_or(ChoiceError::Unknown)
    }

    /// The outcome in plain words for the referrer (email and letter): what happens next,
    /// nothing about anyone else, no case details.
    pub const fn for_referrer(self) -> &'static str {
        match self {
            Outcome::NoFurtherAction => {
                "No further action by the Early Help service or Children's Social Care. \
                 The family can be given advice and information about services in their area, \
                 and you can refer again if your concerns grow or change."
            }
            Outcome::EarlyHelpUniversalPlus => {
                "A worker will contact the family to offer light-touch support, working with the \
                 services that already know them."
            }
            Outcome::EarlyHelpService => {
                "A family support worker from the Early Help Service will contact the family to \
                 agree a plan of support with them."
            }
            Outcome::ChildrensSocialCareAssessment => {
                "Children's Social Care will carry out an assessment. A social worker will \
                 contact the family, and may contact you for more information."
            }
            Outcome::StrategyDiscussion => {
                "Children's Social Care are taking this forward with the other agencies \
                 involved. A social worker may contact you for more information."
            }
            Outcome::AlreadyOpen => {
                "The child is already being supported by our services. Your referral has been \
                 passed to the worker who supports them."
            }
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl serde::Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_six_outcomes_of_r44_in_order() {
        let codes: Vec<&str> = Outcome::ALL.iter().map(|o| o.code()).collect();
        assert_eq!(
            codes,
            [
                "no-further-action",
                "early-help-universal-plus",
                "early-help-service",
                "childrens-social-care-assessment",
                "strategy-discussion",
                "already-open"
            ]
        );
    }

    #[test]
    fn every_outcome_round_trips_and_has_words_for_the_referrer() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.code()), Ok(o));
            assert!(!o.label().is_empty());
            assert!(o.for_referrer().len() > 40, "{o:?}");
        }
    }

    #[test]
    fn nothing_or_an_unlisted_outcome_is_refused() {
        assert_eq!(Outcome::parse(" "), Err(ChoiceError::Empty));
        assert_eq!(Outcome::parse("adopt"), Err(ChoiceError::Unknown));
    }

    #[test]
    fn the_referrer_wording_stays_plain() {
        // No jargon the referrer would have to look up, and no section numbers.
        for o in Outcome::ALL {
            let text = o.for_referrer();
            for jargon in ["s47", "section 47", "Section 17", "MASH", "threshold"] {
                assert!(!text.contains(jargon), "{o:?} says {jargon}");
            }
        }
    }
}
