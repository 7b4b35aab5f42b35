//! OAuth 1.0a request signatures (RFC 5849 §3.4–§3.6): the `Authorization: OAuth` header parser,
//! parameter collection, the signature base string, and HMAC-SHA1 / HMAC-SHA256 signing with a
//! constant-time check. Pure functions over plain types; `spec/oauth1.md` §4 is the contract.
//!
//! A handler verifies a request like this:
//!
//! ```text
//! if !has_oauth(&parts) { /* anonymous */ }
//! let collected = collect(&parts)?;                          // 400 on ParamError
//! let base = collected.base_string(&parts, &public_url);    // never the Host header
//! let ok = collected.signature_matches(&base, consumer_secret, token_secret);
//! ```
//!
//! Decisions, each where RFC 5849 leaves room or the WP plugin gets it wrong
//! (`reference/wp-oauth1.md` §2):
//!
//! - **Base string URI** (§3.4.1.2, [`base_string_uri`]): the scheme, host and port of the configured
//!   public URL (scheme and host lower-cased, `:80` on http and `:443` on https dropped, any other port
//!   kept), then the request path exactly as the server received it (no decoding, no case change, no
//!   query). The `Host` and `X-Forwarded-*` headers are never read, so a TLS-terminating proxy needs no
//!   special setup. If the public URL has a path prefix (`https://example.com/auth`), the signed URI is
//!   the public one: when the received path already starts with that prefix (on a segment boundary) it
//!   is used as is, and when it does not (a proxy stripped the prefix), the prefix is put back in
//!   front. One consequence: an application route that itself begins with the prefix cannot be told
//!   apart from an unstripped path, so do not choose a prefix such as `/oauth1` or `/wp-json`.
//! - **Decoding** (§3.4.1.3.1): every name and value is percent-decoded exactly once (the plugin
//!   decodes twice). `+` is a space in the query string and the form body and a literal `+` in the
//!   header. A `%` not followed by two hex digits, or bytes that are not UTF-8 once decoded, are a 400
//!   (as in Python `oauthlib`): the client and the server could not agree on such a value anyway.
//! - **Header parameters** (§3.4.1.3.1): every parameter of the header except `realm` and
//!   `oauth_signature` is signed, as the RFC says, not only the `oauth_*` ones the plugin captures; an
//!   RFC client signs them, and a plugin client never sends others. Values are quoted per §3.5.1, but
//!   unquoted values and blanks around `=` are tolerated, as the plugin and RFC 7235 do.
//! - **Protocol parameters** (§3.5): all `oauth_*` parameters travel in one place, the header, the form
//!   body or the query string, each once: twice anywhere is [`ParamError::Duplicated`], split over two
//!   places is [`ParamError::Scattered`], a control character in one is
//!   [`ParamError::ControlCharacter`]. The one tolerated exception, an identical form-body copy of
//!   `oauth_verifier`, is signed once and reported in [`Collected::verifier_copy`] (see `protocol`).
//!   [`Collected::location`] is where they travelled.
//! - **Values**: an empty `oauth_token` counts as no token (some clients send one at `/oauth1/request`)
//!   but is still signed as sent. An empty `oauth_signature` is not a missing one: it fails the
//!   signature check (401), as security O102 asks. `oauth_version`, if sent, must be `1.0`; node-oauth's
//!   `1.0A` (and `1.0a`) count as `1.0`, signed as sent, as the plugin does.
//! - **Timestamp** (§3.3): ASCII digits only, 1 to 19 of them, fitting an `i64`, not zero. The window
//!   check belongs to the caller, who holds the clock.
//! - **Comparison** (§3.4.2): the computed and presented base64 texts are compared in constant time,
//!   so base64url, missing padding or any other spelling of the same bytes is a mismatch.
//! - **Body**: the caller passes `form_body` only for `application/x-www-form-urlencoded` (any
//!   method). JSON and multipart bodies are not signed (§3.4.1.3.1, security O119).

mod encoding;

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use url::Url;

use super::protocol::{Gathered, clip};
pub use super::protocol::{Location, ParamError};
pub use encoding::{encode, parse_authorization_header};
use encoding::{oauth_scheme_rest, parse_urlencoded};

/// The five parameters every signed request carries (RFC 5849 §3.1), in the order they are reported.
const REQUIRED: [&str; 5] = [
    "oauth_consumer_key",
    "oauth_signature_method",
    "oauth_signature",
    "oauth_timestamp",
    "oauth_nonce",
];

/// The signature methods Latchkey accepts (RFC 5849 §3.4.2 and the plugin's HMAC-SHA256). PLAINTEXT
/// and RSA-SHA1 are refused: the plugin never offered them and no client asked (security O118).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureMethod {
    HmacSha1,
    HmacSha256,
}

