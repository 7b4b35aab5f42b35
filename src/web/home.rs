//! The home page and the stylesheet.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::header;
use axum::response::IntoResponse;

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
pub struct HomePage;

pub async fn index() -> HomePage {
    HomePage
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
