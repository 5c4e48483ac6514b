//! One test per email the portal sends: the subject, the whole plain text (the wording is
//! unchanged from the `format!` bodies it replaced), and the HTML alternative (the same
//! sentences, GOV.UK Notify's plain layout, every value escaped, nothing left unrendered).

use ehm_app::Settings;
use ehm_app::mails::{self, CodeMail, Email, Mail};

fn settings() -> Settings {
    Settings {
        service_name: "Early Help referral portal".into(),
        organisation_name: "Exampleshire Council".into(),
        public_url: "https://early-help.example.org/".into(),
        mash_phone: "01632 960123".into(),
        go_live: None,
        draft_retention: time::Duration::days(30),
        login_code: false,
        decision_target_days: 1,
    }
}

/// Settings an operator filled with markup: it must come out as text in the HTML.
fn markup_settings() -> Settings {
    Settings {
        service_name: "Early Help <b>portal</b> & \"friends\"".into(),
        mash_phone: "01632 960123 <script>alert(1)</script>".into(),
        ..settings()
    }
}

const FOOTER: &str = "This email was sent from an address that cannot receive replies. \
For urgent queries call MASH on 01632 960123.\nIf a child is in immediate danger call 999.\n";

/// What a person reading the HTML sees: tags removed, entities decoded, spaces collapsed.
fn visible(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Everything every HTML body must be, whatever the email.
fn check_html(mail: &Mail, s: &Settings, links: &[&str]) {
    let html = &mail.html;
    assert!(
        html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"),
        "{html}"
    );
    assert!(html.trim_end().ends_with("</html>"), "{html}");
    for unrendered in ["{{", "}}", "{%", "%}", "{#", "#}"] {
        assert!(!html.contains(unrendered), "{unrendered} left in {html}");
        assert!(
            !mail.text.contains(unrendered),
            "{unrendered} left in {}",
            mail.text
        );
    }
    // No images, scripts, styles or anything else fetched from elsewhere; no tracking.
    for fetched in [
        "<img", "<script", "<link", "<iframe", "src=", "url(", "@import",
    ] {
        assert!(!html.contains(fetched), "{fetched} in {html}");
    }
    // The only links are the ones the text itself gives.
    let hrefs: Vec<&str> = html
        .split("href=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    assert_eq!(hrefs, links, "{html}");
    let seen = visible(html);
    // The header bar names the service, and the title is the subject.
    assert!(
        seen.starts_with(&format!("{} {}", mail.subject, s.service_name)),
        "{seen}"
    );
    // Every line of the plain text is in the HTML too: both bodies say the same thing.
    for line in mail.text.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            seen.contains(line.trim()),
            "{line:?} missing from the HTML: {seen}"
        );
    }
}

/// The markup in `markup_settings` is escaped in the HTML (and kept as typed in the text,
/// which no client reads as HTML).
fn check_markup_escaped(mail: &Mail) {
    for raw in ["<b>", "<script>", "& \"friends\""] {
        assert!(!mail.html.contains(raw), "{raw} unescaped in {}", mail.html);
    }
    for escaped in [
        "Early Help &lt;b&gt;portal&lt;/b&gt; &amp; &quot;friends&quot;",
        "01632 960123 &lt;script&gt;alert(1)&lt;/script&gt;",
    ] {
        assert!(
            mail.html.contains(escaped),
            "{escaped} not in {}",
            mail.html
        );
    }
    assert!(
        mail.text.contains("960123 <script>alert(1)</script>."),
        "{}",
        mail.text
    );
}

fn check_code_mail(kind: CodeMail, subject: &str, intro: &str) {
    let s = settings();
    let mail = mails::code(&s, kind, "40718263").unwrap();
    assert_eq!(mail.subject, subject);
    assert_eq!(
        mail.text,
        format!(
            "{intro} for the Early Help referral portal:\n\n40718263\n\n\
             The code expires in 10 minutes and can only be used once.\n\n\
             If you did not ask for this code, you can ignore this email. \
             Nobody can use your account without your password.\n\n{FOOTER}"
        )
    );
    check_html(&mail, &s, &[]);
    // The code in large type, on its own.
    assert!(
        mail.html.contains("font-size: 36px; line-height: 40px; font-weight: bold; letter-spacing: 2px; color: #0b0c0c;\">40718263</p>"),
        "{}",
        mail.html
    );
    assert_eq!(mail.html.matches("40718263").count(), 1, "{}", mail.html);
    check_markup_escaped(&mails::code(&markup_settings(), kind, "40718263").unwrap());
}

#[test]
fn confirm_email_code() {
    check_code_mail(
        CodeMail::ConfirmEmail,
        "Confirm your email address",
        "Use this code to confirm your email address and finish creating your account",
    );
}

