use std::net::IpAddr;
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
    /// A session ends this long after sign-in, active or not.
    pub session_max: Duration,
    /// Ask for an emailed code after the password.
    pub login_code: bool,
    /// MASH decides each referral within this many working days.
    pub decision_target_days: u32,
    /// Demo mode (`ehm demo`): demo accounts, the demo mailbox, the current TOTP code shown.
    pub demo: bool,
    /// Reverse proxies whose `X-Forwarded-For` is believed (addresses or CIDR blocks).
    pub trusted_proxies: Vec<IpNet>,
    /// Read templates from this folder instead of the ones built in (development).
    pub templates_dir: Option<PathBuf>,
    /// Serve static files from this folder instead of the ones built in (development).
    pub static_dir: Option<PathBuf>,
}

impl Settings {
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.go_live.is_none_or(|g| now >= g)
    }

    /// The part of the settings the use cases need.
    pub fn app(&self) -> ehm_app::Settings {
        ehm_app::Settings {
            service_name: self.service_name.clone(),
            organisation_name: self.organisation_name.clone(),
            public_url: self.public_url.clone(),
            mash_phone: self.mash_phone.clone(),
            go_live: self.go_live,
            draft_retention: self.draft_retention,
            login_code: self.login_code,
            decision_target_days: self.decision_target_days,
        }
    }
}

/// An address block such as `10.0.0.0/8` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("{s:?} has a bad prefix length"))?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        fn bits(ip: IpAddr) -> (u128, u8) {
            match ip {
                IpAddr::V4(v) => (u32::from(v) as u128, 32),
                IpAddr::V6(v) => match v.to_ipv4_mapped() {
                    Some(v4) => (u32::from(v4) as u128, 32),
                    None => (u128::from(v), 128),
                },
            }
        }
        let (net, width) = bits(self.addr);
        let (ip, ip_width) = bits(ip);
        if width != ip_width {
            return false;
        }
        let prefix = self.prefix.min(width);
        if prefix == 0 {
            return true;
        }
        let shift = u32::from(width - prefix);
        (net >> shift) == (ip >> shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cidr_block_contains_its_addresses_only() {
        let n = IpNet::parse("10.1.0.0/16").unwrap();
        assert!(n.contains("10.1.200.3".parse().unwrap()));
        assert!(!n.contains("10.2.0.1".parse().unwrap()));
        let one = IpNet::parse("192.0.2.7").unwrap();
        assert!(one.contains("192.0.2.7".parse().unwrap()));
        assert!(!one.contains("192.0.2.8".parse().unwrap()));
        let v6 = IpNet::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("10.1.0.1".parse().unwrap()));
    }

    #[test]
    fn bad_blocks_are_rejected() {
        assert!(IpNet::parse("10.0.0.0/33").is_err());
        assert!(IpNet::parse("proxy.example.org").is_err());
    }
}
