//! The person index and the links from referrals' children to people.
//!
//! Every insert or change of a person takes numbers from `persons_change_counter` inside
//! its transaction. That row lock serialises person writers (on both backends), so
//! `change_seq` order is commit order: an instance that polls
//! [`Store::persons_changed_since`] with the last number it saw never misses a change,
//! and a full load is the same call from 0.

use crate::{Backend, Result, Store, Tx, from_ms, to_ms};
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

/// A person's details: what is imported, created from a referral, or corrected by staff.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PersonData {
    /// The case-management id (see `ehm_domain::mash::PersonId`).
    pub id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Middle names, aliases, previous names (stored joined by "; ").
    pub other_names: Vec<String>,
    /// ISO `YYYY-MM-DD`.
    pub dob: Option<String>,
    pub dob_estimated: bool,
    /// A `ehm_domain::referral::Gender` code, or none when not known.
    pub gender: Option<String>,
    pub address: Option<String>,
    pub postcode: Option<String>,
}

/// A stored person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PersonRow {
    #[serde(flatten)]
    pub data: PersonData,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Increases with every change; see the module docs.
    pub change_seq: i64,
}

/// What one import batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UpsertCounts {
    pub inserted: u64,
    pub updated: u64,
    /// Already stored with exactly these details: not written.
    pub unchanged: u64,
}

impl std::ops::AddAssign for UpsertCounts {
    fn add_assign(&mut self, o: Self) {
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
    }
}

/// The outcome of a staff correction that names the version it was based on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonUpdate {
    Updated(Box<PersonRow>),
    /// Someone changed the person since `expected_seq`: nothing was written.
    Conflict,
    NotFound,
}

/// A link from a referral's child to a person, current or undone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LinkRow {
    pub id: i64,
    pub referral_id: i64,
    /// The child's position in the referral (0 for the first child).
    pub child_index: i64,
    pub person_id: String,
    pub linked_by: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub linked_at: OffsetDateTime,
    pub unlinked_by: Option<i64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub unlinked_at: Option<OffsetDateTime>,
    pub unlink_reason: Option<String>,
}

impl LinkRow {
    pub fn is_current(&self) -> bool {
        self.unlinked_at.is_none()
    }
}

/// A referral about a person (through a current link).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PersonReferral {
    pub referral_id: i64,
    pub public_id: String,
    pub reference: Option<String>,
    pub status: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub submitted_at: Option<OffsetDateTime>,
    pub child_index: i64,
}

/// The outcome of linking a child to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    Linked {
        link_id: i64,
    },
    /// The child already has a current link: undo it first.
    ChildAlreadyLinked,
    /// No such person.
    NoSuchPerson,
}

const COLUMNS: &str = "id, first_name, last_name, other_names, dob, dob_estimated, gender, address, postcode, \
     created_at, updated_at, change_seq";
/// Columns written per row by the batch upsert (plus one shared `now`).
const PER_ROW: usize = 10;
/// People per call of [`Store::upsert_persons_batch`] that the importer sends (one
/// transaction each).
pub const UPSERT_BATCH_ROWS: usize = 5_000;

