//! The in-memory matching index over the person index.
//!
//! [`PersonIndex`] holds an [`ehm_matching::Index`] of every person in the database and
//! the last change number (`persons.change_seq`) it has applied:
//!
//! - [`PersonIndex::load`] pages through `Store::persons_changed_since(0, …)` and builds the
//!   index (at start-up; searches answer "still loading" until it is done);
//! - [`PersonIndex::poll`] applies every person created or changed since the last change
//!   number, whichever instance made the change (several instances may share one
//!   PostgreSQL database): [`PersonIndex::run`] calls it every couple of seconds;
//! - a person created or corrected through this instance is upserted at once by the use
//!   case ([`PersonIndex::upsert_row`]), not at the next poll;
//! - [`PersonIndex::fit`] learns the matching model from a sample of past referral children
//!   (the queries the portal really gets) against the index, at start-up after the load and
//!   every [`FIT_EVERY`]. The fit runs on a read lock (searches go on); only the swap of
//!   the model takes the write lock.
//!
//! Locking: searches take the read lock for the search itself (about a millisecond at
//! 1,000,000 people). Writers take the write lock for at most [`APPLY_CHUNK`] upserts at a
//! time. While a fit holds its read lock nobody waits for the write lock (a waiting writer
//! would stall every new search behind the fit): the poll skips its turn and an immediate
//! upsert is left to the next poll.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock, TryLockError};
use std::time::Duration;

use ehm_matching::{Candidate, Date, FitOptions, Gender, Index, Person};
use ehm_storage::{PersonData, PersonRow, Store};
use time::OffsetDateTime;

use crate::Result;

/// People read per database call while loading or polling.
pub const PAGE: i64 = 50_000;
/// Upserts applied per hold of the write lock.
pub const APPLY_CHUNK: usize = 1_000;
/// How often [`PersonIndex::run`] looks for changes.
pub const POLL_EVERY: Duration = Duration::from_secs(2);
/// How often [`PersonIndex::run`] fits the model again.
pub const FIT_EVERY: Duration = Duration::from_secs(6 * 60 * 60);
/// Past referrals read for a fit (newest first); each may name several children.
pub const FIT_REFERRALS: i64 = 20_000;

const NOT_LOADED: u8 = 0;
const LOADING: u8 = 1;
const READY: u8 = 2;

/// The matching index shared by every request of this instance. Cheap to clone.
#[derive(Clone)]
pub struct PersonIndex {
    inner: Arc<Inner>,
}

struct Inner {
    index: RwLock<Index>,
    /// The last change number applied from the database.
    seq: AtomicI64,
    state: AtomicU8,
    /// A fit holds the read lock: do not wait for the write lock.
    fitting: AtomicBool,
    /// One loader or poller at a time (they own `seq`).
    sync: tokio::sync::Mutex<()>,
    /// People this instance upserted ahead of the poll, with their change numbers: the poll
    /// does not put back an older version it read before the upsert.
    ahead: Mutex<HashMap<String, i64>>,
    fitted: Mutex<Option<FitInfo>>,
}

/// The last model fit, for the page and the log.
#[derive(Debug, Clone, PartialEq)]
pub struct FitInfo {
    pub at: OffsetDateTime,
    /// Referral children the model was fitted on.
    pub queries: usize,
    /// The learnt share of referral children who are on record.
    pub match_share: f64,
}

/// What the index holds, for the page.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexStatus {
    pub ready: bool,
    pub persons: usize,
    pub last_change: i64,
    pub fitted: Option<FitInfo>,
}

impl Default for PersonIndex {
    fn default() -> Self {
        Self::empty()
    }
}

impl PersonIndex {
    /// An index with nobody in it, not loaded yet: searches answer `None` until
    /// [`PersonIndex::load`] has run.
    pub fn empty() -> Self {
        Self {
            inner: Arc::new(Inner {
                index: RwLock::new(Index::build(Vec::new())),
                seq: AtomicI64::new(0),
                state: AtomicU8::new(NOT_LOADED),
                fitting: AtomicBool::new(false),
                sync: tokio::sync::Mutex::new(()),
                ahead: Mutex::new(HashMap::new()),
                fitted: Mutex::new(None),
            }),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) == READY
    }

