//! `latchkey audit`: the audit trail, newest first.

use super::AuditArgs;
use super::database::now;
use super::output;
use crate::admin;
use crate::store::Store;

/// `latchkey audit`: the audit trail, newest first, as lines or (`--json`) one JSON array.
pub async fn run(store: &Store, args: AuditArgs) -> anyhow::Result<()> {
    let mut filter = crate::store::AuditFilter {
        limit: args.limit.max(1),
        ..Default::default()
    };
    if let Some(login) = &args.user {
        filter.user_id = Some(
            admin::find_user(store, login)
                .await
                .map_err(output::explain)?
                .id,
        );
    }
    if let Some(id) = &args.app {
        // A number, not a lookup: the events of a deleted app are still worth reading.
        let id = id.trim().parse::<i64>();
        filter.app_id =
            Some(id.map_err(|_| anyhow::anyhow!("--app takes a client_id (a number)"))?);
    }
    if let Some(since) = &args.since {
        filter.since = Some(crate::audit::parse_since(since, now()).map_err(anyhow::Error::msg)?);
    }
    let events = store.audit_events(&filter).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&events)?);
    } else {
        for event in &events {
            println!("{}", crate::audit::line(event));
        }
        eprintln!("{} event(s)", events.len());
    }
    Ok(())
}
