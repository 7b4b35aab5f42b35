//! The web pages of issue 13, over real HTTP on both databases: post/redirect/get for the secrets
//! shown once, confirmation before a reset, app icons fetched by Latchkey under SSRF rules (from a
//! loopback server the test starts, with the test-only switch on) and served with a strict type,
//! every sign-up error at once, and the ways on from the home, login and error pages.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use latchkey::domain::secret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::both;
use crate::flows::*;
use crate::harness::*;
use crate::selfservice::*;

pub(crate) const ICON_PNG: &[u8] = include_bytes!("icon.png");

/// A loopback web server with icons good and bad; counts the requests it answers.
pub(crate) struct IconServer {
    pub origin: String,
    pub hits: Arc<AtomicUsize>,
}

impl IconServer {
    pub(crate) async fn start() -> IconServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    let request = String::from_utf8_lossy(&buf[..n]).into_owned();
                    let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let (status, headers, body): (&str, String, Vec<u8>) = match path.as_str() {
                        "/icon.png" => (
                            "200 OK",
                            "content-type: image/png\r\n".into(),
                            ICON_PNG.to_vec(),
                        ),
                        "/big.png" => {
                            let mut big = ICON_PNG.to_vec();
                            big.resize(300 * 1024, 0);
                            ("200 OK", "content-type: image/png\r\n".into(), big)
                        }
                        "/page.html" => (
                            "200 OK",
                            "content-type: text/html\r\n".into(),
                            b"<html>hello</html>".to_vec(),
                        ),
                        "/disguised.png" => (
                            "200 OK",
                            "content-type: image/png\r\n".into(),
                            b"<svg onload=alert(1)></svg>".to_vec(),
                        ),
                        "/icon.svg" => (
                            "200 OK",
                            "content-type: image/svg+xml\r\n".into(),
                            b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec(),
                        ),
                        "/moved.png" => ("302 Found", "location: /icon.png\r\n".into(), Vec::new()),
                        _ => (
                            "404 Not Found",
                            "content-type: text/plain\r\n".into(),
                            b"no".to_vec(),
                        ),
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&body).await;
                });
            }
        });
        IconServer { origin, hits }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }
}

/// Posts the new-app form with this icon URL (and otherwise valid fields).
async fn create_with_icon(
    app: &TestApp,
    browser: &reqwest::Client,
    icon_url: &str,
) -> reqwest::Response {
    let csrf = csrf_for(app, browser, "/apps/new", "/apps/new").await;
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "Icon App"),
        ("description", ""),
        ("website", ""),
        ("icon_url", icon_url),
        ("app_type", "web"),
        ("redirect_uris", C1_REDIRECT),
        ("js_origins", ""),
        ("allow_implicit", "1"),
        ("oauth1_callback", ""),
    ];
    post(app, browser, "/apps/new", &form).await
}

async fn creating_an_app_redirects_and_only_the_next_page_shows_the_secret(app: TestApp) {
    world(&app).await;
    let browser = app.alice_browser().await;
    let before = app.count("apps").await;
    let csrf = csrf_for(&app, &browser, "/apps/new", "/apps/new").await;
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "PRG App"),
        ("app_type", "web"),
        ("redirect_uris", C1_REDIRECT),
        ("allow_implicit", "1"),
        ("oauth1_callback", "oob"),
    ];
    let created = post(&app, &browser, "/apps/new", &form)
        .await
        .read()
        .await
        .assert_status(303);
    assert_eq!(app.count("apps").await, before + 1);
    let location = created.header("location").to_owned();
    assert!(
        !created.body.contains("lkcs_"),
        "the POST's answer carries no secret"
    );
    let set_cookie = created.header("set-cookie");
    assert!(
        set_cookie.contains("HttpOnly") && !set_cookie.contains("lkcs_"),
        "the secret travels sealed: {set_cookie}"
    );
    let shown = browser
        .get(app.url(&location))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert_eq!(shown.header("cache-control"), "no-store");
    let secret = by_id(&shown.body, "client-secret")
        .expect("the secret is shown on the page after the redirect");
    assert!(by_id(&shown.body, "consumer-secret").is_some());
    let id: i64 = by_id(&shown.body, "client-id").unwrap().parse().unwrap();
    assert_eq!(
        app.store
            .app_by_id(id)
            .await
            .unwrap()
            .unwrap()
            .secret_digest,
        secret::digest(&secret).to_vec()
    );
    // A reload shows the page without the secret and creates nothing.
    let reloaded = browser
        .get(app.url(&location))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(!reloaded.body.contains(&secret) && by_id(&reloaded.body, "client-secret").is_none());
    assert_eq!(app.count("apps").await, before + 1);
    // Another user's browser given the same cookie sees nothing either.
    let bob = new_browser();
    app.login_as(&bob, "bob", "bob's long password")
        .await
        .read()
        .await
        .assert_status(303);
    let page = bob
        .get(app.url(&location))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(404);
    assert!(!page.body.contains(&secret));
}
both!(creating_an_app_redirects_and_only_the_next_page_shows_the_secret);

