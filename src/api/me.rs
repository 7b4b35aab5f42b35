//! `GET /rest/v1/me` and `/rest/v1.1/me` (oauth2.md §6): the current user, as every token may see.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::principal::Principal;
use crate::domain::scope::Scope;
use crate::state::AppState;

pub const NO_TOKEN_FOR_ME: &str =
    "An active access token must be used to query information about the current user.";

/// ISO 8601 with an explicit offset, as WordPress.com writes dates (`2019-06-03T15:57:15+00:00`).
pub fn iso8601(unix: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+00:00");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

pub async fn me(
    State(state): State<AppState>,
    principal: Option<Principal>,
) -> Result<Json<Value>, ApiError> {
    let principal = principal.ok_or_else(|| ApiError::authorization_required(NO_TOKEN_FOR_ME))?;
    let user = state
        .store
        .user_by_id(principal.user_id)
        .await?
        .ok_or_else(ApiError::invalid_token)?;
    let memberships = state.store.memberships(user.id).await?;
    let primary = memberships
        .iter()
        .find(|m| m.role == "administrator")
        .map(|m| &m.site);
    let base = state.settings.base_url();
    let email_hash = hex::encode(Sha256::digest(user.email.trim().to_lowercase().as_bytes()));
    let token_site_id = match principal.scope {
        Scope::Blog(_) => principal
            .site_id
            .map(Value::from)
            .unwrap_or(Value::Bool(false)),
        Scope::Global | Scope::Auth => Value::Bool(false),
    };
    let mut links = json!({
        "self": format!("{base}/rest/v1.1/me"),
        "help": format!("{base}/rest/v1.1/me/help"),
    });
    if let Some(site) = primary {
        links["site"] = json!(format!("{base}/rest/v1.1/sites/{}", site.id));
    }
    Ok(Json(json!({
        "ID": user.id,
        "display_name": user.display_name,
        "username": user.username,
        "email": user.email,
        "primary_blog": primary.map(|s| s.id).unwrap_or(0),
        "primary_blog_url": primary.map(|s| s.url.as_str()).unwrap_or(""),
        "primary_blog_is_jetpack": primary.is_some_and(|s| s.is_jetpack),
        "language": user.language,
        "token_site_id": token_site_id,
        "token_scope": principal.scope.token_scope(),
        "avatar_URL": format!("https://gravatar.com/avatar/{email_hash}?s=96&d=identicon"),
        "profile_URL": format!("https://gravatar.com/{email_hash}"),
        "verified": true,
        "email_verified": false,
        "date": iso8601(user.created_at),
        "site_count": memberships.len(),
        "visible_site_count": memberships.len(),
        "meta": {"links": links},
    })))
}
