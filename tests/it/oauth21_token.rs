//! `/oauth2-1/token` (oauth21.md §3) and the tokens it issues (§4): the code exchange with PKCE,
//! refresh rotation with reuse detection and its grace, `client_credentials`, expiry and audiences
//! at the REST API and token-info.

use latchkey::domain::app::AppType;
use latchkey::domain::client_metadata::GrantType;
use latchkey::store::App;

use crate::both;
use crate::flows::*;
use crate::harness::*;
use crate::oauth21_authorize::q21;

#[track_caller]
pub(crate) fn assert_oauth_error(checked: &Checked, error: &str) {
    assert_eq!(checked.json()["error"], error, "{}", checked.body);
    assert!(checked.json()["error_description"].is_string());
    assert_eq!(checked.header("cache-control"), "no-store");
}

/// A token response: access and refresh tokens.
pub(crate) struct Pair {
    pub access: String,
    pub refresh: Option<String>,
    pub body: serde_json::Value,
}

pub(crate) fn pair(checked: &Checked) -> Pair {
    let body = checked.json();
    Pair {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().map(str::to_owned),
        body,
    }
}

impl TestApp {
    /// Alice's grant to c1 through the whole 2.1 code flow, with `extra` authorize parameters.
    pub(crate) async fn grant21(
        &self,
        w: &World,
        extra: &[(&str, &str)],
        blog: Option<i64>,
    ) -> Pair {
        let browser = self.alice_browser().await;
        let code = self.code21(&browser, &q21(w.c1.id, extra), blog).await;
        let issued = self
            .exchange21(&w.c1, &w.s1, &code, &[])
            .await
            .read()
            .await
            .assert_status(200);
        pair(&issued)
    }

    pub(crate) async fn refresh21(
        &self,
        client: &App,
        secret: &str,
        refresh: &str,
        extra: &[(&str, &str)],
    ) -> Checked {
        let id = client.id.to_string();
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("client_id", id.as_str()),
            ("client_secret", secret),
            ("refresh_token", refresh),
        ];
        form.extend_from_slice(extra);
        self.token21(&form).await.read().await
    }

    /// Replaces the 2.1 grant types `app_id` registered.
    pub(crate) async fn set_grants(&self, app_id: i64, grants: &[GrantType]) {
        let mut tx = self.store.begin();
        assert!(tx.set_app_grant_types(app_id, grants).await.unwrap());
        tx.commit().await.unwrap();
    }

    async fn rest_me(&self, token: &str) -> u16 {
        self.me(token).await.read().await.status
    }
}

async fn the_code_exchange_answers_in_rfc_order_with_expires_in_and_a_string_blog_id(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let code = app
        .code21(
            &browser,
            &q21(w.c1.id, &[("scope", "posts openid offline_access")]),
            Some(w.blog1.id),
        )
        .await;
    let r = app
        .exchange21(&w.c1, &w.s1, &code, &[])
        .await
        .read()
        .await
        .assert_status(200);
    assert_eq!(r.header("cache-control"), "no-store");
    let keys: Vec<&str> = [
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "scope",
        "id_token",
        "blog_id",
        "blog_url",
    ]
    .into_iter()
    .collect();
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| {
            r.body
                .find(&format!("\"{k}\""))
                .unwrap_or_else(|| panic!("{k} in {}", r.body))
        })
        .collect();
    assert!(
        positions.windows(2).all(|p| p[0] < p[1]),
        "RFC 6749 §5.1 order: {}",
        r.body
    );
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 1_209_600);
    assert_eq!(body["scope"], "posts openid offline_access");
    assert_eq!(body["blog_id"], w.blog1.id.to_string());
    assert_eq!(body["blog_url"], w.blog1.url);
    assert!(body["refresh_token"].as_str().unwrap().starts_with("lkrt_"));
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(app.rest_me(access).await, 200);
    // Refresh tokens are stored as digests only.
    assert!(
        !app.database_contains(body["refresh_token"].as_str().unwrap())
            .await
    );
}
both!(the_code_exchange_answers_in_rfc_order_with_expires_in_and_a_string_blog_id);

async fn without_offline_access_no_refresh_token_is_issued(app: TestApp) {
    let w = world(&app).await;
    let p = app.grant21(&w, &[("scope", "auth")], None).await;
    assert!(p.refresh.is_none(), "{}", p.body);
    assert_eq!(p.body["blog_id"], "0");
    assert_eq!(app.count("refresh_tokens").await, 0);
}
both!(without_offline_access_no_refresh_token_is_issued);

