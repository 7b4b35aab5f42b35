//! Storage faults (security.md §3, invariants I1–I6): a full disk (F06), a database locked at
//! start-up (F01), a store that cannot serve (F03, F08), an outage told apart from a bug, and one
//! request's bad data in a shared nonce batch.

use std::time::{Duration, Instant};

use latchkey::admin::{self, AppInput};
use latchkey::domain::app::AppType;
use latchkey::domain::random::OsRandom;
use latchkey::domain::secret::{self, Kind};
use latchkey::oauth1::signature::{self, SignatureMethod};
use latchkey::store::{Db, NewCode, NewToken, Nonce, OneTime, StoreError};

use crate::both;
use crate::harness::*;

const CALLBACK: &str = "https://client.example/oauth1/cb";

/// An OAuth1 consumer's key and secret, and the app's OAuth2 client secret.
struct Consumer {
    key: String,
    secret: String,
    client_secret: String,
}

async fn consumer(app: &TestApp) -> (i64, Consumer) {
    let owner = app.user("alice", "correct horse battery").await;
    let redirects = vec!["https://client.example/cb".to_owned()];
    let input = AppInput {
        name: "Printer",
        description: "An OAuth1 client",
        website: "https://client.example",
        icon_url: "",
        app_type: AppType::Web,
        redirect_uris: &redirects,
        js_origins: &[],
        allow_implicit: false,
        oauth1_callback: Some(CALLBACK),
    };
    let created = commit_with(&app.store, async |tx| {
        admin::create_app(
            tx,
            &OsRandom,
            &app.state.key.0,
            &owner,
            &input,
            &app.base,
            app.clock_now(),
        )
        .await
    })
    .await
    .unwrap();
    let consumer = Consumer {
        key: created.app.oauth1_key.clone().unwrap(),
        secret: created.consumer_secret.unwrap(),
        client_secret: created.client_secret,
    };
    (owner.id, consumer)
}

/// A signed `POST /oauth1/request` (it spends a nonce and stores a request token): the nonce and
/// the `Authorization` header, which can be sent again to replay it.
fn signed_request(app: &TestApp, consumer: &Consumer) -> (String, String) {
    let nonce = hex::encode(latchkey::domain::random::bytes::<12>(&OsRandom));
    let params = vec![
        ("oauth_callback".to_owned(), CALLBACK.to_owned()),
        ("oauth_consumer_key".to_owned(), consumer.key.clone()),
        ("oauth_nonce".to_owned(), nonce.clone()),
        ("oauth_signature_method".to_owned(), "HMAC-SHA1".to_owned()),
        ("oauth_timestamp".to_owned(), app.clock_now().to_string()),
        ("oauth_version".to_owned(), "1.0".to_owned()),
    ];
    let uri = signature::base_string_uri(&app.state.settings.public_url, "/oauth1/request");
    let base = signature::base_string("POST", &uri, &params);
    let sig = signature::sign(SignatureMethod::HmacSha1, &base, &consumer.secret, "");
    let mut fields: Vec<String> = params
        .iter()
        .map(|(n, v)| format!("{}=\"{}\"", signature::encode(n), signature::encode(v)))
        .collect();
    fields.push(format!("oauth_signature=\"{}\"", signature::encode(&sig)));
    (nonce, format!("OAuth {}", fields.join(", ")))
}

async fn send_signed(app: &TestApp, authorization: &str) -> reqwest::Response {
    app.http
        .post(app.url("/oauth1/request"))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap()
}

