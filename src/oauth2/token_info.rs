//! `GET /oauth2/token-info` (and `/oauth/token-info`): validate a token for a client (oauth2.md §5).
//! The hot path of the product: a malformed token is refused before any lookup, a well-formed one
//! costs one indexed lookup by digest. Unknown, expired, revoked and other clients' tokens all get
//! the one uniform error, so the answer leaks nothing (RFC 7662 §2.2); so does a single-blog token
//! whose user no longer administers its blog (`domain::reach::holds`, AC11).

use std::borrow::Cow;

use std::net::IpAddr;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Serialize, Serializer};

use super::error::OAuthError;
use super::tokens;
use crate::domain::input::{self, Field};
use crate::http::headers::no_store;
use crate::http::params::Repeated;
use crate::http::peer::Peer;
use crate::state::AppState;

pub(crate) const INVALID_TOKEN: &str = "The specified token is invalid.";

/// The answer, borrowed from the cached grant: serialising it writes straight into the response
/// buffer, with no intermediate strings (the ids are JSON strings on the wire, oauth2.md §5).
#[derive(Serialize)]
struct TokenInfo<'a> {
    #[serde(serialize_with = "as_string")]
    client_id: i64,
    #[serde(serialize_with = "as_string")]
    user_id: i64,
    #[serde(serialize_with = "as_string")]
    blog_id: i64,
    scope: &'a str,
}

fn as_string<S: Serializer>(id: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(id)
}

/// A decoded parameter, borrowed from the query string unless it was percent-encoded.
type Param<'a> = Option<Cow<'a, str>>;

/// `client_id` and `token` from the query string, decoded only when percent-encoded, with the
/// rules of `Params`: every parameter strict UTF-8 without control characters
/// (`domain::input`), an empty value counts as absent, a repeated one is an error. The error is the
/// `invalid_request` description.
fn client_and_token(query: &[u8]) -> Result<(Param<'_>, Param<'_>), String> {
    let (mut client_id, mut token) = (None, None);
    for (name, value) in input::raw_pairs(query) {
        let (name, value) =
            input::decode_pair(name, value, |_| Field::Line).map_err(|m| m.to_string())?;
        let slot = match &*name {
            "client_id" => &mut client_id,
            "token" => &mut token,
            _ => continue,
        };
        if slot.is_some() {
            return Err(Repeated(name.into_owned()).to_string());
        }
        *slot = Some(value);
    }
    Ok((
        client_id.filter(|v| !v.is_empty()),
        token.filter(|v| !v.is_empty()),
    ))
}

pub(crate) async fn token_info(
    State(state): State<AppState>,
    peer: Peer,
    RawQuery(query): RawQuery,
) -> Response {
    answer(&state, peer.0, query.as_deref()).await
}

/// The endpoint without extractors: what the lean stack (`server::lean`) calls directly.
pub(crate) async fn answer(state: &AppState, peer: IpAddr, query: Option<&str>) -> Response {
    match check(state, peer, query).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn check(
    state: &AppState,
    peer: IpAddr,
    query: Option<&str>,
) -> Result<Response, OAuthError> {
    let (client_id, token) =
        client_and_token(query.unwrap_or("").as_bytes()).map_err(OAuthError::invalid_request)?;
    let (Some(client_id), Some(token)) = (client_id, token) else {
        return Err(OAuthError::invalid_request(
            "Send both the client_id and the token parameters.",
        ));
    };
    let now = state.now();
    let budgets = state.auth().budgets();
    if let Some(retry_after) = budgets.token_info_over(peer, now) {
        return Err(OAuthError::throttled(retry_after));
    }
    let grant = tokens::lookup(state, &token, now).await?;
    // Another client's token, or one whose grant lapsed (AC11), is as invalid as an unknown one.
    let grant = grant.filter(|g| {
        client_id.parse::<i64>().ok() == Some(g.app_id)
            && tokens::holds(&g.scope, g.site_id, g.site_admin)
    });
    match grant {
        Some(grant) => Ok(encoded(&TokenInfo {
            client_id: grant.app_id,
            user_id: grant.user_id,
            blog_id: grant.site_id.unwrap_or(0),
            scope: &grant.scope,
        })),
        None => {
            budgets.token_info_spend(peer, now);
            Err(OAuthError::invalid_request(INVALID_TOKEN))
        }
    }
}

/// The answer with its fixed headers, serialised into one right-sized buffer.
fn encoded(body: &TokenInfo<'_>) -> Response {
    let mut buf = Vec::with_capacity(64 + body.scope.len());
    if serde_json::to_writer(&mut buf, body).is_err() {
        return axum::Json(body).into_response();
    }
    let mut response = Response::new(Body::from(buf));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    no_store(headers);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_follow_the_oauth2_rules_without_copying() {
        let (c, t) = client_and_token(b"client_id=7&token=lkat_x&extra=1").unwrap();
        assert!(matches!(c, Some(Cow::Borrowed("7"))));
        assert!(matches!(t, Some(Cow::Borrowed("lkat_x"))));
        let (c, t) = client_and_token(b"client_id=&token=a%2Bb").unwrap();
        assert_eq!(c, None);
        assert_eq!(t.as_deref(), Some("a+b"));
        assert_eq!(
            client_and_token(b"token=a&token=b").unwrap_err(),
            "The \"token\" parameter was sent more than once."
        );
        for bad in ["token=%FF", "client_id=1%00", "extra=%C0%AF", "%00=x"] {
            assert!(client_and_token(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_body_has_string_ids() {
        let body = TokenInfo {
            client_id: 7,
            user_id: 3,
            blog_id: 0,
            scope: "global",
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"client_id":"7","user_id":"3","blog_id":"0","scope":"global"}"#
        );
    }
}
