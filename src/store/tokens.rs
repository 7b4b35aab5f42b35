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
        Ok(with_tx!(self, |tx| {
            let grant_id: i64 = sqlx::query_scalar(
                "INSERT INTO grants (user_id, app_id, site_id, scope, created_at, last_used_at) \
                 VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
            )
            .bind(token.user_id)
            .bind(token.app_id)
            .bind(token.site_id)
            .bind(token.scope)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            insert_token_grant!(&mut *tx, token, grant_id, now)
        }))
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

/// Inserts a token row on `$conn` (inside a caller's transaction) and evaluates to its id. A macro
/// rather than a function so the same statement serves both databases' connection types.
macro_rules! insert_token {
    ($conn:expr, $token:expr, $grant_id:expr, $now:expr) => {{
        let token = $token;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO access_tokens (digest, app_id, user_id, grant_id, site_id, scope, origin, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(token.digest)
        .bind(token.app_id)
        .bind(token.user_id)
        .bind($grant_id)
        .bind(token.site_id)
        .bind(token.scope)
        .bind(token.origin)
        .bind($now)
        .bind(token.expires_at)
        .fetch_one($conn)
        .await?;
        id
    }};
}
pub(super) use insert_token;

/// Inserts the token of `$grant_id` (as [`insert_token!`]) and returns it as a [`TokenGrant`], with
/// whether its user administers its blog read in the same transaction.
macro_rules! insert_token_grant {
    ($conn:expr, $token:expr, $grant_id:expr, $now:expr) => {{
        let token = $token;
        let token_id = $crate::store::tokens::insert_token!(&mut *$conn, token, $grant_id, $now);
        let site_admin: bool = sqlx::query_scalar(concat!(
            "SELECT ",
            $crate::store::tokens::site_admin!("access_tokens"),
            " FROM access_tokens WHERE id = $1"
        ))
        .bind(token_id)
        .fetch_one(&mut *$conn)
        .await?;
        $crate::store::TokenGrant {
            token_id,
            app_id: token.app_id,
            user_id: token.user_id,
            grant_id: $grant_id,
            site_id: token.site_id,
            scope: token.scope.to_owned(),
            expires_at: token.expires_at,
            issued_at: $now,
            site_admin,
            audiences: None,
        }
    }};
}
pub(super) use insert_token_grant;
