//! The `latchkey` command line, run as a real process against a fresh database.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use latchkey::domain::app::AppType;

use crate::both;
use crate::harness::*;

/// Runs the binary against the test app's database.
pub(crate) fn latchkey(app: &TestApp, args: &[&str]) -> Output {
    let url = match app.store.db() {
        latchkey::store::Db::Sqlite(_) => app.state.settings.database.url.clone(),
        latchkey::store::Db::Postgres(_) => app.state.settings.database.url.clone(),
    };
    Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .env("LATCHKEY_DATABASE_URL", url)
        .env("LATCHKEY_SECRET_KEY", "22".repeat(32))
        .env("LATCHKEY_PUBLIC_URL", &app.base)
        .output()
        .unwrap()
}

#[track_caller]
pub(crate) fn ok_json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[track_caller]
pub(crate) fn fails_saying(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure, got {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.stdout.is_empty(), "no JSON on failure");
    assert!(
        stderr.contains(needle),
        "stderr should mention {needle:?}: {stderr}"
    );
}

/// Runs the binary with `input` on its standard input.
fn latchkey_with_stdin(app: &TestApp, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .env("LATCHKEY_DATABASE_URL", &app.state.settings.database.url)
        .env("LATCHKEY_SECRET_KEY", "22".repeat(32))
        .env("LATCHKEY_PUBLIC_URL", &app.base)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Rows of `table` that belong to user `id`.
async fn rows_of(app: &TestApp, table: &str, id: i64) -> i64 {
    app.scalar(&format!(
        "SELECT COUNT(*) FROM {table} WHERE user_id = {id}"
    ))
    .await
}

/// A live access token for `user_id` and `app_id`.
async fn issue(app: &TestApp, user_id: i64, app_id: i64) -> String {
    app.issue_token(user_id, app_id, None).await.token
}

/// Another process revoked `token`: the server drops its cached copy (PostgreSQL NOTIFY, SQLite's
/// revocation log polled every 50 ms), within 100 ms on an idle machine. The test fails past
/// [`PATIENCE`] rather than past 100 ms of wall-clock time, which a loaded machine can spend
/// between two polls; within it, far below the cache's 60 s TTL, only the announcement can have
/// dropped the token.
async fn refused_once_announced(app: &TestApp, client_id: i64, token: &str) {
    let refused = async || app.token_info(client_id, token).await.status() == 400;
    wait_until("the server refuses the revoked token", PATIENCE, refused).await;
}

async fn token_revoke_ends_one_token_or_a_users_grants_and_refuses_what_it_cannot_find(
    app: TestApp,
) {
    let alice = app.user("alice", "correct horse battery").await;
    let (client, _) = app
        .app(&alice, &["https://client.example/cb"], AppType::Web)
        .await;
    let (other, _) = app
        .app(&alice, &["https://other.example/cb"], AppType::Web)
        .await;
    let one = issue(&app, alice.id, client.id).await;
    let two = issue(&app, alice.id, client.id).await;
    let three = issue(&app, alice.id, other.id).await;

    // One token, its value read from standard input.
    let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["token", "revoke", "--token", "-"])
        .env("LATCHKEY_DATABASE_URL", &app.state.settings.database.url)
        .env("LATCHKEY_SECRET_KEY", "22".repeat(32))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{one}").unwrap();
    let revoked = ok_json(&child.wait_with_output().unwrap());
    assert_eq!(revoked["revoked"], true);
    assert_eq!(revoked["client_id"], client.id.to_string());
    refused_once_announced(&app, client.id, &one).await;
    app.token_info(client.id, &two)
        .await
        .read()
        .await
        .assert_status(200);

    // What cannot be found changes nothing and says why.
    let tokens = app.count("access_tokens").await;
    fails_saying(
        &latchkey(&app, &["token", "revoke", "--token", &one]),
        "no live access token",
    );
    fails_saying(
        &latchkey(&app, &["token", "revoke", "--token", "lkat_x"]),
        "not a Latchkey access token",
    );
    fails_saying(
        &latchkey(&app, &["token", "revoke", "--user", "nobody"]),
        "nobody",
    );
    fails_saying(&latchkey(&app, &["token", "revoke"]), "--token");
    fails_saying(
        &latchkey(
            &app,
            &["token", "revoke", "--token", &two, "--user", "alice"],
        ),
        "cannot be used with",
    );
    assert_eq!(app.count("access_tokens").await, tokens);

    // A user's grants for one app, then for every app.
    let client_id = client.id.to_string();
    let revoked = ok_json(&latchkey(
        &app,
        &["token", "revoke", "--user", "alice", "--app", &client_id],
    ));
    assert_eq!(
        revoked["grants"], 2,
        "each token issued above has its own grant"
    );
    refused_once_announced(&app, client.id, &two).await;
    app.token_info(other.id, &three)
        .await
        .read()
        .await
        .assert_status(200);
    let revoked = ok_json(&latchkey(&app, &["token", "revoke", "--user", "alice"]));
    assert_eq!(
        revoked["client_ids"],
        serde_json::json!([other.id.to_string()])
    );
    refused_once_announced(&app, other.id, &three).await;
    assert_eq!(app.count("access_tokens").await, 0);
}
both!(token_revoke_ends_one_token_or_a_users_grants_and_refuses_what_it_cannot_find);

