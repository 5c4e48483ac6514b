use crate::{Backend, Result, Store, Tx, from_ms, to_ms};
use sqlx::Row;
use sqlx::any::AnyRow;
use time::{Duration, OffsetDateTime};

/// What the plain-text body of a secret message (see [`Store::enqueue_secret_mail`])
/// becomes once it has been delivered; its HTML body becomes NULL.
const REMOVED_AFTER_DELIVERY: &str = "[removed after delivery]";

/// An email to send. Written in the same transaction as the change that causes it, so a
/// message exists exactly when its cause was committed.
pub struct NewMail<'a> {
    pub message_id: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    /// The HTML alternative (see `ehm_app::mails`), sent after the plain text.
    pub body_html: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub id: i64,
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub body_text: String,
    /// None for a message queued without one, and for a delivered secret message.
    pub body_html: Option<String>,
    pub created_at: OffsetDateTime,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<OffsetDateTime>,
    pub lease_until: Option<OffsetDateTime>,
    /// The bodies hold a secret (a one-time code): they are removed when the message is sent.
    pub secret: bool,
}

const COLUMNS: &str = "id, message_id, to_addr, subject, body_text, body_html, created_at, attempts, last_error, sent_at, lease_until, secret";

fn from_row(r: &AnyRow) -> Result<OutboxMessage> {
    Ok(OutboxMessage {
        id: r.try_get("id")?,
        message_id: r.try_get("message_id")?,
        to: r.try_get("to_addr")?,
        subject: r.try_get("subject")?,
        body_text: r.try_get("body_text")?,
        body_html: r.try_get("body_html")?,
        created_at: from_ms(r.try_get("created_at")?),
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
        sent_at: r.try_get::<Option<i64>, _>("sent_at")?.map(from_ms),
        lease_until: r.try_get::<Option<i64>, _>("lease_until")?.map(from_ms),
        secret: r.try_get::<i64, _>("secret")? != 0,
    })
}

impl Store {
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn enqueue_mail(
        &self,
        tx: &mut Tx<'_>,
        mail: NewMail<'_>,
        now: OffsetDateTime,
    ) -> Result<i64> {
        self.insert_mail(tx, mail, now, false).await
    }

    /// Queue a message whose bodies must not outlive its delivery (a one-time code): once it
    /// is marked sent, only "[removed after delivery]" is left of the text and the HTML is
    /// gone (NULL); a message that is never delivered is deleted (see [`Store::discard_mail`], [`Store::purge_sent_mail`]).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn enqueue_secret_mail(
        &self,
        tx: &mut Tx<'_>,
        mail: NewMail<'_>,
        now: OffsetDateTime,
    ) -> Result<i64> {
        self.insert_mail(tx, mail, now, true).await
    }

    async fn insert_mail(
        &self,
        tx: &mut Tx<'_>,
        mail: NewMail<'_>,
        now: OffsetDateTime,
        secret: bool,
    ) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO outbox (message_id, to_addr, subject, body_text, body_html, created_at, next_attempt_at, secret) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7) RETURNING id",
        )
        .bind(mail.message_id)
        .bind(mail.to)
        .bind(mail.subject)
        .bind(mail.body_text)
        .bind(mail.body_html)
        .bind(to_ms(now))
        .bind(i64::from(secret))
        .fetch_one(&mut **tx)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// Claim the oldest due message for `lease`. Several workers (in several processes) may
    /// call this at once: the lease condition is re-checked on the row itself, so exactly one
    /// of them gets each message; a worker that dies leaves a lease that simply expires.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn claim_mail(
        &self,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Result<Option<OutboxMessage>> {
        let now_ms = to_ms(now);
        let sql = format!(
            "UPDATE outbox SET lease_until = $1, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= $2 \
                         AND (lease_until IS NULL OR lease_until < $2) ORDER BY id LIMIT 1 {}) \
             AND sent_at IS NULL AND (lease_until IS NULL OR lease_until < $2) \
             RETURNING {COLUMNS}",
            self.skip_locked()
        );
        let row = sqlx::query(&sql)
            .bind(to_ms(now + lease))
            .bind(now_ms)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Mark a message delivered. A secret message loses both bodies in the same statement.
    #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
    pub async fn mark_mail_sent(&self, id: i64, now: OffsetDateTime) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET sent_at = $1, lease_until = NULL, last_error = NULL, \
             body_text = CASE WHEN secret <> 0 THEN $2 ELSE body_text END, \
             body_html = CASE WHEN secret <> 0 THEN NULL ELSE body_html END WHERE id = $3",
        )
        .bind(to_ms(now))
        .bind(REMOVED_AFTER_DELIVERY)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Delete a message that will not be sent (a code that expired before it could be
    /// delivered), so no copy of its body is kept.
    #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
    pub async fn discard_mail(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM outbox WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Record a failed attempt and when to try again. The error text must not contain
    /// personal data (callers pass the transport's error, not the message).
    #[tracing::instrument(level = "debug", skip_all, fields(id = id))]
    pub async fn mark_mail_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query("UPDATE outbox SET lease_until = NULL, last_error = $1, next_attempt_at = $2 WHERE id = $3")
            .bind(error)
            .bind(to_ms(retry_at))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Newest first, for the demo mailbox page.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn list_mail(&self, limit: i64) -> Result<Vec<OutboxMessage>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM outbox ORDER BY id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Delete messages sent before `cutoff` (they hold references and names), and messages
    /// still not delivered that were queued before it (they will not be: retrying has gone on
    /// for the whole retention period). Then leave no copy of them in the database files.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn purge_sent_mail(&self, cutoff: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM outbox WHERE (sent_at IS NOT NULL AND sent_at < $1) \
             OR (sent_at IS NULL AND created_at < $1)",
        )
        .bind(to_ms(cutoff))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() > 0 {
            match self.backend {
                Backend::Sqlite => {
                    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                        .execute(&self.pool)
                        .await?;
                }
                Backend::Postgres => {
                    sqlx::query("VACUUM outbox").execute(&self.pool).await?;
                }
            }
        }
        Ok(done.rows_affected())
    }
}
