//! The REST error of `/rest/v1(.1)/…` (oauth2.md §6): `{"error":…,"message":…}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::oidc::discovery::{REST_RESOURCE_PATH, bearer_challenge};
use crate::state::AppState;
use crate::store::StoreError;

crate::http::error_code::error_code! {
    /// The `error` codes of the REST dialect (the WordPress.com API's slugs).
    pub(crate) enum ErrorCode {
        AuthorizationRequired = "authorization_required",
        InvalidToken = "invalid_token",
        Unauthorized = "unauthorized",
        InvalidRequest = "invalid_request",
        InvalidInput = "invalid_input",
        InvalidMethod = "invalid_method",
        UnknownEndpoint = "unknown_endpoint",
        UnknownBlog = "unknown_blog",
        UnknownPost = "unknown_post",
        UnknownApp = "unknown_app",
        TooLarge = "too_large",
        ServerError = "server_error",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {message}")]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub error: ErrorCode,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: ErrorCode,
    message: &'a str,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, error: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            error,
            message: message.into(),
        }
    }

    /// No token on an endpoint that needs one (403, as WordPress.com).
    pub(crate) fn authorization_required(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::AuthorizationRequired,
            message,
        )
    }

    /// A bad, expired or revoked token: 401 with `WWW-Authenticate: Bearer`.
    pub(crate) fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidToken,
            "The OAuth2 token is invalid.",
        )
    }

    /// A valid token used beyond its reach.
    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Unauthorized, message)
    }

    pub(crate) fn unknown_blog() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::UnknownBlog,
            "Unknown blog",
        )
    }

    pub(crate) fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServerError,
            "The server is temporarily unavailable. Try again shortly.",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        err.report().answer(ApiError::unavailable, || {
            Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::ServerError,
                "The server could not complete the request.",
            )
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: self.error,
            message: &self.message,
        };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        crate::http::headers::no_store(headers);
        if self.error == ErrorCode::InvalidToken {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(5));
        }
        response
    }
}

/// The REST routes' answer: a 401 with a Bearer challenge (a bad, expired or revoked token)
/// names the API's RFC 9728 metadata in it (oauth21.md §4), so an OAuth 2.1 client finds the
/// authorization server from the refusal alone. OAuth1 refusals keep their own challenge.
pub(crate) fn challenge(state: &AppState, mut response: Response) -> Response {
    if response.status() == StatusCode::UNAUTHORIZED {
        let headers = response.headers_mut();
        let bearer = headers
            .get(header::WWW_AUTHENTICATE)
            .is_some_and(|v| v.as_bytes().starts_with(b"Bearer"));
        if bearer {
            // Every REST 401 answers a token that was sent (no token is a 403, as WordPress.com).
            let challenge = bearer_challenge(&state.settings, REST_RESOURCE_PATH, true);
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_invalid_token_challenges_for_a_bearer_token() {
        let challenge = |e: ApiError| e.into_response().headers().get("www-authenticate").cloned();
        assert_eq!(
            challenge(ApiError::invalid_token()).unwrap(),
            "Bearer error=\"invalid_token\""
        );
        assert!(challenge(ApiError::unauthorized("no")).is_none());
    }
}
