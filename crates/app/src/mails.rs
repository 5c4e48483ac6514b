//! Every email the portal sends, in one place: [`Email`] names each one and renders it from
//! templates into a [`Mail`] with a plain-text body and an HTML alternative, in GOV.UK
//! Notify's plain style.
//!
//! The templates are in `crates/app/templates/emails/`, built into the binary (rust-embed,
//! `debug-embed`): nothing is read from disk at run time. Each email is two files:
//!
//! - `NAME.txt`: the plain-text body. It sets the subject at the top with
//!   `{% set subject = "…" %}`; any other top-level `set` (wording both bodies share) is
//!   passed to the HTML template too.
//! - `NAME.html`: the HTML alternative, extending `_layout.html` (a header bar with the
//!   service name, `lang="en"`, inline styles, no images, no tracking). HTML auto-escaping
//!   is on for `.html` files, so every value is escaped.
//!
//! Files starting with `_` are shared parts (layout, footer, macros, the code emails' body).
//! Values (codes, references, settings) are always passed as data, never spliced into a
//! template's source. A missing value is an error, never an empty gap.

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use crate::Settings;

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub subject: String,
    /// The plain-text body (sent first).
    pub text: String,
    /// The HTML alternative (sent second, shown by clients that display HTML).
    pub html: String,
}

/// What a one-time code is for, as the email explains it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeMail {
    ConfirmEmail,
    SignIn,
    ResetPassword,
}

/// Every email the portal sends, with the values each one needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Email<'a> {
    /// An 8-digit one-time code.
    Code { kind: CodeMail, code: &'a str },
    /// Someone tried to register with an address that already has an account.
    AccountExists,
    /// An administrator created a staff account (`role_label` as `Role::label` gives it).
    StaffAccountCreated { role_label: &'a str },
    /// The account's password was changed by its signed-in owner.
    PasswordChanged,
    /// A referral was submitted; `reference` is its `EH-…` reference number.
    ReferralSubmitted { reference: &'a str },
    /// A manager authorised the MASH decision: the outcome for the referrer, worded
    /// as `ehm_domain::mash::feedback` words it (no rationale, no names but the referrer's).
    ReferralOutcome {
        reference: &'a str,
        referrer_name: &'a str,
        outcome_label: &'a str,
        outcome_text: &'a str,
    },
}

impl Email<'_> {
    /// The template pair's name: `NAME.txt` and `NAME.html`.
    pub fn template(&self) -> &'static str {
        match self {
            Email::Code {
                kind: CodeMail::ConfirmEmail,
                ..
            } => "confirm_email_code",
            Email::Code {
                kind: CodeMail::SignIn,
                ..
            } => "sign_in_code",
            Email::Code {
                kind: CodeMail::ResetPassword,
                ..
            } => "reset_password_code",
            Email::AccountExists => "account_exists",
            Email::StaffAccountCreated { .. } => "staff_account_created",
            Email::PasswordChanged => "password_changed",
            Email::ReferralSubmitted { .. } => "referral_submitted",
            Email::ReferralOutcome { .. } => "referral_outcome",
        }
    }

    /// The values this email's templates see: the settings every email may use, and its own.
    fn data(&self, s: &Settings) -> BTreeMap<String, Value> {
        let public_url = s.public_url.trim_end_matches('/');
        let mut data: BTreeMap<String, Value> = [
            ("service_name", Value::from(s.service_name.as_str())),
            (
                "organisation_name",
                Value::from(s.organisation_name.as_str()),
            ),
            ("mash_phone", Value::from(s.mash_phone.as_str())),
            ("public_url", Value::from(public_url)),
            // Only a web address becomes a link in the HTML.
            (
                "public_url_is_web",
                Value::from(
                    public_url.starts_with("https://") || public_url.starts_with("http://"),
                ),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        match *self {
            Email::Code { code, .. } => {
                data.insert("code".into(), Value::from(code));
            }
            Email::AccountExists | Email::PasswordChanged => {}
            Email::StaffAccountCreated { role_label } => {
                data.insert("role_label".into(), Value::from(role_label));
            }
            Email::ReferralSubmitted { reference } => {
                data.insert("reference".into(), Value::from(reference));
            }
            Email::ReferralOutcome {
                reference,
                referrer_name,
                outcome_label,
                outcome_text,
            } => {
                data.insert("reference".into(), Value::from(reference));
                data.insert("referrer_name".into(), Value::from(referrer_name));
                data.insert("outcome_label".into(), Value::from(outcome_label));
                data.insert("outcome_text".into(), Value::from(outcome_text));
            }
        }
        data
    }

    /// Render the subject, the plain text and the HTML.
    pub fn render(&self, s: &Settings) -> crate::Result<Mail> {
        let name = self.template();
        let failed = |e: minijinja::Error| {
            crate::Error::Internal(anyhow::anyhow!("email template {name}: {e:#}"))
        };
        let env = environment()?;
        let mut data = self.data(s);
        let rendered = env
            .get_template(&format!("{name}.txt"))
            .and_then(|t| t.render_captured(&data))
            .map_err(failed)?;
        let state = rendered.state();
        let subject = state
            .lookup("subject")
            .and_then(|v| v.as_str().map(|s| s.trim().to_string()))
            .filter(|s| !s.is_empty() && !s.contains(['\r', '\n']))
            .ok_or_else(|| {
                crate::Error::Internal(anyhow::anyhow!(
                    "email template {name}.txt sets no one-line subject"
                ))
            })?;
        // The subject and any wording the text sets are the HTML's too; data wins a clash.
        for export in state.exports() {
            if let Some(v) = state.lookup(export) {
                data.entry(export.to_string()).or_insert(v);
            }
        }
        let text = rendered.output().to_string();
        let html = env
            .get_template(&format!("{name}.html"))
            .and_then(|t| t.render(&data))
            .map_err(failed)?;
        Ok(Mail {
            subject,
            text,
            html,
        })
    }
}

#[derive(rust_embed::Embed)]
#[folder = "templates/emails/"]
struct Templates;

/// The templates, parsed once, on first use.
fn environment() -> crate::Result<&'static Environment<'static>> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_keep_trailing_newline(true);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_formatter(escape_html_text);
        for name in Templates::iter() {
            let file = Templates::get(&name).ok_or_else(|| format!("{name} is missing"))?;
            let source = String::from_utf8(file.data.into_owned())
                .map_err(|_| format!("{name} is not UTF-8"))?;
            env.add_template_owned(name.to_string(), source)
                .map_err(|e| format!("{name}: {e:#}"))?;
        }
        Ok(env)
    })
    .as_ref()
    .map_err(|e| crate::Error::Internal(anyhow::anyhow!("email templates: {e}")))
}

