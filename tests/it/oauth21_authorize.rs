//! `/oauth2-1/authorize` (oauth21.md §2): the code flow only, PKCE S256 for every client, the 2.1
//! scopes, resource indicators, `nonce`, `prompt`, `max_age`, and `iss` in every response. Also the
//! helpers the 2.1 token tests share.

use latchkey::store::App;

use crate::both;
use crate::flows::*;
use crate::harness::*;

pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A 2.1 authorization request of `client_id` to [`C1_REDIRECT`], with PKCE, plus `extra`.
pub(crate) fn q21(client_id: i64, extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    pairs.extend_from_slice(extra);
    authz_query(client_id, C1_REDIRECT, &pairs)
}

impl TestApp {
    pub(crate) async fn authorize21(
        &self,
        browser: &reqwest::Client,
        query: &str,
    ) -> reqwest::Response {
        browser
            .get(self.url(&format!("/oauth2-1/authorize?{query}")))
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn consent21(
        &self,
        browser: &reqwest::Client,
        page: &str,
        action: &str,
        blog_id: Option<i64>,
    ) -> reqwest::Response {
        self.submit_consent(browser, "/oauth2-1/authorize", page, action, blog_id)
            .await
    }

    /// The browser part of the 2.1 code flow: the code from the redirect (at once when an
    /// earlier identical grant stands for consent).
    pub(crate) async fn code21(
        &self,
        browser: &reqwest::Client,
        query: &str,
        blog_id: Option<i64>,
    ) -> String {
        let page = self.authorize21(browser, query).await.read().await;
        if page.status == 303 {
            let params = redirect_params(&page);
            return param(&params, "code")
                .unwrap_or_else(|| panic!("no code in {}", page.header("location")));
        }
        let page = page.assert_status(200);
        self.approve_for_code(browser, "/oauth2-1/authorize", &page.body, blog_id)
            .await
    }

    pub(crate) async fn token21(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/oauth2-1/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Redeems `code` as `client`, with the verifier and `extra` parameters.
    pub(crate) async fn exchange21(
        &self,
        client: &App,
        secret: &str,
        code: &str,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let id = client.id.to_string();
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("client_id", id.as_str()),
            ("client_secret", secret),
            ("code", code),
            ("redirect_uri", C1_REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        form.extend_from_slice(extra);
        self.token21(&form).await
    }
}

/// The query parameters of a redirect to the client.
#[track_caller]
pub(crate) fn redirect_params(checked: &Checked) -> Vec<(String, String)> {
    let location = checked.header("location");
    assert!(location.starts_with(C1_REDIRECT), "{location}");
    location_params(location, false)
}

#[track_caller]
fn assert_bounced(checked: &Checked, app: &TestApp, error: &str) {
    let params = redirect_params(checked);
    assert_eq!(
        param(&params, "error").as_deref(),
        Some(error),
        "{params:?}"
    );
    assert!(param(&params, "error_description").is_some());
    assert_eq!(param(&params, "state").as_deref(), Some("xyz"));
    assert_eq!(param(&params, "iss").as_deref(), Some(app.base.as_str()));
}

async fn the_code_flow_answers_with_a_code_the_state_and_the_issuer(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let page = app
        .authorize21(&browser, &q21(w.c1.id, &[("scope", "auth openid")]))
        .await
        .read()
        .await
        .assert_status(200);
    assert!(
        page.body.contains("/oauth2-1/authorize"),
        "the form posts to the 2.1 endpoint"
    );
    let redirect = app
        .consent21(&browser, &page.body, "approve", None)
        .await
        .read()
        .await
        .assert_status(303);
    let params = redirect_params(&redirect);
    assert!(param(&params, "code").is_some_and(|c| c.starts_with("lkac_")));
    assert_eq!(param(&params, "state").as_deref(), Some("xyz"));
    assert_eq!(param(&params, "iss").as_deref(), Some(app.base.as_str()));
}
both!(the_code_flow_answers_with_a_code_the_state_and_the_issuer);

async fn pkce_s256_is_required_for_every_client_even_a_confidential_one(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("no challenge at all", &[]),
        (
            "a plain challenge",
            &[
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "plain"),
            ],
        ),
        (
            "a challenge without a method",
            &[("code_challenge", CHALLENGE)],
        ),
        (
            "a challenge that is no S256 digest",
            &[
                ("code_challenge", "short"),
                ("code_challenge_method", "S256"),
            ],
        ),
    ];
    for (why, extra) in cases {
        let r = app
            .authorize21(&browser, &authz_query(w.c1.id, C1_REDIRECT, extra))
            .await
            .read()
            .await
            .assert_status(303);
        let params = redirect_params(&r);
        assert_eq!(
            param(&params, "error").as_deref(),
            Some("invalid_request"),
            "{why}"
        );
        assert_eq!(
            param(&params, "iss").as_deref(),
            Some(app.base.as_str()),
            "{why}"
        );
    }
}
both!(pkce_s256_is_required_for_every_client_even_a_confidential_one);

async fn response_type_token_is_unsupported_on_the_oauth21_server(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let query = q21(w.c1.id, &[]).replace("response_type=code", "response_type=token");
    let r = app
        .authorize21(&browser, &query)
        .await
        .read()
        .await
        .assert_status(303);
    assert_bounced(&r, &app, "unsupported_response_type");
    assert!(
        !r.header("location").contains('#'),
        "errors go in the query, never a fragment"
    );
}
both!(response_type_token_is_unsupported_on_the_oauth21_server);

async fn a_client_without_the_authorization_code_grant_is_refused_at_its_redirect_uri(
    app: TestApp,
) {
    use latchkey::domain::client_metadata::GrantType;
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    app.set_grants(w.c1.id, &[GrantType::ClientCredentials])
        .await;
    for extra in [&[][..], &[("prompt", "none")][..]] {
        let r = app
            .authorize21(&browser, &q21(w.c1.id, extra))
            .await
            .read()
            .await
            .assert_status(303);
        assert_bounced(&r, &app, "unauthorized_client");
    }
    // A redirect URI the client did not register is still a page, never a redirect.
    let r = app
        .authorize21(
            &browser,
            &authz_query(
                w.c1.id,
                "https://evil.example/cb",
                &[
                    ("code_challenge", CHALLENGE),
                    ("code_challenge_method", "S256"),
                ],
            ),
        )
        .await
        .read()
        .await
        .assert_status(400);
    assert!(!r.headers.contains_key("location"), "no redirect");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM auth_codes").await, 0);
    // The legacy dialect does not read the 2.1 grant list.
    app.authorize(&browser, &authz_query(w.c1.id, C1_REDIRECT, &[]))
        .await
        .read()
        .await
        .assert_status(200);
}
both!(a_client_without_the_authorization_code_grant_is_refused_at_its_redirect_uri);

async fn oidc_scopes_join_any_form_on_oauth21_and_the_legacy_authorize_still_refuses_them(
    app: TestApp,
) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    for scope in [
        "openid",
        "auth openid profile email",
        "global offline_access",
        "posts,media openid",
    ] {
        app.authorize21(&browser, &q21(w.c1.id, &[("scope", scope)]))
            .await
            .read()
            .await
            .assert_status(200);
    }
    let bad = app
        .authorize21(&browser, &q21(w.c1.id, &[("scope", "auth global")]))
        .await
        .read()
        .await
        .assert_status(303);
    assert_bounced(&bad, &app, "invalid_scope");
    let legacy = app
        .authorize(
            &browser,
            &authz_query(w.c1.id, C1_REDIRECT, &[("scope", "posts openid")]),
        )
        .await
        .read()
        .await;
    assert_eq!(legacy.status, 400, "{}", legacy.body);
    assert!(
        legacy.body.contains("Invalid &#34;scope&#34;."),
        "{}",
        legacy.body
    );
}
both!(oidc_scopes_join_any_form_on_oauth21_and_the_legacy_authorize_still_refuses_them);

