//! Server-rendered HTML pages (askama): the home page, login and logout, the account security pages
//! (2-step authentication, application passwords, password change), and the shared error page.
//! Sessions and CSRF tokens live in `session`.

pub mod app_passwords;
pub mod error;
pub mod home;
pub mod login;
pub mod security;
pub mod session;
pub mod two_step;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", axum::routing::any(home::root))
        .route("/static/style.css", get(home::stylesheet))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", axum::routing::post(login::logout))
        .merge(security_routes())
}

/// `/me/security` and the login's second step (2-step authentication, application passwords).
fn security_routes() -> Router<AppState> {
    use axum::routing::post;
    Router::new()
        .route(
            "/login/two-step",
            get(two_step::second_step_get).post(two_step::second_step),
        )
        .route("/me/security", get(security::show))
        .route("/me/security/password", post(security::change_password))
        .route("/me/security/two-step", get(two_step::show))
        .route("/me/security/two-step/enable", post(two_step::enable))
        .route("/me/security/two-step/disable", post(two_step::disable))
        .route(
            "/me/security/application-passwords",
            get(app_passwords::show).post(app_passwords::create),
        )
        .route(
            "/me/security/application-passwords/{id}/revoke",
            post(app_passwords::revoke),
        )
}
