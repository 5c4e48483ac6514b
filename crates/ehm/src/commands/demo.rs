//! Demo accounts and fictional records, created on the first run in demo mode. Fictional
//! people only.

use anyhow::Context;
use ehm_domain::access::Actor;
use ehm_domain::account::{Email, Role};
use ehm_storage::{NewUser, Store};
use time::OffsetDateTime;

pub const DEMO_PASSWORD: &str = "demo kettle orbit";

const ACCOUNTS: &[(Role, &str, &str)] = &[
    (Role::Referrer, "sam.teacher@example.org", "Sam Teacher"),
    (
        Role::BusinessSupport,
        "bea.support@example.org",
        "Bea Support",
    ),
    (Role::SocialWorker, "sol.worker@example.org", "Sol Worker"),
    (Role::Manager, "max.manager@example.org", "Max Manager"),
    (Role::Admin, "ada.admin@example.org", "Ada Admin"),
];

/// Create the demo accounts if the database has no users yet. Returns the logins created.
pub async fn ensure_demo_accounts(store: &Store) -> anyhow::Result<Vec<(String, String, String)>> {
    if store.count_users().await? > 0 {
        return Ok(Vec::new());
    }
    let hash = ehm_web::hash_password(DEMO_PASSWORD.to_string())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = OffsetDateTime::now_utc();
    let mut tx = store.begin().await?;
    let mut created = Vec::new();
    for (role, email, name) in ACCOUNTS {
        let email = Email::parse(email)?;
        store
            .create_user(
                &mut tx,
                NewUser {
                    email: &email,
                    display_name: name,
                    role: *role,
                    password_hash: &hash,
                    verified: true,
                },
                now,
            )
            .await?;
        created.push((
            role.label().to_string(),
            email.to_string(),
            DEMO_PASSWORD.to_string(),
        ));
    }
    tx.commit().await.map_err(ehm_storage::StorageError::from)?;
    Ok(created)
}

/// People in the demo's person index (fictional: generated names, streets and dates).
const DEMO_PEOPLE: usize = 2_000;
/// Referrals from the demo referrer waiting in the work tray on the first run.
const DEMO_REFERRALS: usize = 6;

/// Fictional records for the MASH side, made on the first run beside the demo accounts:
/// people in the person index (as `ehm import-persons` loads them) and referrals from the
/// demo referrer in the work tray, most of them about someone on record but spelt or
/// dated a little differently, as real referrals are. The referrals go through the
/// portal's own submission (checks, reference, tray fields, confirmation email, audit).
pub async fn seed_demo_records(app: &ehm_app::App) -> anyhow::Result<usize> {
    let store = &app.store;
    if store.persons_count().await? > 0 {
        return Ok(0);
    }
    let (people, drafts) = tokio::task::spawn_blocking(demo_data).await?;
    ehm_app::person_index::store_people(store, &people)
        .await
        .context("adding the demo people")?;
    let email = ACCOUNTS
        .iter()
        .find(|(role, ..)| *role == Role::Referrer)
        .map(|(_, email, _)| *email)
        .context("no demo referrer")?;
    let referrer = store
        .user_by_email(email)
        .await?
        .context("the demo referrer's account is missing")?;
    let actor = Actor {
        user_id: referrer.id,
        role: Role::Referrer,
    };
    let mut submitted = 0;
    for draft in &drafts {
        let pid = ehm_app::crypto::random_token();
        store
            .create_draft(&pid, referrer.id, draft, OffsetDateTime::now_utc())
            .await?;
        let loaded = ehm_app::referrals::open_as_author(app, actor, &pid, "127.0.0.1")
            .await?
            .context("the demo draft just made")?;
        match ehm_app::referrals::submit(app, &loaded, email, Some(loaded.row.version), "127.0.0.1")
            .await?
        {
            ehm_app::referrals::SubmitOutcome::Submitted { .. } => submitted += 1,
            other => anyhow::bail!("a demo referral was not submitted: {other:?}"),
        }
    }
    Ok(submitted)
}

/// The demo's people and its referrals: the first [`DEMO_REFERRALS`] the generator's
/// referred children give that a referrer's form would have taken (a child on record
/// may have no date of birth there; a referrer gives one).
fn demo_data() -> (
    Vec<ehm_matching::Person>,
    Vec<ehm_domain::referral::ReferralDraft>,
) {
    let (people, queries, _) =
        ehm_matching::synth::Generator::new(0xDE30_2026).scenario(DEMO_PEOPLE, 40);
    let today = OffsetDateTime::now_utc().date();
    let drafts = queries
        .iter()
        .map(|q| demo_referral(&q.person))
        .filter(|d| ehm_domain::referral::parse_referral(d, today).is_ok())
        .take(DEMO_REFERRALS)
        .collect();
    (people, drafts)
}

/// A referral about `child` as the demo referrer sent it. The generator sometimes gives
/// a referred child a mistyped postcode (the matching must cope with them); a referrer's
/// form would not have taken it, so the demo leaves it blank, as a referrer who did not
/// know it would.
fn demo_referral(child: &ehm_matching::Person) -> ehm_domain::referral::ReferralDraft {
    let mut draft = super::bench_staff::referral_about(child);
    for c in &mut draft.children {
        if ehm_domain::referral::postcode::Postcode::parse(&c.postcode).is_err() {
            c.postcode.clear();
        }
    }
    draft
}

#[cfg(test)]
mod tests {
    /// The demo has its six referrals, each one complete.
    #[test]
    fn the_demo_has_complete_referrals() {
        let (people, drafts) = super::demo_data();
        assert_eq!(people.len(), super::DEMO_PEOPLE);
        assert_eq!(drafts.len(), super::DEMO_REFERRALS);
        let today = time::OffsetDateTime::now_utc().date();
        for d in &drafts {
            assert!(ehm_domain::referral::parse_referral(d, today).is_ok());
        }
    }
}
