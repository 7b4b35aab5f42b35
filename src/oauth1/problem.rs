//! Why an OAuth1-signed request was refused, and the two ways of saying so (`spec/oauth1.md` §5):
//! the OAuth Problem Reporting form on `/oauth1/*` (400 for what is malformed, 401 for what is not
//! authentic), and the WordPress JSON shape on REST routes (always 401, the plugin's codes).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::callback::CallbackError;
use super::problem_code::ProblemCode;
use super::signature::ParamError;
use crate::http::headers::no_store;
use crate::store::StoreError;

/// The `Content-Type` of every `/oauth1/request` and `/oauth1/access` answer, errors included.
pub(crate) const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Problem {
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error("the required parameter {0} is missing")]
    Absent(&'static str),
    #[error(transparent)]
    Callback(#[from] CallbackError),
    #[error("oauth_nonce must hold 1 to 255 characters")]
    NonceRejected,
    #[error("the form body is too large or unreadable")]
    BodyUnreadable,
    #[error("the consumer key is not known")]
    ConsumerUnknown,
    #[error("the token is not known, was already used, or was revoked")]
    TokenRejected,
    #[error("the token was issued to another consumer")]
    ConsumerMismatch,
    #[error("the request token has expired; start again at the request endpoint")]
    TokenExpired,
    #[error("the user has not approved this request token yet")]
    NotApproved,
    #[error("the verifier is not the one given to the user")]
    VerifierInvalid,
    #[error(
        "the signature does not match; compare your signature base string with \
         oauth_signature_base_string"
    )]
    SignatureInvalid { base_string: String },
    #[error("oauth_timestamp is more than {0} seconds away from the server's clock")]
    TimestampRefused(i64),
    #[error("this nonce was already used with this timestamp; send a fresh nonce")]
    NonceUsed,
    #[error("the server is temporarily unavailable")]
    Unavailable,
    #[error("the server could not complete the request")]
    Internal,
}

impl From<StoreError> for Problem {
    fn from(err: StoreError) -> Self {
        err.report()
            .answer(|| Problem::Unavailable, || Problem::Internal)
    }
}

impl Problem {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::Param(_)
            | Self::Absent(_)
            | Self::Callback(_)
            | Self::NonceRejected
            | Self::BodyUnreadable => StatusCode::BAD_REQUEST,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The `oauth_problem` code (OAuth Problem Reporting extension).
    pub(crate) fn code(&self) -> ProblemCode {
        match self {
            Self::Param(e) => e.problem(),
            Self::Absent(_) => ProblemCode::ParameterAbsent,
            Self::Callback(e) => e.problem(),
            Self::NonceRejected | Self::BodyUnreadable => ProblemCode::ParameterRejected,
            Self::ConsumerUnknown => ProblemCode::ConsumerKeyUnknown,
            Self::TokenRejected | Self::ConsumerMismatch => ProblemCode::TokenRejected,
            Self::TokenExpired => ProblemCode::TokenExpired,
            Self::NotApproved => ProblemCode::PermissionUnknown,
            Self::VerifierInvalid => ProblemCode::VerifierInvalid,
            Self::SignatureInvalid { .. } => ProblemCode::SignatureInvalid,
            Self::TimestampRefused(_) => ProblemCode::TimestampRefused,
            Self::NonceUsed => ProblemCode::NonceUsed,
            Self::Unavailable => ProblemCode::TemporarilyUnavailable,
            Self::Internal => ProblemCode::ServerError,
        }
    }

