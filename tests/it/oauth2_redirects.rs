//! Security catalogue 1.A (redirect URIs) and the authorize-side rows of 1.B: exact matching, the
//! error page that never redirects, and errors sent back only to a registered URI.

use latchkey::domain::app::AppType;

use crate::both;
use crate::flows::*;
use crate::harness::*;

/// EP: a 400 HTML page, no `Location`, no link to the supplied URI, `no-store`; NSE: nothing
/// issued.
async fn assert_error_page(
    app: &TestApp,
    response: reqwest::Response,
    message: &str,
    supplied: Option<&str>,
) {
    let page = response.read().await.assert_status(400);
    assert!(
        page.headers.get("location").is_none(),
        "an error page never redirects"
    );
    assert!(page.header("content-type").starts_with("text/html"));
    assert_eq!(page.header("cache-control"), "no-store");
    assert!(
        page.body.contains("Error Code: invalid_request"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&format!("Error Message: {message}")),
        "{}",
        page.body
    );
    assert!(!page.body.contains("http-equiv"), "no meta refresh");
    if let Some(uri) = supplied {
        // The mismatch page shows the URI received as escaped text (issue 13), never as a link.
        assert!(
            !page.body.contains(&format!("\"{uri}")),
            "the supplied URI is never linked: {uri}"
        );
    }
    assert_eq!(app.count("auth_codes").await, 0);
    assert_eq!(app.count("grants").await, 0);
    assert_eq!(app.count("access_tokens").await, 0);
}

async fn ru01_to_ru08_every_variant_of_the_registered_uri_is_a_mismatch(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let variants = [
        "https://evil.example/cb",     // RU01
        "https://client.example/cb/x", // RU02
        "https://client.example/cbx",
        "https://client.example/c",
        "https://client.example/cb/",
        "https://client.example/FAKEPATH",
        "https://client.example.evil.example/cb", // RU04
        "https://evilclient.example/cb",
        "https://sub.client.example/cb",
        "https://client.example./cb",
        "https://client.example:443/cb",
        "https://cl\u{456}ent.example/cb",
        "HTTPS://client.example/cb", // RU06
        "https://CLIENT.example/cb",
        "https://client.example/CB",
        "https://client.example/%63b",
        "http://client.example/cb",
        "https://client.example/cb?x=1", // RU07
        "https://client.example/cb?code=ATTACKER&state=S",
        "https://client.example/cb#x", // RU08
        "javascript:alert(1)",         // RU09
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "http://127.0.0.1/cb", // RU16: web clients never get loopback
    ];
    for uri in variants {
        let response = app
            .authorize(&browser, &authz_query(w.c1.id, uri, &[]))
            .await;
        assert_error_page(&app, response, "Mismatch in redirect_uri.", Some(uri)).await;
    }
    // RU07 for c2: the registered query must match byte for byte too.
    let response = app
        .authorize(
            &browser,
            &authz_query(w.c2.id, "https://app2.example/cb2?tenant=2", &[]),
        )
        .await;
    assert_error_page(&app, response, "Mismatch in redirect_uri.", None).await;
    let ok = app
        .authorize(
            &browser,
            &authz_query(w.c2.id, "https://app2.example/cb2?tenant=1", &[]),
        )
        .await;
    ok.read().await.assert_status(200);
}
both!(ru01_to_ru08_every_variant_of_the_registered_uri_is_a_mismatch);

async fn ru11_a_client_with_several_uris_must_name_one(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let response = app
        .authorize(
            &browser,
            &format!("client_id={}&response_type=code", w.c2.id),
        )
        .await;
    let page = response.read().await.assert_status(400);
    assert!(page.body.contains("Error Code: invalid_request"));
    assert!(page.headers.get("location").is_none());
}
both!(ru11_a_client_with_several_uris_must_name_one);

async fn ru12_unknown_missing_or_deleted_clients_get_the_error_page(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let evil = "https://evil.example/cb";
    for query in [
        format!("client_id=doesnotexist&response_type=code&redirect_uri={evil}"),
        format!("client_id=%27%20OR%20%271%27%3D%271&response_type=code&redirect_uri={evil}"),
        format!("client_id=99999999999999999999999&response_type=code&redirect_uri={evil}"),
    ] {
        let response = app.authorize(&browser, &query).await;
        assert_error_page(&app, response, "Unknown client_id.", Some(evil)).await;
    }
    // A missing client_id says so (issue 13).
    let response = app
        .authorize(&browser, &format!("response_type=code&redirect_uri={evil}"))
        .await;
    assert_error_page(&app, response, "Missing client_id.", Some(evil)).await;
    app.store.delete_app(w.c3.id).await.unwrap();
    let response = app
        .authorize(
            &browser,
            &authz_query(w.c3.id, "https://other.example/cb", &[]),
        )
        .await;
    assert_error_page(&app, response, "Unknown client_id.", None).await;
    // Even without a session, nothing redirects before the client is known.
    let response = new_browser()
        .get(app.url(&format!(
            "/oauth2/authorize?client_id=0&redirect_uri={evil}"
        )))
        .send()
        .await
        .unwrap();
    assert_error_page(&app, response, "Unknown client_id.", Some(evil)).await;
}
both!(ru12_unknown_missing_or_deleted_clients_get_the_error_page);

