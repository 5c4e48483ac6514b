//! Delivers the email outbox. Each message is claimed with a lease (so two workers never
//! send it at once), sent, then marked sent. A failure is retried with exponential backoff;
//! a crash between sending and marking leaves the lease to expire and the message is sent
//! again with the same Message-ID (at-least-once, recognisable as a duplicate) — never lost.

use ehm_mail::{Mailer, Outgoing};
use ehm_storage::{OutboxMessage, Store};
use std::time::Duration as StdDuration;
use time::{Duration, OffsetDateTime};
use tokio::sync::watch;

const LEASE: Duration = Duration::minutes(2);
const IDLE_POLL: StdDuration = StdDuration::from_millis(500);

/// Delay before the next attempt after `attempts` failures: 10 s, 20 s, 40 s … capped at 1 hour.
pub fn backoff(attempts: i64) -> Duration {
    let exp = attempts.clamp(1, 20) - 1;
    let secs = 10i64.saturating_mul(1i64 << exp.min(12));
    Duration::seconds(secs.min(3600))
}

/// Deliver one due message if there is one. Returns true if a message was handled.
pub async fn deliver_one(
    store: &Store,
    mailer: &Mailer,
) -> Result<bool, ehm_storage::StorageError> {
    let Some(msg) = store.claim_mail(OffsetDateTime::now_utc(), LEASE).await? else {
        return Ok(false);
    };
    send_claimed(store, mailer, &msg).await?;
    Ok(true)
}

#[tracing::instrument(skip_all, fields(outbox_id = msg.id, attempt = msg.attempts))]
async fn send_claimed(
    store: &Store,
    mailer: &Mailer,
    msg: &OutboxMessage,
) -> Result<(), ehm_storage::StorageError> {
    let out = Outgoing {
        message_id: &msg.message_id,
        to: &msg.to,
        subject: &msg.subject,
        body_text: &msg.body_text,
    };
    match mailer.send(&out).await {
        Ok(()) => {
            store
                .mark_mail_sent(msg.id, OffsetDateTime::now_utc())
                .await?;
            tracing::info!("email delivered");
        }
        Err(e) => {
            let retry_at = OffsetDateTime::now_utc() + backoff(msg.attempts);
            // The transport error names servers and codes, not the message's content.
            tracing::warn!(error = %e, "email delivery failed; will retry");
            store
                .mark_mail_failed(msg.id, &e.to_string(), retry_at)
                .await?;
        }
    }
    Ok(())
}

/// Replace anything that looks like an email address.
pub fn redact_addresses(text: &str) -> String {
    text.split(' ')
        .map(|w| if w.contains('@') { "[address]" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Run until `shutdown` changes. Storage errors are logged and retried after a pause.
pub async fn run(store: Store, mailer: Mailer, mut shutdown: watch::Receiver<bool>) {
    loop {
        let handled = match deliver_one(&store, &mailer).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "outbox worker storage error");
                false
            }
        };
        if *shutdown.borrow() {
            return;
        }
        if !handled {
            tokio::select! {
                _ = tokio::time::sleep(IDLE_POLL) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_smtp_errors_are_redacted() {
        let e = "permanent error (550): <kim.child.parent@example.org> mailbox unavailable";
        let r = redact_addresses(e);
        assert!(!r.contains("example.org"), "{r}");
        assert!(r.contains("mailbox unavailable"));
    }

    #[test]
    fn backoff_doubles_and_is_capped_at_an_hour() {
        assert_eq!(backoff(1), Duration::seconds(10));
        assert_eq!(backoff(2), Duration::seconds(20));
        assert_eq!(backoff(3), Duration::seconds(40));
        assert_eq!(backoff(30), Duration::seconds(3600));
    }
}
