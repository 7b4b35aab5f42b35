//! `latchkey app list` and `latchkey app update` (issue 14's admin CLI); the other app commands are
//! dispatched in `main`.

use serde_json::{Value, json};

use super::{AppUpdate, ListArgs, output};
use crate::admin::{self, AppInput, Result};
use crate::domain::app::AppType;
use crate::domain::random::Random;
use crate::store::{App, Store};

/// The columns of `app list --table`.
const COLUMNS: &[(&str, &str)] = &[
    ("client_id", "CLIENT_ID"),
    ("name", "NAME"),
    ("owner_id", "OWNER"),
    ("type", "TYPE"),
    ("redirect_uris", "REDIRECT_URIS"),
    ("consumer_key", "CONSUMER_KEY"),
];

/// An app as the CLI prints it: never a secret.
pub fn app_json(a: &App) -> Value {
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
    })
}

/// `app list [--table]`.
pub async fn list(store: &Store, args: &ListArgs) -> Result<()> {
    let apps: Vec<Value> = store.list_apps(None).await?.iter().map(app_json).collect();
    output::list(&apps, COLUMNS, args.table);
    Ok(())
}

/// `app update ID [--name …] …`: the options given replace those fields; the rest stay. The same
/// rules as `app create` apply to the result (`admin::update_app`).
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
    let updated = admin::update_app(store, random, key, &app, &input, own_origin).await?;
    eprintln!(
        "updated app {} (client_id {})",
        updated.app.name, updated.app.id
    );
    let mut out = app_json(&updated.app);
    if let Some(secret) = updated.consumer_secret {
        eprintln!("the new OAuth1 consumer secret is shown only now");
        out["consumer_secret"] = json!(secret);
    }
    output::json(&out);
    Ok(())
}
