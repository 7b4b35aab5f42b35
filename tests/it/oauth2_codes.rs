//! Security catalogue 1.B (codes and PKCE) and 1.C (client authentication) at the token endpoint.

use latchkey::domain::app::AppType;

use crate::both;
use crate::flows::*;
use crate::harness::*;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

#[track_caller]
fn assert_oauth_error(checked: &Checked, error: &str) {
    assert_eq!(checked.json()["error"], error, "{}", checked.body);
    assert!(checked.json()["error_description"].is_string());
    assert_eq!(checked.header("cache-control"), "no-store");
    assert_eq!(checked.header("pragma"), "no-cache");
}

async fn ac01_a_replayed_code_fails_and_revokes_the_token_issued_from_it(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let code = app
        .obtain_code(
            &browser,
            &authz_query(w.c1.id, C1_REDIRECT, &[]),
            Some(w.blog1.id),
        )
        .await;
    let first = app
        .exchange_code(&w.c1, &w.s1, &code, C1_REDIRECT)
        .await
        .read()
        .await
        .assert_status(200);
    let token = first.json()["access_token"].as_str().unwrap().to_owned();
    app.me(&token).await.read().await.assert_status(200);
    for wait in [1, 29] {
        app.clock.advance(wait);
        let again = app
            .exchange_code(&w.c1, &w.s1, &code, C1_REDIRECT)
            .await
            .read()
            .await
            .assert_status(400);
        assert_oauth_error(&again, "invalid_grant");
    }
    app.me(&token).await.read().await.assert_status(401);
    app.token_info(w.c1.id, &token)
        .await
        .read()
        .await
        .assert_status(400);
    // Tombstones outlive the code's lifetime: replay is still detected after 30 minutes.
    app.clock.advance(1800);
    let late = app
        .exchange_code(&w.c1, &w.s1, &code, C1_REDIRECT)
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&late, "invalid_grant");
}
both!(ac01_a_replayed_code_fails_and_revokes_the_token_issued_from_it);

async fn ac02_concurrent_redemptions_over_two_server_processes_yield_exactly_one_token(
    app: TestApp,
) {
    use latchkey::domain::clock::Clock;
    // The second process runs on the system clock; run this one on it too.
    app.clock.set(latchkey::domain::clock::SystemClock.now());
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let code = app
        .obtain_code(
            &browser,
            &authz_query(w.c1.id, C1_REDIRECT, &[]),
            Some(w.blog1.id),
        )
        .await;
    let process = app.second_process().await;
    let second = process.base.clone();
    let urls: Vec<String> = (0..30)
        .map(|i| if i % 2 == 0 { &app.base } else { &second })
        .map(|base| format!("{base}/oauth2/token"))
        .collect();
    let id = w.c1.id.to_string();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", id.as_str()),
        ("client_secret", w.s1.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", C1_REDIRECT),
    ];
    let mut ok = 0;
    for (status, body) in post_at_once(&urls, &form).await {
        match status {
            200 => ok += 1,
            400 => assert!(body.contains("invalid_grant"), "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ok, 1, "exactly one redemption succeeds");
    // At most one token was ever created from the code, and the replays revoked it (AC01).
    let tokens_from_code: i64 = app
        .scalar("SELECT COUNT(*) FROM auth_codes WHERE token_id IS NOT NULL")
        .await;
    assert_eq!(tokens_from_code, 1);
    assert_eq!(app.count("access_tokens").await, 0);
}
both!(ac02_concurrent_redemptions_over_two_server_processes_yield_exactly_one_token);

async fn ac03_a_code_expires_after_its_lifetime(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let code = app
        .obtain_code(
            &browser,
            &authz_query(w.c1.id, C1_REDIRECT, &[]),
            Some(w.blog1.id),
        )
        .await;
    app.clock.advance(299);
    app.exchange_code(&w.c1, &w.s1, &code, C1_REDIRECT)
        .await
        .read()
        .await
        .assert_status(200);
    let code = app
        .obtain_code(
            &browser,
            &authz_query(w.c1.id, C1_REDIRECT, &[]),
            Some(w.blog1.id),
        )
        .await;
    app.clock.advance(301);
    let expired = app
        .exchange_code(&w.c1, &w.s1, &code, C1_REDIRECT)
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&expired, "invalid_grant");
}
both!(ac03_a_code_expires_after_its_lifetime);

async fn ac05_the_redirect_uri_must_equal_the_one_bound_to_the_code(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    for presented in [Some("https://app2.example/cb2?tenant=1"), None] {
        let code = app
            .obtain_code(
                &browser,
                &authz_query(w.c2.id, "https://app2.example/cb", &[]),
                Some(w.blog1.id),
            )
            .await;
        let id = w.c2.id.to_string();
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("client_id", id.as_str()),
            ("client_secret", w.s2.as_str()),
            ("code", code.as_str()),
        ];
        if let Some(uri) = presented {
            form.push(("redirect_uri", uri));
        }
        let refused = app.token(&form).await.read().await.assert_status(400);
        assert_oauth_error(&refused, "invalid_grant");
    }
    assert_eq!(app.count("access_tokens").await, 0);
}
both!(ac05_the_redirect_uri_must_equal_the_one_bound_to_the_code);

async fn ac06_guessed_codes_are_invalid_grant_and_malformed_ones_invalid_request(app: TestApp) {
    let w = world(&app).await;
    let guess = latchkey::domain::secret::mint(
        latchkey::domain::secret::Kind::AuthCode,
        &latchkey::domain::random::OsRandom,
    );
    let refused = app
        .exchange_code(&w.c1, &w.s1, &guess, C1_REDIRECT)
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&refused, "invalid_grant");
    let huge = "x".repeat(10_000);
    for malformed in ["\u{1}", "short", huge.as_str(), "lkac_!!!!"] {
        let refused = app
            .exchange_code(&w.c1, &w.s1, malformed, C1_REDIRECT)
            .await
            .read()
            .await
            .assert_status(400);
        assert_oauth_error(&refused, "invalid_request");
    }
    let missing = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &w.c1.id.to_string()),
            ("client_secret", &w.s1),
        ])
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&missing, "invalid_request");
}
both!(ac06_guessed_codes_are_invalid_grant_and_malformed_ones_invalid_request);

