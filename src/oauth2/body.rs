//! Reading the body of a POST to an OAuth endpoint (RFC 6749 §3.2, oauth2.md §4): parameters only
//! in an `application/x-www-form-urlencoded` or (as WordPress.com's PHP samples send)
//! `multipart/form-data` body; none in the query string.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderMap, header};

use super::error::OAuthError;
use crate::domain::input::{self, Field, Problem};
use crate::http::body::MAX_BODY_BYTES;
use crate::http::params::{Malformed, Params, Repeated};

/// The headers and parameters of a POST to an OAuth endpoint, refusing a repeat of any parameter
/// named in `single` (RFC 6749 §3.2: each at most once).
pub(crate) async fn read_form(
    request: Request,
    single: &[&str],
) -> Result<(HeaderMap, Params), OAuthError> {
    let (headers, params) = read_any_form(request).await?;
    if let Some(Repeated(name)) = params.first_repeated(single) {
        return Err(OAuthError::invalid_request(format!(
            "The \"{name}\" parameter was sent more than once."
        )));
    }
    Ok((headers, params))
}

/// The value of a parameter (of those sent at most once: [`read_form`] refused a repeat); `None`
/// when it was not sent.
pub(crate) fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.get(name).ok().flatten()
}

/// The value of a parameter the request cannot do without: `invalid_request` ("The … parameter is
/// required.") when it was not sent.
pub(crate) fn required<'a>(params: &'a Params, name: &str) -> Result<&'a str, OAuthError> {
    param(params, name)
        .ok_or_else(|| OAuthError::invalid_request(format!("The {name} parameter is required.")))
}

/// The `grant_type` of a token request, one of `supported`: `invalid_request` when absent,
/// `unsupported_grant_type` (naming the supported ones and, cut short, the one sent) otherwise.
pub(crate) fn grant_type<'a>(
    params: &'a Params,
    supported: &[&'static str],
) -> Result<&'a str, OAuthError> {
    let grant_type = required(params, "grant_type")?;
    if supported.contains(&grant_type) {
        return Ok(grant_type);
    }
    let names = match supported.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    let shown: String = grant_type.chars().take(40).collect();
    Err(OAuthError::unsupported_grant_type(format!(
        "The grant_type must be {names}, not \"{shown}\"."
    )))
}

async fn read_any_form(request: Request) -> Result<(HeaderMap, Params), OAuthError> {
    if request.uri().query().is_some_and(|q| !q.is_empty()) {
        return Err(OAuthError::invalid_request(
            "Send the parameters in the request body, not in the URL.",
        ));
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    let charset_ok = content_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.trim().strip_prefix("charset="))
        .all(|c| matches!(c.trim_matches('"'), "utf-8" | "utf8" | "us-ascii"));
    let headers = request.headers().clone();
    match mime.as_str() {
        "application/x-www-form-urlencoded" if charset_ok => {
            let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
                .await
                .map_err(|_| {
                    OAuthError::invalid_request("The request body is too large or unreadable.")
                })?;
            let params =
                Params::decode(&bytes).map_err(|m| OAuthError::invalid_request(m.to_string()))?;
            Ok((headers, params))
        }
        "multipart/form-data" => Ok((headers, read_multipart(request).await?)),
        _ => Err(OAuthError::invalid_request(
            "Send the parameters as application/x-www-form-urlencoded (UTF-8) or multipart/form-data.",
        )),
    }
}

async fn read_multipart(request: Request<Body>) -> Result<Params, OAuthError> {
    let bad = || OAuthError::invalid_request("The multipart/form-data body is malformed.");
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|_| bad())?;
    let mut pairs = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|_| bad())? {
        if field.file_name().is_some() {
            return Err(OAuthError::invalid_request(
                "File uploads are not accepted by this endpoint.",
            ));
        }
        let name = field.name().ok_or_else(bad)?.to_owned();
        // The bytes, not `text()`: that would replace what is not UTF-8 with U+FFFD.
        let value = field.bytes().await.map_err(|_| bad())?;
        let malformed = |problem| Malformed {
            name: Some(name.clone()),
            problem,
        };
        let value = String::from_utf8(value.to_vec())
            .map_err(|_| malformed(Problem::NotUtf8))
            .and_then(|v| input::check(&v, Field::Line).map(|()| v).map_err(malformed))
            .map_err(|m| OAuthError::invalid_request(m.to_string()))?;
        input::check(&name, Field::Line).map_err(|problem| {
            OAuthError::invalid_request(
                Malformed {
                    name: None,
                    problem,
                }
                .to_string(),
            )
        })?;
        pairs.push((name, value));
    }
    Ok(Params::from_pairs(pairs))
}
