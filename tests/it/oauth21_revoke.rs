//! Revocation (RFC 7009) and introspection (RFC 7662) of the 2.1 server, oauth21.md §4:
//! `/oauth2-1/revoke` and `/oauth2-1/token-info` with their `/oauth2/revoke` and
//! `/oauth2/introspect` aliases, for the legacy dialect's access tokens.

use latchkey::domain::app::AppType;
use latchkey::domain::random::OsRandom;
use latchkey::domain::secret::{self, Kind};
use latchkey::store::{App, NewToken, Role, User};

use crate::both;
use crate::harness::*;
use crate::hot_path::peer;

const REVOKE: &str = "/oauth2-1/revoke";
const INTROSPECT: &str = "/oauth2-1/token-info";
const INACTIVE: &str = r#"{"active":false}"#;

struct World {
    alice: User,
    c1: App,
    s1: String,
    c2: App,
    s2: String,
}

async fn world(app: &TestApp) -> World {
    let alice = app.user("alice", "correct horse battery").await;
    let (c1, s1) = app
        .app(&alice, &["https://one.example/cb"], AppType::Web)
        .await;
    let (c2, s2) = app
        .app(&alice, &["https://two.example/cb"], AppType::Web)
        .await;
    World {
        alice,
        c1,
        s1,
        c2,
        s2,
    }
}

/// How the caller authenticates.
#[derive(Clone, Copy)]
enum Caller<'a> {
    /// `client_id` and `client_secret` in the body.
    Body(&'a App, &'a str),
    /// HTTP Basic.
    Basic(&'a App, &'a str),
}

/// POSTs `form` to `base` + `path` as `caller`.
async fn post_on(base: &str, path: &str, caller: Caller<'_>, form: &[(&str, &str)]) -> Checked {
    let http = reqwest::Client::new();
    let mut form: Vec<(&str, String)> = form.iter().map(|(k, v)| (*k, v.to_string())).collect();
    let mut request = http.post(format!("{base}{path}"));
    match caller {
        Caller::Body(client, secret) => {
            form.push(("client_id", client.id.to_string()));
            form.push(("client_secret", secret.to_owned()));
        }
        Caller::Basic(client, secret) => {
            request = request.basic_auth(client.id, Some(secret));
        }
    }
    request.form(&form).send().await.unwrap().read().await
}

async fn post(app: &TestApp, path: &str, caller: Caller<'_>, form: &[(&str, &str)]) -> Checked {
    post_on(&app.base, path, caller, form).await
}

async fn introspect(app: &TestApp, caller: Caller<'_>, token: &str) -> Checked {
    post(app, INTROSPECT, caller, &[("token", token)])
        .await
        .assert_status(200)
}

