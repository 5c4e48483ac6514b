//! Feedback to the referrer on authorisation: the outcome email and the outcome
//! letter's wording, in one place so the two always agree.
//!
//! What the referrer learns: their reference, the outcome in plain words and what happens
//! next, and how to contact the MASH. Nothing else: no rationale (it may mention other
//! people), no names of workers, no case details, nothing about anyone other than the
//! children they referred. The email does not name the child either, like the submission
//! confirmation (email is the less secure channel); the letter, which is posted, names the
//! children and their dates of birth exactly as the referrer gave them, so the reader
//! knows which referral it answers.

use super::outcome::Outcome;

/// A child as the referrer described them (not as corrected on the person record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildAsReferred {
    /// "Mia Example", as typed.
    pub name: String,
    /// As typed, formatted for reading ("3 March 2019"), or "Unborn (due 1 May 2027)".
    pub date_of_birth: String,
}

/// What the feedback is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback<'a> {
    /// "EH-7KQ4-MCX4".
    pub reference: &'a str,
    pub outcome: Outcome,
    pub referrer_name: &'a str,
    /// The referrer's organisation as they gave it.
    pub referrer_organisation: &'a str,
    pub children: &'a [ChildAsReferred],
    /// The council running the service ("Example Council").
    pub council: &'a str,
    pub mash_phone: &'a str,
    /// The letter's date, formatted ("26 November 2026").
    pub date: &'a str,
}

/// The outcome letter's parts, ready for `ehm_pdf::OutcomeLetter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackLetter {
    /// Sender block: council, hub, telephone.
    pub from_lines: Vec<String>,
    /// Recipient block: referrer's name and organisation.
    pub to_lines: Vec<String>,
    pub date: String,
    pub reference: String,
    pub greeting: String,
    pub introduction: String,
    pub children: Vec<ChildAsReferred>,
    /// The outcome's label ("Early Help Service").
    pub outcome_label: String,
    /// What it means, in plain words.
    pub outcome_text: String,
    pub closing: Vec<String>,
    pub sign_off: Vec<String>,
}

/// The email (subject, plain-text body) and the letter for `f`.
pub fn feedback(f: &Feedback<'_>) -> (String, String, FeedbackLetter) {
    let subject = format!("Outcome of your referral {}", f.reference);
    let contact = format!(
        "If you have questions or new information, call the Multi-Agency Safeguarding Hub \
         (MASH) on {} and give the reference {}. If a child is in immediate danger, call 999.",
        f.mash_phone, f.reference
    );
    let body = format!(
        "Dear {name},\n\n\
         The Multi-Agency Safeguarding Hub (MASH) has looked at your referral {reference} and \
         a manager has agreed the outcome.\n\n\
         Outcome: {label}\n\n\
         {text}\n\n\
         {contact}\n\n\
         This email was sent from an address that cannot receive replies.\n\n\
         {council}\nMulti-Agency Safeguarding Hub\n",
        name = f.referrer_name.trim(),
        reference = f.reference,
        label = f.outcome.label(),
        text = f.outcome.for_referrer(),
        council = f.council,
    );
    let mut to_lines = vec![f.referrer_name.trim().to_owned()];
    if !f.referrer_organisation.trim().is_empty() {
        to_lines.push(f.referrer_organisation.trim().to_owned());
    }
    let about = if f.children.len() == 1 {
        "the child below"
    } else {
        "the children below"
    };
    let letter = FeedbackLetter {
        from_lines: vec![
            f.council.to_owned(),
            "Multi-Agency Safeguarding Hub (MASH)".to_owned(),
            format!("Telephone {}", f.mash_phone),
        ],
        to_lines,
        date: f.date.to_owned(),
        reference: f.reference.to_owned(),
        greeting: format!("Dear {},", f.referrer_name.trim()),
        introduction: format!(
            "Thank you for your referral about {about}. The Multi-Agency Safeguarding Hub has \
             looked at it and a manager has agreed the outcome."
        ),
        children: f.children.to_vec(),
        outcome_label: f.outcome.label().to_owned(),
        outcome_text: f.outcome.for_referrer().to_owned(),
        closing: vec![contact],
        sign_off: vec![
            "Yours sincerely,".to_owned(),
            "Multi-Agency Safeguarding Hub".to_owned(),
            f.council.to_owned(),
        ],
    };
    (subject, body, letter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn children() -> Vec<ChildAsReferred> {
        vec![ChildAsReferred {
            name: "Mia Example".into(),
            date_of_birth: "3 March 2019".into(),
        }]
    }

    fn input(children: &[ChildAsReferred]) -> Feedback<'_> {
        Feedback {
            reference: "EH-7KQ4-MCX4",
            outcome: Outcome::EarlyHelpService,
            referrer_name: " Sam Teacher ",
            referrer_organisation: "Example Primary School",
            children,
            council: "Example Council",
            mash_phone: "01632 960000",
            date: "26 November 2026",
        }
    }

    #[test]
    fn the_email_gives_reference_outcome_and_phone_but_no_child_details() {
        let kids = children();
        let (subject, body, _) = feedback(&input(&kids));
        assert_eq!(subject, "Outcome of your referral EH-7KQ4-MCX4");
        assert!(body.starts_with("Dear Sam Teacher,\n"));
        assert!(body.contains("Outcome: Early Help Service"));
        assert!(body.contains(
            "A family support worker from the Early Help Service will contact the family"
        ));
        assert!(body.contains("01632 960000"));
        assert!(!body.contains("Mia"), "no child's name in email");
        assert!(!body.contains("2019"), "no date of birth in email");
    }

    #[test]
    fn the_letter_names_the_children_as_referred_and_the_outcome() {
        let kids = children();
        let (_, _, letter) = feedback(&input(&kids));
        assert_eq!(letter.to_lines, ["Sam Teacher", "Example Primary School"]);
        assert_eq!(letter.children, kids);
        assert_eq!(letter.outcome_label, "Early Help Service");
        assert!(letter.introduction.contains("the child below"));
        assert!(letter.closing[0].contains("EH-7KQ4-MCX4"));
        assert_eq!(letter.from_lines[2], "Telephone 01632 960000");
    }

    #[test]
    fn every_outcome_has_its_own_explanation_in_the_feedback() {
        let kids = children();
        let mut texts = Vec::new();
        for o in Outcome::ALL {
            let (_, body, letter) = feedback(&Feedback {
                outcome: o,
                ..input(&kids)
            });
            assert!(body.contains(o.for_referrer()));
            assert_eq!(letter.outcome_text, o.for_referrer());
            texts.push(letter.outcome_text);
        }
        texts.sort();
        texts.dedup();
        assert_eq!(texts.len(), 6);
    }
}
