//! `latchkey app`: create, list, update, reset-secret, regenerate-consumer-secret and delete (issue
//! 14's admin CLI).

use serde_json::{Value, json};

use super::database::{self, now};
use super::{AppCommand, AppUpdate, ListArgs, output};
use crate::admin::{self, AdminError, AppInput, Result};
use crate::config::Settings;
use crate::domain::app::AppType;
use crate::domain::client_metadata::RegistrationKind;
use crate::domain::random::OsRandom;
use crate::domain::random::Random;
use crate::domain::resource;
use crate::domain::secret;
use crate::store::{App, Store};

/// The columns of `app list --table`.
const COLUMNS: &[(&str, &str)] = &[
    ("client_id", "CLIENT_ID"),
    ("name", "NAME"),
    ("owner_id", "OWNER"),
    ("type", "TYPE"),
    ("registration", "REGISTRATION"),
    ("grant_types", "GRANT_TYPES"),
    ("resources", "RESOURCES"),
    ("redirect_uris", "REDIRECT_URIS"),
    ("consumer_key", "CONSUMER_KEY"),
];

/// Runs one `app` command.
pub async fn run(settings: &Settings, store: &Store, cmd: AppCommand) -> anyhow::Result<()> {
    match cmd {
        AppCommand::Create(args) => {
            let owner = admin::find_user(store, &args.owner)
                .await
                .map_err(output::explain)?;
            let key = settings.secret_key(&OsRandom)?;
            crate::keycheck::verify(store, &key.0, now()).await?;
            let input = AppInput {
                name: &args.name,
                description: &args.description,
                website: &args.website,
                icon_url: &args.icon_url,
                app_type: args.app_type.into(),
                redirect_uris: &args.redirect_uris,
                js_origins: &args.js_origins,
                allow_implicit: !args.no_implicit,
                oauth1_callback: args.oauth1_callback.as_deref(),
            };
            let resources = resources(store, settings.base_url(), None, &args.resources)
                .await
                .map_err(output::explain)?;
            let mut tx = store.begin();
            let created = admin::create_app(
                &mut tx,
                &OsRandom,
                &key.0,
                &owner,
                &input,
                settings.base_url(),
                now(),
            )
            .await
            .map_err(output::explain)?;
            let grants = match args.grant_types.is_empty() {
                true => None,
                false => Some(
                    admin::grant_types(args.grant_types.iter().map(|g| g.as_str()))
                        .map_err(output::explain)?,
                ),
            };
            if let Some(grants) = &grants {
                tx.set_app_grant_types(created.app.id, grants).await?;
            }
            tx.set_app_resources(created.app.id, &resources, now())
                .await?;
            database::audit(&mut tx, "app_created", Some(owner.id), Some(created.app.id)).await?;
            tx.commit().await?;
            eprintln!(
                "created app {} (client_id {}); the secret is shown only now",
                created.app.name, created.app.id
            );
            let mut out = json!({
                "client_id": created.app.id.to_string(),
                "client_secret": created.client_secret,
            });
            if let Some(grants) = &grants {
                let grants: Vec<&str> = grants.iter().map(|g| g.as_str()).collect();
                out["grant_types"] = json!(grants);
            }
            if !resources.is_empty() {
                out["resources"] = json!(resources);
            }
            if let (Some(key), Some(secret)) = (&created.app.oauth1_key, &created.consumer_secret) {
                out["consumer_key"] = json!(key);
                out["consumer_secret"] = json!(secret);
            }
            output::json(&out);
        }
        AppCommand::List(args) => {
            list(store, &args).await.map_err(output::explain)?;
        }
        AppCommand::Update(args) => {
            let key = settings.secret_key(&OsRandom)?;
            update(store, &OsRandom, &key.0, settings.base_url(), args)
                .await
                .map_err(output::explain)?;
        }
        AppCommand::ResetSecret { client_id } => {
            let app = admin::find_app(store, &client_id)
                .await
                .map_err(output::explain)?;
            let mut tx = store.begin();
            let secret = admin::reset_secret(&mut tx, &OsRandom, &app)
                .await
                .map_err(output::explain)?;
            database::audit(&mut tx, "client_secret_reset", None, Some(app.id)).await?;
            tx.commit().await?;
            eprintln!("new secret for app {}; the old one no longer works", app.id);
            output::json(&json!({"client_id": app.id.to_string(), "client_secret": secret}));
        }
        AppCommand::RegenerateConsumerSecret { client_id } => {
            let app = admin::find_app(store, &client_id)
                .await
                .map_err(output::explain)?;
            let key = settings.secret_key(&OsRandom)?;
            crate::keycheck::verify(store, &key.0, now()).await?;
            let mut tx = store.begin();
            let secret = admin::regenerate_consumer_secret(&mut tx, &OsRandom, &key.0, &app)
                .await
                .map_err(output::explain)?;
            database::audit(&mut tx, "consumer_secret_reset", None, Some(app.id)).await?;
            tx.commit().await?;
            eprintln!("new consumer secret for app {}; the key stays", app.id);
            output::json(&json!({
                "client_id": app.id.to_string(),
                "consumer_key": app.oauth1_key,
                "consumer_secret": secret,
            }));
        }
        AppCommand::Delete { client_id } => {
            let app = admin::find_app(store, &client_id)
                .await
                .map_err(output::explain)?;
            let mut tx = store.begin();
            tx.delete_app(app.id).await?;
            database::audit(&mut tx, "app_deleted", app.owner_id, Some(app.id)).await?;
            tx.commit().await?;
            eprintln!("deleted app {} with its grants, codes and tokens", app.id);
            output::json(&json!({"client_id": app.id.to_string(), "deleted": true}));
        }
        AppCommand::RegistrationToken { ttl_secs } => {
            if ttl_secs < 1 {
                anyhow::bail!("--ttl-secs must be a positive number of seconds");
            }
            let token = secret::mint(secret::Kind::InitialAccess, &OsRandom);
            let expires_at = now() + ttl_secs;
            let mut tx = store.begin();
            tx.create_registration_token(&secret::digest(&token), now(), expires_at)
                .await?;
            database::audit(&mut tx, "registration_token_created", None, None).await?;
            tx.commit().await?;
            if settings.oauth21.registration != crate::config::Registration::Token {
                eprintln!(
                    "note: oauth21.registration is not \"token\": the server does not ask for this token"
                );
            }
            eprintln!("the token is shown only now; it allows one registration");
            output::json(&json!({"registration_token": token, "expires_at": expires_at}));
        }
    }
    Ok(())
}

