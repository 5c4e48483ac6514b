use crate::commands::{demo, init_tracing, open_store, runtime};
use crate::config::Config;
use anyhow::Context;
use ehm_mail::Mailer;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;
use time::OffsetDateTime;

#[derive(clap::Args, Debug, Default)]
pub struct Args {
    /// Demo mode, as `ehm demo` (also EHM_DEMO=true): demo accounts and the demo mailbox.
    #[arg(long)]
    pub demo: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    init_tracing();
    let mut config = Config::load()?;
    config.demo |= args.demo;
    config.check_demo()?;
    runtime()?.block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let mailer = match &config.smtp_url {
        Some(url) => Mailer::smtp(url, &config.from_address)?,
        None => Mailer::files(config.outbox_dir(), &config.from_address)?,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");
    let settings = ehm_web::Settings {
        service_name: config.service_name.clone(),
        organisation_name: config.organisation_name.clone(),
        public_url: config.public_url.clone().unwrap_or_else(|| url.clone()),
        mash_phone: config.mash_phone.clone(),
        go_live: config.go_live,
        draft_retention: time::Duration::days(config.draft_retention_days),
        session_idle: config.session_idle,
        session_warning: config.session_warning,
        session_max: config.session_max,
        trusted_proxies: config.trusted_proxies.clone(),
        decision_target_days: config.decision_target_days,
        login_code: config.login_code,
        demo: config.demo,
        templates_dir: config.templates_dir.clone(),
        static_dir: config.static_dir.clone(),
    };
    let mut state = ehm_web::AppState::new(store.clone(), settings)?;
    // Demo accounts exist only in demo mode; a real portal starts with no account at all.
    let demo_logins = if config.demo {
        state = state.with_demo_mailbox(config.outbox_dir());
        let logins = demo::ensure_demo_accounts(&store).await?;
        if !logins.is_empty() {
            demo::seed_demo_records(&state.app).await?;
        }
        logins
    } else {
        Vec::new()
    };
    let no_accounts = !config.demo && store.count_users().await? == 0;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let outbox = tokio::spawn(ehm_jobs::outbox::run(
        store.clone(),
        mailer.clone(),
        stop_rx.clone(),
    ));
    let retention =
        ehm_jobs::purge::Retention::new(time::Duration::days(config.draft_retention_days));
    // The matching index over the person index: loaded now, kept current by polling the
    // database (changes made by any instance), its model fitted on past referrals.
    let persons = tokio::spawn(
        state
            .app
            .persons
            .clone()
            .run(store.clone(), stop_rx.clone()),
    );
    let purge = tokio::spawn(periodic_purge(store.clone(), retention, stop_rx));

    let mut out = std::io::stdout().lock();
    writeln!(out, "{} is running.", config.service_name)?;
    writeln!(out, "Listening on {url}")?;
    writeln!(
        out,
        "Database: {}",
        if config.database_url.starts_with("sqlite:") {
            "embedded SQLite"
        } else {
            "PostgreSQL"
        }
    )?;
    writeln!(out, "Email: {}", mailer.describe())?;
    if no_accounts {
        writeln!(
            out,
            "There are no accounts yet. Create the first administrator, with the same settings as this server:"
        )?;
        writeln!(
            out,
            "  ehm create-user --role admin --email EMAIL --name \"FULL NAME\""
        )?;
        writeln!(
            out,
            "  (it prints a generated password; add --password-stdin to give your own)"
        )?;
    }
    if config.demo {
        writeln!(
            out,
            "Demo mode: read the emails the portal sends (codes) at {url}/demo/mailbox"
        )?;
        for (role, email, password) in &demo_logins {
            writeln!(out, "  {role:<22} {email:<32} password: {password}")?;
        }
        if demo_logins.is_empty() {
            writeln!(
                out,
                "  (demo accounts were created on the first run; their password is \"{}\")",
                demo::DEMO_PASSWORD
            )?;
        }
    }
    out.flush()?;
    drop(out);

    let app = ehm_web::app(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        let _ = outbox.await;
        let _ = purge.await;
        let _ = persons.await;
    })
    .await;
    Ok(())
}

async fn periodic_purge(
    store: ehm_storage::Store,
    retention: ehm_jobs::purge::Retention,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        match ehm_jobs::purge::purge(&store, OffsetDateTime::now_utc(), &retention).await {
            Ok(r) => tracing::info!(
                drafts = r.drafts,
                attachments = r.attachments,
                sessions = r.sessions,
                sent_mail = r.sent_mail,
                "purge finished"
            ),
            Err(e) => tracing::error!(error = %e, "purge failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(600)) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
