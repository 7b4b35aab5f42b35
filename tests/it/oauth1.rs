//! OAuth 1.0a over real HTTP (`spec/oauth1.md`, security.md 1.H): discovery, the three-legged flow,
//! signed REST calls, the O1xx rows, the problem-reporting form, and an interoperability run with
//! Python `requests-oauthlib`.

use latchkey::admin::{self, AppInput};
use latchkey::domain::app::AppType;
use latchkey::domain::random::OsRandom;
use latchkey::oauth1::signature::{self, SignatureMethod};
use latchkey::store::{App, Site, User};
use reqwest::Method;

use crate::both;
use crate::harness::*;

pub(crate) const PASSWORD: &str = "correct horse battery";
pub(crate) const CALLBACK: &str = "https://client.example/oauth1/cb";

/// A consumer's credentials, and the token ones once it has some.
#[derive(Clone)]
pub(crate) struct Creds {
    pub(crate) key: String,
    pub(crate) secret: String,
    pub(crate) token: Option<(String, String)>,
}

impl Creds {
    pub(crate) fn with_token(&self, token: &(String, String)) -> Creds {
        Creds {
            token: Some(token.clone()),
            ..self.clone()
        }
    }
}

pub(crate) struct Fx {
    pub(crate) user: User,
    pub(crate) site: Site,
    pub(crate) app: App,
    pub(crate) creds: Creds,
}

pub(crate) async fn consumer(
    app: &TestApp,
    owner: &User,
    name: &str,
    callback: &str,
) -> (App, Creds) {
    let redirects = vec!["https://client.example/cb".to_owned()];
    let input = AppInput {
        name,
        description: "An OAuth1 client",
        website: "https://client.example",
        icon_url: "",
        app_type: AppType::Web,
        redirect_uris: &redirects,
        js_origins: &[],
        allow_implicit: false,
        oauth1_callback: Some(callback),
    };
    let created = commit_with(&app.store, async |tx| {
        admin::create_app(
            tx,
            &OsRandom,
            &app.state.key.0,
            owner,
            &input,
            &app.base,
            app.clock_now(),
        )
        .await
    })
    .await
    .unwrap();
    let creds = Creds {
        key: created.app.oauth1_key.clone().unwrap(),
        secret: created.consumer_secret.unwrap(),
        token: None,
    };
    (created.app, creds)
}

pub(crate) async fn setup(app: &TestApp) -> Fx {
    setup_with(app, CALLBACK).await
}

pub(crate) async fn setup_with(app: &TestApp, callback: &str) -> Fx {
    let user = app.user("alice", PASSWORD).await;
    let site = app.site(&user, "https://alice.example").await;
    let (oapp, creds) = consumer(app, &user, "Printer", callback).await;
    Fx {
        user,
        site,
        app: oapp,
        creds,
    }
}

pub(crate) fn nonce() -> String {
    hex::encode(latchkey::domain::random::bytes::<12>(&OsRandom))
}

/// The protocol parameters a client sends (without the signature), now and with a fresh nonce.
pub(crate) fn oauth(app: &TestApp, creds: &Creds, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut params = vec![
        ("oauth_consumer_key".to_owned(), creds.key.clone()),
        ("oauth_nonce".to_owned(), nonce()),
        ("oauth_signature_method".to_owned(), "HMAC-SHA1".to_owned()),
        ("oauth_timestamp".to_owned(), app.clock_now().to_string()),
        ("oauth_version".to_owned(), "1.0".to_owned()),
    ];
    if let Some((token, _)) = &creds.token {
        params.push(("oauth_token".to_owned(), token.clone()));
    }
    for (name, value) in extra {
        match params.iter_mut().find(|(n, _)| n == name) {
            Some(p) => p.1 = value.to_string(),
            None => params.push((name.to_string(), value.to_string())),
        }
    }
    params
}

/// Signs as an RFC 5849 client would, against the server's public URL: `(header, base string)`.
pub(crate) fn sign(
    app: &TestApp,
    creds: &Creds,
    method: &str,
    path: &str,
    form: Option<&str>,
    oauth: &[(String, String)],
) -> (String, String) {
    let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .chain(form_urlencoded::parse(form.unwrap_or("").as_bytes()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.extend(oauth.iter().cloned());
    let uri = signature::base_string_uri(&app.state.settings.public_url, path_only);
    let base = signature::base_string(method, &uri, &pairs);
    let sig_method = oauth
        .iter()
        .find(|(n, _)| n == "oauth_signature_method")
        .and_then(|(_, m)| m.parse().ok())
        .unwrap_or(SignatureMethod::HmacSha1);
    let token_secret = creds.token.as_ref().map_or("", |(_, s)| s.as_str());
    let sig = signature::sign(sig_method, &base, &creds.secret, token_secret);
    (header(oauth, &sig), base)
}

pub(crate) fn header(oauth: &[(String, String)], sig: &str) -> String {
    let mut fields: Vec<String> = oauth
        .iter()
        .map(|(n, v)| format!("{}=\"{}\"", signature::encode(n), signature::encode(v)))
        .collect();
    fields.push(format!("oauth_signature=\"{}\"", signature::encode(sig)));
    format!("OAuth realm=\"latchkey\", {}", fields.join(", "))
}

pub(crate) async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    form: Option<&str>,
    authorization: &str,
) -> reqwest::Response {
    let mut request = app
        .http
        .request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            app.url(path),
        )
        .header("authorization", authorization);
    if let Some(body) = form {
        request = request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned());
    }
    request.send().await.unwrap()
}

/// A correctly signed request.
pub(crate) async fn signed(
    app: &TestApp,
    creds: &Creds,
    method: &str,
    path: &str,
    form: Option<&str>,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let params = oauth(app, creds, extra);
    let (auth, _) = sign(app, creds, method, path, form, &params);
    send(app, method, path, form, &auth).await
}

pub(crate) fn form_field(body: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub(crate) fn query_field(location: &str, name: &str) -> Option<String> {
    let query = location.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or("");
    form_field(query, name)
}

pub(crate) async fn request_token(
    app: &TestApp,
    creds: &Creds,
    callback: &str,
) -> (String, String) {
    let res = signed(
        app,
        creds,
        "POST",
        "/oauth1/request",
        None,
        &[("oauth_callback", callback)],
    )
    .await
    .read()
    .await
    .assert_status(200);
    assert_eq!(
        res.header("content-type"),
        "application/x-www-form-urlencoded; charset=utf-8"
    );
    assert_eq!(
        form_field(&res.body, "oauth_callback_confirmed").as_deref(),
        Some("true")
    );
    (
        form_field(&res.body, "oauth_token").unwrap(),
        form_field(&res.body, "oauth_token_secret").unwrap(),
    )
}

pub(crate) async fn login(app: &TestApp, browser: &reqwest::Client, username: &str) {
    let page = browser
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    let csrf = hidden(&page.body, "csrf");
    browser
        .post(app.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", username),
            ("password", PASSWORD),
            ("redirect_to", "/"),
        ])
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(303);
}

pub(crate) fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// The consent page's CSRF token for this request token.
pub(crate) async fn consent_csrf(
    app: &TestApp,
    browser: &reqwest::Client,
    token: &str,
    callback: Option<&str>,
) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("oauth_token", token);
    if let Some(cb) = callback {
        query.append_pair("oauth_callback", cb);
    }
    let page = browser
        .get(app.url(&format!("/oauth1/authorize?{}", query.finish())))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    hidden(&page.body, "csrf")
}

