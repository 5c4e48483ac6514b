use std::fmt;

/// A syntactically valid email address, lower-cased so that one address is one account.
///
/// The only constructors are [`Email::parse`] (any address, e.g. at sign-in) and
/// [`Email::parse_for_registration`], which also refuses generic/shared mailboxes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Enter your email address")]
    Empty,
    #[error("Email address must be 254 characters or fewer")]
    TooLong,
    #[error("Enter an email address in the correct format, like name@example.org")]
    Format,
    #[error(
        "Use your own email address, not a shared mailbox like {0}@. A shared account is not \
         secure, and people using it at the same time would sign each other out and lose their work"
    )]
    Generic(String),
}

/// Local parts of shared or role mailboxes that must not be used for an individual account.
const GENERIC_LOCAL_PARTS: &[&str] = &[
    "accounts",
    "admin",
    "administration",
    "administrator",
    "contact",
    "contactus",
    "enquiries",
    "enquiry",
    "finance",
    "general",
    "hello",
    "help",
    "helpdesk",
    "hr",
    "info",
    "information",
    "mail",
    "mailbox",
    "no-reply",
    "noreply",
    "office",
    "post",
    "postmaster",
    "reception",
    "referrals",
    "safeguarding",
    "sales",
    "schooloffice",
    "staff",
    "support",
    "team",
    "webmaster",
];

impl Email {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.chars().count() > 254 {
            return Err(EmailError::TooLong);
        }
        let s = s.to_lowercase();
        let (local, domain) = s.rsplit_once('@').ok_or(EmailError::Format)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()));
        if !local_ok || !domain_ok {
            return Err(EmailError::Format);
        }
        Ok(Self(s))
    }

    /// Parse an address a referrer registers with: individual mailboxes only.
    pub fn parse_for_registration(input: &str) -> Result<Self, EmailError> {
        let email = Self::parse(input)?;
        let local = email.local_part();
        let base = local.split('+').next().unwrap_or(local);
        if GENERIC_LOCAL_PARTS.contains(&base) {
            return Err(EmailError::Generic(base.to_string()));
        }
        Ok(email)
    }

    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or(&self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_address_is_accepted_and_lower_cased() {
        assert_eq!(
            Email::parse(" Sam.Teacher@Example.ORG ").unwrap().as_str(),
            "sam.teacher@example.org"
        );
    }

    #[test]
    fn an_empty_address_is_rejected() {
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
    }

    #[test]
    fn addresses_without_at_or_domain_are_rejected() {
        for bad in [
            "sam",
            "sam@",
            "@example.org",
            "sam@example",
            "sam@@example.org",
            "sam@exa mple.org",
            "sam..x@example.org",
            ".sam@example.org",
            "sam@-example.org",
            "sam@example.123",
            "sam@example..org",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Format), "{bad}");
        }
    }

    #[test]
    fn an_overlong_address_is_rejected() {
        let long = format!("{}@example.org", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn generic_mailboxes_are_refused_at_registration_with_the_reason() {
        for generic in [
            "info@school.example.org",
            "Office@example.org",
            "admin@example.org",
            "reception@example.org",
            "enquiries@example.org",
            "info+referrals@example.org",
        ] {
            let err = Email::parse_for_registration(generic).unwrap_err();
            assert!(matches!(err, EmailError::Generic(_)), "{generic}");
            assert!(err.to_string().contains("shared"), "{err}");
        }
    }

    #[test]
    fn a_personal_mailbox_is_accepted_at_registration() {
        assert!(Email::parse_for_registration("priya.officer@example.org").is_ok());
        assert!(Email::parse_for_registration("information.sharing.lead@example.org").is_ok());
    }

    #[test]
    fn generic_mailboxes_can_still_be_parsed_for_sign_in() {
        assert!(Email::parse("info@example.org").is_ok());
    }
}
