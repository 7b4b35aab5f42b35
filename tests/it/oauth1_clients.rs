//! OAuth 1.0a as its clients really speak it (issues 11 and 13, `spec/oauth1.md` §3–§4): protocol
//! parameters in exactly one place (security O113) with WP-API's one tolerated verifier copy, no
//! control character in any protocol parameter (checked before storage, so one app's bad nonce
//! never fails another app's call), a callback given at authorize instead of at request time, and
//! the real JavaScript clients, node-oauth and `wordpress-rest-api-oauth-1`, run unmodified from
//! npm.

use latchkey::oauth1::signature::{self, SignatureMethod};

use crate::both;
use crate::harness::*;
use crate::oauth1::*;

/// Signs `oauth` (all in the header) over `signed_form` but sends `sent_form`: how a client that
/// puts a copy of a protocol parameter in the body, signed once, builds its request.
async fn send_signed_over(
    app: &TestApp,
    creds: &Creds,
    path: &str,
    signed_form: Option<&str>,
    sent_form: Option<&str>,
    oauth: &[(String, String)],
) -> reqwest::Response {
    let (auth, _) = sign(app, creds, "POST", path, signed_form, oauth);
    send(app, "POST", path, sent_form, &auth).await
}

/// The protocol parameters of a fresh signed request, without `name` (it travels elsewhere).
fn oauth_without(
    app: &TestApp,
    creds: &Creds,
    extra: &[(&str, &str)],
    name: &str,
) -> Vec<(String, String)> {
    let mut params = oauth(app, creds, extra);
    params.retain(|(n, _)| n != name);
    params
}

/// A request token approved by alice: `(token credentials with the request token, verifier)`.
async fn approved(app: &TestApp, fx: &Fx) -> (Creds, String) {
    let rt = request_token(app, &fx.creds, CALLBACK).await;
    let verifier = approve(app, fx, &rt.0).await;
    (fx.creds.with_token(&rt), verifier)
}

