//! The REST API behind the tokens (oauth2.md §6): the same endpoints on `/rest/v1/…` and
//! `/rest/v1.1/…`. One extractor (`principal`) turns a request's credentials into the grant it
//! stands for; `domain::reach` decides what that grant may do.
//!
//! Areas (the named scope an endpoint needs, by what the scope's name says; the default grant and
//! `global` hold them all, `auth` none):
//!
//! | endpoint | area |
//! |---|---|
//! | `GET me` | none: every token |
//! | `GET me/sites` | `sites` |
//! | `GET sites/{site}`, `GET sites/{site}/settings` | `sites` |
//! | `GET sites/{site}/posts`, `GET sites/{site}/posts/{post_id}`, `POST sites/{site}/posts/new` | `posts` |
//! | `POST sites/{site}/posts/{id}/likes/new`, `POST sites/{site}/follows/new` | `follow` |
//! | `GET me/connected-applications`, `POST me/connected-applications/{app_id}/delete` | browser session only, never a token |
//!
//! Every route passes one layer (`layer`), whose steps are, outermost first: `options`
//! (`http_envelope`, `pretty`, `fields`), `error::challenge` (a 401 names the API's RFC 9728
//! metadata, oauth21.md §4), `edge` (the input rule on the path and query), `oauth1::authenticate`
//! (an OAuth1 signature, verified), `principal::resolve_once` (credentials, once) and `cors`
//! (browser origins).

pub(crate) mod connections;
pub(crate) mod cors;
pub(crate) mod edge;
pub(crate) mod error;
pub(crate) mod layer;
pub(crate) mod me;
pub(crate) mod oauth1;
pub(crate) mod options;
pub(crate) mod posts;
pub(crate) mod principal;
pub(crate) mod sites;
pub(crate) mod social;
pub(crate) mod wp;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

use crate::http::body::POST_BODY_LIMIT;
use crate::state::AppState;
use error::{ApiError, ErrorCode};

/// A request body over its route's limit.
pub(crate) fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::TooLarge,
        "The request body is too large.",
    )
}

/// The endpoints, relative to a version prefix.
fn endpoints() -> Router<AppState> {
    Router::new()
        .route("/me", get(me::me))
        .route("/me/", get(me::me))
        .route("/me/help", get(me::help))
        .route("/me/sites", get(sites::my_sites))
        .route("/me/connected-applications", get(connections::list))
        .route(
            "/me/connected-applications/{app_id}/delete",
            post(connections::delete),
        )
        .route("/sites/{site}", get(sites::site))
        .route("/sites/{site}/settings", get(sites::settings))
        .route("/sites/{site}/posts", get(posts::list))
        .route("/sites/{site}/posts/{post_id}", get(posts::read))
        .route(
            "/sites/{site}/posts/new",
            post(posts::create).layer(DefaultBodyLimit::max(POST_BODY_LIMIT)),
        )
        .route(
            "/sites/{site}/posts/{post_id}/likes/new",
            post(social::like),
        )
        .route("/sites/{site}/follows/new", post(social::follow))
        .fallback(options::unknown_endpoint)
        .method_not_allowed_fallback(options::method_not_allowed)
}

/// The REST routes, each under the one layer of its dialect ([`layer`]).
pub(crate) fn routes(state: AppState) -> Router<AppState> {
    let rest = Router::new()
        .nest("/rest/v1", endpoints())
        .nest("/rest/v1.1", endpoints())
        .layer(from_fn_with_state(state.clone(), layer::rest));
    let wp = Router::new()
        .route("/wp-json", get(wp::index))
        .route("/wp-json/", get(wp::index))
        .route("/wp-json/wp/v2/users/me", get(wp::users_me))
        .route(
            "/wp-json/wp/v2/posts",
            get(wp::posts)
                .post(wp::create_post)
                .layer(DefaultBodyLimit::max(POST_BODY_LIMIT)),
        )
        .route_layer(from_fn_with_state(state, layer::wp));
    rest.merge(wp)
}
