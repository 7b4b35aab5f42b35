//! The store's unit of work (issue 12): writes run on a `Tx`; what a transaction announces reaches
//! this instance's validation cache when, and only when, it commits; an audit event commits with
//! the change it describes, or not at all.

use latchkey::domain::app::AppType;
use latchkey::store::{AuditEvent, NewUser, StoreError};

use crate::both;
use crate::harness::*;

/// A user and an app, and a live token of the user for the app, validated once so that it is
/// cached.
async fn cached_token(app: &TestApp) -> (i64, Issued) {
    wait_live(&app.store).await;
    let alice = app.user("alice", "correct horse battery").await;
    let (client, _) = app
        .app(&alice, &["https://client.example/cb"], AppType::Web)
        .await;
    let issued = app.issue_token(alice.id, client.id, None).await;
    for _ in 0..2 {
        let status = app.token_info(client.id, &issued.token).await.status();
        assert_eq!(status, 200);
    }
    (client.id, issued)
}

async fn a_revocation_dropped_without_commit_leaves_the_cached_grant_valid(app: TestApp) {
    let (client_id, issued) = cached_token(&app).await;
    let token_id = issued.grant.token_id;
    {
        let mut tx = app.store.begin();
        assert!(tx.revoke_token(token_id).await.unwrap());
        // Dropped here: rolled back, and nothing is dropped from the cache.
    }
    assert_eq!(
        app.count("access_tokens").await,
        1,
        "the delete was rolled back"
    );
    // Behind the store's back (nothing announced): only the cached grant can still answer.
    let deleted = app
        .scalar(&format!(
            "DELETE FROM access_tokens WHERE id = {token_id} RETURNING id"
        ))
        .await;
    assert_eq!(deleted, token_id);
    let status = app.token_info(client_id, &issued.token).await.status();
    assert_eq!(status, 200, "the cached grant was not invalidated");
}
both!(a_revocation_dropped_without_commit_leaves_the_cached_grant_valid);

async fn a_committed_revocation_makes_token_info_refuse_the_token_at_once(app: TestApp) {
    let (client_id, issued) = cached_token(&app).await;
    let mut tx = app.store.begin();
    assert!(tx.revoke_token(issued.grant.token_id).await.unwrap());
    // Not yet committed: this instance still serves the cached grant.
    let status = app.token_info(client_id, &issued.token).await.status();
    assert_eq!(status, 200);
    tx.commit().await.unwrap();
    // No wait for the watcher: the commit itself dropped the entry here.
    let status = app.token_info(client_id, &issued.token).await.status();
    assert_eq!(status, 400);
}
both!(a_committed_revocation_makes_token_info_refuse_the_token_at_once);

async fn an_audit_event_commits_with_its_change_or_not_at_all(app: TestApp) {
    let alice = app.user("alice", "correct horse battery").await;
    let before = app.count("audit_events").await;
    let event = AuditEvent {
        kind: "app_disconnected",
        user_id: Some(alice.id),
        ..Default::default()
    };

    // Dropped without a commit: neither the change nor its event.
    let (client, _) = app
        .app(&alice, &["https://client.example/cb"], AppType::Web)
        .await;
    {
        let mut tx = app.store.begin();
        assert!(tx.delete_app(client.id).await.unwrap());
        tx.audit(&event, app.clock_now()).await.unwrap();
    }
    assert_eq!(app.count("apps").await, 1);
    assert_eq!(app.count("audit_events").await, before);

    // A later write of the transaction fails (a username already taken): the event written
    // before it goes with the rolled-back transaction.
    let failed: Result<(), StoreError> = async {
        let mut tx = app.store.begin();
        tx.audit(&event, app.clock_now()).await?;
        let taken = NewUser {
            username: "alice",
            email: "other@example.com",
            display_name: "A",
            password_hash: "x",
        };
        tx.create_user(&taken, app.clock_now()).await?;
        tx.commit().await
    }
    .await;
    assert!(matches!(failed, Err(StoreError::Conflict(_))), "{failed:?}");
    assert_eq!(
        app.count("audit_events").await,
        before,
        "no event without its change"
    );

    // Committed: both.
    let mut tx = app.store.begin();
    assert!(tx.delete_app(client.id).await.unwrap());
    tx.audit(&event, app.clock_now()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(app.count("apps").await, 0);
    assert_eq!(app.count("audit_events").await, before + 1);
}
both!(an_audit_event_commits_with_its_change_or_not_at_all);

async fn a_transaction_that_never_wrote_commits_as_a_no_op(app: TestApp) {
    let tx = app.store.begin();
    tx.commit().await.unwrap();
    let _dropped = app.store.begin();
}
both!(a_transaction_that_never_wrote_commits_as_a_no_op);

/// SQLite: commits on the writer connection do not copy the write-ahead log back into the
/// database every 1,000 pages (SQLite's default, which stalled every write queued behind the
/// commit that did it); `Store::checkpoint`, which a background job runs beside the writer, does.
/// (The writer's own rarer checkpoint, which keeps the log bounded, is not reached here.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writes_leave_the_checkpoint_to_the_background_job() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("latchkey.db");
    let store = latchkey::store::Store::connect(&latchkey::store::DbOptions {
        url: format!("sqlite://{}", file.display()),
        max_connections: 2,
        acquire_timeout: std::time::Duration::from_secs(5),
        sqlite_full_sync: false,
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let size = |path: &std::path::Path| std::fs::metadata(path).map_or(0, |m| m.len());
    let wal = dir.path().join("latchkey.db-wal");
    let before = size(&file);
    // Far more than 1,000 pages of log: nonce rows through the writer, in concurrent batches.
    for round in 0..40 {
        let mut writes = tokio::task::JoinSet::new();
        for i in 0..500 {
            let store = store.clone();
            writes.spawn(async move {
                let nonce = format!("nonce-{round}-{i}-{}", "x".repeat(40));
                let nonce = latchkey::store::Nonce {
                    consumer_key: "consumer",
                    token: &[7u8; 32],
                    timestamp: T0,
                    nonce: &nonce,
                    expires_at: T0 + 600,
                };
                assert!(store.record_nonce(&nonce).await.unwrap());
            });
        }
        writes.join_all().await;
    }
    assert!(
        size(&wal) > 1_000 * 4_096,
        "the log was copied back on the way: {} bytes left in it",
        size(&wal)
    );
    assert_eq!(size(&file), before, "the writer checkpointed");
    store.checkpoint().await.unwrap();
    assert!(
        size(&file) > before + 1_000 * 4_096,
        "the checkpoint copied nothing: {} bytes",
        size(&file)
    );
}
