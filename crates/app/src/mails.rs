//! Every email the portal sends, in one place. Plain wording in GOV.UK Notify's style.

use crate::Settings;

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub subject: String,
    pub text: String,
}

/// What a one-time code is for, as the email explains it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeMail {
    ConfirmEmail,
    SignIn,
    ResetPassword,
}

fn footer(s: &Settings) -> String {
    format!(
        "This email was sent from an address that cannot receive replies. For urgent queries call MASH on {phone}.\n\
         If a child is in immediate danger call 999.\n",
        phone = s.mash_phone
    )
}

pub fn code(s: &Settings, kind: CodeMail, code: &str) -> Mail {
    let (subject, intro) = match kind {
        CodeMail::ConfirmEmail => (
            "Confirm your email address",
            "Use this code to confirm your email address and finish creating your account",
        ),
        CodeMail::SignIn => ("Your sign-in code", "Use this code to sign in"),
        CodeMail::ResetPassword => (
            "Reset your password",
            "Use this code to reset your password",
        ),
    };
    Mail {
        subject: subject.into(),
        text: format!(
            "{intro} for the {service}:\n\n{code}\n\nThe code expires in 10 minutes and can only be used once.\n\n\
             If you did not ask for this code, you can ignore this email. Nobody can use your account without your password.\n\n{footer}",
            service = s.service_name,
            footer = footer(s),
        ),
    }
}

pub fn account_exists(s: &Settings) -> Mail {
    Mail {
        subject: "You already have an account".into(),
        text: format!(
            "Someone tried to create an account for the {service} with this email address, which already has an account.\n\n\
             If it was you, sign in instead, or use \"Forgotten your password?\" on the sign-in page.\n\
             If it was not you, you do not need to do anything.\n\n{footer}",
            service = s.service_name,
            footer = footer(s),
        ),
    }
}

pub fn staff_account_created(s: &Settings, role_label: &str) -> Mail {
    Mail {
        subject: "Your account has been created".into(),
        text: format!(
            "An administrator has created a {role_label} account for you on the {service}.\n\n\
             To choose your password, go to {url}/forgot-password and enter this email address. \
             When you first sign in you will set up an authenticator app.\n\n{footer}",
            service = s.service_name,
            url = s.public_url.trim_end_matches('/'),
            footer = footer(s),
        ),
    }
}

pub fn referral_submitted(s: &Settings, reference: &str) -> Mail {
    Mail {
        subject: format!("Referral submitted: {reference}"),
        text: format!(
            "Thank you. Your referral has been submitted to the Multi-Agency Safeguarding Hub (MASH).\n\n\
             Your reference number is: {reference}\n\n\
             Quote this reference if you contact MASH about this referral. MASH will review it and send you \
             feedback on the outcome by email or letter.\n\n\
             This email was sent from an address that cannot receive replies. For urgent queries, or if you \
             have not had feedback, call MASH on {phone}.\n\n\
             If a child is in immediate danger call 999.\n",
            phone = s.mash_phone,
        ),
    }
}