async fn user_site_and_app_commands_print_json_and_change_the_database(app: TestApp) {
    let user = ok_json(&latchkey(
        &app,
        &[
            "user",
            "create",
            "--username",
            "alice",
            "--email",
            "alice@example.com",
            "--password",
            "correct horse battery",
            "--display-name",
            "Alice",
        ],
    ));
    assert_eq!(user["username"], "alice");
    assert!(user["id"].is_i64());

    let site = ok_json(&latchkey(
        &app,
        &[
            "site",
            "create",
            "--owner",
            "alice",
            "--url",
            "https://alice.example/",
            "--name",
            "Alice's",
        ],
    ));
    assert_eq!(site["url"], "https://alice.example");
    let site_id = site["id"].as_i64().unwrap();

    ok_json(&latchkey(
        &app,
        &[
            "user",
            "create",
            "--username",
            "bob",
            "--email",
            "bob@example.com",
            "--password",
            "bob-password",
        ],
    ));
    let member = ok_json(&latchkey(
        &app,
        &[
            "site",
            "add-user",
            "--site",
            "alice.example",
            "--user",
            "bob",
            "--role",
            "editor",
        ],
    ));
    assert_eq!(member["site_id"], site_id);
    assert_eq!(member["role"], "editor");

    let created = ok_json(&latchkey(
        &app,
        &[
            "app",
            "create",
            "--owner",
            "alice",
            "--name",
            "Client",
            "--redirect-uri",
            "https://client.example/cb",
            "--redirect-uri",
            "https://client.example/cb2",
            "--oauth1-callback",
            "https://client.example/oauth1/cb",
        ],
    ));
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(client_id.parse::<i64>().is_ok());
    assert_eq!(created["consumer_key"].as_str().unwrap().len(), 12);
    assert_eq!(created["consumer_secret"].as_str().unwrap().len(), 48);

    let list = ok_json(&latchkey(&app, &["app", "list"]));
    assert_eq!(list[0]["client_id"], client_id.as_str());
    assert_eq!(list[0]["redirect_uris"][1], "https://client.example/cb2");
    assert!(
        !list.to_string().contains(&secret),
        "secrets are never listed"
    );

    let regenerated = ok_json(&latchkey(
        &app,
        &["app", "regenerate-consumer-secret", &client_id],
    ));
    assert_eq!(regenerated["consumer_key"], created["consumer_key"]);
    assert_ne!(regenerated["consumer_secret"], created["consumer_secret"]);
    assert_eq!(regenerated["consumer_secret"].as_str().unwrap().len(), 48);

    let reset = ok_json(&latchkey(&app, &["app", "reset-secret", &client_id]));
    assert_ne!(reset["client_secret"], secret.as_str());

    ok_json(&latchkey(&app, &["app", "delete", &client_id]));
    assert_eq!(app.count("apps").await, 0);
}
both!(user_site_and_app_commands_print_json_and_change_the_database);

