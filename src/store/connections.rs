//! Connected applications (a user's view of their grants, wpcom-oauth2.md §6.2) and the
//! JavaScript origins apps registered for browser calls to the REST API.

use super::{Result, Store, with_pool};

/// An app the user has connected: its latest grant, with the granted blog if any.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Connection {
    pub app_id: i64,
    pub name: String,
    pub description: String,
    pub website: String,
    pub icon_url: String,
    pub scope: String,
    pub site_id: Option<i64>,
    pub site_url: Option<String>,
    pub site_name: Option<String>,
    pub authorized_at: i64,
}

impl Store {
    /// The apps the user has granted access to, most recently authorized first; one entry per app
    /// (its latest grant).
    pub async fn connections(&self, user_id: i64) -> Result<Vec<Connection>> {
        let rows: Vec<Connection> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT a.id AS app_id, a.name, a.description, a.website, a.icon_url, g.scope, \
                 g.site_id, s.url AS site_url, s.name AS site_name, g.created_at AS authorized_at \
                 FROM grants g JOIN apps a ON a.id = g.app_id LEFT JOIN sites s ON s.id = g.site_id \
                 WHERE g.user_id = $1 ORDER BY g.created_at DESC, g.id DESC",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?
        });
        let mut seen = std::collections::HashSet::new();
        Ok(rows.into_iter().filter(|c| seen.insert(c.app_id)).collect())
    }

    /// Whether any app registered `origin` (exactly, e.g. `https://client.example`) as a
    /// JavaScript origin.
    pub async fn origin_registered(&self, origin: &str) -> Result<bool> {
        // LIKE narrows the rows; the exact comparison is done on each registered line.
        let candidates: Vec<String> = with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT js_origins FROM apps WHERE js_origins LIKE $1")
                .bind(format!("%{origin}%"))
                .fetch_all(pool)
                .await?
        });
        Ok(candidates
            .iter()
            .any(|list| list.lines().any(|line| line == origin)))
    }
}
