use crate::{Result, Store, from_ms, to_ms};
use sqlx::Row;
use time::{Duration, OffsetDateTime};

/// Attempt counting keyed by an opaque string (a hash of an email address with a client
/// address, for instance), so that unknown and known accounts are throttled alike.
///
/// A key allows `max` attempts in a fixed window that starts at its first attempt. The
/// attempt is counted **before** the work it guards is done (a password or code check),
/// in one atomic statement, so concurrent requests can never get more than `max` turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Go ahead; this was attempt number `count` of the window.
    Allowed { count: i64 },
    /// Too many attempts; the window ends at `until`.
    Refused { until: OffsetDateTime },
}

impl Gate {
    pub fn is_allowed(self) -> bool {
        matches!(self, Gate::Allowed { .. })
    }
}

impl Store {
    /// Count one attempt against `key` and say whether it may go ahead.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn throttle_reserve(
        &self,
        key: &str,
        now: OffsetDateTime,
        max: i64,
        window: Duration,
    ) -> Result<Gate> {
        let row = sqlx::query(
            "INSERT INTO throttle (key, failures, window_start, locked_until) VALUES ($1, 1, $2, NULL) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN throttle.window_start <= $3 THEN 1 ELSE throttle.failures + 1 END, \
               window_start = CASE WHEN throttle.window_start <= $3 THEN $2 ELSE throttle.window_start END \
             RETURNING failures, window_start",
        )
        .bind(key)
        .bind(to_ms(now))
        .bind(to_ms(now - window))
        .fetch_one(&self.pool)
        .await?;
        let count: i64 = row.try_get("failures")?;
        let start = from_ms(row.try_get("window_start")?);
        Ok(if count <= max {
            Gate::Allowed { count }
        } else {
            Gate::Refused {
                until: start + window,
            }
        })
    }

    /// Whether an attempt would be allowed now, without counting one.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn throttle_peek(
        &self,
        key: &str,
        now: OffsetDateTime,
        max: i64,
        window: Duration,
    ) -> Result<Gate> {
        let row = sqlx::query("SELECT failures, window_start FROM throttle WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(Gate::Allowed { count: 0 });
        };
        let count: i64 = row.try_get("failures")?;
        let start = from_ms(row.try_get("window_start")?);
        Ok(if start + window <= now || count < max {
            Gate::Allowed { count }
        } else {
            Gate::Refused {
                until: start + window,
            }
        })
    }

    /// Give back one attempt (the guarded work succeeded and should not count).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn throttle_refund(&self, key: &str) -> Result<()> {
        sqlx::query("UPDATE throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn throttle_reset(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM throttle WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Remove counters whose window ended before `cutoff`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn purge_throttle(&self, cutoff: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM throttle WHERE window_start < $1")
            .bind(to_ms(cutoff))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