async fn bad_input_exits_non_zero_says_what_to_fix_and_changes_nothing(app: TestApp) {
    ok_json(&latchkey(
        &app,
        &[
            "user",
            "create",
            "--username",
            "alice",
            "--email",
            "alice@example.com",
            "--password",
            "long enough",
        ],
    ));
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "user",
                "create",
                "--username",
                "alice",
                "--email",
                "a2@example.com",
                "--password",
                "long enough",
            ],
            "username is already taken",
        ),
        (
            &[
                "user",
                "create",
                "--username",
                "carol",
                "--email",
                "alice@example.com",
                "--password",
                "long enough",
            ],
            "email is already taken",
        ),
        (
            &[
                "user",
                "create",
                "--username",
                "carol",
                "--email",
                "not-an-email",
                "--password",
                "long enough",
            ],
            "email",
        ),
        (
            &[
                "user",
                "create",
                "--username",
                "carol",
                "--email",
                "c@example.com",
                "--password",
                "short",
            ],
            "at least 8",
        ),
        (
            &[
                "user",
                "create",
                "--username",
                "carol",
                "--email",
                "c@example.com",
            ],
            "--password",
        ),
        (
            &[
                "site",
                "create",
                "--owner",
                "nobody",
                "--url",
                "https://x.example",
                "--name",
                "X",
            ],
            "no user named",
        ),
        (
            &[
                "site",
                "create",
                "--owner",
                "alice",
                "--url",
                "not a url",
                "--name",
                "X",
            ],
            "url",
        ),
        (
            &[
                "site", "add-user", "--site", "999", "--user", "alice", "--role", "editor",
            ],
            "no site",
        ),
        (
            &[
                "app",
                "create",
                "--owner",
                "nobody",
                "--name",
                "X",
                "--redirect-uri",
                "https://c.example/cb",
            ],
            "no user named",
        ),
        (
            &[
                "app",
                "create",
                "--owner",
                "alice",
                "--name",
                "X",
                "--redirect-uri",
                "javascript:alert(1)",
            ],
            "redirect-uri",
        ),
        (
            &[
                "app",
                "create",
                "--owner",
                "alice",
                "--name",
                "X",
                "--redirect-uri",
                "https://c.example/cb#frag",
            ],
            "redirect-uri",
        ),
        (
            &[
                "app",
                "create",
                "--owner",
                "alice",
                "--name",
                "X",
                "--redirect-uri",
                "http://c.example/cb",
            ],
            "redirect-uri",
        ),
        (
            &["app", "create", "--owner", "alice", "--name", "X"],
            "--redirect-uri",
        ),
        (
            &[
                "app",
                "create",
                "--owner",
                "alice",
                "--name",
                "X",
                "--redirect-uri",
                "https://c.example/cb",
                "--type",
                "desktop",
            ],
            "--type",
        ),
        (
            &[
                "app",
                "create",
                "--owner",
                "alice",
                "--name",
                "X",
                "--redirect-uri",
                "https://c.example/cb",
                "--js-origin",
                "https://c.example/path",
            ],
            "js-origin",
        ),
        (&["app", "reset-secret", "12345"], "no app"),
        (&["app", "delete", "abc"], "numeric"),
    ];
    for (args, needle) in cases {
        let out = latchkey(&app, args);
        fails_saying(&out, needle);
    }
    assert_eq!(app.count("users").await, 1);
    assert_eq!(app.count("sites").await, 0);
    assert_eq!(app.count("apps").await, 0);
}
both!(bad_input_exits_non_zero_says_what_to_fix_and_changes_nothing);

