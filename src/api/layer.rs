//! The one layer of the REST routes, composed as plain steps (one `from_fn` per dialect instead of
//! one per step: each `from_fn` cost every request a service clone and a boxed future). A request
//! passes, outermost first:
//!
//! 1. `options` (`/rest/…` only): notes `http_envelope`, `pretty` and `fields`, applied to the
//!    finished answer;
//! 2. `error::challenge`: a 401 with a Bearer challenge names the API's RFC 9728 metadata;
//! 3. `edge::check`: the input rule on the path and query, refused in the dialect of the route;
//! 4. `oauth1::authenticate`: an OAuth1 signature, verified, becomes a `Principal`;
//! 5. `principal::resolve_once`: the credentials, resolved once (a form body kept);
//! 6. `cors` (`/rest/…` only): the origin rule, which needs the token's app;
//!
//! and then the handler.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{self, ApiError, ErrorCode};
use super::{cors, edge, oauth1, options, principal};
use crate::state::AppState;

/// `/rest/v1(.1)/…`.
pub(crate) async fn rest(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let requested = options::Requested::of(&request);
    let response = match edge::check(request.uri()) {
        Err(message) => {
            ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, message).into_response()
        }
        Ok(()) => match credentials(&state, request).await {
            Err(refused) => refused,
            Ok(request) => match cors::Asked::of(&request).check(&state).await {
                Err(answer) => answer,
                Ok(cors) => {
                    let mut response = if cors.refuses() {
                        cors.refusal()
                    } else {
                        next.run(request).await
                    };
                    cors.decorate(response.headers_mut());
                    response
                }
            },
        },
    };
    requested.apply(error::challenge(&state, response)).await
}

/// `/wp-json/…`: WordPress's error shape, no query options, no CORS.
pub(crate) async fn wp(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = match edge::check(request.uri()) {
        Err(message) => {
            super::wp::wp_error(StatusCode::BAD_REQUEST, "rest_invalid_param", &message)
        }
        Ok(()) => match credentials(&state, request).await {
            Err(refused) => refused,
            Ok(request) => next.run(request).await,
        },
    };
    error::challenge(&state, response)
}

/// Steps 4 and 5: the request with its credentials resolved, or their refusal.
async fn credentials(state: &AppState, request: Request) -> Result<Request, Response> {
    let request = oauth1::authenticate(state, request).await?;
    principal::resolve_once(state, request).await
}
