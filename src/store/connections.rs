//! Read models for the self-service pages and the REST API: the grants behind "connected
//! applications" (with their app and site), the members of a site, and the JavaScript origins apps
//! registered for browser calls to the REST API.

use super::{Result, Role, Store, with_pool};
use crate::domain::client_metadata::RegistrationKind;

/// One approval a user gave an app, with what the connected-applications page shows about it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Connection {
    pub grant_id: i64,
    pub app_id: i64,
    pub app_name: String,
    pub app_description: String,
    pub app_website: String,
    pub app_icon_url: String,
    /// Who registered the app: anything but `manual` is unverified (oauth21.md §5).
    pub app_registration: RegistrationKind,
    /// The `client_id` URL of a metadata-document client.
    pub app_metadata_url: Option<String>,
    /// `None` for `global` and `auth` grants.
    pub site_id: Option<i64>,
    pub site_name: Option<String>,
    pub site_url: Option<String>,
    pub scope: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A member of a site, with their role there.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SiteMember {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
}

impl Store {
    /// Every grant of the user, grouped by app (by name, then id), oldest approval first.
    pub async fn connections(&self, user_id: i64) -> Result<Vec<Connection>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT g.id AS grant_id, g.app_id, a.name AS app_name, \
                 a.description AS app_description, a.website AS app_website, a.icon_url AS app_icon_url, \
                 a.registration AS app_registration, r.metadata_url AS app_metadata_url, g.site_id, \
                 s.name AS site_name, s.url AS site_url, g.scope, g.created_at, g.last_used_at \
                 FROM grants g JOIN apps a ON a.id = g.app_id LEFT JOIN sites s ON s.id = g.site_id \
                 LEFT JOIN client_registrations r ON r.app_id = a.id \
                 WHERE g.user_id = $1 ORDER BY a.name, g.app_id, g.created_at, g.id",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The members of a site, oldest membership first.
    pub async fn site_members(&self, site_id: i64) -> Result<Vec<SiteMember>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT u.id AS user_id, u.username, u.display_name, m.role \
                 FROM site_members m JOIN users u ON u.id = m.user_id \
                 WHERE m.site_id = $1 ORDER BY m.created_at, u.id",
            )
            .bind(site_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The role the user holds at the site, if they are a member.
    pub async fn role_at(&self, site_id: i64, user_id: i64) -> Result<Option<Role>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT role FROM site_members WHERE site_id = $1 AND user_id = $2")
                .bind(site_id)
                .bind(user_id)
                .fetch_optional(pool)
                .await?
        }))
    }
}

impl Store {
    /// How many users have approved the app (for the delete confirmation).
    pub async fn connected_users(&self, app_id: i64) -> Result<i64> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(DISTINCT user_id) FROM grants WHERE app_id = $1")
                .bind(app_id)
                .fetch_one(pool)
                .await?
        }))
    }
}

impl Store {
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
