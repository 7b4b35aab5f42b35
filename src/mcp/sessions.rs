//! Bounded MCP sessions: rmcp's in-memory `LocalSessionManager`, with a cap on the number of live
//! sessions and the owner of each (the user and app whose token opened it).
//!
//! - Idle end: the inner manager's `keep_alive` closes a session that sees no message for
//!   `mcp.session_idle_secs`; rmcp then calls [`SessionManager::close_session`], which forgets it
//!   here too.
//! - Cap: `mcp::guard` refuses an `initialize` with 503 while [`BoundedSessions::is_full`]; should
//!   two race past it, [`SessionManager::create_session`] closes the least recently used session
//!   rather than exceed `mcp.max_sessions`, so memory stays bounded whatever the clients do.
//! - Owner: a session answers only to tokens of the user and app that opened it (the MCP
//!   specification's advice to bind session IDs to the user); another token gets 404, as for a
//!   session that does not exist.
//!
//! Recency is a counter, not a clock: only the order matters.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_core::Stream;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError,
};
use rmcp::transport::streamable_http_server::session::{
    ServerSseMessage, SessionId, SessionManager,
};

/// Whose token opened a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner {
    pub user_id: i64,
    pub app_id: i64,
}

#[derive(Debug)]
struct Entry {
    owner: Option<Owner>,
    last_used: u64,
}

#[derive(Debug)]
pub(crate) struct BoundedSessions {
    inner: LocalSessionManager,
    max: usize,
    book: Mutex<HashMap<SessionId, Entry>>,
    tick: AtomicU64,
}

impl BoundedSessions {
    pub(crate) fn new(max: usize, idle: Duration) -> Self {
        let mut inner = LocalSessionManager::default();
        inner.session_config.keep_alive = Some(idle);
        Self {
            inner,
            max,
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
        if let Some(entry) = self.book().get_mut(id) {
            entry.last_used = tick;
        }
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
}

impl SessionManager for BoundedSessions {
    type Error = LocalSessionManagerError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
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
                last_used,
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

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
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
