//! Submitting a referral: one transaction gives it its reference, queues the
//! confirmation emails and writes the audit record.

use ehm_domain::referral::{BirthStatus, ReferenceNumber, ReferralDraft, parse_referral};
use ehm_storage::{NewMail, StorageError, Submission};

use super::{Loaded, entry, now};
use crate::{App, Result, crypto, mails};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    Submitted {
        reference: String,
    },
    /// Already submitted (a second click, the back button): never a second referral.
    AlreadySubmitted,
    /// Before the go-live date nobody can refer.
    Closed,
    /// The draft changed since the check page was shown: check the answers again.
    Changed,
    /// Something is missing or wrong: the check page lists it.
    Incomplete,
}

/// Where the confirmation and the outcome go: the address given in the referrer section,
/// and the account's own address when it is different.
pub fn recipients(draft: &ReferralDraft, account_email: &str) -> Vec<String> {
    let mut out = Vec::new();
    let given = draft.referrer.email.trim();
    if ehm_domain::referral::ContactEmail::parse(given).is_ok() {
        out.push(given.to_string());
    }
    if !out
        .iter()
        .any(|a| a.eq_ignore_ascii_case(account_email.trim()))
    {
        out.push(account_email.trim().to_string());
    }
    out
}

pub async fn submit(
    app: &App,
    l: &Loaded,
    account_email: &str,
    version: Option<i64>,
    ip: &str,
) -> Result<SubmitOutcome> {
    if !l.is_draft() {
        return Ok(SubmitOutcome::AlreadySubmitted);
    }
    if !app.settings.is_live(now()) {
        return Ok(SubmitOutcome::Closed);
    }
    if version != Some(l.row.version) {
        return Ok(SubmitOutcome::Changed);
    }
    let today = now().date();
    let Ok(referral) = parse_referral(&l.draft, today) else {
        return Ok(SubmitOutcome::Incomplete);
    };
    let to = recipients(&l.draft, account_email);
    // A clash of references is astronomically unlikely; draw again if it happens.
    for _ in 0..5 {
        let mut random = [0u8; 8];
        random.copy_from_slice(&crypto::random_bytes(8));
        let reference = ReferenceNumber::generate(random);
        let t = now();
        let mut tx = app.store.begin().await?;
        match app
            .store
            .submit_referral(
                &mut tx,
                &Submission {
                    id: l.row.id,
                    expected_version: l.row.version,
                    draft: &l.draft,
                    reference: &reference,
                    referral_type: referral.referral_type,
                },
                t,
            )
            .await
        {
            Ok(true) => {}
            Ok(false) => return Ok(SubmitOutcome::Changed),
            Err(StorageError::ReferenceTaken) => continue,
            Err(e) => return Err(e.into()),
        }
        // The work tray's columns: the children's names (to find it by name) and when the
        // decision is due (one working day by default).
        let names: Vec<String> = l
            .draft
            .children
            .iter()
            .map(|c| format!("{} {}", c.first_name.trim(), c.last_name.trim()))
            .collect();
        let dobs: Vec<String> = referral
            .children
            .iter()
            .map(|c| match &c.birth {
                BirthStatus::Born { dob } => {
                    format!("{}{}", dob.date, if dob.estimated { "~" } else { "" })
                }
                BirthStatus::Unborn { .. } => "unborn".to_string(),
            })
            .collect();
        let due = ehm_domain::mash::Calendar::england_and_wales()
            .decision_due(t, app.settings.decision_target_days);
        app.store
            .set_tray_fields(&mut tx, l.row.id, &names, &dobs.join(";"), due)
            .await?;
        let reference = reference.to_string();
        let mail = mails::referral_submitted(&app.settings, &reference)?;
        for address in &to {
            let message_id = crypto::random_token();
            app.store
                .enqueue_mail(
                    &mut tx,
                    NewMail {
                        message_id: &message_id,
                        to: address,
                        subject: &mail.subject,
                        body_text: &mail.text,
                        body_html: Some(&mail.html),
                    },
                    t,
                )
                .await?;
        }
        let id = l.row.id.to_string();
        app.store
            .audit_tx(&mut tx, &entry(&l.actor, "submit-referral", &id, ip), t)
            .await?;
        ehm_storage::commit(tx).await?;
        return Ok(SubmitOutcome::Submitted { reference });
    }
    Err(anyhow::anyhow!("could not draw a unique reference number").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_referrer_section_address_and_a_different_account_address_both_get_the_mail() {
        let mut d = ReferralDraft::default();
        d.referrer.email = "jo.head@example.org".into();
        assert_eq!(
            recipients(&d, "jo.account@example.org"),
            vec!["jo.head@example.org", "jo.account@example.org"]
        );
    }

    #[test]
    fn the_same_address_in_another_case_is_mailed_once() {
        let mut d = ReferralDraft::default();
        d.referrer.email = "Jo.Head@example.org".into();
        assert_eq!(
            recipients(&d, "jo.head@example.org"),
            vec!["Jo.Head@example.org"]
        );
    }

    #[test]
    fn without_a_usable_section_address_the_account_address_is_used() {
        let d = ReferralDraft::default();
        assert_eq!(recipients(&d, "jo@example.org"), vec!["jo@example.org"]);
    }
}
