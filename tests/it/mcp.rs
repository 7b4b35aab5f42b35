//! The MCP endpoint (oauth21.md §8): JSON-RPC over the Streamable HTTP transport at
//! `/wpcom/v2/mcp/v1`, driven by hand with reqwest — the handshake, every tool, the tool errors,
//! the authorization refusals (401 with the resource metadata, 403 `insufficient_scope`),
//! revocation, bad input, and the session cap.

use latchkey::store::notify::{Revocation, Stale};
use serde_json::{Value, json};

use crate::both;
use crate::flows::*;
use crate::harness::*;
use crate::oauth21_token::Pair;

const PATH: &str = "/wpcom/v2/mcp/v1";
const VERSION: &str = "2025-11-25";

/// One MCP client: a token and, once initialized, a session.
struct Agent {
    url: String,
    token: String,
    session: Option<String>,
    next_id: i64,
    http: reqwest::Client,
}

/// The JSON-RPC message of a response: the body itself, or the last `data:` event of an SSE
/// stream that carries one.
fn message(checked: &Checked) -> Value {
    if checked.body.trim_start().starts_with('{') {
        return checked.json();
    }
    checked
        .body
        .lines()
        .rev()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|v| v.get("id").is_some())
        .unwrap_or_else(|| panic!("no JSON-RPC message in: {}", checked.body))
}

impl Agent {
    fn new(app: &TestApp, token: &str) -> Self {
        Agent {
            url: format!("{}{PATH}", app.base),
            token: token.to_owned(),
            session: None,
            next_id: 0,
            http: reqwest::Client::new(),
        }
    }

    fn request(&self, method: reqwest::Method) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .request(method, &self.url)
            .bearer_auth(&self.token);
        if let Some(session) = &self.session {
            request = request
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", VERSION);
        }
        request
    }

    async fn post(&self, body: &Value) -> Checked {
        self.request(reqwest::Method::POST)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .read()
            .await
    }

    /// Sends a request and returns the whole JSON-RPC response message.
    async fn rpc(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let body =
            json!({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params});
        let response = self.post(&body).await.assert_status(200);
        let reply = message(&response);
        assert_eq!(reply["id"], self.next_id, "{reply}");
        reply
    }

    /// `initialize`, then `notifications/initialized`; returns the initialize result.
    async fn initialize(&mut self) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": VERSION,
            "capabilities": {},
            "clientInfo": {"name": "latchkey-tests", "version": "1"},
        }});
        let response = self.post(&body).await.assert_status(200);
        self.session = Some(response.header("mcp-session-id").to_owned());
        let reply = message(&response);
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        self.post(&initialized).await.assert_status(202);
        reply["result"].clone()
    }

    /// GET: opens the server's event stream of the session (200), left open for the caller.
    async fn open_stream(&self) -> reqwest::Response {
        let stream = self
            .request(reqwest::Method::GET)
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), 200);
        stream
    }

    /// `tools/call`: the result (a tool error is a result too).
    async fn call(&mut self, tool: &str, arguments: Value) -> Value {
        let reply = self
            .rpc("tools/call", json!({"name": tool, "arguments": arguments}))
            .await;
        assert!(reply.get("error").is_none(), "{tool}: {reply}");
        reply["result"].clone()
    }

    /// A tool call that must succeed: its structured content.
    async fn ok(&mut self, tool: &str, arguments: Value) -> Value {
        let result = self.call(tool, arguments).await;
        assert_eq!(result["isError"], false, "{tool}: {result}");
        result["structuredContent"].clone()
    }

    /// A tool call that must fail as a tool: its text.
    async fn tool_error(&mut self, tool: &str, arguments: Value) -> String {
        let result = self.call(tool, arguments).await;
        assert_eq!(result["isError"], true, "{tool}: {result}");
        result["content"][0]["text"].as_str().unwrap().to_owned()
    }
}

impl TestApp {
    fn mcp_resource(&self) -> String {
        format!("{}{PATH}", self.base)
    }

