//! `GET sites/{site}/posts`, `GET sites/{site}/posts/{post_id}` and `POST sites/{site}/posts/new`
//! (oauth2.md §6): a blog's stored posts, newest first, one of them, and new ones. All need the
//! `posts` area of a blog the token reaches (one rule, [`posts_of`] through `sites::check`).
//!
//! Paging, as WordPress.com's `/sites/$site/posts`: `number` (1–100, default 20) posts per page;
//! `page` (1-based) takes precedence over `offset` (0-based, default 0). `status` is a comma list of
//! `publish`, `draft`, `pending`, `private`, or `any` (default `publish`). The answer is
//! `{"found": <all matching>, "posts": [...]}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Multipart, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use super::error::{ApiError, ErrorCode};
use super::principal::Principal;
use super::sites::{check, find, require};
use crate::domain::clock::iso8601;
use crate::domain::input::{self, Field};
use crate::domain::reach::Target;
use crate::domain::scope::Area;
use crate::http::params::Params;
use crate::state::AppState;
use crate::store::{NewPost, Post, PostPage, PostStatus, PostUpdate, Site};

const DEFAULT_NUMBER: i64 = 20;
const MAX_NUMBER: i64 = 100;
/// Titles longer than this are refused (the body limit bounds the content).
const MAX_TITLE_CHARS: usize = 1000;

pub(crate) fn invalid_input(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, message)
}

/// The post object of WordPress.com's REST API (the fields Latchkey has).
pub(crate) fn post_json(site: &Site, post: &Post) -> Value {
    let date = iso8601(post.created_at);
    json!({
        "ID": post.id,
        "site_ID": post.site_id,
        "author": {"ID": post.author_id, "login": post.author_username, "name": post.author_name},
        "date": date,
        "modified": date,
        "title": post.title,
        "URL": format!("{}/?p={}", site.url.trim_end_matches('/'), post.id),
        "content": post.content,
        "status": post.status,
        "like_count": post.like_count,
        "i_like": post.i_like,
    })
}

fn number(params: &Params, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
    let raw = params.get(name).map_err(|e| invalid_input(e.to_string()))?;
    raw.map(|raw| {
        raw.parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                invalid_input(format!(
                    "The {name} parameter must be a whole number from {min} to {max}."
                ))
            })
    })
    .transpose()
}

/// `status=…`: the statuses to list.
fn statuses(params: &Params) -> Result<Vec<PostStatus>, ApiError> {
    let raw = params
        .get("status")
        .map_err(|e| invalid_input(e.to_string()))?
        .unwrap_or("publish");
    if raw == "any" {
        return Ok(PostStatus::ALL.to_vec());
    }
    let mut out = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let status = name.parse::<PostStatus>().map_err(|_| {
            invalid_input(format!(
                "Unknown status; use any, or a comma list of: {}.",
                status_list()
            ))
        })?;
        if !out.contains(&status) {
            out.push(status);
        }
    }
    if out.is_empty() {
        out.push(PostStatus::Publish);
    }
    Ok(out)
}

/// `publish, draft, pending, private`, for the error messages.
fn status_list() -> String {
    PostStatus::ALL.map(PostStatus::as_str).join(", ")
}

/// `GET sites/{site}/posts`.
pub(crate) async fn list(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
    principal: Option<Principal>,
) -> Result<Json<Value>, ApiError> {
    let principal = require(principal)?;
    let site = find(&state, &raw).await?;
    let params = Params::decode(query.unwrap_or_default().as_bytes())
        .map_err(|m| invalid_input(m.to_string()))?;
    let page = page_of(&state, &principal, &site, &params).await?;
    let posts: Vec<Value> = page.posts.iter().map(|p| post_json(&site, p)).collect();
    Ok(Json(json!({ "found": page.found, "posts": posts })))
}

/// `GET sites/{site}/posts/{post_id}`: one post, as WordPress.com's single-post read; a blog
/// without that post (or an ID that is no number) answers 404 `unknown_post`.
pub(crate) async fn read(
    State(state): State<AppState>,
    Path((raw, post_id)): Path<(String, String)>,
    principal: Option<Principal>,
) -> Result<Json<Value>, ApiError> {
    let principal = require(principal)?;
    let site = find(&state, &raw).await?;
    let Ok(post_id) = post_id.parse::<i64>() else {
        // The reach check comes first whatever the ID, so a 404 says nothing of an unreached blog.
        check(&state, &principal, posts_of(&site)).await?;
        return Err(unknown_post());
    };
    let post = read_checked(&state, &principal, &site, post_id).await?;
    Ok(Json(post_json(&site, &post)))
}

