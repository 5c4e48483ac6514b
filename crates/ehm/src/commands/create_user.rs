use crate::commands::{init_tracing, open_store, runtime};
use crate::config::Config;
use anyhow::bail;
use ehm_domain::account::{Email, NewPassword, Role};
use ehm_storage::{AuditEntry, NewUser, StorageError};
use std::io::BufRead;
use time::OffsetDateTime;

#[derive(clap::Args)]
pub struct Args {
    /// referrer, business-support, social-worker, manager or admin
    #[arg(long)]
    role: String,
    #[arg(long)]
    email: String,
    /// The person's full name
    #[arg(long)]
    name: String,
    /// Read the password from the first line of standard input (otherwise one is generated and printed)
    #[arg(long)]
    password_stdin: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    init_tracing();
    let role = Role::parse(&args.role)?;
    let email = Email::parse_for_registration(&args.email)?;
    if args.name.trim().is_empty() {
        bail!("--name must not be empty");
    }
    let (password, generated) = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        (line.trim_end_matches(['\r', '\n']).to_string(), false)
    } else {
        (generate_password(), true)
    };
    let password = NewPassword::parse(&password, email.as_str())?;
    let config = Config::load()?;
    runtime()?.block_on(async {
        let store = open_store(&config).await?;
        let hash = ehm_web::hash_password(password.as_str().to_string())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let now = OffsetDateTime::now_utc();
        let mut tx = store.begin().await?;
        let id = match store
            .create_user(
                &mut tx,
                NewUser {
                    email: &email,
                    display_name: args.name.trim(),
                    role,
                    password_hash: &hash,
                    verified: true,
                },
                now,
            )
            .await
        {
            Err(StorageError::EmailTaken) => bail!("{email} already has an account"),
            other => other?,
        };
        let id_s = id.to_string();
        store
            .audit_tx(
                &mut tx,
                &AuditEntry {
                    actor_user_id: None,
                    action: "create-user-cli",
                    object_type: "user",
                    object_id: &id_s,
                    outcome: "success",
                    ip: "cli",
                },
                now,
            )
            .await?;
        tx.commit().await.map_err(StorageError::from)?;
        println!("Created {} account for {email}.", role.label());
        if generated {
            println!("Password: {}", password.as_str());
        }
        if role.is_staff() {
            println!("They will set up an authenticator app when they first sign in.");
        }
        Ok(())
    })
}

/// Four random words from a short list plus digits: easy to type, about 50 bits.
fn generate_password() -> String {
    const WORDS: &[&str] = &[
        "amber", "anchor", "apricot", "badger", "basket", "beacon", "biscuit", "bramble", "breeze",
        "candle", "canyon", "carrot", "cobalt", "comet", "copper", "cricket", "crystal", "dahlia",
        "falcon", "fennel", "fjord", "garnet", "ginger", "glacier", "harbour", "hazel", "heron",
        "indigo", "island", "jasmine", "juniper", "kettle", "lantern", "lemon", "lilac", "marble",
        "meadow", "nutmeg", "orchid", "otter", "paddle", "pebble", "pepper", "quartz", "quill",
        "raven", "ribbon", "saffron", "sparrow", "spruce", "thistle", "timber", "tulip", "velvet",
        "walnut", "willow", "window", "yarrow", "zephyr", "zinnia",
    ];
    let mut buf = [0u8; 10];
    getrandom(&mut buf);
    let words: Vec<&str> = buf[..4]
        .iter()
        .map(|b| WORDS[*b as usize % WORDS.len()])
        .collect();
    format!("{}-{:02}", words.join("-"), buf[4] % 100)
}

fn getrandom(buf: &mut [u8]) {
    // The web crate's token generator uses the OS random source; reuse it.
    let t = ehm_web::random_bytes(buf.len());
    buf.copy_from_slice(&t);
}
