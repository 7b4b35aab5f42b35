//! Authorization codes (oauth2.md §3): single use, stored as a digest, bound to client, redirect
//! URI, user, blog, scope and PKCE challenge. Redemption and the token insert happen in one
//! transaction behind a conditional update, so concurrent redemptions yield exactly one token; a used
//! code stays as a tombstone so that a replay can revoke the token issued from it.

use super::notify::Revocation;
use super::tokens::{NewGrant, insert_access_token, site_admin};
use super::{Db, NewCode21, NewToken, Result, Store, StoreError, Tx, with_tx, with_writer};

/// The columns of a [`RedeemedCode`], read or returned from `auth_codes`.
macro_rules! redeemed_code {
    () => {
        concat!(
            "app_id, user_id, grant_id, site_id, scope, redirect_uri, code_challenge, ",
            site_admin!("auth_codes"),
            " AS site_admin"
        )
    };
}

/// The legacy dialect's code that may still be redeemed: this digest, unused, unexpired at `now`
/// (the placeholders bound to them).
macro_rules! claimable {
    ($digest:literal, $now:literal) => {
        concat!(
            "digest = ",
            $digest,
            " AND used_at IS NULL AND expires_at > ",
            $now,
            " AND NOT oauth21"
        )
    };
}

/// SQLite's redemption in one command on the writer connection ([`Store::redeem_at_once`]): the
/// claim, the token (only if the claim changed a row), its tie to the code and the grant's use,
/// in one transaction. `changes()` is the row count of the statement before; `last_insert_rowid()`
/// the token just inserted. sqlx binds `$n` across the statements.
const REDEEM_AT_ONCE_SQLITE: &str = concat!(
    "BEGIN IMMEDIATE; UPDATE auth_codes SET used_at = $8 WHERE ",
    claimable!("$11", "$8"),
    "; ",
    insert_access_token!(),
    "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 WHERE changes() = 1 RETURNING id; \
     UPDATE auth_codes SET token_id = last_insert_rowid() WHERE digest = $11 AND changes() = 1; \
     UPDATE grants SET last_used_at = $8 WHERE id = $4 AND changes() = 1; \
     COMMIT"
);

#[derive(Debug, Clone)]
pub struct NewCode<'a> {
    pub digest: &'a [u8],
    pub app_id: i64,
    pub user_id: i64,
    pub site_id: Option<i64>,
    pub scope: &'a str,
    pub redirect_uri: &'a str,
    pub code_challenge: Option<&'a str>,
    pub expires_at: i64,
}

/// The binding of a code, as claimed by a redemption.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RedeemedCode {
    pub app_id: i64,
    pub user_id: i64,
    pub grant_id: i64,
    pub site_id: Option<i64>,
    pub scope: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    /// Whether the user administers the code's blog at the claim (`false` without a blog).
    pub site_admin: bool,
}

/// Why a redemption produced no token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedeemRefusal<R> {
    /// No such code, or it expired unused.
    Invalid,
    /// The code was already redeemed; the token issued from it has now been revoked.
    Replayed,
    /// The code was used up by a failed attempt (a refusal with `burn`): no token came of it.
    Spent,
    /// The caller's own check refused the claimed code. `burn` keeps the code consumed.
    Rejected { reason: R, burn: bool },
}

/// The token a redemption issues; the rest of its binding comes from the claimed code.
#[derive(Debug, Clone)]
pub struct CodeToken<'a> {
    pub digest: &'a [u8],
    pub expires_at: Option<i64>,
}

