//! OAuth 1.0a callback URLs (RFC 5849 §2.1, §2.2; `spec/oauth1.md` §7; security O107): what a
//! consumer may register, whether an `oauth_callback` matches it, and how the verifier is added.
//!
//! Matching compares the raw text of each component, never a parsed-and-normalised URL: `url::Url`
//! would turn `https://client.example:443/cb` into `https://client.example/cb` and resolve
//! `/cb/../x`, and both must be refused. Comparing raw prefixes is sound because a browser parses a
//! URL from left to right: when scheme, authority and path are byte-equal and the rest starts at `?` or
//! `#`, the browser reaches the same origin and path. Characters that browsers strip or reinterpret
//! (control characters, blanks, `\`) are refused outright, so they cannot make the two readings
//! differ.
//!
//! Decisions:
//! - A registered callback is `oob` or an absolute `http`/`https` URL in ASCII (punycode hosts,
//!   percent-encoded paths). The plugin also allows custom schemes (`custom-app://…`); Latchkey does
//!   not, so every redirect goes to the web.
//! - Comparison is exact and case-sensitive, as in the plugin: `HTTPS://Client.example/cb` does not
//!   match `https://client.example/cb`. Register the form the client sends.
//! - [`append_params`] replaces existing query parameters with the same names (as WordPress's
//!   `add_query_arg` does), so a callback that already carries `oauth_token` cannot hand the client
//!   two of them.

use url::Url;

use super::problem_code::ProblemCode;
use super::signature::encode;

/// Why a callback is refused. The Display text is the `oauth_problem_advice`; every variant is a 400
/// with `oauth_problem=callback_rejected` (`spec/oauth1.md` §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CallbackError {
    #[error("the callback must be oob or an absolute URL such as https://client.example/callback")]
    NotAbsolute,
    #[error("the callback must be oob or use the http or https scheme")]
    Scheme,
    #[error("the callback must not contain a user name or password")]
    UserInfo,
    #[error("the callback has an empty host")]
    EmptyHost,
    #[error("the callback's host must not contain any of : # ? [ ]")]
    BadHost,
    #[error("the callback's port must be a number from 1 to 65535")]
    BadPort,
    #[error(
        "the callback must not contain blanks, control characters, backslashes or non-ASCII \
         characters; percent-encode them"
    )]
    ForbiddenCharacter,
    #[error("the callback is not a valid URL")]
    Malformed,
    #[error(
        "no oauth_callback was given, neither to the request endpoint nor to the authorize step, \
         and the consumer is not registered with oob: send the callback with the request token or \
         to /oauth1/authorize"
    )]
    NotGiven,
    #[error(
        "oauth_callback does not match the callback registered for this consumer: the scheme, host, \
         port and path must be identical, only the query and fragment may differ"
    )]
    Mismatch,
}

impl CallbackError {
    /// The OAuth Problem Reporting code for `oauth_problem`.
    pub(crate) fn problem(&self) -> ProblemCode {
        ProblemCode::CallbackRejected
    }
}

/// A URL cut into its raw components, nothing decoded or normalised. `None` means absent, which is
/// not the same as empty (`http://h:8080` has no path, `http://h:8080/` has `/`).
#[derive(Debug, PartialEq, Eq)]
struct RawUrl<'a> {
    scheme: &'a str,
    userinfo: Option<&'a str>,
    host: &'a str,
    port: Option<&'a str>,
    path: Option<&'a str>,
}

impl<'a> RawUrl<'a> {
    fn split(s: &'a str) -> Result<Self, CallbackError> {
        if s.chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return Err(CallbackError::ForbiddenCharacter);
        }
        let (scheme, rest) = s.split_once(':').ok_or(CallbackError::NotAbsolute)?;
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        let rest = rest
            .strip_prefix("//")
            .filter(|_| scheme_ok)
            .ok_or(CallbackError::NotAbsolute)?;
        let (authority, rest) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
        // The last `@` ends the userinfo, as browsers read it (WHATWG URL, authority state).
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let (host, port) = match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        };
        let path = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
        Ok(Self {
            scheme,
            userinfo,
            host,
            port,
            path: (!path.is_empty()).then_some(path),
        })
    }

    /// Scheme, userinfo, host, port and path equal, presence included (`spec/oauth1.md` §7).
    fn same_target(&self, other: &Self) -> bool {
        self == other
    }
}