/// minijinja's HTML escaping, minus `/` (escaped as `&#x2f;` by default, which is safe in
/// text and quoted attributes without it, and keeps addresses readable in the HTML source).
fn escape_html_text(
    out: &mut minijinja::Output<'_>,
    state: &minijinja::State<'_, '_>,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if !matches!(state.auto_escape(), AutoEscape::Html) || value.is_safe() {
        return minijinja::escape_formatter(out, state, value);
    }
    let text = match value.as_str() {
        Some(s) => s.to_string(),
        None => value.to_string(),
    };
    for c in text.chars() {
        match c {
            '&' => out.write_str("&amp;"),
            '<' => out.write_str("&lt;"),
            '>' => out.write_str("&gt;"),
            '"' => out.write_str("&quot;"),
            '\'' => out.write_str("&#x27;"),
            c => out.write_char(c),
        }
        .map_err(minijinja::Error::from)?;
    }
    Ok(())
}

pub fn code(s: &Settings, kind: CodeMail, code: &str) -> crate::Result<Mail> {
    Email::Code { kind, code }.render(s)
}

pub fn account_exists(s: &Settings) -> crate::Result<Mail> {
    Email::AccountExists.render(s)
}

pub fn staff_account_created(s: &Settings, role_label: &str) -> crate::Result<Mail> {
    Email::StaffAccountCreated { role_label }.render(s)
}

pub fn password_changed(s: &Settings) -> crate::Result<Mail> {
    Email::PasswordChanged.render(s)
}

