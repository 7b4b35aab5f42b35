//! Protocol helpers that read like the flows: log in, authorize, approve, exchange a code.

use latchkey::domain::app::AppType;
use latchkey::store::{App, Site, User};

use crate::harness::*;

pub(crate) const ALICE_PASSWORD: &str = "correct horse battery";
pub(crate) const C1_REDIRECT: &str = "https://client.example/cb";

/// The catalogue's fixtures (security.md §0): alice administers two blogs, not a third; c1 is a
/// confidential web client with one redirect URI; c2 has two; c3 is another client.
pub(crate) struct World {
    pub alice: User,
    pub bob: User,
    pub blog1: Site,
    pub blog2: Site,
    pub foreign: Site,
    pub c1: App,
    pub s1: String,
    pub c2: App,
    pub s2: String,
    pub c3: App,
    pub s3: String,
}

pub(crate) async fn world(app: &TestApp) -> World {
    let alice = app.user("alice", ALICE_PASSWORD).await;
    let bob = app.user("bob", "bob's long password").await;
    let blog1 = app.site(&alice, "https://alice.example").await;
    let blog2 = app.site(&alice, "https://alice-two.example").await;
    let foreign = app.site(&bob, "https://bob.example").await;
    let (c1, s1) = app.app(&alice, &[C1_REDIRECT], AppType::Web).await;
    let (c2, s2) = app
        .app(
            &alice,
            &[
                "https://app2.example/cb",
                "https://app2.example/cb2?tenant=1",
            ],
            AppType::Web,
        )
        .await;
    let (c3, s3) = app
        .app(&bob, &["https://other.example/cb"], AppType::Web)
        .await;
    World {
        alice,
        bob,
        blog1,
        blog2,
        foreign,
        c1,
        s1,
        c2,
        s2,
        c3,
        s3,
    }
}

/// Undoes askama's HTML escaping of attribute values (named and numeric entities).
pub(crate) fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `value` of the input named `name` in a page.
pub(crate) fn input(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(unescape(&html[start..end]))
}

/// Every hidden input of a form, in order.
pub(crate) fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<input type=\"hidden\" name=\"") {
        rest = &rest[i + 27..];
        let name_end = rest.find('"').unwrap();
        let name = rest[..name_end].to_owned();
        let value =
            input(&format!("name=\"{name}\"{}", &rest[name_end + 1..]), &name).unwrap_or_default();
        out.push((name, value));
    }
    out
}

/// Query (or fragment) parameters of a redirect `Location`.
pub(crate) fn location_params(location: &str, fragment: bool) -> Vec<(String, String)> {
    let part = if fragment {
        location.split_once('#').map(|(_, f)| f).unwrap_or("")
    } else {
        location
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or("")
            .split('#')
            .next()
            .unwrap_or("")
    };
    form_urlencoded::parse(part.as_bytes())
        .into_owned()
        .collect()
}

pub(crate) fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

pub(crate) fn authz_query(client_id: i64, redirect_uri: &str, extra: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    s.append_pair("client_id", &client_id.to_string());
    s.append_pair("response_type", "code");
    s.append_pair("redirect_uri", redirect_uri);
    s.append_pair("state", "xyz");
    for (k, v) in extra {
        s.append_pair(k, v);
    }
    s.finish()
}

impl TestApp {
    /// Logs `browser` in through the real login form.
    /// A browser logged in as the seeded demo user (`serve --demo`'s account).
    pub(crate) async fn demo_browser(&self) -> reqwest::Client {
        latchkey::demo::seed(&self.state).await.unwrap();
        let browser = new_browser();
        self.login_as(
            &browser,
            latchkey::demo::DEMO_USERNAME,
            latchkey::demo::DEMO_PASSWORD,
        )
        .await
        .read()
        .await
        .assert_status(303);
        browser
    }

