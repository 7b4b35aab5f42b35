//! OpenID Connect and discovery (oauth21.md §1, §4, §6): the JWKS and its signing keys (made once,
//! shared, rotated by the CLI), the discovery documents, ID tokens verified against the served JWKS
//! with `jsonwebtoken`, the REST API's RFC 9728 challenge, and UserInfo.

use std::process::{Command, Output};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use latchkey::oidc::id_token::{IdTokenInput, id_token};
use latchkey::store::NewToken;
use serde_json::{Value, json};

use crate::both;
use crate::harness::*;

/// Runs the binary against the app's database, with the server's own secret key (the signing key
/// is sealed with it).
pub(crate) fn latchkey(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .env("LATCHKEY_DATABASE_URL", &app.state.settings.database.url)
        .env("LATCHKEY_SECRET_KEY", hex::encode(app.state.key.0))
        .env("LATCHKEY_PUBLIC_URL", &app.base)
        .output()
        .unwrap()
}

#[track_caller]
fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The current Unix time: the CLI stamps rotations with the system clock, and `jsonwebtoken`
/// checks `exp` against it, so tests that mix them run the app's clock on real time.
pub(crate) fn real_now() -> i64 {
    use latchkey::domain::clock::Clock;
    latchkey::domain::clock::SystemClock.now()
}

pub(crate) async fn jwks(app: &TestApp) -> Value {
    app.get("/.well-known/jwks.json")
        .await
        .read()
        .await
        .assert_status(200)
        .json()
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Verifies `token` as a relying party would: the key named by its `kid`, taken from the JWKS the
/// server serves, RS256 only, the issuer and the audience checked.
#[track_caller]
pub(crate) fn verify(jwks: &Value, token: &str, issuer: &str, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    let kid = header.kid.expect("an ID token names its key");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("kid {kid} is not in the JWKS {jwks}"));
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap_or_else(|e| panic!("the ID token does not verify: {e}"))
        .claims
}

async fn sign_for(app: &TestApp, user_id: i64, scope: &str, nonce: Option<&str>) -> String {
    id_token(
        &app.state,
        IdTokenInput {
            user_id,
            client_id: "4242",
            nonce,
            auth_time: app.clock_now() - 30,
            access_token: "lkat_example",
            scope,
        },
    )
    .await
    .unwrap()
}

// ---- signing keys and the JWKS ----

async fn the_jwks_publishes_one_rs256_key_made_on_first_need_and_cached_publicly(app: TestApp) {
    assert_eq!(app.scalar("SELECT COUNT(*) FROM signing_keys").await, 0);
    let response = app
        .get("/.well-known/jwks.json")
        .await
        .read()
        .await
        .assert_status(200);
    assert_eq!(response.header("cache-control"), "public, max-age=3600");
    let body = response.json();
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{body}");
    let key = &keys[0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["e"], "AQAB");
    let n = key["n"].as_str().unwrap();
    assert!(n.len() >= 342, "a 2048-bit modulus in base64url: {n}");
    assert_eq!(
        key["kid"].as_str().unwrap(),
        latchkey::domain::signing_key::thumbprint(n, "AQAB"),
        "the kid is the RFC 7638 thumbprint"
    );
    assert!(key.get("d").is_none(), "no private member: {key}");
    // Stored once, and only sealed.
    assert_eq!(kids(&jwks(&app).await), kids(&body));
    assert_eq!(app.scalar("SELECT COUNT(*) FROM signing_keys").await, 1);
    let sealed = app
        .scalar_bytes("SELECT private_key_enc FROM signing_keys")
        .await;
    let der_rsa_oid = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    assert!(
        !sealed.windows(der_rsa_oid.len()).any(|w| w == der_rsa_oid),
        "the private key is stored sealed, not as PKCS#8"
    );
}
both!(the_jwks_publishes_one_rs256_key_made_on_first_need_and_cached_publicly);

async fn the_jwks_lifetime_follows_the_setting(app: TestApp) {
    let response = app.get("/.well-known/jwks.json").await.read().await;
    assert_eq!(response.header("cache-control"), "public, max-age=120");
}
both!(
    the_jwks_lifetime_follows_the_setting,
    oauth21.jwks_max_age_secs = 120
);

