//! `GET me/sites`, `GET sites/{site}` and its settings (oauth2.md §6), and what every blog endpoint shares:
//! finding the blog a path names and asking `domain::reach` whether the token reaches it.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::error::ApiError;
use super::principal::Principal;
use crate::domain::reach::{self, Target, Token};
use crate::domain::scope::Area;
use crate::domain::site_url::{self, BlogRef};
use crate::state::AppState;
use crate::store::Site;

/// The principal, or 403 `authorization_required` worded for blog endpoints.
pub(crate) fn require(principal: Option<Principal>) -> Result<Principal, ApiError> {
    principal.ok_or_else(|| {
        ApiError::authorization_required("An active access token must be used to access this blog.")
    })
}

/// The blog `{site}` names: a numeric ID, or a domain (with an optional path, written with `::`
/// for `/` as WordPress.com does: `example.com::blog`). Anything else is an unknown blog.
pub(crate) async fn find(state: &AppState, raw: &str) -> Result<Site, ApiError> {
    let raw = raw.replace("::", "/");
    let found = match site_url::parse_blog_param(&raw) {
        Ok(BlogRef::Id(id)) => state.store.site_by_id(id).await?,
        Ok(BlogRef::Url(key)) => state.store.site_by_url_key(&key).await?,
        Err(_) => None,
    };
    found.ok_or_else(ApiError::unknown_blog)
}

/// Refuses with 403 `unauthorized` (saying why) unless the token reaches `target`. Admin rights are
/// looked up now, on every request.
pub(crate) async fn check(
    state: &AppState,
    principal: &Principal,
    target: Target,
) -> Result<Vec<Site>, ApiError> {
    let administered = state.store.administered_sites(principal.user_id).await?;
    let token = Token {
        scope: &principal.scope,
        site_id: principal.site_id,
    };
    reach::decide(token, target, |id| administered.iter().any(|s| s.id == id))
        .map_err(|refusal| ApiError::unauthorized(refusal.message()))?;
    Ok(administered)
}

/// The principal and the blog `{site}` names, once the token reaches the `target` of that blog:
/// 403 without a token, 404 `unknown_blog`, 403 `unauthorized`, in that order.
pub(crate) async fn reached(
    state: &AppState,
    principal: Option<Principal>,
    raw: &str,
    target: impl FnOnce(&Site) -> Target,
) -> Result<(Principal, Site), ApiError> {
    let principal = require(principal)?;
    let site = find(state, raw).await?;
    check(state, &principal, target(&site)).await?;
    Ok((principal, site))
}

/// The blog's own site endpoints.
fn sites_of(site: &Site) -> Target {
    Target::Blog {
        site_id: site.id,
        area: Area::Sites,
    }
}

/// The site object of WordPress.com's REST API (the fields Latchkey has).
pub(crate) fn site_json(state: &AppState, site: &Site) -> Value {
    let base = state.settings.base_url();
    json!({
        "ID": site.id,
        "name": site.name,
        "description": "",
        "URL": site.url,
        "jetpack": site.is_jetpack,
        "visible": true,
        "is_private": false,
        "meta": {"links": {
            "self": format!("{base}/rest/v1.1/sites/{}", site.id),
            "posts": format!("{base}/rest/v1.1/sites/{}/posts", site.id),
        }},
    })
}

/// `GET me/sites`: every blog the user administers for `global`, the token's blog otherwise.
pub(crate) async fn my_sites(
    State(state): State<AppState>,
    principal: Option<Principal>,
) -> Result<Json<Value>, ApiError> {
    let principal = principal.ok_or_else(|| {
        ApiError::authorization_required(
            "An active access token must be used to query information about the current user.",
        )
    })?;
    let sites = reached_sites(&state, &principal).await?;
    Ok(Json(json!({ "sites": sites })))
}

/// The blogs the token reaches, as `me/sites` lists them (and the MCP `list_sites` tool): the reach
/// check of [`Target::MySites`] first.
pub(crate) async fn reached_sites(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<Value>, ApiError> {
    let administered = check(state, principal, Target::MySites).await?;
    let ids: Vec<i64> = administered.iter().map(|s| s.id).collect();
    let token = Token {
        scope: &principal.scope,
        site_id: principal.site_id,
    };
    let listed = reach::listed_sites(token, &ids);
    Ok(administered
        .iter()
        .filter(|s| listed.contains(&s.id))
        .map(|s| site_json(state, s))
        .collect())
}

/// `GET sites/{site}`.
pub(crate) async fn site(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    principal: Option<Principal>,
) -> Result<Json<Value>, ApiError> {
    let (_, site) = reached(&state, principal, &raw, sites_of).await?;
    Ok(Json(site_json(&state, &site)))
}

/// `GET sites/{site}/settings`: the few settings Latchkey keeps for a blog.
pub(crate) async fn settings(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    principal: Option<Principal>,
) -> Result<Json<Value>, ApiError> {
    let (_, site) = reached(&state, principal, &raw, sites_of).await?;
    Ok(Json(json!({
        "ID": site.id,
        "name": site.name,
        "description": "",
        "URL": site.url,
        "settings": {"blog_public": 1, "jetpack": site.is_jetpack},
    })))
}
