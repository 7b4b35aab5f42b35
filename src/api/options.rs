//! The query options every REST endpoint takes (oauth2.md §6; wpcom-oauth2.md §4.3, §4.5), applied
//! to the finished JSON response:
//!
//! - `fields=a,b`: keep only these keys, as WordPress.com's API does: in each item of a list answer
//!   (`posts`, `sites`, …) when the answer is a collection, else at the top level; errors are never
//!   filtered.
//! - `pretty=1`: indent the JSON.
//! - `http_envelope=1`: always HTTP 200, the real answer wrapped as
//!   `{"code":<status>,"headers":[{"name":…,"value":…}],"body":<json>}` for clients that cannot
//!   read error statuses. The outer response keeps `Cache-Control: no-store`, `Pragma` and the
//!   CORS headers (security.md TK10).
//!
//! It also makes every REST answer JSON: a non-JSON error from the framework (an unknown route, a
//! wrong method, a malformed path) becomes `{"error":…,"message":…}`, and responses default to
//! `Cache-Control: no-store` (they answer for one user's token).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::error::{ApiError, ErrorCode};
use crate::http::headers::no_store;

/// The collection keys whose items `fields` filters (WordPress.com's list).
const COLLECTIONS: &[&str] = &[
    "posts",
    "sites",
    "likes",
    "users",
    "comments",
    "connected_applications",
];
/// Our own responses are bounded by what handlers build; this only guards the buffer.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

pub(crate) async fn unknown_endpoint() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::UnknownEndpoint,
        "No REST endpoint matches this path.",
    )
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::InvalidMethod,
        "This endpoint does not take this HTTP method.",
    )
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Options {
    envelope: bool,
    pretty: bool,
    fields: Option<Vec<String>>,
}

fn truthy(value: &str) -> bool {
    matches!(value, "1" | "true")
}

fn options(query: Option<&str>) -> Options {
    let mut out = Options::default();
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match name.as_ref() {
            "http_envelope" => out.envelope = truthy(&value),
            "pretty" => out.pretty = truthy(&value),
            "fields" => {
                let list: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned)
                    .collect();
                out.fields = (!list.is_empty()).then_some(list);
            }
            _ => {}
        }
    }
    out
}

fn keep(object: &mut Map<String, Value>, fields: &[String]) {
    object.retain(|key, _| fields.iter().any(|f| f == key));
}

