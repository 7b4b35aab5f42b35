//! The playground's flow cookie: encrypted and authenticated, so a tampered or foreign cookie reads
//! as no flow at all, for the OAuth2 and the OAuth1 callbacks alike.

use std::sync::Arc;

use crate::both;
use crate::flows::*;
use crate::harness::*;
use crate::selfservice::*;

/// `value` with one character changed near its middle (a letter or digit outside a `%XX` escape,
/// so the cookie still parses and only its contents differ).
fn tampered(value: &str) -> String {
    let bytes = value.as_bytes();
    let at = (bytes.len() / 2..bytes.len())
        .find(|&i| {
            bytes[i].is_ascii_alphanumeric() && !bytes[i.saturating_sub(2)..i].contains(&b'%')
        })
        .expect("a letter or digit to change");
    let mut out = bytes.to_vec();
    out[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(out).unwrap()
}

async fn playground_treats_a_tampered_or_foreign_flow_cookie_as_no_flow(app: TestApp) {
    latchkey::demo::seed(&app.state).await.unwrap();
    let cookies = Arc::new(reqwest::cookie::Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(cookies.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    app.login_as(
        &browser,
        latchkey::demo::DEMO_USERNAME,
        latchkey::demo::DEMO_PASSWORD,
    )
    .await
    .read()
    .await
    .assert_status(303);
    let demo = latchkey::demo::demo_app(&app.state).await.unwrap().unwrap();
    let base: reqwest::Url = app.base.parse().unwrap();
    let set = |value: &str| {
        cookies.add_cookie_str(&format!("latchkey_playground={value}; Path=/"), &base)
    };

    let csrf = csrf_for(&app, &browser, "/playground", "/playground/start").await;
    let started = post(
        &app,
        &browser,
        "/playground/start",
        &[
            ("csrf", &csrf),
            ("client_id", &demo.id.to_string()),
            ("scope", ""),
            ("flow", "code"),
        ],
    )
    .await
    .read()
    .await
    .assert_status(303);
    let sent = started.header("set-cookie");
    let value = sent
        .strip_prefix("latchkey_playground=")
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("{sent}"))
        .to_owned();
    let state = param(&location_params(started.header("location"), false), "state").unwrap();
    let callback = app.url(&format!("/playground/callback?code=lkac_x&state={state}"));

    let foreign = "bm90IGEgZmxvdyBvZiB0aGlzIHNlcnZlcg";
    for (cookie, case) in [
        (tampered(&value), "one character changed"),
        (foreign.to_owned(), "not made by this server"),
        (String::new(), "empty"),
    ] {
        set(&cookie);
        let page = browser
            .get(&callback)
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(400);
        assert!(
            page.body.contains("No playground flow"),
            "{case}: {}",
            page.body
        );
        let oauth1 = browser
            .get(app.url("/playground/oauth1/callback?oauth_token=abc&oauth_verifier=def"))
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(400);
        assert!(
            oauth1.body.contains("No playground flow"),
            "{case}: {}",
            oauth1.body
        );
    }

    // The cookie as the server made it still opens: only the tampering was refused.
    set(&value);
    let result = browser
        .get(&callback)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(result.body.contains("refused the code"), "{}", result.body);
}
both!(playground_treats_a_tampered_or_foreign_flow_cookie_as_no_flow);