async fn user_list_show_set_password_and_disable_two_step_print_json_or_a_table_and_audit(
    app: TestApp,
) {
    // Passwords come from standard input (never only from the command line).
    let created = ok_json(&latchkey_with_stdin(
        &app,
        &[
            "user",
            "create",
            "--username",
            "alice",
            "--email",
            "alice@example.com",
            "--password-stdin",
        ],
        "correct horse battery\n",
    ));
    assert_eq!(created["username"], "alice");
    let bob = app.user("bob", "bob's long password").await;
    let blog = app.site(&bob, "https://bob.example").await;
    let alice = app.store.user_by_login("alice").await.unwrap().unwrap();
    app.member(&blog, &alice, latchkey::store::Role::Editor)
        .await;
    app.login_as(&new_browser(), "alice", "correct horse battery")
        .await
        .read()
        .await
        .assert_status(303);

    let list = latchkey(&app, &["user", "list"]);
    let text = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(text.starts_with("[\n  {"), "pretty-printed: {text}");
    let users = ok_json(&list);
    assert_eq!(users[0]["username"], "alice");
    assert_eq!(users[1]["username"], "bob");
    assert_eq!(users[0]["two_step"], false);
    assert!(!text.contains("argon2"), "no hash is listed");
    let table = latchkey(&app, &["user", "list", "--table"]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID  USERNAME  EMAIL"), "{table}");
    assert!(lines[1].contains("alice@example.com"), "{table}");
    assert_eq!(lines.len(), 3);

    let shown = ok_json(&latchkey(&app, &["user", "show", "alice@example.com"]));
    assert_eq!(shown["sites"][0]["role"], "editor");
    assert_eq!(shown["sites"][0]["owner"], false);
    assert_eq!(shown["two_step"], false);

    // A new password from standard input: the old one stops working and sessions end.
    assert_eq!(rows_of(&app, "sessions", alice.id).await, 1);
    ok_json(&latchkey_with_stdin(
        &app,
        &["user", "set-password", "alice", "--password-stdin"],
        "a new long passphrase\n",
    ));
    assert_eq!(rows_of(&app, "sessions", alice.id).await, 0);
    app.login_as(&new_browser(), "alice", "correct horse battery")
        .await
        .read()
        .await
        .assert_status(401);
    app.login_as(&new_browser(), "alice", "a new long passphrase")
        .await
        .read()
        .await
        .assert_status(303);
    fails_saying(
        &latchkey_with_stdin(
            &app,
            &["user", "set-password", "alice", "--password-stdin"],
            "short\n",
        ),
        "at least 8",
    );
    fails_saying(
        &latchkey(&app, &["user", "set-password", "alice"]),
        "--password-stdin",
    );
    fails_saying(
        &latchkey(&app, &["user", "set-password", "alice", "--password", "x"]),
        "--password",
    );

    // A locked-out user's 2-step goes off, with their recovery codes.
    app.store
        .enable_two_step(alice.id, b"sealed seed", 1, &[[7; 32]], app.clock_now())
        .await
        .unwrap();
    assert_eq!(
        ok_json(&latchkey(&app, &["user", "show", "alice"]))["two_step"],
        true
    );
    let off = ok_json(&latchkey(&app, &["user", "disable-two-step", "alice"]));
    assert_eq!(off["changed"], true);
    assert!(!app.store.two_step(alice.id).await.unwrap().enabled());
    assert_eq!(rows_of(&app, "recovery_codes", alice.id).await, 0);
    assert_eq!(
        ok_json(&latchkey(&app, &["user", "disable-two-step", "alice"]))["changed"],
        false
    );

    for kind in ["password_changed", "two_step_disabled"] {
        let sql = format!(
            "SELECT COUNT(*) FROM audit_events WHERE kind = '{kind}' AND user_id = {} AND detail = 'cli'",
            alice.id
        );
        assert_eq!(app.scalar(&sql).await, 1, "{kind}");
    }
    fails_saying(
        &latchkey(&app, &["user", "show", "nobody"]),
        "no user named",
    );
}
both!(user_list_show_set_password_and_disable_two_step_print_json_or_a_table_and_audit);

async fn user_delete_ends_everything_the_user_holds_on_the_running_server_and_refuses_owners_without_force(
    app: TestApp,
) {
    let w = crate::flows::world(&app).await;
    // alice holds a cached token of bob's app, a pending code, a session and an app password.
    let token = issue(&app, w.alice.id, w.c3.id).await;
    app.token_info(w.c3.id, &token)
        .await
        .read()
        .await
        .assert_status(200);
    app.token_info(w.c3.id, &token)
        .await
        .read()
        .await
        .assert_status(200);
    let browser = app.alice_browser().await;
    let query = crate::flows::authz_query(w.c3.id, "https://other.example/cb", &[]);
    let code = app.obtain_code(&browser, &query, Some(w.blog1.id)).await;
    app.store
        .create_app_password(w.alice.id, "phone", "abcd", "$argon2id$x", app.clock_now())
        .await
        .unwrap();
    // bob's token for alice's app goes with the app.
    app.member(&w.blog1, &w.bob, latchkey::store::Role::Administrator)
        .await;
    let bobs = issue(&app, w.bob.id, w.c1.id).await;
    app.token_info(w.c1.id, &bobs)
        .await
        .read()
        .await
        .assert_status(200);

    let users = app.count("users").await;
    fails_saying(&latchkey(&app, &["user", "delete", "alice"]), "--force");
    assert_eq!(app.count("users").await, users);
    app.token_info(w.c3.id, &token)
        .await
        .read()
        .await
        .assert_status(200);

    let deleted = ok_json(&latchkey(&app, &["user", "delete", "alice", "--force"]));
    assert_eq!(deleted["deleted"], true);
    assert_eq!(deleted["apps_deleted"].as_array().unwrap().len(), 2);
    refused_once_announced(&app, w.c3.id, &token).await;
    refused_once_announced(&app, w.c1.id, &bobs).await;
    for table in [
        "grants",
        "access_tokens",
        "auth_codes",
        "sessions",
        "app_passwords",
        "oauth1_access_tokens",
        "site_members",
    ] {
        assert_eq!(rows_of(&app, table, w.alice.id).await, 0, "{table}");
    }
    app.exchange_code(&w.c3, &w.s3, &code, "https://other.example/cb")
        .await
        .read()
        .await
        .assert_status(400);
    let home = browser
        .get(app.url("/me/security/connected-applications"))
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 303, "the session ended");
    assert_eq!(app.count("users").await, users - 1);
    let sql = format!(
        "SELECT COUNT(*) FROM audit_events WHERE kind = 'user_deleted' AND user_id = {}",
        w.alice.id
    );
    assert_eq!(app.scalar(&sql).await, 1);

    // bob owns a site and an app: refused without --force.
    fails_saying(
        &latchkey(&app, &["user", "delete", "bob"]),
        "owns 1 site(s)",
    );
    fails_saying(
        &latchkey(&app, &["user", "delete", "alice"]),
        "no user named",
    );
}
both!(user_delete_ends_everything_the_user_holds_on_the_running_server_and_refuses_owners_without_force);

