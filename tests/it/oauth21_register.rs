//! Client registration of the 2.1 server (oauth21.md §5): RFC 7591 at `/oauth2-1/register`, RFC
//! 7592 management, the registration modes, the per-peer throttle, the clean-up of clients nobody
//! connected, Client ID Metadata Documents served by a loopback test server, and the consent
//! page's mark of unverified clients.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use latchkey::domain::client_metadata::{AuthMethod, RegistrationKind};
use latchkey::domain::secret;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::both;
use crate::flows::*;
use crate::harness::*;

const REGISTER: &str = "/oauth2-1/register";

impl TestApp {
    /// POSTs `body` (sent as is) to the registration endpoint, with `bearer` when given.
    async fn register_raw(&self, body: &str, bearer: Option<&str>) -> Checked {
        let mut request = reqwest::Client::new()
            .post(self.url(REGISTER))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap().read().await
    }

    async fn register(&self, metadata: Value) -> Checked {
        self.register_raw(&metadata.to_string(), None).await
    }

    /// Sends `method` to a client's `registration_client_uri` with `token`.
    async fn manage(
        &self,
        method: reqwest::Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Checked {
        let mut request = reqwest::Client::new().request(method, uri);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap().read().await
    }

    async fn app_count(&self) -> i64 {
        self.scalar("SELECT COUNT(*) FROM apps").await
    }
}

#[track_caller]
fn assert_error(r: &Checked, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.json()["error"], code, "{}", r.body);
    assert!(
        r.json()["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{}",
        r.body
    );
    assert_eq!(r.header("cache-control"), "no-store");
}

async fn each_malformed_registration_gets_its_rfc7591_error_in_json_with_no_store(app: TestApp) {
    let cases: &[(&str, &str, &str)] = &[
        (
            "not JSON",
            "redirect_uris=https://a.example/cb",
            "invalid_client_metadata",
        ),
        ("a JSON array", "[]", "invalid_client_metadata"),
        ("empty", "", "invalid_client_metadata"),
        ("no redirect URIs", "{}", "invalid_redirect_uri"),
        (
            "an empty list",
            r#"{"redirect_uris":[]}"#,
            "invalid_redirect_uri",
        ),
        (
            "a fragment",
            r#"{"redirect_uris":["https://a.example/cb#f"]}"#,
            "invalid_redirect_uri",
        ),
        (
            "javascript:",
            r#"{"redirect_uris":["javascript:alert(1)"]}"#,
            "invalid_redirect_uri",
        ),
        (
            "plain http",
            r#"{"redirect_uris":["http://a.example/cb"]}"#,
            "invalid_redirect_uri",
        ),
        (
            "a private-use scheme for a confidential client",
            r#"{"redirect_uris":["com.example.app:/cb"]}"#,
            "invalid_redirect_uri",
        ),
        (
            "the implicit grant",
            r#"{"redirect_uris":["https://a.example/cb"],"grant_types":["implicit"]}"#,
            "invalid_client_metadata",
        ),
        (
            "the token response type",
            r#"{"redirect_uris":["https://a.example/cb"],"response_types":["token"]}"#,
            "invalid_client_metadata",
        ),
        (
            "an unknown authentication method",
            r#"{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}"#,
            "invalid_client_metadata",
        ),
        (
            "client credentials for a public client",
            r#"{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"none","grant_types":["client_credentials"],"response_types":[]}"#,
            "invalid_client_metadata",
        ),
        (
            "a numeric client name",
            r#"{"redirect_uris":["https://a.example/cb"],"client_name":7}"#,
            "invalid_client_metadata",
        ),
        (
            "a logo that is not a URL",
            r#"{"redirect_uris":["https://a.example/cb"],"logo_uri":"javascript:x"}"#,
            "invalid_client_metadata",
        ),
        (
            "contacts as a string",
            r#"{"redirect_uris":["https://a.example/cb"],"contacts":"me@a.example"}"#,
            "invalid_client_metadata",
        ),
    ];
    let before = app.app_count().await;
    for (what, body, code) in cases {
        let r = app.register_raw(body, None).await;
        assert_eq!(r.status, 400, "{what}: {}", r.body);
        assert_eq!(r.json()["error"], *code, "{what}: {}", r.body);
        assert_error(&r, 400, code);
    }
    assert_eq!(
        app.app_count().await,
        before,
        "no bad request stored a client"
    );
}
both!(each_malformed_registration_gets_its_rfc7591_error_in_json_with_no_store);

async fn a_public_client_gets_no_secret_and_may_redirect_to_loopback_or_a_private_use_scheme(
    app: TestApp,
) {
    let r = app
        .register(json!({
            "redirect_uris": ["http://127.0.0.1/callback", "com.example.app:/cb"],
            "client_name": "Agent Smith",
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "scope": "global openid offline_access",
            "contacts": ["ops@agent.example"],
            "software_id": "ignored",
        }))
        .await
        .assert_status(201);
    assert_eq!(r.header("cache-control"), "no-store");
    let body = r.json();
    assert!(body.get("client_secret").is_none(), "{body}");
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(body["client_name"], "Agent Smith");
    assert_eq!(
        body["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(body["response_types"], json!(["code"]));
    assert_eq!(body["scope"], "global openid offline_access");
    assert_eq!(body["contacts"], json!(["ops@agent.example"]));
    assert_eq!(body["client_id_issued_at"], T0);
    let client_id = body["client_id"].as_str().unwrap();
    assert_eq!(
        body["registration_client_uri"],
        app.url(&format!("/oauth2-1/register/{client_id}"))
    );
    let token = body["registration_access_token"].as_str().unwrap();
    assert!(secret::well_formed(secret::Kind::RegistrationAccess, token));

    let stored = app
        .store
        .app_by_id(client_id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.owner_id, None);
    assert!(stored.is_public() && !stored.is_verified());
    assert_eq!(stored.registration, RegistrationKind::Dynamic);
    assert!(stored.allows_grant(latchkey::domain::client_metadata::GrantType::RefreshToken));
    assert!(
        stored.is_native(),
        "public clients get the native redirect rules"
    );
    // Only the token's digest is kept.
    assert!(!app.database_contains(token).await);
}
both!(a_public_client_gets_no_secret_and_may_redirect_to_loopback_or_a_private_use_scheme);

async fn a_confidential_client_gets_its_secret_once_stored_as_a_digest(app: TestApp) {
    let r = app
        .register(json!({
            "redirect_uris": ["https://app.example/cb"],
            "token_endpoint_auth_method": "client_secret_post",
            "grant_types": ["authorization_code", "client_credentials"],
            "client_uri": "https://app.example",
        }))
        .await
        .assert_status(201);
    let body = r.json();
    let secret_value = body["client_secret"].as_str().unwrap();
    assert_eq!(body["client_secret_expires_at"], 0);
    assert_eq!(
        body["client_name"], "app.example",
        "named after its redirect host"
    );
    assert_eq!(body["client_uri"], "https://app.example");
    let id: i64 = body["client_id"].as_str().unwrap().parse().unwrap();
    let stored = app.store.app_by_id(id).await.unwrap().unwrap();
    assert_eq!(
        stored.token_endpoint_auth_method,
        AuthMethod::ClientSecretPost
    );
    assert!(!stored.is_public());
    assert_eq!(stored.secret_digest, secret::digest(secret_value).to_vec());
    assert!(!app.database_contains(secret_value).await);

    // The management read never shows the secret again.
    let read = app
        .manage(
            reqwest::Method::GET,
            body["registration_client_uri"].as_str().unwrap(),
            body["registration_access_token"].as_str(),
            None,
        )
        .await
        .assert_status(200);
    assert!(read.json().get("client_secret").is_none(), "{}", read.body);
    assert_eq!(read.json()["client_id"], body["client_id"]);
}
both!(a_confidential_client_gets_its_secret_once_stored_as_a_digest);

async fn the_registration_access_token_reads_updates_and_deletes_its_client(app: TestApp) {
    let created = app
        .register(json!({
            "redirect_uris": ["https://app.example/cb"],
            "client_name": "First name",
        }))
        .await
        .assert_status(201)
        .json();
    let uri = created["registration_client_uri"].as_str().unwrap();
    let token = created["registration_access_token"].as_str();
    let client_id = created["client_id"].as_str().unwrap();

    let read = app
        .manage(reqwest::Method::GET, uri, token, None)
        .await
        .assert_status(200);
    assert_eq!(read.header("cache-control"), "no-store");
    assert_eq!(read.json()["client_name"], "First name");
    assert_eq!(
        read.json()["redirect_uris"],
        json!(["https://app.example/cb"])
    );

    let updated = app
        .manage(
            reqwest::Method::PUT,
            uri,
            token,
            Some(json!({
                "client_id": client_id,
                "redirect_uris": ["https://app.example/new-cb"],
                "client_name": "Second name",
                "contacts": ["a@app.example"],
            })),
        )
        .await
        .assert_status(200);
    assert_eq!(updated.json()["client_name"], "Second name");
    assert_eq!(updated.json()["contacts"], json!(["a@app.example"]));
    let stored = app
        .store
        .app_by_id(client_id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.redirect_uri_list(),
        vec!["https://app.example/new-cb"]
    );

    // An update that would make it public, or that names another client, changes nothing.
    for body in [
        json!({"client_id": client_id, "redirect_uris": ["https://app.example/cb"],
               "token_endpoint_auth_method": "none"}),
        json!({"client_id": "999", "redirect_uris": ["https://app.example/cb"]}),
        json!({"redirect_uris": ["https://app.example/cb"]}),
    ] {
        let r = app
            .manage(reqwest::Method::PUT, uri, token, Some(body))
            .await;
        assert_error(&r, 400, "invalid_client_metadata");
    }
    let bad_redirect = app
        .manage(
            reqwest::Method::PUT,
            uri,
            token,
            Some(json!({"client_id": client_id, "redirect_uris": ["http://app.example/cb"]})),
        )
        .await;
    assert_error(&bad_redirect, 400, "invalid_redirect_uri");
    let again = app
        .manage(reqwest::Method::GET, uri, token, None)
        .await
        .assert_status(200);
    assert_eq!(
        again.json()["redirect_uris"],
        json!(["https://app.example/new-cb"])
    );

    let deleted = app.manage(reqwest::Method::DELETE, uri, token, None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert!(
        app.store
            .app_by_id(client_id.parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let gone = app.manage(reqwest::Method::GET, uri, token, None).await;
    assert_error(&gone, 401, "invalid_token");
}
both!(the_registration_access_token_reads_updates_and_deletes_its_client);

async fn a_missing_or_wrong_registration_access_token_is_refused_with_401_and_changes_nothing(
    app: TestApp,
) {
    let w = world(&app).await;
    let one = app
        .register(json!({"redirect_uris": ["https://one.example/cb"]}))
        .await
        .assert_status(201)
        .json();
    let two = app
        .register(json!({"redirect_uris": ["https://two.example/cb"]}))
        .await
        .assert_status(201)
        .json();
    let uri = one["registration_client_uri"].as_str().unwrap();
    let others = two["registration_access_token"].as_str();
    let made_up = secret::mint(
        secret::Kind::RegistrationAccess,
        &latchkey::domain::random::OsRandom,
    );
    for (what, token) in [
        ("no token", None),
        ("another client's token", others),
        ("a made-up token", Some(made_up.as_str())),
        ("a client secret", one["client_secret"].as_str()),
        ("garbage", Some("x")),
    ] {
        for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
            let r = app.manage(method.clone(), uri, token, None).await;
            assert_eq!(r.status, 401, "{what} {method}: {}", r.body);
            assert_error(&r, 401, "invalid_token");
            assert_eq!(
                r.header("www-authenticate"),
                "Bearer error=\"invalid_token\""
            );
        }
        let r = app
            .manage(
                reqwest::Method::PUT,
                uri,
                token,
                Some(json!({"client_id": one["client_id"], "redirect_uris": ["https://evil.example/cb"]})),
            )
            .await;
        assert_eq!(r.status, 401, "{what} PUT: {}", r.body);
    }
    // A manually registered app is nobody's to manage through RFC 7592.
    let manual = app
        .manage(
            reqwest::Method::GET,
            &app.url(&format!("/oauth2-1/register/{}", w.c1.id)),
            others,
            None,
        )
        .await;
    assert_error(&manual, 401, "invalid_token");
    let id: i64 = one["client_id"].as_str().unwrap().parse().unwrap();
    let stored = app.store.app_by_id(id).await.unwrap().unwrap();
    assert_eq!(stored.redirect_uri_list(), vec!["https://one.example/cb"]);
}
both!(a_missing_or_wrong_registration_access_token_is_refused_with_401_and_changes_nothing);

/// Runs `latchkey` against the test app's database.
fn latchkey_cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .env("LATCHKEY_DATABASE_URL", &app.state.settings.database.url)
        .env("LATCHKEY_SECRET_KEY", "11".repeat(32))
        .env("LATCHKEY_PUBLIC_URL", &app.base)
        .output()
        .unwrap()
}

async fn token_mode_registers_only_with_a_single_use_initial_access_token_from_the_cli(
    app: TestApp,
) {
    let metadata = json!({"redirect_uris": ["https://app.example/cb"]});
    let without = app.register(metadata.clone()).await;
    assert_error(&without, 401, "invalid_token");
    let made_up = secret::mint(
        secret::Kind::InitialAccess,
        &latchkey::domain::random::OsRandom,
    );
    let wrong = app
        .register_raw(&metadata.to_string(), Some(&made_up))
        .await;
    assert_error(&wrong, 401, "invalid_token");

    let out = latchkey_cli(&app, &["app", "registration-token", "--ttl-secs", "3600"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = printed["registration_token"].as_str().unwrap();
    assert!(!app.database_contains(token).await, "stored as a digest");

    app.register_raw(&metadata.to_string(), Some(token))
        .await
        .assert_status(201);
    let reused = app.register_raw(&metadata.to_string(), Some(token)).await;
    assert_error(&reused, 401, "invalid_token");
}
both!(
    token_mode_registers_only_with_a_single_use_initial_access_token_from_the_cli,
    oauth21.registration = latchkey::config::Registration::Token
);

async fn off_mode_answers_404_and_stores_nothing(app: TestApp) {
    let before = app.app_count().await;
    let r = app
        .register(json!({"redirect_uris": ["https://app.example/cb"]}))
        .await;
    assert_error(&r, 404, "not_found");
    assert_eq!(app.app_count().await, before);
}
both!(
    off_mode_answers_404_and_stores_nothing,
    oauth21.registration = latchkey::config::Registration::Off
);

async fn a_peer_over_its_registration_budget_gets_429_with_retry_after_until_the_window_passes(
    app: TestApp,
) {
    let metadata = json!({"redirect_uris": ["https://app.example/cb"]});
    // Bad requests do not spend the budget; registrations do.
    app.register(json!({})).await.assert_status(400);
    app.register(metadata.clone()).await.assert_status(201);
    app.register(metadata.clone()).await.assert_status(201);
    let before = app.app_count().await;
    let refused = app.register(metadata.clone()).await;
    assert_error(&refused, 429, "rate_limited");
    assert_eq!(refused.header("retry-after"), "600");
    assert_eq!(app.app_count().await, before);
    app.clock.advance(600);
    app.register(metadata).await.assert_status(201);
}
both!(
    a_peer_over_its_registration_budget_gets_429_with_retry_after_until_the_window_passes,
    oauth21.registrations_per_ip = 2,
    limits.window_secs = 600
);

async fn unclaimed_clients_are_deleted_after_their_ttl_while_connected_ones_stay_and_show_under_connections(
    app: TestApp,
) {
    let w = world(&app).await;
    let ttl = app.state.settings.oauth21.unclaimed_client_ttl_secs;
    let register = |name: &'static str| {
        let app = &app;
        async move {
            let body = app
                .register(
                    json!({"redirect_uris": ["https://agent.example/cb"], "client_name": name}),
                )
                .await
                .assert_status(201)
                .json();
            body["client_id"].as_str().unwrap().parse::<i64>().unwrap()
        }
    };
    let unclaimed = register("Never Connected Agent").await;
    let connected = register("Connected Agent").await;
    app.issue_token(w.alice.id, connected, None).await;

    // Nobody's applications manager lists them; alice's connected applications list the one
    // she connected.
    let browser = app.alice_browser().await;
    let apps_page = browser
        .get(app.url("/apps"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(
        !apps_page.body.contains("Connected Agent"),
        "{}",
        apps_page.body
    );
    let connections = browser
        .get(app.url("/me/security/connected-applications"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(connections.body.contains("Connected Agent"));
    assert!(!connections.body.contains("Never Connected Agent"));

    // Not yet: the TTL has not passed.
    app.clock.advance(ttl - 1);
    let cutoff = app.clock_now() - ttl;
    assert_eq!(
        app.store
            .purge_unclaimed_clients(cutoff, latchkey::store::gc::BATCH)
            .await
            .unwrap(),
        0
    );
    app.clock.advance(1);
    let cutoff = app.clock_now() - ttl;
    assert_eq!(
        app.store
            .purge_unclaimed_clients(cutoff, latchkey::store::gc::BATCH)
            .await
            .unwrap(),
        1
    );
    assert!(app.store.app_by_id(unclaimed).await.unwrap().is_none());
    assert!(app.store.app_by_id(connected).await.unwrap().is_some());
    assert!(
        app.store.app_by_id(w.c1.id).await.unwrap().is_some(),
        "apps with an owner are never purged"
    );
}
both!(
    unclaimed_clients_are_deleted_after_their_ttl_while_connected_ones_stay_and_show_under_connections
);

async fn a_purged_unclaimed_client_is_refused_at_once_though_its_app_was_cached(app: TestApp) {
    let ttl = app.state.settings.oauth21.unclaimed_client_ttl_secs;
    let body = app
        .register(json!({"redirect_uris": ["https://agent.example/cb"]}))
        .await
        .assert_status(201)
        .json();
    let id = body["client_id"].as_str().unwrap().to_owned();
    let secret = body["client_secret"].as_str().unwrap().to_owned();
    let revoke = || async {
        reqwest::Client::new()
            .post(app.url("/oauth2-1/revoke"))
            .basic_auth(&id, Some(&secret))
            .form(&[("token", "lkat_unknown")])
            .send()
            .await
            .unwrap()
            .read()
            .await
    };
    // The client authenticates, which puts its app in the validation cache.
    revoke().await.assert_status(200);
    let numeric: i64 = id.parse().unwrap();
    assert!(app.store.client_app(numeric).await.unwrap().is_some());
    app.clock.advance(ttl);
    let cutoff = app.clock_now() - ttl;
    assert_eq!(
        app.store
            .purge_unclaimed_clients(cutoff, latchkey::store::gc::BATCH)
            .await
            .unwrap(),
        1
    );
    // The purge announced the client: the cached app is gone, and the client is refused at once.
    assert!(app.store.client_app(numeric).await.unwrap().is_none());
    let refused = revoke().await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert_eq!(refused.json()["error"], "invalid_client");
}
both!(a_purged_unclaimed_client_is_refused_at_once_though_its_app_was_cached);

async fn an_owners_app_is_verified_and_its_grant_types_can_be_set(app: TestApp) {
    use latchkey::domain::client_metadata::GrantType;
    let w = world(&app).await;
    assert!(w.c1.is_verified() && !w.c1.is_public());
    assert_eq!(w.c1.grant_type_list(), vec![GrantType::AuthorizationCode]);
    let mut tx = app.store.begin();
    assert!(
        tx.set_app_grant_types(
            w.c1.id,
            &[
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
                GrantType::ClientCredentials
            ],
        )
        .await
        .unwrap()
    );
    tx.commit().await.unwrap();
    let c1 = app.store.app_by_id(w.c1.id).await.unwrap().unwrap();
    assert!(c1.allows_grant(GrantType::RefreshToken));
    assert!(c1.allows_grant(GrantType::ClientCredentials));
}
both!(an_owners_app_is_verified_and_its_grant_types_can_be_set);

async fn latchkey_gc_deletes_the_clients_nobody_connected(app: TestApp) {
    let w = world(&app).await;
    let metadata = json!({"redirect_uris": ["https://agent.example/cb"]});
    let unclaimed = app
        .register(metadata.clone())
        .await
        .assert_status(201)
        .json();
    let connected = app.register(metadata).await.assert_status(201).json();
    let connected: i64 = connected["client_id"].as_str().unwrap().parse().unwrap();
    app.issue_token(w.alice.id, connected, None).await;
    // The test clock registered them at T0, long before the wall clock `latchkey gc` reads.
    let out = latchkey_cli(&app, &["gc"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["unclaimed_clients"], 1, "{printed}");
    let unclaimed: i64 = unclaimed["client_id"].as_str().unwrap().parse().unwrap();
    assert!(app.store.app_by_id(unclaimed).await.unwrap().is_none());
    assert!(app.store.app_by_id(connected).await.unwrap().is_some());
}
both!(latchkey_gc_deletes_the_clients_nobody_connected);

async fn the_consent_page_marks_a_self_registered_client_unverified_with_its_redirect_host_in_full(
    app: TestApp,
) {
    let w = world(&app).await;
    let redirect = "https://login.alice.example.attacker.test:8443/cb";
    let body = app
        .register(json!({"redirect_uris": [redirect], "client_name": "Alice's Blog Helper"}))
        .await
        .assert_status(201)
        .json();
    let id: i64 = body["client_id"].as_str().unwrap().parse().unwrap();
    let browser = app.alice_browser().await;
    let page = app
        .authorize(&browser, &authz_query(id, redirect, &[]))
        .await
        .read()
        .await
        .assert_status(200);
    assert!(
        page.body.contains("Latchkey has not verified this app"),
        "{}",
        page.body
    );
    assert!(page.body.contains("login.alice.example.attacker.test:8443"));

    let verified = app
        .authorize(&browser, &authz_query(w.c1.id, C1_REDIRECT, &[]))
        .await
        .read()
        .await
        .assert_status(200);
    assert!(!verified.body.contains("has not verified"));
}
both!(the_consent_page_marks_a_self_registered_client_unverified_with_its_redirect_host_in_full);

// ---- Client ID Metadata Documents ----

/// A loopback HTTP server answering each path with a fixed raw response; counts its requests.
pub(crate) struct DocServer {
    origin: String,
    pub(crate) hits: Arc<AtomicUsize>,
}

impl DocServer {
    /// Serves `routes` on `listener`.
    fn serve(listener: tokio::net::TcpListener, routes: Vec<(&'static str, String)>) -> DocServer {
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let routes = Arc::new(routes);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let routes = routes.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    let request = String::from_utf8_lossy(&buf[..n]).into_owned();
                    let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let response = routes
                        .iter()
                        .find(|(p, _)| *p == path)
                        .map(|(_, r)| r.clone())
                        .unwrap_or_else(|| {
                            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                                .to_owned()
                        });
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        DocServer { origin, hits }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }
}

pub(crate) fn json_response(body: &str, extra_headers: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra_headers}connection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The port a server on `origin` will listen on is only known once it runs, and a document names
/// its own URL: so the server is started on a listener first and the documents are built from it.
pub(crate) async fn doc_server_with(
    documents: impl FnOnce(&str) -> Vec<(&'static str, String)>,
) -> DocServer {
    // Reserve a port, then serve on it.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let origin = format!("http://127.0.0.1:{port}");
    let routes = documents(&origin);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    DocServer::serve(listener, routes)
}

pub(crate) fn document(client_id: &str, redirect: &str) -> String {
    json!({
        "client_id": client_id,
        "client_name": "Docs Agent",
        "client_uri": "https://agent.example",
        "redirect_uris": [redirect],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
    })
    .to_string()
}

async fn a_metadata_document_client_is_fetched_cached_and_stored_as_a_public_unverified_app(
    app: TestApp,
) {
    let server = doc_server_with(|origin| {
        let url = format!("{origin}/client.json");
        vec![(
            "/client.json",
            json_response(
                &document(&url, "http://127.0.0.1/callback"),
                "cache-control: public, max-age=120\r\n",
            ),
        )]
    })
    .await;
    let url = server.url("/client.json");
    let resolved = latchkey::resolve_client(&app.state, &url).await.unwrap();
    assert_eq!(resolved.client_id, url);
    let client = &resolved.app;
    assert_eq!(client.name, "Docs Agent");
    assert_eq!(client.owner_id, None);
    assert!(client.is_public() && !client.is_verified());
    assert_eq!(client.registration, RegistrationKind::MetadataDocument);
    assert_eq!(
        client.redirect_uri_list(),
        vec!["http://127.0.0.1/callback"]
    );
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);

    // Within its max-age the stored app is used; after it, the document is fetched again and the
    // same app row is kept (grants reference it).
    let again = latchkey::resolve_client(&app.state, &url).await.unwrap();
    assert_eq!(again.app.id, client.id);
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
    app.clock.advance(121);
    let refreshed = latchkey::resolve_client(&app.state, &url).await.unwrap();
    assert_eq!(refreshed.app.id, client.id);
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);

    // Its numeric id is not a way around the document.
    assert!(matches!(
        latchkey::resolve_client(&app.state, &client.id.to_string()).await,
        Err(latchkey::ResolveError::Unknown)
    ));
}
both!(
    a_metadata_document_client_is_fetched_cached_and_stored_as_a_public_unverified_app,
    oauth21.metadata_document_allow_loopback = true
);

/// The loopback switch is for tests only: a server started with it says so, loudly, in its log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_warns_at_start_up_when_metadata_documents_may_come_from_loopback() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _child = tokio::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("serve")
        .env("LATCHKEY_DATABASE_URL", &app.state.settings.database.url)
        .env("LATCHKEY_LISTEN", format!("127.0.0.1:{port}"))
        .env("LATCHKEY_PUBLIC_URL", &app.base)
        .env("LATCHKEY_SECRET_KEY", hex::encode(app.state.key.0))
        .env("LATCHKEY_LOG__LEVEL", "warn")
        .env("LATCHKEY_OAUTH21__METADATA_DOCUMENT_ALLOW_LOOPBACK", "true")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::from(
            std::fs::File::create(&log).unwrap(),
        ))
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_until("the loopback warning", PATIENCE, async || {
        std::fs::read_to_string(&log).is_ok_and(|text| {
            text.lines().any(|l| {
                l.contains("metadata_document_allow_loopback is ON")
                    && l.contains("tests only")
                    && l.contains("WARN")
            })
        })
    })
    .await;
}

#[track_caller]
fn assert_refused(result: Result<latchkey::ResolvedClient, latchkey::ResolveError>, says: &str) {
    match result {
        Err(latchkey::ResolveError::Document(why)) => {
            assert!(why.contains(says), "{why:?} should say {says:?}")
        }
        other => panic!("expected a refused document, got {other:?}"),
    }
}

async fn a_metadata_document_that_names_another_client_id_is_refused(app: TestApp) {
    let server = doc_server_with(|origin| {
        vec![(
            "/client.json",
            json_response(
                &document(&format!("{origin}/other.json"), "http://127.0.0.1/cb"),
                "",
            ),
        )]
    })
    .await;
    let before = app.app_count().await;
    assert_refused(
        latchkey::resolve_client(&app.state, &server.url("/client.json")).await,
        "client_id must equal its URL",
    );
    assert_eq!(app.app_count().await, before);
}
both!(
    a_metadata_document_that_names_another_client_id_is_refused,
    oauth21.metadata_document_allow_loopback = true
);

async fn an_oversized_metadata_document_is_refused(app: TestApp) {
    let server = doc_server_with(|origin| {
        let url = format!("{origin}/big.json");
        let mut doc: Value = serde_json::from_str(&document(&url, "http://127.0.0.1/cb")).unwrap();
        doc["padding"] = json!("x".repeat(6 * 1024));
        vec![("/big.json", json_response(&doc.to_string(), ""))]
    })
    .await;
    assert_refused(
        latchkey::resolve_client(&app.state, &server.url("/big.json")).await,
        "larger than 5120 bytes",
    );
}
both!(
    an_oversized_metadata_document_is_refused,
    oauth21.metadata_document_allow_loopback = true
);

async fn a_metadata_document_that_redirects_is_refused(app: TestApp) {
    let server = doc_server_with(|origin| {
        let url = format!("{origin}/client.json");
        vec![
            (
                "/moved.json",
                "HTTP/1.1 302 Found\r\nlocation: /client.json\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    .to_owned(),
            ),
            (
                "/client.json",
                json_response(&document(&url, "http://127.0.0.1/cb"), ""),
            ),
        ]
    })
    .await;
    assert_refused(
        latchkey::resolve_client(&app.state, &server.url("/moved.json")).await,
        "redirect",
    );
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        1,
        "the redirect was not followed"
    );
}
both!(
    a_metadata_document_that_redirects_is_refused,
    oauth21.metadata_document_allow_loopback = true
);

async fn a_metadata_document_on_a_loopback_or_private_address_is_refused_when_the_switch_is_off(
    app: TestApp,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = DocServer::serve(listener, vec![]);
    let port = server.origin.rsplit(':').next().unwrap().to_owned();
    for url in [
        format!("https://127.0.0.1:{port}/client.json"),
        format!("https://[::1]:{port}/client.json"),
        "https://10.0.0.1/client.json".to_owned(),
        "https://169.254.169.254/latest/meta-data".to_owned(),
        "https://[fd00::1]/client.json".to_owned(),
    ] {
        assert_refused(
            latchkey::resolve_client(&app.state, &url).await,
            "private or local",
        );
    }
    // Plain http is not a metadata document URL at all without the switch.
    assert!(matches!(
        latchkey::resolve_client(&app.state, &server.url("/client.json")).await,
        Err(latchkey::ResolveError::Unknown)
    ));
    assert_eq!(server.hits.load(Ordering::SeqCst), 0, "nothing was fetched");
}
both!(a_metadata_document_on_a_loopback_or_private_address_is_refused_when_the_switch_is_off);

// ---- migration 0012 on SQLite ----

/// SQLite rebuilds `apps` to let `owner_id` be NULL: the rows that reference apps (grants, and
/// through them tokens) must survive it, and foreign keys must be enforced again afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_rebuild_of_apps_keeps_every_app_and_what_references_it_and_foreign_keys_stay_on()
 {
    use sqlx::Connection;
    use sqlx::migrate::Migrator;
    use std::borrow::Cow;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/latchkey.db", dir.path().display());
    // The schema as it was before 0012, with data in it.
    {
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        let mut conn = sqlx::SqliteConnection::connect_with(
            &options.create_if_missing(true).foreign_keys(true),
        )
        .await
        .unwrap();
        let mut before = Migrator::new(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/sqlite"
        )))
        .await
        .unwrap();
        let earlier: Vec<_> = before
            .migrations
            .iter()
            .filter(|m| m.version < 12)
            .cloned()
            .collect();
        before.migrations = Cow::Owned(earlier);
        before.run(&mut conn).await.unwrap();
        sqlx::raw_sql(
            "INSERT INTO users (id, username, email, display_name, password_hash, created_at) \
             VALUES (1, 'alice', 'alice@example.com', 'Alice', 'x', 0); \
             INSERT INTO apps (id, owner_id, name, app_type, redirect_uris, secret_digest, created_at) \
             VALUES (7, 1, 'Old App', 'web', 'https://old.example/cb', x'00', 0); \
             INSERT INTO grants (id, user_id, app_id, scope, created_at) VALUES (3, 1, 7, 'global', 0);",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let options = latchkey::store::DbOptions {
        url: url.clone(),
        max_connections: 1,
        acquire_timeout: std::time::Duration::from_secs(5),
        sqlite_full_sync: false,
    };
    let store = latchkey::store::Store::connect(&options).await.unwrap();
    store.migrate().await.unwrap();

    let old = store.app_by_id(7).await.unwrap().unwrap();
    assert_eq!(old.owner_id, Some(1));
    assert_eq!(old.name, "Old App");
    assert!(old.is_verified());
    assert_eq!(old.grant_types, "authorization_code");
    let latchkey::store::Db::Sqlite(pool) = store.db() else {
        unreachable!()
    };
    let grants: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grants WHERE app_id = 7")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(grants, 1, "the grant survived the rebuild");
    // The one pooled connection (the one that migrated) enforces foreign keys again.
    let dangling = sqlx::query(
        "INSERT INTO grants (user_id, app_id, scope, created_at) VALUES (1, 999, 'global', 0)",
    )
    .execute(pool)
    .await;
    assert!(
        dangling.is_err(),
        "a grant of a missing app must be refused"
    );
    // And deleting the app still cascades to its grants.
    sqlx::query("DELETE FROM apps WHERE id = 7")
        .execute(pool)
        .await
        .unwrap();
    let grants: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grants")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(grants, 0);
    store.close().await;
}
