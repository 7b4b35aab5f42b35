//! End-to-end in a real browser (issue 5, security.md BR06; the pages of issue 13): headless
//! Chromium, driven through chromedriver's W3C WebDriver protocol, signs up (every error at once),
//! goes on from the home page, creates an app whose icon Latchkey fetches (its secret shown once,
//! after a redirect; the page checked at 390 px), sees the consent page without a blog, creates a
//! site, turns on 2-step, logs in again from the app (the login page names it), authorizes the app
//! from the playground, finds it under connected applications and disconnects it; then checks that
//! the consent page stays blank inside a frame on another origin. Every page is kept as a
//! screenshot in `target/screenshots/`.
//!
//! The WebDriver calls are a few JSON requests over `reqwest` (already a test dependency), which
//! keeps the test free of a browser-automation crate and its async stack. Without `chromedriver`
//! on the PATH the test prints a note and passes; `.ci/run` installs Debian's `chromium` and
//! `chromium-driver`, so CI always runs it.

use std::path::PathBuf;
use std::time::Duration;

use latchkey::domain::two_step;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::*;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    http: reqwest::Client,
    base: String,
    shots: PathBuf,
    count: usize,
    _process: tokio::process::Child,
    _profile: tempfile::TempDir,
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

impl Driver {
    async fn start() -> Option<Driver> {
        let Some(chromedriver) = find_on_path("chromedriver") else {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "note: chromedriver not found: the browser test was skipped (.ci/run installs chromium and chromium-driver)"
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = tokio::process::Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let root = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if http.get(format!("{root}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--window-size=1100,1000".into(),
        ];
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut options = json!({ "args": args });
        for binary in ["/usr/lib/chromium/chromium", "/usr/bin/chromium"] {
            if std::path::Path::new(binary).is_file() {
                options["binary"] = json!(binary);
                break;
            }
        }
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}
            }
        });
        let created: Value = http
            .post(format!("{root}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_owned();
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Some(Driver {
            http,
            base: format!("{root}/session/{session}"),
            shots,
            count: 0,
            _process: process,
            _profile: profile,
        })
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            request = request.json(&b);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        if let Some(error) = answer["value"]["error"].as_str()
            && error != "no such element"
        {
            panic!("WebDriver {path}: {error}: {}", answer["value"]["message"]);
        }
        answer["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    async fn find_all(&self, css: &str) -> Vec<String> {
        let found = self
            .cmd(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first element matching `css`, waiting up to 15 s for it (a click on a submit button
    /// returns before the next page has loaded).
    async fn find(&self, css: &str) -> String {
        for _ in 0..150 {
            if let Some(el) = self.find_all(css).await.into_iter().next() {
                return el;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no element {css} on {}: {}",
            self.url().await,
            self.source().await
        )
    }

    /// Waits for the page to show `css`, then returns its source.
    async fn page_with(&self, css: &str) -> String {
        self.find(css).await;
        self.source().await
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn type_in(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/clear"),
            Some(json!({})),
        )
        .await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn text(&self, css: &str) -> String {
        let el = self.find(css).await;
        self.cmd(reqwest::Method::GET, &format!("/element/{el}/text"), None)
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// Keeps a screenshot of the current page as `target/screenshots/NN-name.png`.
    async fn screenshot(&mut self, name: &str) -> PathBuf {
        use base64::Engine;
        let data = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap())
            .unwrap();
        self.count += 1;
        let path = self.shots.join(format!("{:02}-{name}.png", self.count));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Runs a script in the page (WebDriver bypasses the page's CSP) and returns its value.
    async fn execute(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Resizes the window, e.g. to a phone's 390 px.
    async fn window(&self, width: u32, height: u32) {
        self.cmd(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// Whether the page is wider than the window (it scrolls sideways).
    async fn scrolls_sideways(&self) -> bool {
        self.execute(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth;",
        )
        .await
        .as_bool()
        .unwrap()
    }

    /// Whether the image matching `css` loaded (a broken or blocked image has no natural width).
    async fn image_loaded(&self, css: &str) -> bool {
        let script = format!(
            "const i = document.querySelector({}); return !!i && i.complete && i.naturalWidth > 0;",
            json!(css)
        );
        for _ in 0..50 {
            if self.execute(&script).await.as_bool() == Some(true) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    async fn frame(&self, css: Option<&str>) {
        let id = match css {
            Some(css) => json!({ ELEMENT: self.find(css).await }),
            None => Value::Null,
        };
        self.cmd(reqwest::Method::POST, "/frame", Some(json!({"id": id})))
            .await;
    }

    async fn quit(&self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}

/// Serves, on another port (another origin), a page that frames `target` and, as a control, a
/// page of its own origin.
async fn framing_site(target: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let target = target.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]);
                let body = if request.starts_with("GET /inner") {
                    "<!doctype html><p id=\"inner\">INNER-OK</p>".to_owned()
                } else {
                    format!(
                        "<!doctype html><title>Framing test</title><h1>Another origin framing Latchkey</h1>\
                         <iframe id=\"victim\" src=\"{}\" width=\"900\" height=\"500\"></iframe>\
                         <iframe id=\"control\" src=\"/inner\" width=\"300\" height=\"80\"></iframe>",
                        target.replace('&', "&amp;").replace('"', "&quot;")
                    )
                };
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    origin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_up_registers_an_app_authorizes_it_from_the_playground_and_disconnects_it() {
    let Some(mut b) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.signup = true;
        c.icon_fetch_allow_loopback = true;
    })
    .await
    .unwrap();
    let base = app.base.clone();
    let icons = crate::web_pages::IconServer::start().await;

    // Sign up: every field's problem shows at once, with the input kept.
    b.goto(&format!("{base}/signup")).await;
    assert_eq!(
        b.find_all("nav a[href='/login']").await.len(),
        1,
        "the visitor's nav"
    );
    b.type_in("#username", "b").await;
    b.type_in("#email", "bea-at-example").await;
    b.type_in("#password", "short").await;
    b.click("form[action='/signup'] button[type=submit]").await;
    assert!(
        b.text("#password-error")
            .await
            .contains("at least 8 characters")
    );
    assert!(b.text("#username-error").await.contains("3 to 60"));
    assert!(b.text("#email-error").await.contains("name@example.com"));
    assert_eq!(
        b.find_all("#email[value='bea-at-example']").await.len(),
        1,
        "the email address is kept"
    );
    b.screenshot("signup-errors").await;
    b.type_in("#username", "bea").await;
    b.type_in("#email", "bea@example.com").await;
    b.type_in("#password", "a long enough password").await;
    b.click("form[action='/signup'] button[type=submit]").await;
    assert!(
        b.page_with("form[action='/logout']")
            .await
            .contains("Logged in as"),
        "signed up and logged in"
    );
    // Home is no dead end: the nav and a way to each page.
    for path in ["/apps", "/sites", "/playground", "/me/security"] {
        assert!(
            b.find_all(&format!("nav a[href='{path}']")).await.len() == 1
                && b.find_all(&format!("ul.places a[href='{path}']"))
                    .await
                    .len()
                    == 1,
            "{path} from home"
        );
    }
    b.screenshot("home").await;

    // An app with an icon, which Latchkey fetches now and serves itself. The POST answers with a
    // redirect, and the page after it shows the secret once.
    b.click("ul.places a[href='/apps']").await;
    b.click("a[href='/apps/new']").await;
    b.type_in("#name", "Bea's Reader").await;
    b.type_in("#description", "Reads Bea's posts aloud.").await;
    b.type_in("#website", "https://reader.example").await;
    b.type_in("#icon_url", &icons.url("/icon.png")).await;
    b.type_in("#redirect_uris", &format!("{base}/playground/callback"))
        .await;
    b.type_in(
        "#oauth1_callback",
        "https://reader.example/oauth1/a-rather-long-callback-path-that-must-wrap-on-a-phone?with=query&and=more",
    )
    .await;
    b.click("form[action='/apps/new'] button[type=submit]")
        .await;
    let secret = b.text("#client-secret").await;
    let client_id = b.text("#client-id").await;
    assert!(secret.starts_with("lkcs_"));
    let app_url = b.url().await;
    assert!(
        app_url.ends_with(&format!("/apps/{client_id}")),
        "redirected to the app's page: {app_url}"
    );
    assert!(b.image_loaded(".app-title img.app-icon").await);
    b.screenshot("app-created").await;
    // On a phone the page does not scroll sideways.
    b.window(390, 1200).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !b.scrolls_sideways().await,
        "the app page scrolls sideways at 390 px"
    );
    b.screenshot("app-created-390px").await;
    b.window(1100, 1000).await;
    // A reload shows the page without the secret and creates nothing.
    b.goto(&app_url).await;
    b.find("#client-id").await;
    assert!(b.find_all("#client-secret").await.is_empty());
    assert!(!b.source().await.contains(&secret));
    assert_eq!(app.count("apps").await, 1);
    // Resetting asks first; cancelling resets nothing.
    b.click(&format!("a[href='/apps/{client_id}/reset-secret']"))
        .await;
    assert!(
        b.page_with("button.danger")
            .await
            .contains("Reset the client secret of")
    );
    b.screenshot("reset-secret-confirmation").await;
    b.click(&format!(".actions a[href='/apps/{client_id}']"))
        .await;
    b.find("#client-id").await;
    b.goto(&format!("{base}/apps")).await;
    assert!(
        b.source().await.contains("Bea's Reader") || b.source().await.contains("Bea&#39;s Reader")
    );
    b.screenshot("applications-manager").await;

    // Consent before Bea has a blog: the icon is Latchkey's copy, and a link leads to creating a
    // site.
    let consent = format!(
        "{base}/oauth2/authorize?client_id={client_id}&response_type=code&redirect_uri={}",
        form_urlencoded::byte_serialize(format!("{base}/playground/callback").as_bytes())
            .collect::<String>()
    );
    b.goto(&consent).await;
    b.find("#create-site a[href='/sites']").await;
    assert!(b.find_all("button[value=approve]").await.is_empty());
    assert!(
        b.image_loaded("#app-icon").await,
        "the icon shows under the CSP"
    );
    assert_eq!(
        b.execute("return document.querySelector('#app-icon').src;")
            .await
            .as_str()
            .unwrap(),
        format!("{base}/apps/{client_id}/icon"),
        "no third-party image"
    );
    b.screenshot("consent-without-a-blog").await;

    // A site to grant access to.
    b.goto(&format!("{base}/sites")).await;
    b.type_in("#url", "https://bea.example").await;
    b.type_in("#name", "Bea's Blog").await;
    b.click("form[action='/sites'] button[type=submit]").await;
    assert!(b.page_with("#member").await.contains("administrator"));
    b.screenshot("site").await;

    // 2-step authentication: the "authenticator app" reads the key off the page, a code turns it
    // on, and the recovery codes are shown once. Then log out and start from the app: the login
    // page names it, then password, then one of those recovery codes (letters too, so the field
    // is not numeric), then the consent page.
    b.goto(&format!("{base}/me/security/two-step")).await;
    let seed = b.text("#seed").await.replace(' ', "");
    let seed = totp_rs::Secret::Encoded(seed).to_bytes().unwrap();
    let code = two_step::code_at(&seed, two_step::step_of(app.clock_now())).unwrap();
    b.type_in("#code", &code).await;
    b.click("form[action='/me/security/two-step/enable'] button[type=submit]")
        .await;
    assert!(
        b.page_with("ul.codes")
            .await
            .contains("Save these recovery codes")
    );
    let recovery = b.text("ul.codes li code").await;
    b.screenshot("two-step-recovery-codes").await;
    b.click("form[action='/logout'] button").await;
    b.find("form[action='/login']").await;
    b.goto(&consent).await;
    assert!(
        b.text("h1")
            .await
            .contains("Log in to continue to Bea's Reader"),
        "the login page names the app asking"
    );
    assert_eq!(b.find_all("#signup-link").await.len(), 1);
    b.screenshot("login-for-an-app").await;
    b.type_in("#username", "bea").await;
    b.type_in("#password", "a long enough password").await;
    b.click("form[action='/login'] button[type=submit]").await;
    b.page_with("#otp").await;
    assert!(
        b.find_all("#otp[inputmode=numeric]").await.is_empty(),
        "recovery codes have letters"
    );
    b.screenshot("login-two-step").await;
    b.type_in("#otp", &recovery).await;
    b.click("form[action='/login/two-step'] button[type=submit]")
        .await;
    assert!(
        b.page_with("button[value=approve]")
            .await
            .contains("Authorize Bea"),
        "logged in with the password and a recovery code, back on the consent page"
    );

    // An error page offers a way home.
    b.goto(&format!("{base}/oauth2/authorize?client_id=999999"))
        .await;
    assert!(b.page_with("#home-link").await.contains("Error Code"));
    b.screenshot("error-page").await;
    b.click("#home-link").await;
    b.find("ul.places").await;

    // Authorize it from the playground.
    b.goto(&format!("{base}/playground")).await;
    b.click(&format!("#client_id option[value='{client_id}']"))
        .await;
    b.type_in("#client_secret", &secret).await;
    b.screenshot("playground").await;
    b.click("button[name=flow][value=code]").await;
    assert!(
        b.page_with("button[value=approve]")
            .await
            .contains("Authorize Bea")
    );
    assert!(
        b.url().await.contains("/oauth2/authorize?"),
        "on the consent page"
    );
    b.screenshot("consent").await;
    b.click("button[value=approve]").await;
    let token = b.text("#access-token").await;
    assert!(b.source().await.contains("token-info"));
    b.screenshot("playground-code-flow").await;
    app.token_info(client_id.parse().unwrap(), &token)
        .await
        .read()
        .await
        .assert_status(200);

    // Connected applications, then disconnect.
    b.goto(&format!("{base}/me/security/connected-applications"))
        .await;
    assert!(b.source().await.contains("Bea's Blog") || b.source().await.contains("Bea&#39;s Blog"));
    b.screenshot("connected-applications").await;
    b.click(&format!(
        "form[action='/me/security/connected-applications/{client_id}/disconnect'] button"
    ))
    .await;
    assert!(b.page_with(".notice").await.contains("was disconnected"));
    b.screenshot("disconnected").await;
    app.token_info(client_id.parse().unwrap(), &token)
        .await
        .read()
        .await
        .assert_status(400);

    // BR06: the consent page, framed by another origin, stays blank.
    let framer = framing_site(consent.clone()).await;
    // The consent page itself renders for this browser (the session is there).
    b.goto(&consent).await;
    assert_eq!(b.find_all("button[value=approve]").await.len(), 1);
    b.goto(&framer).await;
    // Navigation returns once the page has loaded, frames included; the control frame showing its
    // text (waited for, up to `find`'s 15 s, rather than a fixed 1.5 s) says frames work there.
    b.frame(Some("#control")).await;
    assert!(
        b.page_with("#inner").await.contains("INNER-OK"),
        "frames work on the framing site"
    );
    b.frame(None).await;
    b.screenshot("framing-blocked").await;
    b.frame(Some("#victim")).await;
    let framed = b.source().await;
    assert!(
        b.find_all("button[value=approve]").await.is_empty(),
        "the consent page rendered in a frame: {framed}"
    );
    assert!(!framed.contains("Authorize Bea"), "{framed}");
    b.frame(None).await;
    b.quit().await;
}
