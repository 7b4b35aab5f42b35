//! The grants of the OAuth 2.1 server (oauth21.md §2–§4): its codes (with audiences, nonce and
//! authentication time), the access tokens it issues (expiring, bound to audiences), refresh tokens
//! (`refresh_tokens`), and `client_credentials` tokens that stand for an app alone.
//!
//! Refresh tokens and their rotation are in `refresh_tokens`.

use super::codes::{RedeemRefusal, RedeemedCode};
use super::tokens::{AccessTokenRow, site_admin};
use super::{NewCode, Result, Store, Tx, with_pool, with_tx};

/// A code of the 2.1 server: the legacy binding plus what the 2.1 token endpoint and the ID token
/// need.
#[derive(Debug, Clone)]
pub struct NewCode21<'a> {
    pub code: NewCode<'a>,
    /// The grant's audiences (`domain::resource::encode`).
    pub resources: Option<&'a str>,
    pub nonce: Option<&'a str>,
    /// When the user last authenticated (OIDC `auth_time`).
    pub auth_time: i64,
}

/// A claimed 2.1 code: the binding every code has, and what the 2.1 authorization request added.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Code21 {
    #[sqlx(flatten)]
    pub code: RedeemedCode,
    pub resources: Option<String>,
    pub nonce: Option<String>,
    pub auth_time: Option<i64>,
}

/// What a redemption or a refresh issues, built by the caller's check from what was claimed.
#[derive(Debug, Clone)]
pub struct Issue21 {
    pub access_digest: [u8; 32],
    pub access_expires_at: i64,
    /// The access token's scope and audiences (a refresh may narrow them).
    pub scope: String,
    pub audiences: Option<String>,
    /// A refresh token (digest, expiry); it carries the grant's full scope and audiences.
    pub refresh: Option<([u8; 32], i64)>,
}

/// The ids of what was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Issued21 {
    pub access_token_id: i64,
    pub refresh_token_id: Option<i64>,
}

/// An earlier approval ([`Store::earlier_grant`]).
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct EarlierGrant {
    pub site_id: Option<i64>,
    pub site_admin: bool,
}

/// A `client_credentials` token: the app alone, no user, no blog, no grant.
#[derive(Debug, Clone)]
pub struct NewClientToken<'a> {
    pub digest: &'a [u8],
    pub app_id: i64,
    pub scope: &'a str,
    pub audiences: Option<&'a str>,
    pub expires_at: i64,
}

