//! Bounded MCP sessions: rmcp's in-memory `LocalSessionManager`, with a cap on the number of live
//! sessions and the owner of each (the user and app whose token opened it).
//!
//! - Idle end, on the app's injected clock: a session that has seen no message for
//!   `mcp.session_idle_secs` is closed when a request names it (rmcp asks
//!   [`SessionManager::has_session`] first, and answers 404 as the transport specifies for a
//!   session that is gone) and swept before a new session is made. The inner manager's
//!   `keep_alive` timer stays as the backstop that ends a forgotten session's worker in real
//!   time; rmcp then calls [`SessionManager::close_session`], which forgets it here too.
//! - Cap: `mcp::guard` refuses an `initialize` with 503 while [`BoundedSessions::is_full`]; should
//!   two race past it, [`SessionManager::create_session`] closes the least recently used session
//!   rather than exceed `mcp.max_sessions`, so memory stays bounded whatever the clients do.
//! - Owner: a session answers only to tokens of the user and app that opened it (the MCP
//!   specification's advice to bind session IDs to the user); another token gets 404, as for a
//!   session that does not exist.
//! - Revocation: [`BoundedSessions::close_revoked`] closes the sessions a revocation ends (their
//!   owner's grant, or the access token they last used), which ends an open GET stream too; the
//!   notices come from the validation cache (`mcp::end_revoked_sessions`).
//!
//! Recency for the cap is a counter, not a clock: only the order matters there.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_core::Stream;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError,
};
use rmcp::transport::streamable_http_server::session::{
    ServerSseMessage, SessionId, SessionManager,
};

use crate::domain::clock::Clock;
use crate::store::notify::{Revocation, Stale};

/// Whose token opened a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner {
    pub user_id: i64,
    pub app_id: i64,
}

#[derive(Debug)]
struct Entry {
    owner: Option<Owner>,
    /// The access token of the session's last request.
    token_id: Option<i64>,
    last_used: u64,
    /// The clock's time (Unix seconds) of the session's last message.
    last_seen: i64,
}

pub(crate) struct BoundedSessions {
    inner: LocalSessionManager,
    max: usize,
    idle_secs: i64,
    clock: Arc<dyn Clock>,
    book: Mutex<HashMap<SessionId, Entry>>,
    tick: AtomicU64,
}

impl std::fmt::Debug for BoundedSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedSessions")
            .field("max", &self.max)
            .field("idle_secs", &self.idle_secs)
            .field("live", &self.book().len())
            .finish_non_exhaustive()
    }
}

impl BoundedSessions {
    pub(crate) fn new(max: usize, idle_secs: u64, clock: Arc<dyn Clock>) -> Self {
        let mut inner = LocalSessionManager::default();
        inner.session_config.keep_alive = Some(Duration::from_secs(idle_secs));
        Self {
            inner,
            max,
            idle_secs: i64::try_from(idle_secs).unwrap_or(i64::MAX),
            clock,
            book: Mutex::new(HashMap::new()),
            tick: AtomicU64::new(0),
        }
    }

    fn book(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Entry>> {
        // A panic while holding this lock leaves the map consistent (every update is one call).
        self.book
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn touch(&self, id: &SessionId) {
        let tick = self.tick.fetch_add(1, Ordering::Relaxed);
        let now = self.clock.now();
        if let Some(entry) = self.book().get_mut(id) {
            entry.last_used = tick;
            entry.last_seen = now;
        }
    }

    fn is_idle(&self, entry: &Entry, now: i64) -> bool {
        now.saturating_sub(entry.last_seen) >= self.idle_secs
    }

    /// Closes every session idle for `mcp.session_idle_secs` or more.
    pub(crate) async fn sweep(&self) -> Result<(), LocalSessionManagerError> {
        let now = self.clock.now();
        let idle: Vec<SessionId> = self
            .book()
            .iter()
            .filter(|(_, entry)| self.is_idle(entry, now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in idle {
            self.close_session(&id).await?;
        }
        Ok(())
    }

    /// Whether a new session would exceed the cap.
    pub(crate) fn is_full(&self) -> bool {
        self.book().len() >= self.max
    }

    /// The owner of session `id`, if it exists and has one yet.
    pub(crate) fn owner(&self, id: &str) -> Option<Owner> {
        self.book().get(id).and_then(|e| e.owner)
    }

    /// Records who opened session `id` (after its `initialize` succeeded).
    pub(crate) fn bind(&self, id: &str, owner: Owner) {
        if let Some(entry) = self.book().get_mut(id) {
            entry.owner = Some(owner);
        }
    }

    /// Records the access token a request on session `id` came with: a session ends with the
    /// token it is used with now, not with one it was refreshed away from.
    pub(crate) fn used_with(&self, id: &str, token_id: Option<i64>) {
        if let Some(entry) = self.book().get_mut(id) {
            entry.token_id = token_id;
        }
    }

    /// Closes every session `stale` ends: all of them for [`Revocation::All`], those of the
    /// owner's grant it covers, or those whose last token it names. Profile and consumer
    /// notices end none.
    pub(crate) async fn close_revoked(&self, stale: Stale) {
        let Stale::Tokens(revocation) = stale else {
            return;
        };
        let ends = |entry: &Entry| match revocation {
            Revocation::All => true,
            Revocation::Token(id) => entry.token_id == Some(id),
            _ => entry
                .owner
                .is_some_and(|o| revocation.covers_grant_of(o.user_id, o.app_id)),
        };
        let ended: Vec<SessionId> = self
            .book()
            .iter()
            .filter(|(_, entry)| ends(entry))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ended {
            if let Err(error) = self.close_session(&id).await {
                tracing::warn!(%error, "closing a revoked MCP session");
            }
        }
    }
}

impl SessionManager for BoundedSessions {
    type Error = LocalSessionManagerError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        self.sweep().await?;
        let evict = {
            let book = self.book();
            (book.len() >= self.max)
                .then(|| {
                    book.iter()
                        .min_by_key(|(_, e)| e.last_used)
                        .map(|(id, _)| id.clone())
                })
                .flatten()
        };
        if let Some(id) = evict {
            self.close_session(&id).await?;
        }
        let (id, transport) = self.inner.create_session().await?;
        let last_used = self.tick.fetch_add(1, Ordering::Relaxed);
        self.book().insert(
            id.clone(),
            Entry {
                owner: None,
                token_id: None,
                last_used,
                last_seen: self.clock.now(),
            },
        );
        Ok((id, transport))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        self.touch(id);
        self.inner.initialize_session(id, message).await
    }

    /// rmcp asks this before every request that names a session: an idle one is closed here and
    /// answered as gone (404).
    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        let now = self.clock.now();
        let idle = self
            .book()
            .get(id)
            .is_some_and(|entry| self.is_idle(entry, now));
        if idle {
            self.close_session(id).await?;
            return Ok(false);
        }
        self.inner.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.book().remove(id);
        self.inner.close_session(id).await
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.touch(id);
        self.inner.create_stream(id, message).await
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.touch(id);
        self.inner.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.touch(id);
        self.inner.create_standalone_stream(id).await
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.touch(id);
        self.inner.resume(id, last_event_id).await
    }
}
