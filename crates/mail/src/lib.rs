//! Email transport: a real SMTP server when configured, otherwise `.eml` files in a
//! folder (the embedded default, so a person trying the portal can read their codes).
//!
//! Messages are never sent from request handlers: they are written to the durable outbox
//! (see `ehm-storage`) and delivered by the outbox worker in `ehm-jobs`.

use lettre::message::{Mailbox, MultiPart, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid SMTP URL: {0}")]
    BadUrl(String),
    #[error("invalid address: {0}")]
    Address(String),
    #[error("could not build the message: {0}")]
    Build(String),
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
    #[error("could not write the message file: {0}")]
    Io(#[from] std::io::Error),
}

/// One message as the outbox hands it over.
pub struct Outgoing<'a> {
    /// Stable and unique: used as the Message-ID and the file name, so a retry after a
    /// crash is recognisable as the same message.
    pub message_id: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    /// The HTML alternative. With one, the message is `multipart/alternative`: the plain
    /// text first, the HTML second (clients show the last part they can display). Without
    /// one (a message queued before HTML bodies existed), it is plain text only.
    pub body_html: Option<&'a str>,
}

#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    Files {
        dir: PathBuf,
        from: Mailbox,
    },
}

impl Mailer {
    /// `smtp://host:port` (plain, for a local relay), `smtp://…?tls=required` or `smtps://…`.
    pub fn smtp(url: &str, from: &str) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::BadUrl(e.to_string()))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        Ok(Mailer::Smtp {
            transport,
            from: parse_mailbox(from)?,
        })
    }

    pub fn files(dir: impl Into<PathBuf>, from: &str) -> Result<Self, MailError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Mailer::Files {
            dir,
            from: parse_mailbox(from)?,
        })
    }

    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp { .. } => "SMTP".to_string(),
            Mailer::Files { dir, .. } => format!("files in {}", dir.display()),
        }
    }

    pub async fn send(&self, msg: &Outgoing<'_>) -> Result<(), MailError> {
        match self {
            Mailer::Smtp { transport, from } => {
                let m = build(from, msg)?;
                // The server's reply may quote the recipient (`550 5.1.1 <…>: Recipient
                // address rejected`): the error never carries an address on.
                transport
                    .send(m)
                    .await
                    .map_err(|e| MailError::Smtp(redact_addresses(&e.to_string())))?;
                Ok(())
            }
            Mailer::Files { dir, from } => {
                let m = build(from, msg)?;
                write_atomically(dir, msg.message_id, &m.formatted()).await
            }
        }
    }
}

fn parse_mailbox(s: &str) -> Result<Mailbox, MailError> {
    s.parse().map_err(|e: lettre::address::AddressError| {
        MailError::Address(redact_addresses(&e.to_string()))
    })
}

/// Replace every email address in `text` (an SMTP reply, a transport error) with
/// `[address]`, so that errors can be logged and stored without personal data:
/// `<kim@example.org>`, `kim@example.org:`, `"kim smith"@example.org`, `RCPT TO:<…>`, and
/// anything between `<` and `>` that contains an `@`.
pub fn redact_addresses(text: &str) -> String {
    const REDACTED: &str = "[address]";
    let chars: Vec<char> = text.chars().collect();
    let mut redact = vec![false; chars.len()];
    // Anything in angle brackets with an `@` in it: the brackets stay, the inside goes.
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '<'
            && let Some(len) = chars[i + 1..].iter().position(|&c| c == '>' || c == '<')
            && chars[i + 1 + len] == '>'
            && chars[i + 1..i + 1 + len].contains(&'@')
        {
            redact[i + 1..i + 1 + len].fill(true);
            i += len + 2;
            continue;
        }
        i += 1;
    }
    // Bare addresses: the local part (dot-atom or quoted) and the domain around each `@`.
    let local = |c: char| c.is_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c);
    let domain = |c: char| c.is_alphanumeric() || c == '.' || c == '-' || c == '_';
    for at in 0..chars.len() {
        if chars[at] != '@' || redact[at] {
            continue;
        }
        let mut start = at;
        if at > 0 && chars[at - 1] == '"' {
            if let Some(open) = chars[..at - 1].iter().rposition(|&c| c == '"') {
                start = open;
            }
        } else {
            while start > 0 && local(chars[start - 1]) {
                start -= 1;
            }
        }
        let mut end = at + 1;
        if chars.get(end) == Some(&'[') {
            if let Some(close) = chars[end..].iter().position(|&c| c == ']') {
                end += close + 1;
            }
        } else {
            while end < chars.len() && domain(chars[end]) {
                end += 1;
            }
            // A full stop or hyphen ending a sentence is not part of the domain.
            while end > at + 1 && matches!(chars[end - 1], '.' | '-') {
                end -= 1;
            }
        }
        if start < at || end > at + 1 {
            redact[start..end].fill(true);
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut in_redacted = false;
    for (c, r) in chars.iter().zip(&redact) {
        if *r {
            if !in_redacted {
                out.push_str(REDACTED);
            }
        } else {
            out.push(*c);
        }
        in_redacted = *r;
    }
    out
}

fn build(from: &Mailbox, msg: &Outgoing<'_>) -> Result<Message, MailError> {
    let domain = from.email.domain().to_string();
    let builder = Message::builder()
        .from(from.clone())
        .to(parse_mailbox(msg.to)?)
        .subject(msg.subject)
        .message_id(Some(format!("<{}@{}>", msg.message_id, domain)));
    match msg.body_html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            msg.body_text.to_string(),
            html.to_string(),
        )),
        None => builder
            .header(ContentType::TEXT_PLAIN)
            .body(msg.body_text.to_string()),
    }
    .map_err(|e| MailError::Build(e.to_string()))
}

