//! The foundation: health, security headers, limits, configuration-driven behaviour.

use crate::both;
use crate::harness::*;

async fn readiness_is_200_when_the_database_answers(app: TestApp) {
    let live = app
        .get("/health/live")
        .await
        .read()
        .await
        .assert_status(200);
    assert_eq!(live.json()["status"], "live");
    let ready = app
        .get("/health/ready")
        .await
        .read()
        .await
        .assert_status(200);
    assert_eq!(ready.json()["status"], "ready");
}
both!(readiness_is_200_when_the_database_answers);

async fn readiness_is_503_once_the_database_is_gone(app: TestApp) {
    app.store.close().await;
    let ready = app
        .get("/health/ready")
        .await
        .read()
        .await
        .assert_status(503);
    assert_eq!(ready.header("retry-after"), "5");
    app.get("/health/live")
        .await
        .read()
        .await
        .assert_status(200);
}
both!(readiness_is_503_once_the_database_is_gone);

async fn html_pages_carry_the_security_headers(app: TestApp) {
    let page = app.get("/").await.read().await.assert_status(200);
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(
        page.header("content-security-policy")
            .contains("frame-ancestors 'none'")
    );
    assert!(
        !page
            .header("content-security-policy")
            .contains("unsafe-inline")
    );
    assert_eq!(page.header("x-frame-options"), "DENY");
    assert_eq!(page.header("referrer-policy"), "no-referrer");
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    assert_eq!(
        page.header("link"),
        format!("<{}/wp-json/>; rel=\"https://api.w.org/\"", app.base)
    );
    assert!(
        page.headers.get("strict-transport-security").is_none(),
        "no HSTS over http"
    );
    assert!(!page.header("x-request-id").is_empty());
}
both!(html_pages_carry_the_security_headers);

async fn an_oversized_request_line_is_414_and_oversized_headers_431(app: TestApp) {
    let long = format!("/?q={}", "a".repeat(9000));
    app.get(&long).await.read().await.assert_status(414);
    let mut request = app.http.get(app.url("/"));
    for i in 0..40 {
        request = request.header(format!("x-filler-{i}"), "b".repeat(1000));
    }
    request
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(431);
    let mut many = app.http.get(app.url("/"));
    for i in 0..1000 {
        many = many.header(format!("x-h{i}"), "1");
    }
    match many.send().await {
        Ok(r) => assert_eq!(r.status().as_u16(), 431),
        Err(e) => assert!(e.is_request() || e.is_connect(), "{e}"),
    }
}
both!(an_oversized_request_line_is_414_and_oversized_headers_431);

async fn trace_is_refused_everywhere(app: TestApp) {
    let method = reqwest::Method::from_bytes(b"TRACE").unwrap();
    let response = app
        .http
        .request(method, app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
}
both!(trace_is_refused_everywhere);

#[tokio::test]
async fn hsts_is_sent_when_the_public_url_is_https() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.public_url = "https://as.example".into()
    })
    .await
    .unwrap();
    let page = app.get("/").await.read().await.assert_status(200);
    assert_eq!(page.header("strict-transport-security"), "max-age=31536000");
    assert_eq!(
        page.header("link"),
        "<https://as.example/wp-json/>; rel=\"https://api.w.org/\""
    );
}

async fn demo_seeding_is_idempotent_and_keeps_the_secret_server_side(app: TestApp) {
    let first = latchkey::demo::seed(&app.state).await.unwrap();
    latchkey::demo::seed(&app.state).await.unwrap();
    assert!(first.contains("demo / latchkey-demo"));
    assert!(first.contains("/playground"));
    assert!(
        !first.contains("lkcs_"),
        "the demo client secret is never printed"
    );
    assert_eq!(app.count("users").await, 1);
    assert_eq!(app.count("sites").await, 1);
    assert_eq!(app.count("apps").await, 1);
    let apps = app.store.list_apps(None).await.unwrap();
    let secret = app
        .state
        .playground
        .secret_for(apps[0].id)
        .expect("the playground holds the secret");
    let id = apps[0].id.to_string();
    let r = app
        .http
        .post(app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("username", "demo"),
            ("password", "latchkey-demo"),
        ])
        .send()
        .await
        .unwrap();
    r.read().await.assert_status(200);
}
both!(demo_seeding_is_idempotent_and_keeps_the_secret_server_side);

async fn closed_set_columns_are_stored_as_their_names_and_read_back_as_enums(app: TestApp) {
    use latchkey::domain::app::AppType;
    use latchkey::store::{Db, NewPost, PostStatus, Role};
    let store = &app.store;
    let text = |sql: String| async move {
        match store.db() {
            Db::Sqlite(p) => sqlx::query_scalar::<_, String>(&sql)
                .fetch_one(p)
                .await
                .unwrap(),
            Db::Postgres(p) => sqlx::query_scalar::<_, String>(&sql)
                .fetch_one(p)
                .await
                .unwrap(),
        }
    };
    let alice = app.user("alice", "alice's long password").await;
    let bob = app.user("bob", "bob's long password").await;
    let site = app.site(&alice, "https://alice.example").await;
    for (app_type, redirect) in [
        (AppType::Web, "https://client.example/cb"),
        (AppType::Native, "http://127.0.0.1/cb"),
    ] {
        let (created, _) = app.app(&alice, &[redirect], app_type).await;
        assert_eq!(
            app.store
                .app_by_id(created.id)
                .await
                .unwrap()
                .unwrap()
                .app_type,
            app_type
        );
        let stored = text(format!(
            "SELECT app_type FROM apps WHERE id = {}",
            created.id
        ))
        .await;
        assert_eq!(stored, app_type.as_str());
    }
    for role in Role::ALL {
        app.store
            .set_membership(site.id, bob.id, role, 0)
            .await
            .unwrap();
        assert_eq!(
            app.store.role_at(site.id, bob.id).await.unwrap(),
            Some(role)
        );
        let members = app.store.site_members(site.id).await.unwrap();
        assert_eq!(
            members.iter().find(|m| m.user_id == bob.id).unwrap().role,
            role
        );
        assert_eq!(app.store.memberships(bob.id).await.unwrap()[0].role, role);
        let stored = text(format!(
            "SELECT role FROM site_members WHERE user_id = {}",
            bob.id
        ))
        .await;
        assert_eq!(stored, role.as_str());
    }
    assert_eq!(
        app.store.memberships(alice.id).await.unwrap()[0].role,
        Role::Administrator
    );
    for status in PostStatus::ALL {
        let new = NewPost {
            site_id: site.id,
            author_id: alice.id,
            title: "T",
            content: "C",
            status,
        };
        let post = app.store.create_post(&new, 0).await.unwrap();
        assert_eq!(post.status, status);
        let stored = text(format!("SELECT status FROM posts WHERE id = {}", post.id)).await;
        assert_eq!(stored, status.as_str());
    }
    let page = app
        .store
        .list_posts(
            site.id,
            &[PostStatus::Draft, PostStatus::Private],
            10,
            0,
            alice.id,
        )
        .await
        .unwrap();
    assert_eq!(
        page.posts.iter().map(|p| p.status).collect::<Vec<_>>(),
        [PostStatus::Private, PostStatus::Draft]
    );
}
both!(closed_set_columns_are_stored_as_their_names_and_read_back_as_enums);