    /// Alice's 2.1 token for the MCP endpoint (and, with `rest`, the REST API too).
    async fn mcp_token(&self, w: &World, scope: Option<&str>, blog: Option<i64>) -> Pair {
        let mcp = self.mcp_resource();
        let rest = format!("{}/rest/v1", self.base);
        let mut extra = vec![("resource", mcp.as_str()), ("resource", rest.as_str())];
        if let Some(scope) = scope {
            extra.push(("scope", scope));
        }
        self.grant21(w, &extra, blog).await
    }
}

fn metadata(app: &TestApp) -> String {
    format!(
        "resource_metadata=\"{}/.well-known/oauth-protected-resource{PATH}\"",
        app.base
    )
}

async fn an_agent_initializes_lists_the_tools_and_calls_each_one(app: TestApp) {
    let w = world(&app).await;
    let token = app.mcp_token(&w, None, Some(w.blog1.id)).await;
    let mut agent = Agent::new(&app, &token.access);
    let init = agent.initialize().await;
    assert_eq!(init["protocolVersion"], VERSION);
    assert_eq!(init["serverInfo"]["name"], "latchkey");
    assert!(init["capabilities"]["tools"].is_object(), "{init}");

    let tools = agent.rpc("tools/list", json!({})).await;
    let tools = tools["result"]["tools"].as_array().unwrap().clone();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for name in [
        "get_profile",
        "list_sites",
        "list_posts",
        "get_post",
        "create_post",
        "update_post",
        "list_connected_applications",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let create = tools.iter().find(|t| t["name"] == "create_post").unwrap();
    let schema = &create["inputSchema"];
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["required"], json!(["site"]), "{schema}");
    for property in ["site", "title", "content", "status"] {
        assert!(schema["properties"][property].is_object(), "{schema}");
    }

    let me = agent.ok("get_profile", json!({})).await;
    assert_eq!(me["username"], "alice");
    assert_eq!(me["token_site_id"], w.blog1.id);

    let sites = agent.ok("list_sites", json!({})).await;
    let ids: Vec<i64> = sites["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["ID"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![w.blog1.id], "the one blog chosen at consent");

    let created = agent
        .ok(
            "create_post",
            json!({"site": w.blog1.id, "title": "From an agent", "content": "<p>Hello</p>"}),
        )
        .await;
    assert_eq!(created["title"], "From an agent");
    assert_eq!(created["status"], "publish");
    assert_eq!(created["author"]["login"], "alice");
    let post_id = created["ID"].as_i64().unwrap();

    // The same post through the REST API.
    let rest = app
        .http
        .get(format!("{}/rest/v1.1/sites/{}/posts", app.base, w.blog1.id))
        .bearer_auth(&token.access)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert_eq!(rest.json()["posts"][0]["ID"], post_id);

    // The blog by its address, as the REST API's {site}.
    let read = agent
        .ok(
            "get_post",
            json!({"site": "alice.example", "post_id": post_id}),
        )
        .await;
    assert_eq!(read["content"], "<p>Hello</p>");

    let updated = agent
        .ok(
            "update_post",
            json!({"site": w.blog1.id, "post_id": post_id, "title": "Renamed", "status": "draft"}),
        )
        .await;
    assert_eq!(updated["title"], "Renamed");
    assert_eq!(updated["status"], "draft");
    assert_eq!(updated["content"], "<p>Hello</p>", "untouched field kept");

    let listed = agent
        .ok("list_posts", json!({"site": w.blog1.id, "status": "any"}))
        .await;
    assert_eq!(listed["found"], 1);
    assert_eq!(listed["posts"][0]["title"], "Renamed");
    let published = agent.ok("list_posts", json!({"site": w.blog1.id})).await;
    assert_eq!(published["found"], 0, "a draft is not listed by default");

    let apps = agent.ok("list_connected_applications", json!({})).await;
    let apps = apps["connected_applications"].as_array().unwrap();
    assert!(
        apps.iter()
            .any(|a| a["ID"].as_str() == Some(w.c1.id.to_string().as_str())),
        "{apps:?}"
    );

    // GET opens the server's stream; DELETE ends the session, which then is gone.
    let stream = agent.open_stream().await;
    assert_eq!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .split(';')
            .next(),
        Some("text/event-stream")
    );
    drop(stream);
    let deleted = agent
        .request(reqwest::Method::DELETE)
        .send()
        .await
        .unwrap()
        .read()
        .await;
    assert!(
        deleted.status == 200 || deleted.status == 202,
        "{}",
        deleted.status
    );
    let body = json!({"jsonrpc": "2.0", "id": 99, "method": "tools/list"});
    agent.post(&body).await.assert_status(404);
}
both!(an_agent_initializes_lists_the_tools_and_calls_each_one);

