//! The lean stack of the validation routes (performance.md; issue 17): `GET` token-info, the
//! REST API's bearer and OAuth1 checks (`GET /rest/v1/me`, `GET /rest/v1.1/me`, `GET
//! /wp-json/wp/v2/users/me`, the OAuth1 dialect's signed call) and introspection (`POST
//! /oauth2-1/token-info`, `POST /oauth2/introspect`, with a form-urlencoded body) pass one layer
//! composed once
//! instead of the full stack's eight, each of which `Router::layer` boxes per route (a service
//! clone and a boxed future per layer per request). The one layer does what those routes need of
//! the full stack, in its order:
//!
//! - the request id (`x-request-id`: kept when sent, a fresh UUID otherwise, echoed on the answer);
//! - the limits (request line and header block, `http::headers::over_limits`);
//! - the panic catcher (a panicking handler answers the same 500 as `server::on_panic`);
//! - the security headers (`http::headers::secure`);
//! - the request metrics and log line (`http::observe::answered`), and an ERROR line for a 5xx,
//!   as the trace layer's `on_failure` writes.
//!
//! - for introspection only, which reads a body: the 30 s request timeout (a 408 without a body or
//!   security headers, as `TimeoutLayer` answers outside them).
//!
//! What they do not need is left out: the tracing span unless traces are exported (`otel.endpoint`;
//! the span's per-request allocation and formatting were most of the layers' cost, and the log
//! lines above carry the request id and route), the timeout for the `GET` routes, and the default
//! body limit (token-info answers from the query, a REST `GET` reads at most a form body through
//! its own limit in `api::principal`, and introspection reads a form-urlencoded body through
//! `oauth2::body`'s own limit, the same 64 KiB; a multipart body, whose reader obeys the default
//! limit, takes the full stack). Every other request, and every other method on these paths, goes
//! to the full stack unchanged.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use tower::Service;
use tower_http::request_id::{MakeRequestId, MakeRequestUuid};
use tracing::Instrument;

use crate::http::peer::Peer;
use crate::http::{headers, observe};
use crate::metrics::RouteMetrics;
use crate::state::AppState;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Which lean route a request is for, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lean {
    /// `GET /oauth2/token-info` or `GET /oauth/token-info`: answered here, without the router.
    TokenInfo(usize),
    /// `GET /rest/v1/me`, `GET /rest/v1.1/me` or `GET /wp-json/wp/v2/users/me`: the bare router
    /// (the REST layers still apply).
    Me(usize),
    /// `POST /oauth2-1/token-info` or `POST /oauth2/introspect` with a form-urlencoded body:
    /// answered here by the handler, without the router.
    Introspect(usize),
}

const TOKEN_INFO: [&str; 2] = ["/oauth2/token-info", "/oauth/token-info"];
/// The bearer and OAuth1 checks of the REST API: `/me` of both dialects.
const ME: [&str; 3] = ["/rest/v1/me", "/rest/v1.1/me", "/wp-json/wp/v2/users/me"];
const INTROSPECT: [&str; 2] = ["/oauth2-1/token-info", "/oauth2/introspect"];
const FORM: &[u8] = b"application/x-www-form-urlencoded";

fn lean(request: &Request) -> Option<Lean> {
    let path = request.uri().path();
    if request.method() == Method::POST {
        let form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| {
                let v = v.as_bytes();
                v.len() >= FORM.len() && v[..FORM.len()].eq_ignore_ascii_case(FORM)
            });
        return INTROSPECT
            .iter()
            .position(|p| *p == path)
            .filter(|_| form)
            .map(Lean::Introspect);
    }
    if request.method() != Method::GET {
        return None;
    }
    if let Some(i) = TOKEN_INFO.iter().position(|p| *p == path) {
        return Some(Lean::TokenInfo(i));
    }
    ME.iter().position(|p| *p == path).map(Lean::Me)
}

/// The served service: validation routes under the lean stack, the rest under the full one.
#[derive(Clone)]
pub(crate) struct Split {
    shared: Arc<Shared>,
    full: Router,
}

struct Shared {
    state: AppState,
    /// Every route without the outer layers (what the lean `/me` passes to).
    bare: Router,
    /// The request metrics of the lean routes, found once.
    token_info: [Arc<RouteMetrics>; 2],
    me: [Arc<RouteMetrics>; 3],
    introspect: [Arc<RouteMetrics>; 2],
}

impl Split {
    /// `full` is the complete application (`server::app`).
    pub(crate) fn new(state: AppState, full: Router) -> Self {
        let metrics = state.store.metrics();
        let of =
            |method| move |path: &str| metrics.route_metrics(&metrics.route(Some(path)), method);
        let shared = Shared {
            bare: crate::router(state.clone()),
            token_info: TOKEN_INFO.map(of("GET")),
            me: ME.map(of("GET")),
            introspect: INTROSPECT.map(of("POST")),
            state,
        };
        Self {
            shared: Arc::new(shared),
            full,
        }
    }
}

type Answer = Pin<Box<dyn Future<Output = Response> + Send>>;

/// The future of [`Split`]: the full router's, or the lean stack's (one box per request).
#[allow(
    clippy::large_enum_variant,
    reason = "boxing the full router's future would cost every other request an allocation; \
              it lives inline in the connection's future"
)]
pub(crate) enum SplitFuture {
    Full(RouteFuture<Infallible>),
    Lean(Answer),
}

impl Future for SplitFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            SplitFuture::Full(f) => Pin::new(f).poll(cx),
            SplitFuture::Lean(f) => f.as_mut().poll(cx).map(Ok),
        }
    }
}

