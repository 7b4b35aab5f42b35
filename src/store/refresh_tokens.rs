//! Refresh tokens of the OAuth 2.1 server (oauth21.md §3).
//!
//! A refresh token's family is its grant: every access and refresh token of one authorization.
//! Rotation is one conditional UPDATE (`rotated_at IS NULL`), so of two parallel refreshes of one
//! token exactly one claims it; the loser finds it rotated. A rotated token keeps its row until it
//! expires, so presenting it again is recognised: in the second of its rotation (with a grace
//! configured) it is a parallel duplicate and fails without changing anything; later but within
//! `refresh_grace_secs`, while its successor is still unused, it answers a fresh pair and ends
//! that successor (a lost response); otherwise it ends the whole family.
//!
//! For the revocation endpoint: [`Store::refresh_by_digest`] finds a live refresh token and
//! [`Tx::revoke_refresh_family`] ends its family (announced to every instance at commit).

use super::notify::Revocation;
use super::oauth21::{Issue21, Issued21};
use super::tokens::site_admin;
use super::{AuditEvent, Result, Store, Tx, with_pool, with_tx};

/// A refresh token and the grant it belongs to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshGrant {
    pub id: i64,
    pub grant_id: i64,
    pub app_id: i64,
    pub user_id: i64,
    pub site_id: Option<i64>,
    /// The grant's scope and audiences (what a refresh may narrow).
    pub scope: String,
    pub resources: Option<String>,
    /// The idle expiry: a rotation issues a successor with a fresh one.
    pub expires_at: i64,
    /// When this token was issued (introspection's `iat`).
    pub issued_at: i64,
    pub rotated_at: Option<i64>,
    pub successor_id: Option<i64>,
    /// Whether the user administers the grant's blog now (`false` without a blog).
    pub site_admin: bool,
}

/// Why a refresh issued nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshRefusal<R> {
    /// Unknown, expired, ended, or another client's.
    Invalid,
    /// A rotated token presented again: its family has now ended.
    Reused,
    /// The caller's check refused; nothing changed.
    Rejected(R),
}

const REFRESH_COLUMNS: &str = "r.id, r.grant_id, r.app_id, r.user_id, g.site_id, r.scope, \
     r.resources, r.expires_at, r.created_at AS issued_at, r.rotated_at, r.successor_id, ";

impl Tx<'_> {
    /// Ends a refresh token family: every access and refresh token of the grant (the grant itself,
    /// and so the app's connection, stays). Announced to every instance at commit.
    pub async fn revoke_refresh_family(&mut self, grant_id: i64) -> Result<u64> {
        let (tokens, refresh): (Vec<i64>, u64) = with_tx!(self, |tx| {
            let tokens =
                sqlx::query_scalar("DELETE FROM access_tokens WHERE grant_id = $1 RETURNING id")
                    .bind(grant_id)
                    .fetch_all(&mut *tx)
                    .await?;
            let refresh = sqlx::query("DELETE FROM refresh_tokens WHERE grant_id = $1")
                .bind(grant_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            (tokens, refresh)
        });
        for id in &tokens {
            self.announce(Revocation::Token(*id)).await?;
        }
        Ok(tokens.len() as u64 + refresh)
    }

    /// The refresh token with this digest, whatever its state, if it is `app_id`'s.
    async fn refresh_row(&mut self, digest: &[u8], app_id: i64) -> Result<Option<RefreshGrant>> {
        let sql = format!(
            "SELECT {REFRESH_COLUMNS}{} AS site_admin FROM refresh_tokens r \
             JOIN grants g ON g.id = r.grant_id WHERE r.digest = $1 AND r.app_id = $2",
            site_admin!("g")
        );
        Ok(with_tx!(self, |tx| {
            sqlx::query_as(&sql)
                .bind(digest)
                .bind(app_id)
                .fetch_optional(&mut *tx)
                .await?
        }))
    }
}

