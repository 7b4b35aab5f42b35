//! OpenID Connect signing keys (migration 0011): the sealed private key and the public modulus and
//! exponent of each key, which one is current, and when the others were rotated out. This module
//! only stores what `oidc::keys` makes and seals.

use super::{Result, Store, Tx, with_pool, with_tx};

/// A signing key as stored: the private part sealed (`domain::crypto::SIGNING_KEY_CONTEXT`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SigningKey {
    pub kid: String,
    pub alg: String,
    pub private_key_enc: Vec<u8>,
    /// Base64url (no padding) big-endian modulus, as a JWK's `n`.
    pub public_n: String,
    /// Base64url (no padding) big-endian public exponent, as a JWK's `e`.
    pub public_e: String,
    pub is_current: bool,
    pub created_at: i64,
    /// When a rotation replaced it; `None` while current.
    pub retired_at: Option<i64>,
}

/// A key to store: what [`Tx::insert_first_signing_key`] and [`Tx::rotate_signing_key`] take.
#[derive(Debug, Clone, Copy)]
pub struct NewSigningKey<'a> {
    pub kid: &'a str,
    pub alg: &'a str,
    pub private_key_enc: &'a [u8],
    pub public_n: &'a str,
    pub public_e: &'a str,
}

const COLUMNS: &str = "kid, alg, private_key_enc, public_n, public_e, \
                       (is_current IS NOT NULL) AS is_current, created_at, retired_at";

impl Store {
    /// The key that signs now, if one was made.
    pub async fn current_signing_key(&self) -> Result<Option<SigningKey>> {
        let sql = format!("SELECT {COLUMNS} FROM signing_keys WHERE is_current = 1");
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql).fetch_optional(pool).await?
        }))
    }

    /// The keys a JWKS publishes: the current one first, then those retired after `retired_after`,
    /// the most recently retired first.
    pub async fn published_signing_keys(&self, retired_after: i64) -> Result<Vec<SigningKey>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM signing_keys WHERE is_current = 1 OR retired_at > $1 \
             ORDER BY (is_current IS NULL), retired_at DESC, created_at DESC, kid"
        );
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(retired_after)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Every key ever made, in the JWKS's order (`latchkey keys list`).
    pub async fn signing_keys(&self) -> Result<Vec<SigningKey>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM signing_keys \
             ORDER BY (is_current IS NULL), retired_at DESC, created_at DESC, kid"
        );
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql).fetch_all(pool).await?
        }))
    }
}

impl Tx<'_> {
    /// Stores `key` as the current key unless there is one already (another instance made it
    /// first: the unique `is_current` decides). `true` when this one was stored.
    pub async fn insert_first_signing_key(
        &mut self,
        key: &NewSigningKey<'_>,
        now: i64,
    ) -> Result<bool> {
        Ok(self
            .insert_current_key(key, now, " ON CONFLICT DO NOTHING")
            .await?
            == 1)
    }

    /// Retires the current key (if any) at `now` and makes `key` current. Returns the retired key's
    /// `kid`. Two rotations at once: the second's insert meets the first's new key on the unique
    /// `is_current` and fails, so there is never more than one current key.
    pub async fn rotate_signing_key(
        &mut self,
        key: &NewSigningKey<'_>,
        now: i64,
    ) -> Result<Option<String>> {
        let retired: Option<String> = with_tx!(self, |tx| {
            sqlx::query_scalar(
                "UPDATE signing_keys SET is_current = NULL, retired_at = $1 \
                 WHERE is_current = 1 RETURNING kid",
            )
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?
        });
        self.insert_current_key(key, now, "").await?;
        Ok(retired)
    }

    /// Inserts `key` as the current key, the statement ending with `on_conflict` (a clause or
    /// nothing); returns how many rows went in.
    async fn insert_current_key(
        &mut self,
        key: &NewSigningKey<'_>,
        now: i64,
        on_conflict: &str,
    ) -> Result<u64> {
        let sql = format!(
            "INSERT INTO signing_keys \
             (kid, alg, private_key_enc, public_n, public_e, is_current, created_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6){on_conflict}"
        );
        Ok(with_tx!(self, |tx| {
            sqlx::query(&sql)
                .bind(key.kid)
                .bind(key.alg)
                .bind(key.private_key_enc)
                .bind(key.public_n)
                .bind(key.public_e)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        }))
    }
}
