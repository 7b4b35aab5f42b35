//! The server: the router wrapped in the layers every request passes through, served with
//! graceful shutdown under a deadline (AX `graceful-shutdown`), and the 404/405 answers in the
//! dialect of the path (`fallback`). It stands above every surface, which it assembles.

pub(crate) mod fallback;
mod lean;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::http::body::MAX_BODY_BYTES;
use crate::state::AppState;

/// How long a request may take, body included, before it is answered 408 (slow-loris bodies):
/// `limits.request_timeout_secs`.
fn request_timeout(state: &AppState) -> Duration {
    Duration::from_secs(state.settings.limits.request_timeout_secs)
}
/// How long in-flight requests may drain after SIGINT/SIGTERM.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The complete application: every route and every layer. `main`, the tests and the benchmark all
/// serve exactly this.
pub fn app(state: AppState) -> Router {
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request| {
            // The matched route, never the raw URI: query strings can carry tokens and secrets.
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map(MatchedPath::as_str)
                .unwrap_or("unmatched");
            let id = request
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), route, request_id = id)
        })
        .on_request(())
        // One line per response costs a formatted write(2) per request on the hot path (the
        // benchmark's profile: over a third of token-info's time went to logging). Responses are
        // logged at DEBUG; failures (5xx) still at ERROR through the layer's default on_failure.
        .on_response(DefaultOnResponse::new().level(Level::DEBUG));
    crate::router(state.clone())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::http::headers::harden,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout(&state),
        ))
        .layer(CatchPanicLayer::custom(on_panic))
        .layer(axum::middleware::from_fn_with_state(
            state,
            crate::http::observe::observe,
        ))
        .layer(trace)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
}

fn on_panic(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        r#"{"error":"server_error","error_description":"The server could not handle this request."}"#,
    )
        .into_response()
}

/// Serves `state` on `listener` with the background jobs (`jobs`) until `shutdown` completes, then
/// drains for at most [`SHUTDOWN_DEADLINE`] and stops the jobs.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut jobs = crate::jobs::spawn(&state, stopped.clone());
    if let Some(addr) = state.settings.metrics_listen {
        let listener = TcpListener::bind(addr).await?;
        tracing::info!(listen = %addr, "metrics served on their own address");
        let app = crate::http::observe::metrics_app(state.clone());
        let mut stopped = stopped;
        jobs.push(tokio::spawn(async move {
            let stop = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::error!(error = %e, "the metrics listener failed");
            }
        }));
    }
    let served = serve(listener, state, shutdown).await;
    let _ = stop.send(true);
    for job in jobs {
        let _ = job.await;
    }
    served
}

async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let streams = state.shutdown.clone();
    let signal = async move {
        shutdown.await;
        streams.cancel();
        let _ = tx.send(());
    };
    // The validation routes under the lean stack, the rest under `app`'s (`lean`).
    let service = lean::Split::new(state.clone(), app(state));
    let server = axum::serve(
        listener,
        axum::ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(service),
    )
    .with_graceful_shutdown(signal);
    let deadline = async move {
        if rx.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_DEADLINE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!("shutdown deadline passed with requests still in flight");
            Ok(())
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
