//! Configuration: an optional TOML file (`EHM_CONFIG`, else `./ehm.toml` if present), then
//! `EHM_*` environment variables, then defaults that need nothing configured.

use anyhow::{Context, bail};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub public_url: Option<String>,
    pub smtp_url: Option<String>,
    pub from_address: Option<String>,
    pub mash_phone: Option<String>,
    pub go_live: Option<String>,
    pub draft_retention_days: Option<i64>,
    pub session_idle_minutes: Option<i64>,
    pub session_max_hours: Option<i64>,
    pub decision_target_days: Option<i64>,
    pub trusted_proxies: Option<Vec<String>>,
    pub login_code: Option<bool>,
    pub demo: Option<bool>,
    pub service_name: Option<String>,
    pub organisation_name: Option<String>,
    pub templates_dir: Option<PathBuf>,
    pub static_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub public_url: Option<String>,
    pub smtp_url: Option<String>,
    pub from_address: String,
    pub mash_phone: String,
    pub go_live: Option<OffsetDateTime>,
    pub draft_retention_days: i64,
    pub session_idle: time::Duration,
    /// How long before the idle timeout the pages warn (two minutes).
    pub session_warning: time::Duration,
    pub session_max: time::Duration,
    pub decision_target_days: u32,
    pub trusted_proxies: Vec<ehm_web::IpNet>,
    pub login_code: bool,
    pub demo: bool,
    pub service_name: String,
    pub organisation_name: String,
    /// Development only: templates and static files from these folders instead of the
    /// ones built into the binary.
    pub templates_dir: Option<PathBuf>,
    pub static_dir: Option<PathBuf>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_bool(name: &str, v: &str) -> anyhow::Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => bail!("{name} must be true or false, not {v:?}"),
    }
}

fn parse_int(name: &str, v: &str, min: i64, max: i64) -> anyhow::Result<i64> {
    let n: i64 = v
        .trim()
        .parse()
        .with_context(|| format!("{name} must be a whole number, not {v:?}"))?;
    if !(min..=max).contains(&n) {
        bail!("{name} must be between {min} and {max}, not {n}");
    }
    Ok(n)
}

/// `EHM_TRUSTED_PROXIES`: addresses or CIDR blocks, comma-separated.
fn parse_proxies(items: impl IntoIterator<Item = String>) -> anyhow::Result<Vec<ehm_web::IpNet>> {
    items
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .map(|s| {
            ehm_web::IpNet::parse(&s).map_err(|e| {
                anyhow::anyhow!(
                    "EHM_TRUSTED_PROXIES: {e} (use addresses or blocks like 10.0.0.0/8)"
                )
            })
        })
        .collect()
}

/// `2026-10-03` (midnight UTC) or an RFC 3339 date and time.
pub fn parse_go_live(v: &str) -> anyhow::Result<OffsetDateTime> {
    let v = v.trim();
    if let Ok(t) = OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339) {
        return Ok(t);
    }
    let f = time::macros::format_description!("[year]-[month]-[day]");
    let d = Date::parse(v, &f).with_context(|| {
        format!("EHM_GO_LIVE must be a date like 2026-10-03 or an RFC 3339 time, not {v:?}")
    })?;
    Ok(PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_utc())
}

