//! Users: accounts with an argon2id password hash.

use super::notify::Revocation;
use super::{Result, Store, Tx, with_pool, with_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub language: String,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub display_name: &'a str,
    /// An argon2id PHC string, never the password itself.
    pub password_hash: &'a str,
}

/// A user as the operator's list shows them: never a hash or a secret.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserSummary {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub created_at: i64,
    pub two_step: bool,
}

const COLUMNS: &str = "id, username, email, display_name, password_hash, language, created_at";

impl Store {
    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
        }))
    }

    /// The account a login names: a username, or else an email address (both exact, case as stored
    /// for usernames, case-insensitive for emails).
    pub async fn user_by_login(&self, login: &str) -> Result<Option<User>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM users WHERE username = $1 \
             UNION ALL SELECT {COLUMNS} FROM users WHERE lower(email) = lower($1) AND username <> $1 \
             LIMIT 1"
        );
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(login)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Every user, oldest first.
    pub async fn list_users(&self) -> Result<Vec<UserSummary>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, username, email, display_name, created_at, \
                 totp_secret_enc IS NOT NULL AS two_step FROM users ORDER BY id",
            )
            .fetch_all(pool)
            .await?
        }))
    }
}

impl Tx<'_> {
    pub async fn create_user(&mut self, new: &NewUser<'_>, now: i64) -> Result<User> {
        let sql = format!(
            "INSERT INTO users (username, email, display_name, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
        );
        Ok(with_tx!(self, |tx| {
            sqlx::query_as(&sql)
                .bind(new.username)
                .bind(new.email)
                .bind(new.display_name)
                .bind(new.password_hash)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
        }))
    }

    /// Replaces the user's password hash; `false`: no such user.
    pub async fn update_password_hash(&mut self, user_id: i64, hash: &str) -> Result<bool> {
        let done = with_tx!(self, |tx| {
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(hash)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        Ok(done > 0)
    }

    /// Sets a new password hash and ends every web session of the user, in this transaction (an
    /// operator resetting a password may be locking someone else out). `false`: no such user.
    pub async fn set_password_ending_sessions(&mut self, user_id: i64, hash: &str) -> Result<bool> {
        let done = self.update_password_hash(user_id, hash).await?;
        self.delete_sessions_of(user_id).await?;
        Ok(done)
    }

    /// Deletes the user with everything that hangs off the account (foreign keys cascade): grants,
    /// codes, OAuth2 and OAuth1 tokens, sessions, application passwords, recovery codes, memberships,
    /// posts, likes and follows, and the sites and apps they own (with other users' grants for
    /// those). Audit events keep the user's id. Announced as a revocation of everything, so every
    /// instance drops its whole validation cache at once (the deleted apps' tokens of other users
    /// go too). Callers decide whether owning sites or apps should stop it (`cli::users`).
    pub async fn delete_user(&mut self, user_id: i64) -> Result<bool> {
        // The user's own apps go too, with other users' tokens for them: drop the whole cache.
        let revocation = Revocation::All;
        let done = with_tx!(self, |tx| {
            sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        self.announce(revocation).await?;
        Ok(done > 0)
    }
}