fn join_other(names: &[String]) -> String {
    names
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

fn split_other(s: &str) -> Vec<String> {
    s.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn person_from_row(r: &AnyRow) -> Result<PersonRow> {
    Ok(PersonRow {
        data: PersonData {
            id: r.try_get("id")?,
            first_name: r.try_get("first_name")?,
            last_name: r.try_get("last_name")?,
            other_names: split_other(&r.try_get::<String, _>("other_names")?),
            dob: r.try_get("dob")?,
            dob_estimated: r.try_get::<i64, _>("dob_estimated")? != 0,
            gender: r.try_get("gender")?,
            address: r.try_get("address")?,
            postcode: r.try_get("postcode")?,
        },
        created_at: from_ms(r.try_get("created_at")?),
        updated_at: from_ms(r.try_get("updated_at")?),
        change_seq: r.try_get("change_seq")?,
    })
}

fn link_from_row(r: &AnyRow) -> Result<LinkRow> {
    Ok(LinkRow {
        id: r.try_get("id")?,
        referral_id: r.try_get("referral_id")?,
        child_index: r.try_get("child_index")?,
        person_id: r.try_get("person_id")?,
        linked_by: r.try_get("linked_by")?,
        linked_at: from_ms(r.try_get("linked_at")?),
        unlinked_by: r.try_get("unlinked_by")?,
        unlinked_at: r.try_get::<Option<i64>, _>("unlinked_at")?.map(from_ms),
        unlink_reason: r.try_get("unlink_reason")?,
    })
}

/// Reserves `n` change numbers (n ≥ 1) and returns the first. Holds the counter's row
/// lock until the transaction ends (see the module docs).
async fn reserve_seq(tx: &mut Tx<'_>, n: i64) -> Result<i64> {
    let row = sqlx::query(
        "UPDATE persons_change_counter SET value = value + $1 WHERE id = 1 RETURNING value",
    )
    .bind(n)
    .fetch_one(&mut **tx)
    .await?;
    let end: i64 = row.try_get("value")?;
    Ok(end - n + 1)
}

impl Store {
    /// Inserts or updates people with multi-row statements (25 rows on SQLite, 1,000 on
    /// PostgreSQL), all in one transaction (the importer sends [`UPSERT_BATCH_ROWS`]). People whose stored details are identical are left
    /// alone (no new change number). Ids must be unique within `batch`.
    pub async fn upsert_persons_batch(
        &self,
        batch: &[PersonData],
        now: OffsetDateTime,
    ) -> Result<UpsertCounts> {
        let mut counts = UpsertCounts::default();
        if batch.is_empty() {
            return Ok(counts);
        }
        let now_ms = to_ms(now);
        let mut tx = self.begin().await?;
        let mut seq = reserve_seq(&mut tx, batch.len() as i64).await?;
        let per_statement = match self.backend {
            // sqlx's SQLite binding slows down more than linearly with the number of
            // parameters in one statement: measured fastest at about 25 rows.
            Backend::Sqlite => 25,
            Backend::Postgres => 1_000,
        };
        for chunk in batch.chunks(per_statement) {
            let mut sql = String::with_capacity(200 + chunk.len() * 60);
            sql.push_str(
                "INSERT INTO persons (id, first_name, last_name, other_names, dob, dob_estimated, gender, \
                 address, postcode, change_seq, created_at, updated_at) VALUES ",
            );
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push('(');
                for c in 0..PER_ROW {
                    sql.push_str(&format!("${},", 2 + i * PER_ROW + c));
                }
                sql.push_str("$1,$1)");
            }
            sql.push_str(
                " ON CONFLICT (id) DO UPDATE SET first_name = excluded.first_name, \
                 last_name = excluded.last_name, other_names = excluded.other_names, dob = excluded.dob, \
                 dob_estimated = excluded.dob_estimated, gender = excluded.gender, \
                 address = excluded.address, postcode = excluded.postcode, \
                 change_seq = excluded.change_seq, updated_at = excluded.updated_at \
                 WHERE persons.first_name IS DISTINCT FROM excluded.first_name \
                 OR persons.last_name IS DISTINCT FROM excluded.last_name \
                 OR persons.other_names IS DISTINCT FROM excluded.other_names \
                 OR persons.dob IS DISTINCT FROM excluded.dob \
                 OR persons.dob_estimated IS DISTINCT FROM excluded.dob_estimated \
                 OR persons.gender IS DISTINCT FROM excluded.gender \
                 OR persons.address IS DISTINCT FROM excluded.address \
                 OR persons.postcode IS DISTINCT FROM excluded.postcode \
                 RETURNING created_at",
            );
            let mut q = sqlx::query(&sql).bind(now_ms);
            for p in chunk {
                q = q
                    .bind(p.id.as_str())
                    .bind(p.first_name.as_deref())
                    .bind(p.last_name.as_deref())
                    .bind(join_other(&p.other_names))
                    .bind(p.dob.as_deref())
                    .bind(i64::from(p.dob_estimated))
                    .bind(p.gender.as_deref())
                    .bind(p.address.as_deref())
                    .bind(p.postcode.as_deref())
                    .bind(seq);
                seq += 1;
            }
            let rows = q.fetch_all(&mut *tx).await?;
            // A new row was created now; an updated one keeps its earlier created_at.
            let mut inserted = 0;
            for r in &rows {
                if r.try_get::<i64, _>("created_at")? == now_ms {
                    inserted += 1;
                }
            }
            counts.inserted += inserted;
            counts.updated += rows.len() as u64 - inserted;
            counts.unchanged += (chunk.len() - rows.len()) as u64;
        }
        tx.commit().await?;
        Ok(counts)
    }

    pub async fn person(&self, id: &str) -> Result<Option<PersonRow>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM persons WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(person_from_row).transpose()
    }

    /// A new person (created from a referral), inside `tx` so the link and the audit
    /// record commit with it. `None` if the id is already taken (draw another).
    pub async fn create_person(
        &self,
        tx: &mut Tx<'_>,
        p: &PersonData,
        now: OffsetDateTime,
    ) -> Result<Option<PersonRow>> {
        let seq = reserve_seq(tx, 1).await?;
        let row = sqlx::query(&format!(
            "INSERT INTO persons (id, first_name, last_name, other_names, dob, dob_estimated, gender, \
             address, postcode, change_seq, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
             ON CONFLICT (id) DO NOTHING RETURNING {COLUMNS}"
        ))
        .bind(p.id.as_str())
        .bind(p.first_name.as_deref())
        .bind(p.last_name.as_deref())
        .bind(join_other(&p.other_names))
        .bind(p.dob.as_deref())
        .bind(i64::from(p.dob_estimated))
        .bind(p.gender.as_deref())
        .bind(p.address.as_deref())
        .bind(p.postcode.as_deref())
        .bind(seq)
        .bind(to_ms(now))
        .fetch_optional(&mut **tx)
        .await?;
        row.as_ref().map(person_from_row).transpose()
    }

    /// Staff corrections to a person (the referral keeps what the referrer wrote). Written
    /// only if the person is still at `expected_seq` (the version the form showed).
    pub async fn update_person(
        &self,
        tx: &mut Tx<'_>,
        p: &PersonData,
        expected_seq: i64,
        now: OffsetDateTime,
    ) -> Result<PersonUpdate> {
        let seq = reserve_seq(tx, 1).await?;
        let row = sqlx::query(&format!(
            "UPDATE persons SET first_name = $1, last_name = $2, other_names = $3, dob = $4, \
             dob_estimated = $5, gender = $6, address = $7, postcode = $8, change_seq = $9, updated_at = $10 \
             WHERE id = $11 AND change_seq = $12 RETURNING {COLUMNS}"
        ))
        .bind(p.first_name.as_deref())
        .bind(p.last_name.as_deref())
        .bind(join_other(&p.other_names))
        .bind(p.dob.as_deref())
        .bind(i64::from(p.dob_estimated))
        .bind(p.gender.as_deref())
        .bind(p.address.as_deref())
        .bind(p.postcode.as_deref())
        .bind(seq)
        .bind(to_ms(now))
        .bind(p.id.as_str())
        .bind(expected_seq)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(r) = row {
            return Ok(PersonUpdate::Updated(Box::new(person_from_row(&r)?)));
        }
        let exists = sqlx::query("SELECT 1 AS one FROM persons WHERE id = $1")
            .bind(p.id.as_str())
            .fetch_optional(&mut **tx)
            .await?
            .is_some();
        Ok(if exists {
            PersonUpdate::Conflict
        } else {
            PersonUpdate::NotFound
        })
    }

    /// People inserted or changed after change number `seq`, in change order, at most
    /// `limit`. From 0 in pages, this is the full load for the matching index at start-up;
    /// afterwards, polling with the last number seen picks up every change, including
    /// those made by other instances.
    pub async fn persons_changed_since(&self, seq: i64, limit: i64) -> Result<Vec<PersonRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM persons WHERE change_seq > $1 ORDER BY change_seq LIMIT $2"
        ))
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(person_from_row).collect()
    }

    /// The answers (`data` JSON) of the most recently submitted referrals, newest first, at
    /// most `limit`, with their row ids: the past referral children the matching model is
    /// fitted on (walks the `submitted_at` index).
    pub async fn recent_referral_data(&self, limit: i64) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query(
            "SELECT id, data FROM referrals WHERE submitted_at IS NOT NULL \
             ORDER BY submitted_at DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("data")?)))
            .collect()
    }

    /// Number of people in the index.
    pub async fn persons_count(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM persons")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Links the child at `child_index` of a referral to a person, inside `tx`.
    pub async fn link_person(
        &self,
        tx: &mut Tx<'_>,
        referral_id: i64,
        child_index: i64,
        person_id: &str,
        actor_user_id: i64,
        now: OffsetDateTime,
    ) -> Result<LinkOutcome> {
        let person = sqlx::query("SELECT 1 AS one FROM persons WHERE id = $1")
            .bind(person_id)
            .fetch_optional(&mut **tx)
            .await?;
        if person.is_none() {
            return Ok(LinkOutcome::NoSuchPerson);
        }
        // The partial unique index allows one current link per child; the NOT EXISTS keeps
        // the common case from raising an error at all.
        let row = sqlx::query(
            "INSERT INTO referral_person_links (referral_id, child_index, person_id, linked_by, linked_at) \
             SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM referral_person_links \
             WHERE referral_id = $1 AND child_index = $2 AND unlinked_at IS NULL) RETURNING id",
        )
        .bind(referral_id)
        .bind(child_index)
        .bind(person_id)
        .bind(actor_user_id)
        .bind(to_ms(now))
        .fetch_optional(&mut **tx)
        .await;
        match row {
            Ok(Some(r)) => Ok(LinkOutcome::Linked {
                link_id: r.try_get("id")?,
            }),
            Ok(None) => Ok(LinkOutcome::ChildAlreadyLinked),
            Err(e) if crate::is_unique_violation(&e) => Ok(LinkOutcome::ChildAlreadyLinked),
            Err(e) => Err(e.into()),
        }
    }

    /// Undoes a current link, keeping who, when and why. False if it was not current.
    pub async fn unlink_person(
        &self,
        tx: &mut Tx<'_>,
        link_id: i64,
        actor_user_id: i64,
        reason: &ehm_domain::mash::UnlinkReason,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE referral_person_links SET unlinked_by = $1, unlinked_at = $2, unlink_reason = $3 \
             WHERE id = $4 AND unlinked_at IS NULL",
        )
        .bind(actor_user_id)
        .bind(to_ms(now))
        .bind(reason.as_str())
        .bind(link_id)
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every link of a referral, current and undone, oldest first.
    pub async fn links_of_referral(&self, referral_id: i64) -> Result<Vec<LinkRow>> {
        let rows = sqlx::query(
            "SELECT id, referral_id, child_index, person_id, linked_by, linked_at, unlinked_by, unlinked_at, \
             unlink_reason FROM referral_person_links WHERE referral_id = $1 ORDER BY id",
        )
        .bind(referral_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(link_from_row).collect()
    }

    /// The referrals currently linked to a person (newest first): "other referrals about
    /// this child" on the referral view.
    pub async fn referrals_of_person(&self, person_id: &str) -> Result<Vec<PersonReferral>> {
        let rows = sqlx::query(
            "SELECT r.id, r.public_id, r.reference, r.status, r.submitted_at, l.child_index \
             FROM referral_person_links l JOIN referrals r ON r.id = l.referral_id \
             WHERE l.person_id = $1 AND l.unlinked_at IS NULL ORDER BY r.submitted_at DESC, r.id DESC",
        )
        .bind(person_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PersonReferral {
                    referral_id: r.try_get("id")?,
                    public_id: r.try_get("public_id")?,
                    reference: r.try_get("reference")?,
                    status: r.try_get("status")?,
                    submitted_at: r.try_get::<Option<i64>, _>("submitted_at")?.map(from_ms),
                    child_index: r.try_get("child_index")?,
                })
            })
            .collect()
    }
}
