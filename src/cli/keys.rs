//! `latchkey keys`: the OpenID Connect signing keys (oauth21.md §6). `rotate` makes a new current
//! key; the previous one stays in the JWKS for `oauth21.key_overlap_secs`, so ID tokens it signed
//! still verify. `list` shows every key and whether the JWKS publishes it.

use std::sync::Arc;

use serde_json::{Value, json};

use super::database::now;
use super::{KeysCommand, output};
use crate::config::Settings;
use crate::domain::random::{OsRandom, Random};
use crate::oidc::keys;
use crate::store::{SigningKey, Store};

const COLUMNS: &[(&str, &str)] = &[
    ("kid", "KID"),
    ("alg", "ALG"),
    ("status", "STATUS"),
    ("created_at", "CREATED"),
    ("retired_at", "RETIRED"),
    ("published_until", "IN JWKS UNTIL"),
];

pub async fn run(settings: &Settings, store: &Store, cmd: KeysCommand) -> anyhow::Result<()> {
    let now = now();
    let overlap = settings.oauth21.key_overlap_secs;
    match cmd {
        KeysCommand::Rotate => {
            // The new private key is sealed with the server key: a CLI run holding another key
            // would make a key no server can open.
            let key = settings.secret_key(&OsRandom)?;
            crate::keycheck::verify(store, &key.0, now).await?;
            let random: Arc<dyn Random> = Arc::new(OsRandom);
            let rotated = keys::rotate(store, &key.0, &random, "cli", now).await?;
            match &rotated.retired {
                Some(old) => eprintln!(
                    "made signing key {}; {old} stays in the JWKS for {overlap} s",
                    rotated.kid
                ),
                None => eprintln!("made signing key {} (there was none)", rotated.kid),
            }
            output::json(&json!({
                "kid": rotated.kid,
                "retired_kid": rotated.retired,
                "retired_published_until": rotated.retired.as_ref().map(|_| now + overlap),
            }));
        }
        KeysCommand::List(args) => {
            let keys: Vec<Value> = store
                .signing_keys()
                .await?
                .iter()
                .map(|k| key_json(k, overlap, now))
                .collect();
            output::list(&keys, COLUMNS, args.table);
        }
    }
    Ok(())
}

/// A key as `keys list` prints it: never its private part.
fn key_json(key: &SigningKey, overlap: i64, now: i64) -> Value {
    let until = key.retired_at.map(|at| at + overlap);
    let status = match until {
        None => "current",
        Some(until) if until > now => "published",
        Some(_) => "retired",
    };
    json!({
        "kid": key.kid,
        "alg": key.alg,
        "status": status,
        "created_at": key.created_at,
        "retired_at": key.retired_at,
        "published_until": until,
    })
}