/// Sends the signed requests at once: `(status, has Retry-After, body)` each, in order.
async fn send_all(app: &TestApp, authorizations: &[String]) -> Vec<(u16, bool, String)> {
    let sent: Vec<_> = authorizations
        .iter()
        .map(|auth| {
            let (http, url, auth) = (app.http.clone(), app.url("/oauth1/request"), auth.clone());
            tokio::spawn(async move {
                let response = http
                    .post(url)
                    .header("authorization", auth)
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let retry = response.headers().get("retry-after").is_some();
                (status, retry, response.text().await.unwrap())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in sent {
        answers.push(task.await.unwrap());
    }
    answers
}

/// Readiness answers 503, three times, each without waiting for the store. It decides within
/// 90 ms (`READY_BUDGET`, F03 and F08's 100 ms); a probe that waited for a connection or the write
/// lock would take the pool's acquire timeout, SQLite's busy timeout or PostgreSQL's
/// `lock_timeout`, all 5 s. The bound is half of that, which tells the two apart on a loaded
/// machine too, where a bound of 100 ms (or 1 s) of wall-clock time measures the machine.
async fn not_ready_quickly(app: &TestApp) {
    let waited = app.state.settings.database.acquire_timeout / 2;
    for _ in 0..3 {
        let (status, took) = ready_status(app).await;
        assert_eq!(status, 503, "ready while the store cannot serve");
        assert!(
            took < waited,
            "readiness took {took:?}: it waited for the store"
        );
        eprintln!("readiness answered 503 in {took:?}");
    }
}

/// Takes every connection of `pool` that is free: until none is given back within 300 ms *and*
/// the pool is at its size limit, so none can be opened either. Not merely until a 300 ms pause,
/// which a loaded machine can fill with the opening of one connection. (Some connections may
/// stay with their holders, e.g. PostgreSQL's revocation listener.)
async fn take_all<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
) -> Vec<sqlx::pool::PoolConnection<DB>> {
    let max = pool.options().get_max_connections();
    let start = Instant::now();
    let mut held = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_millis(300), pool.acquire()).await {
            Ok(conn) => held.push(conn.unwrap()),
            Err(_) if pool.size() >= max => return held,
            Err(_) => assert!(
                start.elapsed() < PATIENCE,
                "the pool never reached its {max} connections"
            ),
        }
    }
}

async fn ready_status(app: &TestApp) -> (u16, Duration) {
    let started = Instant::now();
    let status = app.get("/health/ready").await.status().as_u16();
    (status, started.elapsed())
}

/// Polls readiness until it answers `status`, for at most [`PATIENCE`] (I5).
async fn ready_becomes(app: &TestApp, status: u16) {
    let answers = async || ready_status(app).await.0 == status;
    wait_until(
        &format!("/health/ready answers {status}"),
        PATIENCE,
        answers,
    )
    .await;
}

fn skip(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "note: skipped: {why}");
}

/// A small tmpfs mounted on a temporary folder, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let uid = std::process::Command::new("id").arg("-u").output().ok()?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            skip("the full-disk test needs root to mount a tmpfs");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            skip("mounting a tmpfs failed");
            return None;
        }
        Some(SmallDisk { dir })
    }

    /// The URL of an SQLite database on this disk.
    fn url(&self) -> String {
        format!("sqlite://{}/latchkey.db", self.dir.path().display())
    }

    /// Fills the disk with a file; returns its path.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.dir.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 4096];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// A server on the SQLite database at `url`, with a user, an app and its consumer: the app, the
/// user's id, the consumer and the app's id.
async fn serve_on(url: &str) -> (TestApp, i64, Consumer, i64) {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.database_url = url.to_owned())
        .await
        .unwrap();
    let (user_id, consumer) = consumer(&app).await;
    let app_id = app.scalar("SELECT id FROM apps").await;
    (app, user_id, consumer, app_id)
}

/// Stores a token with this digest under a new grant of the user to the app, straight through the
/// store (a write that does not go through HTTP); its id.
async fn grant(app: &TestApp, user_id: i64, app_id: i64, digest: &[u8]) -> Result<i64, StoreError> {
    let new = NewToken {
        digest,
        app_id,
        user_id,
        site_id: None,
        scope: "global",
        origin: "implicit",
        expires_at: None,
    };
    let grant = app.store.grant_token(&new, app.clock_now()).await?;
    Ok(grant.token_id)
}

