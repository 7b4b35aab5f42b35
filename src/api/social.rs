//! Likes and follows (oauth2.md §6): the endpoints a single-blog token may use on any blog, not
//! only its own. Both need the `follow` area.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::error::ApiError;
use super::posts::unknown_post;
use super::principal::Principal;
use super::sites::reached;
use crate::domain::reach::Target;
use crate::domain::scope::Area;
use crate::state::AppState;
use crate::store::PostStatus;

const TARGET: Target = Target::AnyBlog { area: Area::Follow };

/// `POST sites/{site}/posts/{post_id}/likes/new`: the token's user likes a published post.
pub(crate) async fn like(
    State(state): State<AppState>,
    Path((raw, post_id)): Path<(String, String)>,
    principal: Option<Principal>,
) -> Result<Json<Value>, ApiError> {
    let (principal, site) = reached(&state, principal, &raw, |_| TARGET).await?;
    let post_id: i64 = post_id.parse().map_err(|_| unknown_post())?;
    let post = state
        .store
        .post(site.id, post_id, principal.user_id)
        .await?
        .filter(|p| p.status == PostStatus::Publish)
        .ok_or_else(unknown_post)?;
    let mut tx = state.store.begin();
    let like_count = tx
        .like_post(principal.user_id, post.id, state.now())
        .await?;
    tx.commit().await?;
    Ok(Json(json!({
        "success": true,
        "i_like": true,
        "like_count": like_count,
    })))
}

/// `POST sites/{site}/follows/new`: the token's user follows the blog.
pub(crate) async fn follow(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    principal: Option<Principal>,
) -> Result<Json<Value>, ApiError> {
    let (principal, site) = reached(&state, principal, &raw, |_| TARGET).await?;
    let mut tx = state.store.begin();
    tx.follow_site(principal.user_id, site.id, state.now())
        .await?;
    tx.commit().await?;
    Ok(Json(json!({ "success": true, "is_following": true })))
}
