//! Use cases of the Early Help referral portal.
//!
//! Each public function here is one thing a person can do (register, sign in, save a
//! section, submit a referral, …). It takes parsed input, does the work — access decision,
//! storage transaction, emails through the outbox, audit record — and returns a typed
//! outcome. The web layer only turns HTTP into these calls and outcomes into pages; the
//! command line calls the same functions.
//!
//! Dependencies point inwards: `ehm-web → ehm-app → ehm-storage → ehm-domain`.

pub mod accounts;
pub mod audit;
pub mod crypto;
pub mod mails;
pub mod mash;
pub mod person_index;
pub mod referrals;
mod settings;

pub use settings::Settings;

use ehm_storage::{StorageError, Store};
use std::sync::Arc;

/// What every use case needs: the database, the settings and the matching index over
/// the person index.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub settings: Arc<Settings>,
    /// Not loaded until something (`ehm serve`) calls [`person_index::PersonIndex::load`]
    /// or runs [`person_index::PersonIndex::run`].
    pub persons: person_index::PersonIndex,
}

impl App {
    pub fn new(store: Store, settings: Settings) -> Self {
        Self {
            store,
            settings: Arc::new(settings),
            persons: person_index::PersonIndex::empty(),
        }
    }
}

/// Why a use case could not finish. Expected outcomes (a wrong code, a conflict) are not
/// errors: they are variants of each use case's outcome type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Too much work at once (the hashing pool is full): try again shortly.
    #[error("the service is busy")]
    Busy,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<crypto::CryptoError> for Error {
    fn from(e: crypto::CryptoError) -> Self {
        match e {
            crypto::CryptoError::Busy => Error::Busy,
            crypto::CryptoError::Failed(m) => Error::Internal(anyhow::anyhow!(m)),
        }
    }
}

/// Problems with what a person typed, by field (the field is the input's id), in the
/// order the page shows them. Each becomes an error-summary link and an inline message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<(String, String)>);

impl FieldErrors {
    /// Add a message for `field` unless it already has one (the first problem wins).
    pub fn add(&mut self, field: &str, message: impl ToString) {
        if !self.0.iter().any(|(f, _)| f == field) {
            self.0.push((field.to_string(), message.to_string()));
        }
    }

    pub fn one(field: &str, message: impl ToString) -> Self {
        let mut e = Self::default();
        e.add(field, message);
        e
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