/// Checks a callback a consumer registers: `oob`, or an absolute http(s) URL without userinfo, with a
/// non-empty host free of `:#?[]` (so no IPv6 literals, as in the plugin), an optional port from 1 to
/// 65535, and only printable ASCII. Query and fragment are allowed.
pub(crate) fn validate_registered(cb: &str) -> Result<(), CallbackError> {
    if cb == "oob" {
        return Ok(());
    }
    if !cb.is_ascii() {
        return Err(CallbackError::ForbiddenCharacter);
    }
    let raw = RawUrl::split(cb)?;
    if !raw.scheme.eq_ignore_ascii_case("http") && !raw.scheme.eq_ignore_ascii_case("https") {
        return Err(CallbackError::Scheme);
    }
    if raw.userinfo.is_some() {
        return Err(CallbackError::UserInfo);
    }
    if raw.host.is_empty() {
        return Err(CallbackError::EmptyHost);
    }
    if raw.host.contains([':', '#', '?', '[', ']']) {
        return Err(CallbackError::BadHost);
    }
    if let Some(port) = raw.port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|p| p != 0);
        if !valid {
            return Err(CallbackError::BadPort);
        }
    }
    // What we accept, a browser must be able to follow.
    match Url::parse(cb) {
        Ok(url) if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        _ => Err(CallbackError::Malformed),
    }
}

/// Whether a supplied `oauth_callback` may be used for a consumer that registered `registered`
/// (RFC 5849 §2.1; `spec/oauth1.md` §7): `oob` matches only `oob`; otherwise scheme, userinfo, host,
/// port and path must be byte-equal, presence included, while query and fragment may differ. A
/// registered callback that does not pass [`validate_registered`] matches nothing.
pub(crate) fn matches(registered: &str, supplied: &str) -> bool {
    if registered == "oob" || supplied == "oob" {
        return registered == supplied;
    }
    if validate_registered(registered).is_err() || Url::parse(supplied).is_err() {
        return false;
    }
    match (RawUrl::split(registered), RawUrl::split(supplied)) {
        (Ok(registered), Ok(supplied)) => registered.same_target(&supplied),
        _ => false,
    }
}

/// What a request token records when `/oauth1/request` had no `oauth_callback`: the callback is
/// "given later", at `/oauth1/authorize` (`spec/oauth1.md` §3).
pub(crate) const GIVEN_LATER: &str = "";

/// The callback a request token ends at when the authorize step names none: the one given at
/// request time, or, when none was given anywhere, `oob`, which the consumer must have registered.
pub(crate) fn settle(registered: &str, at_request: &str) -> Result<String, CallbackError> {
    match at_request {
        GIVEN_LATER if registered == "oob" => Ok("oob".to_owned()),
        GIVEN_LATER => Err(CallbackError::NotGiven),
        given => Ok(given.to_owned()),
    }
}

/// [`matches`] as a `Result`, with the most useful advice: what is wrong with the supplied callback
/// itself if anything, [`CallbackError::Mismatch`] otherwise.
pub(crate) fn check(registered: &str, supplied: &str) -> Result<(), CallbackError> {
    if matches(registered, supplied) {
        Ok(())
    } else {
        Err(validate_registered(supplied)
            .err()
            .unwrap_or(CallbackError::Mismatch))
    }
}

/// The callback with `params` added to its query (RFC 5849 §2.2), encoded per §3.6: the existing
/// query is kept (less any parameter of the same name, and empty pieces), the fragment stays last.
/// Bytes outside printable ASCII are percent-encoded, so the result is always a valid `Location`
/// header. Not for `oob`, which has no URL to go to.
pub(crate) fn append_params(callback: &str, params: &[(&str, &str)]) -> String {
    let (before_fragment, fragment) = match callback.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (callback, None),
    };
    let (base, query) = before_fragment
        .split_once('?')
        .unwrap_or((before_fragment, ""));
    let replaced = |piece: &str| {
        form_urlencoded::parse(piece.as_bytes())
            .next()
            .is_some_and(|(name, _)| params.iter().any(|(added, _)| name == *added))
    };
    let pieces: Vec<String> = query
        .split('&')
        .filter(|piece| !piece.is_empty() && !replaced(piece))
        .map(str::to_owned)
        .chain(
            params
                .iter()
                .map(|(name, value)| format!("{}={}", encode(name), encode(value))),
        )
        .collect();
    let mut out = format!("{base}?{}", pieces.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    printable_ascii(&out)
}

/// Percent-encodes every byte outside `!`..=`~`; a browser does the same when it follows the URL.
fn printable_ascii(s: &str) -> String {
    if s.bytes().all(|b| b.is_ascii_graphic()) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 16);
    for b in s.bytes() {
        if b.is_ascii_graphic() {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
