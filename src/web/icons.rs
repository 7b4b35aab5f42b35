//! App icons (issue 13). The icon URL an app registers is fetched by Latchkey, once, when the app is
//! created or its icon URL changes, and the image is kept in the database and served from
//! `/apps/{client_id}/icon`, so the consent page loads no third-party image (security.md BR07) and
//! the CSP (`img-src 'self' data:`) needs no exception. An app without an icon gets its initials,
//! drawn by Latchkey as a small SVG.
//!
//! The fetch follows the SSRF rules of oauth21.md §5 for metadata documents: `https` only; the host
//! is resolved first and refused when any of its addresses is loopback, private, link-local,
//! unique-local or otherwise not globally routable, and the connection is pinned to the addresses
//! checked (no second lookup to rebind); no redirects; 5 seconds in all; at most 256 KiB; PNG, JPEG,
//! GIF or WebP only, declared by `Content-Type` and confirmed by the bytes' signature (no SVG: it
//! can carry script). A fetch that fails sends the form back with the reason next to the icon field,
//! and nothing is saved. The `icon_fetch_allow_loopback` setting (tests only, logged at start-up)
//! also allows loopback addresses, over plain http.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::PageError;
use crate::state::AppState;
use crate::store::AppIcon;

/// The largest icon Latchkey keeps.
pub(crate) const MAX_ICON_BYTES: usize = 256 * 1024;
/// The whole fetch, from the DNS lookup to the last byte.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why an icon could not be fetched; the message is shown next to the icon URL field.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum IconError {
    #[error("the icon URL must be an https:// URL")]
    NotHttps,
    #[error("the icon URL points to a private or local address, which Latchkey does not fetch")]
    PrivateAddress,
    #[error("Latchkey could not reach the icon URL")]
    Unreachable,
    #[error("Latchkey could not fetch the icon within 5 seconds")]
    Timeout,
    #[error("the icon URL answered with a redirect; give the final URL of the image")]
    Redirect,
    #[error("the icon URL answered with HTTP status {0}")]
    Status(u16),
    #[error("the icon is larger than 256 KiB")]
    TooLarge,
    #[error("the icon must be a PNG, JPEG, GIF or WebP image")]
    NotAnImage,
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

/// The image type named by a `Content-Type` header, when Latchkey serves that type.
fn declared_type(content_type: &str) -> Option<&'static str> {
    let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
    match essence.as_str() {
        "image/png" => Some("image/png"),
        "image/jpeg" | "image/jpg" => Some("image/jpeg"),
        "image/gif" => Some("image/gif"),
        "image/webp" => Some("image/webp"),
        _ => None,
    }
}

/// The image type the bytes' signature shows.
pub(crate) fn sniffed_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Fetches the icon at `raw_url` under the rules above.
pub(crate) async fn fetch(raw_url: &str, allow_loopback: bool) -> Result<AppIcon, IconError> {
    match tokio::time::timeout(FETCH_TIMEOUT, fetch_within(raw_url, allow_loopback)).await {
        Ok(result) => result,
        Err(_) => Err(IconError::Timeout),
    }
}

