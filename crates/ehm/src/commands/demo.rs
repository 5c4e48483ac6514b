//! Demo accounts, created on the first run in demo mode. Fictional people only.

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
