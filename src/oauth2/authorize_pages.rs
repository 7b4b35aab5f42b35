//! The lines of the authorize error page before the client and redirect URI are valid
//! (oauth2.md §2, issue 13): WordPress.com's sentence first, then what to fix.

use crate::domain::{redirect_uri, scope};

/// The error-page lines before the client and redirect URI are valid. Each starts with
/// WordPress.com's sentence, which clients match, and goes on to say what to fix. The page shows
/// them as escaped text; the registered redirect URIs are never shown (the visitor may be anyone).
pub(crate) const MISSING_CLIENT_ID: &str = "Missing client_id. Add client_id=<the app's client ID> to the \
     authorization URL.";
pub(crate) const UNKNOWN_CLIENT_ID: &str = "Unknown client_id. No app has this client ID: check the client ID \
     your app was given when it was registered.";
/// Received URIs longer than this are cut on the page.
const SHOWN_URI_MAX: usize = 300;

pub(crate) fn mismatch_message(
    e: redirect_uri::RedirectMismatch,
    presented: Option<&str>,
) -> String {
    let rule = "It must equal one of the redirect URIs registered for this app byte for byte: \
                same scheme, host, port, path and query, nothing decoded, no trailing slash \
                added or removed (only a native app's loopback redirect may change its port).";
    match (e, presented.filter(|p| !p.is_empty())) {
        (redirect_uri::RedirectMismatch::Mismatch, Some(uri)) => {
            let shown: String = uri.chars().take(SHOWN_URI_MAX).collect();
            let cut = if shown.len() < uri.len() { "…" } else { "" };
            format!("{e} Received: {shown}{cut} — {rule}")
        }
        (redirect_uri::RedirectMismatch::Mismatch, None) => {
            format!("{e} The request sent no redirect_uri and this app registers none. {rule}")
        }
        (redirect_uri::RedirectMismatch::Missing, _) => format!("{e} {rule}"),
    }
}

pub(crate) fn scope_message(e: &scope::InvalidScope) -> String {
    let what = match e {
        scope::InvalidScope::Unknown(name) => {
            let shown: String = name.chars().take(60).collect();
            format!("There is no scope named {shown:?}.")
        }
        scope::InvalidScope::Combined(special) => {
            format!("\"{special}\" cannot be combined with other scopes.")
        }
    };
    format!(
        "{e} {what} Valid forms: none or empty (full access to one site), \"global\" (every site \
         you administer), \"auth\" (your profile only), or one or more of: {} (lower case, \
         separated by spaces or commas).",
        scope::Area::ALL.map(scope::Area::as_str).join(" ")
    )
}