async fn without_a_token_for_this_endpoint_every_method_answers_401_naming_its_metadata(
    app: TestApp,
) {
    let w = world(&app).await;
    let url = format!("{}{PATH}", app.base);
    let meta = metadata(&app);
    let http = reqwest::Client::new();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": VERSION, "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    // No credentials: the challenge without an error code, on every method of the transport.
    for method in [
        reqwest::Method::POST,
        reqwest::Method::GET,
        reqwest::Method::DELETE,
    ] {
        let r = http
            .request(method.clone(), &url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(init.to_string())
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(401);
        assert_eq!(
            r.header("www-authenticate"),
            format!("Bearer {meta}, scope=\"sites posts\""),
            "{method}"
        );
    }
    // Tokens that are not good here: the invalid_token challenge.
    let rest = format!("{}/rest/v1", app.base);
    let no_resource = app.grant21(&w, &[], Some(w.blog1.id)).await;
    let rest_only = app
        .grant21(&w, &[("resource", &rest)], Some(w.blog1.id))
        .await;
    let legacy = app.issue_token(w.alice.id, w.c1.id, None).await;
    let cases = [
        ("garbage", "not-a-token".to_owned()),
        ("issued without resource", no_resource.access),
        ("for the REST API only", rest_only.access),
        ("a legacy token", legacy.token),
    ];
    for (why, token) in cases {
        let mut agent = Agent::new(&app, &token);
        agent.session = None;
        let r = agent.post(&init).await.assert_status(401);
        assert_eq!(
            r.header("www-authenticate"),
            format!("Bearer error=\"invalid_token\", {meta}, scope=\"sites posts\""),
            "{why}"
        );
        assert_eq!(r.json()["error"], "invalid_token", "{why}");
    }
    // Another scheme is no bearer token.
    let r = http
        .post(&url)
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(401);
    assert!(r.header("www-authenticate").contains("invalid_token"));
}
both!(without_a_token_for_this_endpoint_every_method_answers_401_naming_its_metadata);

async fn a_scope_too_narrow_for_a_tool_is_a_403_naming_the_scope_to_ask_for(app: TestApp) {
    let w = world(&app).await;
    let meta = metadata(&app);
    let sites_only = app.mcp_token(&w, Some("sites"), Some(w.blog1.id)).await;
    let mut agent = Agent::new(&app, &sites_only.access);
    agent.initialize().await;
    agent.ok("list_sites", json!({})).await;
    agent.ok("get_profile", json!({})).await;
    let cases = [
        (
            "create_post",
            json!({"site": w.blog1.id, "title": "x"}),
            "posts",
        ),
        ("list_posts", json!({"site": w.blog1.id}), "posts"),
        ("list_connected_applications", json!({}), "global"),
    ];
    // Every scope a 403 names is one the resource metadata lists, and so is the 401's.
    let supported = app
        .get(&format!("/.well-known/oauth-protected-resource{PATH}"))
        .await
        .read()
        .await
        .assert_status(200)
        .json()["scopes_supported"]
        .clone();
    let listed = |scope: &str| supported.as_array().unwrap().contains(&json!(scope));
    for (tool, arguments, scope) in cases {
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                          "params": {"name": tool, "arguments": arguments}});
        let r = agent.post(&body).await.assert_status(403);
        assert_eq!(
            r.header("www-authenticate"),
            format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\", {meta}"),
            "{tool}"
        );
        assert_eq!(r.json()["error"], "insufficient_scope");
        assert!(listed(scope), "{scope} not in {supported}");
    }
    assert!(["sites", "posts"].iter().all(|s| listed(s)), "{supported}");
    // An identity-only token reads the profile and nothing else.
    let auth = app.mcp_token(&w, Some("auth"), None).await;
    let mut agent = Agent::new(&app, &auth.access);
    agent.initialize().await;
    assert_eq!(
        agent.ok("get_profile", json!({})).await["username"],
        "alice"
    );
    let body = json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
                      "params": {"name": "list_sites", "arguments": {}}});
    let r = agent.post(&body).await.assert_status(403);
    assert!(r.header("www-authenticate").contains("scope=\"sites\""));
    // Nothing was written by the refused calls.
    assert_eq!(app.scalar("SELECT COUNT(*) FROM posts").await, 0);
}
both!(a_scope_too_narrow_for_a_tool_is_a_403_naming_the_scope_to_ask_for);