async fn openid_adds_an_id_token_that_verifies_against_the_jwks_with_the_nonce_and_at_hash(
    app: TestApp,
) {
    let w = world(&app).await;
    // A relying party checks `exp` against real time.
    app.clock.set(crate::oidc::real_now());
    let p = app
        .grant21(
            &w,
            &[
                ("scope", "auth openid profile email"),
                ("nonce", "n-0S6_WzA2Mj"),
            ],
            None,
        )
        .await;
    let id_token = p.body["id_token"]
        .as_str()
        .expect("openid yields an ID token");
    let jwks = crate::oidc::jwks(&app).await;
    let issuer = app.state.settings.issuer();
    let claims = crate::oidc::verify(&jwks, id_token, issuer, &w.c1.id.to_string());
    assert_eq!(claims["sub"], w.alice.id.to_string());
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(
        claims["at_hash"],
        latchkey::oidc::id_token::at_hash(&p.access)
    );
    assert_eq!(claims["preferred_username"], w.alice.username);
    assert!(claims["email"].is_string(), "{claims}");
    assert!(claims["auth_time"].as_i64().unwrap() <= claims["iat"].as_i64().unwrap());
    // Without openid there is none.
    let plain = app.grant21(&w, &[("scope", "auth")], None).await;
    assert!(plain.body.get("id_token").is_none(), "{}", plain.body);
}
both!(openid_adds_an_id_token_that_verifies_against_the_jwks_with_the_nonce_and_at_hash);

async fn the_code_verifier_is_required_and_a_wrong_one_burns_the_code(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let code = app
        .code21(&browser, &q21(w.c1.id, &[("scope", "auth")]), None)
        .await;
    let id = w.c1.id.to_string();
    let missing = app
        .token21(&[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("client_secret", &w.s1),
            ("code", &code),
            ("redirect_uri", C1_REDIRECT),
        ])
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&missing, "invalid_request");
    let wrong = "x".repeat(43);
    let r = app
        .token21(&[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("client_secret", &w.s1),
            ("code", &code),
            ("redirect_uri", C1_REDIRECT),
            ("code_verifier", &wrong),
        ])
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&r, "invalid_grant");
    let r = app
        .exchange21(&w.c1, &w.s1, &code, &[])
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&r, "invalid_grant");
}
both!(the_code_verifier_is_required_and_a_wrong_one_burns_the_code);

async fn codes_of_one_dialect_are_refused_by_the_other_token_endpoint(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let code21 = app
        .code21(&browser, &q21(w.c1.id, &[("scope", "auth")]), None)
        .await;
    let r = app
        .exchange_code(&w.c1, &w.s1, &code21, C1_REDIRECT)
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&r, "invalid_grant");
    app.exchange21(&w.c1, &w.s1, &code21, &[])
        .await
        .read()
        .await
        .assert_status(200);
    let legacy = app
        .obtain_code(
            &browser,
            &authz_query(
                w.c1.id,
                C1_REDIRECT,
                &[
                    ("scope", "auth"),
                    ("code_challenge", crate::oauth21_authorize::CHALLENGE),
                    ("code_challenge_method", "S256"),
                ],
            ),
            None,
        )
        .await;
    let r = app
        .exchange21(&w.c1, &w.s1, &legacy, &[])
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&r, "invalid_grant");
}
both!(codes_of_one_dialect_are_refused_by_the_other_token_endpoint);

async fn a_refresh_rotates_the_pair_and_the_old_refresh_token_dies_at_once(app: TestApp) {
    let w = world(&app).await;
    let first = app
        .grant21(&w, &[("scope", "auth offline_access")], None)
        .await;
    let old = first.refresh.clone().unwrap();
    let r = app
        .refresh21(&w.c1, &w.s1, &old, &[])
        .await
        .assert_status(200);
    let second = pair(&r);
    assert_eq!(second.body["scope"], "auth offline_access");
    assert_eq!(second.body["expires_in"], 1_209_600);
    let new_refresh = second.refresh.clone().unwrap();
    assert_ne!(new_refresh, old);
    let r = app
        .refresh21(&w.c1, &w.s1, &old, &[])
        .await
        .assert_status(400);
    assert_oauth_error(&r, "invalid_grant");
    assert_eq!(app.rest_me(&second.access).await, 200);
    assert_eq!(
        app.rest_me(&first.access).await,
        200,
        "rotation leaves earlier access tokens alone"
    );
    // The successor rotates in turn.
    let third = app
        .refresh21(&w.c1, &w.s1, &new_refresh, &[])
        .await
        .assert_status(200);
    assert!(pair(&third).refresh.is_some());
}
both!(a_refresh_rotates_the_pair_and_the_old_refresh_token_dies_at_once);

