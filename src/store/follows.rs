//! Follows: a user following a site (migration 0003), once per site.

use super::{Result, Store, Tx, with_pool, with_tx};

impl Store {
    pub async fn follows(&self, user_id: i64, site_id: i64) -> Result<bool> {
        let found: Option<i32> = with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT 1 FROM follows WHERE user_id = $1 AND site_id = $2")
                .bind(user_id)
                .bind(site_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(found.is_some())
    }
}

impl Tx<'_> {
    /// Records that `user_id` follows `site_id`; following again is harmless.
    pub async fn follow_site(&mut self, user_id: i64, site_id: i64, now: i64) -> Result<()> {
        with_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO follows (user_id, site_id, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id, site_id) DO NOTHING",
            )
            .bind(user_id)
            .bind(site_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(())
    }
}