impl Service<Request> for Split {
    type Response = Response;
    type Error = Infallible;
    type Future = SplitFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> SplitFuture {
        match lean(&request) {
            None => SplitFuture::Full(self.full.call(request)),
            Some(route) => {
                SplitFuture::Lean(Box::pin(serve(Arc::clone(&self.shared), route, request)))
            }
        }
    }
}

async fn serve(shared: Arc<Shared>, route: Lean, mut request: Request) -> Response {
    let started = Instant::now();
    let request_id = match request.headers().get(&REQUEST_ID) {
        Some(id) => id.clone(),
        None => {
            let id = MakeRequestUuid
                .make_request_id(&request)
                .map(|id| id.header_value().clone())
                .unwrap_or_else(|| HeaderValue::from_static("-"));
            request.headers_mut().insert(REQUEST_ID.clone(), id.clone());
            id
        }
    };
    let state = &shared.state;
    let metrics = match route {
        Lean::TokenInfo(i) => &shared.token_info[i],
        Lean::Me(i) => &shared.me[i],
        Lean::Introspect(i) => &shared.introspect[i],
    };
    let (label, method) = (metrics.route(), metrics.method());
    // As in the full stack: a refusal by the limits and a panic's 500 carry no security headers.
    let mut response = match headers::over_limits(&request) {
        Some(refused) => refused,
        None => {
            let answer = async {
                match route {
                    Lean::TokenInfo(_) => {
                        let (mut parts, _) = request.into_parts();
                        let Ok(Peer(peer)) = Peer::from_request_parts(&mut parts, state).await;
                        crate::oauth2::token_info::answer(state, peer, parts.uri.query()).await
                    }
                    Lean::Me(_) => {
                        let Ok(response) = shared.bare.clone().call(request).await;
                        response
                    }
                    Lean::Introspect(_) => {
                        let (mut parts, body) = request.into_parts();
                        let Ok(peer) = Peer::from_request_parts(&mut parts, state).await;
                        let request = Request::from_parts(parts, body);
                        crate::oauth21::introspect::introspect(State(state.clone()), peer, request)
                            .await
                            .into_response()
                    }
                }
            };
            let answer = CatchUnwind(std::pin::pin!(answer));
            let answer = async {
                if matches!(route, Lean::Introspect(_)) {
                    // A body is read: slow-loris bodies end as in the full stack.
                    tokio::time::timeout(super::request_timeout(state), answer)
                        .await
                        .ok()
                } else {
                    Some(answer.await)
                }
            };
            let answered = if state.settings.otel_endpoint.is_some() {
                // Exported traces need the request span (with its id and route); logs do not.
                let id = request_id.to_str().unwrap_or("-");
                let span = tracing::info_span!("request", method, route = label, request_id = id);
                answer.instrument(span).await
            } else {
                answer.await
            };
            match answered {
                Some(Ok(mut response)) => {
                    headers::secure(state, response.headers_mut());
                    response
                }
                Some(Err(())) => super::on_panic(Box::new(())),
                None => StatusCode::REQUEST_TIMEOUT.into_response(),
            }
        }
    };
    observe::answered(state, metrics, Some(&request_id), &response, started);
    if response.status().is_server_error() {
        let id = request_id.to_str().unwrap_or("-");
        tracing::error!(
            status = response.status().as_u16(),
            route = label,
            request_id = id,
            "response failed"
        );
    }
    response
        .headers_mut()
        .insert(REQUEST_ID.clone(), request_id);
    response
}

/// Polls a future, turning a panic into `Err` (what `CatchPanicLayer` does for the full stack).
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_an_error_and_a_value_passes() {
        let ok = CatchUnwind(std::pin::pin!(async { 7 })).await;
        assert_eq!(ok, Ok(7));
        let panicked = CatchUnwind(std::pin::pin!(async {
            tokio::task::yield_now().await;
            panic!("boom")
        }))
        .await;
        assert_eq!(panicked, Err::<(), ()>(()));
    }

    #[test]
    fn only_get_on_the_validation_paths_is_lean() {
        let request = |method: Method, uri: &str| {
            Request::builder()
                .method(method)
                .uri(uri)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        assert_eq!(
            lean(&request(Method::GET, "/oauth2/token-info?token=x")),
            Some(Lean::TokenInfo(0))
        );
        assert_eq!(
            lean(&request(Method::GET, "/oauth/token-info")),
            Some(Lean::TokenInfo(1))
        );
        assert_eq!(
            lean(&request(Method::GET, "/rest/v1.1/me")),
            Some(Lean::Me(1))
        );
        assert_eq!(lean(&request(Method::POST, "/oauth2/token-info")), None);
        let post = |uri: &str, content_type: &str| {
            Request::builder()
                .method(Method::POST)
                .uri(uri)
                .header("content-type", content_type)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let form = "application/x-www-form-urlencoded";
        assert_eq!(
            lean(&post("/oauth2-1/token-info", form)),
            Some(Lean::Introspect(0))
        );
        assert_eq!(
            lean(&post(
                "/oauth2/introspect",
                "Application/X-WWW-Form-Urlencoded; charset=utf-8"
            )),
            Some(Lean::Introspect(1))
        );
        let multipart = "multipart/form-data; boundary=x";
        assert_eq!(lean(&post("/oauth2-1/token-info", multipart)), None);
        assert_eq!(lean(&request(Method::POST, "/oauth2-1/token-info")), None);
        assert_eq!(lean(&post("/oauth2-1/revoke", form)), None);
        assert_eq!(lean(&request(Method::GET, "/oauth2-1/token-info")), None);
        assert_eq!(lean(&request(Method::HEAD, "/rest/v1/me")), None);
        assert_eq!(lean(&request(Method::GET, "/rest/v1.1/me/sites")), None);
        assert_eq!(lean(&request(Method::GET, "/oauth2/token-info/")), None);
    }
}
