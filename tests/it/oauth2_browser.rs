//! Security catalogue 1.D (browser pages), 1.E (login and the password grant), 1.F (tokens and
//! token-info) and 1.G (input robustness).

use crate::both;
use crate::flows::*;
use crate::harness::*;

async fn br01_consent_needs_a_csrf_token_bound_to_the_session_and_request(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let query = authz_query(w.c1.id, C1_REDIRECT, &[]);
    let page = app
        .authorize(&browser, &query)
        .await
        .read()
        .await
        .assert_status(200);
    let mut fields = hidden_inputs(&page.body);
    fields.push(("blog_id".into(), w.blog1.id.to_string()));
    fields.push(("action".into(), "approve".into()));
    let without: Vec<_> = fields
        .iter()
        .filter(|(k, _)| k != "csrf")
        .cloned()
        .collect();
    let stale: Vec<_> = fields
        .iter()
        .map(|(k, v)| {
            if k == "csrf" {
                (k.clone(), "AAAA".to_owned())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    // A token from another session (bob's) for the same request.
    let other = new_browser();
    app.login_as(&other, "bob", "bob's long password")
        .await
        .read()
        .await
        .assert_status(303);
    let other_page = app
        .authorize(&other, &query)
        .await
        .read()
        .await
        .assert_status(200);
    let foreign: Vec<_> = fields
        .iter()
        .map(|(k, v)| {
            if k == "csrf" {
                (k.clone(), input(&other_page.body, "csrf").unwrap())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    // A token for another request (different state) in the same session.
    let other_request = app
        .authorize(
            &browser,
            &authz_query(w.c1.id, C1_REDIRECT, &[("state", "other")]).replace("state=xyz&", ""),
        )
        .await
        .read()
        .await
        .assert_status(200);
    let wrong_request: Vec<_> = fields
        .iter()
        .map(|(k, v)| {
            if k == "csrf" {
                (k.clone(), input(&other_request.body, "csrf").unwrap())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    for form in [without, stale, foreign, wrong_request] {
        let refused = browser
            .post(app.url("/oauth2/authorize"))
            .form(&form)
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(403);
        assert!(refused.headers.get("location").is_none());
    }
    // A GET carrying action=approve only shows the page again.
    let get = app
        .authorize(
            &browser,
            &format!(
                "{query}&action=approve&blog_id={}&csrf={}",
                w.blog1.id,
                input(&page.body, "csrf").unwrap()
            ),
        )
        .await;
    get.read().await.assert_status(200);
    // A cross-site POST with a valid token is refused too.
    let cross = browser
        .post(app.url("/oauth2/authorize"))
        .header("origin", "https://evil.example")
        .form(&fields)
        .send()
        .await
        .unwrap();
    cross.read().await.assert_status(403);
    assert_eq!(app.count("auth_codes").await, 0);
    assert_eq!(app.count("grants").await, 0);
}
both!(br01_consent_needs_a_csrf_token_bound_to_the_session_and_request);

async fn br03_login_csrf_is_refused_and_creates_no_session(app: TestApp) {
    world(&app).await;
    let browser = new_browser();
    let form = browser
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = input(&form, "csrf").unwrap();
    let creds = [
        ("username", "alice"),
        ("password", ALICE_PASSWORD),
        ("redirect_to", "/"),
    ];
    let no_token = browser
        .post(app.url("/login"))
        .form(&creds)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(403);
    assert!(
        no_token
            .headers
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().contains("session"))
    );
    let mut with_token = creds.to_vec();
    with_token.push(("csrf", &csrf));
    for (header, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        browser
            .post(app.url("/login"))
            .header(header, value)
            .form(&with_token)
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(403);
    }
    // A token without its pre-login cookie (another browser's) fails as well.
    new_browser()
        .post(app.url("/login"))
        .form(&with_token)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(403);
    assert_eq!(app.count("sessions").await, 0);
    browser
        .post(app.url("/login"))
        .form(&with_token)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(303);
    assert_eq!(app.count("sessions").await, 1);
}
both!(br03_login_csrf_is_refused_and_creates_no_session);

async fn br05_reflected_and_stored_markup_is_escaped(app: TestApp) {
    let w = world(&app).await;
    let evil = "<script>alert(1)</script>";
    let redirects = vec![C1_REDIRECT.to_owned()];
    let input_app = latchkey::admin::AppInput {
        name: evil,
        description: "\"><img src=x onerror=alert(2)>",
        website: "",
        icon_url: "",
        app_type: latchkey::domain::app::AppType::Web,
        redirect_uris: &redirects,
        js_origins: &[],
        allow_implicit: true,
        oauth1_callback: None,
    };
    let created = commit_with(&app.store, async |tx| {
        latchkey::admin::create_app(
            tx,
            &latchkey::domain::random::OsRandom,
            &[0; 32],
            &w.alice,
            &input_app,
            &app.base,
            0,
        )
        .await
    })
    .await
    .unwrap();
    let browser = app.alice_browser().await;
    let query = authz_query(
        created.app.id,
        C1_REDIRECT,
        &[("state", "\"><script>alert(3)</script>")],
    )
    .replace("state=xyz&", "");
    let page = app
        .authorize(&browser, &query)
        .await
        .read()
        .await
        .assert_status(200);
    assert!(!page.body.contains("<script>"), "{}", page.body);
    assert!(!page.body.contains("<img src=x"));
    assert!(page.body.contains("&lt;script&gt;") || page.body.contains("&#60;script&#62;"));
    let csp = page.header("content-security-policy");
    assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"));
    for q in [
        "client_id=<svg onload=alert(1)>&redirect_uri=x",
        "client_id=1&redirect_uri=<svg/onload=alert(1)>",
    ] {
        let page = app
            .authorize(&browser, q)
            .await
            .read()
            .await
            .assert_status(400);
        assert!(!page.body.contains("<svg"));
    }
}
both!(br05_reflected_and_stored_markup_is_escaped);

async fn br06_br07_every_browser_page_refuses_framing_and_referrers(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let pages = [
        format!(
            "/oauth2/authorize?{}",
            authz_query(w.c1.id, C1_REDIRECT, &[])
        ),
        "/oauth2/authorize?client_id=nope".to_owned(),
        "/login".to_owned(),
        "/".to_owned(),
    ];
    for path in pages {
        let page = browser.get(app.url(&path)).send().await.unwrap();
        let page = page.read().await;
        assert!(
            page.header("content-security-policy")
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(page.header("x-frame-options"), "DENY", "{path}");
        assert_eq!(page.header("referrer-policy"), "no-referrer", "{path}");
        // Every resource is same-origin: no absolute src or stylesheet elsewhere.
        for attr in ["src=\"http", "href=\"http"] {
            assert!(
                !page.body.contains(attr),
                "{path} links elsewhere via {attr}"
            );
        }
    }
}
both!(br06_br07_every_browser_page_refuses_framing_and_referrers);

async fn tk01_tk02_token_info_answers_one_uniform_error(app: TestApp) {
    let w = world(&app).await;
    let token = app.code_flow_token(&w).await;
    let ok = app
        .token_info(w.c1.id, &token)
        .await
        .read()
        .await
        .assert_status(200);
    assert_eq!(ok.header("cache-control"), "no-store");
    let expected =
        r#"{"error":"invalid_request","error_description":"The specified token is invalid."}"#;
    let random = latchkey::domain::secret::mint(
        latchkey::domain::secret::Kind::AccessToken,
        &latchkey::domain::random::OsRandom,
    );
    for (client, candidate) in [
        (w.c3.id, token.as_str()),
        (w.c1.id, random.as_str()),
        (w.c1.id, "garbage"),
        (w.c1.id, "' OR '1'='1"),
        (w.c1.id, "%"),
        (w.c1.id, "_"),
    ] {
        let refused = app
            .token_info(client, candidate)
            .await
            .read()
            .await
            .assert_status(400);
        assert_eq!(refused.body, expected, "{candidate}");
    }
    let alias = app
        .http
        .get(app.url(&format!(
            "/oauth/token-info?client_id={}&token={token}",
            w.c1.id
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(alias.read().await.assert_status(200).body, ok.body);
    let missing = app
        .http
        .get(app.url("/oauth2/token-info?client_id=1"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    assert_eq!(missing.json()["error"], "invalid_request");
}
both!(tk01_tk02_token_info_answers_one_uniform_error);

async fn tk02_scanning_token_info_is_throttled_per_address(app: TestApp) {
    let w = world(&app).await;
    let token = app.code_flow_token(&w).await;
    let budget = app.state.settings.limits.token_info_failures_per_ip;
    for _ in 0..budget {
        app.token_info(w.c1.id, "lkat_not_a_real_token")
            .await
            .read()
            .await
            .assert_status(400);
    }
    let throttled = app
        .token_info(w.c1.id, &token)
        .await
        .read()
        .await
        .assert_status(429);
    assert!(throttled.headers.contains_key("retry-after"));
}
both!(tk02_scanning_token_info_is_throttled_per_address);

async fn tk03_the_database_holds_only_digests_of_bearer_secrets(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let code = app
        .obtain_code(
            &browser,
            &authz_query(w.c1.id, C1_REDIRECT, &[]),
            Some(w.blog1.id),
        )
        .await;
    let token = app
        .exchange_code(&w.c1, &w.s1, &code, C1_REDIRECT)
        .await
        .read()
        .await
        .assert_status(200)
        .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for secret in [code.as_str(), token.as_str(), w.s1.as_str(), ALICE_PASSWORD] {
        assert!(
            !app.database_contains(secret).await,
            "found a raw secret in the database"
        );
    }
    let hash: String = app
        .text(&format!(
            "SELECT password_hash FROM users WHERE id = {}",
            w.alice.id
        ))
        .await;
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "PW08: {hash}"
    );
}
both!(tk03_the_database_holds_only_digests_of_bearer_secrets);

async fn tk07_reach_ends_at_once_when_the_user_or_app_goes(app: TestApp) {
    let w = world(&app).await;
    let token = app.code_flow_token(&w).await;
    app.store
        .revoke_app_for_user(w.alice.id, w.c1.id)
        .await
        .unwrap();
    app.me(&token).await.read().await.assert_status(401);
    let token = app.code_flow_token(&w).await;
    app.store.delete_app(w.c1.id).await.unwrap();
    app.me(&token).await.read().await.assert_status(401);
}
both!(tk07_reach_ends_at_once_when_the_user_or_app_goes);

async fn tk10_credential_responses_are_never_cached(app: TestApp) {
    let w = world(&app).await;
    let id = w.c1.id.to_string();
    let ok = app
        .password_grant(&id, &w.s1, "alice", ALICE_PASSWORD, &[])
        .await
        .read()
        .await
        .assert_status(200);
    let err = app
        .password_grant(&id, &w.s1, "alice", "nope", &[])
        .await
        .read()
        .await
        .assert_status(400);
    let token = ok.json()["access_token"].as_str().unwrap().to_owned();
    let info = app
        .token_info(w.c1.id, &token)
        .await
        .read()
        .await
        .assert_status(200);
    let me_err = app
        .http
        .get(app.url("/rest/v1.1/me"))
        .bearer_auth("lkat_bad")
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(401);
    for r in [&ok, &err, &info, &me_err] {
        assert_eq!(r.header("cache-control"), "no-store");
    }
    assert_eq!(
        me_err.header("www-authenticate"),
        format!(
            "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/rest/v1\", \
             error=\"invalid_token\"",
            app.base
        )
    );
    assert_eq!(
        me_err.json(),
        serde_json::json!({"error":"invalid_token","message":"The OAuth2 token is invalid."})
    );
    let no_token = app
        .http
        .get(app.url("/rest/v1.1/me"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(403);
    assert_eq!(no_token.json()["error"], "authorization_required");
    assert_eq!(
        no_token.json()["message"],
        "An active access token must be used to query information about the current user."
    );
    let query_token = app
        .http
        .get(app.url(&format!("/rest/v1.1/me?access_token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        query_token.read().await.assert_status(400).json()["error"],
        "invalid_request"
    );
    let lower = app
        .http
        .get(app.url("/rest/v1.1/me"))
        .header("authorization", format!("BEARER {token}"))
        .send()
        .await
        .unwrap();
    lower.read().await.assert_status(200);
}
both!(tk10_credential_responses_are_never_cached);

async fn pw01_pw02_login_failures_are_throttled_per_account_and_address(app: TestApp) {
    let w = world(&app).await;
    let id = w.c1.id.to_string();
    let budget = app.state.settings.limits.login_failures_per_account;
    for n in 0..budget {
        let pw = format!("wrong-{n}");
        let r = app
            .password_grant(&id, &w.s1, "alice", &pw, &[])
            .await
            .read()
            .await
            .assert_status(400);
        assert_eq!(
            r.json()["error_description"],
            "Incorrect username or password."
        );
    }
    // Even the right password is refused while throttled, on the grant and the web login alike.
    let r = app
        .password_grant(&id, &w.s1, "alice", ALICE_PASSWORD, &[])
        .await
        .read()
        .await
        .assert_status(429);
    assert!(r.header("retry-after").parse::<i64>().unwrap() > 0);
    app.login_as(&new_browser(), "alice", ALICE_PASSWORD)
        .await
        .read()
        .await
        .assert_status(429);
    app.clock.advance(app.state.settings.limits.window_secs);
    app.login_as(&new_browser(), "alice", ALICE_PASSWORD)
        .await
        .read()
        .await
        .assert_status(303);
    // Spraying one password over many accounts from one address trips the address budget.
    let per_ip = app.state.settings.limits.login_failures_per_ip;
    for n in 0..per_ip {
        app.login_as(&new_browser(), &format!("user{n}"), "Winter2026!")
            .await
            .read()
            .await
            .assert_status(401);
    }
    app.login_as(&new_browser(), "bob", "bob's long password")
        .await
        .read()
        .await
        .assert_status(429);
}
both!(pw01_pw02_login_failures_are_throttled_per_account_and_address);

async fn br09_cookies_carry_the_hardening_attributes(app: TestApp) {
    world(&app).await;
    let raw = new_browser_without_cookies();
    let form = raw.get(app.url("/login")).send().await.unwrap();
    let cookie = form
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Domain="));
}
both!(br09_cookies_carry_the_hardening_attributes);

async fn in05_oversized_inputs_are_refused_without_side_effects(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let big_state = "s".repeat(16 * 1024);
    let r = app
        .authorize(
            &browser,
            &authz_query(w.c1.id, C1_REDIRECT, &[("state", &big_state)]),
        )
        .await;
    assert_eq!(r.status().as_u16(), 414);
    let body = "a=".repeat(2 * 1024 * 1024);
    // The server answers 413 as soon as it sees the length, and may close before the client
    // has finished writing: either outcome refuses the body.
    // A client of its own, so the connection the server drops is not reused by the next request.
    match new_browser()
        .post(app.url("/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
    {
        Ok(r) => assert!(matches!(r.status().as_u16(), 400 | 413), "{}", r.status()),
        Err(e) => assert!(e.is_request(), "{e}"),
    }
    let pairs = "&a=".repeat(20_000);
    let r = app
        .http
        .post(app.url("/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=password{pairs}"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    let long_password = "p".repeat(2000);
    let id = w.c1.id.to_string();
    app.password_grant(&id, &w.s1, "alice", &long_password, &[])
        .await
        .read()
        .await
        .assert_status(400);
    assert_eq!(app.count("access_tokens").await, 0);
}
both!(in05_oversized_inputs_are_refused_without_side_effects);

/// The sleep the probes below try to inject: a request that took this long ran it.
const INJECTED_SLEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// Awaits `request`, failing if it took as long as the sleep `probe` tries to inject. Each request
/// is timed on its own: an injected sleep shows in one answer, while the whole loop may take longer
/// than it on a loaded machine without any.
async fn unslept<T>(probe: &str, request: impl std::future::Future<Output = T>) -> T {
    let started = std::time::Instant::now();
    let answer = request.await;
    let took = started.elapsed();
    assert!(
        took < INJECTED_SLEEP,
        "{probe:?} took {took:?}: an injected sleep took effect"
    );
    answer
}

async fn in08_injection_probes_get_ordinary_errors(app: TestApp) {
    let w = world(&app).await;
    let id = w.c1.id.to_string();
    let probes = [
        "'",
        "' OR '1'='1",
        "1 OR 1=1",
        "'; SELECT pg_sleep(5);--",
        "' AND randomblob(1000000000)--",
        "%",
        "_",
    ];
    for p in probes {
        let password = [
            ("grant_type", "password"),
            ("client_id", &id),
            ("client_secret", &w.s1),
            ("username", p),
            ("password", p),
        ];
        let r = unslept(p, app.token(&password))
            .await
            .read()
            .await
            .assert_status(400);
        assert!(!r.body.to_lowercase().contains("sql"));
        let code = [
            ("grant_type", "authorization_code"),
            ("client_id", p),
            ("client_secret", p),
            ("code", p),
        ];
        assert!(
            unslept(p, app.token(&code))
                .await
                .status()
                .is_client_error()
        );
        let scoped = [
            ("grant_type", "password"),
            ("client_id", &id),
            ("client_secret", &w.s1),
            ("username", "alice"),
            ("password", ALICE_PASSWORD),
            ("blog", p),
            ("scope", p),
        ];
        assert!(
            unslept(p, app.token(&scoped))
                .await
                .status()
                .is_client_error()
        );
    }
}
both!(in08_injection_probes_get_ordinary_errors);

async fn in11_a_lost_database_is_a_generic_503(app: TestApp) {
    let w = world(&app).await;
    let id = w.c1.id.to_string();
    app.store.close().await;
    let r = app
        .password_grant(&id, &w.s1, "alice", ALICE_PASSWORD, &[])
        .await
        .read()
        .await
        .assert_status(503);
    assert_eq!(r.json()["error"], "server_error");
    assert!(r.headers.contains_key("retry-after"));
    let lower = r.body.to_lowercase();
    for leak in ["sqlx", "pool", "select", "sqlite", "postgres", ".rs"] {
        assert!(!lower.contains(leak), "{leak} in {}", r.body);
    }
    let page = app
        .get(&format!(
            "/oauth2/authorize?{}",
            authz_query(w.c1.id, C1_REDIRECT, &[])
        ))
        .await
        .read()
        .await
        .assert_status(503);
    assert!(page.header("content-type").starts_with("text/html"));
}
both!(in11_a_lost_database_is_a_generic_503);

#[tokio::test]
async fn br09_cookies_use_the_host_prefix_and_secure_over_https() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.public_url = "https://as.example".into()
    })
    .await
    .unwrap();
    let form = new_browser_without_cookies()
        .get(app.url("/login"))
        .send()
        .await
        .unwrap();
    let cookie = form
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("__Host-latchkey_login="), "{cookie}");
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
}
