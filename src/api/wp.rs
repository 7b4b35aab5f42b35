//! The WordPress REST API surface under `/wp-json/` (`spec/oauth1.md` §2, §6): the index with its
//! `authentication.oauth1` entry (discovery), and `GET /wp-json/wp/v2/users/me`. Authenticated by an
//! OAuth1 signature (the `api::oauth1` layer) or an OAuth2 bearer, through the same `Principal`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ApiError;
use super::principal::Principal;
use crate::domain::clock::iso8601;
use crate::http::params::Params;
use crate::state::AppState;
use crate::store::{Post, Site};

/// `GET /wp-json/` and `/?rest_route=/`: the REST index.
pub(crate) async fn index(State(state): State<AppState>) -> Json<Value> {
    Json(index_body(&state))
}

pub(crate) fn index_body(state: &AppState) -> Value {
    let base = state.settings.base_url();
    let get_route = |namespace: &str| {
        json!({
            "namespace": namespace,
            "methods": ["GET"],
            "endpoints": [{"methods": ["GET"], "args": {}}],
        })
    };
    json!({
        "name": "Latchkey",
        "description": "An authorization server speaking the WordPress.com OAuth2 and WP REST API OAuth 1.0a dialects",
        "url": base,
        "home": base,
        "namespaces": ["wp/v2"],
        "authentication": {
            "oauth1": {
                "request": format!("{base}/oauth1/request"),
                "authorize": format!("{base}/oauth1/authorize"),
                "access": format!("{base}/oauth1/access"),
                "version": "0.1",
            }
        },
        "routes": {
            "/": get_route(""),
            "/wp/v2/users/me": get_route("wp/v2"),
            "/wp/v2/posts": {
                "namespace": "wp/v2",
                "methods": ["GET", "POST"],
                "endpoints": [{"methods": ["GET"], "args": {}}, {"methods": ["POST"], "args": {}}],
            },
        },
    })
}

/// The WordPress error shape, `{"code","message","data":{"status"}}`.
pub(crate) fn wp_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"code": code, "message": message, "data": {"status": status.as_u16()}});
    (status, Json(body)).into_response()
}

/// `GET /wp-json/wp/v2/users/me`: the user the credentials stand for, in the `view` context.
pub(crate) async fn users_me(
    State(state): State<AppState>,
    principal: Option<Principal>,
) -> Response {
    let Some(principal) = principal else {
        return wp_error(
            StatusCode::UNAUTHORIZED,
            "rest_not_logged_in",
            "You are not currently logged in.",
        );
    };
    let profile = match state.store.profile(principal.user_id).await {
        Ok(Some(profile)) => profile,
        Ok(None) => {
            return wp_error(
                StatusCode::UNAUTHORIZED,
                "rest_not_logged_in",
                "You are not currently logged in.",
            );
        }
        Err(e) => return super::error::ApiError::from(e).into_response(),
    };
    // The token's blog is usually one of the user's sites; one that is no longer is read afresh.
    let member_of = principal.site_id.and_then(|id| {
        profile
            .memberships
            .iter()
            .find(|m| m.site.id == id)
            .map(|m| m.site.url.clone())
    });
    let site_url = match (principal.site_id, member_of) {
        (_, Some(url)) => Some(url),
        (Some(id), None) => match state.store.site_by_id(id).await {
            Ok(site) => site.map(|s| s.url),
            Err(e) => return super::error::ApiError::from(e).into_response(),
        },
        (None, None) => None,
    };
    let email_hash = &profile.email_hash;
    let avatar =
        |size: u32| format!("https://secure.gravatar.com/avatar/{email_hash}?s={size}&d=mm&r=g");
    let home = site_url.unwrap_or_else(|| state.settings.base_url().to_owned());
    Json(json!({
        "id": profile.user_id,
        "name": profile.display_name,
        "url": "",
        "description": "",
        "link": format!("{}/author/{}/", home.trim_end_matches('/'), profile.username),
        "slug": profile.username,
        "avatar_urls": {"24": avatar(24), "48": avatar(48), "96": avatar(96)},
    }))
    .into_response()
}

/// A REST error rendered in the WordPress shape, code and message kept.
fn wp_from(err: ApiError) -> Response {
    wp_error(err.status, err.error.as_str(), &err.message)
}

/// The blog of the token: `/wp-json/` speaks for one site, so only single-blog grants (every
/// OAuth1 access token among them) have posts here.
async fn token_site(
    state: &AppState,
    principal: Option<Principal>,
) -> Result<(Principal, Site), Response> {
    let Some(principal) = principal else {
        return Err(wp_error(
            StatusCode::UNAUTHORIZED,
            "rest_not_logged_in",
            "You are not currently logged in.",
        ));
    };
    let Some(site_id) = principal.site_id else {
        return Err(wp_error(
            StatusCode::FORBIDDEN,
            "rest_forbidden",
            "This token is not bound to one site; use /rest/v1.1/sites/{site}/posts instead.",
        ));
    };
    match state.store.site_by_id(site_id).await {
        Ok(Some(site)) => Ok((principal, site)),
        Ok(None) => Err(wp_error(
            StatusCode::NOT_FOUND,
            "rest_site_invalid",
            "Unknown site.",
        )),
        Err(e) => Err(wp_from(e.into())),
    }
}

/// The WP REST API `post` object (`view` context), for the fields Latchkey has.
fn wp_post(site: &Site, post: &Post) -> Value {
    let date = iso8601(post.created_at);
    let local = date.trim_end_matches("+00:00");
    json!({
        "id": post.id,
        "date": local,
        "date_gmt": local,
        "modified": local,
        "modified_gmt": local,
        "status": post.status,
        "type": "post",
        "link": format!("{}/?p={}", site.url.trim_end_matches('/'), post.id),
        "title": {"rendered": post.title},
        "content": {"rendered": post.content, "protected": false},
        "author": post.author_id,
    })
}

/// `GET /wp-json/wp/v2/posts`: the token's blog's posts, newest first (`per_page`, `page`,
/// `offset`, `status`); `X-WP-Total` carries the count.
pub(crate) async fn posts(
    State(state): State<AppState>,
    principal: Option<Principal>,
    RawQuery(query): RawQuery,
) -> Response {
    let (principal, site) = match token_site(&state, principal).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let params = match Params::decode(query.unwrap_or_default().as_bytes()) {
        Ok(params) => params,
        Err(m) => return wp_from(super::posts::invalid_input(m.to_string())),
    };
    match super::posts::page_of(&state, &principal, &site, &params).await {
        Ok(page) => {
            let list: Vec<Value> = page.posts.iter().map(|p| wp_post(&site, p)).collect();
            let mut response = Json(list).into_response();
            response
                .headers_mut()
                .insert("x-wp-total", HeaderValue::from(page.found));
            response
        }
        Err(e) => wp_from(e),
    }
}

/// `POST /wp-json/wp/v2/posts`: creates a post on the token's blog (JSON, form or multipart).
pub(crate) async fn create_post(
    State(state): State<AppState>,
    principal: Option<Principal>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (principal, site) = match token_site(&state, principal).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match super::posts::store_new(&state, &principal, &site, &headers, body).await {
        Ok(post) => (StatusCode::CREATED, Json(wp_post(&site, &post))).into_response(),
        Err(e) => wp_from(e),
    }
}
