//! 2-step authentication and application passwords: the sealed TOTP seed and the last time step
//! used, recovery-code digests, application-password hashes, and password-grant tokens tied to the
//! application password that obtained them (migration 0005).

use super::notify::Revocation;
use super::{NewToken, Result, Store, TokenGrant, Tx, with_pool, with_tx};

/// A user's 2-step state: the sealed seed (`None` when 2-step is off) and the last step accepted.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct TwoStep {
    pub totp_secret_enc: Option<Vec<u8>>,
    pub totp_last_step: Option<i64>,
}

impl TwoStep {
    pub fn enabled(&self) -> bool {
        self.totp_secret_enc.is_some()
    }
}

/// An application password as listed to its owner: never the password or its hash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppPassword {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl Store {
    pub async fn two_step(&self, user_id: i64) -> Result<TwoStep> {
        let found: Option<TwoStep> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT totp_secret_enc, totp_last_step FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(found.unwrap_or_default())
    }

    pub async fn recovery_codes_left(&self, user_id: i64) -> Result<i64> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
            )
            .bind(user_id)
            .fetch_one(pool)
            .await?
        }))
    }

    /// The user's application passwords, newest first.
    pub async fn app_passwords_of(&self, user_id: i64) -> Result<Vec<AppPassword>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, created_at, last_used_at FROM app_passwords \
                 WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// `(id, argon2id hash)` of the user's application passwords that start with `lookup`.
    pub async fn app_password_candidates(
        &self,
        user_id: i64,
        lookup: &str,
    ) -> Result<Vec<(i64, String)>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, password_hash FROM app_passwords WHERE user_id = $1 AND lookup = $2",
            )
            .bind(user_id)
            .bind(lookup)
            .fetch_all(pool)
            .await?
        }))
    }
}

impl Tx<'_> {
    /// Turns 2-step on with a sealed seed, the step of the code that confirmed it (already used) and
    /// the digests of fresh recovery codes. `false` when it was on already.
    pub async fn enable_two_step(
        &mut self,
        user_id: i64,
        secret_enc: &[u8],
        step_used: i64,
        recovery_digests: &[[u8; 32]],
        now: i64,
    ) -> Result<bool> {
        with_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE users SET totp_secret_enc = $1, totp_last_step = $2 \
                 WHERE id = $3 AND totp_secret_enc IS NULL",
            )
            .bind(secret_enc)
            .bind(step_used)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 0 {
                return Ok(false);
            }
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            for digest in recovery_digests {
                sqlx::query(
                    "INSERT INTO recovery_codes (user_id, digest, created_at) VALUES ($1, $2, $3)",
                )
                .bind(user_id)
                .bind(&digest[..])
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            Ok(true)
        })
    }

    /// Turns 2-step off: the seed and the recovery codes go.
    pub async fn disable_two_step(&mut self, user_id: i64) -> Result<()> {
        with_tx!(self, |tx| {
            sqlx::query(
                "UPDATE users SET totp_secret_enc = NULL, totp_last_step = NULL WHERE id = $1",
            )
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            Ok(())
        })
    }

    /// Marks time step `step` used, if no later or equal step was: the database decides, so two
    /// concurrent logins with the same code cannot both pass.
    pub async fn claim_totp_step(&mut self, user_id: i64, step: i64) -> Result<bool> {
        let done = with_tx!(self, |tx| {
            sqlx::query(
                "UPDATE users SET totp_last_step = $1 WHERE id = $2 \
                 AND totp_secret_enc IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < $1)",
            )
            .bind(step)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// Spends the unused recovery code with this digest; `false` if there is none.
    pub async fn use_recovery_code(
        &mut self,
        user_id: i64,
        digest: &[u8],
        now: i64,
    ) -> Result<bool> {
        let done = with_tx!(self, |tx| {
            sqlx::query(
                "UPDATE recovery_codes SET used_at = $1 \
                 WHERE user_id = $2 AND digest = $3 AND used_at IS NULL",
            )
            .bind(now)
            .bind(user_id)
            .bind(digest)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(done > 0)
    }

    pub async fn create_app_password(
        &mut self,
        user_id: i64,
        name: &str,
        lookup: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<i64> {
        Ok(with_tx!(self, |tx| {
            sqlx::query_scalar(
                "INSERT INTO app_passwords (user_id, name, lookup, password_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(user_id)
            .bind(name)
            .bind(lookup)
            .bind(password_hash)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?
        }))
    }

    pub async fn touch_app_password(&mut self, id: i64, now: i64) -> Result<()> {
        with_tx!(self, |tx| {
            sqlx::query("UPDATE app_passwords SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// Revokes one of the user's application passwords and, through the grants that name it, every
    /// token issued with it. `false` when the user has no such application password.
    /// The validation cache is cleared everywhere (`Revocation::All`): revoking an application
    /// password is rare, and its tokens are not indexed by it in the cache.
    pub async fn revoke_app_password(&mut self, user_id: i64, id: i64) -> Result<bool> {
        let revocation = Revocation::All;
        let done = with_tx!(self, |tx| {
            sqlx::query("DELETE FROM app_passwords WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        self.announce(revocation).await?;
        Ok(done > 0)
    }

    /// Like [`Tx::grant_token`], for a password grant made with an application password: the
    /// grant names it, so revoking it revokes the token. `None` when it was revoked meanwhile.
    pub async fn grant_token_with_app_password(
        &mut self,
        token: &NewToken<'_>,
        app_password_id: i64,
        now: i64,
    ) -> Result<Option<TokenGrant>> {
        let grant_id: Option<i64> = with_tx!(self, |tx| {
            sqlx::query_scalar(
                "INSERT INTO grants (user_id, app_id, site_id, scope, created_at, last_used_at, app_password_id) \
                 SELECT $1, $2, $3, $4, $5, $5, id FROM app_passwords WHERE id = $6 AND user_id = $1 \
                 RETURNING id",
            )
            .bind(token.user_id)
            .bind(token.app_id)
            .bind(token.site_id)
            .bind(token.scope)
            .bind(now)
            .bind(app_password_id)
            .fetch_optional(&mut *tx)
            .await?
        });
        let Some(grant_id) = grant_id else {
            return Ok(None);
        };
        Ok(Some(self.insert_token_grant(token, grant_id, now).await?))
    }
}
