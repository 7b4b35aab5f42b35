//! The self-service side of the OAuth 2.1 server (issue 15): the applications manager shows and
//! changes an app's grants at `/oauth2-1/token`; connected applications mark clients that
//! registered themselves (RFC 7591) or are known by a metadata document as unverified, and
//! disconnecting one ends its 2.1 access and refresh tokens; `latchkey app list` says how each app
//! was registered and what it may ask of the 2.1 token endpoint.

use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::both;
use crate::flows::*;
use crate::harness::*;
use crate::oauth21_authorize::{CHALLENGE, VERIFIER};
use crate::oauth21_register::{doc_server_with, document, json_response};
use crate::selfservice::*;

const APP_REDIRECT: &str = "https://myapp.example/cb";
const AGENT_REDIRECT: &str = "http://127.0.0.1:5555/cb";
const UNVERIFIED: &str = "Latchkey has not verified this app";

/// A 2.1 authorization request with PKCE for any `client_id`, with `scope`.
fn query21(client_id: &str, redirect_uri: &str, scope: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", client_id)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", "xyz")
        .append_pair("scope", scope)
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .finish()
}

/// The edit form of the app as created by `create_app_via_web`, with `grants` ticked.
fn edit_form<'a>(csrf: &'a str, grants: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("csrf", csrf),
        ("name", "My App"),
        ("description", "What it does"),
        ("website", "https://myapp.example"),
        ("icon_url", ""),
        ("app_type", "web"),
        ("redirect_uris", APP_REDIRECT),
        ("js_origins", ""),
        ("oauth1_callback", ""),
        ("grant_types_shown", "1"),
    ];
    form.extend(grants.iter().map(|g| ("grant_type", *g)));
    form
}

async fn stored_grants(app: &TestApp, id: i64) -> String {
    app.store.app_by_id(id).await.unwrap().unwrap().grant_types
}

