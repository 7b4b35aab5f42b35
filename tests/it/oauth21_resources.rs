//! Resource servers (oauth21.md §2, §4): an app registers the URIs of the APIs it serves with
//! `latchkey app update --resource`; any client may then ask for tokens bound to them, and the
//! registering app introspects those tokens, and no others of other clients.

use latchkey::domain::client_metadata::GrantType;
use serde_json::json;

use crate::both;
use crate::cli::{fails_saying, latchkey, ok_json};
use crate::flows::*;
use crate::harness::*;
use crate::oauth21_authorize::{q21, redirect_params};
use crate::oauth21_refresh_arms::introspect_on;
use crate::oauth21_token::assert_oauth_error;

const LEDGER: &str = "https://ledger.example/api";
const INACTIVE: &str = r#"{"active":false}"#;

/// The error an authorization request for `resource` is bounced with, if any.
async fn authorize_error(app: &TestApp, client_id: i64, resource: &str) -> Option<String> {
    let browser = app.alice_browser().await;
    let r = app
        .authorize21(&browser, &q21(client_id, &[("resource", resource)]))
        .await
        .read()
        .await;
    match r.status {
        303 => param(&redirect_params(&r), "error"),
        _ => None,
    }
}

async fn a_registered_resource_server_introspects_the_tokens_bound_to_it_and_no_others(
    app: TestApp,
) {
    let w = world(&app).await;
    // Before c2 registers the ledger, no client may ask for it.
    assert_eq!(
        authorize_error(&app, w.c1.id, LEDGER).await.as_deref(),
        Some("invalid_target")
    );
    let c2 = w.c2.id.to_string();
    let updated = ok_json(&latchkey(
        &app,
        &["app", "update", &c2, "--resource", LEDGER],
    ));
    assert_eq!(updated["resources"], json!([LEDGER]));
    // Its owner sees it on the app's page; an app that serves no API shows no such line.
    let browser = app.alice_browser().await;
    let page = |id: i64| {
        let browser = browser.clone();
        let url = app.url(&format!("/apps/{id}"));
        async move {
            browser
                .get(url)
                .send()
                .await
                .unwrap()
                .read()
                .await
                .assert_status(200)
        }
    };
    let shown = page(w.c2.id).await;
    assert!(
        shown
            .body
            .contains(&format!(r#"<dd id="resources"><code>{LEDGER}</code><br>"#)),
        "{}",
        shown.body
    );
    assert!(!page(w.c1.id).await.body.contains(r#"id="resources""#));
    // The consent page says whose API the access is for.
    let page = app
        .authorize21(&browser, &q21(w.c1.id, &[("resource", LEDGER)]))
        .await
        .read()
        .await
        .assert_status(200);
    let expected = format!(
        "<li><strong>{}</strong> at {LEDGER}, a service that app runs, not Latchkey</li>",
        w.c2.name
    );
    assert!(page.body.contains(&expected), "{}", page.body);

    // c1 gets a token for the ledger; the ledger's app (c2) sees it, as c1 does.
    let bound = app
        .grant21(
            &w,
            &[("scope", "auth offline_access"), ("resource", LEDGER)],
            None,
        )
        .await;
    let seen = introspect_on(&app.base, &w.c2, &w.s2, &bound.access).await;
    let body = seen.json();
    assert_eq!(body["active"], true, "{}", seen.body);
    assert_eq!(
        body["client_id"],
        w.c1.id.to_string(),
        "the token's own client"
    );
    assert_eq!(body["aud"], json!([LEDGER]));
    assert_eq!(body["username"], "alice");
    let own = introspect_on(&app.base, &w.c1, &w.s1, &bound.access).await;
    assert_eq!(
        own.json(),
        body,
        "the same answer as to the token's own client"
    );
    // Never the refresh token, nor a token of c1 bound elsewhere, nor to a third client.
    let refresh = bound.refresh.clone().unwrap();
    let seen = introspect_on(&app.base, &w.c2, &w.s2, &refresh).await;
    assert_eq!(
        seen.body, INACTIVE,
        "a resource server is never sent a refresh token"
    );
    let rest_only = app.grant21(&w, &[("scope", "auth")], None).await;
    let seen = introspect_on(&app.base, &w.c2, &w.s2, &rest_only.access).await;
    assert_eq!(seen.body, INACTIVE, "a token not bound to the ledger");
    let seen = introspect_on(&app.base, &w.c3, &w.s3, &bound.access).await;
    assert_eq!(seen.body, INACTIVE, "an app that registered nothing");
    // The token is the ledger's alone: Latchkey's REST API refuses it.
    app.me(&bound.access).await.read().await.assert_status(401);

    // Once c2 gives the URI up, it sees nothing and nobody may ask for the ledger.
    let updated = ok_json(&latchkey(&app, &["app", "update", &c2, "--no-resources"]));
    assert_eq!(updated["resources"], json!([]));
    let seen = introspect_on(&app.base, &w.c2, &w.s2, &bound.access).await;
    assert_eq!(seen.body, INACTIVE);
    assert_eq!(
        authorize_error(&app, w.c1.id, LEDGER).await.as_deref(),
        Some("invalid_target")
    );
}
both!(a_registered_resource_server_introspects_the_tokens_bound_to_it_and_no_others);

async fn an_app_only_token_for_a_resource_server_is_introspected_without_a_user(app: TestApp) {
    let w = world(&app).await;
    let c2 = w.c2.id.to_string();
    ok_json(&latchkey(
        &app,
        &["app", "update", &c2, "--resource", LEDGER],
    ));
    app.set_grants(w.c1.id, &[GrantType::ClientCredentials])
        .await;
    let c1 = w.c1.id.to_string();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", c1.as_str()),
        ("client_secret", w.s1.as_str()),
    ];
    let elsewhere = app
        .token21(
            &[
                form.as_slice(),
                &[("resource", "https://elsewhere.example/api")],
            ]
            .concat(),
        )
        .await
        .read()
        .await
        .assert_status(400);
    assert_oauth_error(&elsewhere, "invalid_target");
    let issued = app
        .token21(&[form.as_slice(), &[("resource", LEDGER)]].concat())
        .await
        .read()
        .await
        .assert_status(200);
    let token = issued.json()["access_token"].as_str().unwrap().to_owned();
    for (client, secret) in [(&w.c1, &w.s1), (&w.c2, &w.s2)] {
        let seen = introspect_on(&app.base, client, secret, &token).await;
        let body = seen.json();
        assert_eq!(body["active"], true, "{}", seen.body);
        assert_eq!(body["client_id"], c1);
        assert_eq!(body["aud"], json!([LEDGER]));
        assert!(body.get("sub").is_none(), "no user: {}", seen.body);
        assert!(body.get("username").is_none(), "no user: {}", seen.body);
    }
}
both!(an_app_only_token_for_a_resource_server_is_introspected_without_a_user);

async fn app_update_refuses_resource_uris_that_are_malformed_latchkeys_own_or_taken(app: TestApp) {
    let w = world(&app).await;
    let (c1, c2) = (w.c1.id.to_string(), w.c2.id.to_string());
    ok_json(&latchkey(
        &app,
        &["app", "update", &c1, "--resource", LEDGER],
    ));
    let own = format!("{}/rest/v1", app.base);
    let cases = [
        ("/api", "not an absolute URI"),
        ("https://ledger.example/api#x", "not an absolute URI"),
        (own.as_str(), "one of Latchkey's own resources"),
        (LEDGER, "already the resource of app"),
    ];
    for (uri, says) in cases {
        fails_saying(
            &latchkey(
                &app,
                &["app", "update", &c2, "--resource", uri, "--name", "Renamed"],
            ),
            says,
        );
    }
    let c2_now = app.store.app_by_id(w.c2.id).await.unwrap().unwrap();
    assert_eq!(c2_now.name, w.c2.name, "a refused update writes nothing");
    assert!(app.store.app_resources(w.c2.id).await.unwrap().is_empty());
    // Registering again what the app already has is no conflict; deleting the app frees the URI.
    ok_json(&latchkey(
        &app,
        &["app", "update", &c1, "--resource", LEDGER],
    ));
    ok_json(&latchkey(&app, &["app", "delete", &c1]));
    let taken = ok_json(&latchkey(
        &app,
        &["app", "update", &c2, "--resource", LEDGER],
    ));
    assert_eq!(taken["resources"], json!([LEDGER]));
    let listed = ok_json(&latchkey(&app, &["app", "list"]));
    let c2_listed = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["client_id"] == c2)
        .unwrap();
    assert_eq!(c2_listed["resources"], json!([LEDGER]));
    let table = latchkey(&app, &["app", "list", "--table"]);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.lines().next().unwrap().contains("RESOURCES"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&format!("{c2} ")) && l.contains(LEDGER)),
        "{table}"
    );
}
both!(app_update_refuses_resource_uris_that_are_malformed_latchkeys_own_or_taken);