pub fn referral_submitted(s: &Settings, reference: &str) -> crate::Result<Mail> {
    Email::ReferralSubmitted { reference }.render(s)
}

/// The outcome email for `f`. Its subject and plain text are exactly those of
/// `ehm_domain::mash::feedback` (a test holds the two together), so the email and the
/// outcome letter cannot drift apart.
pub fn referral_outcome(s: &Settings, f: &ehm_domain::mash::Feedback<'_>) -> crate::Result<Mail> {
    Email::ReferralOutcome {
        reference: f.reference,
        referrer_name: f.referrer_name.trim(),
        outcome_label: f.outcome.label(),
        outcome_text: f.outcome.for_referrer(),
    }
    .render(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Email<'static>; 8] = [
        Email::Code {
            kind: CodeMail::ConfirmEmail,
            code: "12345678",
        },
        Email::Code {
            kind: CodeMail::SignIn,
            code: "12345678",
        },
        Email::Code {
            kind: CodeMail::ResetPassword,
            code: "12345678",
        },
        Email::AccountExists,
        Email::StaffAccountCreated {
            role_label: "MASH manager",
        },
        Email::PasswordChanged,
        Email::ReferralSubmitted {
            reference: "EH-7K3M-Q9XA",
        },
        Email::ReferralOutcome {
            reference: "EH-7K3M-Q9XA",
            referrer_name: "Sam Teacher",
            outcome_label: "Early Help Service",
            outcome_text: "A family support worker will contact the family.",
        },
    ];

    fn settings() -> Settings {
        Settings {
            service_name: "Early Help referral portal".into(),
            organisation_name: "Example Council".into(),
            public_url: "https://example.org".into(),
            mash_phone: "01632 960000".into(),
            go_live: None,
            draft_retention: time::Duration::days(30),
            login_code: false,
            decision_target_days: 1,
        }
    }

    /// The outcome email says exactly what the domain's feedback says, for every outcome,
    /// and its HTML carries the same facts (escaped).
    #[test]
    fn the_outcome_email_is_the_domains_feedback_word_for_word() {
        use ehm_domain::mash::{Feedback, Outcome, feedback};
        for outcome in Outcome::ALL {
            let f = Feedback {
                reference: "EH-7K3M-Q9XA",
                outcome,
                referrer_name: " Sam O'Teacher ",
                referrer_organisation: "Example Primary School",
                children: &[],
                council: "Example Council",
                mash_phone: "01632 960000",
                date: "26 November 2026",
            };
            let (subject, body, _) = feedback(&f);
            let mail = referral_outcome(&settings(), &f).unwrap();
            assert_eq!(mail.subject, subject);
            assert_eq!(mail.text, body, "{outcome:?}");
            assert!(mail.html.contains("Dear Sam O&#x27;Teacher,"));
            assert!(mail.html.contains(&outcome.label().replace('\'', "&#x27;")));
            assert!(mail.html.contains("EH-7K3M-Q9XA"));
            assert!(mail.html.contains("01632 960000"));
        }
    }

    /// Every template file is a shared part (`_…`) or half of the pair of an [`Email`], and
    /// every email has both halves: no orphan template, no email without its HTML.
    #[test]
    fn every_email_has_a_text_and_an_html_template_and_every_template_is_used() {
        let names: Vec<String> = Templates::iter().map(|n| n.to_string()).collect();
        for email in ALL {
            for ext in ["txt", "html"] {
                let file = format!("{}.{ext}", email.template());
                assert!(names.contains(&file), "{file} missing: {names:?}");
            }
        }
        for name in &names {
            let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
            assert!(
                stem.starts_with('_') || ALL.iter().any(|e| e.template() == stem),
                "{name} belongs to no email"
            );
        }
    }

    /// Without a value a template needs, rendering fails rather than leaving a gap.
    #[test]
    fn a_missing_value_is_an_error_not_a_gap() {
        let env = environment().unwrap();
        let err = env
            .get_template("_code.txt")
            .unwrap()
            .render(minijinja::context! { intro => "Use this code" })
            .unwrap_err();
        assert_eq!(err.kind(), minijinja::ErrorKind::UndefinedError, "{err}");
    }
}
