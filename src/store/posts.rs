//! Posts of a site and their likes (migration 0003). A post belongs to a site and an author; a
//! like is one user's, once per post.

use std::str::FromStr;

use super::{Result, Store, Tx, text_column, with_pool, with_tx};

/// A post's status, as WordPress names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PostStatus {
    Publish,
    Draft,
    Pending,
    Private,
}

text_column!(PostStatus);

impl PostStatus {
    pub const ALL: [PostStatus; 4] = [
        PostStatus::Publish,
        PostStatus::Draft,
        PostStatus::Pending,
        PostStatus::Private,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PostStatus::Publish => "publish",
            PostStatus::Draft => "draft",
            PostStatus::Pending => "pending",
            PostStatus::Private => "private",
        }
    }
}

/// A status name other than the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown post status {0:?}: use publish, draft, pending or private")]
pub struct UnknownPostStatus(pub String);

impl FromStr for PostStatus {
    type Err = UnknownPostStatus;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        PostStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownPostStatus(s.to_owned()))
    }
}

/// A post as the REST API shows it, with its author and like count, and whether the viewer likes it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Post {
    pub id: i64,
    pub site_id: i64,
    pub author_id: i64,
    pub author_username: String,
    pub author_name: String,
    pub title: String,
    pub content: String,
    pub status: PostStatus,
    pub created_at: i64,
    pub like_count: i64,
    pub i_like: bool,
}

#[derive(Debug, Clone)]
pub struct NewPost<'a> {
    pub site_id: i64,
    pub author_id: i64,
    pub title: &'a str,
    pub content: &'a str,
    pub status: PostStatus,
}

/// The fields of a post to change; `None` leaves one as it is.
#[derive(Debug, Clone)]
pub struct PostUpdate<'a> {
    pub site_id: i64,
    pub post_id: i64,
    pub title: Option<&'a str>,
    pub content: Option<&'a str>,
    pub status: Option<PostStatus>,
}

/// A page of a site's posts, newest first, and how many match in all.
#[derive(Debug, Clone)]
pub struct PostPage {
    pub found: i64,
    pub posts: Vec<Post>,
}

/// `$1` is the viewer (for `i_like`); the caller's own placeholders follow.
const SELECT: &str = "SELECT p.id, p.site_id, p.author_id, u.username AS author_username, \
     u.display_name AS author_name, p.title, p.content, p.status, p.created_at, \
     (SELECT COUNT(*) FROM likes l WHERE l.post_id = p.id) AS like_count, \
     EXISTS (SELECT 1 FROM likes l WHERE l.post_id = p.id AND l.user_id = $1) AS i_like \
     FROM posts p JOIN users u ON u.id = p.author_id";

/// One post: `$1` the viewer, `$2` the site, `$3` the post.
fn by_id() -> String {
    format!("{SELECT} WHERE p.site_id = $2 AND p.id = $3")
}

/// `p.status IN ($first, …)` for `count` placeholders starting at `$first`.
fn status_in(first: usize, count: usize) -> String {
    let list: Vec<String> = (first..first + count).map(|i| format!("${i}")).collect();
    format!("p.status IN ({})", list.join(", "))
}

impl Store {
    /// The post `post_id` of site `site_id`, seen by `viewer`.
    pub async fn post(&self, site_id: i64, post_id: i64, viewer: i64) -> Result<Option<Post>> {
        let sql = by_id();
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(viewer)
                .bind(site_id)
                .bind(post_id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// A page of the site's posts with one of `statuses`, newest first (ties: newest id first).
    pub async fn list_posts(
        &self,
        site_id: i64,
        statuses: &[PostStatus],
        limit: i64,
        offset: i64,
        viewer: i64,
    ) -> Result<PostPage> {
        let count_sql = format!(
            "SELECT COUNT(*) FROM posts p WHERE p.site_id = $1 AND {}",
            status_in(2, statuses.len())
        );
        let list_sql = format!(
            "{SELECT} WHERE p.site_id = $2 AND {} ORDER BY p.created_at DESC, p.id DESC \
             LIMIT $3 OFFSET $4",
            status_in(5, statuses.len())
        );
        let (found, posts) = with_pool!(self, |pool| {
            let mut count = sqlx::query_scalar(&count_sql).bind(site_id);
            let mut list = sqlx::query_as(&list_sql)
                .bind(viewer)
                .bind(site_id)
                .bind(limit)
                .bind(offset);
            for status in statuses {
                count = count.bind(*status);
                list = list.bind(*status);
            }
            let found: i64 = count.fetch_one(pool).await?;
            let posts: Vec<Post> = list.fetch_all(pool).await?;
            (found, posts)
        });
        Ok(PostPage { found, posts })
    }
}

impl Tx<'_> {
    pub async fn create_post(&mut self, new: &NewPost<'_>, now: i64) -> Result<Post> {
        let id: i64 = with_tx!(self, |tx| {
            sqlx::query_scalar(
                "INSERT INTO posts (site_id, author_id, title, content, status, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(new.site_id)
            .bind(new.author_id)
            .bind(new.title)
            .bind(new.content)
            .bind(new.status)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?
        });
        // Read on this transaction: the new row is not visible elsewhere before the commit.
        let sql = by_id();
        Ok(with_tx!(self, |tx| {
            sqlx::query_as(&sql)
                .bind(new.author_id)
                .bind(new.site_id)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?
        }))
    }

    /// Changes the given fields of post `post_id` of site `site_id` and returns it as `viewer` sees
    /// it; `None` when the site has no such post.
    pub async fn update_post(
        &mut self,
        update: &PostUpdate<'_>,
        viewer: i64,
    ) -> Result<Option<Post>> {
        let changed: Option<i64> = with_tx!(self, |tx| {
            sqlx::query_scalar(
                "UPDATE posts SET title = COALESCE($1, title), content = COALESCE($2, content), \
                 status = COALESCE($3, status) WHERE site_id = $4 AND id = $5 RETURNING id",
            )
            .bind(update.title)
            .bind(update.content)
            .bind(update.status)
            .bind(update.site_id)
            .bind(update.post_id)
            .fetch_optional(&mut *tx)
            .await?
        });
        if changed.is_none() {
            return Ok(None);
        }
        let sql = by_id();
        Ok(with_tx!(self, |tx| {
            sqlx::query_as(&sql)
                .bind(viewer)
                .bind(update.site_id)
                .bind(update.post_id)
                .fetch_optional(&mut *tx)
                .await?
        }))
    }

    /// Records that `user_id` likes `post_id` (again is harmless) and returns the post's like count.
    pub async fn like_post(&mut self, user_id: i64, post_id: i64, now: i64) -> Result<i64> {
        Ok(with_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO likes (user_id, post_id, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id, post_id) DO NOTHING",
            )
            .bind(user_id)
            .bind(post_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query_scalar("SELECT COUNT(*) FROM likes WHERE post_id = $1")
                .bind(post_id)
                .fetch_one(&mut *tx)
                .await?
        }))
    }
}
