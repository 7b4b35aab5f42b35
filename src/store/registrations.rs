//! Clients that registered themselves (oauth21.md §5; migration 0012): RFC 7591 registrations with
//! their RFC 7592 registration access token (a digest), clients known by a Client ID Metadata
//! Document, the initial access tokens of `registration = "token"`, and the clean-up of clients
//! nobody connected.

use super::apps::COLUMNS;
use super::gc::{BATCH_PAUSE, in_batches};
use super::notify::Stale;
use super::{App, Result, Store, Tx, text_column, with_pool, with_tx};
use crate::domain::app::AppType;
use crate::domain::client_metadata::{AuthMethod, GrantType, RegistrationKind};

text_column!(AuthMethod);
text_column!(RegistrationKind);

/// The `apps` columns of a self-registered client (it has no owner, no OAuth1 consumer, no
/// JavaScript origins and no implicit grant).
#[derive(Debug, Clone)]
pub struct ClientApp<'a> {
    pub name: &'a str,
    pub website: &'a str,
    pub icon_url: &'a str,
    pub app_type: AppType,
    pub redirect_uris: &'a [String],
    pub grant_types: &'a str,
    pub token_endpoint_auth_method: AuthMethod,
    pub registration: RegistrationKind,
}

/// What a self-registered client registered beyond the `apps` columns.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClientRegistration {
    pub app_id: i64,
    /// SHA-256 of the RFC 7592 registration access token; `None` for a metadata-document client.
    pub access_token_digest: Option<Vec<u8>>,
    pub scope: Option<String>,
    /// One per line.
    pub contacts: String,
    /// Space-separated.
    pub response_types: String,
    /// The `client_id` of a metadata-document client.
    pub metadata_url: Option<String>,
    pub metadata_expires_at: Option<i64>,
}