async fn sites_beyond_reach_missing_posts_and_bad_arguments_are_tool_errors(app: TestApp) {
    let w = world(&app).await;
    let token = app.mcp_token(&w, None, Some(w.blog1.id)).await;
    let mut agent = Agent::new(&app, &token.access);
    agent.initialize().await;
    let cases = [
        (
            "create_post",
            json!({"site": w.blog2.id, "title": "x"}),
            "unauthorized: This token is for blog",
            "another blog of the same user",
        ),
        (
            "list_posts",
            json!({"site": w.foreign.id}),
            "unauthorized:",
            "someone else's blog",
        ),
        (
            "get_post",
            json!({"site": "nowhere.example", "post_id": 1}),
            "unknown_blog:",
            "no such blog",
        ),
        (
            "get_post",
            json!({"site": w.blog1.id, "post_id": 424242}),
            "unknown_post:",
            "no such post",
        ),
        (
            "update_post",
            json!({"site": w.blog1.id, "post_id": 424242, "title": "x"}),
            "unknown_post:",
            "no such post to update",
        ),
        (
            "get_post",
            json!({"site": w.blog1.id, "post_id": "seven"}),
            "failed to deserialize parameters",
            "a post ID that is no number",
        ),
        (
            "get_post",
            json!({"site": w.blog1.id}),
            "failed to deserialize parameters",
            "a missing argument",
        ),
        (
            "create_post",
            json!({"site": w.blog1.id, "tittle": "typo"}),
            "failed to deserialize parameters",
            "an unknown argument",
        ),
        (
            "create_post",
            json!({"site": w.blog1.id, "status": "shouting"}),
            "invalid_input: The status must be one of",
            "an unknown status",
        ),
        (
            "create_post",
            json!({"site": w.blog1.id, "title": "two\nlines"}),
            "invalid_input: The \"title\" field",
            "the title is one line, as on the REST API",
        ),
        (
            "list_posts",
            json!({"site": w.blog1.id, "number": 1000}),
            "invalid_input: The number parameter",
            "the REST API's paging bounds",
        ),
    ];
    for (tool, arguments, starts, why) in cases {
        let text = agent.tool_error(tool, arguments).await;
        assert!(text.starts_with(starts), "{why}: {text}");
    }
    // An unknown tool is a JSON-RPC error, not a result.
    let reply = agent
        .rpc(
            "tools/call",
            json!({"name": "drop_tables", "arguments": {}}),
        )
        .await;
    assert_eq!(reply["error"]["code"], -32602, "{reply}");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM posts").await, 0);
}
both!(sites_beyond_reach_missing_posts_and_bad_arguments_are_tool_errors);

