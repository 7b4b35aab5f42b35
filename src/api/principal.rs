//! The principal of a REST request: the grant a request's credentials stand for (user, app, blog,
//! scope). The credential is an OAuth2 bearer (`Authorization: Bearer`, scheme
//! case-insensitive; never a token in the query or body) or an OAuth1 signature, which the
//! `oauth1::rest` layer verifies and resolves to the same `Principal`, so every endpoint is written
//! once.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::domain::scope::{self, Scope};
use crate::oauth2::tokens;
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: i64,
    pub app_id: i64,
    /// The blog of a single-blog grant; `None` for `global` and `auth`.
    pub site_id: Option<i64>,
    pub scope: Scope,
    pub grant_id: i64,
}

/// The bearer token of a request, if it sent one.
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl OptionalFromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, ApiError> {
        // Put there by the `oauth1::rest` layer once a signature verified.
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(Some(principal.clone()));
        }
        let Some(token) = bearer(parts) else {
            if parts.headers.contains_key(header::AUTHORIZATION) {
                return Err(ApiError::invalid_token());
            }
            return Ok(None);
        };
        let grant = tokens::validate(state, token, state.now())
            .await?
            .ok_or_else(ApiError::invalid_token)?;
        let scope = scope::parse(Some(&grant.scope)).map_err(|_| ApiError::invalid_token())?;
        Ok(Some(Principal {
            user_id: grant.user_id,
            app_id: grant.app_id,
            site_id: grant.site_id,
            scope,
            grant_id: grant.grant_id,
        }))
    }
}

/// Extracting `Principal` directly requires credentials; endpoints word their own "missing" error
/// by extracting `Option<Principal>` instead.
impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        <Principal as OptionalFromRequestParts<AppState>>::from_request_parts(parts, state)
            .await?
            .ok_or_else(|| {
                ApiError::authorization_required(
                    "An active access token must be used to access this endpoint.",
                )
            })
    }
}