impl Tx<'_> {
    /// Records a grant and the code that will redeem it.
    pub async fn grant_code(&mut self, code: &NewCode<'_>, now: i64) -> Result<i64> {
        self.insert_grant_and_code(code, None, now).await
    }

    /// Records a grant and its code, of either dialect: a 2.1 code (`code21`, whose `code` is
    /// `code`) also binds the grant's audiences, the nonce and the authentication time.
    pub(super) async fn insert_grant_and_code(
        &mut self,
        code: &NewCode<'_>,
        code21: Option<&NewCode21<'_>>,
        now: i64,
    ) -> Result<i64> {
        let resources = code21.and_then(|c| c.resources);
        let grant = NewGrant {
            resources,
            ..NewGrant::of(code.user_id, code.app_id, code.site_id, code.scope)
        };
        let grant_id = self.insert_grant(&grant, now).await?;
        with_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO auth_codes (digest, app_id, user_id, grant_id, site_id, scope, \
                 redirect_uri, code_challenge, expires_at, oauth21, resources, nonce, auth_time) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(code.digest)
            .bind(code.app_id)
            .bind(code.user_id)
            .bind(grant_id)
            .bind(code.site_id)
            .bind(code.scope)
            .bind(code.redirect_uri)
            .bind(code.code_challenge)
            .bind(code.expires_at)
            .bind(code21.is_some())
            .bind(resources)
            .bind(code21.and_then(|c| c.nonce))
            .bind(code21.map(|c| c.auth_time))
            .execute(&mut *tx)
            .await?;
        });
        Ok(grant_id)
    }

    /// Ties a redeemed code to the access token issued from it, so a replay can revoke that token.
    pub(super) async fn tie_code(&mut self, digest: &[u8], token_id: i64) -> Result<()> {
        with_tx!(self, |tx| {
            sqlx::query("UPDATE auth_codes SET token_id = $1 WHERE digest = $2")
                .bind(token_id)
                .bind(digest)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }
}

impl Store {
    /// Claims the code and issues the token that `check` builds from it, atomically. `check` sees
    /// the claimed binding and either returns the token to insert or refuses; a refusal with
    /// `burn: false` rolls the claim back so the rightful client can still redeem the code.
    pub async fn redeem_code<'a, R, F>(
        &self,
        digest: &[u8],
        now: i64,
        check: F,
    ) -> Result<std::result::Result<(RedeemedCode, i64), RedeemRefusal<R>>>
    where
        F: Fn(&RedeemedCode) -> std::result::Result<CodeToken<'a>, (R, bool)>,
    {
        if let Some(redeemed) = self.redeem_at_once(digest, now, &check).await? {
            return Ok(Ok(redeemed));
        }
        let mut tx = self.begin();
        let Some(code) = tx.claim_code(digest, now).await? else {
            return Ok(Err(tx.refuse_unclaimable(digest).await?));
        };
        let token = match check(&code) {
            Ok(token) => token,
            Err((reason, burn)) => return Ok(Err(tx.refuse_claimed(reason, burn).await?)),
        };
        let token_id = tx.issue_for_code(&code, digest, &token, now).await?;
        tx.commit().await?;
        Ok(Ok((code, token_id)))
    }
}

impl Store {
    /// SQLite's fast path of [`Store::redeem_code`] for a code that `check` accepts: the code is
    /// read on a reader, checked, then claimed and redeemed in one command on the writer
    /// connection (one round trip to its worker thread where the transaction of `redeem_code` takes
    /// six; issue 17). `None` (PostgreSQL; no such unused code; `check` refuses; another
    /// redemption claimed it first) leaves everything to `redeem_code`'s transaction, which claims
    /// before it checks and so answers refusals and replays as it always has. The code's binding
    /// never changes, so what `check` saw on the reader is what the claim claims.
    ///
    /// The command runs in a task of its own, so a cancelled request cannot stop it between its
    /// `BEGIN` and `COMMIT`; after any error the connection is closed (SQLite rolls back what a
    /// failed command left open), since sqlx does not know about this transaction.
    async fn redeem_at_once<'a, R, F>(
        &self,
        digest: &[u8],
        now: i64,
        check: &F,
    ) -> Result<Option<(RedeemedCode, i64)>>
    where
        F: Fn(&RedeemedCode) -> std::result::Result<CodeToken<'a>, (R, bool)>,
    {
        let (Db::Sqlite(pool), Some(writer)) = (&self.db, &self.writer) else {
            return Ok(None);
        };
        let code: Option<RedeemedCode> = sqlx::query_as(concat!(
            "SELECT ",
            redeemed_code!(),
            " FROM auth_codes WHERE ",
            claimable!("$1", "$2")
        ))
        .bind(digest)
        .bind(now)
        .fetch_optional(pool)
        .await?;
        let Some(code) = code else {
            return Ok(None);
        };
        let Ok(token) = check(&code) else {
            return Ok(None);
        };
        let redeem = sqlx::query_scalar::<_, i64>(REDEEM_AT_ONCE_SQLITE)
            .bind(token.digest.to_vec())
            .bind(code.app_id)
            .bind(code.user_id)
            .bind(code.grant_id)
            .bind(code.site_id)
            .bind(code.scope.clone())
            .bind("code")
            .bind(now)
            .bind(token.expires_at)
            .bind(None::<String>)
            .bind(digest.to_vec());
        let writer = writer.clone();
        let ran = tokio::spawn(async move {
            let mut conn = writer.acquire().await?;
            let ran = redeem.fetch_all(&mut *conn).await;
            if ran.is_err() {
                let _ = conn.close().await;
            }
            ran
        })
        .await
        .map_err(|e| StoreError::Internal(sqlx::Error::Protocol(format!("redeem task: {e}"))))?;
        Ok(ran?.first().map(|&token_id| (code, token_id)))
    }
}

