//! The playground's OAuth 1.0a flow over real HTTP, on both databases: start → authorize page →
//! approve → callback → the result page with the request, access and `/wp-json/wp/v2/users/me`
//! exchanges; forged callbacks; a refusal; and the user's own consumer.

use latchkey::admin::{self, AppInput, CONSUMER_SECRET_CONTEXT};
use latchkey::domain::app::AppType;
use latchkey::domain::random::OsRandom;
use latchkey::store::App;

use crate::both;
use crate::flows::*;
use crate::harness::*;
use crate::selfservice::*;

const START: &str = "/playground/oauth1/start";

async fn demo(app: &TestApp) -> (App, i64) {
    let demo = latchkey::demo::demo_app(&app.state).await.unwrap().unwrap();
    let site = admin::find_site(&app.store, "https://demo-blog.example")
        .await
        .unwrap();
    (demo, site.id)
}

/// Starts the flow for `client_id` from the playground page: the 303 to the authorize page.
async fn start(app: &TestApp, browser: &reqwest::Client, client_id: i64) -> Checked {
    let csrf = csrf_for(app, browser, "/playground", START).await;
    post(
        app,
        browser,
        START,
        &[("csrf", &csrf), ("client_id", &client_id.to_string())],
    )
    .await
    .read()
    .await
    .assert_status(303)
}

/// Opens the authorize page the start sent the browser to, and approves (or denies) for `blog_id`:
/// the 303 back to the playground.
async fn decide(
    app: &TestApp,
    browser: &reqwest::Client,
    started: &Checked,
    action: &str,
    blog_id: i64,
) -> String {
    let consent = browser
        .get(app.url(started.header("location")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(consent.body.contains("action=\"/oauth1/authorize\""));
    let mut fields = hidden_inputs(&consent.body);
    fields.retain(|(k, _)| k != "blog_id");
    fields.push(("blog_id".into(), blog_id.to_string()));
    fields.push(("action".into(), action.into()));
    let back = browser
        .post(app.url("/oauth1/authorize"))
        .form(&fields)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(303);
    back.header("location").to_owned()
}

/// The whole flow as `client_id`, up to the result page.
async fn run_flow(
    app: &TestApp,
    browser: &reqwest::Client,
    client_id: i64,
    blog_id: i64,
) -> Checked {
    let started = start(app, browser, client_id).await;
    let callback = decide(app, browser, &started, "approve", blog_id).await;
    browser
        .get(&callback)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200)
}

fn consumer_secret(app: &TestApp, consumer: &App) -> String {
    let sealed = consumer.oauth1_secret_enc.as_deref().unwrap();
    let plain = latchkey::domain::crypto::open(&app.state.key.0, CONSUMER_SECRET_CONTEXT, sealed);
    String::from_utf8(plain.unwrap()).unwrap()
}

async fn own_consumer(
    app: &TestApp,
    owner: &latchkey::store::User,
    name: &str,
    callback: &str,
) -> App {
    let redirects = vec!["https://client.example/cb".to_owned()];
    let input = AppInput {
        name,
        description: "",
        website: "https://client.example",
        icon_url: "",
        app_type: AppType::Web,
        redirect_uris: &redirects,
        js_origins: &[],
        allow_implicit: false,
        oauth1_callback: Some(callback),
    };
    admin::create_app(
        &app.store,
        &OsRandom,
        &app.state.key.0,
        owner,
        &input,
        &app.base,
        app.clock_now(),
    )
    .await
    .unwrap()
    .app
}

async fn playground_runs_the_oauth1_flow_as_the_demo_consumer_and_calls_users_me(app: TestApp) {
    let browser = app.demo_browser().await;
    let (demo, site) = demo(&app).await;
    let page = browser
        .get(app.url("/playground"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(
        page.body.contains(&format!(
            "consumer key {}",
            demo.oauth1_key.as_deref().unwrap()
        )),
        "{}",
        page.body
    );

    let started = start(&app, &browser, demo.id).await;
    let location = started.header("location").to_owned();
    assert!(
        location.starts_with("/oauth1/authorize?oauth_token="),
        "{location}"
    );
    let request_token = location.rsplit('=').next().unwrap().to_owned();
    let cookie = started.header("set-cookie");
    assert!(
        cookie.starts_with("latchkey_playground=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains(&request_token),
        "the flow cookie is sealed"
    );
    assert_eq!(app.count("oauth1_request_tokens").await, 1);

    let callback = decide(&app, &browser, &started, "approve", site).await;
    let expected = format!(
        "{}/playground/oauth1/callback?oauth_token={request_token}&oauth_verifier=",
        app.base
    );
    assert!(callback.starts_with(&expected), "{callback}");
    let result = browser
        .get(&callback)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    let body = unescape(&result.body);

    // Every request and response is shown: request token, access token, users/me.
    assert!(body.contains("<h1>OAuth 1.0a flow</h1>"), "{body}");
    assert!(
        body.contains(&format!(
            "POST {}/oauth1/request\nAuthorization: OAuth oauth_callback=\"",
            app.base
        )),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "POST {}/oauth1/access\nAuthorization: OAuth oauth_consumer_key=\"{}\"",
            app.base,
            demo.oauth1_key.as_deref().unwrap()
        )),
        "{body}"
    );
    assert!(
        body.contains("oauth_verifier=\"") && body.contains("oauth_signature_method=\"HMAC-SHA1\""),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "GET {}/wp-json/wp/v2/users/me\nAuthorization: OAuth ",
            app.base
        )),
        "{body}"
    );
    assert_eq!(result.body.matches("status-ok").count(), 3, "{body}");
    assert!(body.contains("oauth_callback_confirmed=true"), "{body}");
    // users/me answered with the demo user.
    let user = app.store.user_by_login("demo").await.unwrap().unwrap();
    assert!(
        body.contains(&format!("\"id\": {}", user.id)) && body.contains("\"slug\": \"demo\""),
        "{body}"
    );

    // No secret reaches the page: both token secrets are masked, the consumer secret never travels.
    assert_eq!(
        body.matches("oauth_token_secret=********").count(),
        2,
        "{body}"
    );
    assert_eq!(body.matches("oauth_token_secret=").count(), 2, "{body}");
    assert!(!body.contains(&consumer_secret(&app, &demo)));
    // The request token is spent; the access token works and is the one the page shows.
    assert_eq!(app.count("oauth1_request_tokens").await, 0);
    assert_eq!(app.count("oauth1_access_tokens").await, 1);
    assert!(body.contains("Access token (its secret stays on the server)"));

    // The flow cookie is spent: the same callback again is refused, and issues nothing.
    let again = browser
        .get(&callback)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    assert!(again.body.contains("No playground flow"), "{}", again.body);
    assert_eq!(app.count("oauth1_access_tokens").await, 1);
}
both!(playground_runs_the_oauth1_flow_as_the_demo_consumer_and_calls_users_me);

