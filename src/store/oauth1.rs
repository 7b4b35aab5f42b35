//! OAuth 1.0a storage (`spec/oauth1.md` §3, §4): temporary credentials (request tokens), token
//! credentials (access tokens, each under a grant like any OAuth2 token) and the nonce register.
//! Keys are looked up by digest; secrets arrive and leave sealed, this module never sees them.

use super::tokens::NewGrant;
use super::{Result, Store, Tx, with_pool, with_tx, with_writer};

/// A request token as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RequestToken {
    pub id: i64,
    pub secret_enc: Vec<u8>,
    pub app_id: i64,
    pub callback: String,
    pub verifier_digest: Option<Vec<u8>>,
    pub verifier_enc: Option<Vec<u8>>,
    pub user_id: Option<i64>,
    pub site_id: Option<i64>,
    pub approved_at: Option<i64>,
    pub failed_verifiers: i64,
    pub expires_at: i64,
}

impl RequestToken {
    pub fn is_approved(&self) -> bool {
        self.approved_at.is_some()
    }
}

#[derive(Debug, Clone)]
pub struct NewRequestToken<'a> {
    pub digest: &'a [u8],
    pub secret_enc: &'a [u8],
    pub app_id: i64,
    pub callback: &'a str,
    pub expires_at: i64,
}

/// What the user approved on the consent page.
#[derive(Debug, Clone)]
pub struct Approval<'a> {
    pub verifier_digest: &'a [u8],
    pub verifier_enc: &'a [u8],
    pub user_id: i64,
    pub site_id: i64,
    pub callback: &'a str,
}

/// An access token as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccessToken {
    pub id: i64,
    pub secret_enc: Vec<u8>,
    pub app_id: i64,
    pub user_id: i64,
    pub site_id: Option<i64>,
    pub grant_id: i64,
    /// The secret once opened (`secret_enc` sealed), kept with the cached entry.
    #[sqlx(skip)]
    pub opened_secret: super::cache::Opened,
}

/// The access token an exchange issues.
#[derive(Debug, Clone)]
pub struct NewAccessToken<'a> {
    pub digest: &'a [u8],
    pub secret_enc: &'a [u8],
    /// The grant's scope (`""`: the full single-blog grant).
    pub scope: &'a str,
}

/// A nonce to record (RFC 5849 §3.3): unique per consumer, token, timestamp and nonce.
#[derive(Debug, Clone)]
pub struct Nonce<'a> {
    pub consumer_key: &'a str,
    /// The token key's digest, empty without a token.
    pub token: &'a [u8],
    pub timestamp: i64,
    pub nonce: &'a str,
    /// When the row may be pruned: once the timestamp has left the window.
    pub expires_at: i64,
}

/// How many wrong verifiers destroy a request token (security O110).
pub(super) const MAX_FAILED_VERIFIERS: i64 = 5;

const REQUEST_COLUMNS: &str = "id, secret_enc, app_id, callback, verifier_digest, verifier_enc, user_id, site_id, \
     approved_at, failed_verifiers, expires_at";

impl Store {
    /// The request token with this digest, expired or not (the caller tells the two apart).
    pub async fn request_token(&self, digest: &[u8]) -> Result<Option<RequestToken>> {
        let sql = format!("SELECT {REQUEST_COLUMNS} FROM oauth1_request_tokens WHERE digest = $1");
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(digest)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// The access token with this digest, if it still exists, from the database (callers go
    /// through the cache: [`Store::oauth1_access_token`]).
    pub(super) async fn oauth1_access_token_uncached(
        &self,
        digest: &[u8],
    ) -> Result<Option<AccessToken>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, secret_enc, app_id, user_id, site_id, grant_id \
                 FROM oauth1_access_tokens WHERE digest = $1",
            )
            .bind(digest)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Records a nonce atomically; `false` when it was already used (RFC 5849 §3.3). Concurrent
    /// calls share one commit (see `store::nonces`).
    pub async fn record_nonce(&self, nonce: &Nonce<'_>) -> Result<bool> {
        self.nonces.record(nonce).await
    }