    pub(crate) async fn login_as(
        &self,
        browser: &reqwest::Client,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        let form = browser
            .get(self.url("/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = input(&form, "csrf").expect("login form has a csrf field");
        browser
            .post(self.url("/login"))
            .form(&[
                ("username", username),
                ("password", password),
                ("csrf", &csrf),
                ("redirect_to", "/"),
            ])
            .send()
            .await
            .unwrap()
    }

    /// A new browser, logged in as alice.
    pub(crate) async fn alice_browser(&self) -> reqwest::Client {
        let browser = new_browser();
        self.login_as(&browser, "alice", ALICE_PASSWORD)
            .await
            .read()
            .await
            .assert_status(303);
        browser
    }

    /// Logs alice in with cookies handled by hand and returns the session cookie (`name=value`).
    pub(crate) async fn login_by_hand(&self) -> String {
        let raw = new_browser_without_cookies();
        let form = raw.get(self.url("/login")).send().await.unwrap();
        let login_cookie = form
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let html = form.text().await.unwrap();
        let csrf = input(&html, "csrf").unwrap();
        let done = raw
            .post(self.url("/login"))
            .header("cookie", &login_cookie)
            .form(&[
                ("username", "alice"),
                ("password", ALICE_PASSWORD),
                ("csrf", &csrf),
                ("redirect_to", "/"),
            ])
            .send()
            .await
            .unwrap();
        done.headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .find(|c| {
                c.starts_with("latchkey_session=") || c.starts_with("__Host-latchkey_session=")
            })
            .unwrap()
    }

    /// GET /oauth2/authorize with a raw query, in `browser`.
    pub(crate) async fn authorize(
        &self,
        browser: &reqwest::Client,
        query: &str,
    ) -> reqwest::Response {
        browser
            .get(self.url(&format!("/oauth2/authorize?{query}")))
            .send()
            .await
            .unwrap()
    }

    /// Submits the consent page's form with `action` (and `blog_id` when given).
    pub(crate) async fn consent(
        &self,
        browser: &reqwest::Client,
        page: &str,
        action: &str,
        blog_id: Option<i64>,
    ) -> reqwest::Response {
        self.submit_consent(browser, "/oauth2/authorize", page, action, blog_id)
            .await
    }

    /// Submits the consent form of `page` to `path` (either dialect's authorize endpoint) with
    /// `action`; a `blog_id` replaces the one the page chose.
    pub(crate) async fn submit_consent(
        &self,
        browser: &reqwest::Client,
        path: &str,
        page: &str,
        action: &str,
        blog_id: Option<i64>,
    ) -> reqwest::Response {
        let mut fields = hidden_inputs(page);
        fields.retain(|(k, _)| k != "blog_id" || blog_id.is_none());
        if let Some(id) = blog_id {
            fields.push(("blog_id".into(), id.to_string()));
        }
        fields.push(("action".into(), action.into()));
        browser
            .post(self.url(path))
            .form(&fields)
            .send()
            .await
            .unwrap()
    }

    /// Runs the browser part of the code flow and returns the code from the redirect.
    pub(crate) async fn obtain_code(
        &self,
        browser: &reqwest::Client,
        query: &str,
        blog_id: Option<i64>,
    ) -> String {
        let page = self
            .authorize(browser, query)
            .await
            .read()
            .await
            .assert_status(200);
        self.approve_for_code(browser, "/oauth2/authorize", &page.body, blog_id)
            .await
    }

    /// Approves the consent `page` at `path` (either dialect's authorize endpoint) and returns the
    /// code from the redirect.
    pub(crate) async fn approve_for_code(
        &self,
        browser: &reqwest::Client,
        path: &str,
        page: &str,
        blog_id: Option<i64>,
    ) -> String {
        let redirect = self
            .submit_consent(browser, path, page, "approve", blog_id)
            .await
            .read()
            .await
            .assert_status(303);
        let params = location_params(redirect.header("location"), false);
        param(&params, "code")
            .unwrap_or_else(|| panic!("no code in {}", redirect.header("location")))
    }

    /// POST /oauth2/token with a form body.
    pub(crate) async fn token(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/oauth2/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// POST /oauth2/token with the password grant (RFC 6749 §4.3) for `client_id` and its
    /// `secret`, plus `extra`.
    pub(crate) async fn password_grant(
        &self,
        client_id: &str,
        secret: &str,
        username: &str,
        password: &str,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = vec![
            ("grant_type", "password"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("username", username),
            ("password", password),
        ];
        form.extend_from_slice(extra);
        self.token(&form).await
    }

    pub(crate) async fn exchange_code(
        &self,
        client: &App,
        secret: &str,
        code: &str,
        redirect_uri: &str,
    ) -> reqwest::Response {
        let id = client.id.to_string();
        self.token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("client_secret", secret),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ])
        .await
    }

    pub(crate) async fn token_info(&self, client_id: i64, token: &str) -> reqwest::Response {
        let q = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &client_id.to_string())
            .append_pair("token", token)
            .finish();
        self.http
            .get(self.url(&format!("/oauth2/token-info?{q}")))
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn me(&self, token: &str) -> reqwest::Response {
        self.http
            .get(self.url("/rest/v1.1/me"))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap()
    }

    /// A token for alice on blog1 through the whole code flow.
    pub(crate) async fn code_flow_token(&self, w: &World) -> String {
        let browser = self.alice_browser().await;
        let code = self
            .obtain_code(
                &browser,
                &authz_query(w.c1.id, C1_REDIRECT, &[]),
                Some(w.blog1.id),
            )
            .await;
        let issued = self
            .exchange_code(&w.c1, &w.s1, &code, C1_REDIRECT)
            .await
            .read()
            .await
            .assert_status(200);
        issued.json()["access_token"].as_str().unwrap().to_owned()
    }
}