async fn integrity(app: &TestApp) -> String {
    app.text("PRAGMA integrity_check").await
}

/// F06 as it happened: the SQLite database on an 8 MiB tmpfs, filled up by another file. (On 3 MiB,
/// the 80 commits after recovery could fill the 2 MiB left once the filler is gone: the log grows
/// between its restarts, and under a loaded test run the checkpoints that let it restart come late.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_with_503_loses_no_answered_write_and_recovers_without_a_restart()
 {
    let Some(disk) = SmallDisk::mount("8m") else {
        return;
    };
    let url = disk.url();
    let (app, user_id, consumer, app_id) = serve_on(&url).await;
    let token = |i: usize| {
        let digest = latchkey::domain::random::bytes::<32>(&OsRandom).to_vec();
        (digest, i)
    };

    // Healthy: calls and token issuance succeed.
    let mut answered = Vec::new(); // (nonce, authorization, status)
    for _ in 0..5 {
        let (nonce, auth) = signed_request(&app, &consumer);
        let status = send_signed(&app, &auth).await.status().as_u16();
        assert_eq!(status, 200);
        answered.push((nonce, auth, status));
    }
    let mut issued = Vec::new(); // token ids the store said it committed
    let mut refused = Vec::new(); // digests it refused

    let before = app.issue_token(user_id, app_id, None).await;
    let token_info = format!(
        "/oauth2/token-info?client_id={app_id}&token={}",
        before.token
    );

    let filler = disk.fill();
    // Full: every write answers 200 (it fit in space SQLite already had) or 503, never anything
    // else, until writes are refused.
    let mut failed = 0;
    for i in 0..2_000 {
        let batch: Vec<(String, String)> =
            (0..4).map(|_| signed_request(&app, &consumer)).collect();
        let auths: Vec<String> = batch.iter().map(|(_, auth)| auth.clone()).collect();
        let sent = send_all(&app, &auths).await;
        for ((nonce, auth), (status, retry, body)) in batch.into_iter().zip(sent) {
            assert!(status == 200 || status == 503, "{status}: {body}");
            if status == 503 {
                assert!(retry, "a 503 without Retry-After");
                assert!(!body.contains("disk") && !body.contains("SQLITE"), "{body}");
                failed += 1;
            }
            answered.push((nonce, auth, status));
        }
        let (digest, _) = token(i);
        match grant(&app, user_id, app_id, &digest).await {
            Ok(token_id) => issued.push(token_id),
            Err(e) => {
                assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
                refused.push(digest);
            }
        }
        if failed >= 20 && refused.len() >= 5 {
            break;
        }
    }
    assert!(failed >= 20, "the full disk refused no signed call");
    // Reads keep working while writes are refused.
    app.get(&token_info).await.read().await.assert_status(200);
    assert!(refused.len() >= 5, "the full disk refused no token");
    let refused_calls = answered.iter().filter(|a| a.2 == 503).count();

    // Space freed: writes succeed again without a restart, every time.
    std::fs::remove_file(filler).unwrap();
    let started = Instant::now();
    loop {
        let (nonce, auth) = signed_request(&app, &consumer);
        let status = send_signed(&app, &auth).await.status().as_u16();
        answered.push((nonce, auth, status));
        if status == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no recovery after 10 s (I5)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for i in 0..40 {
        let (nonce, auth) = signed_request(&app, &consumer);
        let response = send_signed(&app, &auth).await;
        let status = response.status().as_u16();
        assert_eq!(
            status,
            200,
            "call {i} after recovery: {}",
            response.text().await.unwrap()
        );
        answered.push((nonce, auth, status));
        let (digest, _) = token(i);
        issued.push(grant(&app, user_id, app_id, &digest).await.unwrap());
    }
    assert_eq!(integrity(&app).await, "ok");
    ready_becomes(&app, 200).await;

    // Restart on the same file: everything answered 200 is there, nothing refused is.
    app.store.close().await;
    let restarted = TestApp::spawn_with(Backend::Sqlite, |c| c.database_url = url.clone())
        .await
        .unwrap();
    assert_eq!(integrity(&restarted).await, "ok");
    let accepted = answered.iter().filter(|a| a.2 == 200).count() as i64;
    assert_eq!(restarted.count("oauth1_request_tokens").await, accepted);
    assert_eq!(
        restarted.count("access_tokens").await,
        issued.len() as i64 + 1
    );
    for id in &issued {
        assert_eq!(
            restarted
                .scalar(&format!(
                    "SELECT COUNT(*) FROM access_tokens WHERE id = {id}"
                ))
                .await,
            1,
            "token {id} was answered as stored and is gone"
        );
    }
    for (nonce, auth, status) in &answered {
        if *status != 200 {
            continue;
        }
        let stored = restarted
            .scalar(&format!(
                "SELECT COUNT(*) FROM oauth1_nonces WHERE nonce = '{nonce}'"
            ))
            .await;
        assert_eq!(stored, 1, "nonce {nonce} was answered 200 and is gone");
        // The same signed request replayed after the restart is refused.
        send_signed(&restarted, auth)
            .await
            .read()
            .await
            .assert_status(401);
    }
    eprintln!(
        "F06: {} signed calls ({} refused 503 while full), {} tokens stored, {} refused; \
         all present after restart; integrity_check ok",
        answered.len(),
        refused_calls,
        issued.len(),
        refused.len()
    );
    restarted.store.close().await;
}

/// F06 at the token endpoint: a code exchange whose write the full disk refuses answers 503 with
/// Retry-After and leaves the code unspent (SQLite redeems a code in one command on the writer
/// connection, which is closed after the failure); once space is freed, every refused code
/// redeems, and every token answered 200 validates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_exchange_the_full_disk_refuses_is_a_503_that_spends_nothing() {
    let Some(disk) = SmallDisk::mount("3m") else {
        return;
    };
    let (app, user_id, consumer, app_id) = serve_on(&disk.url()).await;
    let redirect_uri = "https://client.example/cb";
    let codes: Vec<String> = (0..1_500)
        .map(|_| secret::mint(Kind::AuthCode, &OsRandom))
        .collect();
    let digests: Vec<[u8; 32]> = codes.iter().map(|c| secret::digest(c)).collect();
    let template = NewCode {
        digest: &[],
        app_id,
        user_id,
        site_id: None,
        scope: "global",
        redirect_uri,
        code_challenge: None,
        expires_at: app.clock_now() + 3600,
    };
    app.store
        .seed_under_grants(OneTime::Codes, &template, &digests, app.clock_now())
        .await
        .unwrap();
    let exchange = async |code: &str| {
        let id = app_id.to_string();
        let response = app
            .token(&[
                ("grant_type", "authorization_code"),
                ("client_id", &id),
                ("client_secret", &consumer.client_secret),
                ("code", code),
                ("redirect_uri", redirect_uri),
            ])
            .await;
        let retry = response.headers().contains_key("retry-after");
        let checked = response.read().await;
        (checked.status, retry, checked.body)
    };

    let filler = disk.fill();
    let (mut issued, mut refused) = (Vec::new(), Vec::new());
    let mut codes = codes.into_iter();
    for code in codes.by_ref() {
        let (status, retry, body) = exchange(&code).await;
        match status {
            200 => issued.push(body),
            503 => {
                assert!(retry, "a 503 without Retry-After");
                assert!(!body.contains("disk") && !body.contains("SQLITE"), "{body}");
                refused.push(code);
            }
            other => panic!("{other}: {body}"),
        }
        if refused.len() >= 5 {
            break;
        }
    }
    assert!(refused.len() >= 5, "the full disk refused no code exchange");

    std::fs::remove_file(filler).unwrap();
    let started = Instant::now();
    for code in codes.by_ref() {
        let (status, _, body) = exchange(&code).await;
        if status == 200 {
            issued.push(body);
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no recovery after 10 s (I5)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for code in &refused {
        let (status, _, body) = exchange(code).await;
        assert_eq!(status, 200, "a refused code was spent: {body}");
        issued.push(body);
    }
    for body in &issued {
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        let token = json["access_token"].as_str().unwrap();
        app.token_info(app_id, token)
            .await
            .read()
            .await
            .assert_status(200);
    }
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM auth_codes WHERE token_id IS NOT NULL")
            .await,
        issued.len() as i64
    );
    assert_eq!(integrity(&app).await, "ok");
    app.store.close().await;
}

/// After a write met the full disk, a checkpoint truncates the write-ahead log once there is room,
/// so the space the log held goes back to the file system (a PASSIVE checkpoint copies its pages
/// back but keeps the file at its size).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_full_disk_a_checkpoint_truncates_the_log() {
    let Some(disk) = SmallDisk::mount("3m") else {
        return;
    };
    let (app, user_id, _, app_id) = serve_on(&disk.url()).await;
    let wal = disk.dir.path().join("latchkey.db-wal");
    let filler = disk.fill();
    let mut refused = false;
    for _ in 0..5_000 {
        let digest = latchkey::domain::random::bytes::<32>(&OsRandom).to_vec();
        if let Err(e) = grant(&app, user_id, app_id, &digest).await {
            assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
            refused = true;
            break;
        }
    }
    assert!(refused, "the full disk refused no write");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    std::fs::remove_file(filler).unwrap();
    // No write from here on: only a truncating checkpoint (the job runs every 250 ms) empties it.
    wait_until("the log is truncated", PATIENCE, async || {
        std::fs::metadata(&wal).is_ok_and(|m| m.len() == 0)
    })
    .await;
    assert_eq!(integrity(&app).await, "ok");
    app.store.close().await;
}

