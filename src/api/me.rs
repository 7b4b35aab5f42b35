//! `GET /rest/v1/me` and `/rest/v1.1/me` (oauth2.md §6): the current user, as every token may see.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::clock::iso8601;
use serde_json::Value;

use super::error::ApiError;
use super::principal::Principal;
use crate::domain::scope::Scope;
use crate::state::AppState;
use crate::store::Role;
use crate::store::cache::Profile;
use std::sync::Arc;

pub(crate) const NO_TOKEN_FOR_ME: &str =
    "An active access token must be used to query information about the current user.";

/// The body of `/me`, borrowed from the cached profile; fields in WordPress.com's order.
#[derive(Serialize)]
struct Me<'a> {
    #[serde(rename = "ID")]
    id: i64,
    display_name: &'a str,
    username: &'a str,
    email: &'a str,
    primary_blog: i64,
    primary_blog_url: &'a str,
    primary_blog_is_jetpack: bool,
    language: &'a str,
    /// The blog of a single-blog token, else `false`.
    token_site_id: Value,
    token_scope: Vec<String>,
    #[serde(rename = "avatar_URL")]
    avatar_url: String,
    #[serde(rename = "profile_URL")]
    profile_url: String,
    verified: bool,
    email_verified: bool,
    date: String,
    site_count: usize,
    visible_site_count: usize,
    meta: Meta,
}

#[derive(Serialize)]
struct Meta {
    links: Links,
}

#[derive(Serialize)]
struct Links {
    #[serde(rename = "self")]
    this: String,
    help: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    site: Option<String>,
}

pub(crate) async fn me(
    State(state): State<AppState>,
    principal: Option<Principal>,
) -> Result<Response, ApiError> {
    let principal = principal.ok_or_else(|| ApiError::authorization_required(NO_TOKEN_FOR_ME))?;
    let profile = profile_of(&state, &principal).await?;
    let base = state.settings.base_url();
    Ok(Json(me_body(&profile, &principal, base)).into_response())
}

/// The `/me` object as a JSON value (the MCP endpoint's `get_profile` tool).
pub(crate) async fn me_value(state: &AppState, principal: &Principal) -> Result<Value, ApiError> {
    let profile = profile_of(state, principal).await?;
    let base = state.settings.base_url();
    serde_json::to_value(me_body(&profile, principal, base)).map_err(|_| ApiError::invalid_token())
}

async fn profile_of(state: &AppState, principal: &Principal) -> Result<Arc<Profile>, ApiError> {
    state
        .store
        .profile(principal.user_id)
        .await?
        .ok_or_else(ApiError::invalid_token)
}

fn me_body<'a>(profile: &'a Profile, principal: &Principal, base: &str) -> Me<'a> {
    let primary = profile
        .memberships
        .iter()
        .find(|m| m.role == Role::Administrator)
        .map(|m| &m.site);
    let token_site_id = match principal.scope {
        Scope::Blog(_) => principal
            .site_id
            .map(Value::from)
            .unwrap_or(Value::Bool(false)),
        Scope::Global | Scope::Auth => Value::Bool(false),
    };
    let hash = &profile.email_hash;
    Me {
        id: profile.user_id,
        display_name: &profile.display_name,
        username: &profile.username,
        email: &profile.email,
        primary_blog: primary.map_or(0, |s| s.id),
        primary_blog_url: primary.map_or("", |s| s.url.as_str()),
        primary_blog_is_jetpack: primary.is_some_and(|s| s.is_jetpack),
        language: &profile.language,
        token_site_id,
        token_scope: principal.scope.token_scope(),
        avatar_url: format!("https://gravatar.com/avatar/{hash}?s=96&d=identicon"),
        profile_url: format!("https://gravatar.com/{hash}"),
        verified: true,
        email_verified: false,
        date: iso8601(profile.created_at),
        site_count: profile.memberships.len(),
        visible_site_count: profile.memberships.len(),
        meta: Meta {
            links: Links {
                this: format!("{base}/rest/v1.1/me"),
                help: format!("{base}/rest/v1.1/me/help"),
                site: primary.map(|site| format!("{base}/rest/v1.1/sites/{}", site.id)),
            },
        },
    }
}

/// `GET /rest/v1(.1)/me/help`, where `/me`'s `meta.links.help` points: the endpoint's description
/// in WordPress.com's help shape. Anyone may read it.
pub(crate) async fn help(State(state): State<AppState>) -> Json<Value> {
    let base = state.settings.base_url();
    Json(serde_json::json!({
        "description": "Meta data about the current user: the user the access token was issued \
                        for, and what the token may reach.",
        "group": "me",
        "method": "GET",
        "path": "/me",
        "request": {
            "headers": {"Authorization": "(string) Bearer <access token>, required"},
            "query": {
                "pretty": "(bool) Output pretty JSON",
                "fields": "(string) Comma-separated list of fields to return",
                "http_envelope": "(bool) Always answer HTTP 200, the status in the body",
            },
        },
        "response": {
            "ID": "(int) The user's ID",
            "display_name": "(string) The name shown for the user",
            "username": "(string) The login name",
            "email": "(string) The email address",
            "primary_blog": "(int) The first site the user administers, 0 if none",
            "primary_blog_url": "(string) That site's URL",
            "primary_blog_is_jetpack": "(bool) Whether that site is a Jetpack site",
            "language": "(string) The user's language",
            "token_site_id": "(int|false) The site of a single-site token, false for global and auth tokens",
            "token_scope": "(array) The token's scopes: empty for full access to one site",
            "avatar_URL": "(url) The user's avatar",
            "profile_URL": "(url) The user's profile",
            "verified": "(bool) Whether the account is verified",
            "email_verified": "(bool) Whether the email address is verified",
            "date": "(iso 8601 datetime) When the account was created",
            "site_count": "(int) How many sites the user belongs to",
            "visible_site_count": "(int) How many of them are visible",
            "meta": "(object) Links to this endpoint, this help and the primary site",
        },
        "example_request": format!("curl -H 'Authorization: Bearer $TOKEN' {base}/rest/v1.1/me"),
    }))
}
