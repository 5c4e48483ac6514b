//! Ethnicity: the DfE Children in Need census codes, shown with their full names.

choice_enum! {
    /// The child's ethnicity. Mandatory: "Refused" and "Information not yet
    /// obtained" are the answers when it is not known.
    pub enum Ethnicity {
        Wbri => ("WBRI", "White British"),
        Wiri => ("WIRI", "White Irish"),
        Wirt => ("WIRT", "Traveller of Irish heritage"),
        Woth => ("WOTH", "Any other White background"),
        Wrom => ("WROM", "Gypsy/Roma"),
        Mwbc => ("MWBC", "White and Black Caribbean"),
        Mwba => ("MWBA", "White and Black African"),
        Mwas => ("MWAS", "White and Asian"),
        Moth => ("MOTH", "Any other mixed background"),
        Aind => ("AIND", "Indian"),
        Apkn => ("APKN", "Pakistani"),
        Aban => ("ABAN", "Bangladeshi"),
        Aoth => ("AOTH", "Any other Asian background"),
        Bcrb => ("BCRB", "Black Caribbean"),
        Bafr => ("BAFR", "Black African"),
        Both => ("BOTH", "Any other Black background"),
        Chne => ("CHNE", "Chinese"),
        Ooth => ("OOTH", "Any other ethnic group"),
        Refu => ("REFU", "Refused"),
        Nobt => ("NOBT", "Information not yet obtained"),
    }
}

impl Ethnicity {
    /// The census group heading, for grouping the options in the form and reports.
    pub fn group(self) -> &'static str {
        use Ethnicity::*;
        match self {
            Wbri | Wiri | Wirt | Woth | Wrom => "White",
            Mwbc | Mwba | Mwas | Moth => "Mixed or Multiple ethnic groups",
            Aind | Apkn | Aban | Aoth => "Asian or Asian British",
            Bcrb | Bafr | Both => "Black or Black British",
            Chne | Ooth => "Chinese or other ethnic group",
            Refu | Nobt => "Not known",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::referral::choice::ChoiceError;

    #[test]
    fn every_census_code_is_present_with_its_full_name() {
        let expected = [
            ("WBRI", "White British"),
            ("WIRI", "White Irish"),
            ("WIRT", "Traveller of Irish heritage"),
            ("WOTH", "Any other White background"),
            ("WROM", "Gypsy/Roma"),
            ("MWBC", "White and Black Caribbean"),
            ("MWBA", "White and Black African"),
            ("MWAS", "White and Asian"),
            ("MOTH", "Any other mixed background"),
            ("AIND", "Indian"),
            ("APKN", "Pakistani"),
            ("ABAN", "Bangladeshi"),
            ("AOTH", "Any other Asian background"),
            ("BCRB", "Black Caribbean"),
            ("BAFR", "Black African"),
            ("BOTH", "Any other Black background"),
            ("CHNE", "Chinese"),
            ("OOTH", "Any other ethnic group"),
            ("REFU", "Refused"),
            ("NOBT", "Information not yet obtained"),
        ];
        let actual: Vec<(&str, &str)> = Ethnicity::ALL
            .iter()
            .map(|e| (e.code(), e.label()))
            .collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn codes_parse_in_any_case() {
        assert_eq!(Ethnicity::parse("wbri"), Ok(Ethnicity::Wbri));
        assert_eq!(Ethnicity::parse("NOBT"), Ok(Ethnicity::Nobt));
    }

    #[test]
    fn ethnicity_is_mandatory() {
        assert_eq!(Ethnicity::parse(""), Err(ChoiceError::Empty));
    }

    #[test]
    fn an_unknown_code_is_refused() {
        assert_eq!(Ethnicity::parse("XXXX"), Err(ChoiceError::Unknown));
        assert_eq!(Ethnicity::parse("White British"), Err(ChoiceError::Unknown));
    }

    #[test]
    fn each_code_has_a_census_group() {
        assert_eq!(Ethnicity::Wrom.group(), "White");
        assert_eq!(Ethnicity::Bafr.group(), "Black or Black British");
        assert_eq!(Ethnicity::Refu.group(), "Not known");
    }
}
