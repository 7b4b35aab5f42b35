//! Interoperability of the MCP endpoint with the official MCP TypeScript SDK's client (npm
//! `@modelcontextprotocol/sdk`, unmodified, with its OAuth client provider; oauth21.md §8), driven
//! by `tests/interop/mcp_agent.mjs` against the real `latchkey` binary: discovery from the 401,
//! registration (a Client ID Metadata Document, then separately RFC 7591), consent through the
//! browser steps, `tools/list`, a `tools/call` that creates a post read back at `/rest/v1.1`, token
//! expiry and refresh, and a call after the user disconnects the agent failing with 401.
//!
//! The server runs as its own process with a configuration file of its own: access tokens of the
//! 2.1 server live [`TOKEN_TTL_SECS`], so the SDK meets an expired token within the test, and
//! `oauth21.metadata_document_allow_loopback` lets Latchkey fetch the document the script serves on
//! a loopback port. Unlike the other Node interoperability tests, this one fails rather than skips
//! when the SDK is not installed: it is the only end-to-end proof of the MCP endpoint.
//!
//! Each run writes its HTTP transcript (secrets masked) into a temporary folder, or into
//! `$MCP_TRANSCRIPT_DIR` when set (as `<backend>-<registration>.txt`).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use latchkey::domain::app::AppType;

use crate::both;
use crate::flows::ALICE_PASSWORD;
use crate::harness::*;

/// The lifetime of the 2.1 server's access tokens in this test.
const TOKEN_TTL_SECS: u64 = 2;
const INTEROP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");

/// A `latchkey serve` process on the test's database, killed when dropped.
struct Server {
    base: String,
    _child: tokio::process::Child,
    _config: tempfile::TempDir,
}