/// An app as the CLI prints it: never a secret. `registration` says who registered it: `manual`
/// (its owner), `dynamic` (the client itself, RFC 7591) or `metadata_document` (nobody: a Client
/// ID Metadata Document); `grant_types` are those it may use at `/oauth2-1/token`; `resources`
/// the URIs of the APIs it serves as a resource server.
pub fn app_json(a: &App, resources: &[String]) -> Value {
    let grants: Vec<&str> = a.grant_type_list().iter().map(|g| g.as_str()).collect();
    json!({
        "client_id": a.id.to_string(),
        "name": a.name,
        "owner_id": a.owner_id,
        "type": a.app_type,
        "description": a.description,
        "website": a.website,
        "icon_url": a.icon_url,
        "redirect_uris": a.redirect_uri_list(),
        "js_origins": a.js_origin_list(),
        "allow_implicit": a.allow_implicit,
        "consumer_key": a.oauth1_key,
        "oauth1_callback": a.oauth1_callback,
        "registration": a.registration.as_str(),
        "grant_types": grants,
        "resources": resources,
    })
}

/// `app list [--table]`.
///
/// A metadata-document client also shows its `client_id` URL (`metadata_url`), the name clients
/// know it by.
pub async fn list(store: &Store, args: &ListArgs) -> Result<()> {
    let mut apps = Vec::new();
    for app in store.list_apps(None).await? {
        let mut json = app_json(&app, &store.app_resources(app.id).await?);
        if app.registration == RegistrationKind::MetadataDocument {
            let url = store
                .client_registration(app.id)
                .await?
                .and_then(|r| r.metadata_url);
            json["metadata_url"] = json!(url);
        }
        apps.push(json);
    }
    output::list(&apps, COLUMNS, args.table);
    Ok(())
}