async fn ac07_ac08_pkce_is_enforced_and_downgrade_refused(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let with_challenge = authz_query(
        w.c1.id,
        C1_REDIRECT,
        &[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
    );
    let id = w.c1.id.to_string();
    let wrong_verifier = "a".repeat(43);
    for verifier in [Some(wrong_verifier.as_str()), None] {
        let code = app
            .obtain_code(&browser, &with_challenge, Some(w.blog1.id))
            .await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("client_id", id.as_str()),
            ("client_secret", w.s1.as_str()),
            ("code", code.as_str()),
            ("redirect_uri", C1_REDIRECT),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        assert_oauth_error(
            &app.token(&form).await.read().await.assert_status(400),
            "invalid_grant",
        );
        // The failed attempt burned the code.
        form.retain(|(k, _)| *k != "code_verifier");
        form.push(("code_verifier", VERIFIER));
        assert_oauth_error(
            &app.token(&form).await.read().await.assert_status(400),
            "invalid_grant",
        );
    }
    let code = app
        .obtain_code(&browser, &with_challenge, Some(w.blog1.id))
        .await;
    app.token(&[
        ("grant_type", "authorization_code"),
        ("client_id", &id),
        ("client_secret", &w.s1),
        ("code", &code),
        ("redirect_uri", C1_REDIRECT),
        ("code_verifier", VERIFIER),
    ])
    .await
    .read()
    .await
    .assert_status(200);
    // AC08: no challenge at authorize, a verifier at the token endpoint.
    let code = app
        .obtain_code(
            &browser,
            &authz_query(w.c1.id, C1_REDIRECT, &[]),
            Some(w.blog1.id),
        )
        .await;
    let downgrade = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("client_secret", &w.s1),
            ("code", &code),
            ("redirect_uri", C1_REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&downgrade, "invalid_grant");
}
both!(ac07_ac08_pkce_is_enforced_and_downgrade_refused);

async fn native_apps_redeem_with_pkce_and_no_secret(app: TestApp) {
    let w = world(&app).await;
    let (cn, _) = app
        .app(&w.alice, &["http://127.0.0.1/cb"], AppType::Native)
        .await;
    let browser = app.alice_browser().await;
    let query = authz_query(
        cn.id,
        "http://127.0.0.1:49152/cb",
        &[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
    );
    let code = app.obtain_code(&browser, &query, Some(w.blog1.id)).await;
    let id = cn.id.to_string();
    let issued = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:49152/cb"),
            ("code_verifier", VERIFIER),
        ])
        .await
        .read()
        .await
        .assert_status(200);
    assert_eq!(issued.json()["blog_id"], w.blog1.id.to_string());
}
both!(native_apps_redeem_with_pkce_and_no_secret);