pub(crate) async fn decide(
    app: &TestApp,
    browser: &reqwest::Client,
    token: &str,
    callback: &str,
    blog_id: i64,
    action: &str,
) -> reqwest::Response {
    let csrf = consent_csrf(app, browser, token, Some(callback)).await;
    browser
        .post(app.url("/oauth1/authorize"))
        .form(&[
            ("oauth_token", token),
            ("oauth_callback", callback),
            ("csrf", &csrf),
            ("blog_id", &blog_id.to_string()),
            ("action", action),
        ])
        .send()
        .await
        .unwrap()
}

/// Logs alice in with a fresh browser, approves `token` for her blog, returns the verifier.
pub(crate) async fn approve(app: &TestApp, fx: &Fx, token: &str) -> String {
    let browser = new_browser();
    login(app, &browser, &fx.user.username).await;
    let res = decide(app, &browser, token, CALLBACK, fx.site.id, "approve")
        .await
        .read()
        .await
        .assert_status(303);
    query_field(res.header("location"), "oauth_verifier").unwrap()
}

pub(crate) async fn exchange(app: &TestApp, creds: &Creds, verifier: &str) -> reqwest::Response {
    signed(
        app,
        creds,
        "POST",
        "/oauth1/access",
        None,
        &[("oauth_verifier", verifier)],
    )
    .await
}

/// The whole three-legged flow: consumer credentials with an access token.
pub(crate) async fn connect(app: &TestApp, fx: &Fx) -> Creds {
    let rt = request_token(app, &fx.creds, CALLBACK).await;
    let verifier = approve(app, fx, &rt.0).await;
    let res = exchange(app, &fx.creds.with_token(&rt), &verifier)
        .await
        .read()
        .await
        .assert_status(200);
    let at = (
        form_field(&res.body, "oauth_token").unwrap(),
        form_field(&res.body, "oauth_token_secret").unwrap(),
    );
    fx.creds.with_token(&at)
}

#[track_caller]
pub(crate) fn assert_problem(res: &Checked, problem: &str) {
    assert_eq!(
        res.header("content-type"),
        "application/x-www-form-urlencoded; charset=utf-8"
    );
    assert_eq!(res.header("cache-control"), "no-store");
    assert_eq!(
        form_field(&res.body, "oauth_problem").as_deref(),
        Some(problem),
        "{}",
        res.body
    );
    assert!(form_field(&res.body, "oauth_problem_advice").is_some_and(|a| !a.is_empty()));
}

#[track_caller]
pub(crate) fn assert_wp_error(res: &Checked, code: &str) {
    let json = res.json();
    assert_eq!(json["code"], code, "{json}");
    assert_eq!(json["data"]["status"], 401);
    assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
}

