//! The key check row (migration 0007) and the sealed values a first check tries (see
//! `crate::keycheck`). This module only stores and compares what it is given.

use super::{Result, Store, with_pool, with_writer};

impl Store {
    /// The recorded key check value, if any.
    pub async fn key_check(&self) -> Result<Option<String>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT mac FROM key_check WHERE id = 1")
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Records `mac` unless a value is already there (several instances may start at once), and
    /// returns the value that stands.
    pub async fn record_key_check(&self, mac: &str, now: i64) -> Result<String> {
        with_writer!(self, |pool| {
            sqlx::query(
                "INSERT INTO key_check (id, mac, created_at) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(mac)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(self.key_check().await?.unwrap_or_else(|| mac.to_owned()))
    }

    /// One sealed OAuth1 consumer secret, if any app has one: a database from before the key
    /// check is tested against it.
    pub async fn any_sealed_consumer_secret(&self) -> Result<Option<Vec<u8>>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT oauth1_secret_enc FROM apps WHERE oauth1_secret_enc IS NOT NULL \
                 ORDER BY id LIMIT 1",
            )
            .fetch_optional(pool)
            .await?
        }))
    }
}