async fn cl01_wrong_basic_credentials_are_401_and_leave_the_code_unconsumed(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let code = app
        .obtain_code(
            &browser,
            &authz_query(w.c1.id, C1_REDIRECT, &[]),
            Some(w.blog1.id),
        )
        .await;
    let refused = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(w.c1.id, Some("wrong"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", C1_REDIRECT),
        ])
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(401);
    assert_oauth_error(&refused, "invalid_client");
    assert!(
        refused
            .header("www-authenticate")
            .starts_with("Basic realm=")
    );
    app.exchange_code(&w.c1, &w.s1, &code, C1_REDIRECT)
        .await
        .read()
        .await
        .assert_status(200);
}
both!(cl01_wrong_basic_credentials_are_401_and_leave_the_code_unconsumed);

async fn cl02_cl06_wrong_and_missing_secrets_are_invalid_client_with_no_side_effect(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let code = app
        .obtain_code(
            &browser,
            &authz_query(w.c1.id, C1_REDIRECT, &[]),
            Some(w.blog1.id),
        )
        .await;
    let id = w.c1.id.to_string();
    let wrong = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("client_secret", "wrong"),
            ("code", &code),
            ("redirect_uri", C1_REDIRECT),
        ])
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&wrong, "invalid_client");
    let missing = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("code", &code),
            ("redirect_uri", C1_REDIRECT),
        ])
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&missing, "invalid_client");
    let unknown = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", "424242"),
            ("client_secret", "wrong"),
            ("code", &code),
            ("redirect_uri", C1_REDIRECT),
        ])
        .await
        .read()
        .await
        .assert_status(400);
    assert_eq!(unknown.json()["error_description"], "Unknown client_id.");
    // CL06: an unknown client and a wrong secret get the same status and error code.
    assert_eq!(unknown.status, wrong.status);
    assert_eq!(unknown.json()["error"], wrong.json()["error"]);
    assert_eq!(app.count("access_tokens").await, 0);
    app.exchange_code(&w.c1, &w.s1, &code, C1_REDIRECT)
        .await
        .read()
        .await
        .assert_status(200);
}
both!(cl02_cl06_wrong_and_missing_secrets_are_invalid_client_with_no_side_effect);

async fn cl04_secrets_in_the_url_and_other_methods_are_refused(app: TestApp) {
    let w = world(&app).await;
    let url = app.url(&format!(
        "/oauth2/token?client_id={}&client_secret={}",
        w.c1.id, w.s1
    ));
    let in_query = app
        .http
        .post(&url)
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&in_query, "invalid_request");
    for method in ["GET", "PUT", "TRACE"] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = app
            .http
            .request(m, app.url("/oauth2/token"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 405, "{method}");
        assert_eq!(r.headers().get("allow").unwrap(), "POST");
    }
}
both!(cl04_secrets_in_the_url_and_other_methods_are_refused);

async fn cl07_repeated_client_failures_are_throttled(app: TestApp) {
    let w = world(&app).await;
    let id = w.c1.id.to_string();
    let budget = app.state.settings.limits.client_failures_per_client;
    for _ in 0..budget {
        app.password_grant(&id, "wrong", "alice", ALICE_PASSWORD, &[])
            .await
            .read()
            .await
            .assert_status(400);
    }
    let throttled = app
        .password_grant(&id, &w.s1, "alice", ALICE_PASSWORD, &[])
        .await
        .read()
        .await
        .assert_status(429);
    assert!(throttled.header("retry-after").parse::<i64>().unwrap() > 0);
    assert_eq!(throttled.json()["error"], "rate_limited");
    app.clock.advance(app.state.settings.limits.window_secs);
    app.password_grant(&id, &w.s1, "alice", ALICE_PASSWORD, &[])
        .await
        .read()
        .await
        .assert_status(200);
}
both!(cl07_repeated_client_failures_are_throttled);

