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

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
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

/// What the CORS rule makes of an actual request: the headers its answer gets, and whether a
/// write is refused before the endpoint runs.
pub(crate) struct Cors {
    /// The origin to echo, when it is allowed.
    allow: Option<HeaderValue>,
    refuse: bool,
}

impl Cors {
    /// Whether the endpoint must not run (a write from an origin that is not allowed).
    pub(crate) fn refuses(&self) -> bool {
        self.refuse
    }

    /// The refusal of a write from an origin that is not allowed.
    pub(crate) fn refusal(&self) -> Response {
        refused()
    }

    /// The CORS headers of the answer.
    pub(crate) fn decorate(self, headers: &mut HeaderMap) {
        vary(headers, "Origin");
        if let Some(origin) = self.allow {
            allow(headers, origin);
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSE_HEADERS),
            );
        }
    }
}

/// What the CORS rule needs of a request whose credentials are resolved.
pub(crate) struct Asked {
    origin: Option<HeaderValue>,
    preflight: bool,
    write: bool,
    /// The app of the request's token, when it has a usable one.
    app_id: Option<i64>,
}

impl Asked {
    pub(crate) fn of(request: &Request) -> Self {
        let method = request.method();
        Self {
            origin: request.headers().get(header::ORIGIN).cloned(),
            preflight: method == Method::OPTIONS
                && request
                    .headers()
                    .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD),
            write: !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS),
            app_id: match principal::resolved(request.extensions()) {
                Some(Ok(Some(principal))) => Some(principal.app_id),
                _ => None,
            },
        }
    }

    /// The rule's verdict: `Err` is the whole answer (a preflight's, or a failed lookup's).
    pub(crate) async fn check(self, state: &AppState) -> Result<Cors, Response> {
        let same = Cors {
            allow: None,
            refuse: false,
        };
        let Some(origin_value) = self.origin else {
            return Ok(same);
        };
        let origin = origin_value.to_str().unwrap_or("").to_owned();
        let ours = state.settings.public_url.origin().ascii_serialization();
        if origin == ours {
            return Ok(same);
        }
        if self.preflight {
            return Err(preflight(state, &origin, origin_value).await);
        }
        let allowed = allowed(state, self.app_id, &origin)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Cors {
            allow: allowed.then_some(origin_value),
            refuse: !allowed && self.write,
        })
    }
}

/// A preflight carries no token: allowed when some app registered the origin.
async fn preflight(state: &AppState, origin: &str, origin_value: HeaderValue) -> Response {
    match state.store.origin_registered(origin).await {
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
    }
}
