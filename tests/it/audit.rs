//! The audit trail: security-relevant changes are audit events, whoever made them, read back
//! through `latchkey audit`, and purged past their retention by `latchkey gc`.

use std::process::{Command, Output};

use crate::both;
use crate::flows::*;
use crate::harness::*;

fn latchkey(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    command
        .args(args)
        .env("LATCHKEY_DATABASE_URL", &app.state.settings.database.url)
        .env("LATCHKEY_SECRET_KEY", hex::encode(app.state.key.0))
        .env("LATCHKEY_PUBLIC_URL", &app.base);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "latchkey {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn events(out: &Output) -> Vec<serde_json::Value> {
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn kinds(events: &[serde_json::Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

async fn failed_logins_lockouts_and_refused_redirects_are_read_back_through_latchkey_audit(
    app: TestApp,
) {
    let w = world(&app).await;
    let budget = app.state.settings.limits.login_failures_per_account;
    for _ in 0..budget {
        app.login_as(&new_browser(), "alice", "wrong password")
            .await;
    }
    let query = authz_query(w.c1.id, "https://evil.example/cb", &[]);
    app.authorize(&new_browser(), &query)
        .await
        .read()
        .await
        .assert_status(400);

    let alice = events(&latchkey(
        &app,
        &["audit", "--user", "alice", "--json"],
        &[],
    ));
    let kinds_of_alice = kinds(&alice);
    assert_eq!(
        kinds_of_alice
            .iter()
            .filter(|k| **k == "login_failed")
            .count(),
        budget as usize,
        "{kinds_of_alice:?}"
    );
    assert_eq!(
        kinds_of_alice[0], "lockout",
        "newest first: {kinds_of_alice:?}"
    );
    assert!(alice.iter().all(|e| e["user_id"] == w.alice.id));
    assert!(
        alice
            .iter()
            .all(|e| !e.to_string().contains("wrong password")),
        "no secret in an event"
    );

    let c1 = events(&latchkey(
        &app,
        &["audit", "--app", &w.c1.id.to_string(), "--json"],
        &[],
    ));
    assert_eq!(kinds(&c1), ["redirect_refused"]);

    let text = latchkey(&app, &["audit", "--since", "2026-01-01"], &[]);
    let lines = String::from_utf8(text.stdout).unwrap();
    assert!(
        lines
            .lines()
            .any(|l| l.contains("redirect_refused") && l.contains(&format!("app={}", w.c1.id))),
        "{lines}"
    );
    let future = events(&latchkey(
        &app,
        &["audit", "--since", &(T0 + 10).to_string(), "--json"],
        &[],
    ));
    assert!(future.is_empty());
}
both!(failed_logins_lockouts_and_refused_redirects_are_read_back_through_latchkey_audit);

async fn cli_changes_to_apps_and_grants_are_audited(app: TestApp) {
    let w = world(&app).await;
    let id = w.c1.id.to_string();
    latchkey(&app, &["app", "reset-secret", &id], &[]);
    app.issue_token(w.alice.id, w.c1.id, None).await;
    latchkey(
        &app,
        &["token", "revoke", "--user", "alice", "--app", &id],
        &[],
    );
    latchkey(&app, &["app", "delete", &id], &[]);
    let trail = events(&latchkey(&app, &["audit", "--app", &id, "--json"], &[]));
    assert_eq!(
        kinds(&trail),
        ["app_deleted", "app_disconnected", "client_secret_reset"]
    );
    assert!(trail.iter().all(|e| e["detail"] == "cli"));
    assert!(!app.database_contains(&w.s1).await);
}
both!(cli_changes_to_apps_and_grants_are_audited);

async fn keys_rotate_is_audited_with_the_new_and_the_retired_kid(app: TestApp) {
    let first: serde_json::Value =
        serde_json::from_slice(&latchkey(&app, &["keys", "rotate"], &[]).stdout).unwrap();
    let second: serde_json::Value =
        serde_json::from_slice(&latchkey(&app, &["keys", "rotate"], &[]).stdout).unwrap();
    let (first_kid, second_kid) = (
        first["kid"].as_str().unwrap(),
        second["kid"].as_str().unwrap(),
    );
    assert_eq!(second["retired_kid"], first_kid);

    let trail = events(&latchkey(&app, &["audit", "--json"], &[]));
    let rotations: Vec<&serde_json::Value> = trail
        .iter()
        .filter(|e| e["kind"] == "signing_key_rotated")
        .collect();
    assert_eq!(rotations.len(), 2, "{trail:?}");
    // Newest first: the second rotation names the key it retired.
    assert_eq!(
        rotations[0]["detail"],
        format!("cli: kid {second_kid} replaces {first_kid}")
    );
    assert_eq!(
        rotations[1]["detail"],
        format!("cli: kid {first_kid} (the first key)")
    );
    assert!(
        rotations
            .iter()
            .all(|e| e["user_id"].is_null() && e["app_id"].is_null())
    );
    // No private key material in the trail.
    assert!(!trail.iter().any(|e| e.to_string().contains("PRIVATE")));
}
both!(keys_rotate_is_audited_with_the_new_and_the_retired_kid);

async fn gc_purges_audit_events_past_their_retention(app: TestApp) {
    let w = world(&app).await;
    let now = latchkey::domain::clock::Clock::now(&latchkey::domain::clock::SystemClock);
    for (at, kind) in [(now - 3 * 86_400, "login_failed"), (now - 60, "login")] {
        let event = latchkey::store::AuditEvent {
            kind,
            user_id: Some(w.alice.id),
            ..Default::default()
        };
        app.store.audit(&event, at).await.unwrap();
    }
    let out = latchkey(&app, &["gc"], &[("LATCHKEY_AUDIT__RETENTION_DAYS", "2")]);
    let purged: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(purged["audit_events"], 1);
    let left = events(&latchkey(
        &app,
        &["audit", "--user", "alice", "--json"],
        &[],
    ));
    assert_eq!(kinds(&left), ["login"]);
}
both!(gc_purges_audit_events_past_their_retention);

async fn the_security_page_shows_the_users_own_recent_activity(app: TestApp) {
    let w = world(&app).await;
    app.login_as(&new_browser(), "alice", "wrong password")
        .await;
    app.login_as(&new_browser(), "bob", "wrong password").await;
    let bob_event = latchkey::store::AuditEvent {
        kind: "password_changed",
        user_id: Some(w.bob.id),
        ..Default::default()
    };
    app.store.audit(&bob_event, app.clock_now()).await.unwrap();
    let browser = app.alice_browser().await;
    let page = browser
        .get(app.url("/me/security"))
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200)
        .body;
    let activity = page
        .split("Recent activity")
        .nth(1)
        .expect("a Recent activity section");
    assert!(
        activity.contains("Failed login: wrong password"),
        "{activity}"
    );
    assert!(activity.contains("Logged in"), "{activity}");
    assert!(activity.contains("2026-01-01 00:00"), "{activity}");
    assert!(
        !activity.contains("Password changed"),
        "only alice's own events: {activity}"
    );
}
both!(the_security_page_shows_the_users_own_recent_activity);
