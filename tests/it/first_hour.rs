//! The first hour (issue 13): what a newcomer trips over. A key that cannot open the database's
//! sealed secrets stops the CLI and the server with a message; the authorize error pages say what
//! was received and what is expected; unknown paths and methods answer in the dialect of the path;
//! `/me`'s help link leads somewhere.

use std::process::{Command, Output};
use std::time::Duration;

use latchkey::admin::{self, AppInput};
use latchkey::domain::app::AppType;
use latchkey::domain::random::OsRandom;

use crate::both;
use crate::flows::*;
use crate::harness::*;

/// The key the test server runs with (harness), and another one.
fn server_key() -> String {
    "11".repeat(32)
}
fn other_key() -> String {
    "22".repeat(32)
}

fn latchkey_with_key(app: &TestApp, key: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .env("LATCHKEY_DATABASE_URL", &app.state.settings.database.url)
        .env("LATCHKEY_SECRET_KEY", key)
        .env("LATCHKEY_PUBLIC_URL", &app.base)
        .output()
        .unwrap()
}

#[track_caller]
fn refused_for_the_key(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure: {stderr}");
    assert!(out.stdout.is_empty(), "no JSON on failure");
    assert!(
        stderr.contains("secret key cannot open this database's sealed secrets")
            && stderr.contains("LATCHKEY_SECRET_KEY"),
        "stderr should say the key is wrong and what to set: {stderr}"
    );
}

