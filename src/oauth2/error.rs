//! The OAuth2 error of the token, token-info, revocation and introspection endpoints (RFC 6749
//! §5.2, oauth2.md §4): `{"error":…,"error_description":…}` with the no-store headers, 400 by
//! default, 401 with `WWW-Authenticate: Basic` when HTTP Basic client authentication failed, 429
//! with `Retry-After` when throttled, 503 `server_error` when storage is unavailable.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::http::headers::no_store;
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    pub code: &'static str,
    pub description: String,
    pub kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 400.
    BadRequest,
    /// 401 with `WWW-Authenticate: Basic` (the client tried HTTP Basic and failed).
    BasicChallenge,
    /// 429 with `Retry-After`.
    Throttled { retry_after: i64 },
    /// 503 with `Retry-After`.
    Unavailable,
    /// 500: a bug, not worth retrying.
    Internal,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl OAuthError {
    fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            kind: Kind::BadRequest,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }

    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new("invalid_client", description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }

    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new("unauthorized_client", description)
    }

    pub fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::new("unsupported_grant_type", description)
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new("invalid_scope", description)
    }

    pub fn needs_2fa(description: impl Into<String>) -> Self {
        Self::new("needs_2fa", description)
    }

    pub fn throttled(retry_after: i64) -> Self {
        Self {
            code: "rate_limited",
            description: "Too many failed attempts. Try again later.".into(),
            kind: Kind::Throttled { retry_after },
        }
    }

    pub fn unavailable() -> Self {
        Self {
            code: "server_error",
            description: "The server is temporarily unavailable. Try again shortly.".into(),
            kind: Kind::Unavailable,
        }
    }

    /// The same error, answered 401 with a Basic challenge.
    pub fn with_basic_challenge(mut self) -> Self {
        self.kind = Kind::BasicChallenge;
        self
    }
}

impl From<StoreError> for OAuthError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "storage failure");
        if !err.is_outage() {
            return Self {
                code: "server_error",
                description: "The server could not complete the request.".into(),
                kind: Kind::Internal,
            };
        }
        OAuthError::unavailable()
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = match self.kind {
            Kind::BadRequest => StatusCode::BAD_REQUEST,
            Kind::BasicChallenge => StatusCode::UNAUTHORIZED,
            Kind::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = Body {
            error: self.code,
            error_description: &self.description,
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        no_store(headers);
        match self.kind {
            Kind::BasicChallenge => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"latchkey\""),
                );
            }
            Kind::Throttled { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            Kind::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(5));
            }
            Kind::BadRequest | Kind::Internal => {}
        }
        response
    }
}
