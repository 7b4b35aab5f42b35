//! `latchkey user …` (product.md, "The binary"; issue 14's admin CLI): create, list, show, delete,
//! set-password and disable-two-step. Deleting, setting a password and turning 2-step off are
//! recorded as audit events (detail `cli`), like the same changes made on the web pages.

use serde_json::{Value, json};

use super::UserCommand;
use super::output;
use crate::admin::{self, AdminError, Result};
use crate::domain::clock::iso8601;
use crate::domain::random::Random;
use crate::store::{AuditEvent, Store, Tx, User};

/// The columns of `user list --table`.
const COLUMNS: &[(&str, &str)] = &[
    ("id", "ID"),
    ("username", "USERNAME"),
    ("email", "EMAIL"),
    ("display_name", "NAME"),
    ("two_step", "2-STEP"),
    ("created", "CREATED"),
];

pub async fn run(store: &Store, random: &dyn Random, cmd: UserCommand, now: i64) -> Result<()> {
    match cmd {
        UserCommand::Create {
            username,
            email,
            password,
            display_name,
        } => {
            let secret = output::password(password.password, password.password_stdin)?;
            let input = admin::UserInput {
                username: &username,
                email: &email,
                password: &secret,
                display_name: display_name.as_deref(),
            };
            let mut tx = store.begin();
            let user = admin::create_user(&mut tx, random, &input, now).await?;
            tx.commit().await?;
            eprintln!("created user {}", user.username);
            output::json(&json!({"id": user.id, "username": user.username}));
        }
        UserCommand::List(args) => {
            let users: Vec<Value> = store
                .list_users()
                .await?
                .into_iter()
                .map(|u| {
                    json!({
                        "id": u.id,
                        "username": u.username,
                        "email": u.email,
                        "display_name": u.display_name,
                        "two_step": u.two_step,
                        "created": iso8601(u.created_at),
                    })
                })
                .collect();
            output::list(&users, COLUMNS, args.table);
        }
        UserCommand::Show { user } => {
            let user = admin::find_user(store, &user).await?;
            output::json(&show(store, &user).await?);
        }
        UserCommand::Delete { user, force } => delete(store, &user, force, now).await?,
        UserCommand::SetPassword {
            user,
            password_stdin,
        } => {
            let user = admin::find_user(store, &user).await?;
            let secret = output::password(None, password_stdin)?;
            let mut tx = store.begin();
            admin::set_password(&mut tx, random, &user, &secret).await?;
            audit(&mut tx, "password_changed", user.id, now).await?;
            tx.commit().await?;
            eprintln!(
                "set the password of {}; their web sessions ended",
                user.username
            );
            output::json(&json!({"id": user.id, "username": user.username, "password_set": true}));
        }
        UserCommand::DisableTwoStep { user } => {
            let user = admin::find_user(store, &user).await?;
            let was_on = store.two_step(user.id).await?.enabled();
            if was_on {
                let mut tx = store.begin();
                tx.disable_two_step(user.id).await?;
                audit(&mut tx, "two_step_disabled", user.id, now).await?;
                tx.commit().await?;
                eprintln!("turned 2-step authentication off for {}", user.username);
            } else {
                eprintln!("{} had 2-step authentication off already", user.username);
            }
            output::json(
                &json!({"id": user.id, "username": user.username, "two_step": false, "changed": was_on}),
            );
        }
    }
    Ok(())
}

async fn audit(tx: &mut Tx<'_>, kind: &str, user_id: i64, now: i64) -> Result<()> {
    let event = AuditEvent {
        kind,
        user_id: Some(user_id),
        detail: "cli",
        ..Default::default()
    };
    Ok(tx.audit(&event, now).await?)
}

/// One user with what hangs off the account; never a hash, seed or secret.
async fn show(store: &Store, user: &User) -> Result<Value> {
    let two_step = store.two_step(user.id).await?;
    let sites: Vec<Value> = store
        .memberships(user.id)
        .await?
        .iter()
        .map(|m| json!({"id": m.site.id, "url": m.site.url, "role": m.role.as_str(), "owner": m.site.owner_id == user.id}))
        .collect();
    let apps: Vec<Value> = store
        .list_apps(Some(user.id))
        .await?
        .iter()
        .map(|a| json!({"client_id": a.id.to_string(), "name": a.name}))
        .collect();
    let connections: Vec<Value> = store
        .connections(user.id)
        .await?
        .iter()
        .map(|c| json!({"client_id": c.app_id.to_string(), "app": c.app_name, "site_id": c.site_id, "scope": c.scope}))
        .collect();
    let app_passwords = store.app_passwords_of(user.id).await?.len();
    Ok(json!({
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "display_name": user.display_name,
        "language": user.language,
        "created": iso8601(user.created_at),
        "two_step": two_step.enabled(),
        "recovery_codes_left": store.recovery_codes_left(user.id).await?,
        "sites": sites,
        "apps": apps,
        "connections": connections,
        "app_passwords": app_passwords,
    }))
}

/// Deletes a user. Owning sites or apps stops it unless `force`: deleting them also ends other
/// users' memberships and grants, which the operator should mean.
async fn delete(store: &Store, login: &str, force: bool, now: i64) -> Result<()> {
    let user = admin::find_user(store, login).await?;
    let sites: Vec<String> = store
        .memberships(user.id)
        .await?
        .into_iter()
        .filter(|m| m.site.owner_id == user.id)
        .map(|m| m.site.url)
        .collect();
    let apps: Vec<String> = store
        .list_apps(Some(user.id))
        .await?
        .into_iter()
        .map(|a| a.id.to_string())
        .collect();
    let owns_something = !sites.is_empty() || !apps.is_empty();
    if owns_something && !force {
        return Err(AdminError::Invalid {
            field: "user",
            message: format!(
                "{} owns {} site(s) and {} app(s); delete those first, or give --force to delete \
                 them with the user (their other members and users lose them too)",
                user.username,
                sites.len(),
                apps.len()
            ),
        });
    }
    let mut tx = store.begin();
    if !tx.delete_user(user.id).await? {
        return Err(AdminError::NotFound(format!("no user named {login:?}")));
    }
    let event = AuditEvent {
        kind: "user_deleted",
        user_id: Some(user.id),
        detail: "cli",
        ..Default::default()
    };
    tx.audit(&event, now).await?;
    tx.commit().await?;
    eprintln!(
        "deleted user {} with every grant, token, session and application password{}",
        user.username,
        if force {
            format!(", {} site(s) and {} app(s)", sites.len(), apps.len())
        } else {
            String::new()
        }
    );
    output::json(&json!({
        "id": user.id,
        "username": user.username,
        "deleted": true,
        "sites_deleted": sites,
        "apps_deleted": apps,
    }));
    Ok(())
}