async fn a_query_the_database_refuses_is_a_500_server_error_not_a_503_to_retry(app: TestApp) {
    let (user_id, consumer) = consumer(&app).await;
    let app_id = app.scalar("SELECT id FROM apps").await;
    let issued = app.issue_token(user_id, app_id, None).await;
    // A schema the code does not expect: every query of these tables is an SQL error, not an
    // outage.
    for sql in [
        "ALTER TABLE oauth1_nonces RENAME TO oauth1_nonces_gone",
        "ALTER TABLE access_tokens RENAME TO access_tokens_gone",
    ] {
        match app.store.db() {
            Db::Sqlite(pool) => {
                sqlx::query(sql).execute(pool).await.unwrap();
            }
            Db::Postgres(pool) => {
                sqlx::query(sql).execute(pool).await.unwrap();
            }
        }
    }
    // Token-info (OAuth2's JSON): a logged 500 (a panic in debug builds, caught), no retry.
    let q = format!(
        "/oauth2/token-info?client_id={app_id}&token={}",
        issued.token
    );
    let response = app.get(&q).await;
    assert!(
        response.headers().get("retry-after").is_none(),
        "a bug is not worth retrying"
    );
    let refused = response.read().await.assert_status(500);
    assert_eq!(refused.json()["error"], "server_error");
    assert!(
        !refused.body.contains("access_tokens"),
        "internals leaked: {}",
        refused.body
    );

    // A signed OAuth1 call (the nonce writer): OAuth1's problem form.
    let (_, auth) = signed_request(&app, &consumer);
    let response = send_signed(&app, &auth).await;
    assert!(
        response.headers().get("retry-after").is_none(),
        "a bug is not worth retrying"
    );
    let refused = response.read().await.assert_status(500);
    assert!(
        refused.body.contains("oauth_problem=server_error"),
        "{}",
        refused.body
    );
    assert!(
        !refused.body.contains("oauth1_nonces"),
        "internals leaked: {}",
        refused.body
    );
}
both!(a_query_the_database_refuses_is_a_500_server_error_not_a_503_to_retry);