impl SignatureMethod {
    /// The name as sent in `oauth_signature_method`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HmacSha1 => "HMAC-SHA1",
            Self::HmacSha256 => "HMAC-SHA256",
        }
    }
}

impl fmt::Display for SignatureMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SignatureMethod {
    type Err = ParamError;

    /// Exact, case-sensitive names, as the plugin compares them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "HMAC-SHA1" => Ok(Self::HmacSha1),
            "HMAC-SHA256" => Ok(Self::HmacSha256),
            other => Err(ParamError::UnsupportedSignatureMethod(clip(other))),
        }
    }
}

/// What the caller knows about the request; the caller decides whether the body is a form.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestParts<'a> {
    pub method: &'a str,
    /// The path as sent, without the query (`/wp-json/wp/v2/posts`).
    pub path: &'a str,
    /// The raw query string, without the `?`.
    pub query: Option<&'a str>,
    /// The raw body, only when `Content-Type` is `application/x-www-form-urlencoded`.
    pub form_body: Option<&'a [u8]>,
    /// The raw `Authorization` header value.
    pub authorization: Option<&'a str>,
}

/// The protocol parameters of a request, checked for shape (RFC 5849 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthParams {
    pub consumer_key: String,
    /// `None` when absent or empty.
    pub token: Option<String>,
    pub signature_method: SignatureMethod,
    /// Seconds since the Unix epoch; positive.
    pub timestamp: i64,
    pub nonce: String,
    /// As sent: `1.0`, `1.0A` or `1.0a`, or `None`; any other value is refused.
    pub version: Option<String>,
    pub callback: Option<String>,
    pub verifier: Option<String>,
}

/// A request's parameters, decoded and ready for the base string (RFC 5849 §3.4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collected {
    pub oauth: OAuthParams,
    /// Every signed parameter, decoded: query, then form body, then header (without `realm` and
    /// `oauth_signature`). Repeated names are all kept.
    pub params: Vec<(String, String)>,
    /// `oauth_signature`, decoded.
    pub signature: String,
    /// Where the protocol parameters travelled.
    pub location: Location,
    /// An identical form-body copy of `oauth_verifier` was set aside (only `/oauth1/access` takes it).
    pub verifier_copy: bool,
}

impl Collected {
    /// The base string of this request as the server at `public_url` sees it (RFC 5849 §3.4.1).
    pub fn base_string(&self, parts: &RequestParts<'_>, public_url: &Url) -> String {
        base_string(
            parts.method,
            &base_string_uri(public_url, parts.path),
            &self.params,
        )
    }

    /// Whether the presented signature is the one these secrets give for `base_string`.
    pub fn signature_matches(
        &self,
        base_string: &str,
        consumer_secret: &str,
        token_secret: &str,
    ) -> bool {
        verify(
            self.oauth.signature_method,
            base_string,
            consumer_secret,
            token_secret,
            &self.signature,
        )
    }
}

/// Whether the request carries any OAuth parameter at all: an `Authorization` header with the OAuth
/// scheme, or an `oauth_*` name in the query or form body. Requests without any are anonymous
/// (`spec/oauth1.md` §5). Lenient on purpose: a malformed OAuth request still counts, so that
/// [`collect`] can say what is wrong with it.
pub fn has_oauth(parts: &RequestParts<'_>) -> bool {
    let names_oauth =
        |raw: &[u8]| form_urlencoded::parse(raw).any(|(name, _)| name.starts_with("oauth_"));
    parts
        .authorization
        .is_some_and(|h| oauth_scheme_rest(h).is_some())
        || parts.query.is_some_and(|q| names_oauth(q.as_bytes()))
        || parts.form_body.is_some_and(names_oauth)
}