async fn reusing_a_rotated_refresh_token_revokes_the_whole_family(app: TestApp) {
    let w = world(&app).await;
    let first = app
        .grant21(&w, &[("scope", "auth offline_access")], None)
        .await;
    let a = first.refresh.clone().unwrap();
    let second = pair(
        &app.refresh21(&w.c1, &w.s1, &a, &[])
            .await
            .assert_status(200),
    );
    let b = second.refresh.clone().unwrap();
    let third = pair(
        &app.refresh21(&w.c1, &w.s1, &b, &[])
            .await
            .assert_status(200),
    );
    // A is two generations old: its reuse is theft, whatever the grace.
    let r = app
        .refresh21(&w.c1, &w.s1, &a, &[])
        .await
        .assert_status(400);
    assert_oauth_error(&r, "invalid_grant");
    for access in [&first.access, &second.access, &third.access] {
        assert_eq!(app.rest_me(access).await, 401);
    }
    let c = third.refresh.unwrap();
    let r = app
        .refresh21(&w.c1, &w.s1, &c, &[])
        .await
        .assert_status(400);
    assert_oauth_error(&r, "invalid_grant");
    let reused = "SELECT COUNT(*) FROM audit_events WHERE kind = 'refresh_token_reused'";
    assert_eq!(app.scalar(reused).await, 1, "the reuse is audited");
    // Another grant of the same user and app is not of the family.
    let other = app
        .grant21(&w, &[("scope", "auth offline_access")], None)
        .await;
    assert_eq!(app.rest_me(&other.access).await, 200);
}
both!(reusing_a_rotated_refresh_token_revokes_the_whole_family);

async fn a_repeat_within_the_grace_answers_a_fresh_pair_and_ends_the_unused_one(app: TestApp) {
    let w = world(&app).await;
    let first = app
        .grant21(&w, &[("scope", "auth offline_access")], None)
        .await;
    let a = first.refresh.clone().unwrap();
    let lost = pair(
        &app.refresh21(&w.c1, &w.s1, &a, &[])
            .await
            .assert_status(200),
    );
    app.clock.advance(9);
    let retried = pair(
        &app.refresh21(&w.c1, &w.s1, &a, &[])
            .await
            .assert_status(200),
    );
    assert_eq!(app.rest_me(&lost.access).await, 401, "the unused pair ends");
    let r = app
        .refresh21(&w.c1, &w.s1, lost.refresh.as_ref().unwrap(), &[])
        .await
        .assert_status(400);
    assert_oauth_error(&r, "invalid_grant");
    assert_eq!(app.rest_me(&retried.access).await, 200);
    assert_eq!(app.rest_me(&first.access).await, 200);
    // Past the grace, the same repeat is a reuse: the family ends.
    app.clock.advance(1);
    app.refresh21(&w.c1, &w.s1, &a, &[])
        .await
        .assert_status(400);
    assert_eq!(app.rest_me(&retried.access).await, 401);
    let r = app
        .refresh21(&w.c1, &w.s1, retried.refresh.as_ref().unwrap(), &[])
        .await
        .assert_status(400);
    assert_oauth_error(&r, "invalid_grant");
}
both!(a_repeat_within_the_grace_answers_a_fresh_pair_and_ends_the_unused_one);

async fn a_refresh_may_narrow_the_scope_but_never_widen_it(app: TestApp) {
    let w = world(&app).await;
    let first = app
        .grant21(
            &w,
            &[("scope", "posts media offline_access")],
            Some(w.blog1.id),
        )
        .await;
    let a = first.refresh.unwrap();
    let r = app
        .refresh21(&w.c1, &w.s1, &a, &[("scope", "posts stats offline_access")])
        .await
        .assert_status(400);
    assert_oauth_error(&r, "invalid_scope");
    let r = app
        .refresh21(
            &w.c1,
            &w.s1,
            &a,
            &[("scope", "posts offline_access openid")],
        )
        .await
        .assert_status(400);
    assert_oauth_error(&r, "invalid_scope");
    let narrowed = pair(
        &app.refresh21(&w.c1, &w.s1, &a, &[("scope", "posts")])
            .await
            .assert_status(200),
    );
    assert_eq!(narrowed.body["scope"], "posts");
    assert_eq!(narrowed.body["blog_id"], w.blog1.id.to_string());
    // The refresh token keeps the whole grant: the next refresh may ask for all of it again.
    let again = app
        .refresh21(&w.c1, &w.s1, narrowed.refresh.as_ref().unwrap(), &[])
        .await
        .assert_status(200);
    assert_eq!(again.json()["scope"], "posts media offline_access");
}
both!(a_refresh_may_narrow_the_scope_but_never_widen_it);

