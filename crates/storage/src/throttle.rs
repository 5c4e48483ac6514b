use crate::{Result, Store, from_ms, to_ms};
use sqlx::Row;
use time::{Duration, OffsetDateTime};

/// Failed-attempt counting keyed by an opaque string (a hash of the email address, for
/// instance), so that unknown and known accounts are throttled alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleState {
    Open,
    LockedUntil(OffsetDateTime),
}

impl Store {
    pub async fn throttle_state(&self, key: &str, now: OffsetDateTime) -> Result<ThrottleState> {
        let row = sqlx::query("SELECT locked_until FROM throttle WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        let locked: Option<i64> = match row {
            Some(r) => r.try_get("locked_until")?,
            None => None,
        };
        Ok(match locked {
            Some(until) if until > to_ms(now) => ThrottleState::LockedUntil(from_ms(until)),
            _ => ThrottleState::Open,
        })
    }

    /// Count a failure. After `max` failures within `window` the key is locked for `lock`.
    pub async fn throttle_failure(
        &self,
        key: &str,
        now: OffsetDateTime,
        max: i64,
        window: Duration,
        lock: Duration,
    ) -> Result<ThrottleState> {
        let now_ms = to_ms(now);
        let window_start_cutoff = to_ms(now - window);
        let row = sqlx::query(
            "INSERT INTO throttle (key, failures, window_start, locked_until) VALUES ($1, 1, $2, NULL) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN throttle.window_start < $3 THEN 1 ELSE throttle.failures + 1 END, \
               window_start = CASE WHEN throttle.window_start < $3 THEN $2 ELSE throttle.window_start END \
             RETURNING failures",
        )
        .bind(key)
        .bind(now_ms)
        .bind(window_start_cutoff)
        .fetch_one(&self.pool)
        .await?;
        let failures: i64 = row.try_get("failures")?;
        if failures >= max {
            let until = now + lock;
            sqlx::query("UPDATE throttle SET locked_until = $1, failures = 0, window_start = $2 WHERE key = $3")
                .bind(to_ms(until))
                .bind(now_ms)
                .bind(key)
                .execute(&self.pool)
                .await?;
            return Ok(ThrottleState::LockedUntil(until));
        }
        Ok(ThrottleState::Open)
    }

    pub async fn throttle_reset(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM throttle WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
