//! CORS for the REST API (oauth2.md §6; wpcom-oauth2.md §6.1; security.md BR13). Browser apps call
//! the API with a bearer token from the JavaScript origins their app registered:
//!
//! - A preflight (`OPTIONS` with `Access-Control-Request-Method`) carries no token, so it is allowed
//!   when some app registered the origin; otherwise it is refused.
//! - An actual request is allowed when the token's app registered the origin (or, when the request
//!   has no usable token, when any app did, so the app can read the error and sign in again). The
//!   response echoes the origin, with `Vary: Origin`. Writes from any other origin are refused with
//!   403 `You cannot make requests from this origin.` before the endpoint runs; reads get no CORS
//!   headers, so the browser hides the answer.
//! - Never `*`, and never `Access-Control-Allow-Credentials`: the API's credential is the bearer
//!   header, and cookies must not ride along (the session-only endpoints also check the origin).
//!
//! Only the REST routes get this layer: the authorization endpoint sends no CORS headers at all
//! (BCP §2.6).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::principal;
use crate::state::AppState;

const ALLOW_METHODS: &str = "GET, POST, OPTIONS";
const ALLOW_HEADERS: &str = "Authorization, Content-Type";
const EXPOSE_HEADERS: &str = "WWW-Authenticate, Retry-After";
const MAX_AGE_SECS: u32 = 600;

fn refused() -> Response {
    ApiError::unauthorized("You cannot make requests from this origin.").into_response()
}

fn vary(headers: &mut HeaderMap, value: &'static str) {
    headers.append(header::VARY, HeaderValue::from_static(value));
}

fn allow(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
}

/// Whether the request's token (or, without a usable token, any app) registered `origin`.
async fn allowed(state: &AppState, app_id: Option<i64>, origin: &str) -> Result<bool, ApiError> {
    match app_id {
        Some(app_id) => Ok(state
            .store
            .app_by_id(app_id)
            .await?
            .is_some_and(|app| app.js_origin_list().iter().any(|o| o == origin))),
        None => Ok(state.store.origin_registered(origin).await?),
    }
}

pub(crate) async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(origin_value) = request.headers().get(header::ORIGIN).cloned() else {
        let mut response = next.run(request).await;
        vary(response.headers_mut(), "Origin");
        return response;
    };
    let origin = origin_value.to_str().unwrap_or("").to_owned();
    let ours = state.settings.public_url.origin().ascii_serialization();
    if origin == ours {
        let mut response = next.run(request).await;
        vary(response.headers_mut(), "Origin");
        return response;
    }
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        return match state.store.origin_registered(&origin).await {
            Ok(true) => {
                let mut response = StatusCode::NO_CONTENT.into_response();
                let headers = response.headers_mut();
                allow(headers, origin_value);
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static(ALLOW_METHODS),
                );
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static(ALLOW_HEADERS),
                );
                headers.insert(
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from(MAX_AGE_SECS),
                );
                vary(
                    headers,
                    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
                );
                response
            }
            Ok(false) => refused(),
            Err(e) => ApiError::from(e).into_response(),
        };
    }
    let app_id = match principal::resolved(request.extensions()) {
        Some(Ok(Some(principal))) => Some(principal.app_id),
        _ => None,
    };
    let allowed = match allowed(&state, app_id, &origin).await {
        Ok(allowed) => allowed,
        Err(e) => return e.into_response(),
    };
    let write = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let mut response = if !allowed && write {
        refused()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    vary(headers, "Origin");
    if allowed {
        allow(headers, origin_value);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
    response
}
