use crate::row::{Prefixed, Row};
use crate::{Result, Store, from_ms, to_ms};
use time::OffsetDateTime;

/// A server-side session. The cookie holds a random token; only its SHA-256 is stored.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id_hash: String,
    pub user_id: Option<i64>,
    pub stage: String,
    pub csrf_token: String,
    pub data: String,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
}

/// A session, its account, and a referral: see [`Store::session_with_referral`].
pub type SessionWithReferral = (SessionRow, Option<crate::User>, Option<crate::ReferralRow>);

/// The session's columns, with its creation time named apart from its account's.
const SESSION_COLUMNS: &str = "s.id_hash, s.user_id, s.stage, s.csrf_token, s.data, \
    s.created_at AS s_created_at, s.last_seen_at";

fn session_from_row(r: &dyn Row) -> Result<(SessionRow, Option<crate::User>)> {
    let session = SessionRow {
        id_hash: r.text("id_hash")?,
        user_id: r.opt_int("user_id")?,
        stage: r.text("stage")?,
        csrf_token: r.text("csrf_token")?,
        data: r.text("data")?,
        created_at: from_ms(r.int("s_created_at")?),
        last_seen_at: from_ms(r.int("last_seen_at")?),
    };
    let user = match r.opt_int("id")? {
        Some(_) => Some(crate::users::user_from_row(r)?),
        None => None,
    };
    Ok((session, user))
}

impl Store {
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn create_session(&self, row: &SessionRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, stage, csrf_token, data, created_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&row.id_hash)
        .bind(row.user_id)
        .bind(&row.stage)
        .bind(&row.csrf_token)
        .bind(&row.data)
        .bind(to_ms(row.created_at))
        .bind(to_ms(row.last_seen_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRow>> {
        Ok(self.session_with_user(id_hash).await?.map(|(s, _)| s))
    }

    /// The session and, when it names an account, that account, in one round trip (every
    /// signed-in request needs both).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn session_with_user(
        &self,
        id_hash: &str,
    ) -> Result<Option<(SessionRow, Option<crate::User>)>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS}, {} FROM sessions s LEFT JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = $1",
            crate::users::PREFIXED_COLUMNS
        );
        self.read_one(&sql, &[id_hash], |r| session_from_row(r))
            .await
    }

    /// [`Store::session_with_user`] and the referral `public_id` (if there is one), in one
    /// round trip: a referral's pages need all three. Only read: what the session's user
    /// may do with the referral is decided afterwards, as for
    /// [`Store::referral_by_public_id`].
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn session_with_referral(
        &self,
        id_hash: &str,
        public_id: &str,
    ) -> Result<Option<SessionWithReferral>> {
        static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let sql = SQL.get_or_init(|| {
            let referral: Vec<String> = crate::referrals::COLUMNS
                .split(',')
                .map(|c| format!("r.{0} AS r_{0}", c.trim()))
                .collect();
            format!(
                "SELECT {SESSION_COLUMNS}, {}, {} FROM sessions s \
                 LEFT JOIN users u ON u.id = s.user_id \
                 LEFT JOIN referrals r ON r.public_id = $2 WHERE s.id_hash = $1",
                crate::users::PREFIXED_COLUMNS,
                referral.join(", ")
            )
        });
        self.read_one(sql, &[id_hash, public_id], |r| {
            let (session, user) = session_from_row(r)?;
            let referral = match r.opt_int("r_id")? {
                Some(_) => Some(crate::referrals::from_row(&Prefixed(r, "r_"))?),
                None => None,
            };
            Ok((session, user, referral))
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn touch_session(&self, id_hash: &str, now: OffsetDateTime) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(to_ms(now))
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn update_session(
        &self,
        id_hash: &str,
        user_id: Option<i64>,
        stage: &str,
        data: &str,
    ) -> Result<()> {
        sqlx::query("UPDATE sessions SET user_id = $1, stage = $2, data = $3 WHERE id_hash = $4")
            .bind(user_id)
            .bind(stage)
            .bind(data)
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A signed-in session that has timed out: it stays, signed out, with its user and its
    /// CSRF token, so that answers its pages post afterwards can be kept; `stage`
    /// says so. Its journey data is dropped.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn expire_session(&self, id_hash: &str, stage: &str) -> Result<()> {
        sqlx::query("UPDATE sessions SET stage = $1, data = '{}' WHERE id_hash = $2")
            .bind(stage)
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn delete_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Remove sessions idle since before `cutoff`. Returns how many were removed.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn purge_idle_sessions(&self, cutoff: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1")
            .bind(to_ms(cutoff))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
