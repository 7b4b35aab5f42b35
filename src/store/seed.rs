//! Bulk inserts for the benchmark's seeding (performance.md, "seeds … through the storage layer"):
//! many rows per statement and many statements per transaction, so a million tokens take seconds,
//! not the hour one transaction per token would.
//!
//! Codes and refresh tokens are each seeded under a grant of their own, as the authorize endpoint
//! makes one grant per authorization: a benchmark of code exchanges or refreshes then measures
//! independent transactions, not a queue on one shared grant row (`grants.last_used_at`).

use super::{Result, Store, with_tx};

/// Rows per `INSERT`: 9 parameters each stays far below both databases' parameter limits.
const ROWS_PER_STATEMENT: usize = 500;

impl Store {
    /// Inserts one token per digest under an existing grant, in one transaction.
    pub async fn seed_tokens(
        &self,
        grant: &super::TokenGrant,
        digests: &[[u8; 32]],
        now: i64,
    ) -> Result<()> {
        let mut unit = self.begin();
        with_tx!(unit, |tx| {
            for chunk in digests.chunks(ROWS_PER_STATEMENT) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO access_tokens (digest, app_id, user_id, grant_id, site_id, scope, \
                     origin, created_at, expires_at) ",
                );
                insert.push_values(chunk, |mut row, digest| {
                    row.push_bind(&digest[..])
                        .push_bind(grant.app_id)
                        .push_bind(grant.user_id)
                        .push_bind(grant.grant_id)
                        .push_bind(grant.site_id)
                        .push_bind(grant.scope.as_str())
                        .push_bind("code")
                        .push_bind(now)
                        .push_bind(grant.expires_at);
                });
                insert.build().execute(&mut *tx).await?;
            }
        });
        unit.commit().await
    }

    /// Inserts one single-use secret per digest, each under a grant of its own for `code`'s user,
    /// app, blog and scope (as the authorize endpoint would), expiring at `code.expires_at`, in one
    /// transaction: unused codes, or live refresh tokens of the 2.1 server (oauth21.md §3) with no
    /// access token beside them (`access_token_id` NULL), as after a lost response's grace has
    /// passed.
    pub async fn seed_under_grants(
        &self,
        what: OneTime,
        code: &super::NewCode<'_>,
        digests: &[[u8; 32]],
        now: i64,
    ) -> Result<()> {
        let mut unit = self.begin();
        with_tx!(unit, |tx| {
            for chunk in digests.chunks(ROWS_PER_STATEMENT) {
                let mut grants = sqlx::QueryBuilder::new(
                    "INSERT INTO grants (user_id, app_id, site_id, scope, created_at) ",
                );
                grants.push_values(chunk, |mut row, _| {
                    row.push_bind(code.user_id)
                        .push_bind(code.app_id)
                        .push_bind(code.site_id)
                        .push_bind(code.scope)
                        .push_bind(now);
                });
                grants.push(" RETURNING id");
                let ids: Vec<i64> = grants.build_query_scalar().fetch_all(&mut *tx).await?;
                let mut insert = sqlx::QueryBuilder::new(match what {
                    OneTime::Codes => {
                        "INSERT INTO auth_codes (digest, app_id, user_id, grant_id, site_id, \
                         scope, redirect_uri, code_challenge, expires_at) "
                    }
                    OneTime::Refresh => {
                        "INSERT INTO refresh_tokens (digest, app_id, user_id, grant_id, \
                         created_at, scope, expires_at) "
                    }
                });
                insert.push_values(chunk.iter().zip(ids), |mut row, (digest, grant_id)| {
                    row.push_bind(&digest[..])
                        .push_bind(code.app_id)
                        .push_bind(code.user_id)
                        .push_bind(grant_id);
                    match what {
                        OneTime::Codes => row
                            .push_bind(code.site_id)
                            .push_bind(code.scope)
                            .push_bind(code.redirect_uri)
                            .push_bind(code.code_challenge),
                        OneTime::Refresh => row.push_bind(now).push_bind(code.scope),
                    }
                    .push_bind(code.expires_at);
                });
                insert.build().execute(&mut *tx).await?;
            }
        });
        unit.commit().await
    }
}

/// The single-use secrets [`Store::seed_under_grants`] inserts, one grant each.
#[derive(Debug, Clone, Copy)]
pub enum OneTime {
    /// Authorization codes (`auth_codes`).
    Codes,
    /// Refresh tokens of the 2.1 server (`refresh_tokens`).
    Refresh,
}