async fn instances_racing_for_the_first_key_all_publish_the_same_one(app: TestApp) {
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (http, url) = (app.http.clone(), app.url("/.well-known/jwks.json"));
        requests.spawn(async move { http.get(url).send().await.unwrap().read().await });
    }
    let mut seen = Vec::new();
    while let Some(response) = requests.join_next().await {
        seen.push(kids(&response.unwrap().assert_status(200).json()));
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    assert_eq!(seen[0].len(), 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM signing_keys").await, 1);
}
both!(instances_racing_for_the_first_key_all_publish_the_same_one);

async fn a_second_instance_makes_the_key_at_start_and_both_sign_with_it(app: TestApp) {
    app.clock.set(real_now());
    let user = app.user("alice", "correct horse").await;
    let other = app.second_process().await;
    // `serve` made the key at start, before any request asked for it.
    assert_eq!(app.scalar("SELECT COUNT(*) FROM signing_keys").await, 1);
    let theirs: Value = app
        .http
        .get(format!("{}/.well-known/jwks.json", other.base))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200)
        .json();
    let ours = jwks(&app).await;
    assert_eq!(kids(&theirs), kids(&ours));
    // A token this instance signs verifies against the other instance's JWKS.
    let token = sign_for(&app, user.id, "openid", None).await;
    verify(&theirs, &token, &app.base, "4242");
}
both!(a_second_instance_makes_the_key_at_start_and_both_sign_with_it);

async fn keys_rotate_keeps_the_previous_key_published_for_the_overlap(app: TestApp) {
    app.clock.set(real_now());
    let user = app.user("alice", "correct horse").await;
    let before = jwks(&app).await;
    let old_kid = kids(&before)[0].clone();
    let signed_before = sign_for(&app, user.id, "openid", None).await;

    let rotated = ok_json(&latchkey(&app, &["keys", "rotate"]));
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    assert_eq!(rotated["retired_kid"], old_kid.as_str());

    let after = jwks(&app).await;
    assert_eq!(kids(&after), vec![new_kid.clone(), old_kid.clone()]);
    // A token signed before the rotation still verifies. For `SIGNER_TTL_SECS` this process
    // still signs with the signer it holds (the key just retired, still in the JWKS); then with
    // the new key.
    verify(&after, &signed_before, &app.base, "4242");
    app.clock.advance(1);
    let signed_within_ttl = sign_for(&app, user.id, "openid", None).await;
    assert_eq!(
        jsonwebtoken::decode_header(&signed_within_ttl).unwrap().kid,
        Some(old_kid.clone())
    );
    verify(&after, &signed_within_ttl, &app.base, "4242");
    app.clock.advance(latchkey::oidc::keys::SIGNER_TTL_SECS);
    let signed_after = sign_for(&app, user.id, "openid", None).await;
    assert_eq!(
        jsonwebtoken::decode_header(&signed_after).unwrap().kid,
        Some(new_kid.clone())
    );
    verify(&after, &signed_after, &app.base, "4242");

    let listed = ok_json(&latchkey(&app, &["keys", "list"]));
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["kid"], new_kid.as_str());
    assert_eq!(listed[0]["status"], "current");
    assert_eq!(listed[1]["kid"], old_kid.as_str());
    assert_eq!(listed[1]["status"], "published");
    assert!(listed.iter().all(|k| k.get("private_key_enc").is_none()));

    // Once the overlap (24 h by default) has passed, only the new key is published.
    app.clock.advance(24 * 3600 + 60);
    assert_eq!(kids(&jwks(&app).await), vec![new_kid]);
    let table = latchkey(&app, &["keys", "list", "--table"]);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.starts_with("KID"), "{table}");
}
both!(keys_rotate_keeps_the_previous_key_published_for_the_overlap);

