//! Server-rendered HTML pages (askama): the home page, login and logout, and the shared error page.
//! Sessions and CSRF tokens live in `session`.

pub mod error;
pub mod home;
pub mod login;
pub mod session;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", axum::routing::any(home::root))
        .route("/static/style.css", get(home::stylesheet))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", axum::routing::post(login::logout))
}
