//! The validation cache and housekeeping (issue 7): revocation wins on the revoking instance at
//! once and on every other instance within 100 ms (security.md F07, TK07); a just-issued token
//! validates everywhere at once; expired rows are purged in batches, used-code tombstones kept.

use std::sync::Arc;
use std::time::Duration;

use latchkey::AppState;
use latchkey::config::Config;
use latchkey::domain::app::AppType;
use latchkey::domain::random::OsRandom;
use latchkey::domain::secret::{self, Kind};

use latchkey::store::{NewCode, NewToken, RedeemRefusal, Role, Store};

use crate::both;
use crate::harness::*;

/// A second instance (its own router, pool and cache) on `app`'s database, sharing its clock.
pub(crate) async fn peer(app: &TestApp) -> (String, AppState) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = Config {
        database_url: app.state.settings.database.url.clone(),
        listen: listener.local_addr().unwrap().to_string(),
        public_url: base.clone(),
        secret_key: "11".repeat(32),
        ..Config::default()
    };
    config.database.max_connections = 4;
    let settings = config.validate().unwrap();
    let key = settings.secret_key(&OsRandom).unwrap();
    let store = Store::connect(&settings.database).await.unwrap();
    let state = AppState::new(
        store,
        settings,
        Arc::new(app.clock.clone()),
        Arc::new(OsRandom),
        key,
    );
    let served = state.clone();
    tokio::spawn(async move {
        latchkey::server::run(listener, served, std::future::pending())
            .await
            .unwrap();
    });
    wait_live(&state.store).await;
    (base, state)
}

/// A token for `user` and `app`, written straight through the store as the token endpoint would.
async fn issue(app: &TestApp, user_id: i64, app_id: i64, expires_at: Option<i64>) -> Issued {
    app.issue_token(user_id, app_id, expires_at).await
}