async fn three_legged_flow_reaches_wp_users_me_and_rest_me(app: TestApp) {
    let fx = setup(&app).await;
    // Discovery: Link header on the home page, then the index.
    let home = app
        .http
        .head(app.url("/"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    let link = home.header("link").to_owned();
    assert_eq!(
        link,
        format!("<{}/wp-json/>; rel=\"https://api.w.org/\"", app.base)
    );
    let index = app
        .get("/wp-json/")
        .await
        .read()
        .await
        .assert_status(200)
        .json();
    let urls = &index["authentication"]["oauth1"];
    assert_eq!(urls["request"], format!("{}/oauth1/request", app.base));

    let rt = request_token(&app, &fx.creds, CALLBACK).await;
    assert_eq!(rt.0.len(), 24);
    assert_eq!(rt.1.len(), 48);
    assert!(
        rt.0.bytes()
            .chain(rt.1.bytes())
            .all(|b| b.is_ascii_alphanumeric())
    );

    // The browser leg: login detour, then consent, then the callback.
    let browser = new_browser();
    let authorize = format!("/oauth1/authorize?oauth_token={}", rt.0);
    let detour = browser
        .get(app.url(&authorize))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(303);
    let expected: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("redirect_to", &authorize)
        .finish();
    assert_eq!(detour.header("location"), format!("/login?{expected}"));
    login(&app, &browser, "alice").await;
    let page = browser
        .get(app.url(&authorize))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(page.body.contains("action=\"/oauth1/authorize\""));
    assert!(
        page.body
            .contains(&format!("<option value=\"{}\">", fx.site.id)),
        "blog selector"
    );
    let res = decide(&app, &browser, &rt.0, CALLBACK, fx.site.id, "approve")
        .await
        .read()
        .await
        .assert_status(303);
    let location = res.header("location");
    assert!(
        location.starts_with("https://client.example/oauth1/cb?oauth_token="),
        "{location}"
    );
    assert!(location.ends_with("&wp_scope=%2A"), "{location}");
    assert_eq!(query_field(location, "oauth_token").unwrap(), rt.0);
    let verifier = query_field(location, "oauth_verifier").unwrap();
    assert_eq!(verifier.len(), 24);
    assert!(verifier.bytes().all(|b| b.is_ascii_alphanumeric()));

    let res = exchange(&app, &fx.creds.with_token(&rt), &verifier)
        .await
        .read()
        .await
        .assert_status(200);
    let at = (
        form_field(&res.body, "oauth_token").unwrap(),
        form_field(&res.body, "oauth_token_secret").unwrap(),
    );
    assert_eq!((at.0.len(), at.1.len()), (24, 48));
    assert_eq!(app.count("oauth1_request_tokens").await, 0);
    assert_eq!(app.count("oauth1_access_tokens").await, 1);
    let creds = fx.creds.with_token(&at);

    let me = signed(&app, &creds, "GET", "/wp-json/wp/v2/users/me", None, &[])
        .await
        .read()
        .await
        .assert_status(200);
    assert_eq!(me.header("link"), link);
    let me = me.json();
    assert_eq!(me["id"], fx.user.id);
    assert_eq!(me["name"], "alice");
    assert_eq!(me["slug"], "alice");
    assert_eq!(me["link"], "https://alice.example/author/alice/");
    assert_eq!(me["description"], "");
    assert!(
        me["avatar_urls"]["96"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );

    let rest = signed(&app, &creds, "GET", "/rest/v1.1/me", None, &[])
        .await
        .read()
        .await
        .assert_status(200)
        .json();
    assert_eq!(rest["ID"], fx.user.id);
    assert_eq!(rest["token_site_id"], fx.site.id);
    assert_eq!(rest["token_scope"], serde_json::json!([""]));
}
both!(three_legged_flow_reaches_wp_users_me_and_rest_me);

async fn secrets_are_sealed_and_keys_stored_as_digests(app: TestApp) {
    let fx = setup(&app).await;
    let creds = connect(&app, &fx).await;
    let (key, secret) = creds.token.clone().unwrap();
    let row: (Vec<u8>, Vec<u8>) = match app.store.db() {
        latchkey::store::Db::Sqlite(p) => {
            sqlx::query_as("SELECT digest, secret_enc FROM oauth1_access_tokens")
                .fetch_one(p)
                .await
                .unwrap()
        }
        latchkey::store::Db::Postgres(p) => {
            sqlx::query_as("SELECT digest, secret_enc FROM oauth1_access_tokens")
                .fetch_one(p)
                .await
                .unwrap()
        }
    };
    assert_eq!(row.0, latchkey::domain::secret::digest(&key).to_vec());
    assert!(!row.1.windows(secret.len()).any(|w| w == secret.as_bytes()));
}
both!(secrets_are_sealed_and_keys_stored_as_digests);

async fn the_rest_index_is_served_at_wp_json_and_rest_route(app: TestApp) {
    let a = app
        .get("/wp-json/")
        .await
        .read()
        .await
        .assert_status(200)
        .json();
    let b = app
        .get("/?rest_route=/")
        .await
        .read()
        .await
        .assert_status(200)
        .json();
    let c = app
        .get("/wp-json")
        .await
        .read()
        .await
        .assert_status(200)
        .json();
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(
        a["authentication"]["oauth1"],
        serde_json::json!({
            "request": format!("{}/oauth1/request", app.base),
            "authorize": format!("{}/oauth1/authorize", app.base),
            "access": format!("{}/oauth1/access", app.base),
            "version": "0.1",
        })
    );
    for key in ["name", "description", "url", "home", "namespaces", "routes"] {
        assert!(!a[key].is_null(), "{key}");
    }
    assert!(a["routes"]["/wp/v2/users/me"].is_object());
}
both!(the_rest_index_is_served_at_wp_json_and_rest_route);

async fn aliases_trailing_slashes_methods_and_preflight_reach_the_endpoints(app: TestApp) {
    let fx = setup(&app).await;
    let cb = [("oauth_callback", CALLBACK)];
    signed(&app, &fx.creds, "POST", "/oauth1/request/", None, &cb)
        .await
        .read()
        .await
        .assert_status(200);
    signed(&app, &fx.creds, "GET", "/oauth1/request", None, &cb)
        .await
        .read()
        .await
        .assert_status(200);
    signed(&app, &fx.creds, "PUT", "/oauth1/request", None, &cb)
        .await
        .read()
        .await
        .assert_status(200);
    signed(&app, &fx.creds, "POST", "/?rest_oauth1=request", None, &cb)
        .await
        .read()
        .await
        .assert_status(200);
    // Everything in the query string, as Postman users do.
    let params = oauth(&app, &fx.creds, &cb);
    let (auth, _) = sign(&app, &fx.creds, "GET", "/oauth1/request", None, &params);
    let sig = auth
        .rsplit_once("oauth_signature=\"")
        .unwrap()
        .1
        .trim_end_matches('"')
        .to_owned();
    let query: String = params
        .iter()
        .map(|(n, v)| format!("{}={}&", signature::encode(n), signature::encode(v)))
        .collect();
    app.get(&format!("/oauth1/request?{query}oauth_signature={sig}"))
        .await
        .read()
        .await
        .assert_status(200);

    let pre = app
        .http
        .request(Method::OPTIONS, app.url("/oauth1/access"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert_eq!(pre.body, "");
    assert!(
        pre.header("access-control-allow-headers")
            .contains("Authorization")
    );
    assert_eq!(pre.header("access-control-allow-origin"), "*");
    let alias = app
        .get("/?rest_oauth1=authorize&oauth_token=nope")
        .await
        .read()
        .await
        .assert_status(400);
    assert!(alias.header("content-type").starts_with("text/html"));
    app.get("/?rest_oauth1=elsewhere")
        .await
        .read()
        .await
        .assert_status(404);
    app.get("/oauth1/authorize/?oauth_token=nope")
        .await
        .read()
        .await
        .assert_status(400);
}
both!(aliases_trailing_slashes_methods_and_preflight_reach_the_endpoints);

async fn problem_bodies_are_form_encoded_and_say_what_is_wrong(app: TestApp) {
    let fx = setup(&app).await;
    let res = send(
        &app,
        "POST",
        "/oauth1/request",
        None,
        "OAuth oauth_consumer_key=\"x\"",
    )
    .await
    .read()
    .await
    .assert_status(400);
    assert_problem(&res, "parameter_absent");
    let stranger = Creds {
        key: "nobodyatall1".into(),
        secret: "s".into(),
        token: None,
    };
    let res = signed(&app, &stranger, "POST", "/oauth1/request", None, &[])
        .await
        .read()
        .await
        .assert_status(401);
    assert_problem(&res, "consumer_key_unknown");
    assert!(res.header("www-authenticate").starts_with("OAuth"));
    let res = signed(&app, &fx.creds, "POST", "/oauth1/access", None, &[])
        .await
        .read()
        .await
        .assert_status(400);
    assert_problem(&res, "parameter_absent");
    assert!(res.body.contains("oauth_token"));
    let dup = oauth(&app, &fx.creds, &[]);
    let (auth, _) = sign(
        &app,
        &fx.creds,
        "POST",
        "/oauth1/request?oauth_nonce=x",
        None,
        &dup,
    );
    let res = send(&app, "POST", "/oauth1/request?oauth_nonce=x", None, &auth)
        .await
        .read()
        .await
        .assert_status(400);
    assert_problem(&res, "parameter_rejected");
}
both!(problem_bodies_are_form_encoded_and_say_what_is_wrong);

async fn o102_forged_signatures_are_401_and_do_not_consume_the_nonce(app: TestApp) {
    let fx = setup(&app).await;
    // A signature holding `+` or `/`, so that its base64url spelling differs.
    let (params, good, base, sig) = loop {
        let params = oauth(&app, &fx.creds, &[("oauth_callback", CALLBACK)]);
        let (good, base) = sign(&app, &fx.creds, "POST", "/oauth1/request", None, &params);
        let sig = good
            .rsplit_once("oauth_signature=\"")
            .unwrap()
            .1
            .trim_end_matches('"');
        let sig = percent_decode(sig);
        if sig.contains(['+', '/']) {
            break (params, good, base, sig);
        }
    };
    let mut flipped = sig.clone().into_bytes();
    flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
    let wrong_secret = Creds {
        secret: "not-the-secret".into(),
        ..fx.creds.clone()
    };
    let (wrong, _) = sign(
        &app,
        &wrong_secret,
        "POST",
        "/oauth1/request",
        None,
        &params,
    );
    let cases = [
        (
            "one character flipped",
            header(&params, &String::from_utf8(flipped).unwrap()),
        ),
        ("wrong consumer secret", wrong),
        (
            "base64url alphabet",
            header(&params, &sig.replace('+', "-").replace('/', "_")),
        ),
        (
            "missing padding",
            header(&params, sig.trim_end_matches('=')),
        ),
        ("empty signature", header(&params, "")),
    ];
    for (what, auth) in cases {
        let res = send(&app, "POST", "/oauth1/request", None, &auth).await;
        let res = res.read().await.assert_status(401);
        assert_problem(&res, "signature_invalid");
        assert_eq!(
            form_field(&res.body, "oauth_signature_base_string").as_deref(),
            Some(base.as_str()),
            "{what}"
        );
    }
    assert_eq!(app.count("oauth1_nonces").await, 0);
    // The same nonce and timestamp still work for the rightful sender.
    send(&app, "POST", "/oauth1/request", None, &good)
        .await
        .read()
        .await
        .assert_status(200);

    // A token present but signed with an empty token secret.
    let rt = request_token(&app, &fx.creds, CALLBACK).await;
    let verifier = approve(&app, &fx, &rt.0).await;
    let empty_secret = fx.creds.with_token(&(rt.0.clone(), String::new()));
    let res = exchange(&app, &empty_secret, &verifier)
        .await
        .read()
        .await
        .assert_status(401);
    assert_problem(&res, "signature_invalid");
    exchange(&app, &fx.creds.with_token(&rt), &verifier)
        .await
        .read()
        .await
        .assert_status(200);
}
both!(o102_forged_signatures_are_401_and_do_not_consume_the_nonce);

async fn o103_tampering_after_signing_is_401(app: TestApp) {
    let fx = setup(&app).await;
    // The callback travels in the header with the other protocol parameters (one place, O113).
    let form = "title=Hello&content=World";
    let cb = ("oauth_callback", CALLBACK);
    let tampered = [
        (
            "/oauth1/request?page=2",
            "/oauth1/request?page=2&extra=1",
            form.to_owned(),
        ),
        (
            "/oauth1/request",
            "/oauth1/request",
            form.replace("Hello", "Hellp"),
        ),
        (
            "/oauth1/request",
            "/oauth1/request",
            format!("{form}&status=publish"),
        ),
    ];
    for (signed_path, sent_path, sent_form) in tampered {
        let params = oauth(&app, &fx.creds, &[cb]);
        let (auth, _) = sign(&app, &fx.creds, "POST", signed_path, Some(form), &params);
        let res = send(&app, "POST", sent_path, Some(&sent_form), &auth)
            .await
            .read()
            .await
            .assert_status(401);
        assert_problem(&res, "signature_invalid");
    }
    // Untouched, the same request verifies: the form body is signed.
    let params = oauth(&app, &fx.creds, &[cb]);
    let (auth, _) = sign(
        &app,
        &fx.creds,
        "POST",
        "/oauth1/request",
        Some(form),
        &params,
    );
    send(&app, "POST", "/oauth1/request", Some(form), &auth)
        .await
        .read()
        .await
        .assert_status(200);
}
both!(o103_tampering_after_signing_is_401);

async fn o104_a_replayed_request_is_refused_as_nonce_used(app: TestApp) {
    let fx = setup(&app).await;
    let params = oauth(&app, &fx.creds, &[("oauth_callback", CALLBACK)]);
    let (auth, _) = sign(&app, &fx.creds, "POST", "/oauth1/request", None, &params);
    send(&app, "POST", "/oauth1/request", None, &auth)
        .await
        .read()
        .await
        .assert_status(200);
    let res = send(&app, "POST", "/oauth1/request", None, &auth)
        .await
        .read()
        .await
        .assert_status(401);
    assert_problem(&res, "nonce_used");
    // The same nonce one second later is a different key, but never frees the first one.
    app.clock.advance(1);
    let res = send(&app, "POST", "/oauth1/request", None, &auth)
        .await
        .read()
        .await
        .assert_status(401);
    assert_problem(&res, "nonce_used");

    // Signed API calls spend nonces too.
    let creds = connect(&app, &fx).await;
    let params = oauth(&app, &creds, &[]);
    let (auth, _) = sign(
        &app,
        &creds,
        "GET",
        "/wp-json/wp/v2/users/me",
        None,
        &params,
    );
    send(&app, "GET", "/wp-json/wp/v2/users/me", None, &auth)
        .await
        .read()
        .await
        .assert_status(200);
    let res = send(&app, "GET", "/wp-json/wp/v2/users/me", None, &auth)
        .await
        .read()
        .await
        .assert_status(401);
    assert_wp_error(&res, "json_oauth1_nonce_already_used");
}
both!(o104_a_replayed_request_is_refused_as_nonce_used);

async fn o104_twenty_parallel_copies_over_two_instances_succeed_once(app: TestApp) {
    let fx = setup(&app).await;
    let second = second_instance(&app).await;
    let params = oauth(&app, &fx.creds, &[("oauth_callback", CALLBACK)]);
    let (auth, _) = sign(&app, &fx.creds, "POST", "/oauth1/request", None, &params);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let base = if i % 2 == 0 {
            app.base.clone()
        } else {
            second.clone()
        };
        let auth = auth.clone();
        tasks.push(tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{base}/oauth1/request"))
                .header("authorization", auth)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 401).count(),
        19,
        "{statuses:?}"
    );
    assert_eq!(app.count("oauth1_request_tokens").await, 1);
}
both!(o104_twenty_parallel_copies_over_two_instances_succeed_once);

async fn o106_timestamps_outside_the_window_are_401_and_malformed_ones_400(app: TestApp) {
    let fx = setup(&app).await;
    let w = app.state.settings.oauth1_timestamp_window;
    let now = app.clock_now();
    let cb = ("oauth_callback", CALLBACK);
    for ts in [now - w - 1, now + w + 1] {
        let res = signed(
            &app,
            &fx.creds,
            "POST",
            "/oauth1/request",
            None,
            &[cb, ("oauth_timestamp", &ts.to_string())],
        )
        .await;
        let res = res.read().await.assert_status(401);
        assert_problem(&res, "timestamp_refused");
    }
    for ts in [now - (w - 1), now + (w - 1), now - w, now + w] {
        signed(
            &app,
            &fx.creds,
            "POST",
            "/oauth1/request",
            None,
            &[cb, ("oauth_timestamp", &ts.to_string())],
        )
        .await
        .read()
        .await
        .assert_status(200);
    }
    for ts in ["0", "-5", "1.5", "0x10", "+123", "12345678901234567890", ""] {
        let res = signed(
            &app,
            &fx.creds,
            "POST",
            "/oauth1/request",
            None,
            &[cb, ("oauth_timestamp", ts)],
        )
        .await;
        let res = res.read().await.assert_status(400);
        assert_problem(&res, "timestamp_refused");
    }
    // The window follows the server's clock.
    let ts = now.to_string();
    let params = oauth(&app, &fx.creds, &[cb, ("oauth_timestamp", &ts)]);
    let (auth, _) = sign(&app, &fx.creds, "POST", "/oauth1/request", None, &params);
    app.clock.advance(w + 1);
    send(&app, "POST", "/oauth1/request", None, &auth)
        .await
        .read()
        .await
        .assert_status(401);
    app.clock.set(now);
    send(&app, "POST", "/oauth1/request", None, &auth)
        .await
        .read()
        .await
        .assert_status(200);
}
both!(o106_timestamps_outside_the_window_are_401_and_malformed_ones_400);

async fn o107_callbacks_that_do_not_match_are_400_and_store_nothing(app: TestApp) {
    let fx = setup(&app).await;
    for cb in [
        "https://evil.example/cb",
        "https://client.example@evil.example/oauth1/cb",
        "https://client.example:8443/oauth1/cb",
        "https://client.example/oauth1/cb/../x",
        "http://client.example/oauth1/cb",
        "https://client.example/oauth1/cb/sub",
        "oob",
        "not a url",
    ] {
        let res = signed(
            &app,
            &fx.creds,
            "POST",
            "/oauth1/request",
            None,
            &[("oauth_callback", cb)],
        )
        .await;
        let res = res.read().await.assert_status(400);
        assert_problem(&res, "callback_rejected");
        assert!(form_field(&res.body, "oauth_token").is_none(), "{cb}");
    }
    assert_eq!(app.count("oauth1_request_tokens").await, 0);
    // Query and fragment may differ (pinned).
    request_token(
        &app,
        &fx.creds,
        "https://client.example/oauth1/cb?state=1#f",
    )
    .await;

    // The same rules at the authorize step, which may replace the callback.
    let rt = request_token(&app, &fx.creds, CALLBACK).await;
    let browser = new_browser();
    login(&app, &browser, "alice").await;
    let evil = format!(
        "/oauth1/authorize?oauth_token={}&oauth_callback=https%3A%2F%2Fevil.example%2Fcb",
        rt.0
    );
    let page = browser
        .get(app.url(&evil))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    assert!(page.body.contains("callback_rejected"));
    let res = decide(
        &app,
        &browser,
        &rt.0,
        "https://client.example/oauth1/cb?from=authorize",
        fx.site.id,
        "approve",
    )
    .await;
    let res = res.read().await.assert_status(303);
    assert!(
        res.header("location")
            .starts_with("https://client.example/oauth1/cb?from=authorize&oauth_token=")
    );
}
both!(o107_callbacks_that_do_not_match_are_400_and_store_nothing);

async fn o108_a_request_without_oauth_callback_ends_at_oob_when_none_is_given_later(app: TestApp) {
    // Registered oob: no callback is accepted, confirmed, and ends on the verifier page.
    let fx = setup_with(&app, "oob").await;
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
    let browser = new_browser();
    login(&app, &browser, "alice").await;
    let page = decide(&app, &browser, &token, "oob", fx.site.id, "approve")
        .await
        .read()
        .await
        .assert_status(200);
    let marker = "Your verification token is <code>";
    let start = page.body.find(marker).unwrap() + marker.len();
    let verifier = &page.body[start..start + 24];
    assert!(verifier.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(page.header("cache-control"), "no-store");

    // Registered URL (issue 13 changes the old pinned 400): leaving the callback out means it is
    // given later; when the authorize step gives none either, the consumer needed oob.
    let (_, url_creds) = consumer(&app, &fx.user, "Web client", CALLBACK).await;
    let res = signed(&app, &url_creds, "POST", "/oauth1/request", None, &[])
        .await
        .read()
        .await
        .assert_status(200);
    assert_eq!(
        form_field(&res.body, "oauth_callback_confirmed").as_deref(),
        Some("true")
    );
    let token = form_field(&res.body, "oauth_token").unwrap();
    let page = browser
        .get(app.url(&format!("/oauth1/authorize?oauth_token={token}")))
        .send()
        .await
        .unwrap();
    let page = page.read().await.assert_status(400);
    assert!(page.body.contains("callback_rejected"), "{}", page.body);
}
both!(o108_a_request_without_oauth_callback_ends_at_oob_when_none_is_given_later);

async fn o109_request_tokens_are_exchanged_once(app: TestApp) {
    let fx = setup(&app).await;
    let rt = request_token(&app, &fx.creds, CALLBACK).await;
    let verifier = approve(&app, &fx, &rt.0).await;
    let creds = fx.creds.with_token(&rt);
    exchange(&app, &creds, &verifier)
        .await
        .read()
        .await
        .assert_status(200);
    let res = exchange(&app, &creds, &verifier)
        .await
        .read()
        .await
        .assert_status(401);
    assert_problem(&res, "token_rejected");

    // Ten parallel exchanges, each with its own nonce: exactly one token.
    let rt = request_token(&app, &fx.creds, CALLBACK).await;
    let verifier = approve(&app, &fx, &rt.0).await;
    let creds = fx.creds.with_token(&rt);
    let mut requests = Vec::new();
    for _ in 0..10 {
        let params = oauth(&app, &creds, &[("oauth_verifier", &verifier)]);
        requests.push(sign(&app, &creds, "POST", "/oauth1/access", None, &params).0);
    }
    let mut tasks = Vec::new();
    for auth in requests {
        let url = app.url("/oauth1/access");
        tasks.push(tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .header("authorization", auth)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let status = t.await.unwrap();
        assert!(status == 200 || status == 401, "{status}");
        ok += usize::from(status == 200);
    }
    assert_eq!(ok, 1);
    assert_eq!(app.count("oauth1_access_tokens").await, 2);
    assert_eq!(app.count("oauth1_request_tokens").await, 0);
}
both!(o109_request_tokens_are_exchanged_once);

async fn o110_five_wrong_verifiers_destroy_the_request_token(app: TestApp) {
    let fx = setup(&app).await;
    let rt = request_token(&app, &fx.creds, CALLBACK).await;
    let verifier = approve(&app, &fx, &rt.0).await;
    let creds = fx.creds.with_token(&rt);
    for i in 0..5 {
        let res = exchange(&app, &creds, &format!("wrongverifier{i}"))
            .await
            .read()
            .await
            .assert_status(401);
        assert_problem(&res, "verifier_invalid");
    }
    assert_eq!(app.count("oauth1_request_tokens").await, 0);
    let res = exchange(&app, &creds, &verifier)
        .await
        .read()
        .await
        .assert_status(401);
    assert_problem(&res, "token_rejected");
}
both!(o110_five_wrong_verifiers_destroy_the_request_token);

async fn o111_foreign_unapproved_and_misused_tokens_are_401(app: TestApp) {
    let fx = setup(&app).await;
    let rt = request_token(&app, &fx.creds, CALLBACK).await;
    // Before the user approved.
    let res = exchange(&app, &fx.creds.with_token(&rt), "anything")
        .await
        .read()
        .await
        .assert_status(401);
    assert_problem(&res, "permission_unknown");
    let verifier = approve(&app, &fx, &rt.0).await;
    // k1's temporary token presented by k2, signed with ks2.
    let (_, other) = consumer(&app, &fx.user, "Other", CALLBACK).await;
    let res = exchange(&app, &other.with_token(&rt), &verifier)
        .await
        .read()
        .await
        .assert_status(401);
    assert_problem(&res, "token_rejected");
    // A temporary token used as an access token on the API.
    let res = signed(
        &app,
        &fx.creds.with_token(&rt),
        "GET",
        "/wp-json/wp/v2/users/me",
        None,
        &[],
    )
    .await;
    assert_wp_error(
        &res.read().await.assert_status(401),
        "json_oauth1_invalid_token",
    );
    // It still works for its own consumer.
    exchange(&app, &fx.creds.with_token(&rt), &verifier)
        .await
        .read()
        .await
        .assert_status(200);
    // An access token presented by another consumer.
    let creds = connect(&app, &fx).await;
    let stolen = other.with_token(creds.token.as_ref().unwrap());
    let res = signed(&app, &stolen, "GET", "/wp-json/wp/v2/users/me", None, &[]).await;
    assert_wp_error(
        &res.read().await.assert_status(401),
        "json_oauth1_consumer_mismatch",
    );
}
both!(o111_foreign_unapproved_and_misused_tokens_are_401);

async fn o112_an_expired_request_token_cannot_be_approved_or_exchanged(app: TestApp) {
    let fx = setup(&app).await;
    let ttl = app.state.settings.oauth1_request_token_ttl;
    assert!(ttl <= 3600);
    let rt = request_token(&app, &fx.creds, CALLBACK).await;
    let verifier = approve(&app, &fx, &rt.0).await;
    app.clock.advance(ttl + 1);
    let res = exchange(&app, &fx.creds.with_token(&rt), &verifier)
        .await
        .read()
        .await
        .assert_status(401);
    assert_problem(&res, "token_expired");

    let rt = request_token(&app, &fx.creds, CALLBACK).await;
    app.clock.advance(ttl + 1);
    let browser = new_browser();
    login(&app, &browser, "alice").await;
    let page = browser
        .get(app.url(&format!("/oauth1/authorize?oauth_token={}", rt.0)))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    assert!(page.body.contains("expired"));
}
both!(o112_an_expired_request_token_cannot_be_approved_or_exchanged);

async fn o114_repeated_and_bracket_parameters_verify_on_a_signed_call(app: TestApp) {
    let fx = setup(&app).await;
    let creds = connect(&app, &fx).await;
    let path = "/wp-json/wp/v2/users/me?a=2&a=1&a=10&b=&filter%5Bposts_per_page%5D=5&a[]=1&a[]=2";
    let params = oauth(&app, &creds, &[]);
    let (auth, base) = sign(&app, &creds, "GET", path, None, &params);
    assert!(base.contains("a%3D1%26a%3D10%26a%3D2%26a%255B%255D%3D1%26a%255B%255D%3D2%26b%3D%26filter%255Bposts_per_page%255D%3D5"), "{base}");
    send(&app, "GET", path, None, &auth)
        .await
        .read()
        .await
        .assert_status(200);
    // A client that kept one value per name (the plugin's map) signed something else.
    let params = oauth(&app, &creds, &[]);
    let (auth, _) = sign(
        &app,
        &creds,
        "GET",
        "/wp-json/wp/v2/users/me?a=10&b=",
        None,
        &params,
    );
    let res = send(&app, "GET", path, None, &auth)
        .await
        .read()
        .await
        .assert_status(401);
    assert_wp_error(&res, "json_oauth1_signature_mismatch");
}
both!(o114_repeated_and_bracket_parameters_verify_on_a_signed_call);

async fn o118_unsupported_signature_methods_and_versions_are_400(app: TestApp) {
    let fx = setup(&app).await;
    let cb = ("oauth_callback", CALLBACK);
    for method in ["PLAINTEXT", "HMAC-MD5", "RSA-SHA1"] {
        let res = signed(
            &app,
            &fx.creds,
            "POST",
            "/oauth1/request",
            None,
            &[cb, ("oauth_signature_method", method)],
        )
        .await;
        assert_problem(
            &res.read().await.assert_status(400),
            "signature_method_rejected",
        );
    }
    signed(
        &app,
        &fx.creds,
        "POST",
        "/oauth1/request",
        None,
        &[cb, ("oauth_signature_method", "HMAC-SHA256")],
    )
    .await
    .read()
    .await
    .assert_status(200);
    for version in ["1.1", "1.0b", "2.0"] {
        let res = signed(
            &app,
            &fx.creds,
            "POST",
            "/oauth1/request",
            None,
            &[cb, ("oauth_version", version)],
        )
        .await;
        assert_problem(&res.read().await.assert_status(400), "version_rejected");
    }
    // node-oauth's README sends 1.0A (issue 13): it counts as 1.0, signed as sent.
    for version in ["1.0A", "1.0a"] {
        signed(
            &app,
            &fx.creds,
            "POST",
            "/oauth1/request",
            None,
            &[cb, ("oauth_version", version)],
        )
        .await
        .read()
        .await
        .assert_status(200);
    }
    assert_eq!(app.count("oauth1_nonces").await, 3);
}
both!(o118_unsupported_signature_methods_and_versions_are_400);

async fn o119_only_form_bodies_are_signed(app: TestApp) {
    let fx = setup(&app).await;
    let cb = [("oauth_callback", CALLBACK)];
    let send_body = |auth: String, content_type: &'static str, body: &'static str| {
        app.http
            .post(app.url("/oauth1/request"))
            .header("authorization", auth)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    // JSON: not signed, so a signature without it verifies.
    let params = oauth(&app, &fx.creds, &cb);
    let (auth, _) = sign(&app, &fx.creds, "POST", "/oauth1/request", None, &params);
    send_body(auth, "application/json", r#"{"a":"1"}"#)
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    // A form body sent as text/plain is not a form: a client that signed it gets 401.
    let params = oauth(&app, &fx.creds, &cb);
    let (auth, _) = sign(
        &app,
        &fx.creds,
        "POST",
        "/oauth1/request",
        Some("a=1"),
        &params,
    );
    send_body(auth, "text/plain", "a=1")
        .await
        .unwrap()
        .read()
        .await
        .assert_status(401);
    // Multipart: not signed either.
    let boundary = "multipart/form-data; boundary=XyZ";
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ--\r\n";
    let params = oauth(&app, &fx.creds, &cb);
    let (auth, _) = sign(
        &app,
        &fx.creds,
        "POST",
        "/oauth1/request",
        Some("a=1"),
        &params,
    );
    send_body(auth, boundary, body)
        .await
        .unwrap()
        .read()
        .await
        .assert_status(401);
    let params = oauth(&app, &fx.creds, &cb);
    let (auth, _) = sign(&app, &fx.creds, "POST", "/oauth1/request", None, &params);
    send_body(auth, boundary, body)
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
}
both!(o119_only_form_bodies_are_signed);

async fn o120_the_authorize_page_refuses_forged_and_stale_requests(app: TestApp) {
    let fx = setup(&app).await;
    let (_, evil) = consumer(&app, &fx.user, "<script>alert(1)</script>", CALLBACK).await;
    let rt = request_token(&app, &evil, CALLBACK).await;
    let browser = new_browser();
    login(&app, &browser, "alice").await;
    let page = browser
        .get(app.url(&format!("/oauth1/authorize?oauth_token={}", rt.0)))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(!page.body.contains("<script>alert(1)"));
    assert!(page.body.contains("&#60;script&#62;") || page.body.contains("&lt;script&gt;"));
    assert_eq!(page.header("x-frame-options"), "DENY");
    assert!(
        page.header("content-security-policy")
            .contains("frame-ancestors 'none'")
    );
    // Approve without (or with a wrong) CSRF token.
    for csrf in ["", "forged"] {
        let res = browser
            .post(app.url("/oauth1/authorize"))
            .form(&[
                ("oauth_token", rt.0.as_str()),
                ("csrf", csrf),
                ("blog_id", &fx.site.id.to_string()),
                ("action", "approve"),
            ])
            .send()
            .await
            .unwrap();
        res.read().await.assert_status(403);
    }
    // A cross-site post is refused even with the right token.
    let csrf = consent_csrf(&app, &browser, &rt.0, None).await;
    let res = browser
        .post(app.url("/oauth1/authorize"))
        .header("origin", "https://evil.example")
        .form(&[
            ("oauth_token", rt.0.as_str()),
            ("oauth_callback", CALLBACK),
            ("csrf", &csrf),
            ("blog_id", &fx.site.id.to_string()),
            ("action", "approve"),
        ])
        .send()
        .await
        .unwrap();
    res.read().await.assert_status(403);
    // An already-approved token: its approver is given the same verifier again (oauth1.md §3);
    // approving it again, or opening it as someone else, is an error page.
    let first = decide(&app, &browser, &rt.0, CALLBACK, fx.site.id, "approve")
        .await
        .read()
        .await
        .assert_status(303);
    let verifier = query_field(first.header("location"), "oauth_verifier").unwrap();
    let again = browser
        .get(app.url(&format!("/oauth1/authorize?oauth_token={}", rt.0)))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(303);
    assert_eq!(
        query_field(again.header("location"), "oauth_verifier").unwrap(),
        verifier
    );
    let twice = browser
        .post(app.url("/oauth1/authorize"))
        .form(&[
            ("oauth_token", rt.0.as_str()),
            ("oauth_callback", CALLBACK),
            ("csrf", &csrf),
            ("blog_id", &fx.site.id.to_string()),
            ("action", "approve"),
        ])
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    assert!(twice.body.contains("already approved"));
    let other = new_browser();
    app.user("carol", PASSWORD).await;
    login(&app, &other, "carol").await;
    let foreign = other
        .get(app.url(&format!("/oauth1/authorize?oauth_token={}", rt.0)))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    assert!(!foreign.body.contains(&verifier));
    // A blog the user does not administer.
    let rt = request_token(&app, &fx.creds, CALLBACK).await;
    let bob = app.user("bob", PASSWORD).await;
    let bobs = app.site(&bob, "https://bob.example").await;
    decide(&app, &browser, &rt.0, CALLBACK, bobs.id, "approve")
        .await
        .read()
        .await
        .assert_status(400);
}
both!(o120_the_authorize_page_refuses_forged_and_stale_requests);

async fn deny_redirects_with_user_refused_and_oob_shows_a_denied_page(app: TestApp) {
    let fx = setup(&app).await;
    let rt = request_token(&app, &fx.creds, CALLBACK).await;
    let browser = new_browser();
    login(&app, &browser, "alice").await;
    let res = decide(&app, &browser, &rt.0, CALLBACK, fx.site.id, "deny")
        .await
        .read()
        .await
        .assert_status(303);
    assert_eq!(
        query_field(res.header("location"), "oauth_problem").as_deref(),
        Some("user_refused")
    );
    assert_eq!(app.count("oauth1_request_tokens").await, 0);

    let oob = setup_oob(&app, &fx).await;
    let res = signed(
        &app,
        &oob,
        "POST",
        "/oauth1/request",
        None,
        &[("oauth_callback", "oob")],
    )
    .await
    .read()
    .await
    .assert_status(200);
    let token = form_field(&res.body, "oauth_token").unwrap();
    let page = decide(&app, &browser, &token, "oob", fx.site.id, "deny")
        .await
        .read()
        .await
        .assert_status(200);
    assert!(page.body.contains("Request denied"));
}
both!(deny_redirects_with_user_refused_and_oob_shows_a_denied_page);

async fn rest_oauth1_errors_are_wordpress_json(app: TestApp) {
    let fx = setup(&app).await;
    let creds = connect(&app, &fx).await;
    let params = oauth(&app, &creds, &[]);
    let (auth, _) = sign(
        &app,
        &creds,
        "GET",
        "/wp-json/wp/v2/users/me?x=1",
        None,
        &params,
    );
    let res = send(&app, "GET", "/wp-json/wp/v2/users/me", None, &auth)
        .await
        .read()
        .await
        .assert_status(401);
    assert_eq!(
        res.json(),
        serde_json::json!({
            "code": "json_oauth1_signature_mismatch",
            "message": "OAuth signature does not match",
            "data": {"status": 401}
        })
    );
    let stranger = Creds {
        key: "nobodyatall1".into(),
        ..creds.clone()
    };
    let res = signed(&app, &stranger, "GET", "/rest/v1.1/me", None, &[])
        .await
        .read()
        .await
        .assert_status(401);
    assert_wp_error(&res, "json_consumer_notfound");
    let res = send(
        &app,
        "GET",
        "/wp-json/wp/v2/users/me",
        None,
        "OAuth oauth_consumer_key=\"k\"",
    )
    .await
    .read()
    .await
    .assert_status(401);
    assert_wp_error(&res, "json_oauth1_missing_parameter");
    // No OAuth parameters at all: anonymous.
    let res = app
        .get("/wp-json/wp/v2/users/me")
        .await
        .read()
        .await
        .assert_status(401);
    assert_eq!(res.json()["code"], "rest_not_logged_in");
    app.get("/rest/v1.1/me")
        .await
        .read()
        .await
        .assert_status(403);
    // A bearer and an OAuth1 signature together are refused.
    let params = oauth(&app, &creds, &[]);
    let (auth, _) = sign(&app, &creds, "GET", "/rest/v1.1/me", None, &params);
    let sig = auth
        .rsplit_once("oauth_signature=\"")
        .unwrap()
        .1
        .trim_end_matches('"')
        .to_owned();
    let query: String = params
        .iter()
        .map(|(n, v)| format!("{}={}&", signature::encode(n), signature::encode(v)))
        .collect();
    let res = app
        .http
        .get(app.url(&format!("/rest/v1.1/me?{query}oauth_signature={sig}")))
        .header("authorization", "Bearer lkat_whatever")
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    assert_eq!(res.json()["error"], "invalid_request");
    // The same query-signed call alone works.
    app.get(&format!("/rest/v1.1/me?{query}oauth_signature={sig}"))
        .await
        .read()
        .await
        .assert_status(200);
}
both!(rest_oauth1_errors_are_wordpress_json);

async fn signed_calls_list_and_create_posts_on_the_token_blog(app: TestApp) {
    let fx = setup(&app).await;
    let creds = connect(&app, &fx).await;
    // A form body is signed; the new post lands on the blog the user chose at authorize.
    let created = signed(
        &app,
        &creds,
        "POST",
        "/wp-json/wp/v2/posts",
        Some("title=Hello&content=First+post&status=publish"),
        &[],
    )
    .await
    .read()
    .await
    .assert_status(201)
    .json();
    assert_eq!(created["title"]["rendered"], "Hello");
    assert_eq!(created["content"]["rendered"], "First post");
    assert_eq!(created["type"], "post");
    assert_eq!(created["author"], fx.user.id);
    // A JSON body is not signed (oauth1.md §4), so the header alone covers the request.
    let params = oauth(&app, &creds, &[]);
    let (auth, _) = sign(&app, &creds, "POST", "/wp-json/wp/v2/posts", None, &params);
    let json = app
        .http
        .post(app.url("/wp-json/wp/v2/posts"))
        .header("authorization", auth)
        .json(&serde_json::json!({"title": "Second", "status": "draft"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json.read().await.assert_status(201).json()["status"],
        "draft"
    );
    let listed = signed(
        &app,
        &creds,
        "GET",
        "/wp-json/wp/v2/posts?status=any&per_page=10",
        None,
        &[],
    )
    .await
    .read()
    .await
    .assert_status(200);
    assert_eq!(listed.header("x-wp-total"), "2");
    let titles: Vec<_> = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"]["rendered"].clone())
        .collect();
    assert_eq!(
        titles,
        [serde_json::json!("Second"), serde_json::json!("Hello")],
        "newest first"
    );
    // The same posts through the WordPress.com API, by the same principal.
    let rest = signed(
        &app,
        &creds,
        "GET",
        &format!("/rest/v1.1/sites/{}/posts", fx.site.id),
        None,
        &[],
    )
    .await
    .read()
    .await
    .assert_status(200);
    assert_eq!(rest.json()["found"], 1, "only the published one by default");
    // Anonymous and unsigned-blog requests get WordPress errors.
    let anon = app
        .get("/wp-json/wp/v2/posts")
        .await
        .read()
        .await
        .assert_status(401);
    assert_eq!(anon.json()["code"], "rest_not_logged_in");
    let bad = signed(
        &app,
        &creds,
        "POST",
        "/wp-json/wp/v2/posts",
        Some("title=x&status=nonsense"),
        &[],
    )
    .await
    .read()
    .await
    .assert_status(400);
    assert_eq!(bad.json()["data"]["status"], 400);
}
both!(signed_calls_list_and_create_posts_on_the_token_blog);

async fn revoking_the_app_or_deleting_it_ends_oauth1_tokens(app: TestApp) {
    // With the validation cache on, and the token in it: revocation must still win at once.
    wait_live(&app.store).await;
    let fx = setup(&app).await;
    let creds = connect(&app, &fx).await;
    for _ in 0..2 {
        signed(&app, &creds, "GET", "/rest/v1.1/me", None, &[])
            .await
            .read()
            .await
            .assert_status(200);
    }
    app.store
        .revoke_app_for_user(fx.user.id, fx.app.id)
        .await
        .unwrap();
    assert_eq!(app.count("oauth1_access_tokens").await, 0);
    let res = signed(&app, &creds, "GET", "/rest/v1.1/me", None, &[])
        .await
        .read()
        .await
        .assert_status(401);
    assert_wp_error(&res, "json_oauth1_invalid_token");
    let creds = connect(&app, &fx).await;
    assert_eq!(app.count("oauth1_access_tokens").await, 1);
    signed(&app, &creds, "GET", "/rest/v1.1/me", None, &[])
        .await
        .read()
        .await
        .assert_status(200);
    app.store.delete_app(fx.app.id).await.unwrap();
    assert_eq!(app.count("oauth1_access_tokens").await, 0);
    signed(&app, &creds, "GET", "/rest/v1.1/me", None, &[])
        .await
        .read()
        .await
        .assert_status(401);
}
both!(revoking_the_app_or_deleting_it_ends_oauth1_tokens);

async fn nonces_and_stale_request_tokens_are_pruned(app: TestApp) {
    let fx = setup(&app).await;
    request_token(&app, &fx.creds, CALLBACK).await;
    assert_eq!(app.count("oauth1_nonces").await, 1);
    let w = app.state.settings.oauth1_timestamp_window;
    let ttl = app.state.settings.oauth1_request_token_ttl;
    app.store
        .purge_oauth1(app.clock_now() + w - 1, 1000)
        .await
        .unwrap();
    assert_eq!(app.count("oauth1_nonces").await, 1);
    app.store
        .purge_oauth1(app.clock_now() + w.max(ttl) + 1, 1000)
        .await
        .unwrap();
    assert_eq!(app.count("oauth1_nonces").await, 0);
    assert_eq!(app.count("oauth1_request_tokens").await, 0);
}
both!(nonces_and_stale_request_tokens_are_pruned);

async fn hostile_inputs_never_cause_a_server_error(app: TestApp) {
    let fx = setup(&app).await;
    let long = "x".repeat(5000);
    let headers = [
        "OAuth".to_owned(),
        "OAuth ,,,".to_owned(),
        "OAuth oauth_consumer_key=\"unterminated".to_owned(),
        "OAuth a=\"\\\"\"".to_owned(),
        format!(
            "OAuth oauth_consumer_key=\"{long}\", oauth_nonce=\"n\", oauth_signature_method=\"HMAC-SHA1\", oauth_timestamp=\"1\", oauth_signature=\"s\""
        ),
        "OAuth oauth_nonce=\"%ZZ\"".to_owned(),
        "OAuth oauth_token=\"%C3%28\"".to_owned(),
    ];
    for path in [
        "/oauth1/request",
        "/oauth1/access",
        "/wp-json/wp/v2/users/me",
        "/rest/v1.1/me",
    ] {
        for h in &headers {
            let status = send(&app, "POST", path, Some("oauth_x=%FF"), h)
                .await
                .status()
                .as_u16();
            assert!((400..500).contains(&status), "{path} {h}: {status}");
        }
    }
    let nonce = "n".repeat(300);
    let res = signed(
        &app,
        &fx.creds,
        "POST",
        "/oauth1/request",
        None,
        &[("oauth_nonce", &nonce)],
    )
    .await;
    assert_problem(&res.read().await.assert_status(400), "parameter_rejected");
    for q in [
        "oauth_token=",
        "oauth_token=%FF",
        "oauth_token=a&oauth_token=b",
        "",
        "oauth_callback=x",
    ] {
        let status = app
            .get(&format!("/oauth1/authorize?{q}"))
            .await
            .status()
            .as_u16();
        assert_eq!(status, 400, "{q}");
    }
}
both!(hostile_inputs_never_cause_a_server_error);

async fn setup_oob(app: &TestApp, fx: &Fx) -> Creds {
    consumer(app, &fx.user, "Desktop", "oob").await.1
}

/// Another server on the same database: a second instance behind a load balancer.
async fn second_instance(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = app.state.clone();
    tokio::spawn(async move {
        latchkey::server::run(listener, state, std::future::pending())
            .await
            .unwrap();
    });
    base
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned()
}

#[tokio::test]
async fn o116_the_base_string_uses_the_public_url_never_the_host_header() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.public_url = "https://AS.example:443".into()
    })
    .await
    .unwrap();
    let fx = setup(&app).await;
    let cb = [("oauth_callback", CALLBACK)];
    let params = oauth(&app, &fx.creds, &cb);
    let (auth, base) = sign(&app, &fx.creds, "POST", "/oauth1/request", None, &params);
    assert!(
        base.starts_with("POST&https%3A%2F%2Fas.example%2Foauth1%2Frequest&"),
        "{base}"
    );
    // Host and X-Forwarded-* say otherwise; the public URL wins.
    app.http
        .post(app.url("/oauth1/request"))
        .header("authorization", auth)
        .header("host", "EXAMPLE.COM:80")
        .header("x-forwarded-proto", "http")
        .header("x-forwarded-host", "evil.example")
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    // A client that signed the address it connected to is told what the server signed.
    let params = oauth(&app, &fx.creds, &cb);
    let local = signature::base_string("POST", &format!("{}/oauth1/request", app.base), &params);
    let sig = signature::sign(SignatureMethod::HmacSha1, &local, &fx.creds.secret, "");
    let res = send(
        &app,
        "POST",
        "/oauth1/request",
        None,
        &header(&params, &sig),
    )
    .await
    .read()
    .await
    .assert_status(401);
    assert_problem(&res, "signature_invalid");
    assert!(
        form_field(&res.body, "oauth_signature_base_string")
            .unwrap()
            .starts_with("POST&https%3A%2F%2Fas.example%2Foauth1%2Frequest&")
    );
}

async fn oauthlib_client_completes_discovery_the_three_legged_flow_and_a_signed_post(app: TestApp) {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import requests_oauthlib, oauthlib, requests"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "note: python3 with requests-oauthlib is missing: the oauthlib interoperability test was skipped \
             (pip install oauthlib requests requests-oauthlib)"
        );
        return;
    }
    // The Python client stamps requests with the real time.
    #[expect(
        clippy::disallowed_methods,
        reason = "an external client uses the real clock"
    )]
    let now = std::time::SystemTime::now();
    app.clock
        .set(now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64);
    let fx = setup(&app).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oauth1_interop.py");
    let base = app.base.clone();
    let (key, secret) = (fx.creds.key.clone(), fx.creds.secret.clone());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script)
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
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "interop script failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("interop ok"), "{stdout}");
    assert_eq!(app.count("oauth1_access_tokens").await, 1);
}
both!(oauthlib_client_completes_discovery_the_three_legged_flow_and_a_signed_post);

async fn concurrent_nonces_share_commits_and_each_key_is_fresh_exactly_once(app: TestApp) {
    // 200 requests at once over 50 keys (each sent four times): the writer batches them, and
    // exactly one request per key is told its nonce was fresh.
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = app.store.clone();
        tasks.push(tokio::spawn(async move {
            let nonce = format!("n{}", i % 50);
            let fresh = store
                .record_nonce(&latchkey::store::Nonce {
                    consumer_key: "ck",
                    token: &[7; 32],
                    timestamp: 1_700_000_000,
                    nonce: &nonce,
                    expires_at: 1_700_000_900,
                })
                .await
                .unwrap();
            (i % 50, fresh)
        }));
    }
    let mut fresh_per_key = [0; 50];
    for task in tasks {
        let (key, fresh) = task.await.unwrap();
        fresh_per_key[key] += usize::from(fresh);
    }
    assert_eq!(fresh_per_key, [1; 50]);
    assert_eq!(app.count("oauth1_nonces").await, 50);
    // A later batch cannot spend them again.
    let again = app
        .store
        .record_nonce(&latchkey::store::Nonce {
            consumer_key: "ck",
            token: &[7; 32],
            timestamp: 1_700_000_000,
            nonce: "n3",
            expires_at: 1_700_000_900,
        })
        .await
        .unwrap();
    assert!(!again);
}
both!(concurrent_nonces_share_commits_and_each_key_is_fresh_exactly_once);

async fn a_regenerated_consumer_secret_ends_the_old_one_at_once_even_when_cached(app: TestApp) {
    wait_live(&app.store).await;
    let fx = setup(&app).await;
    let creds = connect(&app, &fx).await;
    for _ in 0..2 {
        signed(&app, &creds, "GET", "/wp-json/wp/v2/users/me", None, &[])
            .await
            .read()
            .await
            .assert_status(200);
    }
    let secret = commit_with(&app.store, async |tx| {
        admin::regenerate_consumer_secret(tx, &OsRandom, &app.state.key.0, &fx.app).await
    })
    .await
    .unwrap();
    let res = signed(&app, &creds, "GET", "/wp-json/wp/v2/users/me", None, &[])
        .await
        .read()
        .await
        .assert_status(401);
    assert_wp_error(&res, "json_oauth1_signature_mismatch");
    let renewed = Creds { secret, ..creds };
    signed(&app, &renewed, "GET", "/wp-json/wp/v2/users/me", None, &[])
        .await
        .read()
        .await
        .assert_status(200);
}
both!(a_regenerated_consumer_secret_ends_the_old_one_at_once_even_when_cached);
