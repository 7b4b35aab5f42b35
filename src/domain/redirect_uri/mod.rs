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
mod tests {
    use super::*;
    use AppType::{Native, Web};
    use RedirectUriError as E;
    use proptest::prelude::*;

    const OWN: &str = "http://127.0.0.1:8080";

    fn register(uri: &str, app_type: AppType) -> Result<(), RedirectUriError> {
        validate_registration(uri, app_type, OWN)
    }

    #[test]
    fn acceptable_registrations_are_accepted() {
        #[rustfmt::skip]
        let cases: &[(&str, AppType, &str)] = &[
            ("https://client.example/cb", Web, "a plain https URI"),
            ("https://client.example/cb", Native, "https is fine for native apps too"),
            ("https://app2.example/cb2?tenant=1", Web, "a query without reserved names"),
            ("https://client.example:8443/cb/", Web, "a port and a trailing slash"),
            ("https://[2001:db8::1]/cb", Web, "an IPv6 host"),
            ("https://client.example/a%20b", Web, "percent-encoding"),
            ("https://client.example", Web, "no path at all"),
            ("http://127.0.0.1/cb", Native, "loopback without a port"),
            ("http://127.0.0.1:53219/cb", Native, "loopback with a port"),
            ("http://127.0.0.1", Native, "loopback without a path"),
            ("http://[::1]:8000/callback?x=1", Native, "IPv6 loopback"),
            ("wordpress://wpcom-authorize", Native, "WordPress's app scheme"),
            ("com.example.app:/cb", Native, "a reverse-domain scheme (RFC 8252 §7.1)"),
            ("wpcom-local-dev://auth", Native, "Studio's scheme"),
            ("http://127.0.0.1:8080/playground/callback", Web, "under our own origin"),
            ("http://127.0.0.1:8080/", Native, "our own origin's root"),
        ];
        for (uri, app_type, why) in cases {
            assert_eq!(register(uri, *app_type), Ok(()), "{why}: {uri}");
        }
    }

    #[test]
    fn unacceptable_registrations_are_refused_with_a_message_that_says_what_to_fix() {
        let long = format!("https://client.example/{}", "a".repeat(MAX_LEN));
        let scheme = |s: &str| s.to_owned();
        let malformed = |reason: &str| E::Malformed {
            reason: reason.to_owned(),
        };
        #[rustfmt::skip]
        let cases: &[(&str, AppType, RedirectUriError)] = &[
            ("", Web, E::Empty),
            (&long, Web, E::TooLong { len: long.len() }),
            ("https://client.example/cb#", Web, E::Fragment),
            ("https://client.example/cb#x", Web, E::Fragment),
            ("wordpress://x#y", Native, E::Fragment),
            ("https://user@client.example/cb", Web, E::Userinfo),
            ("https://u:p@client.example/cb", Web, E::Userinfo),
            ("https://@client.example/cb", Web, E::Userinfo),
            ("https://client.example/c b", Web, E::ControlOrWhitespace { position: 24 }),
            ("https://client.example/cb\n", Web, E::ControlOrWhitespace { position: 25 }),
            ("https://client.example/\u{7f}", Web, E::ControlOrWhitespace { position: 23 }),
            ("https://client.example/\u{a0}", Web, E::ControlOrWhitespace { position: 23 }),
            ("https://clіent.example/cb", Web, E::NonAscii { position: 10 }),
            ("https://client.example/<x>", Web, E::InvalidCharacter { ch: '<', position: 23 }),
            ("https:\\\\evil.example", Web, E::InvalidCharacter { ch: '\\', position: 6 }),
            ("https://client.example/%zz", Web, E::BadPercentEncoding { position: 23 }),
            ("https://client.example/%4", Web, E::BadPercentEncoding { position: 23 }),
            ("/cb", Web, E::NotAbsolute),
            ("client.example/cb", Web, E::NotAbsolute),
            ("1http://x/", Native, E::NotAbsolute),
            ("javascript:alert(1)", Native, E::DangerousScheme { scheme: scheme("javascript") }),
            ("JaVaScRiPt:alert(1)", Native, E::DangerousScheme { scheme: scheme("javascript") }),
            ("data:text/html,hi", Native, E::DangerousScheme { scheme: scheme("data") }),
            ("vbscript:msgbox", Native, E::DangerousScheme { scheme: scheme("vbscript") }),
            ("FILE:///etc/passwd", Native, E::DangerousScheme { scheme: scheme("file") }),
            ("myapp:", Native, E::NothingAfterScheme { scheme: scheme("myapp") }),
            ("https://c.example/cb?code=A", Web, E::ReservedQueryParameter { name: "code".into() }),
            ("https://c.example/?a&state=S", Web, E::ReservedQueryParameter { name: "state".into() }),
            ("https://c.example/cb?co%64e", Web, E::ReservedQueryParameter { name: "code".into() }),
            ("https://c.example/cb?iss=x", Web, E::ReservedQueryParameter { name: "iss".into() }),
            ("https:///cb", Web, E::EmptyHost { scheme: scheme("https") }),
            ("https:/cb", Web, E::EmptyHost { scheme: scheme("https") }),
            ("https://:443/cb", Web, E::EmptyHost { scheme: scheme("https") }),
            ("http:cb", Native, E::EmptyHost { scheme: scheme("http") }),
            ("http://client.example/cb", Web, E::InsecureHttp),
            ("http://client.example/cb", Native, E::InsecureHttp),
            ("http://127.0.0.2/cb", Native, E::InsecureHttp),
            ("http://localhost:3000/cb", Native, E::LocalhostName),
            ("http://LocalHost/cb", Native, E::LocalhostName),
            ("http://localhost:3000/cb", Web, E::InsecureHttp),
            ("http://127.0.0.1/cb", Web, E::LoopbackForWebApp),
            ("http://[::1]/cb", Web, E::LoopbackForWebApp),
            ("http://127.0.0.1:/cb", Native, E::BadLoopbackPort),
            ("http://127.0.0.1:99999/cb", Native, malformed("invalid port number")),
            ("http://127.0.0.1:8080cb", Web, malformed("invalid port number")),
            ("https://exa%00mple/", Web, malformed("invalid international domain name")),
            ("wordpress://wpcom-authorize", Web, E::CustomSchemeForWebApp { scheme: scheme("wordpress") }),
        ];
        let verbs = [
            "remove",
            "use",
            "change",
            "register",
            "write",
            "percent-encode",
            "add",
            "check",
        ];
        for (uri, app_type, expected) in cases {
            let got = register(uri, *app_type);
            assert_eq!(got.as_ref(), Err(expected), "{uri:?} ({app_type})");
            let message = expected.to_string();
            assert!(
                verbs.iter().any(|v| message.contains(v)),
                "{uri:?} says no fix: {message}"
            );
        }
    }

