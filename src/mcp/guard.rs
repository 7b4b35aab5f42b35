//! Authorization before any MCP work (MCP 2025-11-25, Authorization; oauth21.md §4, §8): every
//! request to the endpoint passes here first, and rmcp sees only those that may go on.
//!
//! In order: exactly one `Authorization: Bearer` header (none: 401 naming the RFC 9728 metadata;
//! two: 400 `invalid_request`); a token valid through the one validation cache, bound to this
//! endpoint's resource and standing for a user (else 401 `invalid_token`; a revocation is seen on
//! the next request, on every instance); a POST body within [`POST_BODY_LIMIT`] (else 413); a
//! `tools/call` whose tool the token's scope allows (else 403 `insufficient_scope` naming the scope
//! to ask for, `tools::missing_scope`); an `initialize` only while there is room for a session
//! (else 503); a session that is live (not ended nor idle past `mcp.session_idle_secs`) and was
//! opened by this token's user and app (else 404, for every method). The principal then
//! rides in the request's extensions, which rmcp hands to the tools with the HTTP `Parts`.
//!
//! Malformed JSON-RPC, unknown methods and tools, wrong `Content-Type` or `Accept` are left to
//! rmcp, which answers them as the Streamable HTTP transport says (400, 404 session, 405, 406,
//! 415, or a JSON-RPC error).

use std::sync::{Arc, LazyLock};

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::{SessionId, SessionManager};
use serde_json::{Value, json};

use super::sessions::{BoundedSessions, Owner};
use super::tools;
use crate::api::principal::{self, Principal};
use crate::http::body::POST_BODY_LIMIT;
use crate::oidc::discovery::{MCP_RESOURCE_PATH, resource_metadata_url};
use crate::state::AppState;

/// The scope a 401 asks for (`tools::challenge_scope`, from the per-tool scope table), worked out
/// once.
static CHALLENGE_SCOPE: LazyLock<String> = LazyLock::new(tools::challenge_scope);

/// The session header of the Streamable HTTP transport.
pub(crate) const SESSION_HEADER: &str = "mcp-session-id";

/// What the guard needs: the app and the sessions it bounds.
#[derive(Clone)]
pub(crate) struct Guard {
    pub state: AppState,
    pub sessions: Arc<BoundedSessions>,
}

/// The MCP endpoint's HTTP refusals, each with the status and challenge its spec gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No credentials at all: 401, the challenge without an error code (RFC 6750 §3.1).
    NoToken,
    /// More than one `Authorization` header: 400 `invalid_request`.
    TwoCredentials,
    /// Bad, expired, revoked, foreign-audience or userless token: 401 `invalid_token`.
    InvalidToken(String),
    /// The token's scope does not cover the tool: 403 `insufficient_scope`.
    InsufficientScope { scope: &'static str, tool: String },
    /// A body over [`POST_BODY_LIMIT`].
    TooLarge,
    /// A JSON body that does not parse: 400, JSON-RPC -32700.
    ParseError,
    /// JSON that is no single JSON-RPC 2.0 message: 400, JSON-RPC -32600.
    NotJsonRpc,
    /// No room for another session.
    Full,
    /// A session of another user or app, answered as one that does not exist.
    UnknownSession,
}

