//! Delivers the email outbox. Each message is claimed with a lease (so two workers never
//! send it at once), sent, then marked sent. A failure is retried with exponential backoff;
//! a crash between sending and marking leaves the lease to expire and the message is sent
//! again with the same Message-ID (at-least-once, recognisable as a duplicate) — never lost.

use ehm_mail::{Mailer, Outgoing};
use ehm_storage::{OutboxMessage, Store};
use std::time::Duration as StdDuration;
use time::{Duration, OffsetDateTime};
use tokio::sync::watch;

pub use ehm_mail::redact_addresses;

const LEASE: Duration = Duration::minutes(2);
/// A one-time code lives 10 minutes: a code email that could not be delivered within an
/// hour is deleted instead of being sent (and kept) any longer.
const SECRET_MAX_AGE: Duration = Duration::hours(1);
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
    if msg.secret && OffsetDateTime::now_utc() - msg.created_at > SECRET_MAX_AGE {
        store.discard_mail(msg.id).await?;
        tracing::warn!("a code email was not delivered within an hour; deleted unsent");
        return Ok(());
    }
    let out = Outgoing {
        message_id: &msg.message_id,
        to: &msg.to,
        subject: &msg.subject,
        body_text: &msg.body_text,
        body_html: msg.body_html.as_deref(),
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
            // The transport error names servers and codes, not the message's content; a
            // server's reply may quote the recipient, so addresses are redacted (again: the
            // mailer already does) before the error is logged or stored.
            let error = redact_addresses(&e.to_string());
            tracing::warn!(error = %error, "email delivery failed; will retry");
            store.mark_mail_failed(msg.id, &error, retry_at).await?;
        }
    }
    Ok(())
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

    async fn temp_store(name: &str) -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("ehm-jobs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
        (Store::connect(&url).await.unwrap(), dir)
    }

    async fn queue_code_mail(store: &Store, at: OffsetDateTime) {
        let mut tx = store.begin().await.unwrap();
        store
            .enqueue_secret_mail(
                &mut tx,
                ehm_storage::NewMail {
                    message_id: "code-1",
                    to: "robin.example@example.org",
                    subject: "Your sign-in code",
                    body_text: "Use this code to sign in: 48213579",
                    body_html: Some("<p>Use this code to sign in:</p><p>48213579</p>"),
                },
                at,
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    #[tokio::test]
    async fn a_delivered_code_email_keeps_no_copy_of_the_code() {
        let (store, dir) = temp_store("sent").await;
        queue_code_mail(&store, OffsetDateTime::now_utc()).await;
        let mailer = Mailer::files(dir.join("out"), "do-not-reply@example.org").unwrap();
        assert!(deliver_one(&store, &mailer).await.unwrap());
        let rows = store.list_mail(10).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert!(rows[0].sent_at.is_some());
        assert_eq!(
            rows[0].body_text, "[removed after delivery]",
            "{:?}",
            rows[0]
        );
        assert_eq!(rows[0].body_html, None, "{:?}", rows[0]);
        // What was delivered had both bodies.
        let file = std::fs::read_dir(dir.join("out"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let eml = std::fs::read_to_string(file).unwrap();
        assert!(eml.contains("multipart/alternative"), "{eml}");
        assert!(eml.contains("<p>48213579</p>"), "{eml}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_code_email_not_delivered_within_an_hour_is_deleted_unsent() {
        let (store, dir) = temp_store("expired").await;
        queue_code_mail(&store, OffsetDateTime::now_utc() - Duration::minutes(61)).await;
        let mailer = Mailer::files(dir.join("out"), "do-not-reply@example.org").unwrap();
        assert!(deliver_one(&store, &mailer).await.unwrap());
        assert!(store.list_mail(10).await.unwrap().is_empty());
        assert_eq!(std::fs::read_dir(dir.join("out")).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn an_ordinary_email_keeps_both_bodies_and_one_without_html_goes_as_plain_text() {
        let (store, dir) = temp_store("bodies").await;
        let now = OffsetDateTime::now_utc();
        let mut tx = store.begin().await.unwrap();
        for (id, html) in [
            (
                "with-html",
                Some("<p>Your reference number is: EH-TEST-0001</p>"),
            ),
            ("queued-before-html", None),
        ] {
            store
                .enqueue_mail(
                    &mut tx,
                    ehm_storage::NewMail {
                        message_id: id,
                        to: "robin.example@example.org",
                        subject: "Referral submitted: EH-TEST-0001",
                        body_text: "Your reference number is: EH-TEST-0001",
                        body_html: html,
                    },
                    now,
                )
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        let mailer = Mailer::files(dir.join("out"), "do-not-reply@example.org").unwrap();
        while deliver_one(&store, &mailer).await.unwrap() {}
        let rows = store.list_mail(10).await.unwrap();
        assert!(rows.iter().all(|m| m.sent_at.is_some()), "{rows:?}");
        let with = rows.iter().find(|m| m.message_id == "with-html").unwrap();
        assert_eq!(
            with.body_html.as_deref(),
            Some("<p>Your reference number is: EH-TEST-0001</p>")
        );
        let eml = |id: &str| std::fs::read_to_string(dir.join("out").join(format!("{id}.eml")));
        let alt = eml("with-html").unwrap();
        assert!(alt.contains("Content-Type: multipart/alternative"), "{alt}");
        let plain = eml("queued-before-html").unwrap();
        assert!(!plain.contains("multipart"), "{plain}");
        assert!(plain.contains("Content-Type: text/plain"), "{plain}");
        assert!(plain.contains("EH-TEST-0001"), "{plain}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn mail_never_delivered_is_deleted_after_the_retention_period() {
        let (store, dir) = temp_store("undelivered").await;
        let now = OffsetDateTime::now_utc();
        let mut tx = store.begin().await.unwrap();
        for (id, age) in [("old", Duration::days(8)), ("recent", Duration::days(6))] {
            store
                .enqueue_mail(
                    &mut tx,
                    ehm_storage::NewMail {
                        message_id: id,
                        to: "robin.example@example.org",
                        subject: "Referral submitted",
                        body_text: "About Peregrina Ashdownfield",
                        body_html: Some("<p>About Peregrina Ashdownfield</p>"),
                    },
                    now - age,
                )
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(
            store
                .purge_sent_mail(now - Duration::days(7))
                .await
                .unwrap(),
            1
        );
        let left = store.list_mail(10).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].message_id, "recent");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn backoff_doubles_and_is_capped_at_an_hour() {
        assert_eq!(backoff(1), Duration::seconds(10));
        assert_eq!(backoff(2), Duration::seconds(20));
        assert_eq!(backoff(3), Duration::seconds(40));
        assert_eq!(backoff(30), Duration::seconds(3600));
    }
}