async fn bad_foreign_expired_or_malformed_refresh_tokens_are_the_same_invalid_grant(app: TestApp) {
    let w = world(&app).await;
    let first = app
        .grant21(&w, &[("scope", "auth offline_access")], None)
        .await;
    let a = first.refresh.unwrap();
    for (token, why) in [
        ("lkrt_nonsense", "malformed"),
        (first.access.as_str(), "an access token"),
    ] {
        let r = app
            .refresh21(&w.c1, &w.s1, token, &[])
            .await
            .assert_status(400);
        assert_oauth_error(&r, "invalid_grant");
        assert!(!r.body.contains("malformed"), "{why}: no hint which");
    }
    let r = app
        .refresh21(&w.c2, &w.s2, &a, &[])
        .await
        .assert_status(400);
    assert_oauth_error(&r, "invalid_grant");
    assert_eq!(
        app.rest_me(&first.access).await,
        200,
        "another client's attempt ends nothing"
    );
    app.clock.advance(90 * 24 * 3600);
    let r = app
        .refresh21(&w.c1, &w.s1, &a, &[])
        .await
        .assert_status(400);
    assert_oauth_error(&r, "invalid_grant");
}
both!(bad_foreign_expired_or_malformed_refresh_tokens_are_the_same_invalid_grant);

async fn a_refresh_token_used_within_its_idle_time_lives_on(app: TestApp) {
    let w = world(&app).await;
    let first = app
        .grant21(&w, &[("scope", "auth offline_access")], None)
        .await;
    let mut refresh = first.refresh.unwrap();
    for _ in 0..3 {
        app.clock.advance(60 * 24 * 3600);
        let next = pair(
            &app.refresh21(&w.c1, &w.s1, &refresh, &[])
                .await
                .assert_status(200),
        );
        refresh = next.refresh.unwrap();
    }
}
both!(a_refresh_token_used_within_its_idle_time_lives_on);

async fn disconnecting_the_app_ends_its_refresh_tokens(app: TestApp) {
    let w = world(&app).await;
    let first = app
        .grant21(&w, &[("scope", "auth offline_access")], None)
        .await;
    app.store
        .revoke_app_for_user(w.alice.id, w.c1.id)
        .await
        .unwrap();
    let r = app
        .refresh21(&w.c1, &w.s1, first.refresh.as_ref().unwrap(), &[])
        .await
        .assert_status(400);
    assert_oauth_error(&r, "invalid_grant");
    assert_eq!(app.rest_me(&first.access).await, 401);
    assert_eq!(app.count("refresh_tokens").await, 0);
}
both!(disconnecting_the_app_ends_its_refresh_tokens);

