//! What every request leaves behind for an operator: one INFO line (method, matched route, status,
//! latency, request id; never the query string, which can carry tokens), the request metrics, and
//! a WARN line for the security events a response carries ([`SecurityEvent`]) or that its status
//! shows (429: a failure budget is spent).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::metrics::RouteMetrics;
use crate::state::AppState;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A security event a handler reports by putting it in its response's extensions, for the layer
/// to count and log (handlers that answer errors without the application state use this).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecurityEvent {
    /// An OAuth1-signed request was refused; the value is its `oauth_problem`.
    OAuth1Refused(&'static str),
}

pub(crate) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The layer: times the request, then logs and counts its answer.
pub(crate) async fn observe(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let metrics = state.store.metrics();
    let route = metrics.route(
        request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    );
    let route = metrics.route_metrics(&route, method_label(request.method()));
    // A cheap clone (shared bytes), not a copy of the text.
    let request_id = request.headers().get(&REQUEST_ID).cloned();
    let response = next.run(request).await;
    answered(&state, &route, request_id.as_ref(), &response, started);
    response
}

/// Logs and counts an answered request (the layer's work after the handler; the lean stack of
/// `server::lean` calls it too).
pub(crate) fn answered(
    state: &AppState,
    route: &RouteMetrics,
    request_id: Option<&axum::http::HeaderValue>,
    response: &Response,
    started: Instant,
) {
    let metrics = state.store.metrics();
    let took = started.elapsed();
    let status = response.status();
    metrics.request(route, status.as_u16(), took);
    let method = route.method();
    let request_id = request_id.and_then(|v| v.to_str().ok()).unwrap_or("-");
    let route = route.route();
    if state.settings.log_requests {
        tracing::info!(
            method,
            route,
            status = status.as_u16(),
            latency_ms = took.as_secs_f64() * 1000.0,
            request_id,
            "request"
        );
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        metrics.count("latchkey_throttled_total", "route", route);
        tracing::warn!(
            event = "throttled",
            method,
            route,
            request_id,
            "security event"
        );
    }
    if let Some(SecurityEvent::OAuth1Refused(problem)) = response.extensions().get() {
        metrics.count("latchkey_oauth1_failures_total", "problem", problem);
        tracing::warn!(
            event = "oauth1_refused",
            problem,
            route,
            request_id,
            "security event"
        );
    }
}

/// `/metrics` on the main listener, unless `metrics.listen` moves it to its own address.
pub(crate) fn routes(state: &AppState) -> axum::Router<AppState> {
    let router = axum::Router::new();
    if state.settings.metrics_listen.is_some() {
        return router;
    }
    router.route("/metrics", axum::routing::get(scrape))
}

/// The router served on `metrics.listen`: `/metrics` and nothing else.
pub(crate) fn metrics_app(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(state)
}

/// `GET /metrics`: the Prometheus text format (version 0.0.4). Sampled state (the pool, the
/// validation cache, build info) is read now; a probe times one connection acquisition.
pub(crate) async fn scrape(State(state): State<AppState>) -> Response {
    use axum::response::IntoResponse;
    let store = &state.store;
    let metrics = store.metrics();
    metrics.gauge(
        "latchkey_build_info",
        &[
            ("version", env!("CARGO_PKG_VERSION")),
            ("backend", store.backend()),
        ],
        1.0,
    );
    let (size, idle, max) = store.pool_status();
    metrics.gauge(
        "latchkey_db_pool_connections",
        &[("state", "in_use")],
        (size as usize).saturating_sub(idle) as f64,
    );
    metrics.gauge(
        "latchkey_db_pool_connections",
        &[("state", "idle")],
        idle as f64,
    );
    metrics.gauge("latchkey_db_pool_max_connections", &[], max as f64);
    if let Some(waited) = store.probe_acquire().await {
        metrics.pool_acquire.record(waited.as_secs_f64());
    }
    metrics.gauge(
        "latchkey_validation_cache_entries",
        &[],
        store.validation_cache().entries() as f64,
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}
