//! Hashing for the command line (`ehm create-user`, demo accounts): the same bounded
//! Argon2id pool the use cases use.

use ehm_domain::account::NewPassword;

pub use ehm_app::crypto::random_bytes;

use crate::error::AppError;

/// Hash a password that meets the policy (checked here without an email address; the
/// caller checks it against the account's address first).
pub async fn hash_password(password: String) -> Result<String, AppError> {
    let password = NewPassword::parse(&password, "")
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password refused: {e}")))?;
    Ok(ehm_app::crypto::hash_password(&password).await?)
}
