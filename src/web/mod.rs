//! Server-rendered HTML pages (askama): the home page, login and logout, the account security pages
//! (2-step authentication, application passwords, password change), the self-service pages
//! (applications manager, connected applications, sites, sign-up, playground, sharing `page`'s
//! frame), and the shared error page. Sessions and CSRF tokens live in `session`.

mod app_fields;
pub(crate) mod app_passwords;
pub(crate) mod app_secrets;
pub(crate) mod apps;
pub(crate) mod connections;
pub(crate) mod consent;
pub(crate) mod error;
pub(crate) mod flash;
pub(crate) mod home;
pub(crate) mod icons;
pub(crate) mod login;
pub(crate) mod page;
pub(crate) mod playground;
pub(crate) mod redirect;
pub(crate) mod second_step;
pub(crate) mod security;
pub mod session;
pub(crate) mod signup;
pub(crate) mod sites;
pub(crate) mod two_step;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;
use app_secrets::Which;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", axum::routing::any(home::root))
        .route("/static/style.css", get(home::stylesheet))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", axum::routing::post(login::logout))
        .merge(security_routes())
        .merge(self_service())
}

/// `/me/security` and the login's second step (2-step authentication, application passwords).
fn security_routes() -> Router<AppState> {
    use axum::routing::post;
    Router::new()
        .route(
            "/login/two-step",
            get(second_step::form).post(second_step::submit),
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

/// The self-service pages: every one needs a login, except sign-up.
fn self_service() -> Router<AppState> {
    use axum::routing::post;
    Router::new()
        .route("/apps", get(apps::list))
        .route("/apps/new", get(apps::new_form).post(apps::create))
        .route("/apps/{client_id}", get(apps::show))
        .route(
            "/apps/{client_id}/edit",
            get(apps::edit_form).post(apps::update),
        )
        .route(
            "/apps/{client_id}/reset-secret",
            app_secrets::routes(Which::Client),
        )
        .route(
            "/apps/{client_id}/regenerate-consumer-secret",
            app_secrets::routes(Which::Consumer),
        )
        .route("/apps/{client_id}/icon", get(icons::serve))
        .route(
            "/apps/{client_id}/delete",
            get(apps::confirm_delete).post(apps::delete),
        )
        .route(
            "/me/security/connected-applications",
            get(connections::list),
        )
        .route(
            "/me/security/connected-applications/{app_id}/disconnect",
            post(connections::disconnect),
        )
        .route("/sites", get(sites::list).post(sites::create))
        .route("/sites/{site_id}", get(sites::show))
        .route("/sites/{site_id}/members", post(sites::add_member))
        .route(
            "/sites/{site_id}/members/{user_id}/remove",
            post(sites::remove_member),
        )
        .route("/signup", get(signup::form).post(signup::submit))
        .merge(playground::routes())
}