async fn id_tokens_from_the_token_endpoint_verify_across_a_rotation(app: TestApp) {
    app.clock
        .set(real_now() - 2 * latchkey::oidc::keys::SIGNER_TTL_SECS);
    let w = crate::flows::world(&app).await;
    let first = app.grant21(&w, &[("scope", "auth openid")], None).await;
    let first = first.body["id_token"].as_str().unwrap().to_owned();
    let rotated = ok_json(&latchkey(&app, &["keys", "rotate"]));
    // At once: the cached signer (the retired key) may still sign; its token verifies.
    let within = app.grant21(&w, &[("scope", "auth openid")], None).await;
    let within = within.body["id_token"].as_str().unwrap().to_owned();
    // After the cache lifetime: the new key signs.
    app.clock.set(real_now());
    let later = app.grant21(&w, &[("scope", "auth openid")], None).await;
    let later = later.body["id_token"].as_str().unwrap().to_owned();
    let published = jwks(&app).await;
    assert_eq!(published["keys"].as_array().unwrap().len(), 2);
    let audience = w.c1.id.to_string();
    for token in [&first, &within, &later] {
        let claims = verify(&published, token, &app.base, &audience);
        assert_eq!(claims["sub"], w.alice.id.to_string());
    }
    assert_eq!(
        jsonwebtoken::decode_header(&later).unwrap().kid.as_deref(),
        rotated["kid"].as_str()
    );
    assert_eq!(
        jsonwebtoken::decode_header(&within).unwrap().kid.as_deref(),
        rotated["retired_kid"].as_str()
    );
}
both!(id_tokens_from_the_token_endpoint_verify_across_a_rotation);

async fn keys_rotate_on_an_empty_database_makes_the_first_key(app: TestApp) {
    let rotated = ok_json(&latchkey(&app, &["keys", "rotate"]));
    assert_eq!(rotated["retired_kid"], Value::Null);
    assert_eq!(
        kids(&jwks(&app).await),
        vec![rotated["kid"].as_str().unwrap()]
    );
}
both!(keys_rotate_on_an_empty_database_makes_the_first_key);

async fn keys_rotate_with_another_secret_key_is_refused(app: TestApp) {
    // The server's key is recorded first (as `serve` does).
    ok_json(&latchkey(&app, &["keys", "rotate"]));
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["keys", "rotate"])
        .env("LATCHKEY_DATABASE_URL", &app.state.settings.database.url)
        .env("LATCHKEY_SECRET_KEY", "33".repeat(32))
        .env("LATCHKEY_PUBLIC_URL", &app.base)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("LATCHKEY_SECRET_KEY"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM signing_keys").await, 1);
}
both!(keys_rotate_with_another_secret_key_is_refused);

// ---- discovery ----

