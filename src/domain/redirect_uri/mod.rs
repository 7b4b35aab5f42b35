//! Redirect URIs: what an app may register, and how a presented `redirect_uri` is matched against
//! the registered ones (oauth2.md §2; security.md §1.A RU01–RU16; RFC 6749 §3.1.2, RFC 9700 §2.1 and
//! §4.1.3, RFC 8252 §7.3 and §8.3).
//!
//! Matching compares the raw strings byte for byte — no decoding, case folding, default-port removal,
//! dot-segment removal or trailing-slash tolerance — because every equivalence rule is one more way for
//! an attacker to reach a URI the app never registered. `url::Url` normalises, so it is used here only
//! as a syntax check at registration, never to compare.

use crate::domain::app::AppType;

/// The longest redirect URI accepted at registration, in bytes.
pub const MAX_LEN: usize = 2000;

/// Schemes that run code or read local files when a browser follows them (security.md RU09).
const DANGEROUS_SCHEMES: [&str; 4] = ["javascript", "data", "vbscript", "file"];

/// Parameters the server itself writes into the authorization response's query (RFC 6749 §4.1.2 and
/// §4.1.2.1, RFC 9207). A registered URI carrying one of them would let a second copy ride along and
/// confuse the client about which one is real (parameter pollution, security.md RU07).
const RESERVED_QUERY_PARAMETERS: [&str; 6] = [
    "code",
    "state",
    "iss",
    "error",
    "error_description",
    "error_uri",
];

/// The loopback IP literals native apps may redirect to over `http:` (RFC 8252 §7.3). `localhost` is
/// deliberately absent: it can resolve elsewhere (RFC 8252 §8.3).
const LOOPBACK_HOSTS: [&str; 2] = ["127.0.0.1", "[::1]"];

/// Why a redirect URI cannot be registered. Each message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error(
        "the redirect URI is empty; register an absolute URI such as https://example.com/callback"
    )]
    Empty,
    #[error("the redirect URI is {len} bytes long; register one of at most {MAX_LEN} bytes")]
    TooLong { len: usize },
    #[error(
        "the redirect URI contains whitespace or a control character at byte {position}; \
         remove it (or percent-encode it, e.g. a space as %20)"
    )]
    ControlOrWhitespace { position: usize },
    #[error(
        "the redirect URI contains a non-ASCII character at byte {position}; percent-encode it in \
         the path and query, and write an internationalised host name in its xn-- (punycode) form"
    )]
    NonAscii { position: usize },
    #[error(
        "the redirect URI contains {ch:?} at byte {position}, which RFC 3986 does not allow in a URI; \
         percent-encode it"
    )]
    InvalidCharacter { ch: char, position: usize },
    #[error(
        "the '%' at byte {position} of the redirect URI is not followed by two hex digits; \
         write a literal '%' as %25"
    )]
    BadPercentEncoding { position: usize },
    #[error(
        "the redirect URI has no scheme; register an absolute URI such as \
         https://example.com/callback (RFC 6749 §3.1.2)"
    )]
    NotAbsolute,
    #[error(
        "the {scheme:?} scheme is never allowed in a redirect URI because following it runs code or \
         reads local files; use https:"
    )]
    DangerousScheme { scheme: String },
    #[error(
        "the redirect URI contains a fragment ('#'); remove it and everything after it \
         (RFC 6749 §3.1.2 forbids fragments in redirect URIs)"
    )]
    Fragment,
    #[error("the redirect URI has nothing after \"{scheme}:\"; add the path your app listens on")]
    NothingAfterScheme { scheme: String },
    #[error(
        "the redirect URI contains user information ('…@' before the host); remove it and register \
         only scheme://host/path"
    )]
    Userinfo,
    #[error(
        "the redirect URI's query contains the parameter {name:?}, which Latchkey itself adds to the \
         redirect; remove it from the registered URI"
    )]
    ReservedQueryParameter { name: String },
    #[error("the {scheme}: redirect URI has no host; write it as {scheme}://host/path")]
    EmptyHost { scheme: String },
    #[error("the redirect URI is not a valid URI ({reason}); check its host and port")]
    Malformed { reason: String },
    #[error(
        "http: redirect URIs are allowed only for native apps that redirect to the loopback address \
         http://127.0.0.1 or http://[::1]; use https: (RFC 9700 §2.6)"
    )]
    InsecureHttp,
    #[error(
        "use the loopback IP literal http://127.0.0.1 or http://[::1] instead of \"localhost\", \
         which may resolve elsewhere (RFC 8252 §8.3)"
    )]
    LocalhostName,
    #[error(
        "loopback http: redirect URIs are only for native apps; change the app's type to native, \
         or register an https: URI"
    )]
    LoopbackForWebApp,
    #[error(
        "the loopback redirect URI's port is empty or not a number from 0 to 65535; write it as \
         http://127.0.0.1:PORT/path, or leave the port out (native apps may then use any port)"
    )]
    BadLoopbackPort,
    #[error(
        "the private-use scheme {scheme:?} is only for native apps; change the app's type to native, \
         or register an https: URI"
    )]
    CustomSchemeForWebApp { scheme: String },
}