/// A page of `site`'s posts for `principal`, after the reach check. `number`/`page`/`offset` as
/// documented above; `per_page` is accepted as WordPress's own name for `number`.
pub(crate) async fn page_of(
    state: &AppState,
    principal: &Principal,
    site: &Site,
    params: &Params,
) -> Result<PostPage, ApiError> {
    check(state, principal, posts_of(site)).await?;
    let per_page = match number(params, "number", 1, MAX_NUMBER)? {
        Some(n) => n,
        None => number(params, "per_page", 1, MAX_NUMBER)?.unwrap_or(DEFAULT_NUMBER),
    };
    let offset = match number(params, "page", 1, 1_000_000)? {
        Some(page) => (page - 1) * per_page,
        None => number(params, "offset", 0, 100_000_000)?.unwrap_or(0),
    };
    let statuses = statuses(params)?;
    Ok(state
        .store
        .list_posts(site.id, &statuses, per_page, offset, principal.user_id)
        .await?)
}

/// The fields of a new post, from whichever body the client sent.
#[derive(Debug, Default)]
struct PostInput {
    title: Option<String>,
    content: Option<String>,
    status: Option<String>,
}

impl PostInput {
    fn set(&mut self, name: &str, value: String) -> Result<(), ApiError> {
        let slot = match name {
            "title" => &mut self.title,
            "content" => &mut self.content,
            "status" => &mut self.status,
            _ => return Ok(()),
        };
        if slot.replace(value).is_some() {
            return Err(invalid_input(format!(
                "The \"{name}\" parameter was sent more than once."
            )));
        }
        Ok(())
    }
}

async fn read_input(headers: &HeaderMap, body: Bytes) -> Result<PostInput, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let mut input = PostInput::default();
    match mime.as_str() {
        "application/json" => {
            let value: Value = serde_json::from_slice(&body)
                .map_err(|_| invalid_input("The JSON body is malformed."))?;
            let Value::Object(object) = value else {
                return Err(invalid_input("The JSON body must be an object."));
            };
            for (name, value) in object {
                match value {
                    Value::String(s) => input.set(&name, s)?,
                    Value::Null => {}
                    _ if !matches!(name.as_str(), "title" | "content" | "status") => {}
                    _ => {
                        return Err(invalid_input(format!(
                            "The \"{name}\" field must be a string."
                        )));
                    }
                }
            }
        }
        "application/x-www-form-urlencoded" | "" => {
            let params = Params::decode_with_text(&body, &["content"])
                .map_err(|m| invalid_input(m.to_string()))?;
            for (name, value) in params.pairs() {
                input.set(name, value.clone())?;
            }
        }
        "multipart/form-data" => {
            let request = axum::http::Request::builder()
                .header(header::CONTENT_TYPE, content_type)
                .body(axum::body::Body::from(body))
                .map_err(|_| invalid_input("The multipart/form-data body is malformed."))?;
            let bad = || invalid_input("The multipart/form-data body is malformed.");
            let mut multipart = Multipart::from_request(request, &())
                .await
                .map_err(|_| bad())?;
            while let Some(field) = multipart.next_field().await.map_err(|_| bad())? {
                let name = field.name().unwrap_or("").to_owned();
                // The bytes, not `text()`: that would replace what is not UTF-8 with U+FFFD.
                let value = field.bytes().await.map_err(|_| bad())?;
                let value = String::from_utf8(value.to_vec()).map_err(|_| {
                    invalid_input(format!("The \"{name}\" field is not valid UTF-8."))
                })?;
                input.set(&name, value)?;
            }
        }
        _ => {
            return Err(invalid_input(
                "Send the post as application/json, application/x-www-form-urlencoded or \
                 multipart/form-data.",
            ));
        }
    }
    Ok(input)
}

/// `POST sites/{site}/posts/new`: stores the post and returns it.
pub(crate) async fn create(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    principal: Option<Principal>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let principal = require(principal)?;
    let site = find(&state, &raw).await?;
    let post = store_new(&state, &principal, &site, &headers, body).await?;
    Ok(Json(post_json(&site, &post)))
}

