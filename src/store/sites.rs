//! Sites (blogs) and their members. "Administrative access" means the `administrator` role.

use std::fmt;
use std::str::FromStr;

use super::notify::Stale;
use super::{Result, Store, Tx, text_column, with_pool, with_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Site {
    pub id: i64,
    pub url: String,
    pub name: String,
    pub is_jetpack: bool,
    pub owner_id: i64,
    pub created_at: i64,
}

/// A site together with the role a given user holds there.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Membership {
    #[sqlx(flatten)]
    pub site: Site,
    pub role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Administrator,
    Editor,
    Author,
    Subscriber,
}

text_column!(Role);

impl Role {
    /// Every role, most rights first.
    pub const ALL: [Role; 4] = [
        Role::Administrator,
        Role::Editor,
        Role::Author,
        Role::Subscriber,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Editor => "editor",
            Role::Author => "author",
            Role::Subscriber => "subscriber",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "administrator" => Ok(Role::Administrator),
            "editor" => Ok(Role::Editor),
            "author" => Ok(Role::Author),
            "subscriber" => Ok(Role::Subscriber),
            _ => Err(format!(
                "unknown role {s:?}: use administrator, editor, author or subscriber"
            )),
        }
    }
}

const COLUMNS: &str = "s.id, s.url, s.name, s.is_jetpack, s.owner_id, s.created_at";

impl Store {
    pub async fn site_by_id(&self, id: i64) -> Result<Option<Site>> {
        let sql = format!("SELECT {COLUMNS} FROM sites s WHERE s.id = $1");
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
        }))
    }

    /// Looks a site up by its normalised URL (see `domain::site_url::normalise`).
    pub async fn site_by_url_key(&self, url_key: &str) -> Result<Option<Site>> {
        let sql = format!("SELECT {COLUMNS} FROM sites s WHERE s.url_key = $1");
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(url_key)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Every site the user belongs to, oldest membership first, with the user's role.
    pub async fn memberships(&self, user_id: i64) -> Result<Vec<Membership>> {
        let sql = format!(
            "SELECT {COLUMNS}, m.role FROM site_members m JOIN sites s ON s.id = m.site_id \
             WHERE m.user_id = $1 ORDER BY m.created_at, s.id"
        );
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql).bind(user_id).fetch_all(pool).await?
        }))
    }

    /// The sites the user administers, oldest first: the first one is their primary blog.
    pub async fn administered_sites(&self, user_id: i64) -> Result<Vec<Site>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM site_members m JOIN sites s ON s.id = m.site_id \
             WHERE m.user_id = $1 AND m.role = 'administrator' ORDER BY m.created_at, s.id"
        );
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql).bind(user_id).fetch_all(pool).await?
        }))
    }

    pub async fn is_administrator(&self, user_id: i64, site_id: i64) -> Result<bool> {
        let found: Option<i32> = with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT 1 FROM site_members WHERE site_id = $1 AND user_id = $2 AND role = 'administrator'",
            )
            .bind(site_id)
            .bind(user_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(found.is_some())
    }
}

impl Tx<'_> {
    /// Creates a site and makes its owner an administrator.
    pub async fn create_site(
        &mut self,
        owner_id: i64,
        url: &str,
        url_key: &str,
        name: &str,
        is_jetpack: bool,
        now: i64,
    ) -> Result<Site> {
        let site = with_tx!(self, |tx| {
            let site: Site = sqlx::query_as(
                "INSERT INTO sites (url, url_key, name, is_jetpack, owner_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 RETURNING id, url, name, is_jetpack, owner_id, created_at",
            )
            .bind(url)
            .bind(url_key)
            .bind(name)
            .bind(is_jetpack)
            .bind(owner_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO site_members (site_id, user_id, role, created_at) \
                 VALUES ($1, $2, 'administrator', $3)",
            )
            .bind(site.id)
            .bind(owner_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            site
        });
        self.announce(Stale::Profile(owner_id)).await?;
        Ok(site)
    }

    /// Adds a member or changes the role of an existing one.
    pub async fn set_membership(
        &mut self,
        site_id: i64,
        user_id: i64,
        role: Role,
        now: i64,
    ) -> Result<()> {
        with_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO site_members (site_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (site_id, user_id) DO UPDATE SET role = excluded.role",
            )
            .bind(site_id)
            .bind(user_id)
            .bind(role)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        });
        self.announce(Stale::Profile(user_id)).await?;
        Ok(())
    }

    pub async fn remove_membership(&mut self, site_id: i64, user_id: i64) -> Result<bool> {
        let done = with_tx!(self, |tx| {
            sqlx::query("DELETE FROM site_members WHERE site_id = $1 AND user_id = $2")
                .bind(site_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        self.announce(Stale::Profile(user_id)).await?;
        Ok(done > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_as_str_and_from_str() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(role.to_string(), role.as_str());
        }
        let refused = "Administrator".parse::<Role>().unwrap_err();
        assert!(refused.contains("administrator, editor, author or subscriber"));
    }

    #[tokio::test]
    async fn a_role_decodes_from_text_and_an_unknown_name_is_a_decoding_error() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        let role: Role = sqlx::query_scalar("SELECT 'editor'")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(role, Role::Editor);
        let unknown = sqlx::query_scalar::<_, Role>("SELECT 'owner'")
            .fetch_one(&pool)
            .await
            .unwrap_err();
        assert!(unknown.to_string().contains("unknown role"), "{unknown}");
    }
}
