//! The WordPress.com code, implicit and password flows end to end, and the exact wire shapes.

use crate::both;
use crate::flows::*;
use crate::harness::*;

async fn the_code_flow_runs_from_login_to_rest_me(app: TestApp) {
    let w = world(&app).await;
    let browser = new_browser();
    let query = authz_query(w.c1.id, C1_REDIRECT, &[]);
    // Without a session the browser is sent to the login page, and back after it.
    let to_login = app
        .authorize(&browser, &query)
        .await
        .read()
        .await
        .assert_status(303);
    let login_location = to_login.header("location").to_owned();
    assert!(
        login_location.starts_with("/login?redirect_to=%2Foauth2%2Fauthorize%3F"),
        "{login_location}"
    );
    let form = browser
        .get(app.url(&login_location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = input(&form, "csrf").unwrap();
    let back = input(&form, "redirect_to").unwrap();
    assert_eq!(back, format!("/oauth2/authorize?{query}"));
    let logged_in = browser
        .post(app.url("/login"))
        .form(&[
            ("username", "alice"),
            ("password", ALICE_PASSWORD),
            ("csrf", &csrf),
            ("redirect_to", &back),
        ])
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(303);
    assert_eq!(logged_in.header("location"), back);

    let consent = app
        .authorize(&browser, &query)
        .await
        .read()
        .await
        .assert_status(200);
    assert!(consent.body.contains("Authorize Test App"));
    assert!(consent.body.contains("Approve") && consent.body.contains("Deny"));
    assert!(consent.body.contains(&w.blog1.url) && consent.body.contains(&w.blog2.url));
    assert!(
        !consent.body.contains(&w.foreign.url),
        "only blogs alice administers"
    );
    assert_eq!(consent.header("cache-control"), "no-store");

    let redirect = app
        .consent(&browser, &consent.body, "approve", Some(w.blog2.id))
        .await
        .read()
        .await
        .assert_status(303);
    let location = redirect.header("location");
    assert!(
        location.starts_with("https://client.example/cb?code=lkac_"),
        "{location}"
    );
    let params = location_params(location, false);
    assert_eq!(param(&params, "state").as_deref(), Some("xyz"));
    assert_eq!(param(&params, "iss"), Some(app.base.clone()));
    let code = param(&params, "code").unwrap();

    let issued = app
        .exchange_code(&w.c1, &w.s1, &code, C1_REDIRECT)
        .await
        .read()
        .await
        .assert_status(200);
    assert_eq!(issued.header("cache-control"), "no-store");
    assert_eq!(issued.header("pragma"), "no-cache");
    let token = issued.json()["access_token"].as_str().unwrap().to_owned();
    assert!(
        token.starts_with("lkat_")
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    );
    assert_eq!(
        issued.body,
        format!(
            r#"{{"access_token":"{token}","token_type":"bearer","blog_id":"{}","blog_url":"https://alice-two.example","scope":""}}"#,
            w.blog2.id
        )
    );

    let info = app
        .token_info(w.c1.id, &token)
        .await
        .read()
        .await
        .assert_status(200);
    assert_eq!(
        info.body,
        format!(
            r#"{{"client_id":"{}","user_id":"{}","blog_id":"{}","scope":""}}"#,
            w.c1.id, w.alice.id, w.blog2.id
        )
    );

    let me = app.me(&token).await.read().await.assert_status(200).json();
    assert_eq!(me["ID"], w.alice.id);
    assert_eq!(me["username"], "alice");
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["primary_blog"], w.blog1.id);
    assert_eq!(me["primary_blog_url"], "https://alice.example");
    assert_eq!(me["primary_blog_is_jetpack"], false);
    assert_eq!(me["token_site_id"], w.blog2.id);
    assert_eq!(me["token_scope"], serde_json::json!([""]));
    assert_eq!(me["site_count"], 2);
    assert!(me["date"].as_str().unwrap().ends_with("+00:00"));
    assert!(
        me["meta"]["links"]["self"]
            .as_str()
            .unwrap()
            .ends_with("/rest/v1.1/me")
    );
    let v1 = app
        .http
        .get(app.url("/rest/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(v1.read().await.assert_status(200).json()["ID"], w.alice.id);
}
both!(the_code_flow_runs_from_login_to_rest_me);

async fn a_blog_the_user_administers_is_fixed_without_a_selector(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    for blog in [w.blog1.id.to_string(), "HTTPS://Alice.Example/".to_string()] {
        let query = authz_query(w.c1.id, C1_REDIRECT, &[("blog", &blog)]);
        let page = app
            .authorize(&browser, &query)
            .await
            .read()
            .await
            .assert_status(200);
        assert!(
            !page.body.contains("<select"),
            "no selector for a named blog"
        );
        assert_eq!(input(&page.body, "blog_id"), Some(w.blog1.id.to_string()));
    }
    // A blog alice does not administer (TK06): the selector of her own blogs instead.
    let query = authz_query(w.c1.id, C1_REDIRECT, &[("blog", &w.foreign.id.to_string())]);
    let page = app
        .authorize(&browser, &query)
        .await
        .read()
        .await
        .assert_status(200);
    assert!(page.body.contains("<select"));
    assert!(!page.body.contains(&w.foreign.url));
    // Approving a blog she does not administer anyway is refused, and nothing is issued.
    let refused = app
        .consent(&browser, &page.body, "approve", Some(w.foreign.id))
        .await
        .read()
        .await
        .assert_status(400);
    assert!(
        refused
            .body
            .contains("You do not administer the chosen blog.")
    );
    assert_eq!(app.count("auth_codes").await, 0);
}
both!(a_blog_the_user_administers_is_fixed_without_a_selector);

async fn global_and_auth_grants_report_blog_zero(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    for (scope, wire) in [("global", "global"), ("auth", "auth")] {
        let query = authz_query(
            w.c1.id,
            C1_REDIRECT,
            &[("scope", scope), ("blog", &w.blog1.id.to_string())],
        );
        let code = app.obtain_code(&browser, &query, None).await;
        let issued = app
            .exchange_code(&w.c1, &w.s1, &code, C1_REDIRECT)
            .await
            .read()
            .await
            .assert_status(200);
        let token = issued.json()["access_token"].as_str().unwrap().to_owned();
        assert_eq!(
            issued.body,
            format!(
                r#"{{"access_token":"{token}","token_type":"bearer","blog_id":"0","blog_url":null,"scope":"{wire}"}}"#
            )
        );
        let info = app
            .token_info(w.c1.id, &token)
            .await
            .read()
            .await
            .assert_status(200)
            .json();
        assert_eq!(info["blog_id"], "0");
        assert_eq!(info["scope"], wire);
        let me = app.me(&token).await.read().await.assert_status(200).json();
        assert_eq!(me["token_site_id"], false);
        assert_eq!(me["token_scope"], serde_json::json!([wire]));
    }
}
both!(global_and_auth_grants_report_blog_zero);

async fn authenticate_defaults_the_scope_to_auth(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let query = authz_query(w.c1.id, C1_REDIRECT, &[]);
    let page = browser
        .get(app.url(&format!("/oauth2/authenticate?{query}")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert_eq!(input(&page.body, "scope").as_deref(), Some("auth"));
    assert!(!page.body.contains("<select"));
    let redirect = app
        .consent(&browser, &page.body, "approve", None)
        .await
        .read()
        .await
        .assert_status(303);
    let code = param(&location_params(redirect.header("location"), false), "code").unwrap();
    let issued = app
        .exchange_code(&w.c1, &w.s1, &code, C1_REDIRECT)
        .await
        .read()
        .await
        .assert_status(200);
    assert_eq!(issued.json()["scope"], "auth");
}
both!(authenticate_defaults_the_scope_to_auth);

async fn named_scopes_give_a_single_blog_token_listing_them(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let query = authz_query(w.c1.id, C1_REDIRECT, &[("scope", "posts media,posts")]);
    let code = app.obtain_code(&browser, &query, Some(w.blog1.id)).await;
    let issued = app
        .exchange_code(&w.c1, &w.s1, &code, C1_REDIRECT)
        .await
        .read()
        .await
        .assert_status(200)
        .json();
    assert_eq!(issued["scope"], "posts,media");
    assert_eq!(issued["blog_id"], w.blog1.id.to_string());
    let me = app
        .me(issued["access_token"].as_str().unwrap())
        .await
        .read()
        .await
        .assert_status(200)
        .json();
    assert_eq!(me["token_scope"], serde_json::json!(["posts", "media"]));
}
both!(named_scopes_give_a_single_blog_token_listing_them);

async fn implicit_tokens_arrive_in_the_fragment_with_two_week_expiry(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let query = authz_query(w.c1.id, C1_REDIRECT, &[("response_type", "token")])
        .replace("response_type=code&", "");
    let page = app
        .authorize(&browser, &query)
        .await
        .read()
        .await
        .assert_status(200);
    let redirect = app
        .consent(&browser, &page.body, "approve", Some(w.blog1.id))
        .await
        .read()
        .await
        .assert_status(303);
    let location = redirect.header("location");
    assert!(
        location.starts_with("https://client.example/cb#access_token=lkat_"),
        "{location}"
    );
    assert!(!location.contains('?'), "never in the query");
    assert_eq!(redirect.header("cache-control"), "no-store");
    assert_eq!(redirect.header("referrer-policy"), "no-referrer");
    let params = location_params(location, true);
    let keys: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "access_token",
            "expires_in",
            "token_type",
            "site_id",
            "scope",
            "state",
            "iss"
        ]
    );
    assert_eq!(param(&params, "expires_in").as_deref(), Some("1209600"));
    assert_eq!(param(&params, "token_type").as_deref(), Some("bearer"));
    assert_eq!(param(&params, "site_id"), Some(w.blog1.id.to_string()));
    let token = param(&params, "access_token").unwrap();
    app.token_info(w.c1.id, &token)
        .await
        .read()
        .await
        .assert_status(200);
    app.clock.advance(1_209_600);
    app.token_info(w.c1.id, &token)
        .await
        .read()
        .await
        .assert_status(400);
    app.me(&token).await.read().await.assert_status(401);
}
both!(implicit_tokens_arrive_in_the_fragment_with_two_week_expiry);

async fn the_password_grant_works_for_the_owner_only(app: TestApp) {
    let w = world(&app).await;
    let id = w.c1.id.to_string();
    let issued = app
        .password_grant(&id, &w.s1, "alice", ALICE_PASSWORD, &[])
        .await
        .read()
        .await
        .assert_status(200)
        .json();
    assert_eq!(
        issued["blog_id"],
        w.blog1.id.to_string(),
        "the primary blog"
    );
    assert_eq!(issued["scope"], "");
    let blog2 = w.blog2.id.to_string();
    let issued = app
        .password_grant(
            &id,
            &w.s1,
            "alice@example.com",
            ALICE_PASSWORD,
            &[("blog", &blog2)],
        )
        .await
        .read()
        .await
        .assert_status(200)
        .json();
    assert_eq!(issued["blog_id"], blog2);
    // PW06: another user, even with the right password.
    let refused = app
        .password_grant(&id, &w.s1, "bob", "bob's long password", &[])
        .await
        .read()
        .await
        .assert_status(400)
        .json();
    assert_eq!(refused["error"], "unsupported_grant_type");
    assert_eq!(
        refused["error_description"],
        "This client does not allow the password grant for this user."
    );
    for (scope, error) in [
        ("global posts", "invalid_scope"),
        ("nonsense", "invalid_scope"),
    ] {
        let refused = app
            .password_grant(&id, &w.s1, "alice", ALICE_PASSWORD, &[("scope", scope)])
            .await
            .read()
            .await
            .assert_status(400)
            .json();
        assert_eq!(refused["error"], error);
    }
    let wrong = app
        .password_grant(&id, &w.s1, "alice", "wrong", &[])
        .await
        .read()
        .await
        .assert_status(400)
        .json();
    assert_eq!(
        wrong,
        serde_json::json!({
            "error": "invalid_request",
            "error_description": "Incorrect username or password."
        })
    );
}
both!(the_password_grant_works_for_the_owner_only);

async fn the_token_endpoint_accepts_multipart_and_basic_authentication(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let code = app
        .obtain_code(
            &browser,
            &authz_query(w.c1.id, C1_REDIRECT, &[]),
            Some(w.blog1.id),
        )
        .await;
    let form = reqwest::multipart::Form::new()
        .text("client_id", w.c1.id.to_string())
        .text("client_secret", w.s1.clone())
        .text("grant_type", "authorization_code")
        .text("code", code)
        .text("redirect_uri", C1_REDIRECT);
    let multipart = app
        .http
        .post(app.url("/oauth2/token"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        multipart.read().await.assert_status(200).json()["token_type"],
        "bearer"
    );

    let code = app
        .obtain_code(
            &browser,
            &authz_query(w.c1.id, C1_REDIRECT, &[]),
            Some(w.blog1.id),
        )
        .await;
    let basic = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(w.c1.id, Some(&w.s1))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", C1_REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    basic.read().await.assert_status(200);

    let code = app
        .obtain_code(
            &browser,
            &authz_query(w.c1.id, C1_REDIRECT, &[]),
            Some(w.blog1.id),
        )
        .await;
    let both_methods = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(w.c1.id, Some(&w.s1))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", C1_REDIRECT),
            ("client_secret", &w.s1),
        ])
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    assert_eq!(both_methods.json()["error"], "invalid_request");
    // The refused request did not consume the code.
    app.exchange_code(&w.c1, &w.s1, &code, C1_REDIRECT)
        .await
        .read()
        .await
        .assert_status(200);
}
both!(the_token_endpoint_accepts_multipart_and_basic_authentication);

async fn a_single_registered_redirect_may_be_omitted_at_both_steps(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let query = format!("client_id={}&response_type=code&state=s", w.c1.id);
    let code = app.obtain_code(&browser, &query, Some(w.blog1.id)).await;
    let id = w.c1.id.to_string();
    app.token(&[
        ("grant_type", "authorization_code"),
        ("client_id", &id),
        ("client_secret", &w.s1),
        ("code", &code),
    ])
    .await
    .read()
    .await
    .assert_status(200);
}
both!(a_single_registered_redirect_may_be_omitted_at_both_steps);

async fn logging_out_ends_the_session_and_its_cookie(app: TestApp) {
    let w = world(&app).await;
    let cookie = app.login_by_hand().await;
    let raw = new_browser_without_cookies();
    let home = raw
        .get(app.url("/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(home.body.contains("Logged in as"));
    let csrf = input(&home.body, "csrf").unwrap();
    let out = raw
        .post(app.url("/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    out.read().await.assert_status(303);
    // BR11: replaying the old cookie authenticates nothing.
    let replay = new_browser()
        .get(app.url(&format!(
            "/oauth2/authorize?{}",
            authz_query(w.c1.id, C1_REDIRECT, &[])
        )))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(303);
    assert!(replay.header("location").starts_with("/login?"));
}
both!(logging_out_ends_the_session_and_its_cookie);

async fn ac10_metadata_names_the_issuer_that_every_response_carries(app: TestApp) {
    let meta = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .read()
        .await
        .assert_status(200)
        .json();
    assert_eq!(meta["issuer"], app.base.as_str());
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        meta["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    // The discovery documents advertise the OAuth 2.1 server (oauth21.md §1), not the legacy pair.
    assert_eq!(
        meta["token_endpoint"],
        format!("{}/oauth2-1/token", app.base)
    );
}
both!(ac10_metadata_names_the_issuer_that_every_response_carries);