async fn the_app_page_shows_the_oauth21_grants_and_the_owner_changes_them_in_the_edit_form(
    app: TestApp,
) {
    world(&app).await;
    let browser = app.alice_browser().await;
    let (id, page) = create_app_via_web(&app, &browser, &[]).await;
    let secret = by_id(&page.body, "client-secret").unwrap();
    // A new app has the code grant alone: refresh tokens only with offline_access.
    assert!(
        page.body
            .contains(r#"<dd id="grant-types"><code>authorization_code</code></dd>"#),
        "{}",
        page.body
    );
    assert!(
        by_id(&page.body, "refresh-tokens")
            .unwrap()
            .starts_with("off")
    );
    let edit_path = format!("/apps/{id}/edit");
    let edit = browser
        .get(app.url(&edit_path))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(edit.body.contains(r#"value="authorization_code" checked"#));
    assert!(!edit.body.contains(r#"value="refresh_token" checked"#));
    let csrf = form_csrf(&edit.body, &edit_path);

    // Bad choices are refused beside the field, and nothing changes.
    for (grants, says, case) in [
        (
            vec!["authorization_code", "password"],
            "is not a grant of the OAuth 2.1 token endpoint",
            "a grant the 2.1 token endpoint does not have",
        ),
        (vec![], "Choose at least one grant type.", "nothing ticked"),
    ] {
        let refused = post(&app, &browser, &edit_path, &edit_form(&csrf, &grants))
            .await
            .read()
            .await;
        assert_eq!(refused.status, 400, "{case}: {}", refused.body);
        assert!(refused.body.contains(says), "{case}: {}", refused.body);
        assert!(refused.body.contains(r#"id="grant-type-error""#), "{case}");
        assert_eq!(
            stored_grants(&app, id).await,
            "authorization_code",
            "{case}"
        );
    }

    // The owner turns refresh tokens on.
    let saved = follow(
        &app,
        &browser,
        post(
            &app,
            &browser,
            &edit_path,
            &edit_form(&csrf, &["authorization_code", "refresh_token"]),
        )
        .await,
    )
    .await;
    assert_eq!(
        stored_grants(&app, id).await,
        "authorization_code refresh_token"
    );
    assert!(
        by_id(&saved.body, "refresh-tokens")
            .unwrap()
            .starts_with("on")
    );
    assert!(saved.body.contains(
        r#"<dd id="grant-types"><code>authorization_code</code> <code>refresh_token</code></dd>"#
    ));

    // And the token endpoint follows at once: a code without offline_access yields a refresh
    // token.
    let client_id = id.to_string();
    let code = app
        .code21(&browser, &query21(&client_id, APP_REDIRECT, "auth"), None)
        .await;
    let tokens = app
        .token21(&[
            ("grant_type", "authorization_code"),
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("code", &code),
            ("redirect_uri", APP_REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .await
        .read()
        .await
        .assert_status(200)
        .json();
    assert!(tokens["refresh_token"].is_string(), "{tokens}");

    // A form posted without the grant checkboxes at all (a script older than them) keeps them.
    let mut old_form = edit_form(&csrf, &[]);
    old_form.retain(|(k, _)| *k != "grant_types_shown");
    post(&app, &browser, &edit_path, &old_form)
        .await
        .read()
        .await
        .assert_status(303);
    assert_eq!(
        stored_grants(&app, id).await,
        "authorization_code refresh_token"
    );
}
both!(the_app_page_shows_the_oauth21_grants_and_the_owner_changes_them_in_the_edit_form);

async fn a_new_app_takes_its_oauth21_grants_from_the_create_form(app: TestApp) {
    world(&app).await;
    let browser = app.alice_browser().await;
    let (id, page) = create_app_via_web(
        &app,
        &browser,
        &[
            ("grant_types_shown", "1"),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_eq!(stored_grants(&app, id).await, "client_credentials");
    assert!(
        page.body
            .contains(r#"<dd id="grant-types"><code>client_credentials</code></dd>"#)
    );
    let list = browser
        .get(app.url("/apps"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(
        list.body.contains("<td>client_credentials</td>"),
        "{}",
        list.body
    );
}
both!(a_new_app_takes_its_oauth21_grants_from_the_create_form);

async fn register(app: &TestApp, metadata: Value) -> Value {
    reqwest::Client::new()
        .post(app.url("/oauth2-1/register"))
        .json(&metadata)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(201)
        .json()
}

/// alice approves `client_id` through `/oauth2-1/` and it redeems the code: (access, refresh).
async fn approved_tokens(app: &TestApp, client_id: &str) -> (String, String) {
    let browser = app.alice_browser().await;
    let code = app
        .code21(&browser, &query21(client_id, AGENT_REDIRECT, "auth"), None)
        .await;
    let tokens = app
        .token21(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", &code),
            ("redirect_uri", AGENT_REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .await
        .read()
        .await
        .assert_status(200)
        .json();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("a refresh token: {tokens}"))
        .to_owned();
    (access, refresh)
}

async fn refresh_status(app: &TestApp, client_id: &str, refresh: &str) -> Checked {
    app.token21(&[
        ("grant_type", "refresh_token"),
        ("client_id", client_id),
        ("refresh_token", refresh),
    ])
    .await
    .read()
    .await
}

async fn connected_applications_mark_self_registered_clients_unverified_and_disconnecting_ends_their_2_1_tokens(
    app: TestApp,
) {
    world(&app).await;
    let registered = register(
        &app,
        json!({
            "redirect_uris": [AGENT_REDIRECT],
            "client_name": "Self Agent",
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
        }),
    )
    .await;
    let agent = registered["client_id"].as_str().unwrap().to_owned();
    let server = doc_server_with(|origin| {
        let url = format!("{origin}/client.json");
        vec![(
            "/client.json",
            json_response(&document(&url, AGENT_REDIRECT), ""),
        )]
    })
    .await;
    let doc = server.url("/client.json");
    let (agent_access, agent_refresh) = approved_tokens(&app, &agent).await;
    let (doc_access, doc_refresh) = approved_tokens(&app, &doc).await;

    let browser = app.alice_browser().await;
    let path = "/me/security/connected-applications";
    let page = browser
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(page.body.contains("Self Agent") && page.body.contains("Docs Agent"));
    assert_eq!(page.body.matches(UNVERIFIED).count(), 2, "{}", page.body);
    assert!(
        page.body
            .contains("registered itself (dynamic client registration)")
    );
    assert!(page.body.contains("known by its client metadata document"));
    assert!(page.body.contains(&doc), "the document's URL is shown");

    let rest = browser
        .get(app.url("/rest/v1.1/me/connected-applications"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200)
        .json();
    let listed = rest["connected_applications"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{rest}");
    assert!(listed.iter().all(|a| a["verified"] == false), "{rest}");

    // Disconnecting the registered agent ends its access and refresh tokens, not the other's.
    let action = format!("{path}/{agent}/disconnect");
    let csrf = form_csrf(&page.body, &action);
    post(&app, &browser, &action, &[("csrf", &csrf)])
        .await
        .read()
        .await
        .assert_status(303);
    assert_eq!(app.me(&agent_access).await.read().await.status, 401);
    let refused = refresh_status(&app, &agent, &agent_refresh).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.json()["error"], "invalid_grant");
    app.me(&doc_access).await.read().await.assert_status(200);

    // The metadata-document client, by its numeric id on the page.
    let doc_id = latchkey::resolve_client(&app.state, &doc)
        .await
        .unwrap()
        .app
        .id;
    let page = browser
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(!page.body.contains("Self Agent"));
    let action = format!("{path}/{doc_id}/disconnect");
    let csrf = form_csrf(&page.body, &action);
    post(&app, &browser, &action, &[("csrf", &csrf)])
        .await
        .read()
        .await
        .assert_status(303);
    assert_eq!(app.me(&doc_access).await.read().await.status, 401);
    let refused = refresh_status(&app, &doc, &doc_refresh).await;
    assert_eq!(refused.json()["error"], "invalid_grant", "{}", refused.body);
}
both!(
    connected_applications_mark_self_registered_clients_unverified_and_disconnecting_ends_their_2_1_tokens,
    oauth21.metadata_document_allow_loopback = true
);

fn latchkey(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .env("LATCHKEY_DATABASE_URL", &app.state.settings.database.url)
        .env("LATCHKEY_SECRET_KEY", hex::encode(app.state.key.0))
        .env("LATCHKEY_PUBLIC_URL", &app.base)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

async fn app_list_shows_how_each_app_was_registered_and_its_oauth21_grants(app: TestApp) {
    let w = world(&app).await;
    let manual = w.c1.id.to_string();
    let dynamic = register(
        &app,
        json!({
            "redirect_uris": [AGENT_REDIRECT],
            "client_name": "Self Agent",
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
        }),
    )
    .await["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let server = doc_server_with(|origin| {
        let url = format!("{origin}/client.json");
        vec![(
            "/client.json",
            json_response(&document(&url, AGENT_REDIRECT), ""),
        )]
    })
    .await;
    let doc = server.url("/client.json");
    let doc_id = latchkey::resolve_client(&app.state, &doc)
        .await
        .unwrap()
        .app
        .id
        .to_string();

    let listed: Value = serde_json::from_str(&stdout(&latchkey(&app, &["app", "list"]))).unwrap();
    let find = |id: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["client_id"] == id)
            .unwrap_or_else(|| panic!("{id} in {listed}"))
            .clone()
    };
    let (m, d, md) = (find(&manual), find(&dynamic), find(&doc_id));
    assert_eq!(m["registration"], "manual");
    assert_eq!(m["grant_types"], json!(["authorization_code"]));
    assert!(m.get("metadata_url").is_none());
    assert_eq!(d["registration"], "dynamic");
    assert_eq!(
        d["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(md["registration"], "metadata_document");
    assert_eq!(md["metadata_url"], doc.as_str());
    assert!(
        listed.to_string().find("secret").is_none(),
        "never a secret"
    );

    let table = stdout(&latchkey(&app, &["app", "list", "--table"]));
    let header = table.lines().next().unwrap();
    assert!(
        header.contains("REGISTRATION") && header.contains("GRANT_TYPES"),
        "{table}"
    );
    let row = |id: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("{id} in {table}"))
            .to_owned()
    };
    assert!(
        row(&dynamic).contains("dynamic")
            && row(&dynamic).contains("authorization_code refresh_token")
    );
    assert!(row(&doc_id).contains("metadata_document"), "{table}");
    assert!(row(&manual).contains("manual"), "{table}");
}
both!(
    app_list_shows_how_each_app_was_registered_and_its_oauth21_grants,
    oauth21.metadata_document_allow_loopback = true
);
