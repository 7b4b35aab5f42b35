//! The errors of the OpenID Connect surface: RFC 6750 §3 bearer errors for UserInfo (401 with a
//! `WWW-Authenticate: Bearer` challenge, 403 `insufficient_scope`), and the opaque 500/503 every
//! endpoint here may answer. JSON `{"error", "error_description"}`, `Cache-Control: no-store`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::keys::KeysError;
use crate::http::headers::no_store;
use crate::store::{Reported, StoreError};

crate::http::error_code::error_code! {
    /// The `error` codes of RFC 6750 §3.1, plus `server_error` for failures of our own.
    pub(crate) enum ErrorCode {
        InvalidRequest = "invalid_request",
        InvalidToken = "invalid_token",
        InsufficientScope = "insufficient_scope",
        ServerError = "server_error",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OidcError {
    /// No credentials at all: 401 with a bare challenge (RFC 6750 §3.1: no error code).
    #[error("no access token")]
    MissingToken,
    /// 400 `invalid_request`: a token in the query, two credentials, another scheme.
    #[error("invalid_request: {0}")]
    InvalidRequest(&'static str),
    /// 401 `invalid_token`: unknown, expired, revoked or malformed.
    #[error("invalid_token")]
    InvalidToken,
    /// 403 `insufficient_scope`: a valid token without `openid`.
    #[error("insufficient_scope")]
    InsufficientScope,
    /// 503 with `Retry-After`.
    #[error("unavailable")]
    Unavailable,
    /// 500.
    #[error("internal")]
    Internal,
}

#[derive(Serialize)]
struct Body<'a> {
    error: ErrorCode,
    error_description: &'a str,
}

impl From<Reported> for OidcError {
    fn from(reported: Reported) -> Self {
        reported.answer(|| OidcError::Unavailable, || OidcError::Internal)
    }
}

impl From<StoreError> for OidcError {
    fn from(err: StoreError) -> Self {
        err.report().into()
    }
}

impl From<KeysError> for OidcError {
    fn from(err: KeysError) -> Self {
        err.report().into()
    }
}

impl OidcError {
    fn parts(&self) -> (StatusCode, Option<ErrorCode>, &'static str) {
        match self {
            OidcError::MissingToken => (
                StatusCode::UNAUTHORIZED,
                None,
                "Send an access token in an Authorization: Bearer header.",
            ),
            OidcError::InvalidRequest(why) => (
                StatusCode::BAD_REQUEST,
                Some(ErrorCode::InvalidRequest),
                why,
            ),
            OidcError::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                Some(ErrorCode::InvalidToken),
                "The access token is invalid, expired or revoked.",
            ),
            OidcError::InsufficientScope => (
                StatusCode::FORBIDDEN,
                Some(ErrorCode::InsufficientScope),
                "The access token was not granted the openid scope.",
            ),
            OidcError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some(ErrorCode::ServerError),
                "The server is temporarily unavailable. Try again shortly.",
            ),
            OidcError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(ErrorCode::ServerError),
                "The server could not complete the request.",
            ),
        }
    }

    /// The RFC 6750 §3 challenge, for the errors that carry one.
    fn challenge(&self) -> Option<&'static str> {
        match self {
            OidcError::MissingToken => Some("Bearer"),
            OidcError::InvalidRequest(_) => Some("Bearer error=\"invalid_request\""),
            OidcError::InvalidToken => Some("Bearer error=\"invalid_token\""),
            OidcError::InsufficientScope => {
                Some("Bearer error=\"insufficient_scope\", scope=\"openid\"")
            }
            OidcError::Unavailable | OidcError::Internal => None,
        }
    }
}

impl IntoResponse for OidcError {
    fn into_response(self) -> Response {
        let (status, code, description) = self.parts();
        let mut response = match code {
            Some(error) => (
                status,
                Json(Body {
                    error,
                    error_description: description,
                }),
            )
                .into_response(),
            None => status.into_response(),
        };
        let headers = response.headers_mut();
        no_store(headers);
        if let Some(challenge) = self.challenge() {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(5));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_answers_its_rfc_6750_status_and_challenge() {
        let cases = [
            (OidcError::MissingToken, 401, Some("Bearer")),
            (
                OidcError::InvalidRequest("two"),
                400,
                Some("Bearer error=\"invalid_request\""),
            ),
            (
                OidcError::InvalidToken,
                401,
                Some("Bearer error=\"invalid_token\""),
            ),
            (
                OidcError::InsufficientScope,
                403,
                Some("Bearer error=\"insufficient_scope\", scope=\"openid\""),
            ),
            (OidcError::Unavailable, 503, None),
            (OidcError::Internal, 500, None),
        ];
        for (error, status, challenge) in cases {
            let what = format!("{error:?}");
            let response = error.into_response();
            assert_eq!(response.status().as_u16(), status, "{what}");
            assert_eq!(
                response
                    .headers()
                    .get("www-authenticate")
                    .map(|v| v.to_str().unwrap()),
                challenge,
                "{what}"
            );
            assert_eq!(response.headers()["cache-control"], "no-store", "{what}");
        }
    }
}
