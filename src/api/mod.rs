//! The REST API behind the tokens: `/rest/v1/…` and `/rest/v1.1/…`. One extractor (`principal`)
//! turns a request's credentials into the grant it stands for.

pub mod error;
pub mod me;
pub mod principal;
pub mod wp;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/rest/v1/me", get(me::me))
        .route("/rest/v1/me/", get(me::me))
        .route("/rest/v1.1/me", get(me::me))
        .route("/rest/v1.1/me/", get(me::me))
        .route("/wp-json", get(wp::index))
        .route("/wp-json/", get(wp::index))
        .route("/wp-json/wp/v2/users/me", get(wp::users_me))
}
