//! Latchkey: a standalone authorization server speaking the WordPress.com OAuth2 dialect and the
//! WP REST API OAuth 1.0a dialect.
//!
//! Data flows one way: HTTP (`oauth2`, `oauth1`, `api`, `web`) → credential services (`auth`) →
//! pure rules (`domain`) → storage (`store`), and back. [`router`] builds every route; `server::app` adds the layers; `main`,
//! the tests and the benchmark all serve the same thing.

pub mod admin;
mod api;
mod audit;
mod auth;
mod blocking;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
mod http;
mod jobs;
mod keycheck;
mod mcp;
mod metrics;
pub mod oauth1;
pub mod oauth2;
mod oauth21;
/// The one resolver of 2.1 `client_id`s (numeric, or a Client ID Metadata Document URL).
pub use oauth21::{ResolveError, ResolvedClient, resolve_client};
pub mod oidc;
mod ops;
pub mod server;
mod state;
pub mod store;
mod telemetry;
pub mod web;

use axum::Router;

pub use state::AppState;

/// Every route of the server, without the outer layers (see `server::app`).
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(ops::routes())
        .merge(web::routes())
        .merge(oauth2::routes())
        .merge(oauth21::routes())
        .merge(oidc::routes())
        .merge(oauth1::routes())
        .merge(api::routes(state.clone()))
        .merge(mcp::routes(&state))
        .fallback(server::fallback::not_found)
        .method_not_allowed_fallback(server::fallback::method_not_allowed)
        .merge(http::observe::routes(&state))
        .with_state(state)
}
