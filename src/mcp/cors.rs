//! Browser MCP clients (MCP Inspector, web agents): the endpoint's allowed origins and its CORS
//! answers, one list for both.
//!
//! The Streamable HTTP transport asks servers to refuse an `Origin` they do not trust (403, the
//! DNS-rebinding protection rmcp applies); the trusted ones are the public URL's origin and
//! `mcp.allowed_origins`. CORS (tower-http's `CorsLayer`, outside the guard so that a preflight,
//! which carries no token, is answered) admits exactly those: a preflight from any other origin
//! gets no `Access-Control-Allow-Origin`, and an actual request from one is refused by the Origin
//! check. Headers: the bearer, the JSON body, the session and protocol-version headers and
//! `Last-Event-ID` may be sent; `Mcp-Session-Id` and `WWW-Authenticate` (the 401's metadata and
//! the 403's scope) may be read. Never credentials: the bearer header is the credential, and
//! cookies must not ride along.

use std::time::Duration;

use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::guard::SESSION_HEADER;
use crate::config::Settings;

/// How long a browser may reuse a preflight's answer.
const MAX_AGE: Duration = Duration::from_secs(600);

/// An origin reduced to what compares: scheme, lower-case host, port (the scheme's default when
/// none is written), as rmcp's own Origin check compares them.
fn tuple(raw: &str) -> Option<(String, String, u16)> {
    let url = url::Url::parse(raw).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    Some((url.scheme().to_owned(), host, url.port_or_known_default()?))
}

/// The trusted origins, port spelled out (`scheme://host:port`): the public URL's and
/// `mcp.allowed_origins`.
pub(super) fn allowed_origins(settings: &Settings) -> Vec<String> {
    std::iter::once(settings.public_url.as_str())
        .chain(settings.mcp.allowed_origins.iter().map(String::as_str))
        .filter_map(tuple)
        .map(|(scheme, host, port)| format!("{scheme}://{host}:{port}"))
        .collect()
}

/// The CORS layer admitting exactly `origins` (from [`allowed_origins`]).
pub(super) fn layer(origins: &[String]) -> CorsLayer {
    let trusted: Vec<(String, String, u16)> = origins.iter().filter_map(|o| tuple(o)).collect();
    let allow = AllowOrigin::predicate(move |origin: &HeaderValue, _: &Parts| {
        origin
            .to_str()
            .ok()
            .and_then(tuple)
            .is_some_and(|o| trusted.contains(&o))
    });
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static(SESSION_HEADER),
            HeaderName::from_static("mcp-protocol-version"),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            HeaderName::from_static(SESSION_HEADER),
            header::WWW_AUTHENTICATE,
        ])
        .max_age(MAX_AGE)
}
