//! Emailed 8-digit codes: sending (limited per address and journey), checking (attempt
//! reserved before the check), and the decoy that stands in when there is no account.

use ehm_domain::account::{CodeError, VerificationCode};
use ehm_storage::{CodeAttempt, CodePurpose, NewMail, User};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{CODE_LIFETIME, CODE_MAX_ATTEMPTS, Journey, MAIL_WINDOW, email_key, mail_key};
use crate::mails::{self, CodeMail};
use crate::{App, Result, crypto};

pub(crate) const ENTER_CODE: &str = "Enter the 8-digit code from the email";
pub(crate) const CODE_FORMAT: &str = "The code must be 8 numbers, like 12345678";
pub(crate) const WRONG_CODE: &str = "The code is not correct. Check the email and try again";
pub(crate) const TOO_MANY_CODES: &str =
    "You have entered the wrong code too many times. Request a new code";
pub(crate) const CODE_EXPIRED: &str = "The code has expired. Request a new code";
pub(crate) const CODE_USED: &str =
    "That code has already been used or has expired. Request a new code";

/// Stands in for a code that was never sent because there is no account for the address
/// (a registration with a taken address, a reset for an unknown one). It expires and counts
/// wrong attempts exactly as a real code does, so the two cannot be told apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decoy {
    pub email_key: String,
    pub issued_at_ms: i64,
    pub attempts: i64,
}

/// Whose code a code-entry page is waiting for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    Account(i64),
    Decoy(Decoy),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeCheck {
    Valid {
        code_id: i64,
        user_id: i64,
    },
    /// `checked` is false when the code was refused without being compared (no turns
    /// left, expired, or not 8 digits).
    Invalid {
        message: &'static str,
        checked: bool,
    },
}

impl CodeCheck {
    fn refused(message: &'static str) -> Self {
        CodeCheck::Invalid {
            message,
            checked: false,
        }
    }
    fn wrong(attempts: i64) -> Self {
        CodeCheck::Invalid {
            message: if attempts >= CODE_MAX_ATTEMPTS {
                TOO_MANY_CODES
            } else {
                WRONG_CODE
            },
            checked: true,
        }
    }
    /// The audit outcome of a failed check.
    pub(crate) fn audit_outcome(&self) -> &'static str {
        match self {
            CodeCheck::Valid { .. } => "success",
            CodeCheck::Invalid { checked: true, .. } => "wrong-code",
            CodeCheck::Invalid { checked: false, .. } => "code-refused-unchecked",
        }
    }
}

fn purpose_mail(purpose: CodePurpose) -> CodeMail {
    match purpose {
        CodePurpose::VerifyEmail => CodeMail::ConfirmEmail,
        CodePurpose::SignIn => CodeMail::SignIn,
        CodePurpose::ResetPassword => CodeMail::ResetPassword,
    }
}

/// Send `user` a new code for `purpose` unless the address has had its share of emails for
/// `journey`. The code's hash and its email are written in one transaction. Returns whether
/// a code was sent.
pub(crate) async fn send_code(
    app: &App,
    user: &User,
    journey: Journey,
    purpose: CodePurpose,
) -> Result<bool> {
    let now = OffsetDateTime::now_utc();
    let key = mail_key(journey, &email_key(&user.email));
    if !app
        .store
        .throttle_reserve(&key, now, journey.mail_limit(), MAIL_WINDOW)
        .await?
        .is_allowed()
    {
        tracing::info!(
            user_id = user.id,
            "code not sent: mail limit for the address"
        );
        return Ok(false);
    }
    let code = VerificationCode::from_random(crypto::random_u32());
    let hash = crypto::hash_secret(code.as_str()).await?;
    let mail = mails::code(&app.settings, purpose_mail(purpose), code.as_str())?;
    let mut tx = app.store.begin().await?;
    app.store
        .issue_code(&mut tx, user.id, purpose, &hash, now, now + CODE_LIFETIME)
        .await?;
    let message_id = crypto::random_token();
    // The code must not outlive its delivery: the body is removed once it is sent.
    app.store
        .enqueue_secret_mail(
            &mut tx,
            NewMail {
                message_id: &message_id,
                to: &user.email,
                subject: &mail.subject,
                body_text: &mail.text,
                body_html: Some(&mail.html),
            },
            now,
        )
        .await?;
    ehm_storage::commit(tx).await?;
    Ok(true)
}

/// The decoy's counterpart of [`send_code`]: the same limit and the same hashing work, and
/// a fresh decoy when a real code would have been sent (else the current one stays).
pub(crate) async fn send_decoy(
    app: &App,
    email_key: &str,
    journey: Journey,
    current: Option<Decoy>,
) -> Result<Option<Decoy>> {
    let now = OffsetDateTime::now_utc();
    if !app
        .store
        .throttle_reserve(
            &mail_key(journey, email_key),
            now,
            journey.mail_limit(),
            MAIL_WINDOW,
        )
        .await?
        .is_allowed()
    {
        return Ok(current);
    }
    crypto::dummy_hash().await?;
    Ok(Some(Decoy {
        email_key: email_key.to_string(),
        issued_at_ms: ehm_storage::to_ms(now),
        attempts: 0,
    }))
}

/// Check a typed code. The attempt is reserved before the code is checked, so however many
/// requests race, a code is checked at most [`CODE_MAX_ATTEMPTS`] times; after that even
/// the right code is refused. A decoy is updated in place (the caller keeps it).
pub(crate) async fn check_code(
    app: &App,
    pending: &mut Pending,
    purpose: CodePurpose,
    typed: &str,
) -> Result<CodeCheck> {
    let code = match VerificationCode::parse(typed) {
        Ok(c) => c,
        Err(CodeError::Empty) => return Ok(CodeCheck::refused(ENTER_CODE)),
        Err(_) => return Ok(CodeCheck::refused(CODE_FORMAT)),
    };
    let now = OffsetDateTime::now_utc();
    match pending {
        Pending::Account(user_id) => {
            match app
                .store
                .reserve_code_attempt(*user_id, purpose, CODE_MAX_ATTEMPTS, now)
                .await?
            {
                CodeAttempt::Check {
                    code_id,
                    code_hash,
                    attempts,
                } => {
                    if crypto::verify(code.as_str(), &code_hash).await? {
                        return Ok(CodeCheck::Valid {
                            code_id,
                            user_id: *user_id,
                        });
                    }
                    Ok(CodeCheck::wrong(attempts))
                }
                CodeAttempt::TooManyAttempts => Ok(CodeCheck::refused(TOO_MANY_CODES)),
                CodeAttempt::Expired => Ok(CodeCheck::refused(CODE_EXPIRED)),
                CodeAttempt::NoCode => Ok(CodeCheck::refused(CODE_USED)),
            }
        }
        Pending::Decoy(decoy) => {
            if decoy.attempts >= CODE_MAX_ATTEMPTS {
                return Ok(CodeCheck::refused(TOO_MANY_CODES));
            }
            if ehm_storage::from_ms(decoy.issued_at_ms) + CODE_LIFETIME <= now {
                return Ok(CodeCheck::refused(CODE_EXPIRED));
            }
            decoy.attempts += 1;
            crypto::dummy_verify(code.as_str()).await?;
            Ok(CodeCheck::wrong(decoy.attempts))
        }
    }
}

/// The one answer to "send me a new code", true whether or not a code was sent (the
/// address may have had its share, or have no account).
pub const NEW_CODE_SENT: &str = "If you can use this email address, we have sent a new code to it. \
     Check your junk or spam folder if it has not arrived. We send at most 3 codes every 15 minutes.";
