//! Applications: the OAuth2 client (numeric `client_id`, secret kept as a SHA-256 digest) and the
//! optional OAuth 1.0a consumer of the same app.

use super::notify::{Revocation, Stale};
use super::{Result, Store, Tx, text_column, with_pool, with_tx};
use crate::domain::app::AppType;
use crate::domain::client_metadata::{self, AuthMethod, GrantType, RegistrationKind};

text_column!(AppType);

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct App {
    pub id: i64,
    /// `None` for a client that registered itself (migration 0012): nobody's applications page
    /// lists it.
    pub owner_id: Option<i64>,
    pub name: String,
    pub description: String,
    pub website: String,
    pub icon_url: String,
    pub app_type: AppType,
    /// Registered redirect URIs, one per line.
    pub redirect_uris: String,
    /// Registered JavaScript origins, one per line.
    pub js_origins: String,
    pub secret_digest: Vec<u8>,
    pub allow_implicit: bool,
    pub oauth1_key: Option<String>,
    pub oauth1_secret_enc: Option<Vec<u8>>,
    pub oauth1_callback: Option<String>,
    pub created_at: i64,
    /// The OAuth1 consumer secret once opened (`oauth1_secret_enc` sealed), kept with the cached
    /// entry.
    #[sqlx(skip)]
    pub oauth1_secret: super::cache::Opened,
    /// The 2.1 grant types, space-separated (migration 0012; see [`App::allows_grant`]).
    pub grant_types: String,
    pub token_endpoint_auth_method: AuthMethod,
    pub registration: RegistrationKind,
}

impl App {
    pub fn redirect_uri_list(&self) -> Vec<String> {
        lines(&self.redirect_uris)
    }

    pub fn js_origin_list(&self) -> Vec<String> {
        lines(&self.js_origins)
    }

    pub fn is_native(&self) -> bool {
        self.app_type == AppType::Native
    }

    /// The 2.1 grant types the app registered.
    pub fn grant_type_list(&self) -> Vec<GrantType> {
        client_metadata::parse_grant_types(&self.grant_types)
    }

    /// Whether the app registered `grant` (oauth21.md §2, §3: `refresh_token` yields refresh
    /// tokens without `offline_access`; `client_credentials` is for confidential clients).
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_type_list().contains(&grant)
    }

    /// A public client (`token_endpoint_auth_method` `none`): no secret, PKCE only.
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == AuthMethod::None
    }

    /// False for a client that registered itself or is known by its metadata document: the
    /// consent page says "Latchkey has not verified this app" (oauth21.md §5).
    pub fn is_verified(&self) -> bool {
        self.registration.is_verified()
    }

    /// Whether an earlier approval for `approved_redirect_uri` may stand for a request to
    /// `redirect_uri` (oauth21.md §5): never across redirect URIs for an unverified client.
    pub fn earlier_approval_covers(&self, approved_redirect_uri: &str, redirect_uri: &str) -> bool {
        self.registration
            .earlier_approval_covers(approved_redirect_uri, redirect_uri)
    }
}

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A new app: its owner and client secret digest, and the fields an owner edits.
#[derive(Debug, Clone)]
pub struct NewApp<'a> {
    pub owner_id: i64,
    pub secret_digest: &'a [u8],
    pub fields: AppChanges<'a>,
}

/// The editable fields of an app, as its owner or the CLI gives them (`admin::check_app` checks
/// them).
#[derive(Debug, Clone, Copy)]
pub struct AppInput<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub website: &'a str,
    pub icon_url: &'a str,
    pub app_type: AppType,
    pub redirect_uris: &'a [String],
    pub js_origins: &'a [String],
    pub allow_implicit: bool,
    pub oauth1_callback: Option<&'a str>,
}

/// What [`Tx::create_app`] and [`Tx::update_app`] store: the editable fields and the OAuth1
/// consumer that goes with the callback.
#[derive(Debug, Clone)]
pub struct AppChanges<'a> {
    pub input: AppInput<'a>,
    pub oauth1_key: Option<&'a str>,
    pub oauth1_secret_enc: Option<&'a [u8]>,
}

/// Binds the fields of an [`AppChanges`] to the next eleven placeholders, the consumer key and
/// secret before the callback (the order the `INSERT` and the `UPDATE` below name their columns).
macro_rules! bind_changes {
    ($query:expr, $changes:expr) => {{
        let c: &AppChanges<'_> = $changes;
        let i = &c.input;
        $query
            .bind(i.name)
            .bind(i.description)
            .bind(i.website)
            .bind(i.icon_url)
            .bind(i.app_type)
            .bind(i.redirect_uris.join("\n"))
            .bind(i.js_origins.join("\n"))
            .bind(i.allow_implicit)
            .bind(c.oauth1_key)
            .bind(c.oauth1_secret_enc)
            .bind(i.oauth1_callback)
    }};
}

pub(super) const COLUMNS: &str = "id, owner_id, name, description, website, icon_url, app_type, redirect_uris, \
     js_origins, secret_digest, allow_implicit, oauth1_key, oauth1_secret_enc, oauth1_callback, created_at, \
     grant_types, token_endpoint_auth_method, registration";