async fn playground_oauth1_callback_refuses_forged_answers_with_a_clear_page_and_no_side_effect(
    app: TestApp,
) {
    let browser = app.demo_browser().await;
    let (demo, site) = demo(&app).await;
    let path = "/playground/oauth1/callback";

    // No flow in this browser at all (and an OAuth2 flow's cookie is not an OAuth1 one).
    let no_flow = browser
        .get(app.url(&format!("{path}?oauth_token=abc&oauth_verifier=def")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    assert!(
        no_flow.body.contains("No playground flow"),
        "{}",
        no_flow.body
    );
    let csrf = csrf_for(&app, &browser, "/playground", "/playground/start").await;
    post(
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
    browser
        .get(app.url(&format!("{path}?oauth_token=abc&oauth_verifier=def")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);

    // A real flow, approved; then forged answers before the real one.
    let started = start(&app, &browser, demo.id).await;
    let callback = decide(&app, &browser, &started, "approve", site).await;
    let params = location_params(&callback, false);
    let token = param(&params, "oauth_token").unwrap();
    let verifier = param(&params, "oauth_verifier").unwrap();
    let cases = [
        (
            format!("{path}?oauth_token=forged&oauth_verifier={verifier}"),
            "not the request token",
            "an unknown oauth_token",
        ),
        (
            format!("{path}?oauth_verifier={verifier}"),
            "not the request token",
            "no oauth_token",
        ),
        (
            format!("{path}?oauth_token={token}"),
            "no oauth_verifier",
            "no verifier",
        ),
        (
            format!("{path}?oauth_token={token}&oauth_verifier="),
            "no oauth_verifier",
            "an empty verifier",
        ),
    ];
    for (forged, message, case) in &cases {
        let page = browser
            .get(app.url(forged))
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(400);
        assert!(page.body.contains(message), "{case}: {}", page.body);
        assert!(
            !page.body.contains("/oauth1/access"),
            "{case}: nothing was exchanged"
        );
    }
    // Another user's browser has no flow either.
    let alice = {
        world(&app).await;
        app.alice_browser().await
    };
    alice
        .get(&callback)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    assert_eq!(
        app.count("oauth1_access_tokens").await,
        0,
        "no access token was issued"
    );
    assert_eq!(
        app.count("oauth1_request_tokens").await,
        1,
        "the request token is not spent"
    );

    // The flow in progress survived them all.
    let result = browser
        .get(&callback)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert_eq!(
        result.body.matches("status-ok").count(),
        3,
        "{}",
        result.body
    );
}
both!(playground_oauth1_callback_refuses_forged_answers_with_a_clear_page_and_no_side_effect);

async fn playground_oauth1_shows_the_refusal_when_the_user_denies(app: TestApp) {
    let browser = app.demo_browser().await;
    let (demo, site) = demo(&app).await;
    let started = start(&app, &browser, demo.id).await;
    let callback = decide(&app, &browser, &started, "deny", site).await;
    assert!(
        callback.contains("oauth_problem=user_refused"),
        "{callback}"
    );
    let result = browser
        .get(&callback)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    let body = unescape(&result.body);
    assert!(
        body.contains("OAuth 1.0a flow: refused")
            && body.contains("oauth_problem=\"user_refused\""),
        "{body}"
    );
    assert!(
        !body.contains("/oauth1/access"),
        "no exchange after a refusal"
    );
    assert_eq!(app.count("oauth1_request_tokens").await, 0);
    assert_eq!(app.count("oauth1_access_tokens").await, 0);
}
both!(playground_oauth1_shows_the_refusal_when_the_user_denies);

async fn playground_oauth1_offers_your_own_consumer_only_when_its_callback_comes_back(
    app: TestApp,
) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let ours = own_consumer(
        &app,
        &w.alice,
        "Comes back",
        &format!("{}/playground/oauth1/callback", app.base),
    )
    .await;
    let oob = own_consumer(&app, &w.alice, "Out of band", "oob").await;
    let elsewhere = own_consumer(
        &app,
        &w.alice,
        "Elsewhere",
        "https://client.example/oauth1/cb",
    )
    .await;
    let bobs = own_consumer(
        &app,
        &w.bob,
        "Bob's",
        &format!("{}/playground/oauth1/callback", app.base),
    )
    .await;
    let page = browser
        .get(app.url("/playground"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    let form = &page.body[page.body.find(&format!("action=\"{START}\"")).unwrap()..];
    let form = &form[..form.find("</form>").unwrap()];
    assert!(
        form.contains(&format!("<option value=\"{}\"", ours.id)),
        "{form}"
    );
    for other in [&oob, &elsewhere, &bobs] {
        assert!(
            !form.contains(&format!("<option value=\"{}\"", other.id)),
            "{}: {form}",
            other.name
        );
        let csrf = form_csrf(&page.body, START);
        let refused = post(
            &app,
            &browser,
            START,
            &[("csrf", &csrf), ("client_id", &other.id.to_string())],
        )
        .await
        .read()
        .await
        .assert_status(400);
        assert!(
            by_id(&refused.body, "oauth1-client-error").is_some(),
            "{}",
            refused.body
        );
    }
    // No CSRF token, no flow.
    post(
        &app,
        &browser,
        START,
        &[("client_id", &ours.id.to_string())],
    )
    .await
    .read()
    .await
    .assert_status(403);
    assert_eq!(app.count("oauth1_request_tokens").await, 0);

    let result = run_flow(&app, &browser, ours.id, w.blog1.id).await;
    assert_eq!(
        result.body.matches("status-ok").count(),
        3,
        "{}",
        result.body
    );
    assert!(!result.body.contains(&consumer_secret(&app, &ours)));
    let body = unescape(&result.body);
    assert!(
        body.contains(&format!(
            "oauth_consumer_key=\"{}\"",
            ours.oauth1_key.as_deref().unwrap()
        )),
        "{body}"
    );
}
both!(playground_oauth1_offers_your_own_consumer_only_when_its_callback_comes_back);

async fn playground_explains_how_to_get_an_oauth1_client_when_there_is_none(app: TestApp) {
    world(&app).await;
    let browser = app.alice_browser().await;
    let page = browser
        .get(app.url("/playground"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(!page.body.contains(&format!("action=\"{START}\"")));
    assert!(
        page.body.contains(&format!(
            "the OAuth1 callback <code>{}/playground/oauth1/callback</code>",
            app.base
        )),
        "{}",
        page.body
    );
}
both!(playground_explains_how_to_get_an_oauth1_client_when_there_is_none);
