//! The MCP endpoint at `/wpcom/v2/mcp/v1` (oauth21.md §8): MCP 2025-11-25 over the Streamable HTTP
//! transport (POST for messages, GET for the server's stream, DELETE to end a session), built on
//! the official Rust SDK, `rmcp`, whose `StreamableHttpService` is mounted in the one router.
//!
//! Choices where the specifications leave room:
//! - **Authorization first** (`guard`): nothing reaches rmcp without a token valid for this
//!   resource; the token is checked on every HTTP request through the same validation cache as the
//!   REST API, so a revocation (announced to every instance) ends the next call. A token issued
//!   without `resource`, or for other resources, is refused (oauth21.md §4). The revocation also
//!   closes, on every instance, the sessions of the grant or token it ends, and with them an open
//!   GET stream (`end_revoked_sessions`, fed by the validation cache's notices).
//! - **Scope per tool** (`tools::missing_scope`): a `tools/call` beyond the token's scope is an HTTP
//!   403 `insufficient_scope` naming the scope to ask for, before the tool runs; what a tool may
//!   touch is then the REST API's own rule (`domain::reach` through `api::sites::check`), called,
//!   not copied. Sites the token does not reach, missing posts and bad arguments are tool results
//!   with `isError`, which the model can read.
//! - **Sessions** (`sessions`): stateful, in the memory of the instance that created them (rmcp's
//!   `LocalSessionManager`), at most `mcp.max_sessions` (an `initialize` beyond answers 503 with
//!   `Retry-After`), closed after `mcp.session_idle_secs` without a message (on the app's injected
//!   clock; a request naming it then gets 404), and bound to the user
//!   and app of the token that opened them. Behind a load balancer, route by the `Mcp-Session-Id`
//!   header (or keep affinity); a client whose session is gone gets 404 and starts a new one, as
//!   the transport specifies.
//! - **Protocol versions**: 2025-11-25, and 2025-06-18 and 2025-03-26 for older clients (same
//!   lifecycle); rmcp's stateless 2026 draft is not offered.
//! - **Host and Origin**: rmcp's DNS-rebinding guard checks `Host` against loopback names by
//!   default; a public server is reached under many names behind proxies, and a bearer token in a
//!   header is what a rebinding page cannot send, so `Host` is not checked. `Origin`, when a browser
//!   sends one, must be the public URL's origin or one of `mcp.allowed_origins` (403 otherwise),
//!   as the transport asks; those same origins, and no others, get CORS answers (`cors`).
//! - **Bodies** up to the REST API's post limit (1 MiB), enough for a post's content.
//! - **Metadata**: the RFC 9728 document at `/.well-known/oauth-protected-resource/wpcom/v2/mcp/v1`
//!   is served here, its `scopes_supported` exactly the scopes the tools need
//!   (`tools::scopes_needed`, from the per-tool table), and the 401's `scope` their named part.

mod cors;
mod guard;
mod sessions;
mod tools;

pub(crate) use tools::abilities;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::get;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::http::body::POST_BODY_LIMIT;
use crate::oidc::discovery::{self, MCP_RESOURCE_PATH};
use crate::state::AppState;
use crate::store::notify::{Revocation, Stale};
use guard::Guard;
use sessions::BoundedSessions;

/// `GET /.well-known/oauth-protected-resource/wpcom/v2/mcp/v1`: the endpoint's RFC 9728 metadata.
async fn protected_resource(State(state): State<AppState>) -> Response {
    let scopes = tools::scopes_needed();
    let doc = discovery::protected_resource(&state.settings, MCP_RESOURCE_PATH, &scopes);
    discovery::cacheable(&state.settings, doc)
}

/// Closes the sessions each revocation ends, as the validation cache hears of it (a local commit
/// or another instance's announcement). A subscriber that lagged may have missed one, so it closes
/// every session, as the cache forgets everything then. Runs while the sessions exist; without a
/// runtime (a router built only to be inspected) there are no sessions to close.
fn end_revoked_sessions(state: &AppState, sessions: &Arc<BoundedSessions>) {
    use tokio::sync::broadcast::error::RecvError;
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let mut notices = state.store.validation_cache().subscribe();
    // Weak: rmcp's session workers hold the sessions, and this task must not keep them alive.
    let sessions = Arc::downgrade(sessions);
    runtime.spawn(async move {
        loop {
            let stale = match notices.recv().await {
                Ok(stale) => stale,
                Err(RecvError::Lagged(_)) => Stale::Tokens(Revocation::All),
                Err(RecvError::Closed) => break,
            };
            let Some(sessions) = sessions.upgrade() else {
                break;
            };
            sessions.close_revoked(stale).await;
        }
    });
}

/// The endpoint: the guard in front of rmcp's service, with this router's own session store; and
/// its metadata document, outside the guard.
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    let settings = &state.settings;
    let sessions = Arc::new(BoundedSessions::new(
        settings.mcp.max_sessions,
        settings.mcp.session_idle_secs,
        state.clock.clone(),
    ));
    let origins = cors::allowed_origins(settings);
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_allowed_origins(origins.clone())
        .with_max_request_body_bytes(POST_BODY_LIMIT)
        .with_cancellation_token(state.shutdown.child_token());
    end_revoked_sessions(state, &sessions);
    let for_sessions = state.clone();
    let service = StreamableHttpService::new(
        move || Ok(tools::Latchkey::new(for_sessions.clone())),
        sessions.clone(),
        config,
    );
    let guard = Guard {
        state: state.clone(),
        sessions,
    };
    let metadata = format!("/.well-known/oauth-protected-resource{MCP_RESOURCE_PATH}");
    Router::new()
        .route_service(MCP_RESOURCE_PATH, service)
        .route_layer(from_fn_with_state(guard, guard::guard))
        .route(&metadata, get(protected_resource))
        .layer(cors::layer(&origins))
}
