//! App icons (issue 13). The icon URL an app registers is fetched by Latchkey, once, when the app is
//! created or its icon URL changes, and the image is kept in the database and served from
//! `/apps/{client_id}/icon`, so the consent page loads no third-party image (security.md BR07) and
//! the CSP (`img-src 'self' data:`) needs no exception. An app without an icon gets its initials,
//! drawn by Latchkey as a small SVG.
//!
//! The fetch follows the SSRF rules of oauth21.md §5 for metadata documents (`http::fetch`, which
//! metadata documents use too): `https` only; the host is resolved first and refused when any of
//! its addresses is loopback, private, link-local, unique-local or otherwise not globally
//! routable, and the connection is pinned to the addresses checked (no second lookup to rebind);
//! no redirects; 5 seconds in all; at most 256 KiB; PNG, JPEG,
//! GIF or WebP only, declared by `Content-Type` and confirmed by the bytes' signature (no SVG: it
//! can carry script). A fetch that fails sends the form back with the reason next to the icon field,
//! and nothing is saved. The `icon_fetch_allow_loopback` setting (tests only, logged at start-up)
//! also allows loopback addresses, over plain http.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::PageError;
use crate::http::fetch;
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
    let rules = fetch::Rules {
        accept: "image/png, image/jpeg, image/gif, image/webp",
        max_bytes: MAX_ICON_BYTES,
        timeout: FETCH_TIMEOUT,
        allow_loopback,
        user_agent: "app icon",
    };
    let fetched = fetch::get(raw_url, &rules).await?;
    let declared = fetched
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(declared_type)
        .ok_or(IconError::NotAnImage)?;
    if sniffed_type(&fetched.bytes) != Some(declared) {
        return Err(IconError::NotAnImage);
    }
    Ok(AppIcon {
        source_url: raw_url.to_owned(),
        content_type: declared.to_owned(),
        bytes: fetched.bytes,
    })
}

impl From<fetch::FetchError> for IconError {
    fn from(e: fetch::FetchError) -> Self {
        use fetch::FetchError as F;
        match e {
            F::NotHttps => IconError::NotHttps,
            F::PrivateAddress => IconError::PrivateAddress,
            F::Unreachable => IconError::Unreachable,
            F::Timeout => IconError::Timeout,
            F::Redirect => IconError::Redirect,
            F::Status(status) => IconError::Status(status),
            F::TooLarge => IconError::TooLarge,
        }
    }
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