async fn ru13_errors_after_validation_go_back_to_the_registered_uri(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let bounce = app
        .authorize(
            &browser,
            &authz_query(w.c1.id, C1_REDIRECT, &[("response_type", "foo")])
                .replace("response_type=code&", ""),
        )
        .await;
    let bounce = bounce.read().await.assert_status(303);
    let location = bounce.header("location");
    assert!(
        location.starts_with("https://client.example/cb?error=unsupported_response_type&"),
        "{location}"
    );
    let params = location_params(location, false);
    assert_eq!(param(&params, "state").as_deref(), Some("xyz"));
    assert_eq!(param(&params, "iss"), Some(app.base.clone()));
    assert!(param(&params, "error_description").is_some());

    for scope in [
        "global posts",
        "auth posts",
        "global,auth",
        "read:stats",
        "<img src=x onerror=alert(1)>",
    ] {
        let response = app
            .authorize(
                &browser,
                &authz_query(w.c1.id, C1_REDIRECT, &[("scope", scope)]),
            )
            .await;
        assert_error_page(&app, response, "Invalid &#34;scope&#34;.", None).await;
    }

    let page = app
        .authorize(&browser, &authz_query(w.c1.id, C1_REDIRECT, &[]))
        .await
        .read()
        .await
        .assert_status(200);
    let denied = app
        .consent(&browser, &page.body, "deny", None)
        .await
        .read()
        .await
        .assert_status(303);
    let params = location_params(denied.header("location"), false);
    assert_eq!(param(&params, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&params, "state").as_deref(), Some("xyz"));
    assert_eq!(param(&params, "iss"), Some(app.base.clone()));
    assert_eq!(app.count("auth_codes").await, 0);
}
both!(ru13_errors_after_validation_go_back_to_the_registered_uri);

async fn ru16_native_loopback_redirects_may_change_only_the_port(app: TestApp) {
    let w = world(&app).await;
    let (cn, _) = app
        .app(&w.alice, &["http://127.0.0.1/cb"], AppType::Native)
        .await;
    let browser = app.alice_browser().await;
    let challenge = [
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
    ];
    let ok = app
        .authorize(
            &browser,
            &authz_query(cn.id, "http://127.0.0.1:53219/cb", &challenge),
        )
        .await;
    ok.read().await.assert_status(200);
    for uri in [
        "http://127.0.0.1:53219/cb2",
        "http://localhost:53219/cb",
        "http://127.0.0.2/cb",
    ] {
        let response = app
            .authorize(&browser, &authz_query(cn.id, uri, &challenge))
            .await;
        assert_error_page(&app, response, "Mismatch in redirect_uri.", None).await;
    }
}
both!(ru16_native_loopback_redirects_may_change_only_the_port);

async fn ru09_dangerous_or_insecure_uris_are_refused_at_registration(app: TestApp) {
    let w = world(&app).await;
    for (uri, app_type) in [
        ("javascript:alert(1)", AppType::Web),
        ("JaVaScRiPt:alert(1)", AppType::Native),
        ("data:text/html,<script>x</script>", AppType::Native),
        ("vbscript:msgbox", AppType::Native),
        ("file:///etc/passwd", AppType::Native),
        ("https://client.example/cb#frag", AppType::Web),
        ("https://user:pw@client.example/cb", AppType::Web),
        ("https://client.example/c\u{7}b", AppType::Web),
        ("http://client.example/cb", AppType::Web),
        ("http://127.0.0.1/cb", AppType::Web),
        ("https://client.example/cb?code=x", AppType::Web),
    ] {
        let input = latchkey::admin::AppInput {
            name: "x",
            description: "",
            website: "",
            icon_url: "",
            app_type,
            redirect_uris: &[uri.to_owned()],
            js_origins: &[],
            allow_implicit: true,
            oauth1_callback: None,
        };
        let refused = latchkey::admin::create_app(
            &app.store,
            &latchkey::domain::random::OsRandom,
            &[0; 32],
            &w.alice,
            &input,
            &app.base,
            0,
        )
        .await;
        assert!(refused.is_err(), "{uri} must be refused");
    }
}
both!(ru09_dangerous_or_insecure_uris_are_refused_at_registration);