/// `app update ID [--name …] [--grant-type …] …`: the options given replace those fields (the
/// grant types as a whole list); the rest stay. The same rules as `app create` apply to the result
/// (`admin::update_app`, `admin::grant_types`).
pub async fn update(
    store: &Store,
    random: &dyn Random,
    key: &[u8; 32],
    own_origin: &str,
    args: AppUpdate,
) -> Result<()> {
    let app = admin::find_app(store, &args.client_id).await?;
    let app_type: AppType = match args.app_type {
        Some(t) => t.into(),
        None => app.app_type,
    };
    let redirect_uris = if args.redirect_uris.is_empty() {
        app.redirect_uri_list()
    } else {
        args.redirect_uris
    };
    let js_origins = match (args.no_js_origins, args.js_origins.is_empty()) {
        (true, _) => Vec::new(),
        (false, true) => app.js_origin_list(),
        (false, false) => args.js_origins,
    };
    let oauth1_callback = match (args.no_oauth1, args.oauth1_callback) {
        (true, _) => None,
        (false, Some(callback)) => Some(callback),
        (false, None) => app.oauth1_callback.clone(),
    };
    let input = AppInput {
        name: args.name.as_deref().unwrap_or(&app.name),
        description: args.description.as_deref().unwrap_or(&app.description),
        website: args.website.as_deref().unwrap_or(&app.website),
        icon_url: args.icon_url.as_deref().unwrap_or(&app.icon_url),
        app_type,
        redirect_uris: &redirect_uris,
        js_origins: &js_origins,
        allow_implicit: args.implicit.unwrap_or(app.allow_implicit),
        oauth1_callback: oauth1_callback.as_deref(),
    };
    // Checked before anything is written, like the other fields.
    let grants = match args.grant_types.is_empty() {
        true => None,
        false => Some(admin::grant_types(
            args.grant_types.iter().map(|g| g.as_str()),
        )?),
    };
    let resources = match (args.no_resources, args.resources.is_empty()) {
        (true, _) => Some(Vec::new()),
        (false, true) => None,
        (false, false) => Some(resources(store, own_origin, Some(app.id), &args.resources).await?),
    };
    let mut tx = store.begin();
    let mut updated = admin::update_app(&mut tx, random, key, &app, &input, own_origin).await?;
    if let Some(resources) = &resources {
        tx.set_app_resources(app.id, resources, now()).await?;
    }
    if let Some(grants) = &grants {
        // Announced like every app change: the validation cache drops the client at once.
        tx.set_app_grant_types(app.id, grants).await?;
        let stored: Vec<&str> = grants.iter().map(|g| g.as_str()).collect();
        updated.app.grant_types = stored.join(" ");
    }
    tx.commit().await?;
    eprintln!(
        "updated app {} (client_id {})",
        updated.app.name, updated.app.id
    );
    let mut out = app_json(&updated.app, &store.app_resources(app.id).await?);
    if let Some(secret) = updated.consumer_secret {
        eprintln!("the new OAuth1 consumer secret is shown only now");
        out["consumer_secret"] = json!(secret);
    }
    output::json(&out);
    Ok(())
}

/// The URIs of the APIs an app is to serve as a resource server (`--resource`): each well formed,
/// none of Latchkey's own (`domain::resource::registrable`) and none another app holds. Checked
/// before anything is written.
async fn resources(
    store: &Store,
    base_url: &str,
    app_id: Option<i64>,
    uris: &[String],
) -> Result<Vec<String>> {
    let invalid = |message: String| AdminError::Invalid {
        field: "resource",
        message,
    };
    let uris = resource::registrable(uris, &resource::protected(base_url))
        .map_err(|e| invalid(e.to_string()))?;
    for uri in &uris {
        if let Some(owner) = store.resource_owner(uri).await?
            && Some(owner) != app_id
        {
            return Err(invalid(format!(
                "{uri} is already the resource of app {owner}."
            )));
        }
    }
    Ok(uris)
}
