//! The lean stack of the validation routes (issue 17, `server::lean`): `GET` token-info and
//! `GET /rest/v1(.1)/me` skip the full stack's per-layer boxing, yet answer exactly what the full
//! stack answers (status, body, headers), carry a request id (kept when sent) and refuse oversized
//! request lines and header blocks. The panic catcher is proved by `server::lean`'s unit test (no
//! route panics on purpose).

use axum::body::Body;
use latchkey::domain::app::AppType;
use tower::ServiceExt;

use crate::both;
use crate::harness::*;

/// Header names of a response, without those the HTTP server adds on the wire.
fn names(headers: &reqwest::header::HeaderMap) -> Vec<String> {
    let mut names: Vec<String> = headers
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| !matches!(k.as_str(), "date" | "content-length" | "transfer-encoding"))
        .collect();
    names.sort();
    names.dedup();
    names
}

async fn the_lean_routes_answer_as_the_full_stack_with_request_ids_limits_and_headers(
    app: TestApp,
) {
    let alice = app.user("alice", "correct horse battery").await;
    let (client, _) = app
        .app(&alice, &["https://client.example/cb"], AppType::Web)
        .await;
    let issued = app.issue_token(alice.id, client.id, None).await;
    let info = format!(
        "/oauth2/token-info?client_id={}&token={}",
        client.id, issued.token
    );
    let bad_info = format!("/oauth/token-info?client_id={}&token=lkat_nope", client.id);
    let bearer = format!("Bearer {}", issued.token);
    let cases: [(&str, Option<&str>, u16); 6] = [
        (&info, None, 200),
        (&bad_info, None, 400),
        ("/rest/v1.1/me", Some(&bearer), 200),
        ("/rest/v1/me", None, 403),
        ("/wp-json/wp/v2/users/me", Some(&bearer), 200),
        ("/wp-json/wp/v2/users/me", None, 401),
    ];
    let http = new_browser_without_cookies();
    for (path, authorization, status) in cases {
        let mut lean = http.get(app.url(path));
        let mut full = axum::http::Request::get(path);
        if let Some(value) = authorization {
            lean = lean.header("authorization", value);
            full = full.header("authorization", value);
        }
        let lean = lean.send().await.unwrap().read().await;
        let full = latchkey::server::app(app.state.clone())
            .oneshot(full.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = full.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        assert_eq!(lean.status, status, "{path}: {}", lean.body);
        assert_eq!(parts.status.as_u16(), status, "{path}");
        assert_eq!(lean.body.as_bytes(), &body[..], "{path}");
        assert_eq!(names(&lean.headers), names(&parts.headers), "{path}");
        for name in [
            "x-frame-options",
            "x-content-type-options",
            "referrer-policy",
        ] {
            assert_eq!(lean.headers[name], parts.headers[name], "{path} {name}");
        }
        assert_eq!(
            lean.headers["content-security-policy"],
            parts.headers["content-security-policy"]
        );
        assert_eq!(lean.header("x-request-id").len(), 36, "a fresh UUID");

        // A request id sent is echoed; a fresh one differs per request.
        let echoed = http
            .get(app.url(path))
            .header("x-request-id", "req-lean-1")
            .send()
            .await
            .unwrap()
            .read()
            .await;
        assert_eq!(echoed.header("x-request-id"), "req-lean-1");
        let again = http.get(app.url(path)).send().await.unwrap().read().await;
        assert_ne!(again.header("x-request-id"), lean.header("x-request-id"));

        // The limits of the full stack: 8 KiB request line, 32 KiB of headers.
        let long = format!(
            "{path}{}x={}",
            if path.contains('?') { "&" } else { "?" },
            "a".repeat(9 * 1024)
        );
        let r = http.get(app.url(&long)).send().await.unwrap().read().await;
        r.assert_status(414);
        let r = http
            .get(app.url(path))
            .header("x-padding", "p".repeat(33 * 1024))
            .send()
            .await
            .unwrap()
            .read()
            .await
            .assert_status(431);
        assert!(!r.header("x-request-id").is_empty());
    }
}
both!(the_lean_routes_answer_as_the_full_stack_with_request_ids_limits_and_headers);

/// `POST /oauth2-1/token-info` (and its `/oauth2/introspect` alias) with a form-urlencoded body runs
/// on the lean stack: every answer (active, inactive, bad client, missing token, oversized body) is
/// byte for byte the full stack's, with its headers, a request id and the header-block limit; a
/// multipart body (which the full stack's body limit governs) still gets the same answer.
async fn introspection_on_the_lean_stack_answers_as_the_full_stack(app: TestApp) {
    let alice = app.user("alice", "correct horse battery").await;
    let (client, secret) = app
        .app(&alice, &["https://client.example/cb"], AppType::Web)
        .await;
    let issued = app.issue_token(alice.id, client.id, None).await;
    let id = client.id.to_string();
    let form = |pairs: &[(&str, &str)]| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            s.append_pair(k, v);
        }
        s.finish()
    };
    let large = "a".repeat(70 * 1024);
    let cases: Vec<(&str, String, u16)> = vec![
        (
            "/oauth2-1/token-info",
            form(&[
                ("client_id", &id),
                ("client_secret", &secret),
                ("token", &issued.token),
            ]),
            200,
        ),
        (
            "/oauth2/introspect",
            form(&[
                ("client_id", &id),
                ("client_secret", &secret),
                ("token", "lkat_nope"),
            ]),
            200,
        ),
        (
            "/oauth2-1/token-info",
            form(&[
                ("client_id", &id),
                ("client_secret", "wrong"),
                ("token", &issued.token),
            ]),
            401,
        ),
        (
            "/oauth2-1/token-info",
            form(&[("client_id", &id), ("client_secret", &secret)]),
            400,
        ),
        (
            "/oauth2-1/token-info",
            form(&[
                ("client_id", &id),
                ("client_secret", &secret),
                ("x", &large),
            ]),
            400,
        ),
    ];
    let http = new_browser_without_cookies();
    let content_type = "application/x-www-form-urlencoded";
    for (path, body, status) in &cases {
        let lean = http
            .post(app.url(path))
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .unwrap()
            .read()
            .await;
        let full = latchkey::server::app(app.state.clone())
            .oneshot(
                axum::http::Request::post(*path)
                    .header("content-type", content_type)
                    .body(Body::from(body.clone()))
                    .unwrap(),
            )
            .await
            .unwrap();
        let (parts, full_body) = full.into_parts();
        let full_body = axum::body::to_bytes(full_body, usize::MAX).await.unwrap();
        assert_eq!(lean.status, *status, "{path}: {}", lean.body);
        assert_eq!(parts.status.as_u16(), *status, "{path}");
        assert_eq!(lean.body.as_bytes(), &full_body[..], "{path}");
        assert_eq!(names(&lean.headers), names(&parts.headers), "{path}");
        for name in [
            "cache-control",
            "x-frame-options",
            "content-security-policy",
        ] {
            assert_eq!(
                lean.headers.get(name),
                parts.headers.get(name),
                "{path} {name}"
            );
        }
        assert_eq!(lean.header("x-request-id").len(), 36, "a fresh UUID");
    }
    let active = form(&[
        ("client_id", &id),
        ("client_secret", &secret),
        ("token", &issued.token),
    ]);
    let echoed = http
        .post(app.url("/oauth2-1/token-info"))
        .header("content-type", content_type)
        .header("x-request-id", "req-lean-2")
        .body(active.clone())
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert_eq!(echoed.header("x-request-id"), "req-lean-2");
    assert_eq!(echoed.json()["active"], true);
    let r = http
        .post(app.url("/oauth2-1/token-info"))
        .header("content-type", content_type)
        .header("x-padding", "p".repeat(33 * 1024))
        .body(active)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(431);
    assert!(!r.header("x-request-id").is_empty());

    // Multipart takes the full stack and answers the same.
    let multipart = reqwest::multipart::Form::new()
        .text("client_id", id.clone())
        .text("client_secret", secret.clone())
        .text("token", issued.token.clone());
    let r = http
        .post(app.url("/oauth2/introspect"))
        .multipart(multipart)
        .send()
        .await
        .unwrap()
        .read()
        .await
        .assert_status(200);
    assert_eq!(r.body, echoed.body);
}
both!(introspection_on_the_lean_stack_answers_as_the_full_stack);
