//! The OAuth 2.1 / OpenID Connect server under `/oauth2-1/` (`../shared/spec/oauth21.md`), beside
//! the legacy WordPress.com pair of `oauth2`. It shares that dialect's users, apps, grants, consent
//! page and validation cache: disconnecting an app ends its tokens of both dialects at once.

mod authorize;
pub(crate) mod authorize_request;
mod client_auth;
pub(crate) mod introspect;
mod presented;
mod revoke;
mod token;

use axum::Router;
use axum::routing::{get, post};

use self::authorize_request::Request21;
use crate::oauth2::decision;
use crate::state::AppState;

pub(crate) mod register;

pub use register::{ResolveError, ResolvedClient, resolve_client};

/// The routes of the 2.1 server and its discovery documents.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        // RFC 7009 and RFC 7662, with their legacy-path aliases (oauth2.md §1). POST only: the
        // legacy `GET /oauth2/token-info` is `oauth2::token_info`, untouched.
        .route("/oauth2-1/revoke", post(revoke::revoke))
        .route("/oauth2/revoke", post(revoke::revoke))
        .route("/oauth2-1/token-info", post(introspect::introspect))
        .route("/oauth2/introspect", post(introspect::introspect))
        .route("/oauth2-1/register", post(register::register))
        .route(
            "/oauth2-1/register/{client_id}",
            get(register::read)
                .put(register::update)
                .delete(register::delete),
        )
        .route(
            "/oauth2-1/authorize",
            get(authorize::get_authorize).post(decision::post::<Request21>),
        )
        .route("/oauth2-1/token", post(token::token))
}