/// Write `<message_id>.eml` via a temporary file and a rename, so a reader never sees half a
/// message and a retry overwrites rather than duplicates.
async fn write_atomically(dir: &Path, message_id: &str, bytes: &[u8]) -> Result<(), MailError> {
    let safe: String = message_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let tmp = dir.join(format!(".{safe}.tmp"));
    let path = dir.join(format!("{safe}.eml"));
    let mut f = tokio::fs::File::create(&tmp).await?;
    tokio::io::AsyncWriteExt::write_all(&mut f, bytes).await?;
    f.sync_all().await?;
    drop(f);
    tokio::fs::rename(&tmp, &path).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MimeHeaders;

    #[tokio::test]
    async fn a_file_mailer_writes_one_eml_per_message_id() {
        let dir = std::env::temp_dir().join(format!("ehm-mail-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mailer = Mailer::files(&dir, "Early Help portal <do-not-reply@example.org>").unwrap();
        let msg = Outgoing {
            message_id: "abc-123",
            to: "sam@example.org",
            subject: "Your code",
            body_text: "Code: 12345678",
            body_html: None,
        };
        mailer.send(&msg).await.unwrap();
        mailer.send(&msg).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let text = std::fs::read_to_string(dir.join("abc-123.eml")).unwrap();
        assert!(text.contains("Subject: Your code"));
        assert!(text.contains("Message-ID: <abc-123@example.org>"));
        assert!(text.contains("12345678"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_message_with_html_is_written_as_multipart_alternative_text_first() {
        let dir = std::env::temp_dir().join(format!("ehm-mail-alt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mailer = Mailer::files(&dir, "Early Help portal <do-not-reply@example.org>").unwrap();
        let msg = Outgoing {
            message_id: "alt-456",
            to: "sam@example.org",
            subject: "Your sign-in code",
            body_text: "Use this code to sign in:\n\n87654321\n",
            body_html: Some(
                "<!DOCTYPE html><html lang=\"en\"><body><p>Use this code to sign in:</p>\
                 <p style=\"font-size:36px\">87654321</p></body></html>",
            ),
        };
        // A retry rewrites the same file: the Message-ID, not the boundary, identifies it.
        mailer.send(&msg).await.unwrap();
        mailer.send(&msg).await.unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        let raw = std::fs::read(dir.join("alt-456.eml")).unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(parsed.message_id(), Some("alt-456@example.org"));
        assert_eq!(
            parsed.content_type().map(|c| (c.ctype(), c.subtype())),
            Some(("multipart", Some("alternative")))
        );
        let kinds: Vec<String> = parsed.parts[1..]
            .iter()
            .map(|p| {
                let c = p.content_type().unwrap();
                format!("{}/{}", c.ctype(), c.subtype().unwrap_or(""))
            })
            .collect();
        assert_eq!(kinds, ["text/plain", "text/html"]);
        // Lines end in CRLF on the wire, as RFC 5322 wants.
        assert_eq!(
            parsed.body_text(0).unwrap().replace("\r\n", "\n"),
            "Use this code to sign in:\n\n87654321\n"
        );
        let html = parsed.body_html(0).unwrap();
        assert!(html.contains("<html lang=\"en\">"), "{html}");
        assert!(html.contains(">87654321</p>"), "{html}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn addresses_are_redacted_in_every_form_an_smtp_reply_uses() {
        let cases = [
            (
                "permanent error (550): 5.1.1 <kit.rejected@example.org>: Recipient address rejected",
                "permanent error (550): 5.1.1 <[address]>: Recipient address rejected",
            ),
            (
                "kit@example.org: mailbox unavailable",
                "[address]: mailbox unavailable",
            ),
            ("RCPT TO:<a@b> refused", "RCPT TO:<[address]> refused"),
            (
                "\"Kit Rejected\"@example.org is unknown",
                "[address] is unknown",
            ),
            (
                "unknown user o'brien+x@mail.example.org.",
                "unknown user [address].",
            ),
            (
                "literal kim@[192.0.2.1] refused",
                "literal [address] refused",
            ),
            (
                "nothing personal @ all: 421 4.3.2",
                "nothing personal @ all: 421 4.3.2",
            ),
            ("ünïcode@exämple.org rejected", "[address] rejected"),
        ];
        for (input, want) in cases {
            assert_eq!(redact_addresses(input), want, "{input}");
        }
    }

    #[test]
    fn a_bad_smtp_url_is_a_clear_error() {
        assert!(matches!(
            Mailer::smtp("ftp://nowhere", "a@example.org"),
            Err(MailError::BadUrl(_))
        ));
    }

    #[test]
    fn a_bad_recipient_is_a_clear_error() {
        let from: Mailbox = "do-not-reply@example.org".parse().unwrap();
        let msg = Outgoing {
            message_id: "x",
            to: "not an address",
            subject: "s",
            body_text: "b",
            body_html: None,
        };
        assert!(matches!(build(&from, &msg), Err(MailError::Address(_))));
    }
}
