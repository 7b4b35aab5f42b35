//! Input at the edge (issue 11; catalogue BR04, IN01): a NUL, another control character or bytes
//! that are not UTF-8, in any identifier, name or protocol parameter, get the endpoint's own 400 —
//! the same on SQLite and PostgreSQL (whose `text` refuses NUL) — and change nothing.

use crate::both;
use crate::flows::*;
use crate::harness::*;
use crate::selfservice::csrf_for;

/// Percent-encoded values that break the rule, each with what it is.
const BAD: &[(&str, &str)] = &[
    ("%00", "a NUL"),
    ("a%00x", "a NUL inside a value"),
    ("%01", "SOH, a C0 control"),
    ("%1B%5B31m", "an ANSI escape"),
    ("%0A", "a line feed in a one-line value"),
    ("%09", "a tab in a one-line value"),
    ("%7F", "DEL"),
    ("%C2%85", "NEL, a C1 control"),
    ("%FF", "a byte that is never UTF-8"),
    ("%C3%28", "a broken two-byte sequence"),
    ("%C0%AF", "an overlong encoding of '/'"),
];

/// What the client is told for the value `bad`.
fn problem(bad: &str) -> &'static str {
    if bad.contains("%FF") || bad.contains("%C3%28") || bad.contains("%C0%AF") {
        "is not valid UTF-8"
    } else {
        "contains a control character"
    }
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// POSTs a raw `application/x-www-form-urlencoded` body (already percent-encoded).
async fn post_raw(
    app: &TestApp,
    browser: &reqwest::Client,
    path: &str,
    body: String,
) -> reqwest::Response {
    browser
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// The OAuth2 JSON error: 400 `invalid_request`, the description naming the parameter, no-store.
#[track_caller]
fn assert_oauth_invalid_request(r: &Checked, name: &str, bad: &str, what: &str) {
    let body = r.json();
    assert_eq!(body["error"], "invalid_request", "{what}: {body}");
    let description = body["error_description"].as_str().unwrap();
    assert_eq!(
        description,
        format!("The \"{name}\" parameter {}.", problem(bad)),
        "{what}"
    );
    assert_eq!(r.header("cache-control"), "no-store", "{what}");
}

/// The `state` a redirect carries back, and its error.
fn bounced(location: &str) -> (Option<String>, Option<String>) {
    let params = location_params(location, location.contains('#'));
    (param(&params, "error"), param(&params, "state"))
}

async fn the_password_grant_refuses_control_characters_and_broken_utf8_in_every_parameter(
    app: TestApp,
) {
    let w = world(&app).await;
    let id = w.c1.id.to_string();
    for (bad, what) in BAD {
        for name in [
            "username",
            "password",
            "scope",
            "grant_type",
            "client_id",
            "client_secret",
        ] {
            let mut fields = vec![
                ("grant_type", "password".to_owned()),
                ("client_id", id.clone()),
                ("client_secret", enc(&w.s1)),
                ("username", "alice".to_owned()),
                ("password", enc(ALICE_PASSWORD)),
            ];
            match fields.iter_mut().find(|(n, _)| *n == name) {
                Some(field) => field.1.push_str(bad),
                None => fields.push((name, format!("posts{bad}"))),
            }
            let body = fields
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("&");
            let r = post_raw(&app, &app.http, "/oauth2/token", body)
                .await
                .read()
                .await
                .assert_status(400);
            assert_oauth_invalid_request(&r, name, bad, &format!("{name} with {what}"));
        }
    }
    // The same rule for a multipart body: a NUL and a field that is not UTF-8.
    for value in [b"alice\0x".to_vec(), b"alice\xffx".to_vec()] {
        let form = reqwest::multipart::Form::new()
            .text("grant_type", "password")
            .text("client_id", id.clone())
            .text("client_secret", w.s1.clone())
            .part("username", reqwest::multipart::Part::bytes(value))
            .text("password", ALICE_PASSWORD);
        let r = app
            .http
            .post(app.url("/oauth2/token"))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let r = r.read().await.assert_status(400);
        assert_eq!(r.json()["error"], "invalid_request");
        assert!(
            r.json()["error_description"]
                .as_str()
                .unwrap()
                .contains("\"username\"")
        );
    }
    assert_eq!(app.count("access_tokens").await, 0);
    assert_eq!(app.count("grants").await, 0);
    // The good request still works: nothing was throttled or locked by the bad ones.
    let good = app
        .password_grant(&id, &w.s1, "alice", ALICE_PASSWORD, &[])
        .await;
    good.read().await.assert_status(200);
}
both!(the_password_grant_refuses_control_characters_and_broken_utf8_in_every_parameter);

async fn token_info_refuses_control_characters_and_broken_utf8(app: TestApp) {
    let w = world(&app).await;
    let issued = app.issue_token(w.alice.id, w.c1.id, None).await;
    for (bad, what) in BAD {
        for (name, query) in [
            (
                "client_id",
                format!("client_id={}{bad}&token={}", w.c1.id, issued.token),
            ),
            (
                "token",
                format!("client_id={}&token={}{bad}", w.c1.id, issued.token),
            ),
            (
                "extra",
                format!("client_id={}&token={}&extra=x{bad}", w.c1.id, issued.token),
            ),
        ] {
            let r = app
                .get(&format!("/oauth2/token-info?{query}"))
                .await
                .read()
                .await
                .assert_status(400);
            assert_oauth_invalid_request(&r, name, bad, &format!("{name} with {what}"));
        }
    }
    app.token_info(w.c1.id, &issued.token)
        .await
        .read()
        .await
        .assert_status(200);
}
both!(token_info_refuses_control_characters_and_broken_utf8);

async fn authorize_pages_a_broken_client_id_or_redirect_uri_and_redirects_any_other(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let redirect = enc(C1_REDIRECT);
    for (bad, what) in BAD {
        // Before client_id and redirect_uri are valid: the error page, never a redirect.
        for query in [
            format!(
                "client_id={}{bad}&response_type=code&redirect_uri={redirect}&state=xyz",
                w.c1.id
            ),
            format!(
                "client_id={}&response_type=code&redirect_uri={redirect}{bad}&state=xyz",
                w.c1.id
            ),
        ] {
            let page = app
                .authorize(&browser, &query)
                .await
                .read()
                .await
                .assert_status(400);
            assert!(page.headers.get("location").is_none(), "{what}: {query}");
            assert!(
                page.body.contains("Error Code: invalid_request"),
                "{what}: {}",
                page.body
            );
            assert!(page.body.contains(problem(bad)), "{what}: {}", page.body);
        }
        // After: invalid_request at the redirect URI, with the state when it is intact.
        for name in [
            "scope",
            "response_type",
            "blog",
            "code_challenge",
            "unknown_extra",
        ] {
            let query = format!("{}&{name}=x{bad}", authz_query(w.c1.id, C1_REDIRECT, &[]));
            let r = app
                .authorize(&browser, &query)
                .await
                .read()
                .await
                .assert_status(303);
            let location = r.header("location");
            assert!(
                location.starts_with("https://client.example/cb?"),
                "{location}"
            );
            assert_eq!(
                bounced(location),
                (Some("invalid_request".into()), Some("xyz".into())),
                "{name} with {what}"
            );
            let description =
                param(&location_params(location, false), "error_description").unwrap();
            assert_eq!(
                description,
                format!("The \"{name}\" parameter {}.", problem(bad))
            );
        }
        // The consent form's POST follows the same rule.
        let page = app
            .authorize(&browser, &authz_query(w.c1.id, C1_REDIRECT, &[]))
            .await
            .read()
            .await
            .assert_status(200);
        let mut fields: Vec<(String, String)> = hidden_inputs(&page.body)
            .into_iter()
            .map(|(k, v)| (k, enc(&v)))
            .collect();
        fields.push(("blog_id".into(), format!("{}{bad}", w.blog1.id)));
        fields.push(("action".into(), "approve".into()));
        let body = fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let r = post_raw(&app, &browser, "/oauth2/authorize", body)
            .await
            .read()
            .await
            .assert_status(303);
        assert_eq!(
            bounced(r.header("location")).0.as_deref(),
            Some("invalid_request"),
            "blog_id with {what}"
        );
    }
    assert_eq!(app.count("auth_codes").await, 0);
    assert_eq!(app.count("grants").await, 0);
    assert_eq!(app.count("access_tokens").await, 0);
}
both!(authorize_pages_a_broken_client_id_or_redirect_uri_and_redirects_any_other);

async fn br04_a_state_that_is_not_utf8_is_refused_and_never_replaced(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let redirect = enc(C1_REDIRECT);
    for bad in ["%FF", "%C3%28", "%C0%AF", "ok%FF", "%00", "a%0Db"] {
        for response_type in ["code", "token"] {
            let query = format!(
                "client_id={}&response_type={response_type}&redirect_uri={redirect}&state={bad}",
                w.c1.id
            );
            let r = app
                .authorize(&browser, &query)
                .await
                .read()
                .await
                .assert_status(303);
            let location = r.header("location");
            assert!(
                !location.contains("%EF%BF%BD"),
                "the state was replaced: {location}"
            );
            let (error, state) = bounced(location);
            assert_eq!(
                error.as_deref(),
                Some("invalid_request"),
                "{bad}: {location}"
            );
            assert_eq!(state, None, "a broken state is not echoed: {location}");
        }
    }
    // A state that is good UTF-8, percent-encoded, comes back byte for byte.
    let query = format!(
        "client_id={}&response_type=code&redirect_uri={redirect}&state=%C3%A9t%C3%A9+%E2%98%95",
        w.c1.id
    );
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
    assert_eq!(
        param(
            &location_params(redirect.header("location"), false),
            "state"
        )
        .as_deref(),
        Some("été ☕")
    );
    assert_eq!(app.count("auth_codes").await, 1);
}
both!(br04_a_state_that_is_not_utf8_is_refused_and_never_replaced);

async fn in01_a_repeated_non_identity_parameter_redirects_with_invalid_request(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    for (name, values) in [
        ("scope", ["posts", "media"]),
        ("scope", ["posts", "posts"]),
        ("state", ["a", "b"]),
        ("blog", ["1", "2"]),
        ("response_type", ["code", "code"]),
    ] {
        let mut query = format!("client_id={}&redirect_uri={}", w.c1.id, enc(C1_REDIRECT));
        if name != "response_type" {
            query.push_str("&response_type=code");
        }
        for v in values {
            query.push_str(&format!("&{name}={v}"));
        }
        let r = app
            .authorize(&browser, &query)
            .await
            .read()
            .await
            .assert_status(303);
        let location = r.header("location");
        assert!(
            location.starts_with("https://client.example/cb?"),
            "{name}: {location}"
        );
        let params = location_params(location, false);
        assert_eq!(
            param(&params, "error").as_deref(),
            Some("invalid_request"),
            "{name}: {location}"
        );
        assert_eq!(
            param(&params, "error_description"),
            Some(format!("The \"{name}\" parameter was sent more than once."))
        );
        assert_eq!(param(&params, "iss"), Some(app.base.clone()));
    }
    // Only a repeated client_id or redirect_uri stays a page.
    for query in [
        format!(
            "client_id={0}&client_id={0}&response_type=code&redirect_uri={1}&scope=posts",
            w.c1.id,
            enc(C1_REDIRECT)
        ),
        format!(
            "client_id={0}&response_type=code&redirect_uri={1}&redirect_uri={1}&scope=posts",
            w.c1.id,
            enc(C1_REDIRECT)
        ),
    ] {
        let page = app
            .authorize(&browser, &query)
            .await
            .read()
            .await
            .assert_status(400);
        assert!(page.headers.get("location").is_none());
        assert!(
            page.body.contains("was sent more than once"),
            "{}",
            page.body
        );
    }
    assert_eq!(app.count("auth_codes").await, 0);
}
both!(in01_a_repeated_non_identity_parameter_redirects_with_invalid_request);

async fn login_refuses_a_broken_username_beside_the_form_and_starts_no_session(app: TestApp) {
    world(&app).await;
    let sessions = app.count("sessions").await;
    for (bad, what) in BAD {
        for name in ["username", "password"] {
            let browser = new_browser();
            let csrf = csrf_for(&app, &browser, "/login", "/login").await;
            let (user, pw) = match name {
                "username" => (format!("alice{bad}"), enc(ALICE_PASSWORD)),
                _ => ("alice".to_owned(), format!("{}{bad}", enc(ALICE_PASSWORD))),
            };
            let body = format!(
                "username={user}&password={pw}&csrf={}&redirect_to=%2F",
                enc(&csrf)
            );
            let r = post_raw(&app, &browser, "/login", body)
                .await
                .read()
                .await
                .assert_status(400);
            assert!(r.header("content-type").starts_with("text/html"));
            assert!(
                r.body.contains(problem(bad)),
                "{name} with {what}: {}",
                r.body
            );
            assert!(
                r.body.contains("name=\"username\""),
                "the form comes back: {what}"
            );
            let cookies: Vec<_> = r
                .headers
                .get_all("set-cookie")
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect();
            assert!(
                !cookies
                    .iter()
                    .any(|c| c.contains("latchkey_session=") && !c.contains("Max-Age=0")),
                "{cookies:?}"
            );
        }
    }
    assert_eq!(app.count("sessions").await, sessions);
    // Nothing was counted against alice: she still logs in at once.
    app.alice_browser().await;
}
both!(login_refuses_a_broken_username_beside_the_form_and_starts_no_session);

async fn a_site_name_with_a_control_character_is_refused_beside_the_field(app: TestApp) {
    world(&app).await;
    let sites = app.count("sites").await;
    let browser = app.alice_browser().await;
    for (bad, what) in BAD {
        let csrf = csrf_for(&app, &browser, "/sites", "/sites").await;
        let body = format!(
            "url={}&name=New{bad}&csrf={}",
            enc("https://new.example"),
            enc(&csrf)
        );
        let r = post_raw(&app, &browser, "/sites", body)
            .await
            .read()
            .await
            .assert_status(400);
        assert!(
            r.body.contains("id=\"name-error\""),
            "the error is beside the name field: {what}: {}",
            r.body
        );
        assert!(r.body.contains(problem(bad)), "{what}");
    }
    assert_eq!(app.count("sites").await, sites);
}
both!(a_site_name_with_a_control_character_is_refused_beside_the_field);

async fn the_cli_refuses_a_site_or_app_name_with_a_control_character(app: TestApp) {
    let alice = app.user("alice", ALICE_PASSWORD).await;
    let sites = app.count("sites").await;
    for name in [
        "New\u{1}",
        "New\u{1b}[31m",
        "New\nline",
        "New\u{7f}",
        "New\u{85}",
    ] {
        let out = cli(
            &app,
            &[
                "site",
                "create",
                "--owner",
                "alice",
                "--url",
                "https://new.example",
                "--name",
                name,
            ],
        );
        assert!(!out.status.success(), "{name:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("contains a control character"),
            "{name:?}: {stderr}"
        );
    }
    let out = cli(
        &app,
        &[
            "site",
            "create",
            "--owner",
            "alice",
            "--url",
            "https://ex\tample.com",
            "--name",
            "New",
        ],
    );
    assert!(
        !out.status.success(),
        "a tab in the URL is not silently dropped"
    );
    assert_eq!(app.count("sites").await, sites);
    let apps = app.count("apps").await;
    let out = cli(
        &app,
        &[
            "app",
            "create",
            "--owner",
            "alice",
            "--name",
            "App\u{1}",
            "--redirect-uri",
            "https://client.example/cb",
        ],
    );
    assert!(!out.status.success());
    assert_eq!(app.count("apps").await, apps);
    let _ = alice;
}
both!(the_cli_refuses_a_site_or_app_name_with_a_control_character);

async fn rest_refuses_control_characters_and_broken_utf8_in_the_path_query_and_post_body(
    app: TestApp,
) {
    let w = world(&app).await;
    let issued = app.issue_token(w.alice.id, w.c1.id, None).await;
    let posts = app.count("posts").await;
    let get = |path: String| {
        let (app, token) = (&app, issued.token.clone());
        async move {
            app.http
                .get(app.url(&path))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    for (bad, what) in BAD {
        for path in [
            format!("/rest/v1.1/sites/alice.example{bad}"),
            format!("/rest/v1.1/sites/{bad}/posts"),
            format!("/rest/v1.1/sites/{}/posts?status=publish{bad}", w.blog1.id),
            format!("/rest/v1.1/me?fields=ID{bad}"),
            format!("/rest/v1.1/me?x{bad}=1"),
        ] {
            let r = get(path.clone()).await.read().await.assert_status(400);
            assert_eq!(r.json()["error"], "invalid_input", "{path} ({what})");
            assert!(
                r.json()["message"].as_str().unwrap().contains(problem(bad)),
                "{path}: {}",
                r.body
            );
        }
        let r = get(format!("/wp-json/wp/v2/posts?status=publish{bad}"))
            .await
            .read()
            .await
            .assert_status(400);
        assert_eq!(r.json()["code"], "rest_invalid_param", "{what}: {}", r.body);
        // A post's title and status are one line; its content is free text.
        let new_post = app.url(&format!("/rest/v1.1/sites/{}/posts/new", w.blog1.id));
        for body in [
            format!("title=T{bad}&content=c"),
            format!("title=T&content=c{bad}&x=1")
                .replace("%0A", "%00")
                .replace("%09", "%01"),
        ] {
            let r = app
                .http
                .post(&new_post)
                .bearer_auth(&issued.token)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let r = r.read().await.assert_status(400);
            assert_eq!(r.json()["error"], "invalid_input", "{body}");
        }
    }
    let new_post = app.url(&format!("/rest/v1.1/sites/{}/posts/new", w.blog1.id));
    for json in [
        r#"{"title":"T\u0000"}"#,
        r#"{"title":"T\u0001"}"#,
        r#"{"title":"T\nU"}"#,
        r#"{"content":"c\u0000"}"#,
        r#"{"status":"draft\u001b"}"#,
    ] {
        let r = app
            .http
            .post(&new_post)
            .bearer_auth(&issued.token)
            .header("content-type", "application/json")
            .body(json)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.read().await.assert_status(400).json()["error"],
            "invalid_input",
            "{json}"
        );
    }
    let form = reqwest::multipart::Form::new()
        .part("title", reqwest::multipart::Part::bytes(b"T\xff".to_vec()));
    let r = app
        .http
        .post(&new_post)
        .bearer_auth(&issued.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.read().await.assert_status(400).json()["error"],
        "invalid_input"
    );
    assert_eq!(app.count("posts").await, posts);
    // Free text keeps its line breaks and tabs.
    let r = app
        .http
        .post(&new_post)
        .bearer_auth(&issued.token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("title=T&content=line%0Aline%09tab%0D%0A")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.read().await.assert_status(200).json()["content"],
        "line\nline\ttab\r\n"
    );
}
both!(rest_refuses_control_characters_and_broken_utf8_in_the_path_query_and_post_body);

/// Runs the `latchkey` binary against the test app's database.
fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .env("LATCHKEY_DATABASE_URL", &app.state.settings.database.url)
        .env("LATCHKEY_SECRET_KEY", "22".repeat(32))
        .env("LATCHKEY_PUBLIC_URL", &app.base)
        .output()
        .unwrap()
}

async fn sign_up_refuses_broken_fields_beside_the_field_and_creates_no_account(app: TestApp) {
    let users = app.count("users").await;
    for (bad, what) in BAD {
        for (name, body) in [
            (
                "username",
                format!("username=carol{bad}&email=carol%40example.com&password=long+enough+pw"),
            ),
            (
                "email",
                format!("username=carol&email=carol%40example.com{bad}&password=long+enough+pw"),
            ),
            (
                "password",
                format!("username=carol&email=carol%40example.com&password=long+enough+pw{bad}"),
            ),
        ] {
            let browser = new_browser();
            let csrf = csrf_for(&app, &browser, "/signup", "/signup").await;
            let r = post_raw(
                &app,
                &browser,
                "/signup",
                format!("{body}&csrf={}", enc(&csrf)),
            )
            .await
            .read()
            .await
            .assert_status(400);
            assert!(
                r.body.contains(&format!("id=\"{name}-error\"")),
                "{name} with {what}: {}",
                r.body
            );
            assert!(r.body.contains(problem(bad)), "{name} with {what}");
        }
    }
    assert_eq!(app.count("users").await, users);
    assert_eq!(app.count("sessions").await, 0);
}
both!(
    sign_up_refuses_broken_fields_beside_the_field_and_creates_no_account,
    signup = true
);

async fn the_oauth1_authorize_page_names_a_malformed_parameter(app: TestApp) {
    for (bad, what) in BAD {
        let url = app.url(&format!("/oauth1/authorize?oauth_token=abc{bad}"));
        let r = app
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(400);
        assert!(r.header("content-type").starts_with("text/html"), "{what}");
        assert!(
            r.body.contains(problem(bad)),
            "oauth_token with {what}: {}",
            r.body
        );
    }
}
both!(the_oauth1_authorize_page_names_a_malformed_parameter);

/// Sends a POST to `path` whose head announces a 100-byte form body, then only 10 bytes of it, and
/// returns the first bytes the server answers (within 10 s).
async fn slow_body(base: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\ntoken=abcd"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 512];
    let wait = std::time::Duration::from_secs(10);
    let read = tokio::time::timeout(wait, stream.read(&mut answer)).await;
    let n = read.expect("the server answered a stalled body").unwrap();
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

/// Slow-loris bodies (catalogue: resource exhaustion) end with a 408 after
/// `limits.request_timeout_secs`, on the lean stack (introspection) and the full one (the token
/// endpoints) alike.
async fn a_body_that_never_arrives_is_answered_408_on_the_lean_and_the_full_stack(app: TestApp) {
    for path in ["/oauth2-1/token-info", "/oauth2-1/token", "/oauth2/token"] {
        let answer = slow_body(&app.base, path).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
    }
}
both!(
    a_body_that_never_arrives_is_answered_408_on_the_lean_and_the_full_stack,
    limits.request_timeout_secs = 1
);
