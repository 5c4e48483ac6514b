//! Accounts (R-01 … R-06): registration, confirming an email address, signing in with a
//! password, an emailed code and (staff) an authenticator app, and password reset.
//!
//! Rules that hold throughout:
//! - **No account enumeration.** Every form answers a registered and an unregistered
//!   address identically, in wording, in the limits it applies and in the work it does
//!   (an Argon2 evaluation either way). Where there is no account, a [`Decoy`] stands in
//!   for the code that would have been sent.
//! - **Attempts are reserved before they are checked**, in one atomic statement, so that
//!   concurrent guesses never get more turns than the limit.
//! - **Failures are counted per account and client address, and per client address**:
//!   a stranger can lock out only themselves, never a named person; the emailed code (and
//!   the authenticator for staff) is what a stranger who guessed a password cannot pass.
//! - **Mail is limited per address and journey** ([`MAIL_LIMIT`] per [`MAIL_WINDOW`]), and
//!   the answer is the same whether a message was sent or not.

mod codes;
mod directory;
mod password;
mod register;
mod reset;
mod sign_in;
mod staff;

pub use codes::{CodeCheck, Decoy, NEW_CODE_SENT, Pending};
pub use directory::{AccountPage, list_accounts};
pub use password::{ChangePasswordOutcome, change_password};
pub use register::{
    ConfirmOutcome, RegisterInput, RegisterOutcome, confirm_email, register, resend_code,
};
pub use reset::{ForgotOutcome, ResetOutcome, forgot, reset};
pub use sign_in::{
    Factor, LoginCodeOutcome, SignInOutcome, TotpOutcome, complete_sign_in, enrol_totp, login_code,
    sign_in, totp,
};
pub use staff::{NewStaffOutcome, create_staff};

use time::Duration;

use crate::crypto::sha256_hex;

/// How long an emailed code works.
pub const CODE_LIFETIME: Duration = Duration::minutes(10);
/// Wrong codes allowed before a code is dead.
pub const CODE_MAX_ATTEMPTS: i64 = 5;
/// Password attempts per account from one client address in [`FAILURE_WINDOW`].
pub const SIGN_IN_MAX_ATTEMPTS: i64 = 5;
/// Failed sign-ins from one client address, whatever the account, in [`FAILURE_WINDOW`].
pub const ADDRESS_MAX_FAILURES: i64 = 50;
/// Authenticator codes per account in [`FAILURE_WINDOW`].
pub const TOTP_MAX_ATTEMPTS: i64 = 5;
pub const FAILURE_WINDOW: Duration = Duration::minutes(15);
/// Emails per address and journey (registration, sign-in, reset) in [`MAIL_WINDOW`].
pub const MAIL_LIMIT: i64 = 3;
/// Sign-in codes go only to someone who knew the password: a little more generous.
pub const SIGN_IN_MAIL_LIMIT: i64 = 5;
pub const MAIL_WINDOW: Duration = Duration::minutes(15);

/// The journeys whose emails are counted separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Journey {
    Register,
    SignIn,
    Reset,
}

impl Journey {
    fn as_str(self) -> &'static str {
        match self {
            Journey::Register => "register",
            Journey::SignIn => "sign-in",
            Journey::Reset => "reset",
        }
    }
    fn mail_limit(self) -> i64 {
        match self {
            Journey::SignIn => SIGN_IN_MAIL_LIMIT,
            _ => MAIL_LIMIT,
        }
    }
}

/// The normalised address, hashed: throttle keys never hold an address.
pub fn email_key(email: &str) -> String {
    sha256_hex(&email.trim().to_lowercase())
}

fn mail_key(journey: Journey, email_key: &str) -> String {
    format!("mail:{}:{email_key}", journey.as_str())
}

fn sign_in_key(email_key: &str, ip: &str) -> String {
    format!("sign-in:{}", sha256_hex(&format!("{email_key}|{ip}")))
}

fn address_key(ip: &str) -> String {
    format!("ip:{ip}")
}

fn totp_key(user_id: i64) -> String {
    format!("totp:{user_id}")
}

/// Minutes until `until`, rounded up, at least 1.
fn minutes_until(until: time::OffsetDateTime, now: time::OffsetDateTime) -> i64 {
    (((until - now).whole_seconds() + 59) / 60).max(1)
}
