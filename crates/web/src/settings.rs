use std::path::PathBuf;
use time::{Duration, OffsetDateTime};

/// What the web layer needs to know from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub service_name: String,
    pub organisation_name: String,
    pub public_url: String,
    pub mash_phone: String,
    /// Nobody can register or refer before this moment.
    pub go_live: Option<OffsetDateTime>,
    /// Drafts are deleted this long after their last save.
    pub draft_retention: Duration,
    pub session_idle: Duration,
    pub session_warning: Duration,
    /// Ask for an emailed code after the password.
    pub login_code: bool,
    /// Demo mode (`ehm demo`): demo accounts, the demo mailbox, the current TOTP code shown.
    pub demo: bool,
    /// Read templates from this folder instead of the ones built in (development).
    pub templates_dir: Option<PathBuf>,
    /// Serve static files from this folder instead of the ones built in (development).
    pub static_dir: Option<PathBuf>,
}

impl Settings {
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.go_live.is_none_or(|g| now >= g)
    }
}
