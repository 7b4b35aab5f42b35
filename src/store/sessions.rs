//! Browser sessions, server-side: the cookie carries a random id, the table only its digest.

use super::{Result, Store, Tx, with_pool, with_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Session {
    pub user_id: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Store {
    pub async fn session(&self, digest: &[u8], now: i64) -> Result<Option<Session>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT user_id, created_at, expires_at FROM sessions \
                 WHERE digest = $1 AND expires_at > $2",
            )
            .bind(digest)
            .bind(now)
            .fetch_optional(pool)
            .await?
        }))
    }
}

impl Tx<'_> {
    pub async fn create_session(
        &mut self,
        digest: &[u8],
        user_id: i64,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        with_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO sessions (digest, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(digest)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    pub async fn delete_session(&mut self, digest: &[u8]) -> Result<()> {
        with_tx!(self, |tx| {
            sqlx::query("DELETE FROM sessions WHERE digest = $1")
                .bind(digest)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// Ends every session of a user (password change, account deletion).
    pub async fn delete_sessions_of(&mut self, user_id: i64) -> Result<()> {
        with_tx!(self, |tx| {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        Ok(())
    }
}
