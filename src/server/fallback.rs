//! What answers a path no route serves (404) or a method a route does not take (405, with the
//! `Allow` header axum adds): a body in the dialect of the path, never an empty answer. JSON
//! `{"error","error_description"}` under `/oauth2`, `/oauth2-1` and `/.well-known`, the REST shape under `/rest`
//! (its own routers answer for `/rest/v1` and `/rest/v1.1`), WordPress's `rest_no_route` under
//! `/wp-json`, the OAuth Problem Reporting form under `/oauth1`, and the HTML error page (whose
//! header links home) elsewhere.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::http::headers::no_store;
use crate::web::error::{ErrorCode, PageError};

/// The fallback for unknown paths.
pub(crate) async fn not_found(request: Request) -> Response {
    answer(
        StatusCode::NOT_FOUND,
        request.method(),
        request.uri().path(),
    )
}

/// The fallback for known paths asked with a method they do not take.
pub(crate) async fn method_not_allowed(request: Request) -> Response {
    answer(
        StatusCode::METHOD_NOT_ALLOWED,
        request.method(),
        request.uri().path(),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    OAuth2,
    Rest,
    WpJson,
    OAuth1,
    Html,
}

fn dialect(path: &str) -> Dialect {
    let under = |prefix: &str| {
        path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    if under("/oauth2") || under("/oauth2-1") || under("/.well-known") {
        Dialect::OAuth2
    } else if under("/rest") {
        Dialect::Rest
    } else if under("/wp-json") {
        Dialect::WpJson
    } else if under("/oauth1") {
        Dialect::OAuth1
    } else {
        Dialect::Html
    }
}

fn answer(status: StatusCode, method: &Method, path: &str) -> Response {
    let missing = status == StatusCode::NOT_FOUND;
    let mut response = match dialect(path) {
        Dialect::OAuth2 => {
            let description = if missing {
                "There is no endpoint at this path. The OAuth2 endpoints are /oauth2/authorize, \
                 /oauth2/authenticate, /oauth2/token and /oauth2/token-info; the metadata is at \
                 /.well-known/oauth-authorization-server."
                    .to_owned()
            } else {
                format!(
                    "This endpoint does not take {method} requests; the Allow header lists the \
                     methods it takes."
                )
            };
            let body = json!({"error": "invalid_request", "error_description": description});
            let mut response = (status, Json(body)).into_response();
            no_store(response.headers_mut());
            response
        }
        Dialect::Rest => {
            let (error, message) = if missing {
                (
                    "unknown_endpoint",
                    "No REST endpoint matches this path; the API is under /rest/v1.1/.".to_owned(),
                )
            } else {
                (
                    "invalid_method",
                    format!("This endpoint does not take {method} requests."),
                )
            };
            (status, Json(json!({"error": error, "message": message}))).into_response()
        }
        Dialect::WpJson => crate::api::wp::wp_error(
            status,
            "rest_no_route",
            "No route was found matching the URL and request method.",
        ),
        Dialect::OAuth1 => {
            let (problem, advice) = if missing {
                (
                    "endpoint_unknown",
                    "There is no endpoint at this path; the OAuth1 endpoints are /oauth1/request, \
                     /oauth1/authorize and /oauth1/access."
                        .to_owned(),
                )
            } else {
                (
                    "method_rejected",
                    format!("This endpoint does not take {method} requests."),
                )
            };
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("oauth_problem", problem)
                .append_pair("oauth_problem_advice", &advice)
                .finish();
            let mut response = (status, body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(crate::oauth1::problem::FORM),
            );
            no_store(response.headers_mut());
            response
        }
        Dialect::Html => {
            if missing {
                PageError::NotFound.into_response()
            } else {
                let mut response = PageError::BadRequest {
                    code: ErrorCode::InvalidRequest,
                    message: format!("This page does not take {method} requests."),
                }
                .into_response();
                *response.status_mut() = status;
                response
            }
        }
    };
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dialect_follows_the_first_path_segment() {
        assert_eq!(dialect("/oauth2"), Dialect::OAuth2);
        assert_eq!(dialect("/oauth2/nothing"), Dialect::OAuth2);
        assert_eq!(dialect("/.well-known/x"), Dialect::OAuth2);
        assert_eq!(dialect("/rest/v2/me"), Dialect::Rest);
        assert_eq!(dialect("/wp-json/wp/v2/nothing"), Dialect::WpJson);
        assert_eq!(dialect("/oauth1/nothing"), Dialect::OAuth1);
        assert_eq!(dialect("/oauth2-1/token-info"), Dialect::OAuth2);
        assert_eq!(dialect("/oauth2x"), Dialect::Html);
        assert_eq!(dialect("/nothing"), Dialect::Html);
    }
}
