//! The OAuth2 endpoints in the WordPress.com dialect (oauth2.md): authorize and authenticate (with
//! login and consent), the token endpoint, and token-info.

pub(crate) mod authorize;
pub(crate) mod authorize_pages;
pub(crate) mod authorize_request;
pub(crate) mod body;
pub(crate) mod client_auth;
pub(crate) mod decision;
pub(crate) mod error;
pub(crate) mod token;
pub(crate) mod token_info;
pub mod tokens;

use axum::Router;
use axum::routing::{get, post};

use self::authorize_request::AuthzRequest;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/oauth2/authorize",
            get(authorize::get_authorize).post(decision::post::<AuthzRequest>),
        )
        .route("/oauth2/authenticate", get(authorize::get_authenticate))
        .route("/oauth2/token", post(token::token))
        .route("/oauth2/token-info", get(token_info::token_info))
        .route("/oauth/token-info", get(token_info::token_info))
}
