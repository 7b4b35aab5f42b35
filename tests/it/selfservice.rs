//! The self-service pages (issue 5): applications manager, connected applications, sites, sign-up
//! and the playground, over real HTTP on both databases.

use latchkey::domain::secret;

use crate::both;
use crate::flows::*;
use crate::harness::*;

/// The CSRF token of the form posting to `action` (pages also carry the logout form's token).
pub(crate) fn form_csrf(html: &str, action: &str) -> String {
    let at = html
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form posting to {action} in: {html}"));
    input(&html[at..], "csrf").unwrap()
}

/// GETs `path` and returns the CSRF token of the form posting to `action`.
pub(crate) async fn csrf_for(
    app: &TestApp,
    browser: &reqwest::Client,
    path: &str,
    action: &str,
) -> String {
    let page = browser
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    form_csrf(&page.body, action)
}

pub(crate) async fn post(
    app: &TestApp,
    browser: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    browser.post(app.url(path)).form(form).send().await.unwrap()
}

/// A complete, valid new-app form (redirect to the client's callback), with `changes` applied.
fn app_form<'a>(csrf: &'a str, changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("csrf", csrf),
        ("name", "My App"),
        ("description", "What it does"),
        ("website", "https://myapp.example"),
        ("icon_url", ""),
        ("app_type", "web"),
        (
            "redirect_uris",
            "https://myapp.example/cb\r\nhttps://myapp.example/cb2",
        ),
        ("js_origins", "https://myapp.example"),
        ("allow_implicit", "1"),
        ("oauth1_callback", ""),
    ];
    for (k, v) in changes {
        form.retain(|(name, _)| name != k);
        if !v.is_empty() || *k != "allow_implicit" {
            form.push((k, v));
        }
    }
    form
}

/// Text of the element with this id (`<code id="…">…</code>`).
pub(crate) fn by_id(html: &str, id: &str) -> Option<String> {
    let marker = format!(" id=\"{id}\"");
    let at = html.find(&marker)? + marker.len();
    let start = html[at..].find('>')? + at + 1;
    let end = html[start..].find('<')? + start;
    Some(unescape(&html[start..end]))
}

/// Creates an app through the web form as `browser` and returns (client_id, the page).
pub(crate) async fn create_app_via_web(
    app: &TestApp,
    browser: &reqwest::Client,
    changes: &[(&str, &str)],
) -> (i64, Checked) {
    let csrf = csrf_for(app, browser, "/apps/new", "/apps/new").await;
    let created = post(app, browser, "/apps/new", &app_form(&csrf, changes)).await;
    let page = follow(app, browser, created).await;
    let id = by_id(&page.body, "client-id").unwrap().parse().unwrap();
    (id, page)
}