    /// The plugin's code for the WordPress JSON error on REST routes.
    fn rest_code(&self) -> &'static str {
        match self {
            Self::Param(ParamError::UnsupportedSignatureMethod(_)) => {
                "json_oauth1_invalid_signature_method"
            }
            Self::Param(ParamError::BadTimestamp(_)) | Self::TimestampRefused(_) => {
                "json_oauth1_invalid_timestamp"
            }
            Self::Param(_)
            | Self::Absent(_)
            | Self::Callback(_)
            | Self::NonceRejected
            | Self::BodyUnreadable => "json_oauth1_missing_parameter",
            Self::ConsumerUnknown => "json_consumer_notfound",
            Self::ConsumerMismatch => "json_oauth1_consumer_mismatch",
            Self::TokenRejected | Self::TokenExpired | Self::NotApproved => {
                "json_oauth1_invalid_token"
            }
            Self::VerifierInvalid => "json_oauth1_invalid_verifier",
            Self::SignatureInvalid { .. } => "json_oauth1_signature_mismatch",
            Self::NonceUsed => "json_oauth1_nonce_already_used",
            Self::Unavailable => "json_oauth1_unavailable",
            Self::Internal => "server_error",
        }
    }

    /// The WordPress JSON shape for REST routes: 401 (503 when storage failed).
    pub(crate) fn into_rest_response(self) -> Response {
        let status = match self {
            Self::Unavailable | Self::Internal => self.status(),
            _ => StatusCode::UNAUTHORIZED,
        };
        let message = match &self {
            Self::SignatureInvalid { .. } => "OAuth signature does not match".to_owned(),
            other => sentence(&other.to_string()),
        };
        let body = json!({
            "code": self.rest_code(),
            "message": message,
            "data": {"status": status.as_u16()},
        });
        let mut response = (status, Json(body)).into_response();
        finish(&mut response, status);
        observe(&mut response, &self);
        response
    }
}

/// The problem-reporting form: `oauth_problem=…&oauth_problem_advice=…`, plus
/// `oauth_signature_base_string=…` on `signature_invalid` (it holds no secret).
impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let advice = sentence(&self.to_string());
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("oauth_problem", self.code().as_str());
        form.append_pair("oauth_problem_advice", &advice);
        if let Self::SignatureInvalid { base_string } = &self {
            form.append_pair("oauth_signature_base_string", base_string);
        }
        let mut response = (status, [(header::CONTENT_TYPE, FORM)], form.finish()).into_response();
        finish(&mut response, status);
        observe(&mut response, &self);
        response
    }
}

/// Reports the refusal to the observing layer (`http::observe`), which counts and logs it.
fn observe(response: &mut Response, problem: &Problem) {
    if *problem != Problem::Unavailable {
        let event = crate::http::observe::SecurityEvent::OAuth1Refused(problem.code().as_str());
        response.extensions_mut().insert(event);
    }
}

fn finish(response: &mut Response, status: StatusCode) {
    let headers = response.headers_mut();
    no_store(headers);
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("OAuth realm=\"latchkey\""),
        );
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(5));
    }
}

/// Advice as a sentence: capitalised (unless it starts with a parameter name), with a full stop.
fn sentence(s: &str) -> String {
    let first_word = s.split(' ').next().unwrap_or("");
    let mut chars = s.chars();
    let mut out: String = match chars.next() {
        Some(c) if !first_word.contains('_') => c.to_uppercase().chain(chars).collect(),
        _ => s.to_owned(),
    };
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_requests_are_400_and_unauthentic_ones_401() {
        let bad = [
            Problem::Param(ParamError::Absent("oauth_nonce")),
            Problem::Absent("oauth_verifier"),
            Problem::Callback(CallbackError::Mismatch),
            Problem::Param(ParamError::UnsupportedSignatureMethod("PLAINTEXT".into())),
        ];
        for p in bad {
            assert_eq!(p.status(), StatusCode::BAD_REQUEST, "{p:?}");
        }
        let unauthentic = [
            Problem::ConsumerUnknown,
            Problem::TokenRejected,
            Problem::ConsumerMismatch,
            Problem::TokenExpired,
            Problem::NotApproved,
            Problem::VerifierInvalid,
            Problem::SignatureInvalid {
                base_string: String::new(),
            },
            Problem::TimestampRefused(900),
            Problem::NonceUsed,
        ];
        for p in unauthentic {
            assert_eq!(p.status(), StatusCode::UNAUTHORIZED, "{p:?}");
        }
    }

    #[test]
    fn advice_reads_as_a_sentence() {
        assert_eq!(
            sentence("the consumer key is not known"),
            "The consumer key is not known."
        );
        assert_eq!(sentence(""), ".");
        assert_eq!(sentence("oauth_nonce is bad"), "oauth_nonce is bad.");
    }
}
