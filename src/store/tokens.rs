//! Grants and access tokens. A grant is what a user approved for an app (connected applications are
//! built from grants); every token and code hangs off a grant, so revoking the grant revokes them all.

use super::notify::Revocation;
use super::{Result, Store, Tx, with_pool, with_tx};

/// What a token stands for: the facts token-info and the REST API need.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenGrant {
    pub token_id: i64,
    pub app_id: i64,
    /// `0` for a `client_credentials` token of the 2.1 server, which stands for its app alone
    /// (oauth21.md §3): token-info answers `user_id` `"0"`, and the REST API refuses it where a
    /// user is needed ([`TokenGrant::has_user`]).
    pub user_id: i64,
    pub grant_id: i64,
    pub site_id: Option<i64>,
    pub scope: String,
    pub expires_at: Option<i64>,
    /// When the token was issued (Unix seconds): introspection's `iat` (RFC 7662 §2.2).
    pub issued_at: i64,
    /// Whether the user administered the token's blog when this was read (`false` without a blog).
    /// What the grant still holds is decided by `domain::reach::holds` from it; a cached copy is
    /// dropped on every instance when the user's memberships change (`Stale::Profile`).
    pub site_admin: bool,
    /// The resources (RFC 8707) the token is good for, space-separated; `None` for the REST API
    /// only (`domain::resource::admits`).
    pub audiences: Option<String>,
}

impl TokenGrant {
    /// Whether the token stands for a user (every token but a `client_credentials` one).
    pub fn has_user(&self) -> bool {
        self.user_id != 0
    }
}

/// SQL: the head of an `access_tokens` insert, the ten columns of an [`AccessTokenRow`] with
/// `created_at`, in the order their values are bound.
macro_rules! insert_access_token {
    () => {
        "INSERT INTO access_tokens (digest, app_id, user_id, grant_id, site_id, scope, origin, \
         created_at, expires_at, audiences) "
    };
}
pub(super) use insert_access_token;

/// SQL: whether the row's user administers the row's blog now (`$table` has `user_id` and
/// `site_id`). One indexed probe of `site_members`' primary key, inside the statement that reads
/// the token or claims the code, so it costs no extra round trip.
macro_rules! site_admin {
    ($table:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM site_members m WHERE m.site_id = ",
            $table,
            ".site_id AND m.user_id = ",
            $table,
            ".user_id AND m.role = 'administrator')"
        )
    };
}
pub(super) use site_admin;

/// A token to store with a new grant (implicit flow, password grant) or for an existing one.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub digest: &'a [u8],
    pub app_id: i64,
    pub user_id: i64,
    pub site_id: Option<i64>,
    pub scope: &'a str,
    /// `code`, `implicit` or `password`.
    pub origin: &'static str,
    pub expires_at: Option<i64>,
}

impl<'a> NewToken<'a> {
    /// The row of this token under `grant_id`.
    pub(super) fn row(&self, grant_id: i64) -> AccessTokenRow<'a> {
        AccessTokenRow {
            digest: self.digest,
            app_id: self.app_id,
            user_id: Some(self.user_id),
            grant_id: Some(grant_id),
            site_id: self.site_id,
            scope: self.scope,
            origin: self.origin,
            expires_at: self.expires_at,
            audiences: None,
        }
    }
}

/// A `grants` row to insert ([`Tx::insert_grant`]): every grant of every dialect.
#[derive(Debug, Clone)]
pub(super) struct NewGrant<'a> {
    pub(super) user_id: i64,
    pub(super) app_id: i64,
    pub(super) site_id: Option<i64>,
    pub(super) scope: &'a str,
    /// The grant's audiences (the 2.1 server only).
    pub(super) resources: Option<&'a str>,
    /// Whether a token is issued with it at once (`last_used_at` is then its creation time).
    pub(super) used: bool,
}

impl<'a> NewGrant<'a> {
    /// A grant of this binding, without audiences, not yet used.
    pub(super) fn of(user_id: i64, app_id: i64, site_id: Option<i64>, scope: &'a str) -> Self {
        Self {
            user_id,
            app_id,
            site_id,
            scope,
            resources: None,
            used: false,
        }
    }
}

/// An `access_tokens` row to insert ([`Tx::insert_access_token`]): every access token of both
/// OAuth 2 dialects.
#[derive(Debug, Clone)]
pub(super) struct AccessTokenRow<'a> {
    pub(super) digest: &'a [u8],
    pub(super) app_id: i64,
    /// `None` for a `client_credentials` token (the app alone).
    pub(super) user_id: Option<i64>,
    pub(super) grant_id: Option<i64>,
    pub(super) site_id: Option<i64>,
    pub(super) scope: &'a str,
    pub(super) origin: &'static str,
    pub(super) expires_at: Option<i64>,
    pub(super) audiences: Option<&'a str>,
}