/// A POST's answer must be a redirect (post/redirect/get): GETs where it points.
pub(crate) async fn follow(
    app: &TestApp,
    browser: &reqwest::Client,
    answer: reqwest::Response,
) -> Checked {
    let redirected = answer.read().await.assert_status(303);
    browser
        .get(app.url(redirected.header("location")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200)
}

/// The CSRF token of the confirmation page that resets a secret (`reset-secret` or
/// `regenerate-consumer-secret`).
pub(crate) async fn confirm_csrf(
    app: &TestApp,
    browser: &reqwest::Client,
    id: impl std::fmt::Display,
    what: &str,
) -> String {
    let path = format!("/apps/{id}/{what}");
    csrf_for(app, browser, &path, &path).await
}

async fn self_service_pages_send_visitors_to_the_login_page_and_refuse_their_posts(app: TestApp) {
    for path in [
        "/apps",
        "/apps/new",
        "/apps/1",
        "/me/security/connected-applications",
        "/sites",
        "/sites/1",
        "/playground",
    ] {
        let r = app.get(path).await.read().await.assert_status(303);
        let expected = format!(
            "/login?redirect_to={}",
            form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
        );
        assert_eq!(r.header("location"), expected, "{path}");
    }
    for path in [
        "/apps/new",
        "/apps/1/reset-secret",
        "/apps/1/delete",
        "/sites",
        "/playground/start",
        "/playground/oauth1/start",
        "/me/security/connected-applications/1/disconnect",
    ] {
        app.http
            .post(app.url(path))
            .form(&[("csrf", "x")])
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(403);
    }
}
both!(self_service_pages_send_visitors_to_the_login_page_and_refuse_their_posts);

async fn creating_an_app_shows_its_secrets_once_and_the_endpoints_to_use(app: TestApp) {
    world(&app).await;
    let browser = app.alice_browser().await;
    let (id, page) = create_app_via_web(&app, &browser, &[("oauth1_callback", "oob")]).await;
    assert_eq!(page.header("cache-control"), "no-store");
    let client_secret = by_id(&page.body, "client-secret").expect("client secret shown");
    let consumer_secret = by_id(&page.body, "consumer-secret").expect("consumer secret shown");
    assert!(client_secret.starts_with("lkcs_"));
    assert_eq!(consumer_secret.len(), 48);
    let stored = app.store.app_by_id(id).await.unwrap().unwrap();
    assert_eq!(
        stored.secret_digest,
        secret::digest(&client_secret).to_vec()
    );
    assert_eq!(
        stored.redirect_uri_list(),
        ["https://myapp.example/cb", "https://myapp.example/cb2"]
    );
    assert_eq!(stored.js_origin_list(), ["https://myapp.example"]);
    assert!(stored.allow_implicit && stored.oauth1_key.is_some());
    // Later views never show the secrets again, but show every endpoint.
    let later = browser
        .get(app.url(&format!("/apps/{id}")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(!later.body.contains(&client_secret) && !later.body.contains(&consumer_secret));
    for endpoint in [
        "/oauth2/authorize",
        "/oauth2/authenticate",
        "/oauth2/token",
        "/oauth2/token-info",
        "/oauth1/request",
        "/oauth1/authorize",
        "/oauth1/access",
    ] {
        assert!(
            later.body.contains(&format!("{}{endpoint}", app.base)),
            "{endpoint} missing"
        );
    }
    assert!(later.body.contains(stored.oauth1_key.as_deref().unwrap()));
    let list = browser
        .get(app.url("/apps"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(list.body.contains(&format!("/apps/{id}")) && list.body.contains("My App"));
    // Without OAuth1, no consumer and no OAuth1 endpoints.
    let (plain, page) = create_app_via_web(&app, &browser, &[]).await;
    assert!(by_id(&page.body, "consumer-secret").is_none());
    let page = browser
        .get(app.url(&format!("/apps/{plain}")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(!page.body.contains("/oauth1/request"));
}
both!(creating_an_app_shows_its_secrets_once_and_the_endpoints_to_use);

async fn invalid_app_input_is_shown_next_to_its_field_with_the_input_kept(app: TestApp) {
    world(&app).await;
    let browser = app.alice_browser().await;
    let apps_before = app.count("apps").await;
    let cases: &[(&str, &str, &str, &str)] = &[
        ("name", "   ", "name-error", "1 to 100 characters"),
        ("website", "ftp://myapp.example", "website-error", "http"),
        ("icon_url", "not a url", "icon-url-error", "http"),
        ("app_type", "spa", "type-error", "Web or Native"),
        (
            "redirect_uris",
            "",
            "redirect-uri-error",
            "at least one redirect",
        ),
        (
            "redirect_uris",
            "https://myapp.example/cb#frag",
            "redirect-uri-error",
            "https://myapp.example/cb#frag",
        ),
        (
            "js_origins",
            "https://myapp.example/path",
            "js-origin-error",
            "no path",
        ),
        (
            "oauth1_callback",
            "javascript:alert(1)",
            "oauth1-callback-error",
            "",
        ),
    ];
    for (field, value, error_id, words) in cases {
        let csrf = csrf_for(&app, &browser, "/apps/new", "/apps/new").await;
        let form = app_form(
            &csrf,
            &[(field, value), ("description", "kept <description>")],
        );
        let page = post(&app, &browser, "/apps/new", &form)
            .await
            .read()
            .await
            .assert_status(400);
        let error = by_id(&page.body, error_id)
            .unwrap_or_else(|| panic!("{field}={value:?}: no #{error_id} in {}", page.body));
        assert!(error.contains(words), "{field}={value:?}: {error}");
        assert!(
            page.body.contains("kept &lt;description&gt;")
                || page.body.contains("kept &#60;description&#62;"),
            "the input is kept"
        );
        assert!(page.body.contains("aria-invalid=\"true\""));
        if *field != "app_type" && !value.trim().is_empty() {
            assert!(
                unescape(&page.body).contains(value),
                "{field}: typed value kept"
            );
        }
    }
    assert_eq!(app.count("apps").await, apps_before);
}
both!(invalid_app_input_is_shown_next_to_its_field_with_the_input_kept);

async fn only_the_owner_sees_or_changes_an_app(app: TestApp) {
    let w = world(&app).await;
    let alice = app.alice_browser().await;
    // bob owns c3; alice is not its owner.
    let list = alice
        .get(app.url("/apps"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(list.body.contains(&format!("/apps/{}", w.c1.id)));
    assert!(!list.body.contains(&format!("/apps/{}\"", w.c3.id)));
    let c3 = w.c3.id;
    for path in [
        format!("/apps/{c3}"),
        format!("/apps/{c3}/edit"),
        format!("/apps/{c3}/delete"),
        "/apps/abc".into(),
        "/apps/-1".into(),
        "/apps/99999999999999999999".into(),
    ] {
        alice
            .get(app.url(&path))
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(404);
    }
    let csrf = confirm_csrf(&app, &alice, w.c1.id, "reset-secret").await;
    for action in [
        "edit",
        "reset-secret",
        "regenerate-consumer-secret",
        "delete",
    ] {
        post(
            &app,
            &alice,
            &format!("/apps/{c3}/{action}"),
            &[("csrf", &csrf), ("name", "stolen")],
        )
        .await
        .read()
        .await
        .assert_status(404);
    }
    let after = app.store.app_by_id(c3).await.unwrap().unwrap();
    assert_eq!(after.secret_digest, secret::digest(&w.s3).to_vec());
    assert_eq!(after.name, "Test App");
}
both!(only_the_owner_sees_or_changes_an_app);

async fn editing_an_app_changes_it_keeps_its_secret_and_can_turn_oauth1_on(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let id = w.c1.id;
    let edit = browser
        .get(app.url(&format!("/apps/{id}/edit")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(edit.body.contains(C1_REDIRECT), "the form is filled in");
    let csrf = form_csrf(&edit.body, &format!("/apps/{id}/edit"));
    let form = app_form(
        &csrf,
        &[
            ("name", "Renamed"),
            ("redirect_uris", "https://client.example/new"),
            ("allow_implicit", ""),
            ("app_type", "web"),
        ],
    );
    let saved = post(&app, &browser, &format!("/apps/{id}/edit"), &form)
        .await
        .read()
        .await
        .assert_status(303);
    assert_eq!(saved.header("location"), format!("/apps/{id}"));
    let after = app.store.app_by_id(id).await.unwrap().unwrap();
    assert_eq!(
        (
            after.name.as_str(),
            after.redirect_uris.as_str(),
            after.allow_implicit
        ),
        ("Renamed", "https://client.example/new", false)
    );
    assert_eq!(after.secret_digest, w.c1.secret_digest);
    // Invalid edits change nothing and keep the input.
    let bad = app_form(
        &csrf,
        &[("name", "Another"), ("redirect_uris", "not a uri")],
    );
    let page = post(&app, &browser, &format!("/apps/{id}/edit"), &bad)
        .await
        .read()
        .await
        .assert_status(400);
    assert!(by_id(&page.body, "redirect-uri-error").is_some() && page.body.contains("not a uri"));
    assert_eq!(
        app.store.app_by_id(id).await.unwrap().unwrap().name,
        "Renamed"
    );
    // Turning OAuth1 on issues a consumer key and a secret shown once.
    let on = app_form(
        &csrf,
        &[("oauth1_callback", "https://client.example/oauth1")],
    );
    let page = follow(
        &app,
        &browser,
        post(&app, &browser, &format!("/apps/{id}/edit"), &on).await,
    )
    .await;
    let consumer_secret = by_id(&page.body, "consumer-secret").unwrap();
    let after = app.store.app_by_id(id).await.unwrap().unwrap();
    let opened = latchkey::domain::crypto::open(
        &app.state.key.0,
        latchkey::admin::CONSUMER_SECRET_CONTEXT,
        after.oauth1_secret_enc.as_deref().unwrap(),
    )
    .unwrap();
    assert_eq!(opened, consumer_secret.as_bytes());
    // Saving again keeps the same consumer.
    post(&app, &browser, &format!("/apps/{id}/edit"), &on)
        .await
        .read()
        .await
        .assert_status(303);
    assert_eq!(
        app.store.app_by_id(id).await.unwrap().unwrap().oauth1_key,
        after.oauth1_key
    );
}
both!(editing_an_app_changes_it_keeps_its_secret_and_can_turn_oauth1_on);

async fn resetting_the_secret_shows_a_new_one_once_and_the_old_one_stops_working(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let id = w.c1.id.to_string();
    let appr = &app;
    let grant = |secret: String| {
        let id = id.clone();
        async move {
            appr.token(&[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", ALICE_PASSWORD),
                ("client_id", &id),
                ("client_secret", &secret),
            ])
            .await
        }
    };
    grant(w.s1.clone()).await.read().await.assert_status(200);
    let csrf = confirm_csrf(&app, &browser, &id, "reset-secret").await;
    let page = follow(
        &app,
        &browser,
        post(
            &app,
            &browser,
            &format!("/apps/{id}/reset-secret"),
            &[("csrf", &csrf)],
        )
        .await,
    )
    .await;
    let new_secret = by_id(&page.body, "client-secret").unwrap();
    assert_ne!(new_secret, w.s1);
    let refused = grant(w.s1.clone()).await;
    assert!(matches!(refused.status().as_u16(), 400 | 401));
    grant(new_secret.clone())
        .await
        .read()
        .await
        .assert_status(200);
    let later = browser
        .get(app.url(&format!("/apps/{id}")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(!later.body.contains(&new_secret));
    assert!(app.count("audit_events").await > 0);
}
both!(resetting_the_secret_shows_a_new_one_once_and_the_old_one_stops_working);

async fn regenerating_the_consumer_secret_keeps_the_key(app: TestApp) {
    world(&app).await;
    let browser = app.alice_browser().await;
    let (id, page) = create_app_via_web(
        &app,
        &browser,
        &[("oauth1_callback", "https://myapp.example/oauth1")],
    )
    .await;
    let first = by_id(&page.body, "consumer-secret").unwrap();
    let before = app.store.app_by_id(id).await.unwrap().unwrap();
    let csrf = confirm_csrf(&app, &browser, id, "regenerate-consumer-secret").await;
    let page = follow(
        &app,
        &browser,
        post(
            &app,
            &browser,
            &format!("/apps/{id}/regenerate-consumer-secret"),
            &[("csrf", &csrf)],
        )
        .await,
    )
    .await;
    let second = by_id(&page.body, "consumer-secret").unwrap();
    assert_ne!(first, second);
    assert!(by_id(&page.body, "client-secret").is_none());
    let after = app.store.app_by_id(id).await.unwrap().unwrap();
    assert_eq!(after.oauth1_key, before.oauth1_key);
    assert_eq!(after.secret_digest, before.secret_digest);
    let opened = latchkey::domain::crypto::open(
        &app.state.key.0,
        latchkey::admin::CONSUMER_SECRET_CONTEXT,
        after.oauth1_secret_enc.as_deref().unwrap(),
    )
    .unwrap();
    assert_eq!(opened, second.as_bytes());
    // An app without OAuth1 has nothing to regenerate.
    let (plain, _) = create_app_via_web(&app, &browser, &[]).await;
    let csrf = confirm_csrf(&app, &browser, plain, "reset-secret").await;
    post(
        &app,
        &browser,
        &format!("/apps/{plain}/regenerate-consumer-secret"),
        &[("csrf", &csrf)],
    )
    .await
    .read()
    .await
    .assert_status(400);
}
both!(regenerating_the_consumer_secret_keeps_the_key);

async fn deleting_an_app_asks_first_and_takes_its_codes_tokens_and_grants(app: TestApp) {
    let w = world(&app).await;
    let token = app.code_flow_token(&w).await;
    let browser = app.alice_browser().await;
    // An unredeemed code as well.
    app.obtain_code(
        &browser,
        &authz_query(w.c1.id, C1_REDIRECT, &[]),
        Some(w.blog1.id),
    )
    .await;
    let id = w.c1.id;
    let confirm = browser
        .get(app.url(&format!("/apps/{id}/delete")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(confirm.body.contains("cannot be undone") && confirm.body.contains("1 person has"));
    assert!(
        app.store.app_by_id(id).await.unwrap().is_some(),
        "showing the confirmation deletes nothing"
    );
    // The app page's token is not the delete form's token.
    let other = confirm_csrf(&app, &browser, id, "reset-secret").await;
    post(
        &app,
        &browser,
        &format!("/apps/{id}/delete"),
        &[("csrf", &other)],
    )
    .await
    .read()
    .await
    .assert_status(403);
    let csrf = form_csrf(&confirm.body, &format!("/apps/{id}/delete"));
    let done = post(
        &app,
        &browser,
        &format!("/apps/{id}/delete"),
        &[("csrf", &csrf)],
    )
    .await
    .read()
    .await
    .assert_status(303);
    assert_eq!(done.header("location"), "/apps");
    assert!(app.store.app_by_id(id).await.unwrap().is_none());
    for table in ["grants", "auth_codes", "access_tokens"] {
        assert_eq!(
            app.scalar(&format!("SELECT COUNT(*) FROM {table} WHERE app_id = {id}"))
                .await,
            0,
            "{table}"
        );
    }
    app.token_info(id, &token)
        .await
        .read()
        .await
        .assert_status(400);
    browser
        .get(app.url(&format!("/apps/{id}")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(404);
}
both!(deleting_an_app_asks_first_and_takes_its_codes_tokens_and_grants);

async fn forms_without_a_valid_csrf_token_change_nothing(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let id = w.c1.id;
    let bob = new_browser();
    app.login_as(&bob, "bob", "bob's long password")
        .await
        .read()
        .await
        .assert_status(303);
    let bobs = csrf_for(&app, &bob, "/apps/new", "/apps/new").await;
    for token in [None, Some("forged"), Some(bobs.as_str())] {
        for path in [
            format!("/apps/{id}/reset-secret"),
            format!("/apps/{id}/delete"),
            format!("/apps/{id}/edit"),
            "/apps/new".into(),
            "/sites".into(),
            format!("/sites/{}/members", w.blog1.id),
            "/playground/start".into(),
        ] {
            let mut form = app_form(
                token.unwrap_or(""),
                &[
                    ("url", "https://new.example"),
                    ("member", "bob"),
                    ("role", "editor"),
                    ("client_id", "1"),
                ],
            );
            if token.is_none() {
                form.retain(|(k, _)| *k != "csrf");
            }
            // Only the app form has textareas; a line break in any other form is refused as
            // input (400) before its CSRF token is read (issue 11).
            if path != "/apps/new" && !path.ends_with("/edit") {
                form.retain(|(k, _)| *k != "redirect_uris");
            }
            post(&app, &browser, &path, &form)
                .await
                .read()
                .await
                .assert_status(403);
        }
    }
    let after = app.store.app_by_id(id).await.unwrap().unwrap();
    assert_eq!(after.secret_digest, w.c1.secret_digest);
    assert_eq!(app.count("apps").await, 3);
    assert_eq!(app.count("sites").await, 3);
    assert_eq!(app.count("site_members").await, 3);
}
both!(forms_without_a_valid_csrf_token_change_nothing);

async fn connected_applications_lists_each_approval_in_plain_words(app: TestApp) {
    let w = world(&app).await;
    app.code_flow_token(&w).await;
    let browser = app.alice_browser().await;
    app.obtain_code(
        &browser,
        &authz_query(w.c2.id, "https://app2.example/cb", &[("scope", "global")]),
        None,
    )
    .await;
    let page = browser
        .get(app.url("/me/security/connected-applications"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(page.body.contains(&w.blog1.name) && page.body.contains(&w.blog1.url));
    assert!(page.body.contains("All your sites (global)"));
    assert!(
        page.body
            .contains("Read and change everything on the site you choose")
    );
    assert!(
        page.body
            .contains("Read and change everything on every site you administer")
    );
    assert!(page.body.contains("Authorized 2026-01-01 00:00 UTC"));
    assert!(page.body.contains(&format!(
        "/me/security/connected-applications/{}/disconnect",
        w.c1.id
    )));
    // bob sees none of alice's connections.
    let bob = new_browser();
    app.login_as(&bob, "bob", "bob's long password")
        .await
        .read()
        .await
        .assert_status(303);
    let page = bob
        .get(app.url("/me/security/connected-applications"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(page.body.contains("No application is connected"));
}
both!(connected_applications_lists_each_approval_in_plain_words);

async fn disconnect_revokes_every_token_and_code_of_that_user_for_that_app(app: TestApp) {
    let w = world(&app).await;
    let t1 = app.code_flow_token(&w).await;
    let t2 = app.code_flow_token(&w).await;
    let browser = app.alice_browser().await;
    let code = app
        .obtain_code(
            &browser,
            &authz_query(w.c1.id, C1_REDIRECT, &[]),
            Some(w.blog1.id),
        )
        .await;
    // A token for another app survives.
    let code2 = app
        .obtain_code(
            &browser,
            &authz_query(w.c2.id, "https://app2.example/cb", &[]),
            Some(w.blog1.id),
        )
        .await;
    let other = app
        .exchange_code(&w.c2, &w.s2, &code2, "https://app2.example/cb")
        .await
        .read()
        .await
        .assert_status(200)
        .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // bob cannot disconnect alice's app for her, nor one he never connected.
    let bob = new_browser();
    app.login_as(&bob, "bob", "bob's long password")
        .await
        .read()
        .await
        .assert_status(303);
    let bobs = csrf_for(&app, &bob, "/me/security/connected-applications", "/logout").await;
    let _ = bobs;
    let csrf = csrf_for(
        &app,
        &browser,
        "/me/security/connected-applications",
        &format!("/me/security/connected-applications/{}/disconnect", w.c1.id),
    )
    .await;
    post(
        &app,
        &bob,
        &format!("/me/security/connected-applications/{}/disconnect", w.c1.id),
        &[("csrf", &csrf)],
    )
    .await
    .read()
    .await
    .assert_status(403);
    app.token_info(w.c1.id, &t1)
        .await
        .read()
        .await
        .assert_status(200);
    let done = post(
        &app,
        &browser,
        &format!("/me/security/connected-applications/{}/disconnect", w.c1.id),
        &[("csrf", &csrf)],
    )
    .await
    .read()
    .await
    .assert_status(303);
    assert_eq!(
        done.header("location"),
        "/me/security/connected-applications?disconnected=1"
    );
    for t in [&t1, &t2] {
        app.token_info(w.c1.id, t)
            .await
            .read()
            .await
            .assert_status(400);
        app.me(t).await.read().await.assert_status(401);
    }
    app.exchange_code(&w.c1, &w.s1, &code, C1_REDIRECT)
        .await
        .read()
        .await
        .assert_status(400);
    app.token_info(w.c2.id, &other)
        .await
        .read()
        .await
        .assert_status(200);
    let page = browser
        .get(app.url("/me/security/connected-applications?disconnected=1"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(page.body.contains("was disconnected"));
    assert!(!page.body.contains(&format!(
        "/me/security/connected-applications/{}/disconnect",
        w.c1.id
    )));
    // Disconnecting again, or an app never connected: 404.
    post(
        &app,
        &browser,
        &format!("/me/security/connected-applications/{}/disconnect", w.c1.id),
        &[("csrf", &csrf)],
    )
    .await
    .read()
    .await
    .assert_status(404);
    post(
        &app,
        &browser,
        "/me/security/connected-applications/abc/disconnect",
        &[("csrf", &csrf)],
    )
    .await
    .read()
    .await
    .assert_status(404);
}
both!(disconnect_revokes_every_token_and_code_of_that_user_for_that_app);

async fn sites_lists_roles_and_creates_sites_with_errors_next_to_fields(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let page = browser
        .get(app.url("/sites"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(page.body.contains(&w.blog1.name) && page.body.contains("administrator"));
    assert!(!page.body.contains(&w.foreign.name));
    let csrf = form_csrf(&page.body, "/sites");
    let bad = post(
        &app,
        &browser,
        "/sites",
        &[("csrf", &csrf), ("url", "not-a-url"), ("name", "Kept name")],
    )
    .await
    .read()
    .await
    .assert_status(400);
    assert!(
        by_id(&bad.body, "url-error").is_some()
            && bad.body.contains("Kept name")
            && bad.body.contains("not-a-url")
    );
    let taken = post(
        &app,
        &browser,
        "/sites",
        &[
            ("csrf", &csrf),
            ("url", "https://alice.example/"),
            ("name", "Again"),
        ],
    )
    .await
    .read()
    .await
    .assert_status(400);
    assert!(
        by_id(&taken.body, "url-error")
            .unwrap()
            .contains("already taken")
    );
    let noname = post(
        &app,
        &browser,
        "/sites",
        &[
            ("csrf", &csrf),
            ("url", "https://fresh.example"),
            ("name", " "),
        ],
    )
    .await
    .read()
    .await
    .assert_status(400);
    assert!(by_id(&noname.body, "name-error").is_some());
    let made = post(
        &app,
        &browser,
        "/sites",
        &[
            ("csrf", &csrf),
            ("url", "https://fresh.example"),
            ("name", "Fresh"),
        ],
    )
    .await
    .read()
    .await
    .assert_status(303);
    let site = app.store.site_by_url_key("fresh.example").await.unwrap();
    let site = site
        .or(
            latchkey::admin::find_site(&app.store, "https://fresh.example")
                .await
                .ok(),
        )
        .unwrap();
    assert_eq!(made.header("location"), format!("/sites/{}", site.id));
    assert!(
        app.store
            .is_administrator(w.alice.id, site.id)
            .await
            .unwrap()
    );
}
both!(sites_lists_roles_and_creates_sites_with_errors_next_to_fields);

async fn only_administrators_add_or_remove_members_and_the_owner_stays(app: TestApp) {
    let w = world(&app).await;
    app.user("carol", "carol's long password").await;
    let alice = app.alice_browser().await;
    let site = w.blog1.id;
    let path = format!("/sites/{site}");
    let csrf = csrf_for(&app, &alice, &path, &format!("/sites/{site}/members")).await;
    let members = format!("/sites/{site}/members");
    let unknown = post(
        &app,
        &alice,
        &members,
        &[("csrf", &csrf), ("member", "nobody"), ("role", "editor")],
    )
    .await
    .read()
    .await
    .assert_status(400);
    assert!(
        by_id(&unknown.body, "member-error")
            .unwrap()
            .contains("nobody")
            && unknown.body.contains("value=\"nobody\"")
    );
    let badrole = post(
        &app,
        &alice,
        &members,
        &[("csrf", &csrf), ("member", "bob"), ("role", "king")],
    )
    .await
    .read()
    .await
    .assert_status(400);
    assert!(by_id(&badrole.body, "role-error").is_some());
    let demote = post(
        &app,
        &alice,
        &members,
        &[("csrf", &csrf), ("member", "alice"), ("role", "editor")],
    )
    .await
    .read()
    .await
    .assert_status(400);
    assert!(by_id(&demote.body, "role-error").unwrap().contains("owner"));
    post(
        &app,
        &alice,
        &members,
        &[
            ("csrf", &csrf),
            ("member", "bob@example.com"),
            ("role", "editor"),
        ],
    )
    .await
    .read()
    .await
    .assert_status(303);
    let page = alice
        .get(app.url(&path))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(page.body.contains("@bob") && page.body.contains("editor"));
    // bob, an editor, sees the site but cannot change its members.
    let bob = new_browser();
    app.login_as(&bob, "bob", "bob's long password")
        .await
        .read()
        .await
        .assert_status(303);
    let bobs_view = bob
        .get(app.url(&path))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(bobs_view.body.contains("Only administrators"));
    let bobs = form_csrf(&bobs_view.body, "/logout");
    let bob_token = latchkey::web::session::csrf_token(
        &app.state,
        &session_of(&app, "bob").await,
        &format!("site:{site}"),
    );
    let _ = bobs;
    post(
        &app,
        &bob,
        &members,
        &[
            ("csrf", &bob_token),
            ("member", "carol"),
            ("role", "administrator"),
        ],
    )
    .await
    .read()
    .await
    .assert_status(403);
    post(
        &app,
        &bob,
        &format!("/sites/{site}/members/{}/remove", w.alice.id),
        &[("csrf", &bob_token)],
    )
    .await
    .read()
    .await
    .assert_status(403);
    assert!(app.store.role_at(site, w.alice.id).await.unwrap().is_some());
    // carol, not a member, gets 404.
    let carol = new_browser();
    app.login_as(&carol, "carol", "carol's long password")
        .await
        .read()
        .await
        .assert_status(303);
    carol
        .get(app.url(&path))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(404);
    // The owner cannot be removed; others can.
    let owner = post(
        &app,
        &alice,
        &format!("/sites/{site}/members/{}/remove", w.alice.id),
        &[("csrf", &csrf)],
    )
    .await
    .read()
    .await
    .assert_status(400);
    assert!(owner.body.contains("owner cannot be removed"));
    post(
        &app,
        &alice,
        &format!("/sites/{site}/members/{}/remove", w.bob.id),
        &[("csrf", &csrf)],
    )
    .await
    .read()
    .await
    .assert_status(303);
    assert!(app.store.role_at(site, w.bob.id).await.unwrap().is_none());
    post(
        &app,
        &alice,
        &format!("/sites/{site}/members/{}/remove", w.bob.id),
        &[("csrf", &csrf)],
    )
    .await
    .read()
    .await
    .assert_status(404);
    bob.get(app.url(&path))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(404);
}
both!(only_administrators_add_or_remove_members_and_the_owner_stays);

async fn signup_is_off_unless_configured(app: TestApp) {
    app.get("/signup").await.read().await.assert_status(404);
    app.http
        .post(app.url("/signup"))
        .form(&[
            ("username", "eve"),
            ("email", "eve@example.com"),
            ("password", "long enough password"),
        ])
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(404);
    assert_eq!(app.count("users").await, 0);
}
both!(signup_is_off_unless_configured);

/// The session of a logged-in test browser, to mint a CSRF token the page would not offer.
pub(crate) async fn session_of(
    app: &TestApp,
    username: &str,
) -> latchkey::web::session::SessionUser {
    let user_id = app.store.user_by_login(username).await.unwrap().unwrap().id;
    let digest = app
        .scalar_bytes(&format!(
            "SELECT digest FROM sessions WHERE user_id = {user_id} LIMIT 1"
        ))
        .await;
    latchkey::web::session::SessionUser {
        user: app.store.user_by_id(user_id).await.unwrap().unwrap(),
        digest: digest.try_into().unwrap(),
    }
}
