//! The home page (with the WordPress `?rest_route=` and `?rest_oauth1=` aliases) and the stylesheet.

use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::page::Nav;
use super::session::SessionUser;
use crate::state::AppState;

/// The home page: for a logged-in user, the navigation and a way to every self-service page; for
/// a visitor, the way to log in (and to sign up, when it is on).
#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
pub(crate) struct HomePage {
    nav: Option<Nav>,
    display_name: String,
    signup_enabled: bool,
    login_query: &'static str,
    public_current: &'static str,
}

fn home_page(state: &AppState, session: Option<SessionUser>) -> HomePage {
    HomePage {
        display_name: session
            .as_ref()
            .map(|s| s.user.display_name.clone())
            .unwrap_or_default(),
        nav: session.map(|s| Nav::of(state, &s, "home")),
        signup_enabled: state.settings.signup,
        login_query: "",
        public_current: "",
    }
}

/// `/`: the home page, or, as WordPress does for sites without pretty links, the REST index
/// (`?rest_route=/`) and the OAuth1 endpoints (`?rest_oauth1=request|authorize|access`).
pub(crate) async fn root(
    State(state): State<AppState>,
    session: Option<SessionUser>,
    request: Request,
) -> Response {
    let query = request.uri().query().unwrap_or("");
    let find = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if let Some(which) = find("rest_oauth1") {
        return crate::oauth1::alias(state, &which, request).await;
    }
    if let Some(route) = find("rest_route") {
        return match route.trim_end_matches('/') {
            "" => Json(crate::api::wp::index_body(&state)).into_response(),
            _ => crate::api::wp::wp_error(
                StatusCode::NOT_FOUND,
                "rest_no_route",
                "No route was found matching the URL and request method.",
            ),
        };
    }
    match *request.method() {
        Method::GET | Method::HEAD => home_page(&state, session).into_response(),
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

pub(crate) async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/style.css"),
    )
}