async fn bad_input_gets_transport_or_json_rpc_errors_never_a_500(app: TestApp) {
    let w = world(&app).await;
    let token = app.mcp_token(&w, None, Some(w.blog1.id)).await;
    let mut agent = Agent::new(&app, &token.access);
    agent.initialize().await;
    // Unknown method: JSON-RPC "method not found".
    let reply = agent.rpc("sites/destroy", json!({})).await;
    assert_eq!(reply["error"]["code"], -32601, "{reply}");
    let send = |content_type: &'static str, accept: &'static str, body: Vec<u8>| {
        agent
            .request(reqwest::Method::POST)
            .header("content-type", content_type)
            .header("accept", accept)
            .body(body)
            .send()
    };
    let list = br#"{"jsonrpc":"2.0","id":5,"method":"tools/list"}"#.to_vec();
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{{"name":"create_post","arguments":{{"site":1,"content":"{}"}}}}}}"#,
        "a".repeat(2 * 1024 * 1024)
    );
    let both = "application/json, text/event-stream";
    let batch = format!("[{}]", String::from_utf8_lossy(&list)).into_bytes();
    let cases: Vec<(&str, &str, &str, Vec<u8>, u16)> = vec![
        (
            "malformed JSON",
            "application/json",
            both,
            b"{\"jsonrpc\":".to_vec(),
            400,
        ),
        (
            "not JSON-RPC",
            "application/json",
            both,
            b"{\"hello\":1}".to_vec(),
            400,
        ),
        ("a batch", "application/json", both, batch, 400),
        (
            "a form body",
            "application/x-www-form-urlencoded",
            both,
            b"a=1".to_vec(),
            415,
        ),
        (
            "JSON only accepted",
            "application/json",
            "application/json",
            list.clone(),
            406,
        ),
        (
            "over the body limit",
            "application/json",
            both,
            big.into_bytes(),
            413,
        ),
    ];
    for (why, content_type, accept, body, status) in cases {
        let r = send(content_type, accept, body).await.unwrap().read().await;
        assert_eq!(r.status, status, "{why}: {}", r.body);
        if status == 400 {
            let code = r.json()["error"]["code"].as_i64();
            assert!(
                code == Some(-32700) || code == Some(-32600),
                "{why}: {}",
                r.body
            );
        }
    }
    // The 413 went out before the body was read, so its connection is closed: start afresh.
    agent.http = reqwest::Client::new();
    // A session ID that does not exist: 404, so the client starts again.
    agent.session = Some("no-such-session".to_owned());
    let r = agent
        .post(&json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list"}))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    // No session at all, for anything but initialize: 400.
    agent.session = None;
    let r = agent
        .post(&json!({"jsonrpc": "2.0", "id": 10, "method": "tools/list"}))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // A method the transport does not use.
    let r = agent
        .request(reqwest::Method::PUT)
        .send()
        .await
        .unwrap()
        .read()
        .await;
    assert_eq!(r.status, 405, "{}", r.body);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM posts").await, 0);
}
both!(bad_input_gets_transport_or_json_rpc_errors_never_a_500);

