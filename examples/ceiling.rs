//! The fixed-response ceiling of the benchmark (performance.md, "The references"): the smallest
//! axum server that answers `GET /oauth2/token-info` with a constant body of the real endpoint's
//! shape and headers, and does nothing else. It is the most any axum endpoint can do on this
//! machine under this load generator; Latchkey's figures are reported as ratios of it.
//!
//! `cargo run --release --example ceiling -- 127.0.0.1:8099`

use axum::Router;
use axum::http::header;
use axum::routing::get;

const BODY: &str = r#"{"client_id":"1","user_id":"1","blog_id":"0","scope":"global"}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8099".into());
    let app = Router::new().route(
        "/oauth2/token-info",
        get(|| async {
            (
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::CACHE_CONTROL, "no-store"),
                    (header::PRAGMA, "no-cache"),
                ],
                BODY,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("ceiling listening on {addr}");
    axum::serve(listener, app).await
}
