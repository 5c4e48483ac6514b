use crate::row::Row as ColumnRow;
use crate::{Result, StorageError, Store, Tx, from_ms, is_unique_violation, to_ms};
use ehm_domain::account::{Email, Role};
use sqlx::Row;
use time::OffsetDateTime;

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub verified_at: Option<OffsetDateTime>,
    pub totp_secret: Option<String>,
    pub totp_enrolled: bool,
    pub totp_last_step: i64,
    pub created_at: OffsetDateTime,
    pub password_changed_at: OffsetDateTime,
    pub disabled: bool,
}

pub struct NewUser<'a> {
    pub email: &'a Email,
    pub display_name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
    /// Staff created by an administrator need no email verification.
    pub verified: bool,
}

const COLUMNS: &str = "id, email, display_name, role, password_hash, verified_at, totp_secret, \
    totp_enrolled_at, totp_last_step, created_at, password_changed_at, disabled";

/// [`COLUMNS`] from a join where the users table is `u`.
pub(crate) const PREFIXED_COLUMNS: &str = "u.id, u.email, u.display_name, u.role, u.password_hash, \
    u.verified_at, u.totp_secret, u.totp_enrolled_at, u.totp_last_step, u.created_at, \
    u.password_changed_at, u.disabled";

pub(crate) fn user_from_row<R: ColumnRow + ?Sized>(row: &R) -> Result<User> {
    let role = row.text("role")?;
    Ok(User {
        id: row.int("id")?,
        email: row.text("email")?,
        display_name: row.text("display_name")?,
        role: Role::parse(&role)
            .map_err(|_| StorageError::Corrupt(format!("unknown role {role}")))?,
        password_hash: row.text("password_hash")?,
        verified_at: row.opt_int("verified_at")?.map(from_ms),
        totp_secret: row.opt_text("totp_secret")?,
        totp_enrolled: row.opt_int("totp_enrolled_at")?.is_some(),
        totp_last_step: row.int("totp_last_step")?,
        created_at: from_ms(row.int("created_at")?),
        password_changed_at: from_ms(row.int("password_changed_at")?),
        disabled: row.int("disabled")? != 0,
    })
}

impl Store {
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn create_user(
        &self,
        tx: &mut Tx<'_>,
        user: NewUser<'_>,
        now: OffsetDateTime,
    ) -> Result<i64> {
        let now = to_ms(now);
        let row = sqlx::query(
            "INSERT INTO users (email, display_name, role, password_hash, verified_at, created_at, password_changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(user.email.as_str())
        .bind(user.display_name)
        .bind(user.role.as_str())
        .bind(user.password_hash)
        .bind(if user.verified { Some(now) } else { None })
        .bind(now)
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| if is_unique_violation(&e) { StorageError::EmailTaken } else { e.into() })?;
        Ok(row.try_get("id")?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE email = $1"))
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// A page of accounts, staff before referrers (then by role and email), and how many
    /// match: with `text`, those whose email address or name contains it, ignoring case.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn search_users(
        &self,
        text: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<User>, i64)> {
        let pattern = text.map(str::trim).filter(|t| !t.is_empty()).map(|t| {
            let mut p = String::from("%");
            for ch in t.to_lowercase().chars() {
                if matches!(ch, '%' | '_' | '\\') {
                    p.push('\\');
                }
                p.push(ch);
            }
            p.push('%');
            p
        });
        let where_ = if pattern.is_some() {
            "WHERE lower(email) LIKE $1 ESCAPE '\\' OR lower(display_name) LIKE $1 ESCAPE '\\'"
        } else {
            ""
        };
        let (lim, off) = if pattern.is_some() {
            ("$2", "$3")
        } else {
            ("$1", "$2")
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM users {where_} \
             ORDER BY CASE WHEN role = '{referrer}' THEN 1 ELSE 0 END, role, email \
             LIMIT {lim} OFFSET {off}",
            referrer = Role::Referrer.as_str()
        );
        let count_sql = format!("SELECT COUNT(*) AS n FROM users {where_}");
        let mut q = sqlx::query(&sql);
        let mut c = sqlx::query(&count_sql);
        if let Some(p) = &pattern {
            q = q.bind(p.clone());
            c = c.bind(p.clone());
        }
        let total: i64 = c.fetch_one(&self.pool).await?.try_get("n")?;
        if offset >= total {
            // A page past the end: no rows to step over.
            return Ok((Vec::new(), total));
        }
        let rows = q
            .bind(limit.max(1))
            .bind(offset.max(0))
            .fetch_all(&self.pool)
            .await?;
        let users = rows.iter().map(user_from_row).collect::<Result<Vec<_>>>()?;
        Ok((users, total))
    }

    /// Accounts with one of `roles` (read through the role index), disabled ones included.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn users_with_roles(&self, roles: &[Role]) -> Result<Vec<User>> {
        if roles.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = (1..=roles.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM users WHERE role IN ({}) ORDER BY id",
            list.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for r in roles {
            q = q.bind(r.as_str());
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(user_from_row).collect()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn count_users(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_id = user_id))]
    pub async fn mark_verified(
        &self,
        tx: &mut Tx<'_>,
        user_id: i64,
        now: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query("UPDATE users SET verified_at = $1 WHERE id = $2 AND verified_at IS NULL")
            .bind(to_ms(now))
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Change the password and end every session of the user (ASVS V7.4.3).
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = user_id))]
    pub async fn set_password(
        &self,
        tx: &mut Tx<'_>,
        user_id: i64,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1, password_changed_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(to_ms(now))
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Enrol an authenticator app: the secret and the step of the code that proved it.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = user_id))]
    pub async fn enrol_totp(
        &self,
        user_id: i64,
        secret: &str,
        step: i64,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_secret = $1, totp_enrolled_at = $2, totp_last_step = $3 \
             WHERE id = $4 AND totp_enrolled_at IS NULL",
        )
        .bind(secret)
        .bind(to_ms(now))
        .bind(step)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Record use of a TOTP time step; false when that step (or a later one) was already
    /// used, so one code cannot be replayed.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = user_id))]
    pub async fn use_totp_step(&self, user_id: i64, step: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1",
        )
        .bind(step)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_id = user_id))]
    pub async fn set_disabled(&self, user_id: i64, disabled: bool) -> Result<()> {
        sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(i64::from(disabled))
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_joined_columns_are_the_columns() {
        let prefixed: Vec<String> = super::COLUMNS
            .split(',')
            .map(|c| format!("u.{}", c.trim()))
            .collect();
        let joined: Vec<&str> = super::PREFIXED_COLUMNS.split(',').map(str::trim).collect();
        assert_eq!(prefixed, joined);
    }
}
