//! The REST error of `/rest/v1(.1)/…` (oauth2.md §6): `{"error":…,"message":…}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub error: &'static str,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error,
            message: message.into(),
        }
    }

    /// No token on an endpoint that needs one (403, as WordPress.com).
    pub fn authorization_required(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "authorization_required", message)
    }

    /// A bad, expired or revoked token: 401 with `WWW-Authenticate: Bearer`.
    pub fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "The OAuth2 token is invalid.",
        )
    }

    /// A valid token used beyond its reach.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "unauthorized", message)
    }

    pub fn unknown_blog() -> Self {
        Self::new(StatusCode::NOT_FOUND, "unknown_blog", "Unknown blog")
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "The server is temporarily unavailable. Try again shortly.",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "storage failure");
        if !err.is_outage() {
            return Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "The server could not complete the request.",
            );
        }
        ApiError::unavailable()
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
        if self.error == "invalid_token" {
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