/// Why a presented `redirect_uri` was not accepted. The Display texts are the `Error Message:` lines
/// of the authorize error page: the first is WordPress.com's, byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RedirectMismatch {
    /// The presented URI matches none of the registered ones (or the app registered none).
    #[error("Mismatch in redirect_uri.")]
    Mismatch,
    /// The request left `redirect_uri` out and the app registered several, so there is no guessing.
    #[error("Missing redirect_uri. This app registers several, so the request must name one.")]
    Missing,
}

/// Checks a redirect URI an app wants to register (oauth2.md §2, security.md RU06–RU09, RU16).
///
/// `own_origin` is Latchkey's public origin (e.g. `http://127.0.0.1:8080`, a trailing `/` is ignored):
/// URIs under it are accepted over `http:` so the built-in playground client works without TLS.
pub fn validate_registration(
    uri: &str,
    app_type: AppType,
    own_origin: &str,
) -> Result<(), RedirectUriError> {
    use RedirectUriError as E;

    if uri.is_empty() {
        return Err(E::Empty);
    }
    if uri.len() > MAX_LEN {
        return Err(E::TooLong { len: uri.len() });
    }
    check_characters(uri)?;
    let (scheme, rest) = split_scheme(uri).ok_or(E::NotAbsolute)?;
    let lower = scheme.to_ascii_lowercase();
    if DANGEROUS_SCHEMES.contains(&lower.as_str()) {
        return Err(E::DangerousScheme { scheme: lower });
    }
    if uri.contains('#') {
        return Err(E::Fragment);
    }
    if rest.is_empty() {
        return Err(E::NothingAfterScheme {
            scheme: scheme.to_owned(),
        });
    }
    let authority = rest
        .strip_prefix("//")
        .map(|r| &r[..r.find(['/', '?']).unwrap_or(r.len())]);
    if authority.is_some_and(|a| a.contains('@')) {
        return Err(E::Userinfo);
    }
    if let Some((_, query)) = rest.split_once('?') {
        // Decoded, so `co%64e` cannot sneak a `code` parameter past the check.
        for (name, _) in url::form_urlencoded::parse(query.as_bytes()) {
            if let Some(reserved) = RESERVED_QUERY_PARAMETERS.iter().find(|r| **r == name) {
                return Err(E::ReservedQueryParameter {
                    name: (*reserved).to_owned(),
                });
            }
        }
    }

    let is_web_scheme = lower == "http" || lower == "https";
    let host = authority.map(host_of).unwrap_or("");
    if is_web_scheme && host.is_empty() {
        // Checked on the raw text: `url` would quietly read `https:///cb` as `https://cb/`.
        return Err(E::EmptyHost { scheme: lower });
    }
    url::Url::parse(uri).map_err(|e| E::Malformed {
        reason: e.to_string(),
    })?;

    match lower.as_str() {
        "https" => Ok(()),
        "http" if is_under_own_origin(uri, own_origin) => Ok(()),
        "http" if LOOPBACK_HOSTS.contains(&host) => match app_type {
            AppType::Web => Err(E::LoopbackForWebApp),
            AppType::Native => split_loopback(uri).map(|_| ()).ok_or(E::BadLoopbackPort),
        },
        "http" if app_type == AppType::Native && host.eq_ignore_ascii_case("localhost") => {
            Err(E::LocalhostName)
        }
        "http" => Err(E::InsecureHttp),
        _ => match app_type {
            AppType::Native => Ok(()),
            AppType::Web => Err(E::CustomSchemeForWebApp {
                scheme: scheme.to_owned(),
            }),
        },
    }
}

/// Whether a presented redirect URI matches a registered one: byte equality, except that a native
/// app's loopback `http:` URI may come back with a different port, or with a port added or removed
/// (RFC 8252 §7.3). Host, path and query still have to be byte-equal.
pub fn matches(registered: &str, presented: &str, app_type: AppType) -> bool {
    if registered == presented {
        return true;
    }
    if app_type != AppType::Native {
        return false;
    }
    match (split_loopback(registered), split_loopback(presented)) {
        (Some(r), Some(p)) => r.head == p.head && r.tail == p.tail,
        _ => false,
    }
}

