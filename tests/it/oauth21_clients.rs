//! Clients of the 2.1 server through the whole code flow (oauth21.md §2, §3, §5): a client
//! registered at `/oauth2-1/register`, public (PKCE and its `client_id` alone) or confidential
//! (`client_secret_basic`), and a Client ID Metadata Document client known by its URL, each to a
//! working access token.

use serde_json::{Value, json};

use crate::both;
use crate::flows::*;
use crate::harness::*;
use crate::oauth21_authorize::{CHALLENGE, VERIFIER};
use crate::oauth21_register::{doc_server_with, document, json_response};

const PUBLIC_REDIRECT: &str = "http://127.0.0.1:5555/cb";
const NOT_VERIFIED: &str = "Latchkey has not verified this app";

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

/// A 2.1 authorization request with PKCE for any `client_id`.
fn query(client_id: &str, redirect_uri: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", client_id)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", "xyz")
        .append_pair("scope", "auth")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .finish()
}

/// Logs alice in, shows the consent page (which must mark the app unverified or not), approves,
/// and returns the code sent to `redirect_uri`.
async fn approved_code(app: &TestApp, query: &str, redirect_uri: &str, verified: bool) -> String {
    let browser = app.alice_browser().await;
    let page = app
        .authorize21(&browser, query)
        .await
        .read()
        .await
        .assert_status(200);
    assert_eq!(!page.body.contains(NOT_VERIFIED), verified, "{}", page.body);
    let redirect = app
        .consent21(&browser, &page.body, "approve", None)
        .await
        .read()
        .await
        .assert_status(303);
    let location = redirect.header("location");
    assert!(location.starts_with(redirect_uri), "{location}");
    param(&location_params(location, false), "code").unwrap()
}

/// The access token of a successful token response, checked against `/rest/v1.1/me`.
/// Checks the token response works at the REST API and returns its access token.
async fn assert_works(app: &TestApp, response: reqwest::Response) -> String {
    let body = response.read().await.assert_status(200).json();
    let token = body["access_token"].as_str().unwrap();
    let me = app.me(token).await.read().await.assert_status(200);
    assert_eq!(me.json()["username"], "alice", "{}", me.body);
    token.to_owned()
}

/// Introspects or revokes (`path`) `token` as the public client `client_id`, without a secret.
async fn as_public_client(app: &TestApp, path: &str, client_id: &str, token: &str) -> Checked {
    reqwest::Client::new()
        .post(app.url(path))
        .form(&[("client_id", client_id), ("token", token)])
        .send()
        .await
        .unwrap()
        .read()
        .await
}

#[track_caller]
fn assert_invalid_client(r: &Checked) {
    assert!(r.status == 400 || r.status == 401, "{}", r.body);
    assert_eq!(r.json()["error"], "invalid_client", "{}", r.body);
}

async fn a_registered_public_client_gets_a_working_token_with_pkce_and_its_client_id_alone(
    app: TestApp,
) {
    world(&app).await;
    for redirect in [PUBLIC_REDIRECT, "com.example.agent:/cb"] {
        let client = register(
            &app,
            json!({
                "redirect_uris": [redirect],
                "client_name": "Agent",
                "token_endpoint_auth_method": "none",
            }),
        )
        .await;
        let id = client["client_id"].as_str().unwrap();
        let code = approved_code(&app, &query(id, redirect), redirect, false).await;
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", id),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
        ];

        // A secret is refused: a public client has none.
        let mut with_secret = form.to_vec();
        with_secret.push(("client_secret", "lkcs_guessed"));
        assert_invalid_client(&app.token21(&with_secret).await.read().await);

        assert_works(&app, app.token21(&form).await).await;
    }
}
both!(a_registered_public_client_gets_a_working_token_with_pkce_and_its_client_id_alone);

