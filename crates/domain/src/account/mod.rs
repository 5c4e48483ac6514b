//! Accounts: emails, passwords, one-time codes and roles.

mod code;
mod email;
mod name;
mod password;
mod role;

pub use code::{CodeError, VerificationCode};
pub use email::{Email, EmailError};
pub use name::{FULL_NAME_MAX, FullName, FullNameError};
pub use password::{MIN_PASSWORD_CHARS, NewPassword, PasswordError};
pub use role::{Role, RoleError};