async fn housekeeping_purges_expired_refresh_tokens(app: TestApp) {
    let w = world(&app).await;
    let first = app
        .grant21(&w, &[("scope", "auth offline_access")], None)
        .await;
    app.refresh21(&w.c1, &w.s1, first.refresh.as_ref().unwrap(), &[])
        .await
        .assert_status(200);
    assert_eq!(
        app.count("refresh_tokens").await,
        2,
        "the rotated token stays as a tombstone"
    );
    app.clock.advance(90 * 24 * 3600 + 1);
    app.store
        .collect_garbage(app.clock_now(), 1000, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(app.count("refresh_tokens").await, 0);
}
both!(housekeeping_purges_expired_refresh_tokens);

async fn access_tokens_of_the_oauth21_server_expire_everywhere(app: TestApp) {
    let w = world(&app).await;
    let p = app.grant21(&w, &[("scope", "auth")], None).await;
    assert_eq!(p.body["expires_in"], 3600);
    app.token_info(w.c1.id, &p.access)
        .await
        .read()
        .await
        .assert_status(200);
    app.clock.advance(3599);
    assert_eq!(app.rest_me(&p.access).await, 200);
    app.clock.advance(1);
    assert_eq!(app.rest_me(&p.access).await, 401);
    app.token_info(w.c1.id, &p.access)
        .await
        .read()
        .await
        .assert_status(400);
}
both!(
    access_tokens_of_the_oauth21_server_expire_everywhere,
    oauth21.access_token_ttl_secs = 3600
);

async fn a_token_bound_to_other_audiences_is_refused_by_the_rest_api(app: TestApp) {
    let w = world(&app).await;
    let rest = format!("{}/rest/v1", app.base);
    let mcp = format!("{}/wpcom/v2/mcp/v1", app.base);
    let none = app.grant21(&w, &[("scope", "auth")], None).await;
    assert_eq!(
        app.rest_me(&none.access).await,
        200,
        "no resource: the REST API"
    );
    let rest_only = app
        .grant21(&w, &[("scope", "auth"), ("resource", &rest)], None)
        .await;
    assert_eq!(app.rest_me(&rest_only.access).await, 200);
    let mcp_only = app
        .grant21(&w, &[("scope", "auth"), ("resource", &mcp)], None)
        .await;
    let r = app
        .me(&mcp_only.access)
        .await
        .read()
        .await
        .assert_status(401);
    assert_eq!(r.json()["error"], "invalid_token");
    // A grant for both, narrowed at the token endpoint to the MCP endpoint.
    let browser = app.alice_browser().await;
    let code = app
        .code21(
            &browser,
            &q21(
                w.c1.id,
                &[("scope", "auth"), ("resource", &rest), ("resource", &mcp)],
            ),
            None,
        )
        .await;
    let narrowed = app
        .exchange21(&w.c1, &w.s1, &code, &[("resource", &mcp)])
        .await
        .read()
        .await
        .assert_status(200);
    assert_eq!(app.rest_me(&pair(&narrowed).access).await, 401);
    let code = app
        .code21(
            &browser,
            &q21(w.c1.id, &[("scope", "auth"), ("resource", &mcp)]),
            None,
        )
        .await;
    let r = app
        .exchange21(&w.c1, &w.s1, &code, &[("resource", &rest)])
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&r, "invalid_target");
    // The refused resource did not burn the code.
    app.exchange21(&w.c1, &w.s1, &code, &[])
        .await
        .read()
        .await
        .assert_status(200);
}
both!(a_token_bound_to_other_audiences_is_refused_by_the_rest_api);

async fn client_credentials_give_a_confidential_client_a_token_with_no_user(app: TestApp) {
    let w = world(&app).await;
    let id = w.c1.id.to_string();
    app.set_grants(
        w.c1.id,
        &[GrantType::AuthorizationCode, GrantType::ClientCredentials],
    )
    .await;
    let r = app
        .token21(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &w.s1),
        ])
        .await
        .read()
        .await
        .assert_status(200);
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["blog_id"], "0");
    assert!(body.get("refresh_token").is_none(), "{}", r.body);
    let token = body["access_token"].as_str().unwrap();
    let info = app
        .token_info(w.c1.id, token)
        .await
        .read()
        .await
        .assert_status(200);
    assert_eq!(info.json()["user_id"], "0");
    assert_eq!(info.json()["client_id"], id);
    let me = app.me(token).await.read().await.assert_status(403);
    assert!(me.json()["error"].is_string());
    let r = app
        .token21(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &w.s1),
            ("scope", "openid"),
        ])
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&r, "invalid_scope");
    // Deleting the app ends its client tokens.
    app.store.delete_app(w.c1.id).await.unwrap();
    app.token_info(w.c1.id, token)
        .await
        .read()
        .await
        .assert_status(400);
}
both!(client_credentials_give_a_confidential_client_a_token_with_no_user);

async fn client_credentials_are_refused_to_a_public_client(app: TestApp) {
    let w = world(&app).await;
    let (native, _) = app
        .app(&w.alice, &["http://127.0.0.1/cb"], AppType::Native)
        .await;
    let id = native.id.to_string();
    let r = app
        .token21(&[("grant_type", "client_credentials"), ("client_id", &id)])
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&r, "unauthorized_client");
    let r = app
        .token21(&[("grant_type", "password"), ("client_id", &id)])
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&r, "unsupported_grant_type");
}
both!(client_credentials_are_refused_to_a_public_client);

