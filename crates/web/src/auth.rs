//! Secrets: Argon2id password and code hashing, random tokens, TOTP (RFC 6238).

use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use totp_rs::{Secret, TOTP};

use crate::error::AppError;

/// OWASP's Argon2id baseline: 19 MiB, 2 iterations, 1 lane.
fn argon2() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params"),
    )
}

/// Hash a password (or a one-time code) with Argon2id. CPU-heavy: run off the async
/// threads.
pub async fn hash_password(secret: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(secret.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(e.to_string()))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
}

/// Check a secret against a stored hash. A malformed stored hash counts as no match.
pub async fn verify_password(secret: String, hash: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || match PasswordHash::new(&hash) {
        Ok(parsed) => argon2().verify_password(secret.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))
}

/// A hash to verify against when the account does not exist, so that the response time
/// does not reveal whether an email address is registered.
pub async fn dummy_verify(secret: String) -> Result<(), AppError> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = match DUMMY.get() {
        Some(h) => h.clone(),
        None => {
            let h = hash_password("not a real password".into()).await?;
            DUMMY.get_or_init(|| h).clone()
        }
    };
    verify_password(secret, hash).await.map(|_| ())
}

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut v);
    v
}

pub fn random_u32() -> u32 {
    rand::rngs::OsRng.next_u32()
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

pub const TOTP_STEP: u64 = 30;

pub fn new_totp_secret() -> String {
    Secret::generate_secret().to_encoded().to_string()
}

pub fn totp(secret_b32: &str, account: &str, issuer: &str) -> Result<TOTP, AppError> {
    let bytes = Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .map_err(|e| AppError::Internal(format!("totp secret: {e:?}")))?;
    TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        TOTP_STEP,
        bytes,
        Some(issuer.to_string()),
        account.to_string(),
    )
    .map_err(|e| AppError::Internal(format!("totp: {e}")))
}

/// The time step a typed code belongs to (now, or one step either side for clock drift),
/// or None. The caller records the step so the same code cannot be used twice.
pub fn totp_step_for(t: &TOTP, code: &str, unix_now: u64) -> Option<i64> {
    let code: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
    if code.len() != 6 {
        return None;
    }
    let step = unix_now / TOTP_STEP;
    [step, step.saturating_sub(1), step + 1]
        .into_iter()
        .find(|s| {
            let expected = t.generate(s * TOTP_STEP);
            subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.as_bytes()).into()
        })
        .map(|s| s as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_hash_verifies_only_the_same_password() {
        let h = hash_password("kettle orbit marmalade".into())
            .await
            .unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(
            verify_password("kettle orbit marmalade".into(), h.clone())
                .await
                .unwrap()
        );
        assert!(
            !verify_password("kettle orbit marmalada".into(), h)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_malformed_stored_hash_never_verifies() {
        assert!(
            !verify_password("x".into(), "not-a-hash".into())
                .await
                .unwrap()
        );
    }

    #[test]
    fn tokens_are_random_and_long() {
        let a = random_token();
        assert_ne!(a, random_token());
        assert!(a.len() >= 43);
    }

    #[test]
    fn a_totp_code_matches_its_step_and_neighbours_only() {
        let secret = new_totp_secret();
        let t = totp(&secret, "sam@example.org", "EHM").unwrap();
        let now = 1_800_000_000u64;
        let code = t.generate(now);
        assert_eq!(totp_step_for(&t, &code, now), Some((now / 30) as i64));
        assert_eq!(
            totp_step_for(&t, &code, now + 30).map(|s| s as u64),
            Some(now / 30)
        );
        assert_eq!(totp_step_for(&t, &code, now + 300), None);
        assert_eq!(totp_step_for(&t, "12345", now), None);
    }
}
