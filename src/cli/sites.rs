//! `latchkey site create` and `latchkey site add-user`.

use serde_json::json;

use super::database::now;
use super::{SiteCommand, output};
use crate::admin;
use crate::store::{Role, Store};

/// Runs one `site` command.
pub async fn run(store: &Store, cmd: SiteCommand) -> anyhow::Result<()> {
    match cmd {
        SiteCommand::Create {
            owner,
            url,
            name,
            jetpack,
        } => {
            let owner = admin::find_user(store, &owner)
                .await
                .map_err(output::explain)?;
            let mut tx = store.begin();
            let site = admin::create_site(&mut tx, &owner, &url, &name, jetpack, now())
                .await
                .map_err(output::explain)?;
            tx.commit().await?;
            eprintln!("created site {} ({})", site.id, site.url);
            output::json(&json!({"id": site.id, "url": site.url}));
        }
        SiteCommand::AddUser { site, user, role } => {
            let role: Role = role.into();
            let site = admin::find_site(store, &site)
                .await
                .map_err(output::explain)?;
            let user = admin::find_user(store, &user)
                .await
                .map_err(output::explain)?;
            let mut tx = store.begin();
            admin::add_member(&mut tx, &site, &user, role, now())
                .await
                .map_err(output::explain)?;
            tx.commit().await?;
            eprintln!("{} is now {} of site {}", user.username, role, site.id);
            output::json(&json!({"site_id": site.id, "user_id": user.id, "role": role.as_str()}));
        }
    }
    Ok(())
}
