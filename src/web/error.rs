//! The HTML error page of browser flows. Until `client_id` and `redirect_uri` are validated, the
//! authorization endpoints answer with this page and never redirect (oauth2.md §2). The wording
//! follows WordPress.com: `Error Code: invalid_request` / `Error Message: …`.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::headers::no_store;
use crate::store::StoreError;

crate::http::error_code::error_code! {
    /// The `Error Code:` the page shows.
    pub enum ErrorCode {
        InvalidRequest = "invalid_request",
        /// An OAuth1 request token that is unknown or already used.
        InvalidToken = "invalid_token",
        ExpiredToken = "expired_token",
        CallbackRejected = "callback_rejected",
        AccessDenied = "access_denied",
        RateLimited = "rate_limited",
        ServerError = "server_error",
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// A malformed or unacceptable request: 400 with an error code and message.
    #[error("{code}: {message}")]
    BadRequest { code: ErrorCode, message: String },
    /// A forged or stale form (CSRF) or a forbidden action: 403.
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    /// Throttled: 429 with `Retry-After`.
    #[error("too many attempts")]
    TooManyRequests { retry_after: i64 },
    /// Infrastructure failure: 503 with `Retry-After`, logged once.
    #[error("unavailable")]
    Unavailable,
    /// A bug: 500, logged once.
    #[error("internal")]
    Internal,
}

impl PageError {
    pub fn invalid_request(message: impl Into<String>) -> Self {
        PageError::BadRequest {
            code: ErrorCode::InvalidRequest,
            message: message.into(),
        }
    }
}

/// A parameter that broke the input rule (`domain::input`): the 400 page names it.
impl From<crate::domain::input::Malformed> for PageError {
    fn from(m: crate::domain::input::Malformed) -> Self {
        PageError::invalid_request(m.to_string())
    }
}

impl From<StoreError> for PageError {
    fn from(err: StoreError) -> Self {
        err.report()
            .answer(|| PageError::Unavailable, || PageError::Internal)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    code: Option<&'a str>,
    message: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, code, message) = match &self {
            PageError::BadRequest { code, message } => (
                StatusCode::BAD_REQUEST,
                "Invalid request, please go back and try again.",
                Some(*code),
                message.as_str(),
            ),
            PageError::Forbidden(message) => (
                StatusCode::FORBIDDEN,
                "This request was refused.",
                Some(ErrorCode::AccessDenied),
                message.as_str(),
            ),
            PageError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found.",
                None,
                "There is nothing at this address.",
            ),
            PageError::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts.",
                Some(ErrorCode::RateLimited),
                "Please wait a little and try again.",
            ),
            PageError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is temporarily unavailable.",
                Some(ErrorCode::ServerError),
                "Please try again in a moment.",
            ),
            PageError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong.",
                Some(ErrorCode::ServerError),
                "The server could not complete the request.",
            ),
        };
        let page = ErrorPage {
            title,
            code: code.map(ErrorCode::as_str),
            message,
        };
        let mut response = (status, page).into_response();
        no_store(response.headers_mut());
        let retry = match self {
            PageError::TooManyRequests { retry_after } => Some(retry_after),
            PageError::Unavailable => Some(5),
            _ => None,
        };
        if let Some(secs) = retry {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
