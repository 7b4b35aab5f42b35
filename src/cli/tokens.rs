//! `latchkey token revoke`: one token by value, or a user's grants.

use anyhow::Context;
use serde_json::json;

use super::database::{self, now};
use super::{RevokeArgs, output};
use crate::admin;
use crate::domain::secret::{self, Kind};
use crate::store::Store;

/// `latchkey token revoke`: one token by value, or a user's grants (for one app or all).
pub async fn revoke(store: &Store, args: RevokeArgs) -> anyhow::Result<()> {
    if let Some(token) = args.token {
        let token = if token == "-" {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim().to_owned()
        } else {
            token
        };
        if !secret::well_formed(Kind::AccessToken, &token) {
            anyhow::bail!("that is not a Latchkey access token (they start with lkat_)");
        }
        let grant = store
            .token_by_digest(&secret::digest(&token), now())
            .await?
            .context("no live access token has that value; nothing was revoked")?;
        let mut tx = store.begin();
        tx.revoke_token(grant.token_id).await?;
        database::audit(
            &mut tx,
            "token_revoked",
            Some(grant.user_id),
            Some(grant.app_id),
        )
        .await?;
        tx.commit().await?;
        eprintln!(
            "revoked the token (user {}, app {})",
            grant.user_id, grant.app_id
        );
        output::json(&json!({
            "token_id": grant.token_id,
            "user_id": grant.user_id.to_string(),
            "client_id": grant.app_id.to_string(),
            "revoked": true,
        }));
        return Ok(());
    }
    let login = args.user.context("give --token or --user")?;
    let user = admin::find_user(store, &login)
        .await
        .map_err(output::explain)?;
    let apps: Vec<i64> = match args.app {
        Some(id) => vec![
            admin::find_app(store, &id)
                .await
                .map_err(output::explain)?
                .id,
        ],
        None => {
            let mut apps: Vec<i64> = store
                .connections(user.id)
                .await?
                .iter()
                .map(|c| c.app_id)
                .collect();
            apps.sort_unstable();
            apps.dedup();
            apps
        }
    };
    let mut grants = 0;
    let mut tx = store.begin();
    for &app_id in &apps {
        grants += tx.revoke_app_for_user(user.id, app_id).await?;
        database::audit(&mut tx, "app_disconnected", Some(user.id), Some(app_id)).await?;
    }
    tx.commit().await?;
    eprintln!(
        "revoked {grants} grant(s) of {} for {} app(s)",
        user.username,
        apps.len()
    );
    output::json(&json!({
        "user_id": user.id.to_string(),
        "client_ids": apps.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "grants": grants,
    }));
    Ok(())
}
