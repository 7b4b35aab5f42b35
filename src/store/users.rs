//! Users: accounts with an argon2id password hash.

use super::{Result, Store, with_pool};

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

const COLUMNS: &str = "id, username, email, display_name, password_hash, language, created_at";

impl Store {
    pub async fn create_user(&self, new: &NewUser<'_>, now: i64) -> Result<User> {
        let sql = format!(
            "INSERT INTO users (username, email, display_name, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
        );
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(new.username)
                .bind(new.email)
                .bind(new.display_name)
                .bind(new.password_hash)
                .bind(now)
                .fetch_one(pool)
                .await?
        }))
    }

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

    pub async fn update_password_hash(&self, user_id: i64, hash: &str) -> Result<()> {
        with_pool!(self, |pool| {
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(hash)
                .bind(user_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// Deletes the user; their sites' memberships, apps, grants, codes, tokens and sessions go with
    /// them (foreign keys cascade).
    pub async fn delete_user(&self, user_id: i64) -> Result<bool> {
        // The user's own apps go too, with other users' tokens for them: drop the whole cache.
        let revocation = super::cache::Revocation::All;
        let done: Result<u64> = super::in_transaction!(self, |tx| {
            let done = sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            super::cache::announce!(self, &mut *tx, revocation);
            Ok(done)
        });
        self.revoked(revocation);
        Ok(done? > 0)
    }
}
