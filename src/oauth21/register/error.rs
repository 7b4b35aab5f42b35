//! The error of the registration endpoints (RFC 7591 §3.2.2, RFC 7592 §2, RFC 6750 §3.1):
//! `{"error":…,"error_description":…}` with the no-store headers. 400 for bad metadata, 401 with
//! `WWW-Authenticate: Bearer error="invalid_token"` for a missing or bad initial or registration
//! access token, 404 when registration is off, 429 with `Retry-After` when a peer registered too
//! many clients, 503/500 when storage fails. Bad input is never a 500.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::client_metadata::MetadataError;
use crate::http::headers::no_store;
use crate::store::{Reported, StoreError};

crate::http::error_code::error_code! {
    /// The `error` codes of the registration endpoints.
    pub(crate) enum ErrorCode {
        InvalidRedirectUri = "invalid_redirect_uri",
        InvalidClientMetadata = "invalid_client_metadata",
        InvalidToken = "invalid_token",
        NotFound = "not_found",
        RateLimited = "rate_limited",
        ServerError = "server_error",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegisterError {
    pub code: ErrorCode,
    pub description: String,
    status: StatusCode,
    retry_after: Option<i64>,
}

impl RegisterError {
    fn new(code: ErrorCode, status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            status,
            retry_after: None,
        }
    }

    pub(crate) fn metadata(description: impl Into<String>) -> Self {
        Self::new(
            ErrorCode::InvalidClientMetadata,
            StatusCode::BAD_REQUEST,
            description,
        )
    }

    pub(crate) fn invalid_token(description: impl Into<String>) -> Self {
        Self::new(
            ErrorCode::InvalidToken,
            StatusCode::UNAUTHORIZED,
            description,
        )
    }

    pub(crate) fn off() -> Self {
        Self::new(
            ErrorCode::NotFound,
            StatusCode::NOT_FOUND,
            "Dynamic client registration is turned off on this server: ask its operator to \
             register your application.",
        )
    }

    pub(crate) fn throttled(retry_after: i64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                ErrorCode::RateLimited,
                StatusCode::TOO_MANY_REQUESTS,
                "Too many clients registered from this address. Try again later.",
            )
        }
    }
}

impl From<MetadataError> for RegisterError {
    fn from(e: MetadataError) -> Self {
        match e {
            MetadataError::InvalidRedirectUri(d) => {
                Self::new(ErrorCode::InvalidRedirectUri, StatusCode::BAD_REQUEST, d)
            }
            MetadataError::InvalidClientMetadata(d) => Self::metadata(d),
        }
    }
}

impl From<StoreError> for RegisterError {
    fn from(err: StoreError) -> Self {
        match err.report() {
            Reported::Unavailable => Self {
                retry_after: Some(5),
                ..Self::new(
                    ErrorCode::ServerError,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The server is temporarily unavailable. Try again shortly.",
                )
            },
            Reported::Internal => Self::new(
                ErrorCode::ServerError,
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server could not complete the request.",
            ),
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: ErrorCode,
    error_description: &'a str,
}

impl IntoResponse for RegisterError {
    fn into_response(self) -> Response {
        let body = Body {
            error: self.code,
            error_description: &self.description,
        };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        no_store(headers);
        if self.code == ErrorCode::InvalidToken {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_code_round_trips_through_its_wire_string() {
        crate::http::error_code::assert_round_trips(ErrorCode::ALL);
    }
}