async fn the_authorization_server_metadata_lists_exactly_the_oauth21_server(app: TestApp) {
    let response = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .read()
        .await
        .assert_status(200);
    assert_eq!(response.header("cache-control"), "public, max-age=3600");
    let meta = response.json();
    let base = app.base.as_str();
    let mut fields: Vec<&str> = meta
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    fields.sort_unstable();
    let mut expected = vec![
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "registration_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "response_types_supported",
        "grant_types_supported",
        "code_challenge_methods_supported",
        "token_endpoint_auth_methods_supported",
        "scopes_supported",
        "claims_supported",
        "id_token_signing_alg_values_supported",
        "subject_types_supported",
        "authorization_response_iss_parameter_supported",
        "client_id_metadata_document_supported",
        "resource_indicators_supported",
    ];
    expected.sort_unstable();
    assert_eq!(fields, expected, "{meta:#}");
    assert_eq!(meta["issuer"], base);
    for (field, path) in [
        ("authorization_endpoint", "/oauth2-1/authorize"),
        ("token_endpoint", "/oauth2-1/token"),
        ("revocation_endpoint", "/oauth2-1/revoke"),
        ("introspection_endpoint", "/oauth2-1/token-info"),
        ("registration_endpoint", "/oauth2-1/register"),
        ("userinfo_endpoint", "/oauth2-1/userinfo"),
        ("jwks_uri", "/.well-known/jwks.json"),
    ] {
        assert_eq!(meta[field], format!("{base}{path}"), "{field}");
    }
    assert_eq!(meta["response_types_supported"], json!(["code"]));
    assert_eq!(
        meta["grant_types_supported"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(
        meta["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(meta["subject_types_supported"], json!(["public"]));
    for flag in [
        "authorization_response_iss_parameter_supported",
        "client_id_metadata_document_supported",
        "resource_indicators_supported",
    ] {
        assert_eq!(meta[flag], true, "{flag}");
    }
    let scopes = meta["scopes_supported"].as_array().unwrap();
    for scope in [
        "global",
        "auth",
        "posts",
        "openid",
        "profile",
        "email",
        "offline_access",
    ] {
        assert!(scopes.contains(&json!(scope)), "{scope} in {scopes:?}");
    }
    let claims = meta["claims_supported"].as_array().unwrap();
    for claim in [
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "name",
    ] {
        assert!(claims.contains(&json!(claim)), "{claim} in {claims:?}");
    }
    // The JWKS it names is served.
    let jwks_path = meta["jwks_uri"]
        .as_str()
        .unwrap()
        .strip_prefix(base)
        .unwrap();
    app.get(jwks_path).await.read().await.assert_status(200);
}
both!(the_authorization_server_metadata_lists_exactly_the_oauth21_server);

async fn the_openid_configuration_is_the_same_document_plus_the_oidc_fields(app: TestApp) {
    let oauth = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .read()
        .await
        .json();
    let response = app
        .get("/.well-known/openid-configuration")
        .await
        .read()
        .await
        .assert_status(200);
    assert_eq!(response.header("cache-control"), "public, max-age=3600");
    let oidc = response.json();
    for (field, value) in oauth.as_object().unwrap() {
        assert_eq!(&oidc[field], value, "{field}");
    }
    for field in [
        "claims_parameter_supported",
        "request_parameter_supported",
        "request_uri_parameter_supported",
    ] {
        assert_eq!(oidc[field], false, "{field}");
    }
    assert_eq!(
        oidc.as_object().unwrap().len(),
        oauth.as_object().unwrap().len() + 3
    );
}
both!(the_openid_configuration_is_the_same_document_plus_the_oidc_fields);

async fn each_protected_resource_publishes_its_rfc_9728_metadata_with_the_scopes_it_serves(
    app: TestApp,
) {
    let base = app.base.as_str();
    for (path, resource) in [
        ("/.well-known/oauth-protected-resource", "/rest/v1"),
        ("/.well-known/oauth-protected-resource/rest/v1", "/rest/v1"),
        (
            "/.well-known/oauth-protected-resource/wpcom/v2/mcp/v1",
            "/wpcom/v2/mcp/v1",
        ),
    ] {
        let response = app.get(path).await.read().await.assert_status(200);
        assert_eq!(response.header("cache-control"), "public, max-age=3600");
        let doc = response.json();
        assert_eq!(doc["resource"], format!("{base}{resource}"), "{path}");
        assert_eq!(doc["authorization_servers"], json!([base]), "{path}");
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]), "{path}");
        let scopes = doc["scopes_supported"].as_array().unwrap();
        if resource == "/rest/v1" {
            assert!(scopes.len() > 4, "{path}");
        } else {
            // Exactly what the MCP tools need (their per-tool scope table); the 401 names the
            // part a single-blog grant holds together.
            assert_eq!(doc["scopes_supported"], json!(["sites", "posts", "global"]));
        }
    }
    // Nothing else is a protected resource here.
    for path in [
        "/.well-known/oauth-protected-resource/rest/v2",
        "/.well-known/oauth-protected-resource/wpcom/v2/mcp",
    ] {
        let missing = app.get(path).await.read().await.assert_status(404);
        assert_eq!(missing.json()["error"], "invalid_request", "{path}");
    }
}
both!(each_protected_resource_publishes_its_rfc_9728_metadata_with_the_scopes_it_serves);

// ---- ID tokens ----

async fn an_id_token_verifies_against_the_jwks_and_carries_the_openid_claims(app: TestApp) {
    app.clock.set(real_now());
    let user = app.user("alice", "correct horse").await;
    let now = app.clock_now();
    let token = id_token(
        &app.state,
        IdTokenInput {
            user_id: user.id,
            client_id: "4242",
            nonce: Some("n-0S6_WzA2Mj"),
            auth_time: now - 30,
            access_token: "lkat_example",
            scope: "global openid",
        },
    )
    .await
    .unwrap();
    let claims = verify(&jwks(&app).await, &token, &app.base, "4242");
    let mut names: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "at_hash",
            "aud",
            "auth_time",
            "exp",
            "iat",
            "iss",
            "nonce",
            "sub"
        ],
        "without profile or email, no user details: {claims}"
    );
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["iss"], app.base.as_str());
    assert_eq!(claims["aud"], "4242");
    assert_eq!(claims["iat"], now);
    assert_eq!(claims["exp"], now + 600);
    assert_eq!(claims["auth_time"], now - 30);
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(
        claims["at_hash"],
        latchkey::oidc::id_token::at_hash("lkat_example")
    );
    // Another audience or issuer does not verify.
    let key = jwks(&app).await["keys"][0].clone();
    let decoding =
        DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap())
            .unwrap();
    let mut other = Validation::new(Algorithm::RS256);
    other.set_audience(&["4243"]);
    assert!(jsonwebtoken::decode::<Value>(&token, &decoding, &other).is_err());
}
both!(an_id_token_verifies_against_the_jwks_and_carries_the_openid_claims);