async fn resource_indicators_name_latchkeys_resources_or_they_are_invalid_targets(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let rest = format!("{}/rest/v1", app.base);
    let mcp = format!("{}/wpcom/v2/mcp/v1", app.base);
    let page = app
        .authorize21(
            &browser,
            &q21(
                w.c1.id,
                &[("scope", "auth"), ("resource", &rest), ("resource", &mcp)],
            ),
        )
        .await
        .read()
        .await
        .assert_status(200);
    let hidden = hidden_inputs(&page.body);
    let bound: Vec<&str> = hidden
        .iter()
        .filter(|(k, _)| k == "resource")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        bound,
        [rest.as_str(), mcp.as_str()],
        "both resources ride on the consent form"
    );
    let fragment = format!("{rest}#x");
    let slash = format!("{rest}/");
    let cases = [
        (
            "https://elsewhere.example/api",
            "a resource Latchkey does not protect",
        ),
        ("rest/v1", "a relative URI"),
        (fragment.as_str(), "a fragment"),
        (
            slash.as_str(),
            "not byte for byte the REST API's identifier",
        ),
    ];
    for (resource, why) in cases {
        let r = app
            .authorize21(&browser, &q21(w.c1.id, &[("resource", resource)]))
            .await
            .read()
            .await;
        assert_eq!(r.status, 303, "{why}");
        let params = redirect_params(&r);
        assert_eq!(
            param(&params, "error").as_deref(),
            Some("invalid_target"),
            "{why}"
        );
    }
}
both!(resource_indicators_name_latchkeys_resources_or_they_are_invalid_targets);

