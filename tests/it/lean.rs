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
    let cases: [(&str, Option<&str>, u16); 4] = [
        (&info, None, 200),
        (&bad_info, None, 400),
        ("/rest/v1.1/me", Some(&bearer), 200),
        ("/rest/v1/me", None, 403),
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