/// Checks reach, reads a new post from a form, multipart or JSON body, and stores it.
pub(crate) async fn store_new(
    state: &AppState,
    principal: &Principal,
    site: &Site,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Post, ApiError> {
    check(state, principal, posts_of(site)).await?;
    let body = body.map_err(|_| super::too_large())?;
    let input = read_input(headers, body).await?;
    create_checked(
        state,
        principal,
        site,
        PostFields {
            title: input.title,
            content: input.content,
            status: input.status,
        },
    )
    .await
}

/// The posts area of a blog: what reading and writing its posts needs.
pub(crate) fn posts_of(site: &Site) -> Target {
    Target::Blog {
        site_id: site.id,
        area: Area::Posts,
    }
}

/// The fields of a post a client sends; `None` leaves a field at its default (a new post) or as
/// it is (an update).
#[derive(Debug, Default)]
pub(crate) struct PostFields {
    pub title: Option<String>,
    pub content: Option<String>,
    pub status: Option<String>,
}

/// The post rules, whatever the body or protocol the fields came in: the title at most
/// [`MAX_TITLE_CHARS`], one of the four statuses, and the input rule (`domain::input`: the
/// content free text, the title and status one line; PostgreSQL text cannot hold NUL, so both
/// databases refuse alike).
fn check_fields(fields: &PostFields) -> Result<Option<PostStatus>, ApiError> {
    let status = match &fields.status {
        Some(status) => Some(status.parse::<PostStatus>().map_err(|_| {
            invalid_input(format!("The status must be one of: {}.", status_list()))
        })?),
        None => None,
    };
    if let Some(title) = &fields.title
        && title.chars().count() > MAX_TITLE_CHARS
    {
        return Err(invalid_input(format!(
            "The title is longer than {MAX_TITLE_CHARS} characters."
        )));
    }
    for (name, value, field) in [
        ("title", &fields.title, Field::Line),
        ("content", &fields.content, Field::Text),
        ("status", &fields.status, Field::Line),
    ] {
        if let Some(value) = value {
            input::check(value, field)
                .map_err(|problem| invalid_input(format!("The \"{name}\" field {problem}.")))?;
        }
    }
    Ok(status)
}

/// Creates a post on `site` for `principal`: the reach check (the `posts` area of a blog the token
/// reaches), the post rules, then the store. The REST API and the MCP endpoint both call this.
pub(crate) async fn create_checked(
    state: &AppState,
    principal: &Principal,
    site: &Site,
    fields: PostFields,
) -> Result<Post, ApiError> {
    check(state, principal, posts_of(site)).await?;
    let status = check_fields(&fields)?.unwrap_or(PostStatus::Publish);
    let title = fields.title.unwrap_or_default();
    let content = fields.content.unwrap_or_default();
    let mut tx = state.store.begin();
    let post = tx
        .create_post(
            &NewPost {
                site_id: site.id,
                author_id: principal.user_id,
                title: &title,
                content: &content,
                status,
            },
            state.now(),
        )
        .await?;
    tx.commit().await?;
    Ok(post)
}

/// One post of `site`, after the same reach check as the list: `unknown_post` when the blog has
/// no such post.
pub(crate) async fn read_checked(
    state: &AppState,
    principal: &Principal,
    site: &Site,
    post_id: i64,
) -> Result<Post, ApiError> {
    check(state, principal, posts_of(site)).await?;
    state
        .store
        .post(site.id, post_id, principal.user_id)
        .await?
        .ok_or_else(unknown_post)
}

/// Changes the fields given of a post of `site`: the reach check, the post rules, then the store.
pub(crate) async fn update_checked(
    state: &AppState,
    principal: &Principal,
    site: &Site,
    post_id: i64,
    fields: PostFields,
) -> Result<Post, ApiError> {
    check(state, principal, posts_of(site)).await?;
    let status = check_fields(&fields)?;
    let mut tx = state.store.begin();
    let post = tx
        .update_post(
            &PostUpdate {
                site_id: site.id,
                post_id,
                title: fields.title.as_deref(),
                content: fields.content.as_deref(),
                status,
            },
            principal.user_id,
        )
        .await?
        .ok_or_else(unknown_post)?;
    tx.commit().await?;
    Ok(post)
}

pub(crate) fn unknown_post() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::UnknownPost,
        "Unknown post",
    )
}
