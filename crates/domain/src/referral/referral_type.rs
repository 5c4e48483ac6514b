//! Which service the referral is for and the referrer's view of the level of need.

choice_enum! {
    /// The service the referral goes to.
    pub enum ReferralType {
        ChildrensSocialCare => ("childrens-social-care", "Children's Social Care"),
        EarlyHelpService => ("early-help-service", "Early Help Service"),
        EarlyHelpUniversalPlus => ("early-help-universal-plus", "Early Help Universal Plus"),
    }
}

impl ReferralType {
    /// Both Early Help services need parental consent.
    pub fn is_early_help(self) -> bool {
        matches!(
            self,
            ReferralType::EarlyHelpService | ReferralType::EarlyHelpUniversalPlus
        )
    }
}

choice_enum! {
    /// The level of need the referrer believes applies, on the usual
    /// four-level "continuum of need" most councils' thresholds documents use:
    ///
    /// 1. **Universal** – needs met by universal services (school, GP, health visitor);
    /// 2. **Universal Plus** – additional needs met by one agency or Early Help
    ///    Universal Plus with light-touch support;
    /// 3. **Targeted** – multiple or complex needs needing co-ordinated, multi-agency
    ///    Early Help Service support;
    /// 4. **Specialist** – acute needs: the child is suffering, or likely to suffer,
    ///    significant harm, or is a child in need (Children's Social Care).
    ///
    /// It is the referrer's view only; MASH decides the service.
    pub enum LevelOfNeed {
        Universal => ("universal", "Level 1: Universal"),
        UniversalPlus => ("universal-plus", "Level 2: Universal Plus / Early Help"),
        Targeted => ("targeted", "Level 3: Targeted / Complex"),
        Specialist => ("specialist", "Level 4: Acute / Specialist"),
    }
}

impl LevelOfNeed {
    /// Hint text shown under each option.
    pub fn hint(self) -> &'static str {
        match self {
            LevelOfNeed::Universal => {
                "Needs can be met by universal services such as school, GP or health visitor"
            }
            LevelOfNeed::UniversalPlus => {
                "Additional needs that one agency or light-touch Early Help support can meet"
            }
            LevelOfNeed::Targeted => {
                "Multiple or complex needs that need co-ordinated support from several agencies"
            }
            LevelOfNeed::Specialist => {
                "The child is suffering, or likely to suffer, significant harm, or has acute needs"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_services_in_order() {
        let labels: Vec<&str> = ReferralType::ALL.iter().map(|t| t.label()).collect();
        assert_eq!(
            labels,
            [
                "Children's Social Care",
                "Early Help Service",
                "Early Help Universal Plus"
            ]
        );
    }

    #[test]
    fn both_early_help_services_are_early_help_and_social_care_is_not() {
        assert!(ReferralType::EarlyHelpService.is_early_help());
        assert!(ReferralType::EarlyHelpUniversalPlus.is_early_help());
        assert!(!ReferralType::ChildrensSocialCare.is_early_help());
    }

    #[test]
    fn every_level_of_need_has_a_label_and_hint() {
        assert_eq!(LevelOfNeed::ALL.len(), 4);
        for l in LevelOfNeed::ALL {
            assert!(!l.label().is_empty() && !l.hint().is_empty());
            assert_eq!(LevelOfNeed::parse(l.code()), Ok(*l));
        }
    }
}
