//! The playground (`/playground`): a built-in demo client that runs, against this very server, the
//! code flow (with PKCE), the implicit flow, the password grant, token-info and `/rest/v1.1/me`,
//! and the OAuth 1.0a flow, and shows each request and response. One file per flow:
//!
//! - `oauth2_start`: `POST /playground/start`, which sends the browser to `/oauth2/authorize` for
//!   the code or the implicit flow;
//! - `oauth2_code`: `GET /playground/callback`, the code flow's way back, and its token exchange;
//! - `oauth2_implicit`: the implicit flow's way back, whose token is in the URL fragment;
//! - `password`: the password grant; `token_check`: token-info and `/me` for a pasted token;
//! - `oauth1`: the OAuth 1.0a flow, start and callback;
//! - `oauth21`: the OAuth 2.1 / OpenID Connect code flow (PKCE, `openid`, the ID token verified
//!   against the JWKS by `id_token`) and its refresh, which shows the rotation.
//!
//! Below them, and used by them: `page` (the pages they share), `oauth2` (the OAuth2 calls several
//! flows make), `clients` (which clients the viewer may act as), `flow` (the cookie that carries a
//! flow between the browser's leaving and its coming back) and `call` (how the calls are made and
//! recorded).
//!
//! It acts as the demo app seeded by `serve --demo` (whose secret it keeps server-side, see
//! `state::PlaygroundClient`) or as one of the user's own apps that registers
//! `<public URL>/playground/callback`; for those, the user pastes the client secret, which travels
//! only inside the encrypted, HttpOnly flow cookie for the length of the flow.

mod call;
mod clients;
mod flow;
mod id_token;
mod oauth1;
mod oauth2;
mod oauth21;
mod oauth2_code;
mod oauth2_implicit;
mod oauth2_start;
mod page;
mod password;
mod token_check;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// Every playground route; each needs a login (the `Viewer` extractor).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/playground", get(page::index))
        .route("/playground/start", post(oauth2_start::start))
        .route("/playground/callback", get(oauth2_code::callback))
        .route("/playground/implicit", post(oauth2_implicit::implicit))
        .route("/playground/password", post(password::password))
        .route("/playground/token", post(token_check::inspect_token))
        .route("/playground/oauth1/start", post(oauth1::start))
        .route("/playground/oauth21/start", post(oauth21::start))
        .route("/playground/oauth21/refresh", post(oauth21::refresh))
        .route("/playground/oauth1/callback", get(oauth1::callback))
}
