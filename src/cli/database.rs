//! The database as the administration commands use it: opened and migrated, the clock they stamp
//! changes with, the audit event of a change made from the command line; and the `migrate` and `gc`
//! commands.

use anyhow::Context;
use serde_json::json;

use super::output;
use crate::config::Settings;
use crate::domain::clock::{Clock, SystemClock};
use crate::store::Store;

/// `latchkey migrate`.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    store.migrate().await.context("migrating the database")?;
    eprintln!("migrations applied ({})", store.backend());
    Ok(())
}

/// `latchkey gc`: expired codes and tokens, audit events past `audit_retention`, and
/// self-registered clients nobody connected within `oauth21.unclaimed_client_ttl_secs`.
pub async fn gc(settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let pause = crate::jobs::GC_PAUSE;
    let purged = store
        .collect_garbage(now(), crate::store::gc::BATCH, pause)
        .await
        .context("collecting garbage")?;
    let audit = match settings.audit_retention {
        Some(keep) => {
            store
                .expire_audit(now() - keep, crate::store::gc::BATCH, pause)
                .await?
        }
        None => 0,
    };
    let unclaimed = store
        .purge_unclaimed_clients(
            now() - settings.oauth21.unclaimed_client_ttl_secs,
            crate::store::gc::BATCH,
        )
        .await
        .context("deleting unclaimed clients")?;
    eprintln!(
        "purged {} codes, {} tokens, {audit} audit events and {unclaimed} unclaimed clients",
        purged.codes, purged.tokens
    );
    let mut out = json!(purged);
    out["audit_events"] = json!(audit);
    out["unclaimed_clients"] = json!(unclaimed);
    output::json(&out);
    Ok(())
}

/// Opens the database and brings the schema up to date (administration commands need both).
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = Store::connect(&settings.database)
        .await
        .context("opening the database")?;
    store.migrate().await.context("migrating the database")?;
    Ok(store)
}

/// Audits a change made from the command line (`detail` says so; there is no peer), in the
/// transaction that made it.
pub async fn audit(
    tx: &mut crate::store::Tx<'_>,
    kind: &str,
    user_id: Option<i64>,
    app_id: Option<i64>,
) -> anyhow::Result<()> {
    let event = crate::store::AuditEvent {
        kind,
        user_id,
        app_id,
        peer: None,
        detail: "cli",
    };
    Ok(tx.audit(&event, now()).await?)
}

/// The time the commands stamp changes with.
pub fn now() -> i64 {
    SystemClock.now()
}