impl ClientRegistration {
    pub fn contact_list(&self) -> Vec<String> {
        self.contacts
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub fn response_type_list(&self) -> Vec<String> {
        self.response_types
            .split_ascii_whitespace()
            .map(str::to_owned)
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct NewRegistration<'a> {
    pub access_token_digest: Option<&'a [u8]>,
    pub scope: Option<&'a str>,
    pub contacts: &'a [String],
    pub response_types: &'a [String],
    pub metadata_url: Option<&'a str>,
    pub metadata_expires_at: Option<i64>,
}

/// Binds the `apps` columns of a [`ClientApp`] that both the `INSERT` and the `UPDATE` below set,
/// to their first seven placeholders: `name`, `website`, `icon_url`, `app_type`, `redirect_uris`,
/// `grant_types`, `token_endpoint_auth_method` (like `apps::bind_changes!`, a macro because the
/// query is a different type on each database inside `with_tx!`).
macro_rules! bind_client {
    ($query:expr, $app:expr) => {{
        let app: &ClientApp<'_> = $app;
        $query
            .bind(app.name)
            .bind(app.website)
            .bind(app.icon_url)
            .bind(app.app_type)
            .bind(app.redirect_uris.join("\n"))
            .bind(app.grant_types)
            .bind(app.token_endpoint_auth_method)
    }};
}

const REGISTRATION_COLUMNS: &str = "app_id, access_token_digest, scope, contacts, response_types, \
     metadata_url, metadata_expires_at";

impl Tx<'_> {
    /// Creates an ownerless app and its registration. `None` when a metadata-document client of
    /// the same URL was stored meanwhile (the caller drops this transaction and reads that one).
    pub async fn create_client(
        &mut self,
        app: &ClientApp<'_>,
        secret_digest: &[u8],
        registration: &NewRegistration<'_>,
        now: i64,
    ) -> Result<Option<App>> {
        let sql = format!(
            "INSERT INTO apps (name, website, icon_url, app_type, redirect_uris, grant_types, \
             token_endpoint_auth_method, owner_id, description, js_origins, secret_digest, \
             allow_implicit, created_at, registration) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, '', '', $8, $9, $10, $11) RETURNING {COLUMNS}"
        );
        let created: App = with_tx!(self, |tx| {
            bind_client!(sqlx::query_as(&sql), app)
                .bind(secret_digest)
                .bind(false)
                .bind(now)
                .bind(app.registration)
                .fetch_one(&mut *tx)
                .await?
        });
        let inserted = with_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO client_registrations (app_id, access_token_digest, scope, contacts, \
                 response_types, metadata_url, metadata_expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(created.id)
            .bind(registration.access_token_digest)
            .bind(registration.scope)
            .bind(registration.contacts.join("\n"))
            .bind(registration.response_types.join(" "))
            .bind(registration.metadata_url)
            .bind(registration.metadata_expires_at)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok((inserted == 1).then_some(created))
    }

    /// Replaces a self-registered client's metadata (RFC 7592 §2.2, or a metadata document fetched
    /// again). Its secret, registration access token and owner stay.
    pub async fn update_client(
        &mut self,
        app_id: i64,
        app: &ClientApp<'_>,
        registration: &NewRegistration<'_>,
    ) -> Result<Option<App>> {
        let sql = format!(
            "UPDATE apps SET name = $1, website = $2, icon_url = $3, app_type = $4, \
             redirect_uris = $5, grant_types = $6, token_endpoint_auth_method = $7 \
             WHERE id = $8 AND registration <> 'manual' RETURNING {COLUMNS}"
        );
        let updated: Option<App> = with_tx!(self, |tx| {
            bind_client!(sqlx::query_as(&sql), app)
                .bind(app_id)
                .fetch_optional(&mut *tx)
                .await?
        });
        if updated.is_none() {
            return Ok(None);
        }
        with_tx!(self, |tx| {
            sqlx::query(
                "UPDATE client_registrations SET scope = $1, contacts = $2, response_types = $3, \
                 metadata_expires_at = $4 WHERE app_id = $5",
            )
            .bind(registration.scope)
            .bind(registration.contacts.join("\n"))
            .bind(registration.response_types.join(" "))
            .bind(registration.metadata_expires_at)
            .bind(app_id)
            .execute(&mut *tx)
            .await?;
        });
        // Redirect URIs or the client type may have changed: drop what this instance cached.
        self.announce(Stale::Consumer(app_id)).await?;
        Ok(updated)
    }

    /// Sets the 2.1 grant types of any app (for `latchkey app create --grant-type` and the
    /// applications page; a self-registered client sets them by registering).
    pub async fn set_app_grant_types(&mut self, app_id: i64, grants: &[GrantType]) -> Result<bool> {
        let stored = grants
            .iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let sql = "UPDATE apps SET grant_types = $1 WHERE id = $2";
        self.set_app_field(sql, stored, app_id).await
    }

    /// Keeps an initial access token (its digest) until `expires_at`.
    pub async fn create_registration_token(
        &mut self,
        digest: &[u8],
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        with_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO registration_tokens (digest, created_at, expires_at) VALUES ($1, $2, $3)",
            )
            .bind(digest)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// Spends an initial access token: true once, for a live unused token, false after.
    pub async fn use_registration_token(&mut self, digest: &[u8], now: i64) -> Result<bool> {
        let done = with_tx!(self, |tx| {
            sqlx::query(
                "UPDATE registration_tokens SET used_at = $1 \
                 WHERE digest = $2 AND used_at IS NULL AND expires_at > $1",
            )
            .bind(now)
            .bind(digest)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }
}

impl Store {
    /// The registration of a self-registered client.
    pub async fn client_registration(&self, app_id: i64) -> Result<Option<ClientRegistration>> {
        let sql =
            format!("SELECT {REGISTRATION_COLUMNS} FROM client_registrations WHERE app_id = $1");
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(app_id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// The client whose `client_id` is the metadata document at `url`, with its registration.
    pub async fn client_by_metadata_url(
        &self,
        url: &str,
    ) -> Result<Option<(App, ClientRegistration)>> {
        let sql = format!(
            "SELECT {REGISTRATION_COLUMNS} FROM client_registrations WHERE metadata_url = $1"
        );
        let registration: Option<ClientRegistration> = with_pool!(self, |pool| {
            sqlx::query_as(&sql).bind(url).fetch_optional(pool).await?
        });
        let Some(registration) = registration else {
            return Ok(None);
        };
        Ok(self
            .app_by_id(registration.app_id)
            .await?
            .map(|app| (app, registration)))
    }

    /// Deletes self-registered clients created at or before `cutoff` that no user has connected
    /// (no grant: a grant is made when a user approves the consent page), at most `batch` at a
    /// time. They never had a token, but each purged client id is announced (below) so no cached
    /// client app outlives it.
    pub async fn purge_unclaimed_clients(&self, cutoff: i64, batch: i64) -> Result<u64> {
        in_batches(batch, BATCH_PAUSE, || {
            self.purge_unclaimed_batch(cutoff, batch)
        })
        .await
    }

    /// One batch of the purge, announced like any app change so no instance keeps authenticating
    /// a purged client from its cache (`cache`, [`Store::client_app`]).
    async fn purge_unclaimed_batch(&self, cutoff: i64, batch: i64) -> Result<u64> {
        let mut tx = self.begin();
        let purged: Vec<i64> = with_tx!(tx, |conn| {
            sqlx::query_scalar(
                "DELETE FROM apps WHERE id IN (SELECT a.id FROM apps a \
                 WHERE a.owner_id IS NULL AND a.registration <> 'manual' AND a.created_at <= $1 \
                 AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.app_id = a.id) LIMIT $2) \
                 RETURNING id",
            )
            .bind(cutoff)
            .bind(batch)
            .fetch_all(&mut *conn)
            .await?
        });
        for id in &purged {
            tx.announce(Stale::Consumer(*id)).await?;
        }
        tx.commit().await?;
        Ok(purged.len() as u64)
    }
}
