//! Demo mode only: a mailbox page showing the emails the portal wrote as `.eml` files (the
//! file transport; demo mode never uses SMTP), so a person trying the portal on their own
//! machine can read the codes it sends. The database keeps no copy of a code once its email
//! is delivered, so the files are the only place to read them.

use axum::extract::State;
use axum::response::Response;
use minijinja::context;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{AppError, AppResult};
use crate::render::{Errors, page};
use crate::session::Session;
use crate::state::AppState;

/// The newest messages shown.
const SHOWN: usize = 50;

#[derive(Serialize)]
struct Mail {
    to: String,
    subject: String,
    body: String,
    created: String,
}

#[tracing::instrument(skip_all)]
pub async fn mailbox(State(state): State<AppState>, session: Session) -> AppResult<Response> {
    if !state.settings.demo {
        return Err(AppError::NotFound);
    }
    let Some(dir) = state.demo_mailbox.clone() else {
        return Err(AppError::NotFound);
    };
    let mails = tokio::task::spawn_blocking(move || read_mailbox(&dir))
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(page(
        &state,
        &session,
        "pages/mailbox.html",
        "Demo mailbox",
        &Errors::default(),
        context! { mails },
    ))
}

/// The `.eml` files in `dir`, newest first, decoded for reading.
fn read_mailbox(dir: &Path) -> Vec<Mail> {
    let mut files: Vec<(SystemTime, PathBuf)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .map(|e| {
                    let modified = e
                        .metadata()
                        .and_then(|m| m.modified())
                        .unwrap_or(SystemTime::UNIX_EPOCH);
                    (modified, e.path())
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort_by(|a, b| b.cmp(a));
    files
        .into_iter()
        .take(SHOWN)
        .filter_map(|(modified, path)| {
            let raw = std::fs::read(&path).ok()?;
            Some(decode(&raw, modified))
        })
        .collect()
}

fn decode(raw: &[u8], modified: SystemTime) -> Mail {
    let f = time::macros::format_description!(
        "[day padding:none] [month repr:short] [year] [hour]:[minute]:[second] UTC"
    );
    let created = time::OffsetDateTime::from(modified)
        .format(&f)
        .unwrap_or_default();
    match mail_parser::MessageParser::default().parse(raw) {
        Some(msg) => Mail {
            to: msg
                .to()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.address())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
            subject: msg.subject().unwrap_or_default().to_string(),
            body: msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
            created,
        },
        None => Mail {
            to: String::new(),
            subject: "(a message that could not be read)".into(),
            body: String::from_utf8_lossy(raw).into_owned(),
            created,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_and_base64_bodies_are_decoded() {
        let qp = b"To: sam.teacher@example.org\r\nSubject: Your sign-in code\r\n\
            Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
            Use this code to sign in for the Early Help referral portal =E2=80=93 a lo=\r\nng line:\r\n\r\n12345678\r\n";
        let m = decode(qp, SystemTime::UNIX_EPOCH);
        assert_eq!(m.to, "sam.teacher@example.org");
        assert_eq!(m.subject, "Your sign-in code");
        assert!(m.body.contains("portal \u{2013} a long line"), "{}", m.body);
        assert!(m.body.contains("12345678"));
        let b64 = b"To: sam.teacher@example.org\r\nSubject: Code\r\n\
            Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nQ29kZTogODc2NTQzMjE=\r\n";
        assert_eq!(
            decode(b64, SystemTime::UNIX_EPOCH).body.trim(),
            "Code: 87654321"
        );
    }
}
