use crate::{Result, Store, Tx, from_ms, to_ms};
use sqlx::Row;
use time::OffsetDateTime;

/// What a one-time code is for. A code for one purpose never works for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePurpose {
    VerifyEmail,
    SignIn,
    ResetPassword,
}

impl CodePurpose {
    fn as_str(self) -> &'static str {
        match self {
            CodePurpose::VerifyEmail => "verify-email",
            CodePurpose::SignIn => "sign-in",
            CodePurpose::ResetPassword => "reset-password",
        }
    }
}

/// The result of [`Store::reserve_code_attempt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeAttempt {
    /// The attempt is counted (it is number `attempts`): check the typed code against
    /// this hash.
    Check {
        code_id: i64,
        code_hash: String,
        attempts: i64,
    },
    /// No unused code (never sent, already used, or replaced by a newer one).
    NoCode,
    Expired,
    TooManyAttempts,
}

#[derive(Debug, Clone)]
pub struct OneTimeCode {
    pub id: i64,
    pub code_hash: String,
    pub expires_at: OffsetDateTime,
    pub attempts: i64,
    pub created_at: OffsetDateTime,
}

impl Store {
    /// Store a new code (hashed) and retire any earlier unused code for the same purpose.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = user_id))]
    pub async fn issue_code(
        &self,
        tx: &mut Tx<'_>,
        user_id: i64,
        purpose: CodePurpose,
        code_hash: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<i64> {
        sqlx::query("UPDATE one_time_codes SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL")
            .bind(to_ms(now))
            .bind(user_id)
            .bind(purpose.as_str())
            .execute(&mut **tx)
            .await?;
        let row = sqlx::query(
            "INSERT INTO one_time_codes (user_id, purpose, code_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(user_id)
        .bind(purpose.as_str())
        .bind(code_hash)
        .bind(to_ms(now))
        .bind(to_ms(expires_at))
        .fetch_one(&mut **tx)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// The current unused code for this purpose, whether or not it has expired.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = user_id))]
    pub async fn current_code(
        &self,
        user_id: i64,
        purpose: CodePurpose,
    ) -> Result<Option<OneTimeCode>> {
        let row = sqlx::query(
            "SELECT id, code_hash, expires_at, attempts, created_at FROM one_time_codes \
             WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(user_id)
        .bind(purpose.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(OneTimeCode {
                id: r.try_get("id")?,
                code_hash: r.try_get("code_hash")?,
                expires_at: from_ms(r.try_get("expires_at")?),
                attempts: r.try_get("attempts")?,
                created_at: from_ms(r.try_get("created_at")?),
            })
        })
        .transpose()
    }

    /// Reserve one attempt at the current code **before** checking it, in one atomic
    /// statement: while fewer than `max_attempts` have been made, the attempt is counted
    /// and the code's hash returned to check against. However many requests race, at most
    /// `max_attempts` ever see the hash.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = user_id))]
    pub async fn reserve_code_attempt(
        &self,
        user_id: i64,
        purpose: CodePurpose,
        max_attempts: i64,
        now: OffsetDateTime,
    ) -> Result<CodeAttempt> {
        let row = sqlx::query(
            "UPDATE one_time_codes SET attempts = attempts + 1 \
             WHERE id = (SELECT id FROM one_time_codes WHERE user_id = $1 AND purpose = $2 \
                         AND used_at IS NULL ORDER BY id DESC LIMIT 1) \
               AND used_at IS NULL AND attempts < $3 AND expires_at > $4 \
             RETURNING id, code_hash, attempts",
        )
        .bind(user_id)
        .bind(purpose.as_str())
        .bind(max_attempts)
        .bind(to_ms(now))
        .fetch_optional(&self.pool)
        .await?;
        if let Some(r) = row {
            return Ok(CodeAttempt::Check {
                code_id: r.try_get("id")?,
                code_hash: r.try_get("code_hash")?,
                attempts: r.try_get("attempts")?,
            });
        }
        Ok(match self.current_code(user_id, purpose).await? {
            None => CodeAttempt::NoCode,
            Some(c) if c.attempts >= max_attempts => CodeAttempt::TooManyAttempts,
            Some(c) if c.expires_at <= now => CodeAttempt::Expired,
            // Used or replaced between the two statements.
            Some(_) => CodeAttempt::NoCode,
        })
    }

    /// Mark a code used. Returns false if it had already been used (a second tab, a replay).
    #[tracing::instrument(level = "debug", skip_all, fields(code_id = code_id))]
    pub async fn consume_code(
        &self,
        tx: &mut Tx<'_>,
        code_id: i64,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let done =
            sqlx::query("UPDATE one_time_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
                .bind(to_ms(now))
                .bind(code_id)
                .execute(&mut **tx)
                .await?;
        Ok(done.rows_affected() == 1)
    }
}
