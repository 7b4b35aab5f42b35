//! Resource servers (oauth21.md §2, §4; migration 0013): the URIs an app registered as the APIs
//! it serves. Each URI belongs to one app and goes with it.

use super::{Result, Store, Tx, with_pool, with_tx};

impl Store {
    /// The resource URIs an app registered, in order.
    pub async fn app_resources(&self, app_id: i64) -> Result<Vec<String>> {
        let sql = "SELECT uri FROM app_resources WHERE app_id = $1 ORDER BY uri";
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar(sql).bind(app_id).fetch_all(pool).await?
        }))
    }

    /// The app that registered `uri` as its resource, if any.
    pub async fn resource_owner(&self, uri: &str) -> Result<Option<i64>> {
        let sql = "SELECT app_id FROM app_resources WHERE uri = $1";
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar(sql)
                .bind(uri)
                .fetch_optional(pool)
                .await?
        }))
    }
}

impl Tx<'_> {
    /// Replaces the resource URIs of an app. A URI another app holds is a
    /// [`StoreError::Conflict`](super::StoreError::Conflict) ("resource URI").
    pub async fn set_app_resources(
        &mut self,
        app_id: i64,
        uris: &[String],
        now: i64,
    ) -> Result<()> {
        with_tx!(self, |tx| {
            sqlx::query("DELETE FROM app_resources WHERE app_id = $1")
                .bind(app_id)
                .execute(&mut *tx)
                .await?;
            for uri in uris {
                sqlx::query(
                    "INSERT INTO app_resources (uri, app_id, created_at) VALUES ($1, $2, $3)",
                )
                .bind(uri)
                .bind(app_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(())
    }
}