impl Tx<'_> {
    /// Records a grant of the 2.1 server (with its audiences) and the code that will redeem it.
    pub async fn grant_code21(&mut self, c: &NewCode21<'_>, now: i64) -> Result<i64> {
        self.insert_grant_and_code(&c.code, Some(c), now).await
    }

    /// Stores an access token (and a refresh token, when `issue` has one) of a grant.
    #[expect(
        clippy::too_many_arguments,
        reason = "the grant's binding, spelt out for the two callers that hold it in different shapes"
    )]
    pub(super) async fn issue21(
        &mut self,
        grant_id: i64,
        app_id: i64,
        user_id: i64,
        site_id: Option<i64>,
        origin: &'static str,
        grant_scope: &str,
        grant_resources: Option<&str>,
        issue: &Issue21,
        now: i64,
    ) -> Result<Issued21> {
        let token = AccessTokenRow {
            digest: &issue.access_digest,
            app_id,
            user_id: Some(user_id),
            grant_id: Some(grant_id),
            site_id,
            scope: &issue.scope,
            origin,
            expires_at: Some(issue.access_expires_at),
            audiences: issue.audiences.as_deref(),
        };
        let access_token_id = self.insert_access_token(&token, now).await?;
        let refresh_token_id = with_tx!(self, |tx| {
            match issue.refresh {
                None => None,
                Some((digest, expires_at)) => Some(
                    sqlx::query_scalar(
                        "INSERT INTO refresh_tokens (digest, grant_id, app_id, user_id, scope, \
                         resources, access_token_id, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                    )
                    .bind(&digest[..])
                    .bind(grant_id)
                    .bind(app_id)
                    .bind(user_id)
                    .bind(grant_scope)
                    .bind(grant_resources)
                    .bind(access_token_id)
                    .bind(now)
                    .bind(expires_at)
                    .fetch_one(&mut *tx)
                    .await?,
                ),
            }
        });
        self.touch_grant(grant_id, now).await?;
        Ok(Issued21 {
            access_token_id,
            refresh_token_id,
        })
    }

    /// Stores a `client_credentials` token and returns its id.
    pub async fn issue_client_token(&mut self, t: &NewClientToken<'_>, now: i64) -> Result<i64> {
        let token = AccessTokenRow {
            digest: t.digest,
            app_id: t.app_id,
            user_id: None,
            grant_id: None,
            site_id: None,
            scope: t.scope,
            origin: "client",
            expires_at: Some(t.expires_at),
            audiences: t.audiences,
        };
        self.insert_access_token(&token, now).await
    }
}
impl Store {
    /// Claims a 2.1 code and issues what `check` builds from it, atomically (as
    /// [`Store::redeem_code`] does for the legacy dialect, whose codes this never claims).
    pub async fn redeem_code21<R, F>(
        &self,
        digest: &[u8],
        now: i64,
        check: F,
    ) -> Result<std::result::Result<(Code21, Issued21), RedeemRefusal<R>>>
    where
        F: FnOnce(&Code21) -> std::result::Result<Issue21, (R, bool)>,
    {
        let mut tx = self.begin();
        let claimed: Option<Code21> = with_tx!(tx, |conn| {
            sqlx::query_as(concat!(
                "UPDATE auth_codes SET used_at = $2 \
                 WHERE digest = $1 AND used_at IS NULL AND expires_at > $2 AND oauth21 \
                 RETURNING app_id, user_id, grant_id, site_id, scope, redirect_uri, \
                 code_challenge, resources, nonce, auth_time, ",
                site_admin!("auth_codes"),
                " AS site_admin"
            ))
            .bind(digest)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?
        });
        let Some(code) = claimed else {
            return Ok(Err(tx.refuse_unclaimable(digest).await?));
        };
        let issue = match check(&code) {
            Ok(issue) => issue,
            Err((reason, burn)) => return Ok(Err(tx.refuse_claimed(reason, burn).await?)),
        };
        let (bound, resources) = (&code.code, code.resources.as_deref());
        let issued = tx
            .issue21(
                bound.grant_id,
                bound.app_id,
                bound.user_id,
                bound.site_id,
                "code",
                &bound.scope,
                resources,
                &issue,
                now,
            )
            .await?;
        tx.tie_code(digest, issued.access_token_id).await?;
        tx.commit().await?;
        Ok(Ok((code, issued)))
    }

    /// An earlier grant of the user to the app for exactly this scope and these audiences (its blog,
    /// and whether the user still administers it), which `/oauth2-1/authorize` takes as consent
    /// unless `prompt=consent` (oauth21.md §2). The newest, if several.
    pub async fn earlier_grant(
        &self,
        user_id: i64,
        app_id: i64,
        scope: &str,
        resources: Option<&str>,
    ) -> Result<Option<EarlierGrant>> {
        let sql = format!(
            "SELECT g.site_id, {} AS site_admin FROM grants g \
             WHERE g.user_id = $1 AND g.app_id = $2 AND g.scope = $3 \
             AND (g.resources = $4 OR (g.resources IS NULL AND $4 IS NULL)) \
             ORDER BY g.id DESC LIMIT 1",
            site_admin!("g")
        );
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(user_id)
                .bind(app_id)
                .bind(scope)
                .bind(resources)
                .fetch_optional(pool)
                .await?
        }))
    }
}