async fn token_info(http: &reqwest::Client, base: &str, app_id: i64, token: &str) -> u16 {
    http.get(format!("{base}/oauth2/token-info"))
        .query(&[
            ("client_id", app_id.to_string()),
            ("token", token.to_owned()),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Polls `base` until the token is refused and returns how long that took (F07 and
/// performance.md ask for 100 ms: a few ms on an idle machine, printed with `--nocapture`). The
/// test fails past [`PATIENCE`], not past 100 ms of wall-clock time, which a loaded machine can
/// spend between two polls; a refusal before the cache's 60 s TTL can only come from the
/// announcement, which is what these tests prove.
async fn refused_once_announced(
    http: &reqwest::Client,
    base: &str,
    app_id: i64,
    token: &str,
) -> Duration {
    let refused = async || token_info(http, base, app_id, token).await == 400;
    wait_until(
        &format!("{base} refuses the revoked token"),
        PATIENCE,
        refused,
    )
    .await
}

fn code_for(digest: &[u8; 32], user_id: i64, app_id: i64, expires_at: i64) -> NewCode<'_> {
    NewCode {
        digest,
        app_id,
        user_id,
        site_id: None,
        scope: "global",
        redirect_uri: "https://client.example/cb",
        code_challenge: None,
        expires_at,
    }
}

async fn fixture(app: &TestApp) -> (i64, i64) {
    let alice = app.user("alice", "correct horse battery").await;
    let (client, _) = app
        .app(&alice, &["https://client.example/cb"], AppType::Web)
        .await;
    (alice.id, client.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_on_one_instance_fails_on_another_within_100_ms() {
    let Some(a) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    wait_live(&a.store).await;
    let (b, _b_state) = peer(&a).await;
    let (user_id, app_id) = fixture(&a).await;
    let http = reqwest::Client::new();

    // Each revocation path of the store, one token each; every token is cached on B first.
    let by_token = issue(&a, user_id, app_id, None).await;
    let by_grant = issue(&a, user_id, app_id, None).await;
    for issued in [&by_token, &by_grant] {
        for _ in 0..2 {
            assert_eq!(token_info(&http, &b, app_id, &issued.token).await, 200);
        }
    }
    a.store.revoke_token(by_token.grant.token_id).await.unwrap();
    assert_eq!(
        token_info(&http, &a.base, app_id, &by_token.token).await,
        400,
        "at once on A"
    );
    let took = refused_once_announced(&http, &b, app_id, &by_token.token).await;
    eprintln!("revoke_token seen on B after {took:?}");
    assert_eq!(
        token_info(&http, &b, app_id, &by_grant.token).await,
        200,
        "others stay valid"
    );

    a.store.revoke_app_for_user(user_id, app_id).await.unwrap();
    assert_eq!(
        token_info(&http, &a.base, app_id, &by_grant.token).await,
        400
    );
    let took = refused_once_announced(&http, &b, app_id, &by_grant.token).await;
    eprintln!("revoke_app_for_user seen on B after {took:?}");

    // Code replay on A revokes the token the code issued, on B too.
    let code = secret::digest(&secret::mint(Kind::AuthCode, &OsRandom));
    let minted = latchkey::oauth2::tokens::mint(&a.state);
    let now = a.clock_now();
    a.store
        .grant_code(&code_for(&code, user_id, app_id, now + 60), now)
        .await
        .unwrap();
    let redeemed = a
        .store
        .redeem_code::<(), _>(&code, now, |_| {
            Ok(latchkey::store::CodeToken {
                digest: &minted.digest,
                expires_at: None,
            })
        })
        .await
        .unwrap();
    assert!(redeemed.is_ok());
    assert_eq!(token_info(&http, &b, app_id, &minted.token).await, 200);
    let replay = a
        .store
        .redeem_code::<(), _>(&code, now, |_| unreachable!())
        .await
        .unwrap();
    assert!(matches!(replay, Err(RedeemRefusal::Replayed)));
    assert_eq!(token_info(&http, &a.base, app_id, &minted.token).await, 400);
    refused_once_announced(&http, &b, app_id, &minted.token).await;

    // Deleting the app on A.
    let last = issue(&a, user_id, app_id, None).await;
    assert_eq!(token_info(&http, &b, app_id, &last.token).await, 200);
    a.store.delete_app(app_id).await.unwrap();
    refused_once_announced(&http, &b, app_id, &last.token).await;
}

/// `/rest/v1.1/me` on `base` with the bearer: (site_count, primary_blog).
async fn me_sites(http: &reqwest::Client, base: &str, token: &str) -> (u64, i64) {
    let me: serde_json::Value = http
        .get(format!("{base}/rest/v1.1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        me["site_count"].as_u64().unwrap(),
        me["primary_blog"].as_i64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_membership_changed_on_one_instance_shows_in_me_on_another_within_100_ms() {
    let Some(a) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    wait_live(&a.store).await;
    let (b, _b_state) = peer(&a).await;
    let (user_id, app_id) = fixture(&a).await;
    let owner = a.user("olga", "correct horse battery").await;
    let site = a.site(&owner, "https://olga.example").await;
    let http = reqwest::Client::new();
    let issued = issue(&a, user_id, app_id, None).await;
    assert_eq!(
        me_sites(&http, &b, &issued.token).await,
        (0, 0),
        "cached on B"
    );

    a.store
        .set_membership(site.id, user_id, Role::Administrator, a.clock_now())
        .await
        .unwrap();
    assert_eq!(
        me_sites(&http, &a.base, &issued.token).await,
        (1, site.id),
        "at once on A"
    );
    // As for revocations: a few ms on an idle machine; the announcement, not the TTL, if within
    // PATIENCE (see refused_once_announced).
    let shown = async || me_sites(&http, &b, &issued.token).await == (1, site.id);
    let took = wait_until("B shows the new site", PATIENCE, shown).await;
    eprintln!("membership seen on B after {took:?}");

    a.store.remove_membership(site.id, user_id).await.unwrap();
    let removed = async || me_sites(&http, &b, &issued.token).await == (0, 0);
    let took = wait_until("B drops the removed site", PATIENCE, removed).await;
    eprintln!("membership removal seen on B after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_issued_on_one_instance_validates_on_another_at_once() {
    let Some(a) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let (b, _b_state) = peer(&a).await;
    let (user_id, app_id) = fixture(&a).await;
    let http = reqwest::Client::new();
    let minted = latchkey::oauth2::tokens::mint(&a.state);
    // Asked on B before it exists: no negative answer may be remembered.
    assert_eq!(token_info(&http, &b, app_id, &minted.token).await, 400);
    a.store
        .grant_token(
            &NewToken {
                digest: &minted.digest,
                app_id,
                user_id,
                site_id: None,
                scope: "global",
                origin: "code",
                expires_at: None,
            },
            a.clock_now(),
        )
        .await
        .unwrap();
    assert_eq!(token_info(&http, &b, app_id, &minted.token).await, 200);
}

async fn me_shows_a_changed_membership_at_once_on_the_instance_that_made_it(app: TestApp) {
    wait_live(&app.store).await;
    let (user_id, app_id) = fixture(&app).await;
    let issued = issue(&app, user_id, app_id, None).await;
    let alice = app.store.user_by_id(user_id).await.unwrap().unwrap();
    assert_eq!(me_sites(&app.http, &app.base, &issued.token).await, (0, 0));
    let first = app.site(&alice, "https://first.example").await;
    assert_eq!(
        me_sites(&app.http, &app.base, &issued.token).await,
        (1, first.id)
    );
    let owner = app.user("olga", "correct horse battery").await;
    let other = app.site(&owner, "https://olga.example").await;
    app.store
        .set_membership(other.id, user_id, Role::Editor, app.clock_now())
        .await
        .unwrap();
    assert_eq!(
        me_sites(&app.http, &app.base, &issued.token).await,
        (2, first.id)
    );
    app.store
        .remove_membership(first.id, user_id)
        .await
        .unwrap();
    // An editor's site is no primary blog.
    assert_eq!(me_sites(&app.http, &app.base, &issued.token).await, (1, 0));
}
both!(me_shows_a_changed_membership_at_once_on_the_instance_that_made_it);

async fn writes_that_announce_nothing_leave_cached_tokens_alone(app: TestApp) {
    // New tokens, nonces and sessions are written all the time; only announced changes may
    // drop cached grants (on SQLite they used to clear the whole cache). A row deleted behind
    // Latchkey's back stays valid until the entry's TTL: announcements are the contract.
    wait_live(&app.store).await;
    let (user_id, app_id) = fixture(&app).await;
    let cached = issue(&app, user_id, app_id, None).await;
    assert_eq!(
        token_info(&app.http, &app.base, app_id, &cached.token).await,
        200
    );
    let sql = "DELETE FROM access_tokens WHERE id = $1";
    match app.store.db() {
        latchkey::store::Db::Sqlite(p) => {
            sqlx::query(sql)
                .bind(cached.grant.token_id)
                .execute(p)
                .await
                .unwrap();
        }
        latchkey::store::Db::Postgres(p) => {
            sqlx::query(sql)
                .bind(cached.grant.token_id)
                .execute(p)
                .await
                .unwrap();
        }
    }
    issue(&app, user_id, app_id, None).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        token_info(&app.http, &app.base, app_id, &cached.token).await,
        200,
        "still cached"
    );
    // An announced revocation of anything of this grant's user and app drops it.
    app.store
        .revoke_app_for_user(user_id, app_id)
        .await
        .unwrap();
    assert_eq!(
        token_info(&app.http, &app.base, app_id, &cached.token).await,
        400
    );
}
both!(writes_that_announce_nothing_leave_cached_tokens_alone);

async fn garbage_collection_purges_old_revocation_announcements(app: TestApp) {
    let (user_id, app_id) = fixture(&app).await;
    app.store
        .revoke_app_for_user(user_id, app_id)
        .await
        .unwrap();
    if let latchkey::store::Db::Sqlite(p) = app.store.db() {
        assert_eq!(app.count("revocation_log").await, 1, "announced in the log");
        sqlx::query("UPDATE revocation_log SET created_at = created_at - 3601")
            .execute(p)
            .await
            .unwrap();
        app.store
            .revoke_app_for_user(user_id, app_id)
            .await
            .unwrap();
        assert_eq!(app.store.purge_revocation_log(1_000).await.unwrap(), 1);
        assert_eq!(app.count("revocation_log").await, 1, "the fresh one stays");
    } else {
        assert_eq!(app.store.purge_revocation_log(1_000).await.unwrap(), 0);
    }
}
both!(garbage_collection_purges_old_revocation_announcements);

async fn a_revoked_token_fails_at_once_on_the_instance_that_revoked_it(app: TestApp) {
    wait_live(&app.store).await;
    let (user_id, app_id) = fixture(&app).await;
    let issued = issue(&app, user_id, app_id, None).await;
    let other = issue(&app, user_id, app_id, None).await;
    for issued in [&issued, &other] {
        assert_eq!(
            token_info(&app.http, &app.base, app_id, &issued.token).await,
            200
        );
    }
    assert!(app.store.validation_cache().len() <= 2);
    app.store.revoke_token(issued.grant.token_id).await.unwrap();
    assert_eq!(
        token_info(&app.http, &app.base, app_id, &issued.token).await,
        400
    );
    app.store.delete_user(user_id).await.unwrap();
    assert_eq!(
        token_info(&app.http, &app.base, app_id, &other.token).await,
        400
    );
}
both!(a_revoked_token_fails_at_once_on_the_instance_that_revoked_it);

async fn a_cached_token_still_expires_on_time(app: TestApp) {
    wait_live(&app.store).await;
    let (user_id, app_id) = fixture(&app).await;
    let issued = issue(&app, user_id, app_id, Some(app.clock_now() + 60)).await;
    assert_eq!(
        token_info(&app.http, &app.base, app_id, &issued.token).await,
        200
    );
    app.clock.advance(61);
    assert_eq!(
        token_info(&app.http, &app.base, app_id, &issued.token).await,
        400
    );
}
both!(a_cached_token_still_expires_on_time);

async fn garbage_collection_purges_expired_tokens_in_batches(app: TestApp) {
    let (user_id, app_id) = fixture(&app).await;
    let now = app.clock_now();
    let expiring = issue(&app, user_id, app_id, Some(now + 10)).await;
    let digests: Vec<[u8; 32]> = (0..2_500u32)
        .map(|i| secret::digest(&format!("expired-{i}")))
        .collect();
    app.store
        .seed_tokens(&expiring.grant, &digests, now)
        .await
        .unwrap();
    let keeper = issue(&app, user_id, app_id, None).await;
    let later = issue(&app, user_id, app_id, Some(now + 3600)).await;
    assert_eq!(app.count("access_tokens").await, 2_503);
    app.clock.advance(10);
    let purged = app
        .store
        .collect_garbage(app.clock_now(), 1_000, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(purged.tokens, 2_501);
    assert_eq!(app.count("access_tokens").await, 2);
    for live in [&keeper, &later] {
        assert_eq!(
            token_info(&app.http, &app.base, app_id, &live.token).await,
            200
        );
    }
}
both!(garbage_collection_purges_expired_tokens_in_batches);

async fn garbage_collection_purges_expired_codes_but_keeps_fresh_tombstones(app: TestApp) {
    let (user_id, app_id) = fixture(&app).await;
    let now = app.clock_now();
    let code = |n: &str| secret::digest(n);
    let (unused, used, live) = (code("unused"), code("used"), code("live"));
    app.store
        .grant_code(&code_for(&unused, user_id, app_id, now + 60), now)
        .await
        .unwrap();
    app.store
        .grant_code(&code_for(&used, user_id, app_id, now + 60), now)
        .await
        .unwrap();
    app.store
        .grant_code(&code_for(&live, user_id, app_id, now + 600), now)
        .await
        .unwrap();
    let minted = latchkey::oauth2::tokens::mint(&app.state);
    app.store
        .redeem_code::<(), _>(&used, now, |_| {
            Ok(latchkey::store::CodeToken {
                digest: &minted.digest,
                expires_at: None,
            })
        })
        .await
        .unwrap()
        .unwrap();
    // Both short codes have expired; the used one stays as a tombstone for 30 minutes.
    let purged = app
        .store
        .collect_garbage(now + 61, 1_000, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(purged.codes, 1, "only the unused expired code goes");
    assert_eq!(app.count("auth_codes").await, 2);
    let purged = app
        .store
        .collect_garbage(now + 30 * 60 - 1, 1_000, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        purged.codes, 1,
        "the other code has expired; the tombstone is 1 s too young"
    );
    assert_eq!(app.count("auth_codes").await, 1);
    let purged = app
        .store
        .collect_garbage(now + 30 * 60, 1_000, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        purged.codes, 1,
        "the tombstone goes 30 minutes after its use"
    );
    assert_eq!(app.count("auth_codes").await, 0);
    // The token issued from the code is not an expiring one: it stays.
    assert_eq!(app.count("access_tokens").await, 1);
}
both!(garbage_collection_purges_expired_codes_but_keeps_fresh_tombstones);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_from_another_process_reaches_the_sqlite_server_within_100_ms() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    wait_live(&app.store).await;
    let (user_id, app_id) = fixture(&app).await;
    let issued = issue(&app, user_id, app_id, None).await;
    assert_eq!(
        token_info(&app.http, &app.base, app_id, &issued.token).await,
        200
    );
    // Another pool with its own cache, as the CLI would open.
    let cli = Store::connect(&app.state.settings.database).await.unwrap();
    cli.revoke_app_for_user(user_id, app_id).await.unwrap();
    refused_once_announced(&app.http, &app.base, app_id, &issued.token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latchkey_gc_purges_and_reports() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (user_id, app_id) = fixture(&app).await;
    // Long expired by the real clock the CLI uses.
    issue(&app, user_id, app_id, Some(1_000)).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("gc")
        .env("LATCHKEY_DATABASE_URL", &app.state.settings.database.url)
        .env("LATCHKEY_SECRET_KEY", "11".repeat(32))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["tokens"], 1, "{report}");
    assert_eq!(app.count("access_tokens").await, 0);
}