    #[test]
    fn own_origin_exemption_needs_a_slash_after_the_origin_and_ignores_a_trailing_one() {
        assert_eq!(
            validate_registration("http://127.0.0.1:8080/cb", Web, "http://127.0.0.1:8080/"),
            Ok(())
        );
        assert!(
            validate_registration("http://127.0.0.1:80800/cb", Web, "http://127.0.0.1:8080")
                .is_err()
        );
        assert_eq!(
            validate_registration("http://127.0.0.1:8080/cb", Web, ""),
            Err(E::LoopbackForWebApp)
        );
        assert_eq!(
            validate_registration("http://as.internal/play", Web, "http://as.internal"),
            Ok(())
        );
    }

    #[test]
    fn exact_matches_are_accepted_and_every_small_difference_is_a_mismatch() {
        let registered = "https://client.example/cb";
        assert!(matches(registered, registered, Web));
        let presented = [
            "https://evil.example/cb",
            "https://client.example/cb/x",
            "https://client.example/cbx",
            "https://client.example/c",
            "https://client.example/cb/",
            "https://client.example/FAKEPATH",
            "https://client.example.evil.example/cb",
            "https://evilclient.example/cb",
            "https://sub.client.example/cb",
            "https://client.example./cb",
            "https://client.example:443/cb",
            "https://clіent.example/cb",
            "HTTPS://client.example/cb",
            "https://CLIENT.example/cb",
            "https://client.example/CB",
            "https://client.example/%63b",
            "http://client.example/cb",
            "https://client.example/cb?x=1",
            "https://client.example/cb?code=ATTACKER&state=S",
            "https://client.example/cb#x",
            "https://client.example/cb#",
            "https://client.example/./cb",
            " https://client.example/cb",
            "",
        ];
        for p in presented {
            assert!(!matches(registered, p, Web), "web: {p}");
            assert!(!matches(registered, p, Native), "native: {p}");
        }
    }

    #[test]
    fn trailing_slash_difference_is_a_mismatch() {
        assert!(!matches(
            "https://client.example/cb/",
            "https://client.example/cb",
            Web
        ));
        assert!(!matches(
            "https://client.example/cb",
            "https://client.example/cb/",
            Web
        ));
    }

