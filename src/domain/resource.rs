//! Resource indicators (RFC 8707) and audiences (oauth21.md §2, §4): which `resource` values the
//! 2.1 server grants, and which Latchkey resource a token is good for.
//!
//! Audiences are stored as one space-separated string (a URI holds no space), `None` for a token
//! issued without `resource`: such a token is good for the REST API only.

/// The REST API's resource identifier under a public URL without trailing slash.
pub fn rest_api(base_url: &str) -> String {
    format!("{base_url}/rest/v1")
}

/// The MCP endpoint's resource identifier (oauth21.md §8).
pub fn mcp(base_url: &str) -> String {
    format!("{base_url}/wpcom/v2/mcp/v1")
}

/// The resources Latchkey itself protects under a public URL: its REST API and its MCP endpoint.
pub fn protected(base_url: &str) -> Vec<String> {
    vec![rest_api(base_url), mcp(base_url)]
}

/// Why a `resource` value is refused: `invalid_target` (RFC 8707 §2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTarget {
    #[error("The resource parameter must be an absolute URI without a fragment.")]
    Malformed,
    #[error("The resource is not one this server protects or the app registered.")]
    Unknown,
}

/// Checks every requested `resource` (RFC 8707 §2): an absolute URI without fragment, equal to one
/// Latchkey protects or one the app registered. Returns them without duplicates, in request order.
pub fn check<'a>(
    requested: &[&'a str],
    protected: &[String],
    registered: &[String],
) -> Result<Vec<&'a str>, InvalidTarget> {
    let mut out: Vec<&str> = Vec::new();
    for &r in requested {
        if !well_formed(r) {
            return Err(InvalidTarget::Malformed);
        }
        if !protected.iter().chain(registered).any(|p| p == r) {
            return Err(InvalidTarget::Unknown);
        }
        if !out.contains(&r) {
            out.push(r);
        }
    }
    Ok(out)
}

/// Whether `r` can name a resource: an absolute URI without fragment (RFC 8707 §2), and without
/// a space, which separates audiences in storage.
fn well_formed(r: &str) -> bool {
    let absolute =
        url::Url::parse(r).is_ok_and(|u| u.fragment().is_none() && !u.cannot_be_a_base());
    absolute && !r.contains('#') && !r.contains(' ')
}

/// Why an app cannot register a resource URI (`latchkey app update --resource`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unregistrable {
    #[error("{0} is not an absolute URI without a fragment.")]
    Malformed(String),
    #[error("{0} is one of Latchkey's own resources.")]
    Protected(String),
}

/// Checks the resource URIs an app registers as its own APIs: each well formed and none of the
/// resources Latchkey itself protects. Returns them without duplicates, in order.
pub fn registrable(uris: &[String], protected: &[String]) -> Result<Vec<String>, Unregistrable> {
    let mut out: Vec<String> = Vec::new();
    for uri in uris {
        if !well_formed(uri) {
            return Err(Unregistrable::Malformed(uri.clone()));
        }
        if protected.contains(uri) {
            return Err(Unregistrable::Protected(uri.clone()));
        }
        if !out.contains(uri) {
            out.push(uri.clone());
        }
    }
    Ok(out)
}

/// The storage form of a list of audiences: `None` when empty.
pub fn encode(audiences: &[&str]) -> Option<String> {
    (!audiences.is_empty()).then(|| audiences.join(" "))
}

/// The audiences of a stored string.
pub fn decode(stored: Option<&str>) -> Vec<&str> {
    stored
        .map(|s| s.split(' ').filter(|a| !a.is_empty()).collect())
        .unwrap_or_default()
}

/// Whether a token with these stored audiences is good for `resource`; `rest_api` is the REST
/// API's identifier, the only resource a token without audiences is good for.
pub fn admits(audiences: Option<&str>, resource: &str, rest_api: &str) -> bool {
    match audiences {
        None => resource == rest_api,
        Some(list) => decode(Some(list)).contains(&resource),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://latchkey.test";

    fn protected() -> Vec<String> {
        super::protected(BASE)
    }

    #[test]
    fn protected_and_registered_resources_are_granted_once_each() {
        let registered = vec!["https://rs.example/api".to_owned()];
        let got = check(
            &[
                "https://latchkey.test/rest/v1",
                "https://rs.example/api",
                "https://latchkey.test/rest/v1",
            ],
            &protected(),
            &registered,
        );
        assert_eq!(
            got,
            Ok(vec![
                "https://latchkey.test/rest/v1",
                "https://rs.example/api"
            ])
        );
    }

    #[test]
    fn malformed_or_unknown_resources_are_invalid_targets() {
        let cases = [
            ("rest/v1", InvalidTarget::Malformed, "relative"),
            (
                "https://latchkey.test/rest/v1#x",
                InvalidTarget::Malformed,
                "fragment",
            ),
            ("mailto:a@b.c", InvalidTarget::Malformed, "not hierarchical"),
            (
                "https://latchkey.test/rest/v1/",
                InvalidTarget::Unknown,
                "trailing slash",
            ),
            (
                "https://evil.example/rest/v1",
                InvalidTarget::Unknown,
                "other host",
            ),
        ];
        for (raw, want, why) in cases {
            assert_eq!(check(&[raw], &protected(), &[]), Err(want), "{why}");
        }
    }

    #[test]
    fn an_app_registers_absolute_uris_other_than_latchkeys_own() {
        let ok = registrable(
            &[
                "https://rs.example/api".into(),
                "https://rs.example/api".into(),
                "https://ledger.example/".into(),
            ],
            &protected(),
        );
        assert_eq!(
            ok,
            Ok(vec![
                "https://rs.example/api".to_owned(),
                "https://ledger.example/".to_owned()
            ])
        );
        let own = rest_api(BASE);
        assert_eq!(
            registrable(std::slice::from_ref(&own), &protected()),
            Err(Unregistrable::Protected(own))
        );
        for bad in ["/api", "https://rs.example/api#x", "https://rs.example/a b"] {
            assert_eq!(
                registrable(&[bad.to_owned()], &protected()),
                Err(Unregistrable::Malformed(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_token_without_audiences_is_good_for_the_rest_api_only() {
        let rest = rest_api(BASE);
        assert!(admits(None, &rest, &rest));
        assert!(!admits(None, &mcp(BASE), &rest));
        let both = encode(&[&rest, &mcp(BASE)]);
        assert!(admits(both.as_deref(), &mcp(BASE), &rest));
        let mcp_only = encode(&[&mcp(BASE)]);
        assert!(!admits(mcp_only.as_deref(), &rest, &rest));
        assert_eq!(encode(&[]), None);
    }
}
