//! The playground runs the OAuth 2.1 / OpenID Connect code flow (oauth21.md §2, §3, §6) as the demo
//! client: PKCE S256 and `openid`, the code exchanged at `/oauth2-1/token`, the ID token decoded and
//! verified against the JWKS, and a refresh that shows the rotation.

use crate::both;
use crate::flows::*;
use crate::harness::*;
use crate::selfservice::*;

async fn get(browser: &reqwest::Client, url: &str) -> Checked {
    browser.get(url).send().await.unwrap().read().await
}

/// The text of the `<pre id="…">` block (the decoded header or claims).
fn pre(html: &str, id: &str) -> String {
    let marker = format!("<pre id=\"{id}\">");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {id} in {html}"))
        + marker.len();
    let end = html[start..].find("</pre>").unwrap() + start;
    unescape(&html[start..end])
}

async fn playground_runs_the_oauth21_code_flow_verifies_the_id_token_and_shows_the_refresh_rotation(
    app: TestApp,
) {
    // An independent verifier (below) reads the system clock: the server's must agree with it.
    app.clock.set(crate::oidc::real_now());
    let browser = app.demo_browser().await;
    let demo = latchkey::demo::demo_app(&app.state).await.unwrap().unwrap();
    let site = latchkey::admin::find_site(&app.store, "https://demo-blog.example")
        .await
        .unwrap();
    let csrf = csrf_for(&app, &browser, "/playground", "/playground/oauth21/start").await;
    let id = demo.id.to_string();
    let started = post(
        &app,
        &browser,
        "/playground/oauth21/start",
        &[
            ("csrf", &csrf),
            ("client_id", &id),
            ("scope", ""),
            ("profile", "1"),
            ("offline_access", "1"),
        ],
    )
    .await
    .read()
    .await
    .assert_status(303);
    let location = started.header("location").to_owned();
    let sent = location_params(&location, false);
    assert!(location.starts_with("/oauth2-1/authorize?"), "{location}");
    assert_eq!(
        param(&sent, "scope").unwrap(),
        "openid profile offline_access"
    );
    assert_eq!(param(&sent, "code_challenge_method").unwrap(), "S256");
    let nonce = param(&sent, "nonce").expect("a nonce");

    let consent = get(&browser, &app.url(&location)).await.assert_status(200);
    let back = app
        .consent21(&browser, &consent.body, "approve", Some(site.id))
        .await
        .read()
        .await
        .assert_status(303);
    let callback = back.header("location").to_owned();
    assert!(
        callback.starts_with(&format!("{}/playground/callback?code=", app.base)),
        "{callback}"
    );
    let result = get(&browser, &callback).await.assert_status(200);
    let body = &result.body;

    // The exchange at the 2.1 token endpoint, with the verifier and the masked secret.
    assert!(
        body.contains(&format!("POST {}/oauth2-1/token", app.base)),
        "{body}"
    );
    assert!(body.contains("code_verifier=") && body.contains("client_secret=********"));
    let kept = app.state.playground.secret_for(demo.id).unwrap();
    assert!(!body.contains(&kept));
    assert!(body.contains(&format!("GET {}/.well-known/jwks.json", app.base)));
    assert!(body.contains(&format!("GET {}/oauth2-1/userinfo", app.base)));

    // The ID token, decoded and verified against the JWKS.
    let verdict = by_id(body, "id-token-verdict").unwrap();
    assert!(
        verdict.starts_with("Valid: RS256 signature verified with key "),
        "{verdict}"
    );
    assert!(verdict.contains("nonce matches") && verdict.contains("at_hash matches"));
    let header: serde_json::Value = serde_json::from_str(&pre(body, "id-token-header")).unwrap();
    assert_eq!(header["alg"], "RS256");
    let claims: serde_json::Value = serde_json::from_str(&pre(body, "id-token-claims")).unwrap();
    assert_eq!(claims["nonce"], nonce.as_str());
    assert_eq!(claims["aud"], id.as_str());
    assert_eq!(claims["iss"], app.base.as_str());
    // The kid is one the JWKS publishes, and a relying party elsewhere agrees.
    let raw = by_id(body, "id-token").unwrap();
    let jwks = crate::oidc::jwks(&app).await;
    crate::oidc::verify(&jwks, &raw, &app.base, &id);

    let access = by_id(body, "access-token").unwrap();
    app.me(&access).await.read().await.assert_status(200);
    let first_refresh = by_id(body, "refresh-token").expect("offline_access: a refresh token");

    // Refresh: a new pair, and the old refresh token is no longer active.
    let csrf = form_csrf(body, "/playground/oauth21/refresh");
    let refreshed = post(
        &app,
        &browser,
        "/playground/oauth21/refresh",
        &[("csrf", &csrf)],
    )
    .await
    .read()
    .await
    .assert_status(200);
    let body = &refreshed.body;
    assert_eq!(by_id(body, "old-refresh-token").unwrap(), first_refresh);
    let second_refresh = by_id(body, "refresh-token").unwrap();
    assert_ne!(second_refresh, first_refresh);
    assert!(body.contains("The refresh token was rotated"), "{body}");
    assert!(body.contains(&format!("POST {}/oauth2-1/token-info", app.base)));
    let introspected = unescape(body);
    assert!(
        introspected.contains("{\n  \"active\": false\n}"),
        "{introspected}"
    );
    let new_access = by_id(body, "access-token").unwrap();
    assert_ne!(new_access, access);
    app.me(&new_access).await.read().await.assert_status(200);

    // The cookie now holds the new refresh token: a second refresh rotates again.
    let csrf = form_csrf(body, "/playground/oauth21/refresh");
    let again = post(
        &app,
        &browser,
        "/playground/oauth21/refresh",
        &[("csrf", &csrf)],
    )
    .await
    .read()
    .await
    .assert_status(200);
    assert_eq!(
        by_id(&again.body, "old-refresh-token").unwrap(),
        second_refresh
    );

    // The callback cannot be replayed, and another browser has nothing to refresh.
    let replay = get(&browser, &callback).await;
    assert_eq!(replay.status, 400, "{}", replay.body);
    let other = app.demo_browser().await;
    let csrf = csrf_for(&app, &other, "/playground", "/playground/oauth21/start").await;
    let nothing = post(
        &app,
        &other,
        "/playground/oauth21/refresh",
        &[("csrf", &csrf)],
    )
    .await
    .read()
    .await;
    assert_eq!(nothing.status, 400);
    assert!(
        nothing.body.contains("No playground flow"),
        "{}",
        nothing.body
    );
}
both!(playground_runs_the_oauth21_code_flow_verifies_the_id_token_and_shows_the_refresh_rotation);

async fn playground_refuses_an_oauth21_callback_from_another_issuer(app: TestApp) {
    let browser = app.demo_browser().await;
    let demo = latchkey::demo::demo_app(&app.state).await.unwrap().unwrap();
    let csrf = csrf_for(&app, &browser, "/playground", "/playground/oauth21/start").await;
    let started = post(
        &app,
        &browser,
        "/playground/oauth21/start",
        &[
            ("csrf", &csrf),
            ("client_id", &demo.id.to_string()),
            ("scope", "auth"),
        ],
    )
    .await
    .read()
    .await
    .assert_status(303);
    let state = param(&location_params(started.header("location"), false), "state").unwrap();
    let forged = app.url(&format!(
        "/playground/callback?code=lkac_x&state={state}&iss=https%3A%2F%2Fevil.example"
    ));
    let page = get(&browser, &forged).await.assert_status(200);
    assert!(page.body.contains("not this server"), "{}", page.body);
    assert!(
        !page
            .body
            .contains(&format!("POST {}/oauth2-1/token", app.base)),
        "no code exchange was tried"
    );
}
both!(playground_refuses_an_oauth21_callback_from_another_issuer);