async fn resetting_a_secret_asks_first_and_a_reload_resets_nothing(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let id = w.c1.id;
    let app_page = browser
        .get(app.url(&format!("/apps/{id}")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(
        app_page
            .body
            .contains(&format!("href=\"/apps/{id}/reset-secret\"")),
        "the app page links to the confirmation"
    );
    assert!(
        !app_page
            .body
            .contains(&format!("action=\"/apps/{id}/reset-secret\"")),
        "no one-click reset"
    );
    let confirm = browser
        .get(app.url(&format!("/apps/{id}/reset-secret")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(confirm.body.contains("Reset the client secret of"));
    assert_eq!(
        app.store
            .app_by_id(id)
            .await
            .unwrap()
            .unwrap()
            .secret_digest,
        w.c1.secret_digest,
        "asking resets nothing"
    );
    let csrf = form_csrf(&confirm.body, &format!("/apps/{id}/reset-secret"));
    let done = post(
        &app,
        &browser,
        &format!("/apps/{id}/reset-secret"),
        &[("csrf", &csrf)],
    )
    .await
    .read()
    .await
    .assert_status(303);
    assert_eq!(done.header("location"), format!("/apps/{id}"));
    let after_reset = app
        .store
        .app_by_id(id)
        .await
        .unwrap()
        .unwrap()
        .secret_digest;
    assert_ne!(after_reset, w.c1.secret_digest);
    let shown = browser
        .get(app.url(&format!("/apps/{id}")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    let secret = by_id(&shown.body, "client-secret").unwrap();
    assert_eq!(after_reset, secret::digest(&secret).to_vec());
    let reloaded = browser
        .get(app.url(&format!("/apps/{id}")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(!reloaded.body.contains(&secret));
    assert_eq!(
        app.store
            .app_by_id(id)
            .await
            .unwrap()
            .unwrap()
            .secret_digest,
        after_reset,
        "a reload resets nothing"
    );
    // The consumer secret's confirmation exists only for apps with a consumer.
    browser
        .get(app.url(&format!("/apps/{id}/regenerate-consumer-secret")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
}
both!(resetting_a_secret_asks_first_and_a_reload_resets_nothing);

async fn an_app_without_an_icon_gets_its_initials_from_latchkey(app: TestApp) {
    let w = world(&app).await;
    let response = app
        .http
        .get(app.url(&format!("/apps/{}/icon", w.c1.id)))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert_eq!(response.header("content-type"), "image/svg+xml");
    assert_eq!(response.header("x-content-type-options"), "nosniff");
    assert!(
        response.body.contains(">TA</text>"),
        "Test App's initials: {}",
        response.body
    );
    app.http
        .get(app.url("/apps/999999/icon"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(404);
    app.http
        .get(app.url("/apps/abc/icon"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(404);
}
both!(an_app_without_an_icon_gets_its_initials_from_latchkey);

async fn icon_urls_on_private_or_local_addresses_are_refused_without_a_request(app: TestApp) {
    world(&app).await;
    let server = IconServer::start().await;
    let browser = app.alice_browser().await;
    let before = app.count("apps").await;
    let port = server.origin.rsplit(':').next().unwrap().to_owned();
    for url in [
        server.url("/icon.png"),
        format!("https://127.0.0.1:{port}/icon.png"),
        format!("https://localhost:{port}/icon.png"),
        format!("https://[::1]:{port}/icon.png"),
        "https://10.0.0.1/icon.png".into(),
        "https://192.168.1.1/icon.png".into(),
        "https://169.254.169.254/latest/meta-data".into(),
        "https://[fd00::1]/icon.png".into(),
        "https://[::ffff:127.0.0.1]/icon.png".into(),
    ] {
        let page = create_with_icon(&app, &browser, &url)
            .await
            .read()
            .await
            .assert_status(400);
        let error =
            by_id(&page.body, "icon-url-error").unwrap_or_else(|| panic!("{url}: {}", page.body));
        assert!(error.contains("private or local address"), "{url}: {error}");
    }
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        0,
        "no request reached the loopback server"
    );
    assert_eq!(app.count("apps").await, before);
}
both!(icon_urls_on_private_or_local_addresses_are_refused_without_a_request);

async fn an_icon_is_fetched_once_at_registration_and_served_by_latchkey(app: TestApp) {
    let w = world(&app).await;
    let server = IconServer::start().await;
    let browser = app.alice_browser().await;
    let icon_url = server.url("/icon.png");
    let created = create_with_icon(&app, &browser, &icon_url).await;
    let page = follow(&app, &browser, created).await;
    let id: i64 = by_id(&page.body, "client-id").unwrap().parse().unwrap();
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
    let icon = app
        .http
        .get(app.url(&format!("/apps/{id}/icon")))
        .send()
        .await
        .unwrap();
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/png");
    assert_eq!(icon.headers()["x-content-type-options"], "nosniff");
    assert_eq!(icon.bytes().await.unwrap().as_ref(), ICON_PNG);
    // The consent page shows Latchkey's copy, and loads nothing from the icon's host.
    let consent = browser
        .get(app.url(&format!(
            "/oauth2/authorize?{}",
            authz_query(id, C1_REDIRECT, &[])
        )))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(consent.body.contains(&format!("src=\"/apps/{id}/icon\"")));
    assert!(!consent.body.contains(&server.origin));
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        1,
        "showing the icon fetches nothing"
    );
    // Saving the app with the same icon URL fetches nothing; emptying it brings the initials back.
    let edit = browser
        .get(app.url(&format!("/apps/{id}/edit")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    let csrf = form_csrf(&edit.body, &format!("/apps/{id}/edit"));
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("name", "Icon App"),
        ("app_type", "web"),
        ("redirect_uris", C1_REDIRECT),
        ("icon_url", icon_url.as_str()),
    ];
    post(&app, &browser, &format!("/apps/{id}/edit"), &form)
        .await
        .read()
        .await
        .assert_status(303);
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
    form.retain(|(k, _)| *k != "icon_url");
    post(&app, &browser, &format!("/apps/{id}/edit"), &form)
        .await
        .read()
        .await
        .assert_status(303);
    let icon = app
        .http
        .get(app.url(&format!("/apps/{id}/icon")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert_eq!(icon.header("content-type"), "image/svg+xml");
    let _ = w;
}
both!(
    an_icon_is_fetched_once_at_registration_and_served_by_latchkey,
    icon_fetch_allow_loopback = true
);

async fn icons_too_large_of_the_wrong_type_or_behind_a_redirect_are_refused_next_to_the_field(
    app: TestApp,
) {
    world(&app).await;
    let server = IconServer::start().await;
    let browser = app.alice_browser().await;
    let before = app.count("apps").await;
    for (path, words) in [
        ("/big.png", "larger than 256 KiB"),
        ("/page.html", "PNG, JPEG, GIF or WebP"),
        ("/disguised.png", "PNG, JPEG, GIF or WebP"),
        ("/icon.svg", "PNG, JPEG, GIF or WebP"),
        ("/moved.png", "redirect"),
        ("/missing.png", "status 404"),
    ] {
        let page = create_with_icon(&app, &browser, &server.url(path))
            .await
            .read()
            .await
            .assert_status(400);
        let error =
            by_id(&page.body, "icon-url-error").unwrap_or_else(|| panic!("{path}: {}", page.body));
        assert!(error.contains(words), "{path}: {error}");
        assert!(
            unescape(&page.body).contains(&server.url(path)),
            "{path}: the input is kept"
        );
    }
    assert_eq!(app.count("apps").await, before);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM app_icons").await, 0);
}
both!(
    icons_too_large_of_the_wrong_type_or_behind_a_redirect_are_refused_next_to_the_field,
    icon_fetch_allow_loopback = true
);

async fn signup_shows_every_fields_error_at_once(app: TestApp) {
    app.user("taken", "a long enough password").await;
    let browser = new_browser();
    let csrf = csrf_for(&app, &browser, "/signup", "/signup").await;
    let form = [
        ("csrf", csrf.as_str()),
        ("username", "a b"),
        ("email", "nope"),
        ("password", "short"),
    ];
    let page = post(&app, &browser, "/signup", &form)
        .await
        .read()
        .await
        .assert_status(400);
    for (id, words) in [
        ("username-error", "letters, digits"),
        ("email-error", "name@example.com"),
        ("password-error", "at least 8 characters"),
    ] {
        let error = by_id(&page.body, id).unwrap_or_else(|| panic!("no #{id} in {}", page.body));
        assert!(error.contains(words), "{id}: {error}");
    }
    // Taken username and taken email address together.
    let taken_email = app
        .store
        .user_by_login("taken")
        .await
        .unwrap()
        .unwrap()
        .email;
    let csrf = csrf_for(&app, &browser, "/signup", "/signup").await;
    let form = [
        ("csrf", csrf.as_str()),
        ("username", "taken"),
        ("email", taken_email.as_str()),
        ("password", "a long enough password"),
    ];
    let page = post(&app, &browser, "/signup", &form)
        .await
        .read()
        .await
        .assert_status(400);
    assert!(
        by_id(&page.body, "username-error")
            .unwrap()
            .contains("already taken")
    );
    assert!(
        by_id(&page.body, "email-error")
            .unwrap()
            .contains("already taken")
    );
    assert_eq!(app.count("users").await, 1);
}
both!(signup_shows_every_fields_error_at_once, signup = true);

async fn home_login_and_error_pages_each_offer_a_way_on(app: TestApp) {
    let w = world(&app).await;
    // The visitor's home page offers log in and sign-up; the login page links to sign-up,
    // keeping where it goes next, and names the app whose authorization it interrupts.
    let home = app.get("/").await.read().await.assert_status(200);
    assert!(home.body.contains("href=\"/login\"") && home.body.contains("href=\"/signup\""));
    let query = authz_query(w.c1.id, C1_REDIRECT, &[]);
    let browser = new_browser();
    let to_login = browser
        .get(app.url(&format!("/oauth2/authorize?{query}")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(303);
    let login = browser
        .get(app.url(to_login.header("location")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(
        login.body.contains("Log in to continue to Test App"),
        "{}",
        login.body
    );
    let signup = unescape(&by_attr(&login.body, "signup-link", "href"));
    assert!(
        signup.starts_with("/signup?redirect_to=%2Foauth2%2Fauthorize%3F"),
        "{signup}"
    );
    // The logged-in home page leads to every self-service page.
    let alice = app.alice_browser().await;
    let home = alice
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    for path in [
        "/apps",
        "/sites",
        "/playground",
        "/me/security/connected-applications",
        "/me/security",
    ] {
        assert!(
            home.body.contains(&format!("href=\"{path}\"")),
            "{path} missing from the home page"
        );
    }
    assert!(home.body.contains("action=\"/logout\""));
    // An error page links home.
    let error = alice
        .get(app.url("/oauth2/authorize?client_id=999999"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(400);
    assert!(
        error.body.contains("Error Code: invalid_request")
            && by_attr(&error.body, "home-link", "href") == "/"
    );
}
both!(
    home_login_and_error_pages_each_offer_a_way_on,
    signup = true
);

async fn the_consent_page_of_a_user_without_a_blog_links_to_creating_one(app: TestApp) {
    let w = world(&app).await;
    app.user("carol", "carol's long password").await;
    let browser = new_browser();
    app.login_as(&browser, "carol", "carol's long password")
        .await
        .read()
        .await
        .assert_status(303);
    let query = authz_query(w.c1.id, C1_REDIRECT, &[]);
    let consent = browser
        .get(app.url(&format!("/oauth2/authorize?{query}")))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert!(consent.body.contains("You do not administer any blog"));
    assert!(!consent.body.contains("value=\"approve\""));
    assert!(
        consent.body.contains("href=\"/sites\""),
        "a way to create a site: {}",
        consent.body
    );
}
both!(
    the_consent_page_of_a_user_without_a_blog_links_to_creating_one,
    signup = true
);

/// The value of `attr` on the element with this id.
fn by_attr(html: &str, id: &str, attr: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let tag_start = html[..at].rfind('<').unwrap();
    let tag_end = at + html[at..].find('>').unwrap();
    let tag = &html[tag_start..tag_end];
    let marker = format!("{attr}=\"");
    let start = tag.find(&marker).unwrap() + marker.len();
    let end = start + tag[start..].find('"').unwrap();
    tag[start..end].to_owned()
}
