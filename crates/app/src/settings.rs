use time::{Duration, OffsetDateTime};

/// What the use cases need to know from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub service_name: String,
    pub organisation_name: String,
    /// The address people use, for links in emails.
    pub public_url: String,
    /// MASH phone number for urgent queries, in emails.
    pub mash_phone: String,
    /// Nobody can register or refer before this moment.
    pub go_live: Option<OffsetDateTime>,
    /// Drafts are deleted this long after their last save.
    pub draft_retention: Duration,
    /// Ask for an emailed code after the password.
    pub login_code: bool,
    /// MASH decides each referral within this many working days of receiving it.
    pub decision_target_days: u32,
}

impl Settings {
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.go_live.is_none_or(|g| now >= g)
    }
}