impl Server {
    /// Writes a configuration file for `database_url` and starts the binary with it; returns once
    /// the server is ready.
    async fn start(database_url: &str) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let config = tempfile::tempdir().unwrap();
        let file = config.path().join("latchkey.toml");
        std::fs::write(
            &file,
            format!(
                "database_url = {database_url:?}\n\
                 listen = \"127.0.0.1:{port}\"\n\
                 public_url = {base:?}\n\
                 secret_key = \"{}\"\n\
                 \n\
                 [oauth21]\n\
                 access_token_ttl_secs = {TOKEN_TTL_SECS}\n\
                 metadata_document_allow_loopback = true\n",
                "11".repeat(32)
            ),
        )
        .unwrap();
        let log = config.path().join("serve.log");
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_latchkey"));
        // The file alone configures the server (LATCHKEY_* variables would override it).
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("LATCHKEY_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .arg("--config")
            .arg(&file)
            .arg("serve")
            .current_dir(config.path())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let client = new_browser();
        let start = std::time::Instant::now();
        loop {
            let answer = client.get(format!("{base}/health/ready")).send().await;
            if answer.is_ok_and(|r| r.status() == 200) {
                break;
            }
            let exited = child.try_wait().unwrap();
            assert!(
                exited.is_none() && start.elapsed() < 3 * PATIENCE,
                "latchkey serve is not ready ({exited:?}):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Server {
            base,
            _child: child,
            _config: config,
        }
    }
}

/// Runs the agent once with `registration`; returns the JSON line it printed and the transcript.
async fn run_agent(
    server: &Server,
    registration: &str,
    rest_token: &str,
    transcript: PathBuf,
) -> (serde_json::Value, String) {
    let mut command = std::process::Command::new("node");
    command
        .arg("mcp_agent.mjs")
        .current_dir(INTEROP_DIR)
        .env("LATCHKEY_URL", &server.base)
        .env("REGISTRATION", registration)
        .env("USERNAME", "alice")
        .env("PASSWORD", ALICE_PASSWORD)
        .env("REST_TOKEN", rest_token)
        .env("WAIT_SECS", (TOKEN_TTL_SECS + 1).to_string())
        .env("TRANSCRIPT", &transcript);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot run node (Node 20 is needed): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let recorded = std::fs::read_to_string(&transcript).unwrap_or_default();
    assert!(
        output.status.success(),
        "mcp_agent.mjs ({registration}) failed\nstderr:\n{stderr}\nstdout:\n{stdout}\ntranscript:\n{recorded}"
    );
    let result = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (result, recorded)
}

async fn the_official_mcp_sdk_client_registers_consents_calls_a_tool_refreshes_and_is_cut_off_by_a_disconnect(
    app: TestApp,
) {
    let sdk = Path::new(INTEROP_DIR).join("node_modules/@modelcontextprotocol/sdk");
    assert!(
        sdk.is_dir(),
        "the MCP TypeScript SDK is not installed: run `npm ci --prefix tests/interop` (.ci/run does)"
    );
    let alice = app.user("alice", ALICE_PASSWORD).await;
    let site = app.site(&alice, "https://alice.example").await;
    // A REST API token of alice's: the agent's tokens are for the MCP endpoint only.
    let (reader, _) = app
        .app(&alice, &["https://reader.example/cb"], AppType::Web)
        .await;
    let rest_token = app.issue_token(alice.id, reader.id, None).await.token;
    let server = Server::start(&app.state.settings.database.url).await;
    let folder = tempfile::tempdir().unwrap();
    let out = std::env::var_os("MCP_TRANSCRIPT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| folder.path().to_path_buf());
    let backend = format!("{:?}", app.backend).to_lowercase();

    let mut client_ids = Vec::new();
    for registration in ["metadata-document", "dynamic"] {
        let transcript = out.join(format!("{backend}-{registration}.txt"));
        let (result, recorded) = run_agent(&server, registration, &rest_token, transcript).await;
        let client_id = result["client_id"].as_str().unwrap().to_owned();
        match registration {
            "metadata-document" => assert!(
                client_id.starts_with("https://127.0.0.1:") && client_id.ends_with("/client.json"),
                "{result}"
            ),
            _ => assert!(client_id.parse::<i64>().is_ok(), "{result}"),
        }
        assert!(
            result["consent_text"].as_str().unwrap().contains(
                "is an AI agent. If you approve, it will act for you on the site you choose"
            ),
            "the consent page says an AI agent will act on the chosen site: {result}"
        );
        assert_eq!(result["site_id"], site.id.to_string(), "{result}");
        assert_eq!(result["refreshed"], true, "{result}");
        assert_eq!(
            result["rest_single_post"], 200,
            "the post is read back at GET /rest/v1.1/sites/{{site}}/posts/{{id}}: {result}"
        );
        assert_eq!(
            result["tool_read_title"], result["title"],
            "get_post reads it too: {result}"
        );
        assert_eq!(
            result["rest_with_mcp_token"], 401,
            "a token for the MCP endpoint is not one for the REST API: {result}"
        );
        assert_eq!(result["after_disconnect"], 401, "{result}");
        assert!(
            result["expires_in"].as_u64().unwrap() <= TOKEN_TTL_SECS,
            "{result}"
        );
        let post_id: i64 = result["post_id"].as_str().unwrap().parse().unwrap();
        let title = app
            .text(&format!("SELECT title FROM posts WHERE id = {post_id}"))
            .await;
        assert_eq!(title, result["title"].as_str().unwrap());
        // Nothing secret reaches the transcript in full.
        for secret in [ALICE_PASSWORD, rest_token.as_str()] {
            assert!(!recorded.contains(secret), "{secret} in the transcript");
        }
        client_ids.push(client_id);
    }
    assert_eq!(app.count("posts").await, 2);
    assert_ne!(client_ids[0], client_ids[1]);
}
both!(
    the_official_mcp_sdk_client_registers_consents_calls_a_tool_refreshes_and_is_cut_off_by_a_disconnect
);