    pub fn status(&self) -> IndexStatus {
        IndexStatus {
            ready: self.is_ready(),
            persons: self.read().len(),
            last_change: self.inner.seq.load(Ordering::Acquire),
            fitted: self
                .inner
                .fitted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        // A panic while holding the lock cannot leave the index half-changed in a way that
        // matters more than stopping every search: carry on with it.
        self.inner.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.inner.index.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The `top_k` best candidates for `query` with a score of at least `threshold`,
    /// best first; `None` while the index is still loading.
    pub fn search(&self, query: &Person, top_k: usize, threshold: f64) -> Option<Vec<Candidate>> {
        if !self.is_ready() {
            return None;
        }
        Some(self.read().search(query, top_k, threshold))
    }

    /// Builds the index from every person in the database. Searches keep answering
    /// "loading" (the first time) or from the previous index until it is swapped in.
    pub async fn load(&self, store: &Store) -> Result<usize> {
        let _one = self.inner.sync.lock().await;
        if !self.is_ready() {
            self.inner.state.store(LOADING, Ordering::Release);
        }
        let started = std::time::Instant::now();
        let mut people = Vec::new();
        let mut seq = 0;
        loop {
            let rows = store.persons_changed_since(seq, PAGE).await?;
            let Some(last) = rows.last() else { break };
            seq = last.change_seq;
            let full = rows.len() as i64 == PAGE;
            people.extend(rows.iter().map(|r| person_of(&r.data)));
            if !full {
                break;
            }
        }
        let n = people.len();
        let index = tokio::task::spawn_blocking(move || Index::build(people))
            .await
            .map_err(|e| anyhow::anyhow!("building the person index: {e}"))?;
        *self.write() = index;
        self.inner.seq.store(seq, Ordering::Release);
        self.forget_ahead(seq);
        self.inner.state.store(READY, Ordering::Release);
        tracing::info!(
            persons = n,
            last_change = seq,
            seconds = started.elapsed().as_secs_f64(),
            "person index loaded"
        );
        Ok(n)
    }

    /// Applies every person created or changed since the last change number applied (by
    /// any instance). Returns how many were applied; 0 while loading or fitting.
    pub async fn poll(&self, store: &Store) -> Result<usize> {
        let _one = self.inner.sync.lock().await;
        if !self.is_ready() {
            return Ok(0);
        }
        let mut applied = 0;
        loop {
            if self.inner.fitting.load(Ordering::Acquire) {
                break;
            }
            let seq = self.inner.seq.load(Ordering::Acquire);
            let rows = store.persons_changed_since(seq, PAGE).await?;
            let Some(last) = rows.last().map(|r| r.change_seq) else {
                break;
            };
            let people: Vec<Person> = {
                let ahead = self.inner.ahead.lock().unwrap_or_else(|e| e.into_inner());
                rows.iter()
                    .filter(|r| ahead.get(&r.data.id).is_none_or(|&s| s <= r.change_seq))
                    .map(|r| person_of(&r.data))
                    .collect()
            };
            let mut done = 0;
            for chunk in people.chunks(APPLY_CHUNK) {
                let Some(mut index) = self.write_unless_fitting() else {
                    break;
                };
                for p in chunk {
                    index.upsert(p);
                }
                done += chunk.len();
            }
            if done < people.len() {
                // A fit started: the rest (all of this page, re-read) at the next turn.
                break;
            }
            applied += rows.len();
            self.inner.seq.store(last, Ordering::Release);
            self.forget_ahead(last);
            if (rows.len() as i64) < PAGE {
                break;
            }
        }
        if applied > 0 {
            tracing::info!(applied, "person index brought up to date");
        }
        Ok(applied)
    }

    /// Puts a person this instance has just created or corrected into the index at once
    /// (the poll would take up to [`POLL_EVERY`]). Left to the poll while the index is
    /// loading or a fit is running.
    pub fn upsert_row(&self, row: &PersonRow) {
        if !self.is_ready() || self.inner.fitting.load(Ordering::Acquire) {
            return;
        }
        let person = person_of(&row.data);
        let Some(mut index) = self.write_unless_fitting() else {
            return;
        };
        self.inner
            .ahead
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(row.data.id.clone(), row.change_seq);
        index.upsert(&person);
    }

    /// The write lock, waiting for searches but never behind a fit (a waiting writer would
    /// hold up every new search until the fit ends): `None` while a fit holds the index.
    fn write_unless_fitting(&self) -> Option<std::sync::RwLockWriteGuard<'_, Index>> {
        let mut spins = 0u32;
        loop {
            if self.inner.fitting.load(Ordering::Acquire) {
                return None;
            }
            match self.inner.index.try_write() {
                Ok(w) => return Some(w),
                Err(TryLockError::Poisoned(e)) => return Some(e.into_inner()),
                Err(TryLockError::WouldBlock) => {
                    spins += 1;
                    if spins < 50 {
                        std::thread::yield_now();
                    } else {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
            }
        }
    }

    fn forget_ahead(&self, seq: i64) {
        self.inner
            .ahead
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, s| *s > seq);
    }

    /// Fits the matching model on the most recent past referral children (at most
    /// [`FIT_REFERRALS`] referrals) and applies it. `None` (model unchanged) while the index
    /// is loading, or with fewer than `ehm_matching::fit::MIN_QUERIES_FOR_U` children or
    /// 100 people: too little to learn from, the built-in model stays.
    pub async fn fit(&self, store: &Store) -> Result<Option<FitInfo>> {
        if !self.is_ready() {
            return Ok(None);
        }
        let queries = past_referral_children(store, FIT_REFERRALS).await?;
        if queries.len() < ehm_matching::fit::MIN_QUERIES_FOR_U || self.read().len() < 100 {
            tracing::info!(
                children = queries.len(),
                "person index: too few past referrals to fit the matching model; the built-in model is used"
            );
            return Ok(None);
        }
        let started = std::time::Instant::now();
        let me = self.clone();
        let n = queries.len();
        let model = tokio::task::spawn_blocking(move || {
            me.inner.fitting.store(true, Ordering::Release);
            let model = me.read().fit(&queries, &FitOptions::default());
            me.inner.fitting.store(false, Ordering::Release);
            model
        })
        .await;
        self.inner.fitting.store(false, Ordering::Release);
        let model = model.map_err(|e| anyhow::anyhow!("fitting the matching model: {e}"))?;
        let info = FitInfo {
            at: OffsetDateTime::now_utc(),
            queries: n,
            match_share: model.match_share,
        };
        self.write().set_model(model);
        tracing::info!(
            children = n,
            match_share = info.match_share,
            seconds = started.elapsed().as_secs_f64(),
            "person index: matching model fitted on past referrals"
        );
        *self.inner.fitted.lock().unwrap_or_else(|e| e.into_inner()) = Some(info.clone());
        Ok(Some(info))
    }

    /// The background job of `ehm serve`: load, fit, then poll every [`POLL_EVERY`] and
    /// fit again every [`FIT_EVERY`], until `stop` changes. Failures are logged and
    /// retried at the next turn.
    pub async fn run(self, store: Store, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            match self.load(&store).await {
                Ok(_) => break,
                Err(e) => tracing::error!(error = %e, "person index: load failed; retrying"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(10)) => {}
                _ = stop.changed() => return,
            }
        }
        let mut next_fit = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= next_fit {
                next_fit = tokio::time::Instant::now() + FIT_EVERY;
                // The fit runs beside the polls, so that a long fit does not stop them
                // (they skip their turn only while it holds the index).
                let me = self.clone();
                let s = store.clone();
                tokio::spawn(async move {
                    if let Err(e) = me.fit(&s).await {
                        tracing::error!(error = %e, "person index: fit failed");
                    }
                });
            }
            if let Err(e) = self.poll(&store).await {
                tracing::warn!(error = %e, "person index: poll failed; retrying");
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL_EVERY) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// A stored person as the matching engine sees it. A date of birth that is not an ISO
/// date is kept as text (the engine compares it digit by digit).
pub fn person_of(d: &PersonData) -> Person {
    let dob = d.dob.as_deref().and_then(Date::parse_iso);
    Person {
        id: d.id.clone(),
        first_name: d.first_name.clone(),
        last_name: d.last_name.clone(),
        other_names: d.other_names.clone(),
        dob_text: if dob.is_none() { d.dob.clone() } else { None },
        dob,
        dob_estimated: d.dob_estimated,
        gender: d
            .gender
            .as_deref()
            .and_then(|g| Gender::parse(g).ok().flatten()),
        address: d.address.clone(),
        postcode: d.postcode.clone(),
    }
}

/// The children of the most recent submitted referrals, as matching queries.
async fn past_referral_children(store: &Store, referrals: i64) -> Result<Vec<Person>> {
    let rows = store.recent_referral_data(referrals).await?;
    let mut out = Vec::new();
    for (id, data) in rows {
        let Ok(draft) = serde_json::from_str::<ehm_domain::referral::ReferralDraft>(&data) else {
            tracing::warn!(
                referral_id = id,
                "a referral does not decode: not used for the fit"
            );
            continue;
        };
        for (i, c) in draft.children.iter().enumerate() {
            out.push(crate::mash::persons::query_of_child(id, i, c));
        }
    }
    Ok(out)
}

/// Writes matching-engine `Person`s to the database as `ehm import-persons` does, in
/// batches of [`ehm_storage::UPSERT_BATCH_ROWS`] (generated people: the demo, the
/// benchmark, the tests).
pub async fn store_people(store: &Store, people: &[Person]) -> Result<()> {
    for chunk in people.chunks(ehm_storage::UPSERT_BATCH_ROWS) {
        let batch: Vec<PersonData> = chunk.iter().map(person_data).collect();
        store
            .upsert_persons_batch(&batch, OffsetDateTime::now_utc())
            .await?;
    }
    Ok(())
}

/// The record to store for a matching-engine `Person` (the inverse of [`person_of`]):
/// how generated people are written to the database by the benchmark and the tests.
pub fn person_data(p: &Person) -> PersonData {
    PersonData {
        id: p.id.clone(),
        first_name: p.first_name.clone(),
        last_name: p.last_name.clone(),
        other_names: p.other_names.clone(),
        dob: p.dob.map(|d| d.to_string()),
        dob_estimated: p.dob_estimated,
        gender: p.gender.map(|g| match g {
            Gender::Male => "male".into(),
            Gender::Female => "female".into(),
        }),
        address: p.address.clone(),
        postcode: p.postcode.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, first: &str, last: &str, dob: &str, seq: i64) -> PersonRow {
        PersonRow {
            data: PersonData {
                id: id.into(),
                first_name: Some(first.into()),
                last_name: Some(last.into()),
                dob: Some(dob.into()),
                gender: Some("female".into()),
                postcode: Some("AB1 2XY".into()),
                ..PersonData::default()
            },
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
            change_seq: seq,
        }
    }

    fn ready(p: &PersonIndex) {
        p.inner.state.store(READY, Ordering::Release);
    }

    #[test]
    fn an_index_not_loaded_yet_says_so_instead_of_finding_nobody() {
        let p = PersonIndex::empty();
        assert!(p.search(&Person::new("q").first("Amira"), 5, 0.0).is_none());
    }

    #[test]
    fn an_empty_index_searches_and_an_upserted_person_is_found_at_once() {
        let p = PersonIndex::empty();
        ready(&p);
        let q = Person::new("q")
            .first("Amira")
            .last("Testwell")
            .born("2016-02-14");
        assert_eq!(p.search(&q, 5, 0.0), Some(Vec::new()));
        p.upsert_row(&row("P-1", "Amira", "Testwell", "2016-02-14", 1));
        let found = p.search(&q, 5, 0.0).unwrap();
        assert_eq!(found.first().map(|c| c.person_id.as_str()), Some("P-1"));
        assert_eq!(p.status().persons, 1);
    }

    #[test]
    fn a_correction_replaces_the_old_version() {
        let p = PersonIndex::empty();
        ready(&p);
        p.upsert_row(&row("P-1", "Amira", "Testwell", "2016-02-14", 1));
        p.upsert_row(&row("P-1", "Zainab", "Okonjo", "2011-07-01", 2));
        assert_eq!(p.status().persons, 1);
        let q = Person::new("q")
            .first("Zainab")
            .last("Okonjo")
            .born("2011-07-01");
        let found = p.search(&q, 5, 0.0).unwrap();
        assert_eq!(found.first().map(|c| c.person_id.as_str()), Some("P-1"));
    }

    #[test]
    fn an_upsert_while_a_fit_holds_the_index_is_left_to_the_poll() {
        let p = PersonIndex::empty();
        ready(&p);
        p.inner.fitting.store(true, Ordering::Release);
        p.upsert_row(&row("P-1", "Amira", "Testwell", "2016-02-14", 1));
        assert_eq!(p.status().persons, 0);
        assert!(p.inner.ahead.lock().unwrap().is_empty());
    }

    #[test]
    fn stored_people_convert_with_their_gender_and_estimated_flag() {
        let mut d = row("P-1", "Amira", "Testwell", "2016-02-14", 1).data;
        d.dob_estimated = true;
        d.gender = Some("non-binary".into());
        let p = person_of(&d);
        assert_eq!(p.dob, Date::new(2016, 2, 14));
        assert!(p.dob_estimated);
        assert_eq!(p.gender, None);
        d.dob = Some("2016-02-30".into());
        d.gender = Some("male".into());
        let p = person_of(&d);
        assert_eq!((p.dob, p.dob_text.as_deref()), (None, Some("2016-02-30")));
        assert_eq!(p.gender, Some(Gender::Male));
    }
}