impl Tx<'_> {
    /// Marks the unused, unexpired code with this digest used and returns its binding.
    async fn claim_code(&mut self, digest: &[u8], now: i64) -> Result<Option<RedeemedCode>> {
        Ok(with_tx!(self, |tx| {
            sqlx::query_as(concat!(
                "UPDATE auth_codes SET used_at = $2 WHERE ",
                claimable!("$1", "$2"),
                " RETURNING ",
                redeemed_code!()
            ))
            .bind(digest)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?
        }))
    }

    /// Stores the token redeemed from the claimed `code` and ties it to the code and its grant.
    async fn issue_for_code(
        &mut self,
        code: &RedeemedCode,
        digest: &[u8],
        token: &CodeToken<'_>,
        now: i64,
    ) -> Result<i64> {
        let token = NewToken {
            digest: token.digest,
            app_id: code.app_id,
            user_id: code.user_id,
            site_id: code.site_id,
            scope: &code.scope,
            origin: "code",
            expires_at: token.expires_at,
        };
        let token_id = self
            .insert_access_token(&token.row(code.grant_id), now)
            .await?;
        self.tie_code(digest, token_id).await?;
        self.touch_grant(code.grant_id, now).await?;
        Ok(token_id)
    }

    /// Ends a redemption whose code could not be claimed (both dialects): a replay of a used code
    /// revokes what it issued (RFC 6749 §4.1.2) and commits; nothing else changed anything.
    pub(super) async fn refuse_unclaimable<R>(mut self, digest: &[u8]) -> Result<RedeemRefusal<R>> {
        let used: Option<Option<i64>> = with_tx!(self, |tx| {
            sqlx::query_scalar(
                "SELECT token_id FROM auth_codes WHERE digest = $1 AND used_at IS NOT NULL",
            )
            .bind(digest)
            .fetch_optional(&mut *tx)
            .await?
        });
        let Some(token_id) = used else {
            return Ok(RedeemRefusal::Invalid);
        };
        let Some(token_id) = token_id else {
            return Ok(RedeemRefusal::Spent);
        };
        with_tx!(self, |tx| {
            sqlx::query("DELETE FROM access_tokens WHERE id = $1")
                .bind(token_id)
                .execute(&mut *tx)
                .await?;
        });
        self.announce(Revocation::Token(token_id)).await?;
        self.commit().await?;
        Ok(RedeemRefusal::Replayed)
    }

    /// Ends a redemption whose claimed code the caller's check refused (both dialects): `burn`
    /// keeps the code consumed (commits the claim), otherwise the claim is rolled back so the
    /// rightful client can still redeem it.
    pub(super) async fn refuse_claimed<R>(self, reason: R, burn: bool) -> Result<RedeemRefusal<R>> {
        if burn {
            self.commit().await?;
        }
        Ok(RedeemRefusal::Rejected { reason, burn })
    }
}

impl Store {
    /// Deletes codes past their expiry, at most `batch` rows at a time; a used code stays as a
    /// tombstone until `keep_secs` after its use. Returns how many went.
    pub async fn purge_codes(&self, now: i64, keep_secs: i64, batch: i64) -> Result<u64> {
        let done = with_writer!(self, |pool| {
            sqlx::query(
                "DELETE FROM auth_codes WHERE digest IN \
                 (SELECT digest FROM auth_codes WHERE expires_at <= $1 \
                  AND (used_at IS NULL OR used_at <= $2) LIMIT $3)",
            )
            .bind(now)
            .bind(now - keep_secs)
            .bind(batch)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done)
    }
}