    /// Deletes nonces whose timestamp has left the window and request tokens past their expiry,
    /// at most `batch` of each. Returns how many rows went (run by `store::gc`).
    pub async fn purge_oauth1(&self, now: i64, batch: i64) -> Result<u64> {
        let done = with_writer!(self, |pool| {
            let nonces = sqlx::query(
                "DELETE FROM oauth1_nonces WHERE (consumer_key, token, oauth_timestamp, nonce) IN \
                 (SELECT consumer_key, token, oauth_timestamp, nonce FROM oauth1_nonces \
                  WHERE expires_at < $1 LIMIT $2)",
            )
            .bind(now)
            .bind(batch)
            .execute(pool)
            .await?
            .rows_affected();
            let tokens = sqlx::query(
                "DELETE FROM oauth1_request_tokens WHERE id IN \
                 (SELECT id FROM oauth1_request_tokens WHERE expires_at < $1 LIMIT $2)",
            )
            .bind(now)
            .bind(batch)
            .execute(pool)
            .await?
            .rows_affected();
            nonces + tokens
        });
        Ok(done)
    }
}

impl Tx<'_> {
    pub async fn create_request_token(
        &mut self,
        new: &NewRequestToken<'_>,
        now: i64,
    ) -> Result<()> {
        with_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO oauth1_request_tokens (digest, secret_enc, app_id, callback, \
                 created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(new.digest)
            .bind(new.secret_enc)
            .bind(new.app_id)
            .bind(new.callback)
            .bind(now)
            .bind(new.expires_at)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// Records the user's approval, once: `false` when the token was already approved, has expired
    /// or is gone.
    pub async fn approve_request_token(
        &mut self,
        id: i64,
        approval: &Approval<'_>,
        now: i64,
    ) -> Result<bool> {
        let done = with_tx!(self, |tx| {
            sqlx::query(
                "UPDATE oauth1_request_tokens SET verifier_digest = $1, user_id = $2, site_id = $3, \
                 callback = $4, approved_at = $5, verifier_enc = $7 \
                 WHERE id = $6 AND approved_at IS NULL AND expires_at > $5",
            )
            .bind(approval.verifier_digest)
            .bind(approval.user_id)
            .bind(approval.site_id)
            .bind(approval.callback)
            .bind(now)
            .bind(id)
            .bind(approval.verifier_enc)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(done > 0)
    }

    pub async fn delete_request_token(&mut self, id: i64) -> Result<()> {
        with_tx!(self, |tx| {
            sqlx::query("DELETE FROM oauth1_request_tokens WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    /// Counts a wrong verifier; the token is destroyed at [`MAX_FAILED_VERIFIERS`]. Returns whether
    /// it was destroyed.
    pub async fn fail_verifier(&mut self, id: i64) -> Result<bool> {
        with_tx!(self, |tx| {
            let failures: Option<i64> = sqlx::query_scalar(
                "UPDATE oauth1_request_tokens SET failed_verifiers = failed_verifiers + 1 \
                 WHERE id = $1 RETURNING failed_verifiers",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let destroyed = failures.is_none_or(|n| n >= MAX_FAILED_VERIFIERS);
            if destroyed {
                sqlx::query("DELETE FROM oauth1_request_tokens WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            Ok(destroyed)
        })
    }

    /// Exchanges an approved request token for an access token, in one transaction: the request
    /// token is deleted (only one of several concurrent exchanges can delete it), a grant is
    /// recorded and the access token is stored under it. `None` when the request token was already
    /// exchanged, is unapproved or has expired.
    pub async fn exchange_request_token(
        &mut self,
        id: i64,
        token: &NewAccessToken<'_>,
        now: i64,
    ) -> Result<Option<AccessToken>> {
        let claimed: Option<(i64, Option<i64>, Option<i64>)> = with_tx!(self, |tx| {
            sqlx::query_as(
                "DELETE FROM oauth1_request_tokens \
                 WHERE id = $1 AND approved_at IS NOT NULL AND expires_at > $2 \
                 RETURNING app_id, user_id, site_id",
            )
            .bind(id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?
        });
        let Some((app_id, Some(user_id), site_id)) = claimed else {
            return Ok(None);
        };
        let grant = NewGrant {
            used: true,
            ..NewGrant::of(user_id, app_id, site_id, token.scope)
        };
        let grant_id = self.insert_grant(&grant, now).await?;
        with_tx!(self, |tx| {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO oauth1_access_tokens (digest, secret_enc, app_id, user_id, site_id, \
                 grant_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(token.digest)
            .bind(token.secret_enc)
            .bind(app_id)
            .bind(user_id)
            .bind(site_id)
            .bind(grant_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            Ok(Some(AccessToken {
                id,
                secret_enc: token.secret_enc.to_vec(),
                app_id,
                user_id,
                site_id,
                grant_id,
                opened_secret: Default::default(),
            }))
        })
    }
}
