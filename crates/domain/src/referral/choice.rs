//! Closed lists of answers (radios and selects), each with a stable code used in
//! forms and storage, and the label people see.

/// Why a choice was refused: nothing selected, or a code not in the list (only
/// possible with a tampered form). The web layer shows the field's own
/// "Select …" sentence for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    #[error("Select an option")]
    Empty,
    #[error("Select an option from the list")]
    Unknown,
}

/// Defines an enum of choices with `ALL`, `code`, `label`, `parse`,
/// `Display` (label) and serde (code).
macro_rules! choice_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => ($code:literal, $label:literal) ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every option, in the order the form shows them.
            pub const ALL: &'static [$name] = &[ $( $name::$variant ),+ ];

            /// The stable code used as the form value and in storage.
            pub const fn code(self) -> &'static str {
                match self { $( $name::$variant => $code ),+ }
            }

            /// What people see.
            pub const fn label(self) -> &'static str {
                match self { $( $name::$variant => $label ),+ }
            }

            /// From a form value (the code, case-insensitive, surrounding spaces ignored).
            pub fn parse(input: &str) -> Result<Self, $crate::referral::choice::ChoiceError> {
                let input = input.trim();
                if input.is_empty() {
                    return Err($crate::referral::choice::ChoiceError::Empty);
                }
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.code().eq_ignore_ascii_case(input))
                    .ok_or($crate::referral::choice::ChoiceError::Unknown)
            }

            /// Like `parse`, but nothing selected is `Ok(None)`.
            pub fn parse_optional(
                input: &str,
            ) -> Result<Option<Self>, $crate::referral::choice::ChoiceError> {
                match Self::parse(input) {
                    Ok(v) => Ok(Some(v)),
                    Err($crate::referral::choice::ChoiceError::Empty) => Ok(None),
                    Err(e) => Err(e),
                }
            }

            /// The label of a stored code, or `None` if the code is empty or unknown.
            pub fn label_of(code: &str) -> Option<&'static str> {
                Self::parse(code).ok().map(Self::label)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.label())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(::serde::de::Error::custom)
            }
        }
    };
}

choice_enum! {
    /// A yes/no radio.
    pub enum YesNo {
        Yes => ("yes", "Yes"),
        No => ("no", "No"),
    }
}

impl YesNo {
    pub fn as_bool(self) -> bool {
        self == YesNo::Yes
    }
}

choice_enum! {
    /// A yes/no/don't know radio (parental responsibility, allocated social worker).
    pub enum YesNoDontKnow {
        Yes => ("yes", "Yes"),
        No => ("no", "No"),
        DontKnow => ("dont-know", "I do not know"),
    }
}

choice_enum! {
    /// The type of the referrer's agency, also used for reports.
    pub enum AgencyType {
        School => ("school", "School or college"),
        EarlyYears => ("early-years", "Nursery or early years setting"),
        Gp => ("gp", "GP practice"),
        HealthVisitor => ("health-visitor", "Health visiting"),
        Midwifery => ("midwifery", "Midwifery"),
        Hospital => ("hospital", "Hospital"),
        MentalHealth => ("mental-health", "Mental health service (including CAMHS)"),
        OtherHealth => ("other-health", "Other health service"),
        Police => ("police", "Police"),
        Housing => ("housing", "Housing"),
        Probation => ("probation", "Probation or youth justice"),
        LocalAuthority => ("local-authority", "Other local authority service"),
        VoluntarySector => ("voluntary-sector", "Voluntary or community sector"),
        Other => ("other", "Other"),
    }
}

choice_enum! {
    /// How a household member is related to the child or children.
    pub enum Relationship {
        Mother => ("mother", "Mother"),
        Father => ("father", "Father"),
        StepParent => ("step-parent", "Step-parent"),
        ParentsPartner => ("parents-partner", "Partner of a parent"),
        Carer => ("carer", "Carer or guardian"),
        Sibling => ("sibling", "Brother or sister"),
        Grandparent => ("grandparent", "Grandparent"),
        OtherRelative => ("other-relative", "Other relative"),
        OtherAdult => ("other-adult", "Other significant adult"),
    }
}