async fn legacy_token_info(app: &TestApp, client: &App, token: &str) -> u16 {
    let id = client.id.to_string();
    app.http
        .get(app.url("/oauth2/token-info"))
        .query(&[("client_id", id.as_str()), ("token", token)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn rest_me(app: &TestApp, token: &str) -> u16 {
    app.http
        .get(app.url("/rest/v1.1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[track_caller]
fn assert_no_store(answer: &Checked) {
    assert_eq!(
        answer.header("cache-control"),
        "no-store",
        "{}",
        answer.body
    );
}

async fn revoking_its_own_token_ends_it_at_token_info_introspection_and_rest(app: TestApp) {
    let w = world(&app).await;
    let issued = app.issue_token(w.alice.id, w.c1.id, None).await;
    let other = app.issue_token(w.alice.id, w.c1.id, None).await;
    for _ in 0..2 {
        assert_eq!(legacy_token_info(&app, &w.c1, &issued.token).await, 200);
        assert_eq!(rest_me(&app, &issued.token).await, 200);
    }
    let answer = post(
        &app,
        REVOKE,
        Caller::Body(&w.c1, &w.s1),
        &[
            ("token", &issued.token),
            ("token_type_hint", "access_token"),
        ],
    )
    .await
    .assert_status(200);
    assert_no_store(&answer);
    assert_eq!(answer.body, "");

    assert_eq!(legacy_token_info(&app, &w.c1, &issued.token).await, 400);
    assert_eq!(rest_me(&app, &issued.token).await, 401);
    let seen = introspect(&app, Caller::Body(&w.c1, &w.s1), &issued.token).await;
    assert_eq!(seen.body, INACTIVE);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'token_revoked'")
            .await,
        1
    );
    // Only that token: its sibling of the same grant lives on.
    assert_eq!(legacy_token_info(&app, &w.c1, &other.token).await, 200);
    // Revoking it again changes nothing and says nothing.
    post(
        &app,
        REVOKE,
        Caller::Basic(&w.c1, &w.s1),
        &[("token", &issued.token)],
    )
    .await
    .assert_status(200);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'token_revoked'")
            .await,
        1
    );
}
both!(revoking_its_own_token_ends_it_at_token_info_introspection_and_rest);

async fn another_clients_token_answers_200_and_stays_alive(app: TestApp) {
    let w = world(&app).await;
    let issued = app.issue_token(w.alice.id, w.c1.id, None).await;
    for caller in [Caller::Body(&w.c2, &w.s2), Caller::Basic(&w.c2, &w.s2)] {
        let answer = post(&app, REVOKE, caller, &[("token", &issued.token)])
            .await
            .assert_status(200);
        assert_eq!(answer.body, "");
        assert_no_store(&answer);
    }
    assert_eq!(legacy_token_info(&app, &w.c1, &issued.token).await, 200);
    assert_eq!(rest_me(&app, &issued.token).await, 200);
    assert_eq!(app.count("access_tokens").await, 1);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'token_revoked'")
            .await,
        0
    );
}
both!(another_clients_token_answers_200_and_stays_alive);

async fn unknown_malformed_and_other_kinds_of_token_answer_200_whatever_the_hint(app: TestApp) {
    let w = world(&app).await;
    let unknown = secret::mint(Kind::AccessToken, &OsRandom);
    let code = secret::mint(Kind::AuthCode, &OsRandom);
    let cases = [
        ("a well-formed token nobody issued", unknown.as_str(), None),
        ("garbage", "not a token at all", None),
        ("an authorization code", code.as_str(), None),
        ("an unknown hint", unknown.as_str(), Some("id_token")),
        ("a refresh hint", unknown.as_str(), Some("refresh_token")),
    ];
    for (case, token, hint) in cases {
        let mut form = vec![("token", token)];
        form.extend(hint.map(|h| ("token_type_hint", h)));
        let answer = post(&app, REVOKE, Caller::Body(&w.c1, &w.s1), &form).await;
        assert_eq!(answer.status, 200, "{case}: {}", answer.body);
        assert_no_store(&answer);
    }
}
both!(unknown_malformed_and_other_kinds_of_token_answer_200_whatever_the_hint);

async fn a_revocation_reaches_a_second_instance_within_100_ms(app: TestApp) {
    let w = world(&app).await;
    wait_live(&app.store).await;
    let (b, _b_state) = peer(&app).await;
    let issued = app.issue_token(w.alice.id, w.c1.id, None).await;
    let caller = Caller::Body(&w.c1, &w.s1);
    let form = [("token", issued.token.as_str())];
    // Twice on B: the second answer comes from B's validation cache.
    for _ in 0..2 {
        let seen = post_on(&b, INTROSPECT, caller, &form)
            .await
            .assert_status(200);
        assert_eq!(seen.json()["active"], true);
    }
    post(&app, REVOKE, caller, &form).await.assert_status(200);
    let inactive_on_b = async || post_on(&b, INTROSPECT, caller, &form).await.body == INACTIVE;
    // Bounded by PATIENCE, not 100 ms of wall-clock time a loaded machine can spend between two
    // polls (see `hot_path`): before the cache's 60 s TTL, only the announcement can end it on B.
    let took = wait_until("B sees the revocation", PATIENCE, inactive_on_b).await;
    eprintln!("revocation seen on the second instance after {took:?}");
}
both!(a_revocation_reaches_a_second_instance_within_100_ms);

/// Client authentication reads the app through the validation cache; a new secret ends the old
/// one at once on the instance that set it and, through the announcement, on another instance
/// long before the cache's TTL, even when both had the app cached.
async fn a_reset_client_secret_fails_at_once_even_when_the_client_is_cached(app: TestApp) {
    let w = world(&app).await;
    wait_live(&app.store).await;
    let (b, _b_state) = peer(&app).await;
    let issued = app.issue_token(w.alice.id, w.c1.id, None).await;
    let form = [("token", issued.token.as_str())];
    let old = Caller::Body(&w.c1, &w.s1);
    for _ in 0..2 {
        assert_eq!(
            introspect(&app, old, &issued.token).await.json()["active"],
            true
        );
        let on_b = post_on(&b, INTROSPECT, old, &form).await.assert_status(200);
        assert_eq!(on_b.json()["active"], true);
    }
    let new = commit_with(&app.store, async |tx| {
        latchkey::admin::reset_secret(tx, &OsRandom, &w.c1).await
    })
    .await
    .unwrap();
    let refused = post(&app, INTROSPECT, old, &form).await.assert_status(401);
    assert_eq!(refused.json()["error"], "invalid_client");
    let refused_on_b = async || post_on(&b, INTROSPECT, old, &form).await.status == 401;
    wait_until("B refuses the old secret", PATIENCE, refused_on_b).await;
    let renewed = Caller::Basic(&w.c1, &new);
    assert_eq!(
        introspect(&app, renewed, &issued.token).await.json()["active"],
        true
    );
    let on_b = post_on(&b, INTROSPECT, renewed, &form)
        .await
        .assert_status(200);
    assert_eq!(on_b.json()["active"], true);
}
both!(a_reset_client_secret_fails_at_once_even_when_the_client_is_cached);

async fn introspection_of_an_active_token_answers_its_fields(app: TestApp) {
    let w = world(&app).await;
    let site = app.site(&w.alice, "https://alice.example").await;
    let global = app.issue_token(w.alice.id, w.c1.id, None).await;
    let answer = introspect(&app, Caller::Basic(&w.c1, &w.s1), &global.token).await;
    assert_no_store(&answer);
    let expected = serde_json::json!({
        "active": true,
        "scope": "global",
        "client_id": w.c1.id.to_string(),
        "username": "alice",
        "token_type": "Bearer",
        "iat": app.clock_now(),
        "sub": w.alice.id.to_string(),
        "aud": [format!("{}/rest/v1", app.base)],
        "iss": app.base,
        "blog_id": "0",
    });
    assert_eq!(answer.json(), expected, "a token without expiry has no exp");

    // A single-blog token with named scopes and an expiry.
    let minted = latchkey::oauth2::tokens::mint(&app.state);
    let expires_at = app.clock_now() + 3600;
    let new = NewToken {
        digest: &minted.digest,
        app_id: w.c1.id,
        user_id: w.alice.id,
        site_id: Some(site.id),
        scope: "posts,media",
        origin: "code",
        expires_at: Some(expires_at),
    };
    app.store.grant_token(&new, app.clock_now()).await.unwrap();
    app.clock.advance(10);
    let answer = introspect(&app, Caller::Body(&w.c1, &w.s1), &minted.token).await;
    let json = answer.json();
    assert_eq!(json["active"], true);
    assert_eq!(json["scope"], "posts media");
    assert_eq!(json["blog_id"], site.id.to_string());
    assert_eq!(json["exp"], expires_at);
    assert_eq!(json["iat"], app.clock_now() - 10);
}
both!(introspection_of_an_active_token_answers_its_fields);

async fn every_token_not_active_for_the_caller_answers_exactly_active_false(app: TestApp) {
    let w = world(&app).await;
    let revoked = app.issue_token(w.alice.id, w.c1.id, None).await;
    app.store
        .revoke_token(revoked.grant.token_id)
        .await
        .unwrap();
    let expiring = app
        .issue_token(w.alice.id, w.c1.id, Some(app.clock_now() + 60))
        .await;
    let foreign = app.issue_token(w.alice.id, w.c2.id, None).await;
    // A single-blog token whose user is then demoted on its blog (domain::reach::holds).
    let site = app.site(&w.alice, "https://alice.example").await;
    let minted = latchkey::oauth2::tokens::mint(&app.state);
    let single = NewToken {
        digest: &minted.digest,
        app_id: w.c1.id,
        user_id: w.alice.id,
        site_id: Some(site.id),
        scope: "",
        origin: "code",
        expires_at: None,
    };
    app.store
        .grant_token(&single, app.clock_now())
        .await
        .unwrap();
    let lapsed = minted.token;
    let unknown = secret::mint(Kind::AccessToken, &OsRandom);
    let code = secret::mint(Kind::AuthCode, &OsRandom);
    let mut typo = foreign.token.clone();
    typo.pop();
    typo.push(if foreign.token.ends_with('A') {
        'B'
    } else {
        'A'
    });
    // The expiring and the single-blog tokens are active, and cached, before they end.
    for token in [&expiring.token, &lapsed] {
        for _ in 0..2 {
            let live = introspect(&app, Caller::Body(&w.c1, &w.s1), token).await;
            assert_eq!(live.json()["active"], true);
        }
    }
    app.clock.advance(61);
    app.member(&site, &w.alice, Role::Editor).await;
    let cases = [
        ("unknown", unknown.as_str()),
        ("malformed", "lkat_short"),
        ("a checksum typo", typo.as_str()),
        ("an authorization code", code.as_str()),
        ("revoked", revoked.token.as_str()),
        ("expired", expiring.token.as_str()),
        ("another client's", foreign.token.as_str()),
        ("lapsed: its user lost its blog", lapsed.as_str()),
    ];
    for (case, token) in cases {
        for caller in [Caller::Body(&w.c1, &w.s1), Caller::Basic(&w.c1, &w.s1)] {
            let answer = post(&app, INTROSPECT, caller, &[("token", token)]).await;
            assert_eq!(
                (answer.status, answer.body.as_str()),
                (200, INACTIVE),
                "{case}"
            );
            assert_no_store(&answer);
        }
    }
    // The foreign token is alive for its own client.
    let own = introspect(&app, Caller::Body(&w.c2, &w.s2), &foreign.token).await;
    assert_eq!(own.json()["active"], true);
}
both!(every_token_not_active_for_the_caller_answers_exactly_active_false);

async fn bad_client_authentication_and_bad_requests_answer_in_the_oauth_dialect(app: TestApp) {
    let w = world(&app).await;
    let issued = app.issue_token(w.alice.id, w.c1.id, None).await;
    let token = issued.token.as_str();
    let id = w.c1.id.to_string();
    let http = reqwest::Client::new();
    for path in [REVOKE, INTROSPECT] {
        let url = app.url(path);
        let cases = [
            (
                "Basic and a body secret",
                http.post(&url)
                    .basic_auth(&id, Some(&w.s1))
                    .form(&[("token", token), ("client_secret", w.s1.as_str())]),
                400,
                "invalid_request",
            ),
            (
                "a wrong secret in the body",
                http.post(&url).form(&[
                    ("token", token),
                    ("client_id", id.as_str()),
                    ("client_secret", "wrong"),
                ]),
                401,
                "invalid_client",
            ),
            (
                "a wrong secret in Basic",
                http.post(&url)
                    .basic_auth(&id, Some("wrong"))
                    .form(&[("token", token)]),
                401,
                "invalid_client",
            ),
            (
                "an unknown client",
                http.post(&url).form(&[
                    ("token", token),
                    ("client_id", "999999"),
                    ("client_secret", "x"),
                ]),
                401,
                "invalid_client",
            ),
            (
                "a confidential client without its secret",
                http.post(&url)
                    .form(&[("token", token), ("client_id", id.as_str())]),
                401,
                "invalid_client",
            ),
            (
                "no client at all",
                http.post(&url).form(&[("token", token)]),
                400,
                "invalid_request",
            ),
            (
                "no token",
                http.post(&url)
                    .basic_auth(&id, Some(&w.s1))
                    .form(&[("x", "y")]),
                400,
                "invalid_request",
            ),
            (
                "an empty token",
                http.post(&url)
                    .basic_auth(&id, Some(&w.s1))
                    .form(&[("token", "")]),
                400,
                "invalid_request",
            ),
            (
                "the token twice",
                http.post(&url)
                    .basic_auth(&id, Some(&w.s1))
                    .form(&[("token", token), ("token", token)]),
                400,
                "invalid_request",
            ),
            (
                "the token in the query string",
                http.post(format!("{url}?token={token}"))
                    .basic_auth(&id, Some(&w.s1))
                    .form(&[("x", "y")]),
                400,
                "invalid_request",
            ),
            (
                "a JSON body",
                http.post(&url)
                    .basic_auth(&id, Some(&w.s1))
                    .header("content-type", "application/json")
                    .body(format!(r#"{{"token":"{token}"}}"#)),
                400,
                "invalid_request",
            ),
            (
                "a body that is not UTF-8",
                http.post(&url)
                    .basic_auth(&id, Some(&w.s1))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(b"token=%FF%FE".to_vec()),
                400,
                "invalid_request",
            ),
        ];
        for (case, request, status, error) in cases {
            let answer = request.send().await.unwrap().read().await;
            assert_eq!(answer.status, status, "{path}, {case}: {}", answer.body);
            assert_eq!(answer.json()["error"], error, "{path}, {case}");
            assert_no_store(&answer);
            if status == 401 {
                assert!(
                    answer.header("www-authenticate").starts_with("Basic"),
                    "{path}, {case}"
                );
            }
        }
    }
    // Nothing was revoked by any of it.
    assert_eq!(legacy_token_info(&app, &w.c1, token).await, 200);
}
both!(bad_client_authentication_and_bad_requests_answer_in_the_oauth_dialect);

async fn failed_client_authentications_spend_the_client_failure_budget(app: TestApp) {
    let w = world(&app).await;
    let issued = app.issue_token(w.alice.id, w.c1.id, None).await;
    let form = [("token", issued.token.as_str())];
    for path in [REVOKE, INTROSPECT] {
        post(&app, path, Caller::Basic(&w.c1, "wrong"), &form)
            .await
            .assert_status(401);
    }
    // The budget (2 per client here) is spent: even the right secret waits.
    let answer = post(&app, INTROSPECT, Caller::Basic(&w.c1, &w.s1), &form)
        .await
        .assert_status(429);
    assert_eq!(answer.json()["error"], "rate_limited");
    assert!(answer.header("retry-after").parse::<i64>().unwrap() > 0);
    assert_no_store(&answer);
    post(&app, REVOKE, Caller::Body(&w.c1, &w.s1), &form)
        .await
        .assert_status(429);
    assert_eq!(legacy_token_info(&app, &w.c1, &issued.token).await, 200);
    // Another client's budget is its own.
    post(&app, INTROSPECT, Caller::Body(&w.c2, &w.s2), &form)
        .await
        .assert_status(200);
}
both!(
    failed_client_authentications_spend_the_client_failure_budget,
    limits.client_failures_per_client = 2
);

async fn a_public_client_revokes_and_introspects_with_its_client_id_alone(app: TestApp) {
    let w = world(&app).await;
    let (native, _) = app
        .app(&w.alice, &["http://127.0.0.1/cb"], AppType::Native)
        .await;
    let issued = app.issue_token(w.alice.id, native.id, None).await;
    let id = native.id.to_string();
    let form = [("token", issued.token.as_str()), ("client_id", id.as_str())];
    let http = reqwest::Client::new();
    let seen = http
        .post(app.url(INTROSPECT))
        .form(&form)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert_eq!(seen.json()["active"], true);
    // A confidential client cannot do the same.
    let web_id = w.c1.id.to_string();
    let web = app.issue_token(w.alice.id, w.c1.id, None).await;
    http.post(app.url(REVOKE))
        .form(&[
            ("token", web.token.as_str()),
            ("client_id", web_id.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(401);
    http.post(app.url(REVOKE))
        .form(&form)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert_eq!(legacy_token_info(&app, &native, &issued.token).await, 400);
    assert_eq!(legacy_token_info(&app, &w.c1, &web.token).await, 200);
}
both!(a_public_client_revokes_and_introspects_with_its_client_id_alone);

async fn the_oauth2_aliases_revoke_and_introspect_like_the_2_1_paths(app: TestApp) {
    let w = world(&app).await;
    let issued = app.issue_token(w.alice.id, w.c1.id, None).await;
    let caller = Caller::Basic(&w.c1, &w.s1);
    let form = [("token", issued.token.as_str())];
    let seen = post(&app, "/oauth2/introspect", caller, &form)
        .await
        .assert_status(200);
    assert_no_store(&seen);
    assert_eq!(seen.json()["active"], true);
    assert_eq!(seen.json()["username"], "alice");
    let revoked = post(&app, "/oauth2/revoke", caller, &form)
        .await
        .assert_status(200);
    assert_no_store(&revoked);
    let seen = post(&app, "/oauth2/introspect", caller, &form)
        .await
        .assert_status(200);
    assert_eq!(seen.body, INACTIVE);
    assert_eq!(rest_me(&app, &issued.token).await, 401);
}
both!(the_oauth2_aliases_revoke_and_introspect_like_the_2_1_paths);

async fn a_get_on_the_new_endpoints_is_a_json_405_and_legacy_token_info_is_unchanged(app: TestApp) {
    let w = world(&app).await;
    let issued = app.issue_token(w.alice.id, w.c1.id, None).await;
    for path in [INTROSPECT, REVOKE, "/oauth2/introspect", "/oauth2/revoke"] {
        let answer = app.get(path).await.read().await.assert_status(405);
        assert_eq!(answer.json()["error"], "invalid_request", "{path}");
        assert!(answer.header("allow").contains("POST"), "{path}");
        assert_no_store(&answer);
    }
    // The WordPress.com GET keeps its exact shape on both of its paths.
    for path in ["/oauth2/token-info", "/oauth/token-info"] {
        let answer = app
            .http
            .get(app.url(path))
            .query(&[
                ("client_id", w.c1.id.to_string()),
                ("token", issued.token.clone()),
            ])
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(200);
        assert_eq!(
            answer.body,
            format!(
                r#"{{"client_id":"{}","user_id":"{}","blog_id":"0","scope":"global"}}"#,
                w.c1.id, w.alice.id
            )
        );
    }
}
both!(a_get_on_the_new_endpoints_is_a_json_405_and_legacy_token_info_is_unchanged);