impl Store {
    /// The live token with this digest, if any: unknown, expired and revoked tokens are all `None`.
    pub async fn token_by_digest(&self, digest: &[u8], now: i64) -> Result<Option<TokenGrant>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT id AS token_id, app_id, COALESCE(user_id, 0) AS user_id, COALESCE(grant_id, 0) AS grant_id, \
                 site_id, scope, expires_at, created_at AS issued_at, audiences, ",
                site_admin!("access_tokens"),
                " AS site_admin FROM access_tokens \
                 WHERE digest = $1 AND (expires_at IS NULL OR expires_at > $2)"
            ))
            .bind(digest)
            .bind(now)
            .fetch_optional(pool)
            .await?
        }))
    }
}

impl Tx<'_> {
    /// Records a grant and the token issued under it.
    pub async fn grant_token(&mut self, token: &NewToken<'_>, now: i64) -> Result<TokenGrant> {
        let grant = NewGrant {
            used: true,
            ..NewGrant::of(token.user_id, token.app_id, token.site_id, token.scope)
        };
        let grant_id = self.insert_grant(&grant, now).await?;
        self.insert_token_grant(token, grant_id, now).await
    }

    /// Inserts a grant row and returns its id.
    pub(super) async fn insert_grant(&mut self, grant: &NewGrant<'_>, now: i64) -> Result<i64> {
        Ok(with_tx!(self, |tx| {
            sqlx::query_scalar(
                "INSERT INTO grants (user_id, app_id, site_id, scope, resources, created_at, \
                 last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(grant.user_id)
            .bind(grant.app_id)
            .bind(grant.site_id)
            .bind(grant.scope)
            .bind(grant.resources)
            .bind(now)
            .bind(grant.used.then_some(now))
            .fetch_one(&mut *tx)
            .await?
        }))
    }

    /// Inserts an access token row and returns its id.
    pub(super) async fn insert_access_token(
        &mut self,
        token: &AccessTokenRow<'_>,
        now: i64,
    ) -> Result<i64> {
        Ok(with_tx!(self, |tx| {
            sqlx::query_scalar(concat!(
                insert_access_token!(),
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id"
            ))
            .bind(token.digest)
            .bind(token.app_id)
            .bind(token.user_id)
            .bind(token.grant_id)
            .bind(token.site_id)
            .bind(token.scope)
            .bind(token.origin)
            .bind(now)
            .bind(token.expires_at)
            .bind(token.audiences)
            .fetch_one(&mut *tx)
            .await?
        }))
    }

    /// Inserts the token of `grant_id` and returns it as a [`TokenGrant`], with whether its user
    /// administers its blog read in the same transaction.
    pub(super) async fn insert_token_grant(
        &mut self,
        token: &NewToken<'_>,
        grant_id: i64,
        now: i64,
    ) -> Result<TokenGrant> {
        let token_id = self.insert_access_token(&token.row(grant_id), now).await?;
        let site_admin: bool = with_tx!(self, |tx| {
            sqlx::query_scalar(concat!(
                "SELECT ",
                site_admin!("access_tokens"),
                " FROM access_tokens WHERE id = $1"
            ))
            .bind(token_id)
            .fetch_one(&mut *tx)
            .await?
        });
        Ok(TokenGrant {
            token_id,
            app_id: token.app_id,
            user_id: token.user_id,
            grant_id,
            site_id: token.site_id,
            scope: token.scope.to_owned(),
            expires_at: token.expires_at,
            issued_at: now,
            site_admin,
            audiences: None,
        })
    }

    /// Records that the grant was used now (a token issued from it).
    pub(super) async fn touch_grant(&mut self, grant_id: i64, now: i64) -> Result<()> {
        with_tx!(self, |tx| {
            sqlx::query("UPDATE grants SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(grant_id)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    /// Revokes every grant, code and token of this user for this app at once, on every instance
    /// once committed (see `cache`).
    pub async fn revoke_app_for_user(&mut self, user_id: i64, app_id: i64) -> Result<u64> {
        let done = with_tx!(self, |tx| {
            sqlx::query("DELETE FROM grants WHERE user_id = $1 AND app_id = $2")
                .bind(user_id)
                .bind(app_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        self.announce(Revocation::UserApp { user_id, app_id })
            .await?;
        Ok(done)
    }

    /// Revokes one token (and nothing else of its grant), on every instance once committed (see
    /// `cache`).
    pub async fn revoke_token(&mut self, token_id: i64) -> Result<bool> {
        let done = with_tx!(self, |tx| {
            sqlx::query("DELETE FROM access_tokens WHERE id = $1")
                .bind(token_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        self.announce(Revocation::Token(token_id)).await?;
        Ok(done > 0)
    }
}