async fn o113_protocol_parameters_split_over_two_places_are_400_at_request_and_store_nothing(
    app: TestApp,
) {
    let fx = setup(&app).await;
    let cb = ("oauth_callback", CALLBACK);
    // oauth_nonce in the query or the form body, the others in the header: correctly signed.
    let params = oauth_without(&app, &fx.creds, &[cb], "oauth_nonce");
    let path = format!("/oauth1/request?oauth_nonce={}", nonce());
    let (auth, _) = sign(&app, &fx.creds, "POST", &path, None, &params);
    let res = send(&app, "POST", &path, None, &auth)
        .await
        .read()
        .await
        .assert_status(400);
    assert_problem(&res, "parameter_rejected");
    assert!(res.body.contains("oauth_nonce"), "{}", res.body);
    let body = format!("oauth_nonce={}", nonce());
    let res = send_signed_over(
        &app,
        &fx.creds,
        "/oauth1/request",
        Some(&body),
        Some(&body),
        &params,
    )
    .await;
    assert_problem(&res.read().await.assert_status(400), "parameter_rejected");
    // Everything in the form body (one place) is fine.
    let all = oauth(&app, &fx.creds, &[cb]);
    let (_, base) = sign(&app, &fx.creds, "POST", "/oauth1/request", None, &all);
    let sig = signature::sign(SignatureMethod::HmacSha1, &base, &fx.creds.secret, "");
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.extend_pairs(&all).append_pair("oauth_signature", &sig);
    let res = app
        .http
        .post(app.url("/oauth1/request"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.finish())
        .send()
        .await
        .unwrap();
    res.read().await.assert_status(200);
    assert_eq!(app.count("oauth1_request_tokens").await, 1);
    assert_eq!(app.count("oauth1_nonces").await, 1);
}
both!(o113_protocol_parameters_split_over_two_places_are_400_at_request_and_store_nothing);

async fn o113_at_access_only_an_identical_form_copy_of_the_header_verifier_is_tolerated(
    app: TestApp,
) {
    let fx = setup(&app).await;
    let (creds, verifier) = approved(&app, &fx).await;
    let copy = format!("oauth_verifier={verifier}");
    let nonces = app.count("oauth1_nonces").await;
    // The verifier only in the body, the others in the header: split, 400.
    let params = oauth_without(&app, &creds, &[], "oauth_verifier");
    let res = send_signed_over(
        &app,
        &creds,
        "/oauth1/access",
        Some(&copy),
        Some(&copy),
        &params,
    )
    .await;
    assert_problem(&res.read().await.assert_status(400), "parameter_rejected");
    // A copy in the query, or a differing one in the body: 400.
    let params = oauth(&app, &creds, &[("oauth_verifier", &verifier)]);
    let path = format!("/oauth1/access?{copy}");
    let (auth, _) = sign(&app, &creds, "POST", &path, None, &params);
    let res = send(&app, "POST", &path, None, &auth).await;
    assert_problem(&res.read().await.assert_status(400), "parameter_rejected");
    let params = oauth(&app, &creds, &[("oauth_verifier", &verifier)]);
    let other = "oauth_verifier=AAAAAAAAAAAAAAAAAAAAAAAA";
    let res = send_signed_over(&app, &creds, "/oauth1/access", None, Some(other), &params).await;
    assert_problem(&res.read().await.assert_status(400), "parameter_rejected");
    assert_eq!(app.count("oauth1_nonces").await, nonces);
    assert_eq!(app.count("oauth1_access_tokens").await, 0);
    // The identical copy, signed once as WP-API's client signs it: the exchange succeeds.
    let params = oauth(&app, &creds, &[("oauth_verifier", &verifier)]);
    let res = send_signed_over(&app, &creds, "/oauth1/access", None, Some(&copy), &params).await;
    let res = res.read().await.assert_status(200);
    assert_eq!(
        form_field(&res.body, "oauth_token").map(|t| t.len()),
        Some(24)
    );
    assert_eq!(app.count("oauth1_access_tokens").await, 1);
}
both!(o113_at_access_only_an_identical_form_copy_of_the_header_verifier_is_tolerated);

async fn o113_the_verifier_copy_is_refused_at_request_and_on_signed_rest_calls(app: TestApp) {
    let fx = setup(&app).await;
    let copy = "oauth_verifier=v";
    let params = oauth(
        &app,
        &fx.creds,
        &[("oauth_callback", CALLBACK), ("oauth_verifier", "v")],
    );
    let res = send_signed_over(
        &app,
        &fx.creds,
        "/oauth1/request",
        None,
        Some(copy),
        &params,
    )
    .await;
    assert_problem(&res.read().await.assert_status(400), "parameter_rejected");
    let access = connect(&app, &fx).await;
    let params = oauth(&app, &access, &[("oauth_verifier", "v")]);
    let res = send_signed_over(
        &app,
        &access,
        "/wp-json/wp/v2/posts",
        None,
        Some(copy),
        &params,
    )
    .await;
    assert_wp_error(
        &res.read().await.assert_status(401),
        "json_oauth1_missing_parameter",
    );
    // A REST call with its nonce in the query and the rest in the header: refused too.
    let params = oauth_without(&app, &access, &[], "oauth_nonce");
    let path = format!("/wp-json/wp/v2/users/me?oauth_nonce={}", nonce());
    let (auth, _) = sign(&app, &access, "GET", &path, None, &params);
    let res = send(&app, "GET", &path, None, &auth)
        .await
        .read()
        .await
        .assert_status(401);
    assert_wp_error(&res, "json_oauth1_missing_parameter");
    assert!(
        res.json()["message"]
            .as_str()
            .unwrap()
            .contains("one place"),
        "{}",
        res.body
    );
}
both!(o113_the_verifier_copy_is_refused_at_request_and_on_signed_rest_calls);

async fn nul_and_control_characters_in_oauth_parameters_are_400_before_any_storage(app: TestApp) {
    let fx = setup(&app).await;
    let cb = ("oauth_callback", CALLBACK);
    let key_with_nul = format!("{}\0", fx.creds.key);
    let bad: [(&str, &str); 8] = [
        ("oauth_consumer_key", "\0"),
        ("oauth_consumer_key", &key_with_nul),
        ("oauth_nonce", "abc\0def"),
        ("oauth_nonce", "abc\u{1}def"),
        ("oauth_nonce", "abc\ndef"),
        ("oauth_token", "\0"),
        ("oauth_callback", "https://client.example/oauth1/cb?\0"),
        ("oauth_extension", "x\u{7f}"),
    ];
    let mut problems = Vec::new();
    for (name, value) in bad {
        let res = signed(
            &app,
            &fx.creds,
            "POST",
            "/oauth1/request",
            None,
            &[cb, (name, value)],
        )
        .await;
        let res = res.read().await.assert_status(400);
        assert_problem(&res, "parameter_rejected");
        problems.push(res.body);
    }
    // The same answer whatever the database, and it names the parameter without echoing the byte.
    assert!(
        problems[2].contains("oauth_nonce") && !problems[2].contains('\0'),
        "{}",
        problems[2]
    );
    let access = connect(&app, &fx).await;
    let before = app.count("oauth1_nonces").await;
    let res = signed(
        &app,
        &access,
        "POST",
        "/oauth1/access",
        None,
        &[("oauth_nonce", "n\0n"), ("oauth_verifier", "v")],
    )
    .await;
    assert_problem(&res.read().await.assert_status(400), "parameter_rejected");
    let res = signed(
        &app,
        &access,
        "GET",
        "/wp-json/wp/v2/users/me",
        None,
        &[("oauth_nonce", "n\0n")],
    )
    .await;
    assert_wp_error(
        &res.read().await.assert_status(401),
        "json_oauth1_missing_parameter",
    );
    assert_eq!(app.count("oauth1_nonces").await, before);
    assert_eq!(app.count("oauth1_request_tokens").await, 0);
}
both!(nul_and_control_characters_in_oauth_parameters_are_400_before_any_storage);

async fn one_apps_nul_nonces_never_fail_another_apps_calls(app: TestApp) {
    // App A sends correctly signed calls with a NUL in the nonce; app B's calls, interleaved with
    // them, must all succeed (issue 11: the bad nonce used to fail the shared nonce batch).
    let fx = setup(&app).await;
    let b = connect(&app, &fx).await;
    let (_, a) = consumer(&app, &fx.user, "Hostile", CALLBACK).await;
    let mut tasks = Vec::new();
    for i in 0..120 {
        let (app_base, http) = (app.base.clone(), app.http.clone());
        let request = if i % 2 == 0 {
            let bad_nonce = format!("{}\0{i}", nonce());
            let params = oauth(
                &app,
                &a,
                &[("oauth_callback", CALLBACK), ("oauth_nonce", &bad_nonce)],
            );
            let (auth, _) = sign(&app, &a, "POST", "/oauth1/request", None, &params);
            http.post(format!("{app_base}/oauth1/request"))
                .header("authorization", auth)
        } else {
            let params = oauth(&app, &b, &[]);
            let (auth, _) = sign(&app, &b, "GET", "/wp-json/wp/v2/users/me", None, &params);
            http.get(format!("{app_base}/wp-json/wp/v2/users/me"))
                .header("authorization", auth)
        };
        tasks.push(tokio::spawn(async move {
            (i, request.send().await.unwrap().status().as_u16())
        }));
    }
    let (mut good_failures, mut bad_statuses) = (Vec::new(), Vec::new());
    for task in tasks {
        let (i, status) = task.await.unwrap();
        if i % 2 == 0 {
            bad_statuses.push(status);
        } else if status != 200 {
            good_failures.push((i, status));
        }
    }
    assert_eq!(good_failures, vec![], "app B's calls failed");
    assert!(bad_statuses.iter().all(|&s| s == 400), "{bad_statuses:?}");
    assert_eq!(app.count("oauth1_request_tokens").await, 0);
}
both!(one_apps_nul_nonces_never_fail_another_apps_calls);

async fn a_callback_given_at_authorize_instead_of_at_request_must_match_the_registration(
    app: TestApp,
) {
    let fx = setup(&app).await;
    // No oauth_callback at request time: given later.
    let res = signed(&app, &fx.creds, "POST", "/oauth1/request", None, &[])
        .await
        .read()
        .await
        .assert_status(200);
    assert_eq!(
        form_field(&res.body, "oauth_callback_confirmed").as_deref(),
        Some("true")
    );
    let token = form_field(&res.body, "oauth_token").unwrap();
    let rt = (
        token.clone(),
        form_field(&res.body, "oauth_token_secret").unwrap(),
    );
    let browser = new_browser();
    login(&app, &browser, "alice").await;
    for evil in [
        "https://evil.example/oauth1/cb",
        "oob",
        "https://client.example/oauth1/cb/x",
    ] {
        let url = format!(
            "/oauth1/authorize?oauth_token={token}&oauth_callback={}",
            signature::encode(evil)
        );
        let page = browser
            .get(app.url(&url))
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(400);
        assert!(
            page.body.contains("callback_rejected"),
            "{evil}: {}",
            page.body
        );
    }
    // The registered callback (its query may differ), given at authorize: approved and exchanged.
    let given = "https://client.example/oauth1/cb?from=js";
    let res = decide(&app, &browser, &token, given, fx.site.id, "approve")
        .await
        .read()
        .await
        .assert_status(303);
    let location = res.header("location");
    assert!(
        location.starts_with("https://client.example/oauth1/cb?from=js&oauth_token="),
        "{location}"
    );
    let verifier = query_field(location, "oauth_verifier").unwrap();
    exchange(&app, &fx.creds.with_token(&rt), &verifier)
        .await
        .read()
        .await
        .assert_status(200);
}
both!(a_callback_given_at_authorize_instead_of_at_request_must_match_the_registration);

/// Runs `tests/interop/<script>` (a real npm client) against this server with alice and the
/// fixture's consumer; `None` (with a note) when Node or the npm packages are missing, as the
/// Python interoperability test does (`.ci/run` installs both: `npm ci --prefix tests/interop`).
async fn run_node_client(app: &TestApp, fx: &Fx, script: &str) -> Option<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");
    let node = std::process::Command::new("node").arg("--version").output();
    let installed = std::path::Path::new(dir)
        .join("node_modules/wordpress-rest-api-oauth-1")
        .is_dir()
        && std::path::Path::new(dir)
            .join("node_modules/oauth")
            .is_dir();
    if !node.is_ok_and(|o| o.status.success()) || !installed {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "note: node or the npm clients are missing: the {script} interoperability test was skipped \
             (npm ci --prefix tests/interop)"
        );
        return None;
    }
    let (base, key, secret) = (
        app.base.clone(),
        fx.creds.key.clone(),
        fx.creds.secret.clone(),
    );
    let path = format!("{dir}/{script}");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(&path)
            .current_dir(dir)
            .env("LATCHKEY_URL", base)
            .env("CONSUMER_KEY", key)
            .env("CONSUMER_SECRET", secret)
            .env("CALLBACK", CALLBACK)
            .env("USERNAME", "alice")
            .env("PASSWORD", PASSWORD)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    Some(stdout)
}