impl Tx<'_> {
    pub async fn create_app(&mut self, new: &NewApp<'_>, now: i64) -> Result<App> {
        let sql = format!(
            "INSERT INTO apps (owner_id, secret_digest, name, description, website, icon_url, \
             app_type, redirect_uris, js_origins, allow_implicit, oauth1_key, oauth1_secret_enc, \
             oauth1_callback, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             RETURNING {COLUMNS}"
        );
        Ok(with_tx!(self, |tx| {
            let query = sqlx::query_as(&sql)
                .bind(new.owner_id)
                .bind(new.secret_digest);
            bind_changes!(query, &new.fields)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
        }))
    }
}

impl Store {
    pub async fn app_by_id(&self, id: i64) -> Result<Option<App>> {
        let sql = format!("SELECT {COLUMNS} FROM apps WHERE id = $1");
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
        }))
    }

    pub async fn app_by_consumer_key(&self, key: &str) -> Result<Option<App>> {
        let sql = format!("SELECT {COLUMNS} FROM apps WHERE oauth1_key = $1");
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql).bind(key).fetch_optional(pool).await?
        }))
    }

    /// Every app, or those of one owner, oldest first.
    pub async fn list_apps(&self, owner_id: Option<i64>) -> Result<Vec<App>> {
        let sql =
            format!("SELECT {COLUMNS} FROM apps WHERE $1 IS NULL OR owner_id = $1 ORDER BY id");
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(&sql).bind(owner_id).fetch_all(pool).await?
        }))
    }
}

impl Tx<'_> {
    /// Replaces the client secret; the old one stops working at once.
    pub async fn set_app_secret(&mut self, app_id: i64, secret_digest: &[u8]) -> Result<bool> {
        let sql = "UPDATE apps SET secret_digest = $1 WHERE id = $2";
        self.set_app_field(sql, secret_digest, app_id).await
    }

    /// Runs `sql`, an `UPDATE apps` of one field to `$1` for the app `$2`, and tells every
    /// instance that its cached copy of the app is stale, so the change holds at once everywhere.
    /// Whether the app was changed.
    pub(super) async fn set_app_field<'v, T>(
        &mut self,
        sql: &'static str,
        value: T,
        app_id: i64,
    ) -> Result<bool>
    where
        T: 'v
            + Send
            + sqlx::Encode<'v, sqlx::Sqlite>
            + sqlx::Type<sqlx::Sqlite>
            + sqlx::Encode<'v, sqlx::Postgres>
            + sqlx::Type<sqlx::Postgres>,
    {
        let done = with_tx!(self, |tx| {
            sqlx::query(sql)
                .bind(value)
                .bind(app_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        self.announce(Stale::Consumer(app_id)).await?;
        Ok(done > 0)
    }

    /// Replaces the editable fields of an app (everything but its owner and client secret).
    pub async fn update_app(
        &mut self,
        app_id: i64,
        changes: &AppChanges<'_>,
    ) -> Result<Option<App>> {
        let sql = format!(
            "UPDATE apps SET name = $1, description = $2, website = $3, icon_url = $4, app_type = $5, \
             redirect_uris = $6, js_origins = $7, allow_implicit = $8, oauth1_key = $9, \
             oauth1_secret_enc = $10, oauth1_callback = $11 WHERE id = $12 RETURNING {COLUMNS}"
        );
        let updated = with_tx!(self, |tx| {
            bind_changes!(sqlx::query_as(&sql), changes)
                .bind(app_id)
                .fetch_optional(&mut *tx)
                .await?
        });
        self.announce(Stale::Consumer(app_id)).await?;
        Ok(updated)
    }

    /// Replaces the sealed OAuth1 consumer secret; the consumer key stays.
    pub async fn set_consumer_secret(&mut self, app_id: i64, sealed: &[u8]) -> Result<bool> {
        let sql = "UPDATE apps SET oauth1_secret_enc = $1 WHERE id = $2 AND oauth1_key IS NOT NULL";
        self.set_app_field(sql, sealed, app_id).await
    }

    /// Deletes the app; its grants, codes and tokens go with it (foreign keys cascade).
    pub async fn delete_app(&mut self, app_id: i64) -> Result<bool> {
        let done = with_tx!(self, |tx| {
            sqlx::query("DELETE FROM apps WHERE id = $1")
                .bind(app_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        self.announce(Revocation::App(app_id)).await?;
        Ok(done > 0)
    }

    /// Keeps (or replaces) the icon fetched from `icon.source_url` for the app.
    pub async fn set_app_icon(&mut self, app_id: i64, icon: &AppIcon, now: i64) -> Result<()> {
        with_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO app_icons (app_id, source_url, content_type, bytes, fetched_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (app_id) DO UPDATE SET \
                 source_url = excluded.source_url, content_type = excluded.content_type, \
                 bytes = excluded.bytes, fetched_at = excluded.fetched_at",
            )
            .bind(app_id)
            .bind(&icon.source_url)
            .bind(&icon.content_type)
            .bind(&icon.bytes)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    pub async fn delete_app_icon(&mut self, app_id: i64) -> Result<()> {
        with_tx!(self, |tx| {
            sqlx::query("DELETE FROM app_icons WHERE app_id = $1")
                .bind(app_id)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }
}

/// An app's icon as Latchkey fetched it (migration 0008).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppIcon {
    pub source_url: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Store {
    pub async fn app_icon(&self, app_id: i64) -> Result<Option<AppIcon>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT source_url, content_type, bytes FROM app_icons WHERE app_id = $1",
            )
            .bind(app_id)
            .fetch_optional(pool)
            .await?
        }))
    }
}
