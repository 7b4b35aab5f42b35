//! Outbound GETs to URLs a client registered (app icons, `web::icons`; Client ID Metadata
//! Documents, `oauth21::register`), under the SSRF rules of oauth21.md §5: `https` only; the host
//! is resolved first and refused when any of its addresses is loopback, private, link-local,
//! unique-local or otherwise not globally routable, and the connection is pinned to the addresses
//! checked (no second lookup to rebind); no redirects; no proxy; a deadline for the whole fetch; a
//! cap on the body.
//!
//! `allow_loopback` (the tests' switches `icon_fetch_allow_loopback` and
//! `oauth21.metadata_document_allow_loopback`, each logged at start-up) also allows loopback
//! addresses, and there only plain `http`, or `https` without checking the certificate: a test can
//! serve the document without a certificate, or with a throwaway self-signed one where its client
//! insists on an `https` URL (the MCP TypeScript SDK's `clientMetadataUrl`). Neither is weaker
//! than the plain `http` the switch already allows, and neither applies to any other address.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::http::{HeaderMap, header};

/// How one kind of fetch is bounded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    /// The `Accept` header.
    pub accept: &'static str,
    pub max_bytes: usize,
    /// The whole fetch, from the DNS lookup to the last byte.
    pub timeout: Duration,
    pub allow_loopback: bool,
    /// Names the fetch in the `User-Agent` (`Latchkey/<version> (<purpose>)`).
    pub user_agent: &'static str,
}

/// A successful (2xx) answer.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

/// Why a fetch failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("the URL must be an https:// URL")]
    NotHttps,
    #[error("the URL points to a private or local address, which Latchkey does not fetch")]
    PrivateAddress,
    #[error("Latchkey could not reach the URL")]
    Unreachable,
    #[error("Latchkey could not fetch the URL in time")]
    Timeout,
    #[error("the URL answered with a redirect, which Latchkey does not follow")]
    Redirect,
    #[error("the URL answered with HTTP status {0}")]
    Status(u16),
    #[error("the answer is larger than Latchkey accepts")]
    TooLarge,
}

/// Whether an address may be fetched from: globally routable unicast only (loopback too when
/// `allow_loopback`).
pub(crate) fn address_allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_allowed(v4, allow_loopback),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_allowed(v4, allow_loopback);
            }
            let s = v6.segments();
            if v6.is_loopback() {
                return allow_loopback;
            }
            !(v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64: may reach private IPv4
                || (s[0] == 0x2002) // 6to4: may embed private IPv4
                || (s[0..6] == [0; 6])) // IPv4-compatible and other reserved ::/80
        }
    }
}

fn v4_allowed(v4: Ipv4Addr, allow_loopback: bool) -> bool {
    if v4.is_loopback() {
        return allow_loopback;
    }
    let [a, b, c, _] = v4.octets();
    !(v4.is_unspecified()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_broadcast()
        || v4.is_documentation()
        || v4.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

/// GETs `raw_url` under `rules`.
pub(crate) async fn get(raw_url: &str, rules: &Rules) -> Result<Fetched, FetchError> {
    match tokio::time::timeout(rules.timeout, get_within(raw_url, rules)).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::Timeout),
    }
}

fn failed(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        FetchError::Timeout
    } else {
        FetchError::Unreachable
    }
}

async fn get_within(raw_url: &str, rules: &Rules) -> Result<Fetched, FetchError> {
    let url = url::Url::parse(raw_url).map_err(|_| FetchError::NotHttps)?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(FetchError::NotHttps);
    }
    let host = url.host().ok_or(FetchError::NotHttps)?;
    let port = url.port_or_known_default().ok_or(FetchError::NotHttps)?;
    let addresses: Vec<SocketAddr> = match host {
        url::Host::Ipv4(ip) => vec![SocketAddr::new(ip.into(), port)],
        url::Host::Ipv6(ip) => vec![SocketAddr::new(ip.into(), port)],
        url::Host::Domain(name) => tokio::net::lookup_host((name, port))
            .await
            .map_err(|_| FetchError::Unreachable)?
            .collect(),
    };
    if addresses.is_empty() {
        return Err(FetchError::Unreachable);
    }
    if !addresses
        .iter()
        .all(|a| address_allowed(a.ip(), rules.allow_loopback))
    {
        return Err(FetchError::PrivateAddress);
    }
    let plain_http_allowed = rules.allow_loopback && addresses.iter().all(|a| a.ip().is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if plain_http_allowed => {}
        _ => return Err(FetchError::NotHttps),
    }
    let mut client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(rules.timeout)
        .user_agent(format!(
            "Latchkey/{} ({})",
            env!("CARGO_PKG_VERSION"),
            rules.user_agent
        ));
    if plain_http_allowed {
        // Loopback under the test switch: a self-signed certificate is no weaker than plain http.
        client = client.danger_accept_invalid_certs(true);
    }
    if let url::Host::Domain(name) = host {
        // Connect only to the addresses checked above: no second lookup that could rebind.
        client = client.resolve_to_addrs(name, &addresses);
    }
    let client = client.build().map_err(|_| FetchError::Unreachable)?;
    let mut response = client
        .get(url.as_str())
        .header(header::ACCEPT, rules.accept)
        .send()
        .await
        .map_err(failed)?;
    let status = response.status();
    if status.is_redirection() {
        return Err(FetchError::Redirect);
    }
    if !status.is_success() {
        return Err(FetchError::Status(status.as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|n| n > rules.max_bytes as u64)
    {
        return Err(FetchError::TooLarge);
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if bytes.len() + chunk.len() > rules.max_bytes {
            return Err(FetchError::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Fetched {
        headers: response.headers().clone(),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_globally_routable_addresses_are_fetched_from() {
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            let ip: IpAddr = refused.parse().unwrap();
            assert!(!address_allowed(ip, false), "{refused} must be refused");
        }
        for allowed in ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"] {
            assert!(
                address_allowed(allowed.parse().unwrap(), false),
                "{allowed}"
            );
        }
        assert!(address_allowed("127.0.0.1".parse().unwrap(), true));
        assert!(address_allowed("::1".parse().unwrap(), true));
        assert!(!address_allowed("10.0.0.1".parse().unwrap(), true));
    }
}
