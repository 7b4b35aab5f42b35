//! The OAuth2 error of the token and token-info endpoints (RFC 6749 §5.2, oauth2.md §4):
//! `{"error":…,"error_description":…}` with the no-store headers, 400 by default, 401 with
//! `WWW-Authenticate: Basic` when HTTP Basic client authentication failed, 429 with `Retry-After`
//! when throttled, 503 `server_error` when storage is unavailable. The error codes of the
//! authorization endpoint's redirect (RFC 6749 §4.1.2.1) are the same [`ErrorCode`].

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::http::headers::no_store;
use crate::store::StoreError;

crate::http::error_code::error_code! {
    /// The `error` codes Latchkey answers (RFC 6749 §4.1.2.1 and §5.2, plus the WordPress.com
    /// dialect's `needs_2fa` and `rate_limited`).
    pub(crate) enum ErrorCode {
        InvalidRequest = "invalid_request",
        InvalidClient = "invalid_client",
        InvalidGrant = "invalid_grant",
        UnauthorizedClient = "unauthorized_client",
        UnsupportedGrantType = "unsupported_grant_type",
        UnsupportedResponseType = "unsupported_response_type",
        InvalidScope = "invalid_scope",
        AccessDenied = "access_denied",
        Needs2fa = "needs_2fa",
        RateLimited = "rate_limited",
        ServerError = "server_error",
        /// RFC 8707 §2: a `resource` the server does not grant.
        InvalidTarget = "invalid_target",
        /// OpenID Connect Core §3.1.2.6: the answers of `prompt=none`.
        LoginRequired = "login_required",
        ConsentRequired = "consent_required",
        InteractionRequired = "interaction_required",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub(crate) struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
    pub kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
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
    error: ErrorCode,
    error_description: &'a str,
}

impl OAuthError {
    fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            kind: Kind::BadRequest,
        }
    }

    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub(crate) fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    pub(crate) fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    pub(crate) fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, description)
    }

    pub(crate) fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnsupportedGrantType, description)
    }

    pub(crate) fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidScope, description)
    }

    pub(crate) fn invalid_target(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidTarget, description)
    }

    pub(crate) fn needs_2fa(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::Needs2fa, description)
    }

    pub(crate) fn throttled(retry_after: i64) -> Self {
        Self {
            code: ErrorCode::RateLimited,
            description: "Too many failed attempts. Try again later.".into(),
            kind: Kind::Throttled { retry_after },
        }
    }

    /// A failure of ours, already logged (500 `server_error`).
    pub(crate) fn internal() -> Self {
        Self {
            code: ErrorCode::ServerError,
            description: "The server could not complete the request.".into(),
            kind: Kind::Internal,
        }
    }

    pub(crate) fn unavailable() -> Self {
        Self {
            code: ErrorCode::ServerError,
            description: "The server is temporarily unavailable. Try again shortly.".into(),
            kind: Kind::Unavailable,
        }
    }

    /// The same error, answered 401 with a Basic challenge.
    pub(crate) fn with_basic_challenge(mut self) -> Self {
        self.kind = Kind::BasicChallenge;
        self
    }
}

impl From<StoreError> for OAuthError {
    fn from(err: StoreError) -> Self {
        err.report()
            .answer(OAuthError::unavailable, OAuthError::internal)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts the events logged while it is the default subscriber.
    struct Count(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Count {
        fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn a_storage_failure_is_logged_once_and_answered_503_or_500() {
        use tracing_subscriber::layer::SubscriberExt;
        let cases = [
            (
                StoreError::Unavailable(sqlx::Error::PoolTimedOut),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                StoreError::Internal(sqlx::Error::ColumnNotFound("x".into())),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        ];
        for (err, status) in cases {
            let logged = std::sync::Arc::default();
            let subscriber =
                tracing_subscriber::registry().with(Count(std::sync::Arc::clone(&logged)));
            let response = tracing::subscriber::with_default(subscriber, || {
                OAuthError::from(err).into_response()
            });
            assert_eq!(response.status(), status);
            assert_eq!(logged.load(std::sync::atomic::Ordering::SeqCst), 1);
        }
    }
}
