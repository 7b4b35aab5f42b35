//! `GET /oauth2/token-info` (and `/oauth/token-info`): validate a token for a client (oauth2.md §5).
//! The hot path of the product: a malformed token is refused before any lookup, a well-formed one
//! costs one indexed lookup by digest. Unknown, expired, revoked and other clients' tokens all get
//! the one uniform error, so the answer leaks nothing (RFC 7662 §2.2).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::OAuthError;
use super::params::Params;
use super::tokens;
use crate::http::headers::no_store;
use crate::http::peer::Peer;
use crate::state::AppState;

pub const INVALID_TOKEN: &str = "The specified token is invalid.";

#[derive(Serialize)]
struct TokenInfo {
    client_id: String,
    user_id: String,
    blog_id: String,
    scope: String,
}

pub async fn token_info(
    State(state): State<AppState>,
    peer: Peer,
    RawQuery(query): RawQuery,
) -> Result<Response, OAuthError> {
    let params = Params::parse(query.as_deref().unwrap_or("").as_bytes());
    let client_id = params
        .get("client_id")
        .map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    let token = params
        .get("token")
        .map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    let (Some(client_id), Some(token)) = (client_id, token) else {
        return Err(OAuthError::invalid_request(
            "Send both the client_id and the token parameters.",
        ));
    };
    let limits = &state.settings.limits;
    let now = state.now();
    let key = format!("token-info:{peer}");
    if let Some(retry_after) = state.throttle.check(
        &key,
        limits.token_info_failures_per_ip,
        limits.window_secs,
        now,
    ) {
        return Err(OAuthError::throttled(retry_after));
    }
    let grant = tokens::validate(&state, token, now).await?;
    match grant.filter(|g| client_id.parse::<i64>().ok() == Some(g.app_id)) {
        Some(grant) => {
            let body = TokenInfo {
                client_id: grant.app_id.to_string(),
                user_id: grant.user_id.to_string(),
                blog_id: grant.site_id.unwrap_or(0).to_string(),
                scope: grant.scope,
            };
            let mut response = Json(body).into_response();
            no_store(response.headers_mut());
            Ok(response)
        }
        None => {
            state.throttle.fail(&key, limits.window_secs, now);
            Err(OAuthError::invalid_request(INVALID_TOKEN))
        }
    }
}
