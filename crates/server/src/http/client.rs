//! Who is asking: the client's address, for rate limits and per-client caps.
//!
//! The address is the TCP peer's, unless the peer is one of the operator's trusted reverse
//! proxies (`MEET_RECORDER_TRUSTED_PROXIES`): then `X-Forwarded-For` is read from the
//! right, skipping trusted hops, and the first hop that is not a trusted proxy is the
//! client. Anything left of it was written by the client and is never believed, so a
//! client cannot choose its own address, nor spend someone else's limits.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, request::Parts},
};

use crate::http::AppState;

/// The client's address (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Served without connection information (a router called directly), the peer is
        // unknown: every such request shares one address.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        Ok(ClientAddr(client_address(
            peer,
            &parts.headers,
            &state.config.trusted_proxies,
        )))
    }
}

/// The client behind `peer`, believing `X-Forwarded-For` only from trusted proxies.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&canonical(*ip)));
    let peer = canonical(peer);
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|hop| hop.trim().parse::<IpAddr>().map(canonical))
        .collect::<Result<_, _>>()
        // A hop that is not an address: nothing left of it can be believed.
        .unwrap_or_default();
    let mut client = peer;
    for hop in hops.iter().rev() {
        client = *hop;
        if !is_trusted(hop) {
            break;
        }
    }
    client
}

/// IPv4 addresses mapped into IPv6 (`::ffff:a.b.c.d`) are the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(forwarded).unwrap());
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        assert_eq!(
            client_address(ip("203.0.113.7"), &headers("198.51.100.1"), &[]),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        // The client wrote "1.2.3.4" itself; the proxy appended the real address.
        let forwarded = headers("1.2.3.4, 203.0.113.7, 10.0.0.5");
        assert_eq!(
            client_address(ip("10.0.0.9"), &forwarded, &trusted),
            ip("203.0.113.7")
        );
        // A peer that is not a trusted proxy is never asked.
        assert_eq!(
            client_address(ip("198.51.100.2"), &forwarded, &trusted),
            ip("198.51.100.2")
        );
        // A garbled header leaves the proxy's own address.
        assert_eq!(
            client_address(ip("10.0.0.9"), &headers("nonsense"), &trusted),
            ip("10.0.0.9")
        );
        assert_eq!(
            client_address(ip("::ffff:10.0.0.9"), &headers("203.0.113.7"), &trusted),
            ip("203.0.113.7")
        );
    }
}