async fn app_update_changes_only_what_is_given_under_the_rules_of_create(app: TestApp) {
    let alice = app.user("alice", "correct horse battery").await;
    let (client, _) = app
        .app(&alice, &["https://client.example/cb"], AppType::Web)
        .await;
    let id = client.id.to_string();
    let updated = ok_json(&latchkey(
        &app,
        &[
            "app",
            "update",
            &id,
            "--name",
            "Renamed",
            "--redirect-uri",
            "https://client.example/cb2",
            "--implicit",
            "false",
            "--oauth1-callback",
            "oob",
        ],
    ));
    assert_eq!(updated["name"], "Renamed");
    assert_eq!(
        updated["redirect_uris"],
        serde_json::json!(["https://client.example/cb2"])
    );
    assert_eq!(updated["allow_implicit"], false);
    assert_eq!(updated["website"], "https://client.example", "unchanged");
    assert_eq!(
        updated["consumer_secret"].as_str().unwrap().len(),
        48,
        "shown once"
    );
    let stored = app.store.app_by_id(client.id).await.unwrap().unwrap();
    assert_eq!(stored.name, "Renamed");
    assert_eq!(stored.oauth1_callback.as_deref(), Some("oob"));

    let again = ok_json(&latchkey(
        &app,
        &["app", "update", &id, "--description", "New words"],
    ));
    assert!(
        again.get("consumer_secret").is_none(),
        "the consumer stays as it was"
    );
    assert_eq!(again["consumer_key"], updated["consumer_key"]);
    assert_eq!(again["redirect_uris"], updated["redirect_uris"]);

    fails_saying(
        &latchkey(
            &app,
            &[
                "app",
                "update",
                &id,
                "--redirect-uri",
                "javascript:alert(1)",
            ],
        ),
        "redirect-uri",
    );
    fails_saying(
        &latchkey(&app, &["app", "update", &id, "--type", "desktop"]),
        "native",
    );
    fails_saying(
        &latchkey(&app, &["app", "update", "999", "--name", "X"]),
        "no app",
    );
    assert_eq!(
        app.store
            .app_by_id(client.id)
            .await
            .unwrap()
            .unwrap()
            .description,
        "New words"
    );

    let table = latchkey(&app, &["app", "list", "--table"]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(table.starts_with("CLIENT_ID  NAME"), "{table}");
    assert!(table.contains("Renamed"), "{table}");
    let listed = latchkey(&app, &["app", "list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).starts_with("[\n  {"));
}
both!(app_update_changes_only_what_is_given_under_the_rules_of_create);

#[test]
fn every_command_describes_itself_in_help_with_the_values_enums_take() {
    let help = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .args(args)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let user = help(&["user"]);
    for command in [
        "create",
        "list",
        "show",
        "delete",
        "set-password",
        "disable-two-step",
    ] {
        let line = user
            .lines()
            .find(|l| l.trim_start().starts_with(command))
            .unwrap_or_else(|| panic!("{command} in {user}"));
        assert!(
            line.trim().len() > command.len() + 5,
            "{command} is described: {line}"
        );
    }
    let app = help(&["app"]);
    for command in ["create", "list", "update", "reset-secret", "delete"] {
        let line = app
            .lines()
            .find(|l| l.trim_start().starts_with(command))
            .unwrap_or_else(|| panic!("{command} in {app}"));
        assert!(
            line.trim().len() > command.len() + 5,
            "{command} is described: {line}"
        );
    }
    assert!(help(&["app", "create"]).contains("[possible values: web, native]"));
    assert!(help(&["app", "update"]).contains("[possible values: web, native]"));
    assert!(
        help(&["site", "add-user"])
            .contains("[possible values: administrator, editor, author, subscriber]")
    );
    assert!(help(&["user", "create"]).contains("--password-stdin"));
    assert!(help(&["user", "list"]).contains("--table"));
}

#[test]
fn invalid_configuration_stops_with_a_message_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["migrate"])
        .env(
            "LATCHKEY_DATABASE_URL",
            format!("sqlite://{}/x.db", dir.path().display()),
        )
        .env("LATCHKEY_OAUTH2__CODE_TTL_SECS", "9999")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("oauth2.code_ttl_secs"), "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["migrate"])
        .env("LATCHKEY_LISTEN", "nowhere")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen"));
}

/// Fault F01: with PostgreSQL unreachable the server still starts, is live but not ready, and
/// answers 503 rather than failing.
#[tokio::test]
async fn f01_an_unreachable_database_leaves_the_server_live_but_not_ready() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let _child = tokio::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("serve")
        .current_dir(dir.path())
        .env(
            "LATCHKEY_DATABASE_URL",
            "postgres://postgres@127.0.0.1:1/none",
        )
        .env("LATCHKEY_LISTEN", format!("127.0.0.1:{port}"))
        .env("LATCHKEY_SECRET_KEY", "33".repeat(32))
        .env("LATCHKEY_DATABASE__ACQUIRE_TIMEOUT_SECS", "1")
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = new_browser();
    let base = format!("http://127.0.0.1:{port}");
    let mut live = None;
    let answered = async || {
        let answer = client.get(format!("{base}/health/live")).send().await;
        live = answer.ok().map(|r| r.status().as_u16());
        live.is_some()
    };
    wait_until("the server answers /health/live", 3 * PATIENCE, answered).await;
    assert_eq!(live, Some(200));
    let ready = client
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    assert!(ready.headers().contains_key("retry-after"));
    let token = client
        .get(format!("{base}/oauth2/token-info?client_id=1&token=lkat_x"))
        .send()
        .await
        .unwrap();
    assert!(token.status().as_u16() == 400 || token.status().as_u16() == 503);
}

async fn app_create_takes_the_grant_types_of_the_oauth21_token_endpoint(app: TestApp) {
    app.user("alice", "correct horse battery").await;
    let base = [
        "app",
        "create",
        "--owner",
        "alice",
        "--name",
        "Agent",
        "--redirect-uri",
        "https://c.example/cb",
    ];
    let mut with_grants = base.to_vec();
    with_grants.extend([
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
    ]);
    let created = ok_json(&latchkey(&app, &with_grants));
    assert_eq!(
        created["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    let id: i64 = created["client_id"].as_str().unwrap().parse().unwrap();
    let stored = app.store.app_by_id(id).await.unwrap().unwrap();
    assert_eq!(stored.grant_types, "authorization_code refresh_token");

    // Without the option: the code grant alone, and no grant_types in the output.
    let plain = ok_json(&latchkey(&app, &base));
    assert!(plain.get("grant_types").is_none(), "{plain}");
    let id: i64 = plain["client_id"].as_str().unwrap().parse().unwrap();
    let stored = app.store.app_by_id(id).await.unwrap().unwrap();
    assert_eq!(stored.grant_types, "authorization_code");

    // An unknown grant type is refused before anything is written.
    let mut bad = base.to_vec();
    bad.extend(["--grant-type", "password"]);
    let apps_before = app.count("apps").await;
    fails_saying(&latchkey(&app, &bad), "--grant-type");
    assert_eq!(app.count("apps").await, apps_before);
}
both!(app_create_takes_the_grant_types_of_the_oauth21_token_endpoint);

async fn app_update_replaces_the_grant_types_of_the_oauth21_token_endpoint(app: TestApp) {
    app.user("alice", "correct horse battery").await;
    let created = ok_json(&latchkey(
        &app,
        &[
            "app",
            "create",
            "--owner",
            "alice",
            "--name",
            "Agent",
            "--redirect-uri",
            "https://c.example/cb",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
        ],
    ));
    let id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    let updated = ok_json(&latchkey(
        &app,
        &["app", "update", id, "--grant-type", "client_credentials"],
    ));
    assert_eq!(
        updated["grant_types"],
        serde_json::json!(["client_credentials"])
    );
    let stored = app
        .store
        .app_by_id(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.grant_types, "client_credentials");
    assert_eq!(
        stored.redirect_uris, "https://c.example/cb",
        "the rest stays"
    );
    app.token21(&[
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
    ])
    .await
    .read()
    .await
    .assert_status(200);

    // Without --grant-type the list stays; an unknown grant writes nothing.
    let renamed = ok_json(&latchkey(&app, &["app", "update", id, "--name", "Agent 2"]));
    assert_eq!(
        renamed["grant_types"],
        serde_json::json!(["client_credentials"])
    );
    fails_saying(
        &latchkey(&app, &["app", "update", id, "--grant-type", "password"]),
        "--grant-type",
    );
    let stored = app
        .store
        .app_by_id(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.grant_types, "client_credentials");
    assert_eq!(stored.name, "Agent 2");
}
both!(app_update_replaces_the_grant_types_of_the_oauth21_token_endpoint);
