//! Audit events: logins, failed logins, grants, revocations, secret resets. Never a secret.

use super::{Result, Store, with_pool};

#[derive(Debug, Clone, Default)]
pub struct AuditEvent<'a> {
    pub kind: &'a str,
    pub user_id: Option<i64>,
    pub app_id: Option<i64>,
    pub peer: Option<String>,
    pub detail: &'a str,
}

impl Store {
    pub async fn audit(&self, event: &AuditEvent<'_>, now: i64) -> Result<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO audit_events (at, kind, user_id, app_id, peer, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(now)
            .bind(event.kind)
            .bind(event.user_id)
            .bind(event.app_id)
            .bind(event.peer.as_deref())
            .bind(event.detail)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }
}
