//! Secrets: Argon2id password and code hashing on a bounded pool, random tokens, TOTP
//! (RFC 6238).
//!
//! Each Argon2id evaluation takes 19 MiB and tens of milliseconds of CPU. They run on at
//! most [`max_concurrent_hashes`] blocking threads at once; a request that cannot get a turn
//! within [`HASH_WAIT`] fails with [`CryptoError::Busy`] (a "try again" page with 503), so
//! a burst of sign-ins or registrations can exhaust neither memory nor threads.

use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use ehm_domain::account::NewPassword;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::Semaphore;
use totp_rs::{Secret, TOTP};

/// How long a request waits for a hashing turn before it is told the service is busy.
pub const HASH_WAIT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("too many password checks at once")]
    Busy,
    #[error("hashing failed: {0}")]
    Failed(String),
}

/// OWASP's Argon2id baseline: 19 MiB, 2 iterations, 1 lane.
fn argon2() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params"),
    )
}

/// Two hashing threads per CPU core: enough to keep the cores busy, few enough to bound
/// memory (a few times 19 MiB).
pub fn max_concurrent_hashes() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .saturating_mul(2)
        .clamp(2, 32)
}

fn pool() -> &'static Semaphore {
    static POOL: OnceLock<Semaphore> = OnceLock::new();
    POOL.get_or_init(|| Semaphore::new(max_concurrent_hashes()))
}

/// Run CPU-heavy hashing work on the bounded pool.
async fn on_pool<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, CryptoError> {
    let permit = tokio::time::timeout(HASH_WAIT, pool().acquire())
        .await
        .map_err(|_| CryptoError::Busy)?
        .map_err(|_| CryptoError::Busy)?;
    let out = tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| CryptoError::Failed(e.to_string()));
    drop(permit);
    out
}

fn hash_bytes(secret: &[u8]) -> Result<String, CryptoError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(secret, &salt)
        .map(|h| h.to_string())
        .map_err(|e| CryptoError::Failed(e.to_string()))
}

/// Hash a password that met the policy.
pub async fn hash_password(password: &NewPassword) -> Result<String, CryptoError> {
    let secret = password.as_str().to_string();
    on_pool(move || hash_bytes(secret.as_bytes())).await?
}

/// Hash a one-time code or a random token (never a person's password: see
/// [`hash_password`]).
pub async fn hash_secret(secret: &str) -> Result<String, CryptoError> {
    let secret = secret.to_string();
    on_pool(move || hash_bytes(secret.as_bytes())).await?
}

/// Check a secret against a stored hash. A malformed stored hash counts as no match.
pub async fn verify(secret: &str, hash: &str) -> Result<bool, CryptoError> {
    let (secret, hash) = (secret.to_string(), hash.to_string());
    on_pool(move || match PasswordHash::new(&hash) {
        Ok(parsed) => argon2().verify_password(secret.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    })
    .await
}

/// Spend the same work as [`verify`] when there is nothing to check against (an unknown
/// account), so that the response time does not reveal whether an address is registered.
pub async fn dummy_verify(secret: &str) -> Result<(), CryptoError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let hash = match DUMMY.get() {
        Some(h) => h.clone(),
        None => {
            let h = hash_secret("not a real password").await?;
            DUMMY.get_or_init(|| h).clone()
        }
    };
    verify(secret, &hash).await.map(|_| ())
}

/// Spend the same work as hashing a new secret, without keeping the result.
pub async fn dummy_hash() -> Result<(), CryptoError> {
    hash_secret(&random_token()).await.map(|_| ())
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

pub fn totp(secret_b32: &str, account: &str, issuer: &str) -> Result<TOTP, CryptoError> {
    let bytes = Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .map_err(|e| CryptoError::Failed(format!("totp secret: {e:?}")))?;
    TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        TOTP_STEP,
        bytes,
        Some(issuer.to_string()),
        account.to_string(),
    )
    .map_err(|e| CryptoError::Failed(format!("totp: {e}")))
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

    fn password(s: &str) -> NewPassword {
        NewPassword::parse(s, "").unwrap()
    }

    #[tokio::test]
    async fn a_password_hash_verifies_only_the_same_password() {
        let h = hash_password(&password("kettle orbit marmalade"))
            .await
            .unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("kettle orbit marmalade", &h).await.unwrap());
        assert!(!verify("kettle orbit marmalada", &h).await.unwrap());
    }

    #[tokio::test]
    async fn a_malformed_stored_hash_never_verifies() {
        assert!(!verify("x", "not-a-hash").await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_than_the_pool_size_hash_at_once() {
        let running = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..(max_concurrent_hashes() * 3) {
            let (running, peak) = (running.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                on_pool(move || {
                    let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    peak.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                })
                .await
                .unwrap()
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let peak = peak.load(std::sync::atomic::Ordering::SeqCst);
        assert!(peak >= 1 && peak <= max_concurrent_hashes(), "peak {peak}");
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