impl Store {
    /// Rotates `app_id`'s refresh token with this digest and issues what `check` builds from its
    /// grant, in one transaction (see the module docs for reuse and the grace window).
    pub async fn refresh<R, F>(
        &self,
        digest: &[u8],
        app_id: i64,
        now: i64,
        grace_secs: i64,
        check: F,
    ) -> Result<std::result::Result<(RefreshGrant, Issued21), RefreshRefusal<R>>>
    where
        F: FnOnce(&RefreshGrant) -> std::result::Result<Issue21, R>,
    {
        let mut tx = self.begin();
        // The one atomic step: only one caller turns rotated_at from NULL.
        let claimed: Option<i64> = with_tx!(tx, |conn| {
            sqlx::query_scalar(
                "UPDATE refresh_tokens SET rotated_at = $2 WHERE digest = $1 AND app_id = $3 \
                 AND rotated_at IS NULL AND expires_at > $2 RETURNING id",
            )
            .bind(digest)
            .bind(now)
            .bind(app_id)
            .fetch_optional(&mut *conn)
            .await?
        });
        if claimed.is_none() {
            // Every path for a token already rotated starts by locking its row (a no-op update),
            // so parallel repeats of one token take their turns instead of deadlocking.
            with_tx!(tx, |conn| {
                sqlx::query(
                    "UPDATE refresh_tokens SET rotated_at = rotated_at \
                     WHERE digest = $1 AND app_id = $2",
                )
                .bind(digest)
                .bind(app_id)
                .execute(&mut *conn)
                .await?;
            });
        }
        let Some(row) = tx.refresh_row(digest, app_id).await? else {
            return Ok(Err(RefreshRefusal::Invalid));
        };
        if claimed.is_none() {
            let Some(rotated_at) = row.rotated_at.filter(|_| row.expires_at > now) else {
                return Ok(Err(RefreshRefusal::Invalid));
            };
            let age = now - rotated_at;
            let previous = age < grace_secs && tx.successor_unused(&row).await?;
            if previous && age < 1 {
                // The immediately previous token, rotated this very second (or by an instance
                // whose clock runs ahead): a parallel duplicate of the refresh that won, not a
                // lost response. It fails and changes nothing, so of parallel refreshes exactly
                // one succeeds and the family lives.
                return Ok(Err(RefreshRefusal::Invalid));
            }
            if !previous || !tx.end_unused_successor(&row).await? {
                tx.revoke_refresh_family(row.grant_id).await?;
                let event = AuditEvent {
                    kind: "refresh_token_reused",
                    user_id: Some(row.user_id),
                    app_id: Some(row.app_id),
                    detail: "a rotated refresh token came back: its family was revoked",
                    ..Default::default()
                };
                tx.audit(&event, now).await?;
                tx.commit().await?;
                return Ok(Err(RefreshRefusal::Reused));
            }
        }
        let issue = match check(&row) {
            Ok(issue) => issue,
            Err(reason) => return Ok(Err(RefreshRefusal::Rejected(reason))),
        };
        let issued = tx
            .issue21(
                row.grant_id,
                row.app_id,
                row.user_id,
                row.site_id,
                "refresh",
                &row.scope,
                row.resources.as_deref(),
                &issue,
                now,
            )
            .await?;
        with_tx!(tx, |conn| {
            sqlx::query("UPDATE refresh_tokens SET successor_id = $1 WHERE id = $2")
                .bind(issued.refresh_token_id)
                .bind(row.id)
                .execute(&mut *conn)
                .await?;
        });
        tx.commit().await?;
        Ok(Ok((row, issued)))
    }

    /// The live refresh token with this digest (unrotated, unexpired), whoever's it is.
    pub async fn refresh_by_digest(&self, digest: &[u8], now: i64) -> Result<Option<RefreshGrant>> {
        let sql = format!(
            "SELECT {REFRESH_COLUMNS}{} AS site_admin FROM refresh_tokens r \
             JOIN grants g ON g.id = r.grant_id \
             WHERE r.digest = $1 AND r.rotated_at IS NULL AND r.expires_at > $2",
            site_admin!("g")
        );
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(digest)
                .bind(now)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Deletes refresh tokens past their expiry (rotated ones included), at most `batch` at a time.
    pub async fn purge_refresh_tokens(&self, now: i64, batch: i64) -> Result<u64> {
        Ok(with_pool!(self, |pool| {
            sqlx::query(
                "DELETE FROM refresh_tokens WHERE id IN \
                 (SELECT id FROM refresh_tokens WHERE expires_at <= $1 LIMIT $2)",
            )
            .bind(now)
            .bind(batch)
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }
}

impl Tx<'_> {
    /// Whether `row`'s successor exists and was never used (`row` is the immediately previous
    /// token of its family).
    async fn successor_unused(&mut self, row: &RefreshGrant) -> Result<bool> {
        let Some(successor) = row.successor_id else {
            return Ok(false);
        };
        let unused: Option<i64> = with_tx!(self, |tx| {
            sqlx::query_scalar("SELECT id FROM refresh_tokens WHERE id = $1 AND rotated_at IS NULL")
                .bind(successor)
                .fetch_optional(&mut *tx)
                .await?
        });
        Ok(unused.is_some())
    }

    /// The grace case: `row` was rotated and its successor never used (its response was lost).
    /// Ends the successor and the access token issued with it; `false` when the successor is gone
    /// or was used (then the repeat is a reuse).
    async fn end_unused_successor(&mut self, row: &RefreshGrant) -> Result<bool> {
        let Some(successor) = row.successor_id else {
            return Ok(false);
        };
        let ended: Option<Option<i64>> = with_tx!(self, |tx| {
            sqlx::query_scalar(
                "DELETE FROM refresh_tokens WHERE id = $1 AND rotated_at IS NULL \
                 RETURNING access_token_id",
            )
            .bind(successor)
            .fetch_optional(&mut *tx)
            .await?
        });
        let Some(access) = ended else {
            return Ok(false);
        };
        if let Some(id) = access {
            with_tx!(self, |tx| {
                sqlx::query("DELETE FROM access_tokens WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            });
            self.announce(Revocation::Token(id)).await?;
        }
        Ok(true)
    }
}
