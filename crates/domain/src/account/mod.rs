//! Accounts: emails, passwords, one-time codes and roles.

mod code;
mod email;
mod password;
mod role;

pub use code::{CodeError, VerificationCode};
pub use email::{Email, EmailError};
pub use password::{MIN_PASSWORD_CHARS, NewPassword, PasswordError};
pub use role::{Role, RoleError};