/// Collects and checks a request's parameters (RFC 5849 §3.4.1.3.1): the query string, the form body
/// and the `Authorization: OAuth` header (another scheme is ignored).
pub fn collect(parts: &RequestParts<'_>) -> Result<Collected, ParamError> {
    let header = match parts.authorization.map(parse_authorization_header) {
        None | Some(Err(ParamError::NotOAuth)) => Vec::new(),
        Some(result) => result?,
    };
    let query = match parts.query {
        Some(q) => parse_urlencoded(q.as_bytes(), Location::Query)?,
        None => Vec::new(),
    };
    let form = match parts.form_body {
        Some(body) => parse_urlencoded(body, Location::Form)?,
        None => Vec::new(),
    };

    let protocol = Gathered::gather(&header, &form, &query)?;
    if let Some(missing) = REQUIRED.into_iter().find(|n| protocol.get(n).is_none()) {
        return Err(ParamError::Absent(missing));
    }
    let location = protocol.in_one_place()?;
    let get = |name: &str| protocol.get(name);
    let required = |name: &str| get(name).unwrap_or_default();

    let version = get("oauth_version").map(str::to_owned);
    if let Some(v) = version
        .as_deref()
        .filter(|&v| !matches!(v, "1.0" | "1.0A" | "1.0a"))
    {
        return Err(ParamError::BadVersion(clip(v)));
    }
    let oauth = OAuthParams {
        consumer_key: required("oauth_consumer_key").to_owned(),
        token: get("oauth_token")
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
        signature_method: required("oauth_signature_method").parse()?,
        timestamp: parse_timestamp(required("oauth_timestamp"))?,
        nonce: required("oauth_nonce").to_owned(),
        version,
        callback: get("oauth_callback").map(str::to_owned),
        verifier: get("oauth_verifier").map(str::to_owned),
    };
    let signature = required("oauth_signature").to_owned();
    let verifier_copy = protocol.verifier_copy;
    // The tolerated copy is signed once, where the other protocol parameters travelled.
    let form = form
        .into_iter()
        .filter(|(name, _)| !(verifier_copy && name == "oauth_verifier"));

    let params = query
        .into_iter()
        .chain(form)
        .chain(header)
        .filter(|(name, _)| name != "oauth_signature")
        .collect();
    Ok(Collected {
        oauth,
        params,
        signature,
        location,
        verifier_copy,
    })
}

/// The base string URI (RFC 5849 §3.4.1.2): `public_url`'s scheme, host and port, normalised, then
/// `path` as received. See the module documentation for the path-prefix rule.
pub fn base_string_uri(public_url: &Url, path: &str) -> String {
    let scheme = public_url.scheme().to_ascii_lowercase();
    let host = public_url
        .host_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut out = format!("{scheme}://{host}");
    match (scheme.as_str(), public_url.port()) {
        (_, None) | ("http", Some(80)) | ("https", Some(443)) => {}
        (_, Some(port)) => out.push_str(&format!(":{port}")),
    }
    let prefix = public_url.path().trim_end_matches('/');
    let path = if path.is_empty() { "/" } else { path };
    let has_prefix = path
        .strip_prefix(prefix)
        .is_some_and(|after| after.is_empty() || after.starts_with('/'));
    if !has_prefix {
        out.push_str(prefix);
    }
    out.push_str(path);
    out
}

/// The signature base string (RFC 5849 §3.4.1): the upper-cased method, the encoded base string URI,
/// and the encoded parameters sorted by encoded name, then encoded value (§3.4.1.3.2).
pub fn base_string(method: &str, base_uri: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .map(|(name, value)| (encode(name), encode(value)))
        .collect();
    pairs.sort_unstable();
    let normalized = pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "{}&{}&{}",
        encode(&method.to_ascii_uppercase()),
        encode(base_uri),
        encode(&normalized)
    )
}

/// The signature (RFC 5849 §3.4.2): HMAC keyed with `encode(consumer_secret)&encode(token_secret)`,
/// base64 with padding. The token secret is empty when there is no token.
pub fn sign(
    method: SignatureMethod,
    base_string: &str,
    consumer_secret: &str,
    token_secret: &str,
) -> String {
    let key = format!("{}&{}", encode(consumer_secret), encode(token_secret));
    let digest = match method {
        SignatureMethod::HmacSha1 => {
            let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes())
                .expect("HMAC accepts keys of any length");
            mac.update(base_string.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        SignatureMethod::HmacSha256 => {
            let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
                .expect("HMAC accepts keys of any length");
            mac.update(base_string.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
    };
    STANDARD.encode(digest)
}

/// Whether `presented` is the signature of `base_string` under these secrets; the two base64 texts
/// are compared in constant time.
pub fn verify(
    method: SignatureMethod,
    base_string: &str,
    consumer_secret: &str,
    token_secret: &str,
    presented: &str,
) -> bool {
    let expected = sign(method, base_string, consumer_secret, token_secret);
    expected.as_bytes().ct_eq(presented.as_bytes()).into()
}

/// `oauth_timestamp` (RFC 5849 §3.3: "a positive integer"): digits only, no sign, at most 19 of them,
/// within `i64`, not zero.
fn parse_timestamp(raw: &str) -> Result<i64, ParamError> {
    let bad = || ParamError::BadTimestamp(clip(raw));
    if raw.is_empty() || raw.len() > 19 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match raw.parse::<i64>() {
        Ok(t) if t > 0 => Ok(t),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests;