async fn a_revoked_token_is_refused_at_the_next_call(app: TestApp) {
    let w = world(&app).await;
    let token = app.mcp_token(&w, None, Some(w.blog1.id)).await;
    let mut agent = Agent::new(&app, &token.access);
    agent.initialize().await;
    agent.ok("get_profile", json!({})).await;
    let id = w.c1.id.to_string();
    app.http
        .post(format!("{}/oauth2-1/revoke", app.base))
        .form(&[
            ("token", token.access.as_str()),
            ("client_id", id.as_str()),
            ("client_secret", w.s1.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    let body = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                      "params": {"name": "get_profile", "arguments": {}}});
    let r = agent.post(&body).await.assert_status(401);
    assert_eq!(
        r.header("www-authenticate"),
        format!(
            "Bearer error=\"invalid_token\", {}, scope=\"sites posts\"",
            metadata(&app)
        )
    );
    // The session ended with the token it was used with: a new token finds it gone.
    let fresh = app.mcp_token(&w, None, Some(w.blog1.id)).await;
    agent.token = fresh.access;
    agent.post(&body).await.assert_status(404);
}
both!(a_revoked_token_is_refused_at_the_next_call);

async fn sessions_are_capped_and_answer_only_the_user_and_app_that_opened_them(app: TestApp) {
    let w = world(&app).await;
    let token = app.mcp_token(&w, None, Some(w.blog1.id)).await;
    let mut first = Agent::new(&app, &token.access);
    first.initialize().await;
    let mut second = Agent::new(&app, &token.access);
    second.initialize().await;
    // The cap is 2: a third initialize waits for room.
    let mut third = Agent::new(&app, &token.access);
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": VERSION, "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    let r = third.post(&init).await.assert_status(503);
    assert_eq!(r.header("retry-after"), "5");
    assert!(r.headers.get("mcp-session-id").is_none());
    // Ending one session makes room.
    first
        .request(reqwest::Method::DELETE)
        .send()
        .await
        .unwrap()
        .read()
        .await;
    third.initialize().await;
    third.ok("get_profile", json!({})).await;
    // Bob's token, good for this endpoint, cannot ride on Alice's session.
    let bob = app.issue_token(w.bob.id, w.c1.id, None).await;
    let mcp = app.mcp_resource();
    app.scalar(&format!(
        "UPDATE access_tokens SET audiences = '{mcp}' WHERE id = {} RETURNING id",
        bob.grant.token_id
    ))
    .await;
    let mut intruder = Agent::new(&app, &bob.token);
    intruder.session = second.session.clone();
    let body = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                      "params": {"name": "get_profile", "arguments": {}}});
    intruder.post(&body).await.assert_status(404);
    // Bob with a session of his own is fine (a slot is free again once one ends).
    second
        .request(reqwest::Method::DELETE)
        .send()
        .await
        .unwrap()
        .read()
        .await;
    intruder.session = None;
    intruder.initialize().await;
    assert_eq!(
        intruder.ok("get_profile", json!({})).await["username"],
        "bob"
    );
}
both!(
    sessions_are_capped_and_answer_only_the_user_and_app_that_opened_them,
    mcp.max_sessions = 2
);

async fn a_session_idle_past_session_idle_secs_answers_404_and_frees_its_slot(app: TestApp) {
    let w = world(&app).await;
    let token = app.mcp_token(&w, None, Some(w.blog1.id)).await;
    let mut agent = Agent::new(&app, &token.access);
    agent.initialize().await;
    // Each message starts the idle time again (the app's clock; nothing sleeps).
    for _ in 0..3 {
        app.clock.advance(59);
        agent.ok("get_profile", json!({})).await;
    }
    app.clock.advance(60);
    let call = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                      "params": {"name": "get_profile", "arguments": {}}});
    agent.post(&call).await.assert_status(404);
    // Gone for every method, as a session that never existed.
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        agent
            .request(method.clone())
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(404);
    }
    // An idle session does not hold its slot: with room for one, the next initialize is served
    // though the first session was never ended, and that one is gone when the second idles.
    agent.session = None;
    agent.initialize().await;
    agent.ok("get_profile", json!({})).await;
    let mut other = Agent::new(&app, &token.access);
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": VERSION, "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    other.post(&init).await.assert_status(503);
    app.clock.advance(60);
    other.initialize().await;
    other.ok("get_profile", json!({})).await;
    agent.post(&call).await.assert_status(404);
}
both!(
    a_session_idle_past_session_idle_secs_answers_404_and_frees_its_slot,
    mcp.session_idle_secs = 60,
    mcp.max_sessions = 1,
);

/// Reads an SSE response until the server ends it; `None` when it is still open after `wait`.
async fn stream_end(mut stream: reqwest::Response, wait: std::time::Duration) -> Option<()> {
    let drain = async { while let Ok(Some(_)) = stream.chunk().await {} };
    tokio::time::timeout(wait, drain).await.ok()
}

