//! Tests of the redirect-URI rules: registration, matching and their property tests.

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
        validate_registration("http://127.0.0.1:80800/cb", Web, "http://127.0.0.1:8080").is_err()
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

#[test]
fn the_token_request_repeats_the_authorized_uri_or_leaves_out_the_only_one() {
    let one = vec!["https://a.example/cb".to_owned()];
    let two = vec![
        "https://a.example/cb".to_owned(),
        "https://a.example/cb2".to_owned(),
    ];
    let cb = "https://a.example/cb";
    assert_eq!(
        same_as_authorized(Some(cb), &two, cb),
        Ok(()),
        "the same URI"
    );
    assert_eq!(
        same_as_authorized(Some("https://a.example/cb/"), &one, cb),
        Err(RedirectMismatch::Mismatch),
        "not byte for byte the same"
    );
    assert_eq!(
        same_as_authorized(None, &one, cb),
        Ok(()),
        "the only registered URI"
    );
    assert_eq!(
        same_as_authorized(None, &two, cb),
        Err(RedirectMismatch::Missing),
        "left out while several are registered"
    );
    assert_eq!(
        same_as_authorized(None, &one, "https://a.example/old"),
        Err(RedirectMismatch::Missing),
        "left out, and the code was issued for a URI no longer registered"
    );
}