async fn ready_answers_503_within_100_ms_while_the_pool_is_exhausted_and_200_once_it_is_not(
    app: TestApp,
) {
    ready_becomes(&app, 200).await;
    match app.store.db() {
        Db::Sqlite(pool) => {
            let _held = take_all(pool).await;
            not_ready_quickly(&app).await;
        }
        Db::Postgres(pool) => {
            let _held = take_all(pool).await;
            not_ready_quickly(&app).await;
        }
    }
    ready_becomes(&app, 200).await;
}
both!(ready_answers_503_within_100_ms_while_the_pool_is_exhausted_and_200_once_it_is_not);

async fn ready_answers_503_within_100_ms_while_another_connection_holds_writes_and_200_after(
    app: TestApp,
) {
    ready_becomes(&app, 200).await;
    let url = app.state.settings.database.url.clone();
    use sqlx::Connection;
    match app.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut conn)
                .await
                .unwrap();
            not_ready_quickly(&app).await;
            sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
            sqlx::query("LOCK TABLE oauth1_nonces IN EXCLUSIVE MODE")
                .execute(&mut conn)
                .await
                .unwrap();
            not_ready_quickly(&app).await;
            sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
        }
    }
    ready_becomes(&app, 200).await;
}
both!(ready_answers_503_within_100_ms_while_another_connection_holds_writes_and_200_after);

