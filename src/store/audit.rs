//! Audit events: logins and failed logins, 2-step changes, app changes and secret resets, grants,
//! disconnects and revocations, whoever made them (web, REST, CLI). Never a secret: an event holds
//! its kind, the user and app it concerns, the peer address and a short detail such as a scope.
//!
//! An event is written on the transaction of the change it describes ([`Tx::audit`]), so the two
//! commit together or not at all. Its commit is also where it is counted
//! (`latchkey_audit_events_total`) and where a security event (a failed login, a replayed code, a
//! refused redirect URI, …) gets its WARN line, so no call site pairs the three by hand. An event
//! that describes no write (a failed login, a lockout) is written alone ([`Store::audit_alone`]).

use super::gc::in_batches;
use super::{Result, Store, Tx, with_pool, with_tx, with_writer};

#[derive(Debug, Clone, Default)]
pub struct AuditEvent<'a> {
    pub kind: &'a str,
    pub user_id: Option<i64>,
    pub app_id: Option<i64>,
    pub peer: Option<String>,
    pub detail: &'a str,
}

impl<'a> AuditEvent<'a> {
    /// A user's approval on a consent page, in every dialect: `detail` is the scope granted
    /// (`oauth1` for OAuth1, which has none).
    pub fn consent_granted(user_id: i64, app_id: i64, detail: &'a str) -> Self {
        Self::consent("consent_granted", user_id, app_id, detail)
    }

    /// A user's denial on a consent page; `detail` as for [`Self::consent_granted`], or empty.
    pub fn consent_denied(user_id: i64, app_id: i64, detail: &'a str) -> Self {
        Self::consent("consent_denied", user_id, app_id, detail)
    }

    fn consent(kind: &'a str, user_id: i64, app_id: i64, detail: &'a str) -> Self {
        AuditEvent {
            kind,
            user_id: Some(user_id),
            app_id: Some(app_id),
            detail,
            ..Default::default()
        }
    }
}

/// One stored event, as `latchkey audit` and the Security page show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub user_id: Option<i64>,
    pub app_id: Option<i64>,
    pub peer: Option<String>,
    pub detail: String,
}

/// Which events to read; every field narrows the list.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditFilter {
    pub user_id: Option<i64>,
    pub app_id: Option<i64>,
    /// Only events at or after this Unix time.
    pub since: Option<i64>,
    pub limit: i64,
}

/// Kinds that are failed logins, counted by `latchkey_login_failures_total{reason}`.
pub(super) const LOGIN_FAILURES: &[&str] = &["login_failed", "two_step_failed", "needs_2fa"];

/// Kinds that are security events: each also gets a WARN line.
pub(super) const SECURITY_EVENTS: &[&str] = &[
    "login_failed",
    "two_step_failed",
    "needs_2fa",
    "lockout",
    "code_replayed",
    "redirect_refused",
    "refresh_token_reused",
];

/// What an event's commit counts and logs: an owned copy of the event.
#[derive(Debug)]
struct Observed {
    kind: String,
    user_id: Option<i64>,
    app_id: Option<i64>,
    peer: Option<String>,
    detail: String,
}

impl Observed {
    /// Counts the event and, for a security event, logs it at WARN (no secret is in an event).
    fn observe(&self, store: &Store) {
        let kind = self.kind.as_str();
        let metrics = store.metrics();
        metrics.count("latchkey_audit_events_total", "kind", kind);
        if LOGIN_FAILURES.contains(&kind) {
            metrics.count("latchkey_login_failures_total", "reason", kind);
        }
        if SECURITY_EVENTS.contains(&kind) {
            tracing::warn!(
                event = kind,
                user_id = self.user_id,
                app_id = self.app_id,
                peer = self.peer.as_deref(),
                detail = self.detail,
                "security event"
            );
        }
    }
}

impl Tx<'_> {
    /// Writes `event` in this transaction; it is counted and logged once the transaction commits.
    pub async fn audit(&mut self, event: &AuditEvent<'_>, now: i64) -> Result<()> {
        with_tx!(self, |tx| {
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
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        let observed = Observed {
            kind: event.kind.to_owned(),
            user_id: event.user_id,
            app_id: event.app_id,
            peer: event.peer.clone(),
            detail: event.detail.to_owned(),
        };
        self.on_commit(move |store| observed.observe(store));
        Ok(())
    }
}

impl Store {
    /// Writes an event that describes no write of its own (a failed login, a lockout, a refused
    /// redirect URI), in a transaction of one statement.
    pub async fn audit_alone(&self, event: &AuditEvent<'_>, now: i64) -> Result<()> {
        let mut tx = self.begin();
        tx.audit(event, now).await?;
        tx.commit().await
    }

    /// The newest events first, narrowed by `filter`.
    pub async fn audit_events(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let rows = with_pool!(self, |pool| {
            sqlx::query_as::<_, AuditRecord>(
                "SELECT id, at, kind, user_id, app_id, peer, detail FROM audit_events \
                 WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR app_id = $2) \
                 AND ($3 IS NULL OR at >= $3) \
                 ORDER BY at DESC, id DESC LIMIT $4",
            )
            .bind(filter.user_id)
            .bind(filter.app_id)
            .bind(filter.since)
            .bind(filter.limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Deletes events older than `before`, at most `batch` at a time (the housekeeping job).
    pub async fn purge_audit(&self, before: i64, batch: i64) -> Result<u64> {
        let done = with_writer!(self, |pool| {
            sqlx::query(
                "DELETE FROM audit_events WHERE id IN \
                 (SELECT id FROM audit_events WHERE at < $1 LIMIT $2)",
            )
            .bind(before)
            .bind(batch)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done)
    }

    /// Deletes every event older than `before`, batch after batch with `pause` between them.
    pub async fn expire_audit(
        &self,
        before: i64,
        batch: i64,
        pause: std::time::Duration,
    ) -> Result<u64> {
        in_batches(batch, pause, || self.purge_audit(before, batch)).await
    }
}
