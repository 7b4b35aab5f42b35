//! Operations endpoints: liveness and readiness.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::state::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
}

/// 200 as long as the process serves HTTP.
async fn live() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"live"}"#,
    )
}

/// 200 only when the schema is migrated and the store can serve now; 503 with `Retry-After`
/// otherwise, including when the pool is exhausted or writes cannot start. Answers within 100 ms
/// (`Store::ready`).
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    if state.is_migrated() && state.store.ready().await {
        (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::RETRY_AFTER, "0"),
            ],
            r#"{"status":"ready"}"#,
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::RETRY_AFTER, "5"),
            ],
            r#"{"status":"unavailable"}"#,
        )
    }
}