/// The clients stamp their requests with the real time.
fn real_time(app: &TestApp) {
    #[expect(
        clippy::disallowed_methods,
        reason = "an external client uses the real clock"
    )]
    let now = std::time::SystemTime::now();
    app.clock
        .set(now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64);
}

async fn node_oauth_client_sending_version_1_0a_completes_the_flow_and_signed_calls(app: TestApp) {
    real_time(&app);
    let fx = setup(&app).await;
    let Some(stdout) = run_node_client(&app, &fx, "node_oauth.js").await else {
        return;
    };
    assert!(stdout.contains("interop ok"), "{stdout}");
    assert_eq!(app.count("oauth1_access_tokens").await, 1);
    assert_eq!(app.count("posts").await, 1);
}
both!(node_oauth_client_sending_version_1_0a_completes_the_flow_and_signed_calls);

async fn wp_api_javascript_client_gives_its_callback_at_authorize_and_completes_the_flow(
    app: TestApp,
) {
    real_time(&app);
    let fx = setup(&app).await;
    let Some(stdout) = run_node_client(&app, &fx, "wp_api_client.js").await else {
        return;
    };
    assert!(stdout.contains("interop ok"), "{stdout}");
    assert_eq!(app.count("oauth1_access_tokens").await, 1);
    assert_eq!(app.count("posts").await, 1);
}
both!(wp_api_javascript_client_gives_its_callback_at_authorize_and_completes_the_flow);