async fn a_registered_confidential_client_gets_a_working_token_with_client_secret_basic(
    app: TestApp,
) {
    world(&app).await;
    let redirect = "https://agent.example/cb";
    let client = register(
        &app,
        json!({
            "redirect_uris": [redirect],
            "token_endpoint_auth_method": "client_secret_basic",
        }),
    )
    .await;
    let id = client["client_id"].as_str().unwrap();
    let secret = client["client_secret"].as_str().unwrap();
    let code = approved_code(&app, &query(id, redirect), redirect, false).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
        ("code_verifier", VERIFIER),
    ];

    // Without its secret a confidential client is refused, and the code stays unspent.
    let mut by_id = form.to_vec();
    by_id.push(("client_id", id));
    assert_invalid_client(&app.token21(&by_id).await.read().await);

    let r = app
        .http
        .post(app.url("/oauth2-1/token"))
        .basic_auth(id, Some(secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_works(&app, r).await;
}
both!(a_registered_confidential_client_gets_a_working_token_with_client_secret_basic);

async fn a_metadata_document_client_gets_a_working_token_by_its_url_with_pkce(app: TestApp) {
    world(&app).await;
    let server = doc_server_with(|origin| {
        let url = format!("{origin}/client.json");
        vec![(
            "/client.json",
            json_response(&document(&url, PUBLIC_REDIRECT), ""),
        )]
    })
    .await;
    let url = server.url("/client.json");
    let code = approved_code(&app, &query(&url, PUBLIC_REDIRECT), PUBLIC_REDIRECT, false).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", url.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", PUBLIC_REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let token = assert_works(&app, app.token21(&form).await).await;

    // The document's client introspects and revokes its token by its URL alone.
    let active = as_public_client(&app, "/oauth2-1/token-info", &url, &token)
        .await
        .assert_status(200);
    assert_eq!(active.json()["active"], true, "{}", active.body);
    as_public_client(&app, "/oauth2-1/revoke", &url, &token)
        .await
        .assert_status(200);
    let gone = as_public_client(&app, "/oauth2-1/token-info", &url, &token).await;
    assert_eq!(gone.assert_status(200).body, r#"{"active":false}"#);
    assert_eq!(app.me(&token).await.read().await.status, 401);

    // Another URL on the same server serves no document: that client is unknown.
    let missing = server.url("/missing.json");
    let mut unknown = form.to_vec();
    unknown[1] = ("client_id", missing.as_str());
    assert_invalid_client(&app.token21(&unknown).await.read().await);

    // Its stored app's numeric id is no way around the document, at either endpoint.
    let resolved = latchkey::resolve_client(&app.state, &url).await.unwrap();
    let id = resolved.app.id.to_string();
    let browser = app.alice_browser().await;
    let page = app
        .authorize21(&browser, &query(&id, PUBLIC_REDIRECT))
        .await
        .read()
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    let mut by_number = form.to_vec();
    by_number[1] = ("client_id", id.as_str());
    assert_invalid_client(&app.token21(&by_number).await.read().await);
}
both!(
    a_metadata_document_client_gets_a_working_token_by_its_url_with_pkce,
    oauth21.metadata_document_allow_loopback = true
);

async fn a_metadata_document_without_the_requested_redirect_uri_is_an_error_page_never_a_redirect(
    app: TestApp,
) {
    world(&app).await;
    let server = doc_server_with(|origin| {
        let url = format!("{origin}/client.json");
        vec![(
            "/client.json",
            json_response(&document(&url, "http://127.0.0.1:5555/other"), ""),
        )]
    })
    .await;
    let browser = app.alice_browser().await;
    let cases = [
        (server.url("/client.json"), PUBLIC_REDIRECT),
        (server.url("/missing.json"), PUBLIC_REDIRECT),
        ("https://agent.example".to_owned(), PUBLIC_REDIRECT),
    ];
    for (client_id, redirect) in cases {
        let page = app
            .authorize21(&browser, &query(&client_id, redirect))
            .await
            .read()
            .await;
        assert_eq!(page.status, 400, "{client_id}: {}", page.body);
        assert!(
            page.headers.get("location").is_none(),
            "{client_id}: never a redirect"
        );
        assert!(page.body.contains("invalid_request"), "{}", page.body);
    }
}
both!(
    a_metadata_document_without_the_requested_redirect_uri_is_an_error_page_never_a_redirect,
    oauth21.metadata_document_allow_loopback = true
);

async fn prompt_none_answers_consent_required_to_an_unverified_client_even_after_an_approval(
    app: TestApp,
) {
    world(&app).await;
    let client = register(
        &app,
        json!({"redirect_uris": [PUBLIC_REDIRECT], "token_endpoint_auth_method": "none"}),
    )
    .await;
    let id = client["client_id"].as_str().unwrap();
    let query = query(id, PUBLIC_REDIRECT);
    approved_code(&app, &query, PUBLIC_REDIRECT, false).await;
    let browser = app.alice_browser().await;
    let r = app
        .authorize21(&browser, &format!("{query}&prompt=none"))
        .await
        .read()
        .await
        .assert_status(303);
    let location = r.header("location");
    assert!(location.starts_with(PUBLIC_REDIRECT), "{location}");
    let params = location_params(location, false);
    assert_eq!(param(&params, "error").as_deref(), Some("consent_required"));
    assert_eq!(param(&params, "state").as_deref(), Some("xyz"));
    assert_eq!(param(&params, "iss").as_deref(), Some(app.base.as_str()));
    assert!(param(&params, "code").is_none());
}
both!(prompt_none_answers_consent_required_to_an_unverified_client_even_after_an_approval);
