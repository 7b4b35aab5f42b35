//! OAuth 1.0a as the WP REST API plugin speaks it, with the plugin's bugs fixed (RFC 5849,
//! `spec/oauth1.md`). The pure protocol rules (`signature`, `callback`) come first; `verify` checks a
//! signed request against storage (also for the REST API's OAuth1 layer, `api::oauth1`); then one
//! file per endpoint and the problem-reporting errors.
//! `client` is the consumer's side (signing an outgoing request), for the playground.

pub(crate) mod access;
pub(crate) mod authorize;
pub(crate) mod callback;
pub mod client;
pub(crate) mod problem;
pub(crate) mod problem_code;
mod protocol;
pub(crate) mod request;
pub mod signature;
pub(crate) mod verify;

use axum::Router;
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use tower::ServiceExt;

use crate::domain::crypto;
use crate::domain::random::alphanumeric;
use crate::http::headers::no_store;
use crate::state::AppState;

/// `/oauth1/{request,authorize,access}`, with or without a trailing slash (`spec/oauth1.md` §3).
pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for path in ["/oauth1/request", "/oauth1/request/"] {
        router = router.route(path, credentials(request::request));
    }
    for path in ["/oauth1/access", "/oauth1/access/"] {
        router = router.route(path, credentials(access::access));
    }
    for path in ["/oauth1/authorize", "/oauth1/authorize/"] {
        router = router.route(path, browser());
    }
    router
}

/// The methods `/oauth1/request` and `/oauth1/access` accept, as the plugin does (GET also answers
/// HEAD), and the CORS preflight.
fn credentials<H, T>(handler: H) -> MethodRouter<AppState>
where
    H: Handler<T, AppState> + Clone,
    T: 'static,
{
    get(handler.clone())
        .post(handler.clone())
        .put(handler.clone())
        .patch(handler.clone())
        .delete(handler)
        .options(preflight)
}

fn browser() -> MethodRouter<AppState> {
    get(authorize::show).post(authorize::decide)
}

/// `/?rest_oauth1=request|authorize|access`: the plugin's alias for sites without pretty links.
pub async fn alias(state: AppState, which: &str, request: Request) -> Response {
    let router = match which {
        "request" => credentials(request::request),
        "access" => credentials(access::access),
        "authorize" => browser(),
        _ => return (StatusCode::NOT_FOUND, "Route is invalid").into_response(),
    };
    match router.with_state(state).oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// OPTIONS: an empty 200 with CORS headers allowing `Authorization`.
async fn preflight() -> Response {
    with_cors(StatusCode::OK.into_response())
}

/// CORS for the credential endpoints. Requests are authenticated by their signature, never by
/// cookies, so any origin may call them and no credentials are allowed.
pub fn with_cors(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Content-Type"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
    );
    response
}

/// The answer of `/oauth1/request` and `/oauth1/access`, with CORS either way: a 200 with the
/// credentials in the form encoding, not stored by caches (`spec/oauth1.md` §3), or the problem.
fn credentials_response(result: Result<String, problem::Problem>) -> Response {
    match result {
        Ok(body) => {
            let mut response = ([(header::CONTENT_TYPE, problem::FORM)], body).into_response();
            no_store(response.headers_mut());
            with_cors(response)
        }
        Err(problem) => with_cors(problem.into_response()),
    }
}

/// A new pair of credentials, temporary or token (RFC 5849 §2.1, §2.3): the token and its secret,
/// sent to the client once, and the secret sealed under `context` for storage beside the token's
/// digest.
pub(crate) struct NewCredentials {
    pub token: String,
    pub secret: String,
    pub sealed: Vec<u8>,
}

impl NewCredentials {
    pub(crate) fn mint(state: &AppState, context: &str) -> Self {
        let token = alphanumeric(&*state.random, 24);
        let secret = alphanumeric(&*state.random, 48);
        let sealed = crypto::seal(&state.key.0, context, secret.as_bytes(), &*state.random);
        Self {
            token,
            secret,
            sealed,
        }
    }

    /// The form-encoded answer: `oauth_token`, `oauth_token_secret`, then `extra`.
    pub(crate) fn body(&self, extra: &[(&str, &str)]) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("oauth_token", &self.token)
            .append_pair("oauth_token_secret", &self.secret)
            .extend_pairs(extra)
            .finish()
    }
}