/// The token request's `redirect_uri` against the one its code was issued for (RFC 6749 §4.1.3, both
/// dialects): byte for byte the same, with no loopback-port leeway; it may be left out only when
/// the app registers exactly that one URI (security.md RU11).
pub fn same_as_authorized(
    sent: Option<&str>,
    registered: &[String],
    authorized: &str,
) -> Result<(), RedirectMismatch> {
    match sent {
        Some(uri) if uri == authorized => Ok(()),
        Some(_) => Err(RedirectMismatch::Mismatch),
        None if registered.len() == 1 && registered[0] == authorized => Ok(()),
        None => Err(RedirectMismatch::Missing),
    }
}

/// The redirect URI an authorization request will use (oauth2.md §2, RFC 6749 §3.1.2.3, security.md
/// RU11): the presented one if it matches a registered one; when the request names none (an empty
/// value counts as none), the only registered one. The returned string is the presented URI itself,
/// so a native app gets its redirect on the port it is actually listening on.
pub fn resolve(
    registered: &[String],
    presented: Option<&str>,
    app_type: AppType,
) -> Result<String, RedirectMismatch> {
    match presented.filter(|p| !p.is_empty()) {
        Some(p) if registered.iter().any(|r| matches(r, p, app_type)) => Ok(p.to_owned()),
        Some(_) => Err(RedirectMismatch::Mismatch),
        None => match registered {
            [only] => Ok(only.clone()),
            [] => Err(RedirectMismatch::Mismatch),
            _ => Err(RedirectMismatch::Missing),
        },
    }
}

/// A loopback URI cut around its port: `http://127.0.0.1` + `:8080` + `/cb?x=1`.
#[derive(Debug, PartialEq, Eq)]
struct Loopback<'a> {
    /// Scheme, `://` and the host literal, exactly as written.
    head: &'a str,
    /// Everything after the port: empty, or starting with `/` or `?`.
    tail: &'a str,
}

/// Splits an `http:` URI whose host is a loopback IP literal, or returns `None`. The port, when
/// present, must be 1–5 digits no greater than 65535, and must be followed by the path, the query or
/// nothing — so `http://127.0.0.1.evil.example/` and `http://127.0.0.1:80@evil.example/` are not
/// loopback URIs.
fn split_loopback(uri: &str) -> Option<Loopback<'_>> {
    const SCHEME_AND_SLASHES: usize = "http://".len();
    let scheme = uri.get(..4)?;
    if !scheme.eq_ignore_ascii_case("http") || uri.get(4..SCHEME_AND_SLASHES)? != "://" {
        return None;
    }
    let after = &uri[SCHEME_AND_SLASHES..];
    let host = LOOPBACK_HOSTS.iter().find(|h| after.starts_with(**h))?;
    let (head, rest) = uri.split_at(SCHEME_AND_SLASHES + host.len());
    let tail = match rest.strip_prefix(':') {
        Some(port_and_tail) => {
            let digits = port_and_tail.bytes().take_while(u8::is_ascii_digit).count();
            if !(1..=5).contains(&digits) || port_and_tail[..digits].parse::<u32>().ok()? > 65535 {
                return None;
            }
            &port_and_tail[digits..]
        }
        None => rest,
    };
    if tail.is_empty() || tail.starts_with(['/', '?']) {
        Some(Loopback { head, tail })
    } else {
        None
    }
}

/// `scheme` and what follows its `:`, if the URI starts with a syntactically valid scheme
/// (RFC 3986 §3.1: a letter, then letters, digits, `+`, `-` or `.`).
fn split_scheme(uri: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let others_valid = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (first_is_letter && others_valid).then_some((scheme, rest))
}

/// The host of an authority (`host`, `host:port` or `[v6]:port`), as written.
fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        authority
            .find(']')
            .map_or(authority, |end| &authority[..=end])
    } else {
        authority.split(':').next().unwrap_or("")
    }
}

/// Whether the URI lies under Latchkey's own public origin (the playground's callback).
fn is_under_own_origin(uri: &str, own_origin: &str) -> bool {
    let origin = own_origin.strip_suffix('/').unwrap_or(own_origin);
    !origin.is_empty()
        && uri
            .strip_prefix(origin)
            .is_some_and(|path| path.starts_with('/'))
}

/// Every character must be one RFC 3986 §2 allows, with `%` starting a valid percent-encoding.
fn check_characters(uri: &str) -> Result<(), RedirectUriError> {
    use RedirectUriError as E;
    let bytes = uri.as_bytes();
    for (position, ch) in uri.char_indices() {
        if ch.is_control() || ch.is_whitespace() {
            return Err(E::ControlOrWhitespace { position });
        }
        if !ch.is_ascii() {
            return Err(E::NonAscii { position });
        }
        let allowed = ch.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(ch);
        if !allowed {
            return Err(E::InvalidCharacter { ch, position });
        }
        if ch == '%' {
            let hex = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(position + 1) && hex(position + 2)) {
                return Err(E::BadPercentEncoding { position });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