#[test]
fn sign_in_code() {
    check_code_mail(
        CodeMail::SignIn,
        "Your sign-in code",
        "Use this code to sign in",
    );
}

#[test]
fn reset_password_code() {
    check_code_mail(
        CodeMail::ResetPassword,
        "Reset your password",
        "Use this code to reset your password",
    );
}

#[test]
fn account_exists() {
    let s = settings();
    let mail = mails::account_exists(&s).unwrap();
    assert_eq!(mail.subject, "You already have an account");
    assert_eq!(
        mail.text,
        format!(
            "Someone tried to create an account for the Early Help referral portal with this \
             email address, which already has an account.\n\n\
             If it was you, sign in instead, or use \"Forgotten your password?\" on the sign-in page.\n\
             If it was not you, you do not need to do anything.\n\n{FOOTER}"
        )
    );
    check_html(&mail, &s, &[]);
    check_markup_escaped(&mails::account_exists(&markup_settings()).unwrap());
}

#[test]
fn staff_account_created() {
    let s = settings();
    let mail = mails::staff_account_created(&s, "MASH social worker").unwrap();
    assert_eq!(mail.subject, "Your account has been created");
    assert_eq!(
        mail.text,
        format!(
            "An administrator has created a MASH social worker account for you on the Early Help \
             referral portal.\n\n\
             To choose your password, go to https://early-help.example.org/forgot-password and \
             enter this email address. When you first sign in you will set up an authenticator app.\n\n{FOOTER}"
        )
    );
    // The service's own address is the one link, as the text gives it.
    check_html(
        &mail,
        &s,
        &["https://early-help.example.org/forgot-password"],
    );
    // "an" before a vowel.
    let admin = mails::staff_account_created(&s, "Administrator").unwrap();
    assert!(
        admin
            .text
            .starts_with("An administrator has created an Administrator account for you"),
        "{}",
        admin.text
    );
    check_html(
        &admin,
        &s,
        &["https://early-help.example.org/forgot-password"],
    );
    // The role label is data: escaped in the HTML.
    let odd = mails::staff_account_created(&markup_settings(), "<i>Referrer</i>").unwrap();
    check_markup_escaped(&odd);
    assert!(
        odd.html.contains("a &lt;i&gt;Referrer&lt;/i&gt; account"),
        "{}",
        odd.html
    );
    // A public address that is not a web address is shown, never linked.
    let not_web = Settings {
        public_url: "javascript:alert(1)".into(),
        ..settings()
    };
    let mail = mails::staff_account_created(&not_web, "MASH manager").unwrap();
    check_html(&mail, &not_web, &[]);
    assert!(
        mail.html
            .contains("go to javascript:alert(1)/forgot-password and"),
        "{}",
        mail.html
    );
}

#[test]
fn referral_submitted() {
    let s = settings();
    let mail = mails::referral_submitted(&s, "EH-7K3M-Q9XA").unwrap();
    assert_eq!(mail.subject, "Referral submitted: EH-7K3M-Q9XA");
    assert_eq!(
        mail.text,
        "Thank you. Your referral has been submitted to the Multi-Agency Safeguarding Hub (MASH).\n\n\
         Your reference number is: EH-7K3M-Q9XA\n\n\
         Quote this reference if you contact MASH about this referral. MASH will review it and send \
         you feedback on the outcome by email or letter.\n\n\
         This email was sent from an address that cannot receive replies. For urgent queries, or if \
         you have not had feedback, call MASH on 01632 960123.\n\n\
         If a child is in immediate danger call 999.\n"
    );
    check_html(&mail, &s, &[]);
    // The reference in bold, larger type.
    assert!(
        mail.html
            .contains("font-size: 24px; line-height: 30px; font-weight: bold; color: #0b0c0c;\">EH-7K3M-Q9XA</p>"),
        "{}",
        mail.html
    );
    assert!(
        mail.html
            .contains("<title>Referral submitted: EH-7K3M-Q9XA</title>"),
        "{}",
        mail.html
    );
    // The reference is data: escaped in the HTML and its title.
    let odd = mails::referral_submitted(&markup_settings(), "EH-<u>1</u>").unwrap();
    check_markup_escaped(&odd);
    assert!(
        odd.html
            .contains("<title>Referral submitted: EH-&lt;u&gt;1&lt;/u&gt;</title>"),
        "{}",
        odd.html
    );
    assert!(!odd.html.contains("<u>"), "{}", odd.html);
}

#[test]
fn the_enum_and_the_functions_render_the_same_mail() {
    let s = settings();
    assert_eq!(
        Email::ReferralSubmitted {
            reference: "EH-7K3M-Q9XA"
        }
        .render(&s)
        .unwrap(),
        mails::referral_submitted(&s, "EH-7K3M-Q9XA").unwrap()
    );
}
