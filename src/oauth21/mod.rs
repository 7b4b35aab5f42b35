//! The OAuth 2.1 / OpenID Connect server under `/oauth2-1/` (`../shared/spec/oauth21.md`), beside
//! the legacy WordPress.com pair of `oauth2`. It shares that dialect's users, apps, grants, consent
//! page and validation cache: disconnecting an app ends its tokens of both dialects at once.

mod authorize;
pub(crate) mod authorize_request;
mod token;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// The routes of the 2.1 server and its discovery documents.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/oauth2-1/authorize",
            get(authorize::get_authorize).post(authorize::post_authorize),
        )
        .route("/oauth2-1/token", post(token::token))
}