/// `latchkey serve` with `key` on the test database: its exit status and stderr, or a panic if
/// it is still running after 30 s.
async fn serve_with_key(app: &TestApp, key: &str) -> (bool, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("serve")
        .env("LATCHKEY_DATABASE_URL", &app.state.settings.database.url)
        .env("LATCHKEY_LISTEN", format!("127.0.0.1:{port}"))
        .env("LATCHKEY_SECRET_KEY", key)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the server kept running with a key that cannot open the sealed secrets")
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn a_cli_run_or_a_server_whose_key_cannot_open_the_sealed_secrets_says_so_and_exits_non_zero(
    app: TestApp,
) {
    let alice = app.user("alice", ALICE_PASSWORD).await;
    // A consumer sealed under the server's key, in a database that has recorded no key yet.
    let redirects = vec!["https://client.example/cb".to_owned()];
    let input = AppInput {
        name: "Sealed",
        description: "",
        website: "",
        icon_url: "",
        app_type: AppType::Web,
        redirect_uris: &redirects,
        js_origins: &[],
        allow_implicit: false,
        oauth1_callback: Some("oob"),
    };
    let created = admin::create_app(
        &app.store,
        &OsRandom,
        &app.state.key.0,
        &alice,
        &input,
        &app.base,
        app.clock_now(),
    )
    .await
    .unwrap();
    let client_id = created.app.id.to_string();
    let sealed = app
        .scalar_bytes(&format!(
            "SELECT oauth1_secret_enc FROM apps WHERE id = {client_id}"
        ))
        .await;
    let create = [
        "app",
        "create",
        "--owner",
        "alice",
        "--name",
        "Client",
        "--redirect-uri",
        "https://client.example/cb",
        "--oauth1-callback",
        "oob",
    ];

    // Another key: refused before anything is sealed or changed.
    refused_for_the_key(&latchkey_with_key(&app, &other_key(), &create));
    refused_for_the_key(&latchkey_with_key(
        &app,
        &other_key(),
        &["app", "regenerate-consumer-secret", &client_id],
    ));
    assert_eq!(app.count("apps").await, 1);
    assert_eq!(
        app.count("key_check").await,
        0,
        "a refused key is not recorded"
    );
    assert_eq!(
        app.scalar_bytes(&format!(
            "SELECT oauth1_secret_enc FROM apps WHERE id = {client_id}"
        ))
        .await,
        sealed
    );

    // The server's key opens the consumer secret: it is recorded, and the command works.
    let out = latchkey_with_key(&app, &server_key(), &create);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(app.count("apps").await, 2);
    assert_eq!(app.count("key_check").await, 1);

    // From now on the recorded value decides, for the CLI and for the server.
    refused_for_the_key(&latchkey_with_key(&app, &other_key(), &create));
    assert_eq!(app.count("apps").await, 2);
    let (ok, stderr) = serve_with_key(&app, &other_key()).await;
    assert!(!ok, "the server must not start with another key");
    assert!(
        stderr.contains("secret key cannot open this database's sealed secrets"),
        "{stderr}"
    );
}
both!(a_cli_run_or_a_server_whose_key_cannot_open_the_sealed_secrets_says_so_and_exits_non_zero);

async fn a_fresh_database_records_the_first_key_and_refuses_another(app: TestApp) {
    app.user("alice", ALICE_PASSWORD).await;
    let create = [
        "app",
        "create",
        "--owner",
        "alice",
        "--name",
        "Client",
        "--redirect-uri",
        "https://client.example/cb",
    ];
    let out = latchkey_with_key(&app, &server_key(), &create);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    refused_for_the_key(&latchkey_with_key(&app, &other_key(), &create));
    assert_eq!(app.count("apps").await, 1);
    // Commands that neither seal nor open secrets do not need the key.
    let out = latchkey_with_key(&app, &other_key(), &["app", "list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
both!(a_fresh_database_records_the_first_key_and_refuses_another);

async fn the_authorize_error_pages_say_what_was_received_and_what_is_expected(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let page = |response: reqwest::Response| async move {
        let page = response.read().await.assert_status(400);
        assert!(page.headers.get("location").is_none());
        assert!(
            page.body.contains("Error Code: invalid_request"),
            "{}",
            page.body
        );
        page.body
    };

    let body = page(
        app.authorize(
            &browser,
            "response_type=code&redirect_uri=https://evil.example/cb",
        )
        .await,
    )
    .await;
    assert!(body.contains("Error Message: Missing client_id."), "{body}");
    let body = page(
        app.authorize(&browser, "client_id=&response_type=code")
            .await,
    )
    .await;
    assert!(body.contains("Error Message: Missing client_id."), "{body}");
    let body = page(
        app.authorize(&browser, "client_id=424242&response_type=code")
            .await,
    )
    .await;
    assert!(body.contains("Error Message: Unknown client_id."), "{body}");

    // A trailing slash: the URI received is shown, with the rule.
    let body = page(
        app.authorize(
            &browser,
            &authz_query(w.c1.id, "https://client.example/cb/", &[]),
        )
        .await,
    )
    .await;
    assert!(
        body.contains(
            "Error Message: Mismatch in redirect_uri. Received: https://client.example/cb/ "
        ),
        "{body}"
    );
    assert!(body.contains("byte for byte"), "{body}");
    assert!(
        !body.contains("href=\"https://client.example"),
        "never a link to it: {body}"
    );
    // Escaped, and the registered URIs are never listed.
    let body = page(
        app.authorize(
            &browser,
            &authz_query(w.c2.id, "https://app2.example/<script>x", &[]),
        )
        .await,
    )
    .await;
    assert!(
        body.contains("Received: https://app2.example/&#60;script&#62;x")
            || body.contains("Received: https://app2.example/&lt;script&gt;x"),
        "{body}"
    );
    assert!(!body.contains("<script>"), "{body}");
    assert!(
        !body.contains("tenant=1") && !body.contains("app2.example/cb"),
        "registered URIs stay private: {body}"
    );

    for scope in ["global posts", "nonsense"] {
        let body = page(
            app.authorize(
                &browser,
                &authz_query(w.c1.id, C1_REDIRECT, &[("scope", scope)]),
            )
            .await,
        )
        .await;
        let text = unescape(&body);
        assert!(
            text.contains("Error Message: Invalid \"scope\". "),
            "{text}"
        );
        assert!(
            text.contains("\"global\"") && text.contains("\"auth\""),
            "{text}"
        );
        assert!(
            text.contains("posts") && text.contains("media") && text.contains("spaces or commas"),
            "{text}"
        );
    }
    assert_eq!(app.count("auth_codes").await, 0);
}
both!(the_authorize_error_pages_say_what_was_received_and_what_is_expected);

async fn unknown_paths_and_methods_answer_in_the_dialect_of_the_path(app: TestApp) {
    let http = new_browser();

    let token = http
        .get(app.url("/oauth2/token"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(405);
    assert!(token.header("allow").contains("POST"));
    assert!(token.header("content-type").starts_with("application/json"));
    assert_eq!(token.json()["error"], "invalid_request");
    assert!(
        token.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("GET")
    );
    let missing = app
        .get("/oauth2/nothing")
        .await
        .read()
        .await
        .assert_status(404);
    assert_eq!(missing.json()["error"], "invalid_request");
    assert!(
        missing.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("/oauth2/token")
    );

    let rest = app.get("/rest/v2/me").await.read().await.assert_status(404);
    assert_eq!(rest.json()["error"], "unknown_endpoint");
    assert!(rest.json()["message"].is_string());
    let wp = app
        .get("/wp-json/nothing")
        .await
        .read()
        .await
        .assert_status(404);
    assert_eq!(wp.json()["code"], "rest_no_route");

    let oauth1 = app
        .get("/oauth1/nothing")
        .await
        .read()
        .await
        .assert_status(404);
    assert!(
        oauth1
            .header("content-type")
            .starts_with("application/x-www-form-urlencoded")
    );
    assert!(
        oauth1
            .body
            .starts_with("oauth_problem=endpoint_unknown&oauth_problem_advice="),
        "{}",
        oauth1.body
    );

    let html = app
        .get("/nothing-here")
        .await
        .read()
        .await
        .assert_status(404);
    assert!(html.header("content-type").starts_with("text/html"));
    assert!(
        html.body.contains("href=\"/\""),
        "a way home: {}",
        html.body
    );
    let html = http
        .delete(app.url("/login"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(405);
    assert!(html.header("allow").contains("GET"));
    assert!(html.header("content-type").starts_with("text/html"));
    assert!(
        html.body.contains("DELETE") && html.body.contains("href=\"/\""),
        "{}",
        html.body
    );
}
both!(unknown_paths_and_methods_answer_in_the_dialect_of_the_path);

async fn me_links_to_a_help_that_exists(app: TestApp) {
    let alice = app.user("alice", ALICE_PASSWORD).await;
    let (client, _) = app.app(&alice, &[C1_REDIRECT], AppType::Web).await;
    let token = app.issue_token(alice.id, client.id, None).await.token;
    let me = app.me(&token).await.read().await.assert_status(200);
    let help = me.json()["meta"]["links"]["help"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(help.starts_with(&app.base), "{help}");
    let help = new_browser()
        .get(&help)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert_eq!(help.json()["path"], "/me");
    assert_eq!(help.json()["method"], "GET");
    assert!(help.json()["response"]["token_scope"].is_string());
}
both!(me_links_to_a_help_that_exists);
