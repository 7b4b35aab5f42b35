//! OpenID Connect and discovery for the `/oauth2-1/` server (oauth21.md §1, §6): the signing keys
//! and their JWKS, the RFC 8414 / OIDC / RFC 9728 discovery documents, ID tokens (which the token
//! endpoint asks for) and UserInfo.

pub mod claims;
pub(crate) mod discovery;
mod error;
pub mod id_token;
pub(crate) mod jwks;
pub mod keys;
mod userinfo;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

/// The JWKS, the discovery documents and UserInfo.
pub(crate) fn routes() -> Router<AppState> {
    use discovery as d;
    Router::new()
        .route("/.well-known/jwks.json", get(jwks::jwks))
        .route(
            "/oauth2-1/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(d::authorization_server_metadata),
        )
        .route(
            "/.well-known/openid-configuration",
            get(d::openid_configuration_metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource",
            get(d::rest_protected_resource),
        )
        .route(
            "/.well-known/oauth-protected-resource/rest/v1",
            get(d::rest_protected_resource),
        )
}