async fn profile_and_email_add_their_claims_to_the_id_token(app: TestApp) {
    app.clock.set(real_now());
    let user = app.user("alice", "correct horse").await;
    let token = sign_for(&app, user.id, "openid profile email", None).await;
    let claims = verify(&jwks(&app).await, &token, &app.base, "4242");
    assert_eq!(claims["name"], user.display_name.as_str());
    assert_eq!(claims["preferred_username"], "alice");
    assert!(
        claims["picture"]
            .as_str()
            .unwrap()
            .starts_with("https://gravatar.com/avatar/")
    );
    assert_eq!(claims["updated_at"], user.created_at);
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], false);
    assert!(claims.get("nonce").is_none(), "no nonce was sent");
    let only_email = sign_for(&app, user.id, "openid email", None).await;
    let claims = verify(&jwks(&app).await, &only_email, &app.base, "4242");
    assert!(claims.get("name").is_none() && claims.get("email").is_some());
}
both!(profile_and_email_add_their_claims_to_the_id_token);

async fn the_id_token_lifetime_follows_the_setting(app: TestApp) {
    app.clock.set(real_now());
    let user = app.user("alice", "correct horse").await;
    let token = sign_for(&app, user.id, "openid", None).await;
    let claims = verify(&jwks(&app).await, &token, &app.base, "4242");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        90
    );
}
both!(
    the_id_token_lifetime_follows_the_setting,
    oauth21.id_token_ttl_secs = 90
);

// ---- the REST API's challenge (oauth21.md §4) ----

async fn a_rest_401_names_the_apis_resource_metadata(app: TestApp) {
    let metadata = format!("{}/.well-known/oauth-protected-resource/rest/v1", app.base);
    let expected = format!("Bearer resource_metadata=\"{metadata}\", error=\"invalid_token\"");
    for path in ["/rest/v1/me", "/rest/v1.1/me", "/wp-json/wp/v2/users/me"] {
        let refused = app
            .http
            .get(app.url(path))
            .bearer_auth("lkat_not_a_token")
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(401);
        assert_eq!(refused.header("www-authenticate"), expected, "{path}");
    }
    // The URL it names is served and describes the API.
    let doc = app
        .http
        .get(&metadata)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200)
        .json();
    assert_eq!(doc["resource"], format!("{}/rest/v1", app.base));
    // Without a token the API still answers WordPress.com's 403, with no challenge.
    let anonymous = app
        .get("/rest/v1.1/me")
        .await
        .read()
        .await
        .assert_status(403);
    assert!(anonymous.headers.get("www-authenticate").is_none());
}
both!(a_rest_401_names_the_apis_resource_metadata);

// ---- UserInfo ----