impl Refusal {
    fn challenge(&self, metadata: &str) -> Option<String> {
        let url = format!("resource_metadata=\"{metadata}\"");
        Some(match self {
            Refusal::NoToken => format!("Bearer {url}, scope=\"{}\"", *CHALLENGE_SCOPE),
            Refusal::TwoCredentials => format!("Bearer error=\"invalid_request\", {url}"),
            Refusal::InvalidToken(_) => {
                let scope = &*CHALLENGE_SCOPE;
                format!("Bearer error=\"invalid_token\", {url}, scope=\"{scope}\"")
            }
            Refusal::InsufficientScope { scope, .. } => {
                format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\", {url}")
            }
            _ => return None,
        })
    }

    fn status(&self) -> StatusCode {
        match self {
            Refusal::NoToken | Refusal::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Refusal::TwoCredentials | Refusal::ParseError | Refusal::NotJsonRpc => {
                StatusCode::BAD_REQUEST
            }
            Refusal::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Full => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::UnknownSession => StatusCode::NOT_FOUND,
        }
    }

    fn body(&self) -> Value {
        let (error, description) = match self {
            Refusal::NoToken => (
                "invalid_request",
                "This MCP endpoint needs an OAuth access token; the resource_metadata of the \
                 WWW-Authenticate header says where to get one."
                    .to_owned(),
            ),
            Refusal::TwoCredentials => (
                "invalid_request",
                "Send exactly one Authorization: Bearer header.".to_owned(),
            ),
            Refusal::InvalidToken(why) => ("invalid_token", why.clone()),
            Refusal::InsufficientScope { scope, tool } => (
                "insufficient_scope",
                format!("The tool {tool} needs the \"{scope}\" scope, which this token lacks."),
            ),
            // The transport's own errors are JSON-RPC errors without an id.
            Refusal::TooLarge => {
                return rpc_error(-32600, "The request body is too large.");
            }
            Refusal::Full => {
                return rpc_error(
                    -32000,
                    "The server has no room for another MCP session; try again shortly.",
                );
            }
            Refusal::UnknownSession => return rpc_error(-32001, "Session not found."),
            Refusal::ParseError => return rpc_error(-32700, "Parse error: the body is not JSON."),
            Refusal::NotJsonRpc => {
                return rpc_error(
                    -32600,
                    "Invalid Request: send one JSON-RPC 2.0 message (an object with \"jsonrpc\": \"2.0\").",
                );
            }
        };
        json!({ "error": error, "error_description": description })
    }

    fn into_response(self, metadata: &str) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        let headers = response.headers_mut();
        crate::http::headers::no_store(headers);
        if let Some(value) = self
            .challenge(metadata)
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if self == Refusal::Full {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(5));
        }
        response
    }
}

fn rpc_error(code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}})
}

/// The bearer token of the request, if it presents exactly one `Authorization: Bearer` header.
fn bearer(headers: &axum::http::HeaderMap) -> Result<&str, Refusal> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(Refusal::NoToken);
    };
    if values.next().is_some() {
        return Err(Refusal::TwoCredentials);
    }
    let not_bearer = || Refusal::InvalidToken("Send the token as Authorization: Bearer.".into());
    let (scheme, token) = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .ok_or_else(not_bearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(not_bearer());
    }
    Ok(token.trim())
}

/// The JSON-RPC method and, for `tools/call`, the tool of a JSON body: read to decide the scope
/// and the session cap, and to answer what is no JSON-RPC message as JSON-RPC says (-32700 for
/// what is not JSON, -32600 for JSON that is no single JSON-RPC 2.0 message: batches left MCP in
/// 2025-06-18). rmcp parses the message for real.
fn peek(body: &[u8]) -> Result<(Option<String>, Option<String>), Refusal> {
    let value = serde_json::from_slice::<Value>(body).map_err(|_| Refusal::ParseError)?;
    let Value::Object(message) = value else {
        return Err(Refusal::NotJsonRpc);
    };
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(Refusal::NotJsonRpc);
    }
    let method = message.get("method").and_then(Value::as_str);
    let tool = (method == Some("tools/call"))
        .then(|| message.get("params")?.get("name")?.as_str())
        .flatten();
    Ok((method.map(str::to_owned), tool.map(str::to_owned)))
}

