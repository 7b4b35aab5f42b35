//! The home page and the stylesheet.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::session::{self, SessionUser};
use crate::state::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
pub struct HomePage {
    /// The logged-in user's name and the logout form's CSRF token.
    user: Option<(String, String)>,
}

pub async fn index(State(state): State<AppState>, session: Option<SessionUser>) -> HomePage {
    HomePage {
        user: session.map(|s| {
            let csrf = session::csrf_token(&state, &s, "logout");
            (s.user.display_name, csrf)
        }),
    }
}

pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/style.css"),
    )
}