async fn an_unknown_client_or_redirect_uri_is_an_error_page_never_a_redirect(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let unknown = q21(w.c1.id, &[]).replace(&format!("client_id={}", w.c1.id), "client_id=99999");
    let r = app.authorize21(&browser, &unknown).await.read().await;
    assert_eq!(r.status, 400, "{}", r.body);
    let elsewhere = authz_query(w.c1.id, "https://evil.example/cb", &[]);
    let r = app.authorize21(&browser, &elsewhere).await.read().await;
    assert_eq!(r.status, 400, "{}", r.body);
}
both!(an_unknown_client_or_redirect_uri_is_an_error_page_never_a_redirect);

async fn denying_consent_answers_access_denied_with_the_issuer(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let page = app
        .authorize21(&browser, &q21(w.c1.id, &[("scope", "auth")]))
        .await
        .read()
        .await
        .assert_status(200);
    let r = app
        .consent21(&browser, &page.body, "deny", None)
        .await
        .read()
        .await
        .assert_status(303);
    assert_bounced(&r, &app, "access_denied");
}
both!(denying_consent_answers_access_denied_with_the_issuer);

async fn a_tampered_consent_form_is_refused_by_its_csrf_binding(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let page = app
        .authorize21(
            &browser,
            &q21(w.c1.id, &[("scope", "auth"), ("nonce", "n-1")]),
        )
        .await
        .read()
        .await
        .assert_status(200);
    let mut fields = hidden_inputs(&page.body);
    for (k, v) in fields.iter_mut() {
        if k == "nonce" {
            *v = "n-2".into();
        }
    }
    fields.push(("action".into(), "approve".into()));
    let r = browser
        .post(app.url("/oauth2-1/authorize"))
        .form(&fields)
        .send()
        .await
        .unwrap()
        .read()
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(app.count("auth_codes").await, 0);
}
both!(a_tampered_consent_form_is_refused_by_its_csrf_binding);

async fn the_code_keeps_the_nonce_the_login_time_and_the_audiences_for_the_token_endpoint(
    app: TestApp,
) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let logged_in_at = app.clock_now();
    app.clock.advance(5);
    let mcp = format!("{}/wpcom/v2/mcp/v1", app.base);
    app.code21(
        &browser,
        &q21(
            w.c1.id,
            &[
                ("scope", "auth openid"),
                ("nonce", "n-0S6"),
                ("resource", &mcp),
            ],
        ),
        None,
    )
    .await;
    assert_eq!(app.text("SELECT nonce FROM auth_codes").await, "n-0S6");
    assert_eq!(
        app.scalar("SELECT auth_time FROM auth_codes").await,
        logged_in_at
    );
    assert_eq!(app.text("SELECT resources FROM auth_codes").await, mcp);
    assert_eq!(app.text("SELECT resources FROM grants").await, mcp);
    assert_eq!(
        app.text("SELECT scope FROM auth_codes").await,
        "auth openid"
    );
}
both!(the_code_keeps_the_nonce_the_login_time_and_the_audiences_for_the_token_endpoint);