async fn ac09_pkce_syntax_errors_are_sent_back_as_invalid_request(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let good = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let short = &good[..42];
    let long = "a".repeat(129);
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("code_challenge", good), ("code_challenge_method", "plain")],
        vec![("code_challenge", good), ("code_challenge_method", "S512")],
        vec![("code_challenge", good)],
        vec![("code_challenge", short), ("code_challenge_method", "S256")],
        vec![("code_challenge", &long), ("code_challenge_method", "S256")],
        vec![
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
            ),
            ("code_challenge_method", "S256"),
        ],
        vec![("code_challenge_method", "S256")],
    ];
    for extra in cases {
        let response = app
            .authorize(&browser, &authz_query(w.c1.id, C1_REDIRECT, &extra))
            .await
            .read()
            .await
            .assert_status(303);
        let params = location_params(response.header("location"), false);
        assert_eq!(
            param(&params, "error").as_deref(),
            Some("invalid_request"),
            "{extra:?}"
        );
    }
    // A native client without a challenge.
    let (cn, _) = app
        .app(&w.alice, &["http://127.0.0.1/cb"], AppType::Native)
        .await;
    let response = app
        .authorize(&browser, &authz_query(cn.id, "http://127.0.0.1/cb", &[]))
        .await
        .read()
        .await
        .assert_status(303);
    assert_eq!(
        param(
            &location_params(response.header("location"), false),
            "error"
        )
        .as_deref(),
        Some("invalid_request")
    );
}
both!(ac09_pkce_syntax_errors_are_sent_back_as_invalid_request);

async fn ac12_a_client_without_implicit_gets_unauthorized_client_in_the_fragment(app: TestApp) {
    let w = world(&app).await;
    let redirects = vec![C1_REDIRECT.to_owned()];
    let input = latchkey::admin::AppInput {
        name: "Code only",
        description: "",
        website: "",
        icon_url: "",
        app_type: AppType::Web,
        redirect_uris: &redirects,
        js_origins: &[],
        allow_implicit: false,
        oauth1_callback: None,
    };
    let created = latchkey::admin::create_app(
        &app.store,
        &latchkey::domain::random::OsRandom,
        &[0; 32],
        &w.alice,
        &input,
        &app.base,
        0,
    )
    .await
    .unwrap();
    let browser = app.alice_browser().await;
    let query = authz_query(created.app.id, C1_REDIRECT, &[("response_type", "token")])
        .replace("response_type=code&", "");
    let response = app
        .authorize(&browser, &query)
        .await
        .read()
        .await
        .assert_status(303);
    let location = response.header("location");
    assert!(
        location.starts_with("https://client.example/cb#error=unauthorized_client"),
        "{location}"
    );
    let params = location_params(location, true);
    assert_eq!(param(&params, "iss"), Some(app.base.clone()));
    assert_eq!(app.count("access_tokens").await, 0);
}
both!(ac12_a_client_without_implicit_gets_unauthorized_client_in_the_fragment);

async fn in04_empty_and_unknown_parameters_are_ignored(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let query = format!(
        "client_id={}&response_type=code&redirect_uri={}&scope=&state=&extra=foobar",
        w.c1.id, C1_REDIRECT
    );
    let code_page = app
        .authorize(&browser, &query)
        .await
        .read()
        .await
        .assert_status(200);
    let redirect = app
        .consent(&browser, &code_page.body, "approve", Some(w.blog1.id))
        .await
        .read()
        .await
        .assert_status(303);
    let params = location_params(redirect.header("location"), false);
    assert!(param(&params, "code").is_some());
    assert!(
        param(&params, "state").is_none(),
        "an empty state is absent"
    );
    // A repeated parameter is an error (before validation: a page; after: a redirect).
    let repeated = format!(
        "client_id={0}&client_id={0}&response_type=code&redirect_uri={1}",
        w.c1.id, C1_REDIRECT
    );
    app.authorize(&browser, &repeated)
        .await
        .read()
        .await
        .assert_status(400);
    let repeated = format!(
        "{}&response_type=token",
        authz_query(w.c1.id, C1_REDIRECT, &[])
    );
    let response = app
        .authorize(&browser, &repeated)
        .await
        .read()
        .await
        .assert_status(303);
    assert!(
        response
            .header("location")
            .contains("error=invalid_request")
    );
}
both!(in04_empty_and_unknown_parameters_are_ignored);

async fn br13_the_authorization_endpoint_sends_no_cors_headers(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let page = browser
        .get(app.url(&format!(
            "/oauth2/authorize?{}",
            authz_query(w.c1.id, C1_REDIRECT, &[])
        )))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(page.headers.get("access-control-allow-origin").is_none());
    let preflight = browser
        .request(reqwest::Method::OPTIONS, app.url("/oauth2/authorize"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}
both!(br13_the_authorization_endpoint_sends_no_cors_headers);