/// WordPress.com's `fields` filter.
fn filter_fields(body: &mut Value, fields: &[String]) {
    let Value::Object(object) = body else {
        return;
    };
    if !object.contains_key("ID") {
        for key in COLLECTIONS {
            if let Some(Value::Array(items)) = object.get_mut(*key) {
                for item in items.iter_mut() {
                    if let Value::Object(item) = item {
                        keep(item, fields);
                    }
                }
                return;
            }
        }
    }
    keep(object, fields);
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// `content-type` → `Content-Type`, as WordPress.com's envelope writes header names.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The error a non-JSON framework response stands for.
fn as_api_error(status: StatusCode, text: &str) -> ApiError {
    let error = match status {
        StatusCode::NOT_FOUND => ErrorCode::UnknownEndpoint,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::InvalidMethod,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::TooLarge,
        s if s.is_server_error() => ErrorCode::ServerError,
        _ => ErrorCode::InvalidInput,
    };
    let message = match text.trim() {
        "" => status.canonical_reason().unwrap_or("Error").to_owned(),
        t => t.chars().take(200).collect(),
    };
    ApiError::new(status, error, message)
}

/// What a request asked of its answer: the options of its query, and whether it is a preflight
/// (whose answer passes untouched).
pub(crate) struct Requested {
    options: Options,
    preflight: bool,
}

impl Requested {
    pub(crate) fn of(request: &Request) -> Self {
        Self {
            options: options(request.uri().query()),
            preflight: request.method() == Method::OPTIONS,
        }
    }

    /// The finished answer with the options applied.
    pub(crate) async fn apply(self, response: Response) -> Response {
        if self.preflight {
            return response;
        }
        apply(self.options, response).await
    }
}

async fn apply(options: Options, mut response: Response) -> Response {
    let status = response.status();
    let json = is_json(response.headers());
    if json && options == Options::default() {
        if !response.headers().contains_key(header::CACHE_CONTROL) {
            no_store(response.headers_mut());
        }
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_RESPONSE_BYTES).await else {
        return ApiError::unavailable().into_response();
    };
    let mut value: Value = match serde_json::from_slice(&bytes) {
        Ok(value) if json => value,
        _ if status.is_client_error() || status.is_server_error() => {
            let text = String::from_utf8_lossy(&bytes);
            let error = as_api_error(status, &text);
            let (error_parts, _) = error.clone().into_response().into_parts();
            for (name, value) in &error_parts.headers {
                parts.headers.insert(name, value.clone());
            }
            json!({"error": error.error, "message": error.message})
        }
        // A non-JSON success (none today) passes through untouched.
        _ => return Response::from_parts(parts, Body::from(bytes)),
    };
    if !parts.headers.contains_key(header::CACHE_CONTROL) {
        no_store(&mut parts.headers);
    }
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    if let Some(fields) = &options.fields
        && status.is_success()
    {
        filter_fields(&mut value, fields);
    }
    if options.envelope {
        let headers: Vec<Value> = parts
            .headers
            .iter()
            .map(|(name, value)| {
                json!({"name": title_case(name.as_str()), "value": value.to_str().unwrap_or("")})
            })
            .collect();
        value = json!({"code": status.as_u16(), "headers": headers, "body": value});
        parts.status = StatusCode::OK;
        // The wrapped answer's headers are in the envelope; the outer one keeps what caches and
        // browsers must see.
        let mut outer = HeaderMap::new();
        for (name, value) in &parts.headers {
            let name_str = name.as_str();
            if name_str.starts_with("access-control-")
                || matches!(
                    name_str,
                    "cache-control" | "pragma" | "vary" | "content-type"
                )
            {
                outer.append(name, value.clone());
            }
        }
        parts.headers = outer;
    }
    let text = if options.pretty {
        serde_json::to_vec_pretty(&value)
    } else {
        serde_json::to_vec(&value)
    };
    match text {
        Ok(text) => Response::from_parts(parts, Body::from(text)),
        Err(_) => ApiError::unavailable().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_are_read_from_the_query() {
        let o = options(Some("http_envelope=1&pretty=true&fields=ID,%20title,,"));
        assert!(o.envelope && o.pretty);
        assert_eq!(o.fields, Some(fields(&["ID", "title"])));
        assert_eq!(options(Some("http_envelope=0&fields=")), Options::default());
        assert_eq!(options(None), Options::default());
    }

    #[test]
    fn fields_filter_collection_items_or_the_top_level_as_wordpress_com() {
        let mut list = json!({"found": 2, "posts": [{"ID": 1, "title": "a", "content": "x"}]});
        filter_fields(&mut list, &fields(&["ID", "title"]));
        assert_eq!(
            list,
            json!({"found": 2, "posts": [{"ID": 1, "title": "a"}]})
        );
        let mut one = json!({"ID": 1, "title": "a", "posts": [{"ID": 2, "x": 1}]});
        filter_fields(&mut one, &fields(&["posts"]));
        assert_eq!(one, json!({"posts": [{"ID": 2, "x": 1}]}));
        let mut me = json!({"ID": 1, "email": "e", "username": "u"});
        filter_fields(&mut me, &fields(&["ID", "email"]));
        assert_eq!(me, json!({"ID": 1, "email": "e"}));
    }

    #[test]
    fn header_names_are_title_cased_for_the_envelope() {
        assert_eq!(title_case("content-type"), "Content-Type");
        assert_eq!(title_case("www-authenticate"), "Www-Authenticate");
        assert_eq!(title_case("x"), "X");
    }

    #[test]
    fn framework_errors_become_rest_errors() {
        let e = as_api_error(StatusCode::BAD_REQUEST, "Invalid URL: bad");
        assert_eq!(
            (e.error, e.message.as_str()),
            (ErrorCode::InvalidInput, "Invalid URL: bad")
        );
        assert_eq!(as_api_error(StatusCode::NOT_FOUND, "").message, "Not Found");
    }
}
