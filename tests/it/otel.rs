//! OpenTelemetry: with `otel.endpoint` set, a real server process exports each request's span over
//! OTLP/HTTP (protobuf) to `{endpoint}/v1/traces`, carrying the request id and the matched route
//! (never the query); with it unset, nothing is sent, whatever `OTEL_*` variables say.

use std::sync::{Arc, Mutex};

use crate::both;
use crate::harness::*;

/// Every request the collector received, as (path, body).
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A loopback OTLP/HTTP collector recording every request.
async fn collector() -> (String, Received) {
    let received: Received = Arc::default();
    let log = received.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri, body: axum::body::Bytes| {
        let log = log.clone();
        async move {
            log.lock()
                .unwrap()
                .push((uri.path().to_owned(), body.to_vec()));
            axum::http::StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

/// Runs `latchkey serve` with `otel.endpoint` (or none), makes one token-info request with a known
/// request id and a secret-looking query, stops the process with SIGTERM and waits for it to exit.
async fn serve_one_request(app: &TestApp, endpoint: Option<&str>, collector: &str) {
    let (base, mut command) = app.serve_command();
    command
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_COMPRESSION")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION")
        // Pointed at the collector too: only `otel.endpoint` may turn the export on.
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector);
    match endpoint {
        Some(url) => command.env("LATCHKEY_OTEL__ENDPOINT", url),
        None => command.env_remove("LATCHKEY_OTEL__ENDPOINT"),
    };
    let server = ServerProcess::start(base.clone(), command).await;
    let client = new_browser_without_cookies();
    client
        .get(format!(
            "{base}/oauth2/token-info?client_id=1&token=lkat_secret-looking"
        ))
        .header("x-request-id", "req-traced-by-the-test")
        .send()
        .await
        .unwrap();
    server.stop().await;
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn each_request_span_is_exported_over_otlp_with_its_request_id_and_route(app: TestApp) {
    let (url, received) = collector().await;
    serve_one_request(&app, Some(&url), &url).await;
    let received = received.lock().unwrap().clone();
    assert!(
        !received.is_empty(),
        "a traces export arrived before the process exited"
    );
    assert!(
        received.iter().all(|(path, _)| path == "/v1/traces"),
        "{:?}",
        received.iter().map(|r| &r.0).collect::<Vec<_>>()
    );
    let body: Vec<u8> = received.into_iter().flat_map(|(_, b)| b).collect();
    assert!(
        contains(&body, "req-traced-by-the-test"),
        "the span carries the request id"
    );
    assert!(
        contains(&body, "/oauth2/token-info"),
        "the span carries the matched route"
    );
    assert!(contains(&body, "latchkey"), "the service name is sent");
    assert!(!contains(&body, "lkat_secret-looking"), "never the query");
}
both!(each_request_span_is_exported_over_otlp_with_its_request_id_and_route);

async fn nothing_is_exported_when_otel_endpoint_is_unset(app: TestApp) {
    let (url, received) = collector().await;
    serve_one_request(&app, None, &url).await;
    assert!(
        received.lock().unwrap().is_empty(),
        "no OTLP request was sent"
    );
}
both!(nothing_is_exported_when_otel_endpoint_is_unset);
