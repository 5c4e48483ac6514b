use crate::{Result, Store, Tx, from_ms, to_ms};
use sqlx::Row;
use time::OffsetDateTime;

/// One line of the append-only audit log. Identifiers only: never a name, a date
/// of birth, a password, a code or free text.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub actor_user_id: Option<i64>,
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: &'a str,
    pub outcome: &'a str,
    pub ip: &'a str,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditRecord {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor_user_id: Option<i64>,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub outcome: String,
    pub ip: String,
}

const INSERT: &str = "INSERT INTO audit_log (at, actor_user_id, action, object_type, object_id, outcome, ip) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

impl Store {
    pub async fn audit(&self, e: &AuditEntry<'_>, now: OffsetDateTime) -> Result<()> {
        sqlx::query(INSERT)
            .bind(to_ms(now))
            .bind(e.actor_user_id)
            .bind(e.action)
            .bind(e.object_type)
            .bind(e.object_id)
            .bind(e.outcome)
            .bind(e.ip)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Audit inside a transaction, so the record and the change commit together.
    pub async fn audit_tx(
        &self,
        tx: &mut Tx<'_>,
        e: &AuditEntry<'_>,
        now: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query(INSERT)
            .bind(to_ms(now))
            .bind(e.actor_user_id)
            .bind(e.action)
            .bind(e.object_type)
            .bind(e.object_id)
            .bind(e.outcome)
            .bind(e.ip)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub async fn list_audit(&self, limit: i64, offset: i64) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query(
            "SELECT id, at, actor_user_id, action, object_type, object_id, outcome, ip FROM audit_log \
             ORDER BY id DESC LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditRecord {
                    id: r.try_get("id")?,
                    at: from_ms(r.try_get("at")?),
                    actor_user_id: r.try_get("actor_user_id")?,
                    action: r.try_get("action")?,
                    object_type: r.try_get("object_type")?,
                    object_id: r.try_get("object_id")?,
                    outcome: r.try_get("outcome")?,
                    ip: r.try_get("ip")?,
                })
            })
            .collect()
    }
}