/// How household members are grouped for headings ("Parent or carer 1").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelationshipGroup {
    ParentOrCarer,
    Sibling,
    OtherSignificantAdult,
}

impl RelationshipGroup {
    pub fn heading(self) -> &'static str {
        match self {
            RelationshipGroup::ParentOrCarer => "Parent or carer",
            RelationshipGroup::Sibling => "Brother or sister",
            RelationshipGroup::OtherSignificantAdult => "Other significant adult",
        }
    }
}

impl Relationship {
    pub fn group(self) -> RelationshipGroup {
        match self {
            Relationship::Mother
            | Relationship::Father
            | Relationship::StepParent
            | Relationship::ParentsPartner
            | Relationship::Carer => RelationshipGroup::ParentOrCarer,
            Relationship::Sibling => RelationshipGroup::Sibling,
            Relationship::Grandparent | Relationship::OtherRelative | Relationship::OtherAdult => {
                RelationshipGroup::OtherSignificantAdult
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_case_insensitively_and_ignore_spaces() {
        assert_eq!(YesNo::parse(" YES "), Ok(YesNo::Yes));
        assert_eq!(
            AgencyType::parse("health-visitor"),
            Ok(AgencyType::HealthVisitor)
        );
    }

    #[test]
    fn nothing_selected_is_empty_and_a_made_up_code_is_unknown() {
        assert_eq!(YesNo::parse(""), Err(ChoiceError::Empty));
        assert_eq!(YesNo::parse("maybe"), Err(ChoiceError::Unknown));
        assert_eq!(YesNo::parse_optional(" "), Ok(None));
        assert_eq!(YesNo::parse_optional("maybe"), Err(ChoiceError::Unknown));
    }

    #[test]
    fn every_code_round_trips_and_is_unique() {
        fn check<T: Copy + PartialEq + std::fmt::Debug>(
            all: &[T],
            code: fn(T) -> &'static str,
            parse: fn(&str) -> Result<T, ChoiceError>,
        ) {
            for v in all {
                assert_eq!(parse(code(*v)), Ok(*v));
            }
            let mut codes: Vec<_> = all.iter().map(|v| code(*v)).collect();
            codes.sort();
            codes.dedup();
            assert_eq!(codes.len(), all.len());
        }
        check(YesNo::ALL, YesNo::code, YesNo::parse);
        check(
            YesNoDontKnow::ALL,
            YesNoDontKnow::code,
            YesNoDontKnow::parse,
        );
        check(AgencyType::ALL, AgencyType::code, AgencyType::parse);
        check(Relationship::ALL, Relationship::code, Relationship::parse);
    }

    #[test]
    fn agency_types_include_the_ones_the_spec_names() {
        for code in [
            "school",
            "gp",
            "health-visitor",
            "hospital",
            "police",
            "housing",
            "probation",
            "voluntary-sector",
            "other",
        ] {
            assert!(AgencyType::parse(code).is_ok(), "{code}");
        }
    }

    #[test]
    fn relationships_are_grouped_for_headings() {
        assert_eq!(Relationship::Mother.group().heading(), "Parent or carer");
        assert_eq!(Relationship::Sibling.group(), RelationshipGroup::Sibling);
        assert_eq!(
            Relationship::Grandparent.group(),
            RelationshipGroup::OtherSignificantAdult
        );
    }

    #[test]
    fn serialises_as_the_code() {
        assert_eq!(
            serde_json::to_string(&YesNoDontKnow::DontKnow).unwrap(),
            "\"dont-know\""
        );
        let back: YesNoDontKnow = serde_json::from_str("\"dont-know\"").unwrap();
        assert_eq!(back, YesNoDontKnow::DontKnow);
    }
}