async fn disconnecting_the_app_closes_its_sessions_and_ends_an_open_get_stream(app: TestApp) {
    let w = world(&app).await;
    let token = app.mcp_token(&w, None, Some(w.blog1.id)).await;
    let mut agent = Agent::new(&app, &token.access);
    agent.initialize().await;
    let stream = agent.open_stream().await;
    // Another user's session stays open through Alice's disconnect.
    let bob = app.issue_token(w.bob.id, w.c1.id, None).await;
    app.scalar(&format!(
        "UPDATE access_tokens SET audiences = '{}' WHERE id = {} RETURNING id",
        app.mcp_resource(),
        bob.grant.token_id
    ))
    .await;
    let mut bobs = Agent::new(&app, &bob.token);
    bobs.initialize().await;
    let bobs_stream = bobs.open_stream().await;
    // Alice disconnects the app (the connected-applications page's write).
    commit_with(&app.store, async |tx| {
        tx.revoke_app_for_user(w.alice.id, w.c1.id).await
    })
    .await
    .unwrap();
    let waited = std::time::Duration::from_secs(10);
    assert!(
        stream_end(stream, waited).await.is_some(),
        "the GET stream outlived the disconnect"
    );
    let short = std::time::Duration::from_millis(300);
    assert!(
        stream_end(bobs_stream, short).await.is_none(),
        "Bob's stream ended too"
    );
    bobs.ok("get_profile", json!({})).await;
    // A new grant of the same user and app finds the session gone.
    let fresh = app.mcp_token(&w, None, Some(w.blog1.id)).await;
    agent.token = fresh.access;
    let call = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                      "params": {"name": "get_profile", "arguments": {}}});
    agent.post(&call).await.assert_status(404);
}
both!(disconnecting_the_app_closes_its_sessions_and_ends_an_open_get_stream);

async fn a_graceful_shutdown_ends_open_mcp_streams_without_waiting_for_the_deadline(app: TestApp) {
    let w = world(&app).await;
    let token = app.mcp_token(&w, None, Some(w.blog1.id)).await;
    // A second server on the same state, which this test shuts down. Its revocation watcher,
    // once listening, clears the shared cache (`Revocation::All`), which also ends every MCP
    // session: the agent starts only after that.
    let mut notices = app.store.validation_cache().subscribe();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(latchkey::server::run(
        listener,
        app.state.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let watching = async {
        loop {
            match notices.recv().await {
                Ok(Stale::Tokens(Revocation::All)) => break,
                Ok(_) => {}
                Err(e) => panic!("notices: {e}"),
            }
        }
    };
    tokio::time::timeout(PATIENCE, watching)
        .await
        .expect("the second server's revocation watcher listens");
    let mut agent = Agent::new(&app, &token.access);
    agent.url = format!("{base}{PATH}");
    agent.initialize().await;
    let stream = agent.open_stream().await;
    stop.send(()).unwrap();
    // Well inside the 10 s drain deadline: the open stream does not hold the shutdown.
    let wait = std::time::Duration::from_secs(5);
    let exited = tokio::time::timeout(wait, served).await;
    assert!(
        exited.is_ok(),
        "the server waited for its deadline with an MCP stream open"
    );
    exited.unwrap().unwrap().unwrap();
    assert!(stream_end(stream, wait).await.is_some(), "the stream ended");
}
both!(a_graceful_shutdown_ends_open_mcp_streams_without_waiting_for_the_deadline);

const INSPECTOR: &str = "http://localhost:6274";

async fn browser_clients_of_a_trusted_origin_get_cors_answers_and_other_origins_none(app: TestApp) {
    let w = world(&app).await;
    let token = app.mcp_token(&w, None, Some(w.blog1.id)).await;
    let url = app.mcp_resource();
    let allow = |r: &Checked| {
        r.headers
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let list = |r: &Checked, name: &str| -> Vec<String> {
        r.header(name)
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .collect()
    };
    let preflight = |origin: &str| {
        app.http
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, mcp-session-id, mcp-protocol-version, last-event-id",
            )
            .send()
    };
    // A preflight carries no token: answered before the guard, for the configured origin and
    // the public URL's.
    for origin in [INSPECTOR, app.base.as_str()] {
        let r = preflight(origin).await.unwrap().read().await;
        assert!(r.status < 300, "{origin}: {}", r.status);
        assert_eq!(allow(&r).as_deref(), Some(origin));
        let headers = list(&r, "access-control-allow-headers");
        for wanted in [
            "authorization",
            "content-type",
            "mcp-session-id",
            "mcp-protocol-version",
            "last-event-id",
        ] {
            assert!(headers.iter().any(|h| h == wanted), "{wanted}: {headers:?}");
        }
        let methods = list(&r, "access-control-allow-methods");
        for wanted in ["get", "post", "delete"] {
            assert!(methods.iter().any(|m| m == wanted), "{wanted}: {methods:?}");
        }
        assert!(r.headers.get("access-control-allow-credentials").is_none());
    }
    // An actual request: the session header and the challenge are readable.
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": VERSION, "capabilities": {},
        "clientInfo": {"name": "inspector", "version": "1"}}});
    let post = |origin: &str, bearer: Option<&str>| {
        let mut request = app
            .http
            .post(&url)
            .header("origin", origin)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(init.to_string());
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send()
    };
    let r = post(INSPECTOR, Some(&token.access))
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert_eq!(allow(&r).as_deref(), Some(INSPECTOR));
    assert!(!r.header("mcp-session-id").is_empty());
    let exposed = list(&r, "access-control-expose-headers");
    for wanted in ["mcp-session-id", "www-authenticate"] {
        assert!(exposed.iter().any(|h| h == wanted), "{wanted}: {exposed:?}");
    }
    let r = post(INSPECTOR, None)
        .await
        .unwrap()
        .read()
        .await
        .assert_status(401);
    assert_eq!(allow(&r).as_deref(), Some(INSPECTOR));
    assert!(r.header("www-authenticate").contains("resource_metadata="));
    let r = app
        .http
        .get(format!(
            "{}/.well-known/oauth-protected-resource{PATH}",
            app.base
        ))
        .header("origin", INSPECTOR)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert_eq!(allow(&r).as_deref(), Some(INSPECTOR));
    // Any other origin: no CORS answer, and the Origin check (DNS-rebinding protection) refuses
    // its requests even with a good token.
    let evil = "http://evil.example";
    let r = preflight(evil).await.unwrap().read().await;
    assert_eq!(allow(&r), None);
    let r = post(evil, Some(&token.access))
        .await
        .unwrap()
        .read()
        .await
        .assert_status(403);
    assert_eq!(allow(&r), None);
    assert!(r.headers.get("mcp-session-id").is_none());
}
both!(
    browser_clients_of_a_trusted_origin_get_cors_answers_and_other_origins_none,
    mcp.allowed_origins = vec!["http://localhost:6274".to_owned()],
);