    #[test]
    fn a_registered_query_must_be_presented_byte_for_byte() {
        let r = "https://app2.example/cb2?tenant=1";
        assert!(matches(r, r, Web));
        assert!(!matches(r, "https://app2.example/cb2?tenant=2", Web));
        assert!(!matches(r, "https://app2.example/cb2?tenant=1&x=1", Web));
        assert!(!matches(r, "https://app2.example/cb2", Web));
    }

    #[test]
    fn native_loopback_redirects_may_change_only_the_port() {
        let r = "http://127.0.0.1/cb";
        let cases: &[(&str, bool)] = &[
            ("http://127.0.0.1/cb", true),
            ("http://127.0.0.1:53219/cb", true),
            ("http://127.0.0.1:0/cb", true),
            ("http://127.0.0.1:65535/cb", true),
            ("http://127.0.0.1:65536/cb", false),
            ("http://127.0.0.1:123456/cb", false),
            ("http://127.0.0.1:/cb", false),
            ("http://127.0.0.1:53219/cb2", false),
            ("http://127.0.0.1:53219/cb/", false),
            ("http://127.0.0.1:53219/cb?x=1", false),
            ("http://127.0.0.1:53219/cb#x", false),
            ("http://localhost:53219/cb", false),
            ("http://127.0.0.2/cb", false),
            ("http://[::1]:53219/cb", false),
            ("https://127.0.0.1:53219/cb", false),
            ("http://127.0.0.1.evil.example/cb", false),
            ("http://127.0.0.1:80@evil.example/cb", false),
            ("http://127.0.0.1:80:81/cb", false),
            ("http://127.0.0.1:+80/cb", false),
        ];
        for (p, expected) in cases {
            assert_eq!(matches(r, p, Native), *expected, "native: {p}");
            assert_eq!(matches(r, p, Web), *p == r, "web: {p}");
        }
    }

    #[test]
    fn a_registered_loopback_port_may_be_dropped_or_changed_and_v6_works_the_same() {
        assert!(matches(
            "http://127.0.0.1:8000/cb",
            "http://127.0.0.1/cb",
            Native
        ));
        assert!(matches(
            "http://127.0.0.1:8000/cb",
            "http://127.0.0.1:9/cb",
            Native
        ));
        assert!(matches(
            "http://[::1]/cb?a=b",
            "http://[::1]:4242/cb?a=b",
            Native
        ));
        assert!(matches("http://127.0.0.1", "http://127.0.0.1:4242", Native));
        assert!(matches(
            "http://127.0.0.1?x",
            "http://127.0.0.1:1?x",
            Native
        ));
        assert!(!matches("http://[::1]/cb", "http://[::1]:4242/cb?", Native));
        assert!(!matches(
            "http://127.0.0.1/cb",
            "HTTP://127.0.0.1:1/cb",
            Native
        ));
    }