/// F01: a SQLite file another process holds locked at start-up is retried, not fatal; the server
/// is live but not ready meanwhile, and ready once the lock is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_database_locked_at_start_up_is_retried_until_it_is_free() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/latchkey.db", dir.path().display());
    let log = dir.path().join("server.log");
    let store = latchkey::store::Store::connect(&latchkey::store::DbOptions {
        url: url.clone(),
        max_connections: 2,
        acquire_timeout: Duration::from_secs(5),
        sqlite_full_sync: false,
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    store.close().await;
    let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
    let mut holder = sqlx::SqliteConnection::connect_with(
        &options.locking_mode(sqlx::sqlite::SqliteLockingMode::Exclusive),
    )
    .await
    .unwrap();
    // The closed pool's connections may take a moment to let go of the file: until they have,
    // the lock (taken at `BEGIN`, made exclusive at the first write) is retried as a whole.
    let started = Instant::now();
    loop {
        let held = match sqlx::query("BEGIN EXCLUSIVE").execute(&mut holder).await {
            Ok(_) => match sqlx::query("DELETE FROM oauth1_nonces")
                .execute(&mut holder)
                .await
            {
                Ok(_) => Ok(()),
                Err(e) => {
                    let _ = sqlx::query("ROLLBACK").execute(&mut holder).await;
                    Err(e)
                }
            },
            Err(e) => Err(e),
        };
        match held {
            Ok(()) => break,
            // Each attempt may wait out SQLite's 5 s busy timeout before it fails.
            Err(e) => assert!(started.elapsed() < Duration::from_secs(30), "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("serve")
        .env("LATCHKEY_DATABASE_URL", &url)
        .env("LATCHKEY_LISTEN", format!("127.0.0.1:{port}"))
        .env("LATCHKEY_PUBLIC_URL", &base)
        .env("LATCHKEY_SECRET_KEY", "11".repeat(32))
        .env("LATCHKEY_LOG__LEVEL", "warn")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = new_browser();
    // Its start-up ran into the lock past SQLite's 5 s busy timeout and gave up for now: the
    // process still runs, live and not ready, retrying. (Said by its log, not by a fixed sleep.)
    let retrying = async || {
        let exited = child.try_wait().unwrap();
        assert!(
            exited.is_none(),
            "the server exited while the file was locked"
        );
        let logged = std::fs::read_to_string(&log).unwrap();
        logged.contains("database unavailable at start; retrying")
    };
    wait_until(
        "the server retries the locked database",
        3 * PATIENCE,
        retrying,
    )
    .await;
    let live = client
        .get(format!("{base}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let ready = client
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);

    sqlx::query("COMMIT").execute(&mut holder).await.unwrap();
    holder.close().await.unwrap();
    let ready = async || {
        assert!(child.try_wait().unwrap().is_none(), "the server exited");
        let answer = client.get(format!("{base}/health/ready")).send().await;
        answer.is_ok_and(|r| r.status() == 200)
    };
    wait_until("ready after the lock was released", 3 * PATIENCE, ready).await;
}

/// F06's code paths on PostgreSQL, where a disk cannot be filled here: every connection of the
/// test database is terminated again and again while signed calls and token writes run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_killed_under_load_lose_no_answered_write_and_the_pool_recovers() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let (user_id, consumer) = consumer(&app).await;
    let app_id = app.scalar("SELECT id FROM apps").await;
    let db = app.text("SELECT current_database()").await;
    let admin = app.store.clone();
    let killer = tokio::spawn(async move {
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(30)).await;
            if let Db::Postgres(pool) = admin.db() {
                let _ = sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = $1 AND pid <> pg_backend_pid()",
                )
                .bind(&db)
                .execute(pool)
                .await;
            }
        }
    });
    let mut answered = Vec::new();
    let mut issued = Vec::new();
    while !killer.is_finished() {
        let batch: Vec<(String, String)> =
            (0..4).map(|_| signed_request(&app, &consumer)).collect();
        let auths: Vec<String> = batch.iter().map(|(_, auth)| auth.clone()).collect();
        let sent = send_all(&app, &auths).await;
        for ((nonce, _), (status, _, body)) in batch.into_iter().zip(sent) {
            assert!(status == 200 || status == 503, "{status}: {body}");
            answered.push((nonce, status));
        }
        let digest = latchkey::domain::random::bytes::<32>(&OsRandom).to_vec();
        match grant(&app, user_id, app_id, &digest).await {
            Ok(token_id) => issued.push(token_id),
            Err(e) => assert!(e.is_outage(), "{e}"),
        }
    }
    // Recovered: every call succeeds.
    for _ in 0..20 {
        let (nonce, auth) = signed_request(&app, &consumer);
        send_signed(&app, &auth)
            .await
            .read()
            .await
            .assert_status(200);
        answered.push((nonce, 200));
    }
    for (nonce, status) in &answered {
        if *status == 200 {
            let stored = app
                .scalar(&format!(
                    "SELECT COUNT(*) FROM oauth1_nonces WHERE nonce = '{nonce}'"
                ))
                .await;
            assert_eq!(stored, 1, "nonce {nonce} was answered 200 and is gone");
        }
    }
    assert_eq!(app.count("access_tokens").await, issued.len() as i64);
}

/// One request's bad data in a shared nonce batch fails that request only. PostgreSQL refuses a
/// NUL in text (SQLSTATE 22021); SQLite stores any text, so it has no such row to refuse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nonce_the_database_refuses_fails_only_its_own_request_in_a_shared_batch() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let now = app.clock_now();
    let nonces: Vec<String> = (0..64)
        .map(|i| {
            if i == 20 {
                "bad\0nonce".to_owned()
            } else {
                format!("good-{i}")
            }
        })
        .collect();
    let tasks: Vec<_> = nonces
        .iter()
        .map(|nonce| {
            let (store, nonce) = (app.store.clone(), nonce.clone());
            tokio::spawn(async move {
                store
                    .record_nonce(&Nonce {
                        consumer_key: "ck",
                        token: b"",
                        timestamp: now,
                        nonce: &nonce,
                        expires_at: now + 900,
                    })
                    .await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    for (nonce, answer) in nonces.iter().zip(answers) {
        if nonce.contains('\0') {
            let refused = answer.unwrap_err();
            assert!(!refused.is_outage(), "bad data is not an outage: {refused}");
        } else {
            assert!(answer.unwrap(), "{nonce} was refused");
        }
    }
    assert_eq!(app.count("oauth1_nonces").await, 63);
}
