//! The client's address, for the audit log and throttling.
//!
//! Without `EHM_TRUSTED_PROXIES` it is always the TCP peer and `X-Forwarded-For` is
//! ignored (anyone can send that header). With it, when the peer is a trusted proxy,
//! `X-Forwarded-For` is read from right to left, skipping trusted hops: the first address
//! that is not a trusted proxy is the client.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::net::{IpAddr, SocketAddr};

use crate::settings::IpNet;
use crate::state::AppState;

pub struct ClientIp(pub String);

pub fn client_ip(peer: Option<IpAddr>, forwarded_for: &[&str], trusted: &[IpNet]) -> String {
    let Some(peer) = peer else {
        return "unknown".into();
    };
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if trusted.is_empty() || !is_trusted(peer) {
        return peer.to_string();
    }
    let hops: Vec<&str> = forwarded_for
        .iter()
        .flat_map(|h| h.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // A malformed entry: nothing to its left can be believed.
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client.to_string()
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|a| a.0.ip());
        let xff: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(ClientIp(client_ip(
            peer,
            &xff,
            &state.settings.trusted_proxies,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(v: &[&str]) -> Vec<IpNet> {
        v.iter().map(|s| IpNet::parse(s).unwrap()).collect()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let peer = Some("203.0.113.9".parse().unwrap());
        assert_eq!(client_ip(peer, &["198.51.100.1"], &[]), "203.0.113.9");
    }

    #[test]
    fn a_trusted_proxy_passes_on_the_client_address() {
        let peer = Some("10.0.0.2".parse().unwrap());
        let t = nets(&["10.0.0.0/8"]);
        assert_eq!(client_ip(peer, &["198.51.100.1"], &t), "198.51.100.1");
    }

    #[test]
    fn the_header_is_read_right_to_left_past_trusted_hops_only() {
        let peer = Some("10.0.0.2".parse().unwrap());
        let t = nets(&["10.0.0.0/8"]);
        // The client forged the leftmost entry; the proxy appended the real one.
        assert_eq!(
            client_ip(peer, &["1.2.3.4, 198.51.100.1, 10.0.0.7"], &t),
            "198.51.100.1"
        );
        // Split over two headers.
        assert_eq!(
            client_ip(peer, &["1.2.3.4", "198.51.100.1"], &t),
            "198.51.100.1"
        );
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let peer = Some("203.0.113.9".parse().unwrap());
        let t = nets(&["10.0.0.0/8"]);
        assert_eq!(client_ip(peer, &["198.51.100.1"], &t), "203.0.113.9");
    }

    #[test]
    fn a_malformed_entry_stops_the_walk() {
        let peer = Some("10.0.0.2".parse().unwrap());
        let t = nets(&["10.0.0.0/8"]);
        assert_eq!(client_ip(peer, &["198.51.100.1, garbage"], &t), "10.0.0.2");
    }
}