    #[test]
    fn web_apps_never_get_the_loopback_port_exception() {
        assert!(!matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:53219/cb",
            Web
        ));
    }

    #[test]
    fn resolve_uses_the_presented_uri_when_it_matches() {
        let registered = vec!["http://127.0.0.1/cb".to_owned()];
        assert_eq!(
            resolve(&registered, Some("http://127.0.0.1:5000/cb"), Native),
            Ok("http://127.0.0.1:5000/cb".to_owned())
        );
        let two = vec![
            "https://app2.example/cb".to_owned(),
            "https://app2.example/cb2?tenant=1".to_owned(),
        ];
        assert_eq!(
            resolve(&two, Some("https://app2.example/cb2?tenant=1"), Web),
            Ok("https://app2.example/cb2?tenant=1".to_owned())
        );
        assert_eq!(
            resolve(&two, Some("https://app2.example/cb2?tenant=2"), Web),
            Err(RedirectMismatch::Mismatch)
        );
    }

    #[test]
    fn resolve_defaults_only_when_exactly_one_uri_is_registered() {
        let one = vec!["https://client.example/cb".to_owned()];
        let two = vec![
            "https://app2.example/cb".to_owned(),
            "https://app2.example/cb2?tenant=1".to_owned(),
        ];
        assert_eq!(resolve(&one, None, Web), Ok(one[0].clone()));
        assert_eq!(resolve(&one, Some(""), Web), Ok(one[0].clone()));
        assert_eq!(resolve(&two, None, Web), Err(RedirectMismatch::Missing));
        assert_eq!(resolve(&two, Some(""), Web), Err(RedirectMismatch::Missing));
        assert_eq!(resolve(&[], None, Web), Err(RedirectMismatch::Mismatch));
        assert_eq!(
            resolve(&[], Some("https://client.example/cb"), Web),
            Err(RedirectMismatch::Mismatch)
        );
    }

    #[test]
    fn mismatch_message_is_the_wordpress_com_text() {
        assert_eq!(
            RedirectMismatch::Mismatch.to_string(),
            "Mismatch in redirect_uri."
        );
        assert!(
            RedirectMismatch::Missing
                .to_string()
                .starts_with("Missing redirect_uri.")
        );
    }

    /// A URI built from parts, so the test knows which parts differ without parsing.
    #[derive(Debug, Clone)]
    struct Parts {
        scheme: &'static str,
        host: &'static str,
        port: Option<u16>,
        rest: String,
    }

    impl Parts {
        fn render(&self) -> String {
            let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{}{port}{}", self.scheme, self.host, self.rest)
        }
    }

    fn parts() -> impl Strategy<Value = Parts> {
        (
            prop::sample::select(vec!["http", "https", "HTTP", "wordpress"]),
            prop::sample::select(vec![
                "127.0.0.1",
                "[::1]",
                "localhost",
                "127.0.0.2",
                "client.example",
            ]),
            prop::option::of(prop::sample::select(vec![0u16, 80, 443, 8080, 53219])),
            "(/[a-c]{0,2}){0,2}(\\?[a-c=&]{0,3})?",
        )
            .prop_map(|(scheme, host, port, rest)| Parts {
                scheme,
                host,
                port,
                rest,
            })
    }

    proptest! {
        #[test]
        fn accepted_exactly_when_byte_equal_or_a_native_loopback_port_change(
            r in parts(), p in parts(), native in any::<bool>()
        ) {
            let app_type = if native { Native } else { Web };
            let (rs, ps) = (r.render(), p.render());
            let only_port_changed = r.scheme == p.scheme
                && r.scheme.eq_ignore_ascii_case("http")
                && r.host == p.host
                && LOOPBACK_HOSTS.contains(&r.host)
                && r.rest == p.rest;
            let expected = rs == ps || (native && only_port_changed);
            prop_assert_eq!(matches(&rs, &ps, app_type), expected, "{} vs {}", rs, ps);
        }

        #[test]
        fn web_apps_match_exactly_on_arbitrary_strings(r in ".{0,40}", p in ".{0,40}") {
            prop_assert_eq!(matches(&r, &p, Web), r == p);
        }

        #[test]
        fn a_native_match_on_arbitrary_strings_differs_at_most_in_a_loopback_port(
            port in prop::option::of(any::<u16>()),
            p in "http://(127\\.0\\.0\\.1|\\[::1\\])[:0-9a-z/?@.]{0,12}",
        ) {
            let r = "http://127.0.0.1/cb";
            let mut variant = String::from("http://127.0.0.1");
            if let Some(port) = port {
                variant.push_str(&format!(":{port}"));
            }
            variant.push_str("/cb");
            prop_assert!(matches(r, &variant, Native));
            if matches(r, &p, Native) {
                let tail = p.strip_prefix("http://127.0.0.1").unwrap();
                let tail = tail.trim_start_matches(|c: char| c == ':' || c.is_ascii_digit());
                prop_assert_eq!(tail, "/cb");
            }
        }

        #[test]
        fn resolve_only_ever_returns_a_registered_or_port_changed_uri(
            r in parts(), p in parts(), native in any::<bool>()
        ) {
            let app_type = if native { Native } else { Web };
            let registered = vec![r.render()];
            if let Ok(uri) = resolve(&registered, Some(&p.render()), app_type) {
                prop_assert!(uri == registered[0] || (native && uri.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("http://"))));
                prop_assert_eq!(uri, p.render());
            }
        }

        #[test]
        fn registration_never_panics(uri in any::<String>(), native in any::<bool>()) {
            let app_type = if native { Native } else { Web };
            let _ = validate_registration(&uri, app_type, OWN);
        }

        #[test]
        fn registration_never_panics_on_uri_like_input(
            uri in "[a-zA-Z]{1,6}:[/]{0,3}[a-z0-9.:@\\[\\]%?#=&/]{0,30}", native in any::<bool>()
        ) {
            let app_type = if native { Native } else { Web };
            let _ = validate_registration(&uri, app_type, OWN);
        }
    }
}