async fn fetch_within(raw_url: &str, allow_loopback: bool) -> Result<AppIcon, IconError> {
    let url = url::Url::parse(raw_url).map_err(|_| IconError::NotHttps)?;
    let host = url.host().ok_or(IconError::NotHttps)?;
    let port = url.port_or_known_default().ok_or(IconError::NotHttps)?;
    let addresses: Vec<SocketAddr> = match host {
        url::Host::Ipv4(ip) => vec![SocketAddr::new(ip.into(), port)],
        url::Host::Ipv6(ip) => vec![SocketAddr::new(ip.into(), port)],
        url::Host::Domain(name) => tokio::net::lookup_host((name, port))
            .await
            .map_err(|_| IconError::Unreachable)?
            .collect(),
    };
    if addresses.is_empty() {
        return Err(IconError::Unreachable);
    }
    if !addresses
        .iter()
        .all(|a| address_allowed(a.ip(), allow_loopback))
    {
        return Err(IconError::PrivateAddress);
    }
    let plain_http_allowed = allow_loopback && addresses.iter().all(|a| a.ip().is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if plain_http_allowed => {}
        _ => return Err(IconError::NotHttps),
    }
    let mut client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(FETCH_TIMEOUT)
        .user_agent(concat!(
            "Latchkey/",
            env!("CARGO_PKG_VERSION"),
            " (app icon)"
        ));
    if let url::Host::Domain(name) = host {
        // Connect only to the addresses checked above: no second lookup that could rebind.
        client = client.resolve_to_addrs(name, &addresses);
    }
    let client = client.build().map_err(|_| IconError::Unreachable)?;
    let mut response = client
        .get(url.as_str())
        .header(
            header::ACCEPT,
            "image/png, image/jpeg, image/gif, image/webp",
        )
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                IconError::Timeout
            } else {
                IconError::Unreachable
            }
        })?;
    let status = response.status();
    if status.is_redirection() {
        return Err(IconError::Redirect);
    }
    if !status.is_success() {
        return Err(IconError::Status(status.as_u16()));
    }
    let declared = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(declared_type)
        .ok_or(IconError::NotAnImage)?;
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ICON_BYTES as u64)
    {
        return Err(IconError::TooLarge);
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        if e.is_timeout() {
            IconError::Timeout
        } else {
            IconError::Unreachable
        }
    })? {
        if bytes.len() + chunk.len() > MAX_ICON_BYTES {
            return Err(IconError::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    if sniffed_type(&bytes) != Some(declared) {
        return Err(IconError::NotAnImage);
    }
    Ok(AppIcon {
        source_url: raw_url.to_owned(),
        content_type: declared.to_owned(),
        bytes,
    })
}

/// Up to two initials of the app's name, for the icon of an app without one.
pub(crate) fn initials(name: &str) -> String {
    let mut out: String = name
        .split_whitespace()
        .filter_map(|word| word.chars().find(|c| c.is_alphanumeric()))
        .take(2)
        .flat_map(char::to_uppercase)
        .collect();
    if out.is_empty() {
        out.push('?');
    }
    out
}

/// An SVG of the initials on a colour chosen by the app's id. Only letters and digits reach the
/// markup, and they are escaped anyway.
fn initials_svg(app_id: i64, name: &str) -> String {
    const COLOURS: [&str; 6] = [
        "#2271b1", "#8a2424", "#007017", "#6b3fa0", "#b26200", "#135e96",
    ];
    let colour = COLOURS[app_id.rem_euclid(COLOURS.len() as i64) as usize];
    let text: String = initials(name)
        .chars()
        .map(|c| match c {
            '<' | '>' | '&' | '"' | '\'' => '?',
            c => c,
        })
        .collect();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"96\" height=\"96\" viewBox=\"0 0 96 96\">\
         <rect width=\"96\" height=\"96\" rx=\"12\" fill=\"{colour}\"/>\
         <text x=\"48\" y=\"50\" fill=\"#fff\" font-family=\"system-ui, sans-serif\" font-size=\"40\" \
         font-weight=\"600\" text-anchor=\"middle\" dominant-baseline=\"middle\">{text}</text></svg>"
    )
}

/// `GET /apps/{client_id}/icon`: the fetched icon with its own strict type, or the initials. Any
/// visitor may load it (the consent page shows it to whoever is asked to approve the app).
pub(crate) async fn serve(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let Some(id) = id.parse::<i64>().ok().filter(|id| *id > 0) else {
        return Err(PageError::NotFound);
    };
    let Some(app) = state.store.app_by_id(id).await? else {
        return Err(PageError::NotFound);
    };
    let (content_type, body) = match state.store.app_icon(app.id).await? {
        Some(icon) if icon.source_url == app.icon_url => {
            let checked = sniffed_type(&icon.bytes).filter(|t| *t == icon.content_type);
            match checked {
                Some(t) => (t, icon.bytes),
                None => (
                    "image/svg+xml",
                    initials_svg(app.id, &app.name).into_bytes(),
                ),
            }
        }
        _ => (
            "image/svg+xml",
            initials_svg(app.id, &app.name).into_bytes(),
        ),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}

/// What the app form does about the icon URL: fetch it when it is new or changed (and keep the
/// result to store once the app is saved), or forget the stored icon when the URL was emptied.
pub(crate) enum IconChange {
    Keep,
    Store(AppIcon),
    Remove,
}

/// Fetches the icon at `new_url` when it differs from `old_url`; the error is the icon field's.
pub(crate) async fn prepare(
    state: &AppState,
    old_url: Option<&str>,
    new_url: &str,
) -> Result<IconChange, IconError> {
    if old_url == Some(new_url) {
        return Ok(IconChange::Keep);
    }
    if new_url.is_empty() {
        return Ok(IconChange::Remove);
    }
    fetch(new_url, state.settings.icon_fetch_allow_loopback)
        .await
        .map(IconChange::Store)
}

/// Applies the change to the saved app, in the transaction that saves it.
pub(crate) async fn apply(
    tx: &mut crate::store::Tx<'_>,
    app_id: i64,
    change: IconChange,
    now: i64,
) -> Result<(), crate::store::StoreError> {
    match change {
        IconChange::Keep => Ok(()),
        IconChange::Store(icon) => tx.set_app_icon(app_id, &icon, now).await,
        IconChange::Remove => tx.delete_app_icon(app_id).await,
    }
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

    #[test]
    fn the_declared_type_must_match_the_bytes() {
        assert_eq!(sniffed_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniffed_type(b"GIF89a..."), Some("image/gif"));
        assert_eq!(sniffed_type(b"<svg xmlns=...>"), None);
        assert_eq!(declared_type("image/PNG; charset=x"), Some("image/png"));
        assert_eq!(declared_type("image/svg+xml"), None);
        assert_eq!(declared_type("text/html"), None);
    }

    #[test]
    fn initials_take_the_first_letter_of_two_words() {
        assert_eq!(initials("Bea's Reader"), "BR");
        assert_eq!(initials("  écoute  "), "É");
        assert_eq!(initials("<script>"), "S");
        assert_eq!(initials("!!!"), "?");
    }
}
