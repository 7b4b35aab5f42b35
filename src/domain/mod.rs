//! Pure protocol rules: no axum, no sqlx. Everything here is a plain function over plain types, so it
//! is tested without a server or a database.

pub mod app;
pub mod client_metadata;
pub mod clock;
pub mod crypto;
pub mod input;
pub mod password;
pub mod pkce;
pub mod random;
pub mod reach;
pub mod redirect_uri;
pub mod resource;
pub mod scope;
pub mod secret;
pub mod signing_key;
pub mod site_url;
pub mod two_step;