async fn prompt_none_answers_login_required_without_a_session_and_consent_required_with_one(
    app: TestApp,
) {
    let w = world(&app).await;
    let anonymous = new_browser();
    let r = app
        .authorize21(&anonymous, &q21(w.c1.id, &[("prompt", "none")]))
        .await
        .read()
        .await
        .assert_status(303);
    assert_bounced(&r, &app, "login_required");
    let browser = app.alice_browser().await;
    let r = app
        .authorize21(&browser, &q21(w.c1.id, &[("prompt", "none")]))
        .await
        .read()
        .await
        .assert_status(303);
    assert_bounced(&r, &app, "consent_required");
    let r = app
        .authorize21(&browser, &q21(w.c1.id, &[("prompt", "none login")]))
        .await
        .read()
        .await
        .assert_status(303);
    assert_bounced(&r, &app, "invalid_request");
}
both!(prompt_none_answers_login_required_without_a_session_and_consent_required_with_one);

async fn prompt_none_never_shows_a_page_and_answers_each_case_at_the_redirect_uri(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let none = |extra: &[(&str, &str)]| {
        let mut extra = extra.to_vec();
        extra.push(("prompt", "none"));
        q21(w.c1.id, &extra)
    };
    // OIDC Core §3.1.2.1: none with any other value is an error.
    for combined in ["none select_account", "select_account none", "none consent"] {
        let r = app
            .authorize21(&browser, &q21(w.c1.id, &[("prompt", combined)]))
            .await
            .read()
            .await
            .assert_status(303);
        assert_bounced(&r, &app, "invalid_request");
    }
    // An earlier single-blog grant answers for its own blog only; another blog needs consent.
    let blog1 = w.blog1.id.to_string();
    let blog2 = w.blog2.id.to_string();
    app.code21(
        &browser,
        &q21(w.c1.id, &[("scope", "posts")]),
        Some(w.blog1.id),
    )
    .await;
    let r = app
        .authorize21(&browser, &none(&[("scope", "posts"), ("blog", &blog1)]))
        .await
        .read()
        .await
        .assert_status(303);
    let params = redirect_params(&r);
    assert!(param(&params, "code").is_some(), "{params:?}");
    assert_eq!(param(&params, "state").as_deref(), Some("xyz"));
    assert_eq!(param(&params, "iss").as_deref(), Some(app.base.as_str()));
    let r = app
        .authorize21(&browser, &none(&[("scope", "posts"), ("blog", &blog2)]))
        .await
        .read()
        .await
        .assert_status(303);
    assert_bounced(&r, &app, "consent_required");
    // A logged-out browser is never sent to the login page.
    let r = app
        .authorize21(&new_browser(), &none(&[("scope", "posts")]))
        .await
        .read()
        .await
        .assert_status(303);
    assert_bounced(&r, &app, "login_required");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM auth_codes").await, 2);
}
both!(prompt_none_never_shows_a_page_and_answers_each_case_at_the_redirect_uri);

