//! Secrets: Argon2id password and code hashing on a bounded pool, random tokens, TOTP
//! (RFC 6238).
//!
//! Each Argon2id evaluation takes 19 MiB and tens of milliseconds of CPU. They run on at
//! most [`max_concurrent_hashes`] blocking threads at once; a request that cannot get a turn
//! within [`HASH_WAIT`] fails with [`CryptoError::Busy`] (a "try again" page with 503), so
//! a burst of sign-ins or registrations can exhaust neither memory nor threads.

use argon2::password_hash::{
    Output, ParamsString, PasswordHash, PasswordVerifier, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use ehm_domain::account::NewPassword;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{Semaphore, oneshot};
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
fn params() -> Params {
    Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params")
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

/// Two hashing threads per CPU core: enough to keep the cores busy, few enough to bound
/// memory (each thread owns one 19 MiB working area for its whole life).
pub fn max_concurrent_hashes() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .saturating_mul(2)
        .clamp(2, 32)
}

type Job = Box<dyn FnOnce(&mut [Block]) + Send>;

/// A fixed set of hashing threads, each with its own Argon2 working memory allocated
/// once and reused: memory stays at (threads × 19 MiB) however many requests arrive,
/// instead of one fresh 19 MiB allocation per hash that the allocator may keep.
struct Pool {
    turns: Semaphore,
    jobs: Mutex<mpsc::Sender<Job>>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let n = max_concurrent_hashes();
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..n {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    let mut memory = vec![Block::default(); params().block_count()];
                    loop {
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(&mut memory),
                            Err(_) => return,
                        }
                    }
                })
                .expect("start a hashing thread");
        }
        Pool {
            turns: Semaphore::new(n),
            jobs: Mutex::new(tx),
        }
    })
}

/// Run hashing work on the pool: wait at most [`HASH_WAIT`] for a turn.
async fn on_pool<T: Send + 'static>(
    work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
) -> Result<T, CryptoError> {
    let pool = pool();
    let permit = tokio::time::timeout(HASH_WAIT, pool.turns.acquire())
        .await
        .map_err(|_| CryptoError::Busy)?
        .map_err(|_| CryptoError::Busy)?;
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move |memory| {
        let _ = tx.send(work(memory));
    });
    pool.jobs
        .lock()
        .map_err(|_| CryptoError::Failed("hashing pool poisoned".into()))?
        .send(job)
        .map_err(|_| CryptoError::Failed("hashing pool stopped".into()))?;
    let out = rx
        .await
        .map_err(|_| CryptoError::Failed("hashing thread failed".into()));
    drop(permit);
    out
}

fn failed(e: impl std::fmt::Display) -> CryptoError {
    CryptoError::Failed(e.to_string())
}

/// An Argon2id PHC string for `secret`, computed in `memory`.
fn hash_in(secret: &[u8], memory: &mut [Block]) -> Result<String, CryptoError> {
    let a = argon2();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_buf).map_err(failed)?;
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        a.hash_password_into_with_memory(secret, salt_bytes, out, &mut *memory)
            .map_err(|_| argon2::password_hash::Error::Crypto)
    })
    .map_err(failed)?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(a.params()).map_err(failed)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Whether `secret` matches the PHC string `hash`, computed in `memory` when the hash
/// uses this service's parameters (any other Argon2 hash is checked the ordinary way).
fn verify_in(secret: &[u8], hash: &str, memory: &mut [Block]) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(p), Some(expected), Some(salt)) = (Params::try_from(&parsed), parsed.hash, parsed.salt)
    else {
        return false;
    };
    let Ok(alg) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or_default();
    if p.block_count() != memory.len() {
        return Argon2::new(alg, version, p)
            .verify_password(secret, &parsed)
            .is_ok();
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    if Argon2::new(alg, version, p)
        .hash_password_into_with_memory(secret, salt_bytes, &mut out, &mut *memory)
        .is_err()
    {
        return false;
    }
    subtle::ConstantTimeEq::ct_eq(out.as_slice(), expected.as_bytes()).into()
}

/// Hash a password that met the policy.
pub async fn hash_password(password: &NewPassword) -> Result<String, CryptoError> {
    let secret = password.as_str().as_bytes().to_vec();
    on_pool(move |m| hash_in(&secret, m)).await?
}

/// Hash a one-time code or a random token (never a person's password: see
/// [`hash_password`]).
pub async fn hash_secret(secret: &str) -> Result<String, CryptoError> {
    let secret = secret.as_bytes().to_vec();
    on_pool(move |m| hash_in(&secret, m)).await?
}

/// Check a secret against a stored hash. A malformed stored hash counts as no match.
pub async fn verify(secret: &str, hash: &str) -> Result<bool, CryptoError> {
    let (secret, hash) = (secret.as_bytes().to_vec(), hash.to_string());
    on_pool(move |m| verify_in(&secret, &hash, m)).await
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
    use argon2::password_hash::PasswordHasher;

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
    async fn hashes_made_the_ordinary_way_verify_and_ours_verify_the_ordinary_way() {
        let ours = hash_secret("kettle orbit marmalade").await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            argon2()
                .verify_password(b"kettle orbit marmalade", &parsed)
                .is_ok()
        );
        let salt = SaltString::generate(&mut OsRng);
        let theirs = argon2()
            .hash_password(b"kettle orbit marmalade", &salt)
            .unwrap()
            .to_string();
        assert!(verify("kettle orbit marmalade", &theirs).await.unwrap());
        assert!(!verify("kettle orbit marmalada", &theirs).await.unwrap());
        // Other parameters are still checked correctly.
        let light = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"kettle orbit marmalade", &salt)
        .unwrap()
        .to_string();
        assert!(verify("kettle orbit marmalade", &light).await.unwrap());
        assert!(!verify("kettle", &light).await.unwrap());
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
                on_pool(move |_| {
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