/// Whether the request says its body is JSON (else rmcp answers 415).
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// The middleware in front of rmcp's service.
pub(crate) async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let state = &guard.state;
    let metadata = resource_metadata_url(&state.settings, MCP_RESOURCE_PATH);
    let (mut parts, body) = request.into_parts();
    let token = match bearer(&parts.headers) {
        Ok(token) => token,
        Err(refusal) => return refusal.into_response(&metadata),
    };
    let principal = match principal::bearer_for(state, token, &state.mcp_resource).await {
        Ok(principal) => principal,
        Err(error) if error.status.is_server_error() => return error.into_response(),
        Err(error) => return Refusal::InvalidToken(error.message).into_response(&metadata),
    };
    let owner = Owner {
        user_id: principal.user_id,
        app_id: principal.app_id,
    };
    let session = parts
        .headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(id) = &session {
        // Gone (ended, idle past `mcp.session_idle_secs`, never made) or another user's: 404 for
        // every method, DELETE included, which rmcp would otherwise accept as a no-op.
        let live = guard
            .sessions
            .has_session(&SessionId::from(id.as_str()))
            .await
            .unwrap_or(false);
        if !live || guard.sessions.owner(id).is_some_and(|o| o != owner) {
            return Refusal::UnknownSession.into_response(&metadata);
        }
        guard.sessions.used_with(id, principal.token_id);
    }
    let mut initializing = false;
    let body = if parts.method == Method::POST {
        let Ok(bytes) = axum::body::to_bytes(body, POST_BODY_LIMIT).await else {
            return Refusal::TooLarge.into_response(&metadata);
        };
        let (method, tool) = if is_json(&parts.headers) {
            match peek(&bytes) {
                Ok(peeked) => peeked,
                Err(refusal) => return refusal.into_response(&metadata),
            }
        } else {
            (None, None)
        };
        if let Some(tool) = tool
            && let Some(scope) = tools::missing_scope(&principal.scope, &tool)
        {
            return Refusal::InsufficientScope { scope, tool }.into_response(&metadata);
        }
        initializing = session.is_none() && method.as_deref() == Some("initialize");
        if initializing {
            // Idle sessions make room before the cap is judged.
            if let Err(error) = guard.sessions.sweep().await {
                tracing::warn!(%error, "closing idle MCP sessions");
            }
        }
        if initializing && guard.sessions.is_full() {
            return Refusal::Full.into_response(&metadata);
        }
        Body::from(bytes)
    } else {
        body
    };
    let token_id = principal.token_id;
    parts.extensions.insert::<Principal>(principal);
    let response = next.run(Request::from_parts(parts, body)).await;
    if initializing
        && let Some(id) = response
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
    {
        guard.sessions.bind(id, owner);
        guard.sessions.used_with(id, token_id);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_its_status_and_challenge() {
        let meta = "https://l.test/.well-known/oauth-protected-resource/wpcom/v2/mcp/v1";
        let m = format!("resource_metadata=\"{meta}\"");
        let cases = [
            (
                Refusal::NoToken,
                401,
                Some(format!("Bearer {m}, scope=\"sites posts\"")),
            ),
            (
                Refusal::TwoCredentials,
                400,
                Some(format!("Bearer error=\"invalid_request\", {m}")),
            ),
            (
                Refusal::InvalidToken("x".into()),
                401,
                Some(format!(
                    "Bearer error=\"invalid_token\", {m}, scope=\"sites posts\""
                )),
            ),
            (
                Refusal::InsufficientScope {
                    scope: "posts",
                    tool: "create_post".into(),
                },
                403,
                Some(format!(
                    "Bearer error=\"insufficient_scope\", scope=\"posts\", {m}"
                )),
            ),
            (Refusal::TooLarge, 413, None),
            (Refusal::Full, 503, None),
            (Refusal::UnknownSession, 404, None),
        ];
        for (refusal, status, challenge) in cases {
            let response = refusal.clone().into_response(meta);
            assert_eq!(response.status().as_u16(), status, "{refusal:?}");
            let got = response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(got, challenge, "{refusal:?}");
        }
    }

    #[test]
    fn only_a_tools_call_names_a_tool_and_only_json_rpc_passes() {
        let call =
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_post"}}"#;
        let want = (Some("tools/call".to_owned()), Some("get_post".to_owned()));
        assert_eq!(peek(call), Ok(want));
        let list = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"name":"x"}}"#;
        assert_eq!(peek(list), Ok((Some("tools/list".to_owned()), None)));
        assert_eq!(peek(b"[1,2"), Err(Refusal::ParseError));
        let batch = br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call"}]"#;
        assert_eq!(peek(batch), Err(Refusal::NotJsonRpc));
        assert_eq!(
            peek(br#"{"id":1,"method":"ping"}"#),
            Err(Refusal::NotJsonRpc)
        );
    }
}