/// Follows a redirect to the login page: logs in as alice there and returns where it sends back.
async fn log_in_again(app: &TestApp, browser: &reqwest::Client, to_login: &Checked) -> String {
    let location = to_login.header("location");
    assert!(location.starts_with("/login?"), "{location}");
    let back = param(&location_params(location, false), "redirect_to").unwrap();
    let form = browser
        .get(app.url(location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = input(&form, "csrf").unwrap();
    let done = browser
        .post(app.url("/login"))
        .form(&[
            ("username", "alice"),
            ("password", ALICE_PASSWORD),
            ("csrf", &csrf),
            ("redirect_to", &back),
        ])
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(303);
    done.header("location").to_owned()
}

async fn prompt_login_sends_a_logged_in_user_through_the_login_page_once(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let r = app
        .authorize21(
            &browser,
            &q21(w.c1.id, &[("scope", "auth"), ("prompt", "login")]),
        )
        .await
        .read()
        .await
        .assert_status(303);
    app.clock.advance(3);
    let back = log_in_again(&app, &browser, &r).await;
    assert!(back.starts_with("/oauth2-1/authorize?"), "{back}");
    let page = browser
        .get(app.url(&back))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    let redirect = app
        .consent21(&browser, &page.body, "approve", None)
        .await
        .read()
        .await
        .assert_status(303);
    assert!(param(&redirect_params(&redirect), "code").is_some());
    assert_eq!(
        app.scalar("SELECT auth_time FROM auth_codes").await,
        app.clock_now()
    );
}
both!(prompt_login_sends_a_logged_in_user_through_the_login_page_once);

async fn max_age_older_than_the_login_asks_for_a_fresh_one(app: TestApp) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    app.clock.advance(100);
    app.authorize21(
        &browser,
        &q21(w.c1.id, &[("scope", "auth"), ("max_age", "100")]),
    )
    .await
    .read()
    .await
    .assert_status(200);
    let r = app
        .authorize21(
            &browser,
            &q21(w.c1.id, &[("scope", "auth"), ("max_age", "99")]),
        )
        .await
        .read()
        .await
        .assert_status(303);
    let back = log_in_again(&app, &browser, &r).await;
    browser
        .get(app.url(&back))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    app.clock.advance(1);
    let r = app
        .authorize21(
            &browser,
            &q21(w.c1.id, &[("max_age", "0"), ("prompt", "none")]),
        )
        .await
        .read()
        .await
        .assert_status(303);
    assert_bounced(&r, &app, "login_required");
    let r = app
        .authorize21(&browser, &q21(w.c1.id, &[("max_age", "soon")]))
        .await
        .read()
        .await
        .assert_status(303);
    assert_bounced(&r, &app, "invalid_request");
}
both!(max_age_older_than_the_login_asks_for_a_fresh_one);

async fn an_earlier_identical_grant_stands_for_consent_unless_prompt_consent_asks_again(
    app: TestApp,
) {
    let w = world(&app).await;
    let browser = app.alice_browser().await;
    let rest = format!("{}/rest/v1", app.base);
    let query = q21(w.c1.id, &[("scope", "auth openid"), ("resource", &rest)]);
    app.code21(&browser, &query, None).await;
    let again = app
        .authorize21(&browser, &query)
        .await
        .read()
        .await
        .assert_status(303);
    assert!(param(&redirect_params(&again), "code").is_some());
    let silent = q21(
        w.c1.id,
        &[
            ("scope", "auth openid"),
            ("resource", &rest),
            ("prompt", "none"),
        ],
    );
    let r = app
        .authorize21(&browser, &silent)
        .await
        .read()
        .await
        .assert_status(303);
    let params = redirect_params(&r);
    assert!(param(&params, "code").is_some(), "{params:?}");
    assert_eq!(param(&params, "iss").as_deref(), Some(app.base.as_str()));
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "prompt=consent",
            &[
                ("scope", "auth openid"),
                ("resource", &rest),
                ("prompt", "consent"),
            ],
        ),
        (
            "another scope",
            &[("scope", "auth openid email"), ("resource", &rest)],
        ),
        ("other audiences", &[("scope", "auth openid")]),
    ];
    for (why, extra) in cases {
        let r = app
            .authorize21(&browser, &q21(w.c1.id, extra))
            .await
            .read()
            .await;
        assert_eq!(r.status, 200, "{why}: the consent page");
    }
    // Another app of the same owner is not covered by the grant to c1.
    let other = authz_query(
        w.c2.id,
        "https://app2.example/cb",
        &[
            ("scope", "auth openid"),
            ("resource", &rest),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
    );
    let r = app.authorize21(&browser, &other).await.read().await;
    assert_eq!(r.status, 200);
    // A single-blog grant whose user lost the blog is no consent any more.
    let blog = q21(w.c1.id, &[("scope", "posts")]);
    app.code21(&browser, &blog, Some(w.blog1.id)).await;
    app.authorize21(&browser, &blog)
        .await
        .read()
        .await
        .assert_status(303);
    app.store
        .remove_membership(w.blog1.id, w.alice.id)
        .await
        .unwrap();
    app.authorize21(&browser, &blog)
        .await
        .read()
        .await
        .assert_status(200);
}
both!(an_earlier_identical_grant_stands_for_consent_unless_prompt_consent_asks_again);