impl Config {
    pub fn load() -> anyhow::Result<Self> {
        let explicit = env("EHM_CONFIG").map(PathBuf::from);
        let path = explicit.clone().or_else(|| {
            Path::new("ehm.toml")
                .is_file()
                .then(|| PathBuf::from("ehm.toml"))
        });
        let file = match &path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read config file {}", p.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("config file {} is not valid", p.display()))?
            }
            None => FileConfig::default(),
        };
        Self::from_parts(file)
    }

    fn from_parts(f: FileConfig) -> anyhow::Result<Self> {
        let listen_s = env("EHM_LISTEN")
            .or(f.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_s.parse().with_context(|| {
            format!("EHM_LISTEN must be an address like 127.0.0.1:8080, not {listen_s:?}")
        })?;
        let data_dir = env("EHM_DATA_DIR")
            .map(PathBuf::from)
            .or(f.data_dir)
            .unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = env("EHM_DATABASE_URL")
            .or(f.database_url)
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("ehm.db").display()));
        // Demo mode only when asked for (`ehm demo`, `--demo`, EHM_DEMO=true): never by default.
        let demo = match env("EHM_DEMO") {
            Some(v) => parse_bool("EHM_DEMO", &v)?,
            None => f.demo.unwrap_or(false),
        };
        let login_code = match env("EHM_LOGIN_CODE") {
            Some(v) => parse_bool("EHM_LOGIN_CODE", &v)?,
            None => f.login_code.unwrap_or(true),
        };
        let go_live = match env("EHM_GO_LIVE").or(f.go_live) {
            Some(v) => Some(parse_go_live(&v)?),
            None => None,
        };
        let draft_retention_days = match env("EHM_DRAFT_RETENTION_DAYS") {
            Some(v) => parse_int("EHM_DRAFT_RETENTION_DAYS", &v, 1, 3650)?,
            None => f.draft_retention_days.unwrap_or(30),
        };
        let session_idle_minutes = match env("EHM_SESSION_IDLE_MINUTES") {
            Some(v) => parse_int("EHM_SESSION_IDLE_MINUTES", &v, 3, 24 * 60)?,
            None => f.session_idle_minutes.unwrap_or(15),
        };
        if !(3..=24 * 60).contains(&session_idle_minutes) {
            bail!("session_idle_minutes must be between 3 and 1440");
        }
        // For tests of the timeout only: a timeout in seconds.
        let session_idle = match env("EHM_SESSION_IDLE_SECONDS") {
            Some(v) => {
                time::Duration::seconds(parse_int("EHM_SESSION_IDLE_SECONDS", &v, 1, 24 * 3600)?)
            }
            None => time::Duration::minutes(session_idle_minutes),
        };
        // For tests of the timeout only: the warning in seconds (two minutes otherwise).
        let session_warning = match env("EHM_SESSION_WARNING_SECONDS") {
            Some(v) => {
                time::Duration::seconds(parse_int("EHM_SESSION_WARNING_SECONDS", &v, 1, 24 * 3600)?)
            }
            None => time::Duration::minutes(2),
        };
        let session_max_hours = match env("EHM_SESSION_MAX_HOURS") {
            Some(v) => parse_int("EHM_SESSION_MAX_HOURS", &v, 1, 7 * 24)?,
            None => f.session_max_hours.unwrap_or(12),
        };
        // For tests of the maximum session age only: a lifetime in seconds.
        let session_max = match env("EHM_SESSION_MAX_SECONDS") {
            Some(v) => {
                time::Duration::seconds(parse_int("EHM_SESSION_MAX_SECONDS", &v, 1, 7 * 24 * 3600)?)
            }
            None => time::Duration::hours(session_max_hours),
        };
        let decision_target_days = match env("EHM_DECISION_TARGET_DAYS") {
            Some(v) => parse_int("EHM_DECISION_TARGET_DAYS", &v, 1, 30)?,
            None => f.decision_target_days.unwrap_or(1),
        } as u32;
        let trusted_proxies = match env("EHM_TRUSTED_PROXIES") {
            Some(v) => parse_proxies(v.split(',').map(str::to_string))?,
            None => parse_proxies(f.trusted_proxies.unwrap_or_default())?,
        };
        Ok(Config {
            listen,
            data_dir,
            database_url,
            public_url: env("EHM_PUBLIC_URL").or(f.public_url),
            smtp_url: env("EHM_SMTP_URL").or(f.smtp_url),
            from_address: env("EHM_FROM_ADDRESS")
                .or(f.from_address)
                .unwrap_or_else(|| "Early Help portal <do-not-reply@example.org>".into()),
            mash_phone: env("EHM_MASH_PHONE")
                .or(f.mash_phone)
                .unwrap_or_else(|| "01632 960000".into()),
            go_live,
            draft_retention_days,
            session_idle,
            session_warning,
            session_max,
            decision_target_days,
            trusted_proxies,
            login_code,
            demo,
            service_name: env("EHM_SERVICE_NAME")
                .or(f.service_name)
                .unwrap_or_else(|| "Early Help referral portal".into()),
            organisation_name: env("EHM_ORGANISATION_NAME")
                .or(f.organisation_name)
                .unwrap_or_else(|| "Example Council".into()),
            templates_dir: env("EHM_TEMPLATES_DIR")
                .map(PathBuf::from)
                .or(f.templates_dir),
            static_dir: env("EHM_STATIC_DIR").map(PathBuf::from).or(f.static_dir),
        })
    }

    /// Demo mode shows every email, a published password and the current authenticator
    /// code: it only runs where nobody else can reach it and no real email can leave.
    pub fn check_demo(&self) -> anyhow::Result<()> {
        if !self.demo {
            return Ok(());
        }
        if !self.listen.ip().is_loopback() {
            bail!(
                "demo mode only runs on a loopback address (127.0.0.1 or ::1); EHM_LISTEN is {}",
                self.listen
            );
        }
        if self.smtp_url.is_some() {
            bail!(
                "demo mode never sends real email: unset EHM_SMTP_URL (or smtp_url in the config file), or run `ehm serve`"
            );
        }
        Ok(())
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_go_live_date_means_midnight_utc() {
        let t = parse_go_live("2026-10-03").unwrap();
        assert_eq!(t.unix_timestamp(), 1_790_985_600);
    }

    #[test]
    fn a_go_live_time_in_rfc3339_is_accepted() {
        assert!(parse_go_live("2026-10-03T09:00:00+01:00").is_ok());
    }

    #[test]
    fn a_bad_go_live_is_a_clear_error() {
        let e = parse_go_live("3rd October").unwrap_err().to_string();
        assert!(e.contains("EHM_GO_LIVE"), "{e}");
    }

    #[test]
    fn booleans_accept_common_spellings_and_reject_others() {
        assert!(parse_bool("X", "Yes").unwrap());
        assert!(!parse_bool("X", "0").unwrap());
        assert!(parse_bool("X", "maybe").is_err());
    }

    #[test]
    fn numbers_out_of_range_are_rejected() {
        assert!(parse_int("X", "0", 1, 10).is_err());
        assert!(parse_int("X", "ten", 1, 10).is_err());
        assert_eq!(parse_int("X", "5", 1, 10).unwrap(), 5);
    }

    fn config(listen: &str, demo: bool, smtp: Option<&str>) -> Config {
        let f = FileConfig {
            listen: Some(listen.into()),
            smtp_url: smtp.map(Into::into),
            demo: Some(demo),
            ..FileConfig::default()
        };
        Config::from_parts(f).unwrap()
    }

    #[test]
    fn demo_mode_is_off_unless_asked_for() {
        if std::env::var_os("EHM_DEMO").is_none() {
            let c = Config::from_parts(FileConfig::default()).unwrap();
            assert!(!c.demo);
        }
    }

    #[test]
    fn demo_mode_runs_only_on_loopback_without_smtp() {
        assert!(config("127.0.0.1:0", true, None).check_demo().is_ok());
        assert!(config("[::1]:8080", true, None).check_demo().is_ok());
        let e = config("0.0.0.0:8080", true, None).check_demo().unwrap_err();
        assert!(e.to_string().contains("loopback"), "{e}");
        assert!(!e.to_string().contains('\n'), "{e}");
        let e = config("127.0.0.1:0", true, Some("smtp://127.0.0.1:25"))
            .check_demo()
            .unwrap_err();
        assert!(e.to_string().contains("EHM_SMTP_URL"), "{e}");
        // Not in demo mode, any address and SMTP are fine.
        assert!(
            config("0.0.0.0:8080", false, Some("smtp://127.0.0.1:25"))
                .check_demo()
                .is_ok()
        );
    }

    #[test]
    fn a_toml_file_with_an_unknown_key_is_rejected() {
        assert!(toml::from_str::<FileConfig>("listne = \"x\"").is_err());
        assert!(toml::from_str::<FileConfig>("listen = \"127.0.0.1:9000\"\ndemo = false").is_ok());
    }
}