async fn a_client_that_did_not_register_a_grant_is_an_unauthorized_client_at_the_token_endpoint(
    app: TestApp,
) {
    let w = world(&app).await;
    let id = w.c1.id.to_string();
    let browser = app.alice_browser().await;
    let code = app
        .code21(&browser, &q21(w.c1.id, &[("scope", "auth")]), None)
        .await;
    // c1 holds authorization_code alone (an owner's app by default).
    let credentials = [
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
        ("client_secret", w.s1.as_str()),
    ];
    let r = app
        .token21(&credentials)
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&r, "unauthorized_client");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM access_tokens").await, 0);
    // Without authorization_code, the code is refused and stays unspent.
    app.set_grants(w.c1.id, &[GrantType::ClientCredentials])
        .await;
    let r = app
        .exchange21(&w.c1, &w.s1, &code, &[])
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&r, "unauthorized_client");
    app.token21(&credentials)
        .await
        .read()
        .await
        .assert_status(200);
    app.set_grants(w.c1.id, &[GrantType::AuthorizationCode])
        .await;
    app.exchange21(&w.c1, &w.s1, &code, &[])
        .await
        .read()
        .await
        .assert_status(200);
    // The legacy token endpoint knows nothing of the 2.1 grant list.
    let legacy = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &w.s1),
        ])
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&legacy, "unsupported_grant_type");
}
both!(a_client_that_did_not_register_a_grant_is_an_unauthorized_client_at_the_token_endpoint);

/// Starts `latchkey serve` on this app's database with the refresh grace off, so two parallel
/// refreshes race on the rotation statement itself.
async fn second_process_without_grace(app: &TestApp) -> ServerProcess {
    let (base, mut command) = app.serve_command();
    command.env("LATCHKEY_OAUTH21__REFRESH_GRACE_SECS", "0");
    ServerProcess::start(base, command).await
}

/// One refresh of `refresh` per server base, all sent at the same moment; their statuses and bodies.
async fn refresh_at_once(
    bases: &[String],
    client: &App,
    secret: &str,
    refresh: &str,
) -> Vec<(u16, String)> {
    let urls: Vec<String> = bases
        .iter()
        .map(|b| format!("{b}/oauth2-1/token"))
        .collect();
    let id = client.id.to_string();
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", id.as_str()),
        ("client_secret", secret),
        ("refresh_token", refresh),
    ];
    post_at_once(&urls, &form).await
}

async fn parallel_refreshes_over_two_server_processes_yield_exactly_one_success(app: TestApp) {
    use latchkey::domain::clock::Clock;
    app.clock.set(latchkey::domain::clock::SystemClock.now());
    let w = world(&app).await;
    let first = app
        .grant21(&w, &[("scope", "auth offline_access")], None)
        .await;
    let refresh = first.refresh.unwrap();
    let process = second_process_without_grace(&app).await;
    let bases: Vec<String> = (0..10)
        .map(|i| if i % 2 == 0 { &app.base } else { &process.base }.clone())
        .collect();
    let answers = refresh_at_once(&bases, &w.c1, &w.s1, &refresh).await;
    let mut ok = 0;
    for (status, body) in answers {
        match status {
            200 => ok += 1,
            400 => assert!(body.contains("invalid_grant"), "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    process.stop().await;
    assert_eq!(ok, 1, "exactly one refresh succeeds");
}
both!(
    parallel_refreshes_over_two_server_processes_yield_exactly_one_success,
    oauth21.refresh_grace_secs = 0
);

async fn parallel_refreshes_within_the_grace_yield_one_success_and_the_family_lives_on(
    app: TestApp,
) {
    let w = world(&app).await;
    let first = app
        .grant21(&w, &[("scope", "auth offline_access")], None)
        .await;
    let refresh = first.refresh.unwrap();
    let answers = refresh_at_once(&vec![app.base.clone(); 8], &w.c1, &w.s1, &refresh).await;
    let mut winners = Vec::new();
    for (status, body) in answers {
        match status {
            200 => winners.push(body),
            400 => assert!(body.contains("invalid_grant"), "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one refresh succeeds");
    let won: serde_json::Value = serde_json::from_str(&winners[0]).unwrap();
    assert_eq!(
        app.rest_me(won["access_token"].as_str().unwrap()).await,
        200
    );
    assert_eq!(app.rest_me(&first.access).await, 200, "the family lives on");
    app.refresh21(&w.c1, &w.s1, won["refresh_token"].as_str().unwrap(), &[])
        .await
        .assert_status(200);
}
both!(parallel_refreshes_within_the_grace_yield_one_success_and_the_family_lives_on);
