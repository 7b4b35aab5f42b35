//! Housekeeping (performance.md; peers.md §B2, "token tables grow without bound"): purge what can
//! no longer be used, in small batches so no statement holds locks for long and the tables stay
//! bounded. Run by `latchkey gc` and by a background job in `serve`.

use std::time::Duration;

use super::{Result, Store, with_writer};

/// Rows per statement: small enough that each delete is over in milliseconds.
pub const BATCH: i64 = 1_000;
/// The pause between two batches of a purge that has no pause of its own to follow.
pub const BATCH_PAUSE: Duration = Duration::from_millis(20);
/// How long a used code stays as a tombstone after its use, so a late replay still revokes the
/// token it issued (RFC 6749 §4.1.2; oauth2.md §3).
pub const CODE_TOMBSTONE_SECS: i64 = 30 * 60;

/// How long SQLite's `revocation_log` keeps an announcement: far longer than any watcher takes to
/// read it (50 ms).
pub const REVOCATION_LOG_SECS: i64 = 3_600;

/// What one collection removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Purged {
    pub codes: u64,
    pub tokens: u64,
    /// OAuth1 nonces out of the timestamp window and expired request tokens.
    pub oauth1: u64,
}

impl Store {
    /// Deletes access tokens past their expiry, at most `batch` at a time. Expired tokens already
    /// fail validation (the cache re-checks expiry), so no revocation is announced.
    pub async fn purge_tokens(&self, now: i64, batch: i64) -> Result<u64> {
        let done = with_writer!(self, |pool| {
            sqlx::query(
                "DELETE FROM access_tokens WHERE id IN \
                 (SELECT id FROM access_tokens WHERE expires_at IS NOT NULL AND expires_at <= $1 \
                  LIMIT $2)",
            )
            .bind(now)
            .bind(batch)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done)
    }

    /// Purges everything expired, batch after batch with `pause` between them so the purge never
    /// monopolises the database (SQLite has one writer).
    pub async fn collect_garbage(&self, now: i64, batch: i64, pause: Duration) -> Result<Purged> {
        let codes = in_batches(batch, pause, || {
            self.purge_codes(now, CODE_TOMBSTONE_SECS, batch)
        })
        .await?;
        let tokens = in_batches(batch, pause, || self.purge_tokens(now, batch)).await?;
        // Refresh tokens (oauth21.md §3) count as tokens.
        let refresh = in_batches(batch, pause, || self.purge_refresh_tokens(now, batch)).await?;
        let oauth1 = in_batches(batch, pause, || self.purge_oauth1(now, batch)).await?;
        in_batches(batch, pause, || self.purge_revocation_log(batch)).await?;
        Ok(Purged {
            codes,
            tokens: tokens + refresh,
            oauth1,
        })
    }

    /// Deletes SQLite's announcements older than [`REVOCATION_LOG_SECS`] (by the database's clock:
    /// they are stamped by it), at most `batch` at a time. PostgreSQL keeps no log.
    pub async fn purge_revocation_log(&self, batch: i64) -> Result<u64> {
        let super::Db::Sqlite(pool) = &self.db else {
            return Ok(0);
        };
        let pool = self.writer.as_ref().unwrap_or(pool);
        let done = sqlx::query(
            "DELETE FROM revocation_log WHERE seq IN (SELECT seq FROM revocation_log \
             WHERE created_at < unixepoch() - $1 ORDER BY seq LIMIT $2)",
        )
        .bind(REVOCATION_LOG_SECS)
        .bind(batch)
        .execute(pool)
        .await?
        .rows_affected();
        Ok(done)
    }
}

/// Runs `purge` batch after batch, `pause` between two, until one deletes fewer than `batch`
/// rows; how many it deleted in all.
pub(super) async fn in_batches<F, Fut>(batch: i64, pause: Duration, mut purge: F) -> Result<u64>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64>>,
{
    let mut purged = 0;
    loop {
        let n = purge().await?;
        purged += n;
        if n < batch as u64 {
            return Ok(purged);
        }
        tokio::time::sleep(pause).await;
    }
}
