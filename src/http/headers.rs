//! Response headers every surface needs (security.md, Decisions): the browser-hardening set, the
//! no-store pair for credential-bearing responses, and the OAuth1 discovery `Link`.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Request line and header limits (security.md: 8 KiB and 32 KiB), checked before routing.
pub(crate) const MAX_URI_BYTES: usize = 8 * 1024;
pub(crate) const MAX_HEADER_BYTES: usize = 32 * 1024;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

/// Adds `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub(crate) fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// The answer to a request whose request line or header block is over the limits, if it is.
pub(crate) fn over_limits<B>(request: &axum::http::Request<B>) -> Option<Response> {
    // The length `uri().to_string()` would have, without building the string on every request.
    let uri = request.uri();
    let uri_len = uri.scheme_str().map_or(0, |s| s.len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return Some((StatusCode::URI_TOO_LONG, "Request line too long.\n").into_response());
    }
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Some(
            (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "Request headers too large.\n",
            )
                .into_response(),
        );
    }
    None
}

/// Adds the security headers every response carries, and the discovery `Link`.
pub(crate) fn secure(state: &AppState, headers: &mut HeaderMap) {
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    if state.settings.is_https() {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    if let Some(link) = &state.discovery_link
        && !headers.contains_key(header::LINK)
    {
        headers.insert(header::LINK, link.clone());
    }
}

/// Refuses oversized request lines and header blocks, then adds the security headers to every
/// response and the discovery `Link` to every page and REST response.
pub(crate) async fn harden(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(refused) = over_limits(&request) {
        return refused;
    }
    let mut response = next.run(request).await;
    secure(&state, response.headers_mut());
    response
}
