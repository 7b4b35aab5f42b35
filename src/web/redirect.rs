//! Where a page sends the browser around a login: the `redirect_to` a login honours (never an
//! unvalidated URI) and the links to the login and sign-up forms that carry it.

use axum::response::{IntoResponse, Redirect, Response};

/// A `redirect_to` is honoured only as a relative path starting with a single `/`.
pub(crate) fn safe_redirect(target: Option<&str>) -> &str {
    match target {
        Some(t)
            if t.starts_with('/')
                && !t.starts_with("//")
                && !t.starts_with("/\\")
                && !t.chars().any(|c| c.is_control() || c == '\\') =>
        {
            t
        }
        _ => "/",
    }
}

/// `?redirect_to=…` for a link to the login or sign-up page (empty when it returns home).
pub(crate) fn redirect_query(redirect_to: &str) -> String {
    if redirect_to == "/" {
        return String::new();
    }
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("redirect_to", redirect_to)
        .finish();
    format!("?{query}")
}

/// Redirects to the login form, coming back to `path` afterwards.
pub(crate) fn login_first(path: &str) -> Response {
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("redirect_to", path)
        .finish();
    Redirect::to(&format!("/login?{q}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::safe_redirect;

    #[test]
    fn redirect_to_accepts_only_relative_paths_with_a_single_slash() {
        assert_eq!(
            safe_redirect(Some("/oauth2/authorize?client_id=1")),
            "/oauth2/authorize?client_id=1"
        );
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "evil",
            "",
            "/a\\b",
            "/\u{0}x",
        ] {
            assert_eq!(safe_redirect(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_redirect(None), "/");
    }
}
