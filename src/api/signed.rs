//! The OAuth 1.0a door into the REST API (oauth1.md): a signed request becomes the same
//! [`Principal`] a bearer token does, so every endpoint and every reach rule is written once.
//!
//! This is the whole contract with the OAuth1 work: `principal::presented` has already decided that
//! the request carries OAuth 1.0a parameters and no bearer, and hands over the request as the
//! signature layer reads it (`RequestParts`: method, path, raw query, raw form body, raw
//! `Authorization`). Fill in [`principal`] to verify the signature, timestamp and nonce, and return
//! the principal of the access token it was signed with; refuse with an [`ApiError`] otherwise.

use axum::http::StatusCode;

use super::error::ApiError;
use super::principal::Principal;
use crate::oauth1::signature::RequestParts;
use crate::state::AppState;

/// The principal of an OAuth 1.0a signed request. Until OAuth1 access tokens exist, every signed
/// request is refused, with a message that says what to send instead.
pub async fn principal(
    _state: &AppState,
    _request: &RequestParts<'_>,
) -> Result<Principal, ApiError> {
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        "OAuth 1.0a signatures are not accepted on this API yet; send an OAuth2 bearer token.",
    ))
}
