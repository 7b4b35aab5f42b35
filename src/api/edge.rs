//! The REST edge: a request whose path or query string breaks the input rule (`domain::input`: a
//! parameter or path segment that is not UTF-8 or holds a control character) is refused with 400
//! before credentials, handlers or the database see it, in the dialect of its API:
//! `{"error":ErrorCode::InvalidInput,"message":…}` on `/rest/…`, WordPress's `rest_invalid_param` on
//! `/wp-json/…`.

use axum::http::Uri;

use crate::domain::input::{self, Field};

/// What is wrong with the request line, as a message for the client.
pub(crate) fn check(uri: &Uri) -> Result<(), String> {
    input::check_path(uri.path()).map_err(|problem| format!("The request path {problem}."))?;
    for (name, value) in input::raw_pairs(uri.query().unwrap_or("").as_bytes()) {
        input::decode_pair(name, value, |_| Field::Line).map_err(|m| m.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_line_follows_the_input_rule() {
        for fine in [
            "/rest/v1.1/me",
            "/rest/v1.1/sites/a%20b/posts?number=2&status=publish,draft",
        ] {
            assert_eq!(check(&fine.parse().unwrap()), Ok(()), "{fine}");
        }
        for bad in [
            "/rest/v1.1/sites/%FF",
            "/rest/v1.1/sites/x%00/posts",
            "/rest/v1.1/me?fields=%C3%28",
            "/rest/v1.1/me?status=a%0Ab",
            "/rest/v1.1/me?%C0%AF=1",
        ] {
            assert!(check(&bad.parse().unwrap()).is_err(), "{bad}");
        }
    }
}
