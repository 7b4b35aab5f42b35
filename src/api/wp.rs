//! The WordPress REST API surface under `/wp-json/` (`spec/oauth1.md` §2, §6): the index with its
//! `authentication.oauth1` entry (discovery), and `GET /wp-json/wp/v2/users/me`. Authenticated by an
//! OAuth1 signature (the `oauth1::rest` layer) or an OAuth2 bearer, through the same `Principal`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::principal::Principal;
use crate::state::AppState;

/// `GET /wp-json/` and `/?rest_route=/`: the REST index.
pub async fn index(State(state): State<AppState>) -> Json<Value> {
    Json(index_body(&state))
}

pub fn index_body(state: &AppState) -> Value {
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
        },
    })
}

/// The WordPress error shape, `{"code","message","data":{"status"}}`.
pub fn wp_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"code": code, "message": message, "data": {"status": status.as_u16()}});
    (status, Json(body)).into_response()
}

/// `GET /wp-json/wp/v2/users/me`: the user the credentials stand for, in the `view` context.
pub async fn users_me(State(state): State<AppState>, principal: Option<Principal>) -> Response {
    let Some(principal) = principal else {
        return wp_error(
            StatusCode::UNAUTHORIZED,
            "rest_not_logged_in",
            "You are not currently logged in.",
        );
    };
    let (user, site) = match (
        state.store.user_by_id(principal.user_id).await,
        match principal.site_id {
            Some(id) => state.store.site_by_id(id).await,
            None => Ok(None),
        },
    ) {
        (Ok(Some(user)), Ok(site)) => (user, site),
        (Ok(None), _) => {
            return wp_error(
                StatusCode::UNAUTHORIZED,
                "rest_not_logged_in",
                "You are not currently logged in.",
            );
        }
        (Err(e), _) | (_, Err(e)) => return super::error::ApiError::from(e).into_response(),
    };
    let email_hash = hex::encode(Sha256::digest(user.email.trim().to_lowercase().as_bytes()));
    let avatar =
        |size: u32| format!("https://secure.gravatar.com/avatar/{email_hash}?s={size}&d=mm&r=g");
    let home = site.map_or_else(|| state.settings.base_url(), |s| s.url);
    Json(json!({
        "id": user.id,
        "name": user.display_name,
        "url": "",
        "description": "",
        "link": format!("{}/author/{}/", home.trim_end_matches('/'), user.username),
        "slug": user.username,
        "avatar_urls": {"24": avatar(24), "48": avatar(48), "96": avatar(96)},
    }))
    .into_response()
}