async fn cl08_reset_secret_invalidates_the_old_one_and_only_digests_are_stored(app: TestApp) {
    let w = world(&app).await;
    let stored: Vec<u8> = app
        .scalar_bytes(&format!(
            "SELECT secret_digest FROM apps WHERE id = {}",
            w.c1.id
        ))
        .await;
    assert_eq!(stored.len(), 32);
    assert!(
        !app.database_contains(&w.s1).await,
        "the client secret is not stored"
    );
    let new = commit_with(&app.store, async |tx| {
        latchkey::admin::reset_secret(tx, &latchkey::domain::random::OsRandom, &w.c1).await
    })
    .await
    .unwrap();
    let id = w.c1.id.to_string();
    let old = app
        .password_grant(&id, &w.s1, "alice", ALICE_PASSWORD, &[])
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&old, "invalid_client");
    app.password_grant(&id, &new, "alice", ALICE_PASSWORD, &[])
        .await
        .read()
        .await
        .assert_status(200);
}
both!(cl08_reset_secret_invalidates_the_old_one_and_only_digests_are_stored);

async fn in02_duplicated_parameters_are_refused_and_consume_nothing(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let code = app
        .obtain_code(
            &browser,
            &authz_query(w.c1.id, C1_REDIRECT, &[]),
            Some(w.blog1.id),
        )
        .await;
    let id = w.c1.id.to_string();
    let base = [
        ("client_id", id.as_str()),
        ("client_secret", w.s1.as_str()),
        ("redirect_uri", C1_REDIRECT),
    ];
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code", "lkac_other"),
        ],
        vec![
            ("grant_type", "authorization_code"),
            ("grant_type", "password"),
            ("code", &code),
        ],
        vec![
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &id),
        ],
    ];
    for extra in cases {
        let mut form: Vec<(&str, &str)> = base.to_vec();
        form.extend(extra);
        assert_oauth_error(
            &app.token(&form).await.read().await.assert_status(400),
            "invalid_request",
        );
    }
    app.exchange_code(&w.c1, &w.s1, &code, C1_REDIRECT)
        .await
        .read()
        .await
        .assert_status(200);
}
both!(in02_duplicated_parameters_are_refused_and_consume_nothing);

async fn in10_only_form_and_multipart_bodies_are_read(app: TestApp) {
    let w = world(&app).await;
    let id = w.c1.id.to_string();
    let json = app
        .http
        .post(app.url("/oauth2/token"))
        .json(&serde_json::json!({"grant_type":"password","client_id":id}))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&json, "invalid_request");
    let untyped = app
        .http
        .post(app.url("/oauth2/token"))
        .body("grant_type=password")
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&untyped, "invalid_request");
    let utf16 = app
        .http
        .post(app.url("/oauth2/token"))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-16",
        )
        .body("grant_type=password")
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&utf16, "invalid_request");
    let unknown = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &w.s1),
        ])
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&unknown, "unsupported_grant_type");
    let none = app
        .token(&[("client_id", &id), ("client_secret", &w.s1)])
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&none, "invalid_request");
}
both!(in10_only_form_and_multipart_bodies_are_read);

async fn ac06_guessing_codes_is_throttled_per_client(app: TestApp) {
    let w = world(&app).await;
    let budget = app.state.settings.limits.client_failures_per_client;
    for _ in 0..budget {
        let guess = latchkey::domain::secret::mint(
            latchkey::domain::secret::Kind::AuthCode,
            &latchkey::domain::random::OsRandom,
        );
        app.exchange_code(&w.c1, &w.s1, &guess, C1_REDIRECT)
            .await
            .read()
            .await
            .assert_status(400);
    }
    let guess = latchkey::domain::secret::mint(
        latchkey::domain::secret::Kind::AuthCode,
        &latchkey::domain::random::OsRandom,
    );
    let throttled = app
        .exchange_code(&w.c1, &w.s1, &guess, C1_REDIRECT)
        .await
        .read()
        .await
        .assert_status(429);
    assert!(throttled.headers.contains_key("retry-after"));
}
both!(ac06_guessing_codes_is_throttled_per_client);

async fn ac12_a_public_client_may_not_use_the_password_grant(app: TestApp) {
    let w = world(&app).await;
    let (cn, _) = app
        .app(&w.alice, &["http://127.0.0.1/cb"], AppType::Native)
        .await;
    let id = cn.id.to_string();
    let refused = app
        .token(&[
            ("grant_type", "password"),
            ("client_id", &id),
            ("username", "alice"),
            ("password", ALICE_PASSWORD),
        ])
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&refused, "unauthorized_client");
}
both!(ac12_a_public_client_may_not_use_the_password_grant);
