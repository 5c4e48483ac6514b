//! Gender: exactly the seven options the council's case-management system uses.

choice_enum! {
    /// The child's gender, in the order the form lists them.
    pub enum Gender {
        Female => ("female", "Female"),
        GenderDysphoria => ("gender-dysphoria", "Gender Dysphoria"),
        Indeterminate => ("indeterminate", "Indeterminate"),
        Male => ("male", "Male"),
        NonBinary => ("non-binary", "Non-Binary"),
        Transgender => ("transgender", "Transgender"),
        Unborn => ("unborn", "Unborn"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::referral::choice::ChoiceError;

    #[test]
    fn exactly_the_seven_options_of_r12_in_order() {
        let labels: Vec<&str> = Gender::ALL.iter().map(|g| g.label()).collect();
        assert_eq!(
            labels,
            [
                "Female",
                "Gender Dysphoria",
                "Indeterminate",
                "Male",
                "Non-Binary",
                "Transgender",
                "Unborn"
            ]
        );
    }

    #[test]
    fn every_gender_parses_from_its_code_and_shows_its_label() {
        for g in Gender::ALL {
            assert_eq!(Gender::parse(g.code()), Ok(*g));
            assert_eq!(g.to_string(), g.label());
        }
        assert_eq!(Gender::parse("non-binary"), Ok(Gender::NonBinary));
    }

    #[test]
    fn an_unlisted_gender_is_refused() {
        assert_eq!(Gender::parse("other"), Err(ChoiceError::Unknown));
        assert_eq!(Gender::parse(""), Err(ChoiceError::Empty));
    }
}