async fn the_consent_page_says_in_plain_words_that_an_ai_agent_will_act_and_what_it_may_do(
    app: TestApp,
) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let mcp = app.mcp_resource();
    let page = |extra: Vec<(&'static str, String)>| {
        let extra: Vec<(&str, &str)> = extra.iter().map(|(n, v)| (*n, v.as_str())).collect();
        crate::oauth21_authorize::q21(w.c1.id, &extra)
    };
    let full = app
        .authorize21(&browser, &page(vec![("resource", mcp.clone())]))
        .await
        .read()
        .await
        .assert_status(200);
    assert!(full.body.contains("id=\"mcp-agent\""), "{}", full.body);
    assert!(full.body.contains("is an AI agent"));
    assert!(full.body.contains("the site you choose below"));
    for line in [
        "Read your profile",
        "Write new posts there and change existing ones",
        "See the list of applications connected to your account",
    ] {
        assert!(full.body.contains(line), "{line}");
    }
    // A narrower scope: only what it allows is promised.
    let narrow = app
        .authorize21(
            &browser,
            &page(vec![
                ("resource", mcp.clone()),
                ("scope", "sites".to_owned()),
            ]),
        )
        .await
        .read()
        .await
        .assert_status(200);
    assert!(narrow.body.contains("See which of your sites it can reach"));
    assert!(!narrow.body.contains("Write new posts there"));
    assert!(
        !narrow
            .body
            .contains("applications connected to your account")
    );
    // Not for the MCP endpoint: no agent note.
    let rest = app
        .authorize21(&browser, &page(vec![]))
        .await
        .read()
        .await
        .assert_status(200);
    assert!(!rest.body.contains("mcp-agent"));
}
both!(the_consent_page_says_in_plain_words_that_an_ai_agent_will_act_and_what_it_may_do);
