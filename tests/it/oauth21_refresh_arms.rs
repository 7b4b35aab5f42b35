//! Refresh tokens at revocation (RFC 7009) and introspection (RFC 7662), the audiences
//! introspection answers, and refresh tokens for apps registered with the `refresh_token` grant
//! (oauth21.md §2, §4).

use latchkey::store::App;
use serde_json::json;

use crate::both;
use crate::flows::*;
use crate::harness::*;
use crate::hot_path::peer;
use crate::oauth21_authorize::q21;
use crate::oauth21_token::pair;

const REVOKE: &str = "/oauth2-1/revoke";
const INTROSPECT: &str = "/oauth2-1/token-info";
const INACTIVE: &str = r#"{"active":false}"#;

/// POSTs `form` to `base` + `path` as `client` (credentials in the body).
async fn post_on(
    base: &str,
    path: &str,
    client: &App,
    secret: &str,
    form: &[(&str, &str)],
) -> Checked {
    let id = client.id.to_string();
    let mut form = form.to_vec();
    form.extend_from_slice(&[("client_id", id.as_str()), ("client_secret", secret)]);
    reqwest::Client::new()
        .post(format!("{base}{path}"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .read()
        .await
}

pub(crate) async fn introspect_on(base: &str, client: &App, secret: &str, token: &str) -> Checked {
    post_on(base, INTROSPECT, client, secret, &[("token", token)])
        .await
        .assert_status(200)
}

async fn revoke(app: &TestApp, client: &App, secret: &str, form: &[(&str, &str)]) {
    let r = post_on(&app.base, REVOKE, client, secret, form)
        .await
        .assert_status(200);
    assert_eq!(r.body, "");
    assert_eq!(r.header("cache-control"), "no-store");
}

async fn rest_me(app: &TestApp, token: &str) -> u16 {
    app.me(token).await.read().await.status
}

async fn revoking_a_refresh_token_ends_its_whole_family_on_every_instance(app: TestApp) {
    let w = world(&app).await;
    wait_live(&app.store).await;
    let (b, _b_state) = peer(&app).await;
    let first = app
        .grant21(&w, &[("scope", "auth offline_access")], None)
        .await;
    let rotated = first.refresh.clone().unwrap();
    let second = pair(
        &app.refresh21(&w.c1, &w.s1, &rotated, &[])
            .await
            .assert_status(200),
    );
    let live = second.refresh.clone().unwrap();
    // Another grant of the same user and app: not of the family.
    let other = app
        .grant21(&w, &[("scope", "auth offline_access")], None)
        .await;
    // B has the family's access token in its validation cache.
    for _ in 0..2 {
        let seen = introspect_on(&b, &w.c1, &w.s1, &second.access).await;
        assert_eq!(seen.json()["active"], true);
    }

    // Another client's revocation: 200, and nothing changes.
    revoke(&app, &w.c2, &w.s2, &[("token", &live)]).await;
    let seen = introspect_on(&app.base, &w.c1, &w.s1, &live).await;
    assert_eq!(seen.json()["active"], true, "{}", seen.body);
    assert_eq!(rest_me(&app, &second.access).await, 200);
    // A rotated refresh token is not live: revoking it changes nothing either.
    revoke(&app, &w.c1, &w.s1, &[("token", &rotated)]).await;
    assert_eq!(rest_me(&app, &second.access).await, 200);
    let revoked = "SELECT COUNT(*) FROM audit_events WHERE kind = 'token_revoked'";
    assert_eq!(app.scalar(revoked).await, 0);

    // The owning client's revocation ends the family.
    revoke(
        &app,
        &w.c1,
        &w.s1,
        &[("token", &live), ("token_type_hint", "refresh_token")],
    )
    .await;
    let r = app
        .refresh21(&w.c1, &w.s1, &live, &[])
        .await
        .assert_status(400);
    assert_eq!(r.json()["error"], "invalid_grant");
    for access in [&first.access, &second.access] {
        assert_eq!(rest_me(&app, access).await, 401);
        let seen = introspect_on(&app.base, &w.c1, &w.s1, access).await;
        assert_eq!(seen.body, INACTIVE);
    }
    let seen = introspect_on(&app.base, &w.c1, &w.s1, &live).await;
    assert_eq!(seen.body, INACTIVE);
    assert_eq!(app.scalar(revoked).await, 1, "the revocation is audited");
    let inactive_on_b =
        async || introspect_on(&b, &w.c1, &w.s1, &second.access).await.body == INACTIVE;
    // Bounded by PATIENCE (see `hot_path`): before the cache's TTL only the announcement ends it.
    wait_until("B sees the family's revocation", PATIENCE, inactive_on_b).await;

    // Revoking it again, or an unknown refresh token, is the same empty 200.
    revoke(&app, &w.c1, &w.s1, &[("token", &live)]).await;
    let unknown = latchkey::domain::secret::mint(
        latchkey::domain::secret::Kind::RefreshToken,
        &latchkey::domain::random::OsRandom,
    );
    revoke(&app, &w.c1, &w.s1, &[("token", &unknown)]).await;
    assert_eq!(app.scalar(revoked).await, 1);
    assert_eq!(rest_me(&app, &other.access).await, 200);
    app.refresh21(&w.c1, &w.s1, other.refresh.as_deref().unwrap(), &[])
        .await
        .assert_status(200);
}
both!(revoking_a_refresh_token_ends_its_whole_family_on_every_instance);

async fn introspecting_a_refresh_token_answers_its_fields_to_its_own_client_only(app: TestApp) {
    let w = world(&app).await;
    let issued_at = app.clock_now();
    let first = app
        .grant21(&w, &[("scope", "auth offline_access")], None)
        .await;
    let refresh = first.refresh.clone().unwrap();
    let seen = introspect_on(&app.base, &w.c1, &w.s1, &refresh).await;
    assert_eq!(seen.header("cache-control"), "no-store");
    let idle = app.state.settings.oauth21.refresh_idle_secs;
    let expected = json!({
        "active": true,
        "scope": "auth offline_access",
        "client_id": w.c1.id.to_string(),
        "username": "alice",
        "token_type": "refresh_token",
        "exp": issued_at + idle,
        "iat": issued_at,
        "sub": w.alice.id.to_string(),
        "aud": [format!("{}/rest/v1", app.base)],
        "iss": app.base,
        "blog_id": "0",
    });
    assert_eq!(seen.json(), expected);
    // The family's access token answers as a Bearer token with the same audience.
    let access = introspect_on(&app.base, &w.c1, &w.s1, &first.access).await;
    assert_eq!(access.json()["token_type"], "Bearer");
    assert_eq!(access.json()["aud"], expected["aud"]);

    // Another client sees nothing; nor does anyone once it is rotated or has expired.
    let foreign = introspect_on(&app.base, &w.c2, &w.s2, &refresh).await;
    assert_eq!(foreign.body, INACTIVE);
    app.clock.advance(30);
    let second = pair(
        &app.refresh21(&w.c1, &w.s1, &refresh, &[])
            .await
            .assert_status(200),
    );
    let rotated = introspect_on(&app.base, &w.c1, &w.s1, &refresh).await;
    assert_eq!(rotated.body, INACTIVE);
    let successor = second.refresh.unwrap();
    let seen = introspect_on(&app.base, &w.c1, &w.s1, &successor).await;
    assert_eq!(seen.json()["iat"], issued_at + 30);
    assert_eq!(
        seen.json()["exp"],
        issued_at + 30 + idle,
        "a fresh idle expiry"
    );
    app.clock.advance(idle);
    let expired = introspect_on(&app.base, &w.c1, &w.s1, &successor).await;
    assert_eq!(expired.body, INACTIVE);
}
both!(introspecting_a_refresh_token_answers_its_fields_to_its_own_client_only);

async fn introspection_answers_the_audiences_a_token_was_bound_to(app: TestApp) {
    let w = world(&app).await;
    let rest = format!("{}/rest/v1", app.base);
    let mcp = format!("{}/wpcom/v2/mcp/v1", app.base);
    let both_resources = app
        .grant21(
            &w,
            &[
                ("scope", "auth offline_access"),
                ("resource", &mcp),
                ("resource", &rest),
            ],
            None,
        )
        .await;
    let seen = introspect_on(&app.base, &w.c1, &w.s1, &both_resources.access).await;
    assert_eq!(seen.json()["aud"], json!([mcp, rest]), "{}", seen.body);
    let refresh = both_resources.refresh.unwrap();
    let seen = introspect_on(&app.base, &w.c1, &w.s1, &refresh).await;
    assert_eq!(seen.json()["aud"], json!([mcp, rest]), "{}", seen.body);
    // A refresh narrowed to one resource answers that one for its access token.
    let narrowed = pair(
        &app.refresh21(&w.c1, &w.s1, &refresh, &[("resource", &mcp)])
            .await
            .assert_status(200),
    );
    let seen = introspect_on(&app.base, &w.c1, &w.s1, &narrowed.access).await;
    assert_eq!(seen.json()["aud"], json!([mcp]), "{}", seen.body);
    // A token issued without `resource` is the REST API's, by the identifier discovery publishes.
    let none = app.grant21(&w, &[("scope", "auth")], None).await;
    let seen = introspect_on(&app.base, &w.c1, &w.s1, &none.access).await;
    assert_eq!(seen.json()["aud"], json!([rest]));
    let metadata = app
        .http
        .get(app.url("/.well-known/oauth-protected-resource"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert_eq!(metadata.json()["resource"], rest);
}
both!(introspection_answers_the_audiences_a_token_was_bound_to);

async fn a_client_registered_with_the_refresh_token_grant_gets_refresh_tokens_without_offline_access(
    app: TestApp,
) {
    let _w = world(&app).await;
    let registered = reqwest::Client::new()
        .post(app.url("/oauth2-1/register"))
        .json(&json!({
            "redirect_uris": [C1_REDIRECT],
            "token_endpoint_auth_method": "client_secret_post",
            "grant_types": ["authorization_code", "refresh_token"],
        }))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(201);
    let body = registered.json();
    let id: i64 = body["client_id"].as_str().unwrap().parse().unwrap();
    let secret = body["client_secret"].as_str().unwrap().to_owned();
    let client = app.store.app_by_id(id).await.unwrap().unwrap();
    let browser = app.alice_browser().await;
    let code = app
        .code21(&browser, &q21(id, &[("scope", "auth")]), None)
        .await;
    let issued = pair(
        &app.exchange21(&client, &secret, &code, &[])
            .await
            .read()
            .await
            .assert_status(200),
    );
    assert_eq!(issued.body["scope"], "auth", "{}", issued.body);
    let refresh = issued
        .refresh
        .expect("a refresh token without offline_access");
    let rotated = pair(
        &app.refresh21(&client, &secret, &refresh, &[])
            .await
            .assert_status(200),
    );
    assert!(rotated.refresh.is_some());
    assert_eq!(rest_me(&app, &rotated.access).await, 200);

    // Registered with authorization_code alone (RFC 7591's default): only offline_access does.
    let plain = reqwest::Client::new()
        .post(app.url("/oauth2-1/register"))
        .json(&json!({
            "redirect_uris": [C1_REDIRECT],
            "token_endpoint_auth_method": "client_secret_post",
        }))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(201)
        .json();
    let id: i64 = plain["client_id"].as_str().unwrap().parse().unwrap();
    let secret = plain["client_secret"].as_str().unwrap().to_owned();
    let client = app.store.app_by_id(id).await.unwrap().unwrap();
    let code = app
        .code21(&browser, &q21(id, &[("scope", "auth")]), None)
        .await;
    let issued = pair(
        &app.exchange21(&client, &secret, &code, &[])
            .await
            .read()
            .await
            .assert_status(200),
    );
    assert!(issued.refresh.is_none(), "{}", issued.body);
}
both!(a_client_registered_with_the_refresh_token_grant_gets_refresh_tokens_without_offline_access);