/// A live access token for `user_id` whose stored scope is `scope`, written as the token endpoint
/// writes one. (The `/oauth2-1/` token endpoint of another branch grants `openid`; here the scope
/// words are stored directly.)
async fn token_with_scope(app: &TestApp, user_id: i64, scope: &str) -> String {
    let owners = app.scalar("SELECT COUNT(*) FROM users").await;
    let owner = app.user(&format!("owner{owners}"), "correct horse").await;
    let (client, _) = app
        .app(
            &owner,
            &["https://client.example/cb"],
            latchkey::domain::app::AppType::Web,
        )
        .await;
    let minted = latchkey::oauth2::tokens::mint(&app.state);
    let new = NewToken {
        digest: &minted.digest,
        app_id: client.id,
        user_id,
        site_id: None,
        scope,
        origin: "implicit",
        expires_at: None,
    };
    app.store.grant_token(&new, app.clock_now()).await.unwrap();
    minted.token
}

async fn userinfo(app: &TestApp, token: Option<&str>, post: bool) -> Checked {
    let url = app.url("/oauth2-1/userinfo");
    let request = if post {
        app.http.post(url)
    } else {
        app.http.get(url)
    };
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    request.send().await.unwrap().read().await
}

async fn userinfo_answers_the_claims_of_the_granted_scopes(app: TestApp) {
    let user = app.user("alice", "correct horse").await;
    let token = token_with_scope(&app, user.id, "global openid profile email").await;
    for post in [false, true] {
        let answer = userinfo(&app, Some(&token), post).await.assert_status(200);
        assert_eq!(answer.header("cache-control"), "no-store");
        let claims = answer.json();
        assert_eq!(claims["sub"], user.id.to_string());
        assert_eq!(claims["preferred_username"], "alice");
        assert_eq!(claims["name"], user.display_name.as_str());
        assert_eq!(claims["email"], "alice@example.com");
        assert_eq!(claims["email_verified"], false);
        assert_eq!(claims["updated_at"], user.created_at);
        assert!(claims["picture"].as_str().unwrap().starts_with("https://"));
    }
    // `openid` alone: the subject only.
    let bare = token_with_scope(&app, user.id, "openid").await;
    let claims = userinfo(&app, Some(&bare), false)
        .await
        .assert_status(200)
        .json();
    assert_eq!(claims, json!({"sub": user.id.to_string()}));
}
both!(userinfo_answers_the_claims_of_the_granted_scopes);

async fn userinfo_refuses_as_rfc_6750_says(app: TestApp) {
    let user = app.user("alice", "correct horse").await;
    let without_openid = token_with_scope(&app, user.id, "global").await;
    let missing = userinfo(&app, None, false).await.assert_status(401);
    assert_eq!(missing.header("www-authenticate"), "Bearer");
    for bad in ["lkat_not_a_token", "garbage"] {
        let refused = userinfo(&app, Some(bad), false).await.assert_status(401);
        assert_eq!(
            refused.header("www-authenticate"),
            "Bearer error=\"invalid_token\"",
            "{bad}"
        );
        assert_eq!(refused.json()["error"], "invalid_token");
        assert_eq!(refused.header("cache-control"), "no-store");
    }
    let narrow = userinfo(&app, Some(&without_openid), true)
        .await
        .assert_status(403);
    assert_eq!(
        narrow.header("www-authenticate"),
        "Bearer error=\"insufficient_scope\", scope=\"openid\""
    );
    assert_eq!(narrow.json()["error"], "insufficient_scope");
    let in_query = app
        .get(&format!("/oauth2-1/userinfo?access_token={without_openid}"))
        .await
        .read()
        .await
        .assert_status(400);
    assert_eq!(in_query.json()["error"], "invalid_request");
}
both!(userinfo_refuses_as_rfc_6750_says);

async fn userinfo_stops_answering_once_the_token_is_revoked(app: TestApp) {
    let user = app.user("alice", "correct horse").await;
    let token = token_with_scope(&app, user.id, "openid profile").await;
    userinfo(&app, Some(&token), false).await.assert_status(200);
    let token_id = app
        .scalar(&format!(
            "SELECT id FROM access_tokens WHERE user_id = {}",
            user.id
        ))
        .await;
    app.store.revoke_token(token_id).await.unwrap();
    userinfo(&app, Some(&token), false).await.assert_status(401);
}
both!(userinfo_stops_answering_once_the_token_is_revoked);
