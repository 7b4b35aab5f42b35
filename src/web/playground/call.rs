//! The playground's HTTP calls: each request is sent through this server's own router in-process
//! (`server::app`, every layer included) and recorded, request and response, for the page.
//!
//! Why in-process rather than an HTTP client to the public URL: it needs no new dependency (no TLS
//! stack), cannot be pointed anywhere else (no server-side request forgery), and works when the
//! public URL is not reachable from the server itself (TLS terminated by a proxy, a container's
//! published port). The page shows each call with the public URL it would have on the wire. The
//! client secret and the user's password are masked in the transcript, and so is every OAuth1
//! `oauth_token_secret` in an answer (the consumer and token secrets never travel: only the
//! signature they make does); nothing here is logged.
//!
//! An [`Exchange`] can be serialized so that a step taken before the browser leaves (the OAuth1
//! request token) is shown on the result page after it comes back; what is serialized is the
//! masked transcript only.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, header};
use serde::{Deserialize, Serialize};
use tower::ServiceExt;

use crate::http::peer::Peer;
use crate::state::AppState;

/// One recorded request and its response.
#[derive(Serialize, Deserialize)]
pub(super) struct Exchange {
    pub title: String,
    pub method: String,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: Option<String>,
    pub status: u16,
    pub reason: String,
    pub response_headers: Vec<(String, String)>,
    /// As shown: pretty JSON, or the body with its secrets masked.
    pub response_body: String,
    /// The parsed JSON body, if any.
    #[serde(skip)]
    pub json: Option<serde_json::Value>,
    /// The parsed `application/x-www-form-urlencoded` body (OAuth1 answers), unmasked; never
    /// serialized.
    #[serde(skip)]
    pub form: Vec<(String, String)>,
}

impl Exchange {
    pub(super) fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A string field of the JSON response.
    pub(super) fn field(&self, name: &str) -> Option<&str> {
        self.json.as_ref()?.get(name)?.as_str()
    }

    /// A field of a form-encoded response (OAuth1 answers).
    pub(super) fn form_field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Form fields whose values the transcript masks.
const MASKED: [&str; 2] = ["client_secret", "password"];

/// Fields of a form-encoded answer whose values the transcript masks.
const MASKED_ANSWER: [&str; 1] = ["oauth_token_secret"];

/// Headers worth showing from a response (the security headers are on every page already).
const SHOWN: [&str; 6] = [
    "content-type",
    "cache-control",
    "pragma",
    "www-authenticate",
    "retry-after",
    "location",
];

pub(super) struct Call {
    pub title: String,
    pub method: Method,
    /// Path and query, as sent to the router.
    pub path: String,
    /// The `Authorization` header: `Bearer …` or a signed `OAuth …` (neither holds a secret that
    /// the page does not show anyway: a bearer token is shown, an OAuth1 signature is no secret).
    pub authorization: Option<String>,
    pub form: Option<Vec<(&'static str, String)>>,
}

fn encode(pairs: &[(&'static str, String)], mask: bool) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if mask && MASKED.contains(k) {
            s.append_pair(k, "********");
        } else {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

/// A form-encoded body with the values of [`MASKED_ANSWER`] replaced, the rest as sent.
fn mask_answer(body: &str) -> String {
    body.split('&')
        .map(|piece| match piece.split_once('=') {
            Some((name, _)) if MASKED_ANSWER.contains(&name) => format!("{name}=********"),
            _ => piece.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Sends `call` through the router as if it came from `peer`, and records it.
pub(super) async fn send(state: &AppState, peer: Peer, call: Call) -> Exchange {
    let base = state.settings.base_url();
    let mut request_headers = Vec::new();
    let mut builder = Request::builder()
        .method(call.method.clone())
        .uri(&call.path);
    if let Some(value) = &call.authorization {
        builder = builder.header(header::AUTHORIZATION, value);
        request_headers.push(("Authorization".to_owned(), value.clone()));
    }
    let (body, shown_body) = match &call.form {
        Some(pairs) => {
            builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            request_headers.push((
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            ));
            (Body::from(encode(pairs, false)), Some(encode(pairs, true)))
        }
        None => (Body::empty(), None),
    };
    let url = format!("{base}{}", call.path);
    let mut request = match builder.body(body) {
        Ok(r) => r,
        Err(_) => {
            return failed(
                call.title,
                &call.method,
                url,
                "The request could not be built.",
            );
        }
    };
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(peer.0, 0)));
    let Ok(response) = crate::server::app(state.clone()).oneshot(request).await;
    let status = response.status();
    let response_headers: Vec<(String, String)> = SHOWN
        .iter()
        .filter_map(|name| {
            let v = response.headers().get(*name)?.to_str().ok()?;
            Some((name.to_string(), v.to_owned()))
        })
        .collect();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let json: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
    let is_form = response_headers
        .iter()
        .any(|(k, v)| k == "content-type" && v.starts_with("application/x-www-form-urlencoded"));
    let form = if is_form {
        form_urlencoded::parse(&bytes).into_owned().collect()
    } else {
        Vec::new()
    };
    let response_body = match &json {
        Some(v) => serde_json::to_string_pretty(v).unwrap_or_default(),
        None if is_form => mask_answer(&String::from_utf8_lossy(&bytes)),
        None => String::from_utf8_lossy(&bytes).into_owned(),
    };
    Exchange {
        title: call.title,
        method: method_name(&call.method),
        url,
        request_headers,
        request_body: shown_body,
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or("").to_owned(),
        response_headers,
        response_body,
        json,
        form,
    }
}

fn method_name(m: &Method) -> String {
    m.as_str().to_owned()
}

fn failed(title: String, method: &Method, url: String, why: &str) -> Exchange {
    Exchange {
        title,
        method: method_name(method),
        url,
        request_headers: Vec::new(),
        request_body: None,
        status: 0,
        reason: "not sent".to_owned(),
        response_headers: Vec::new(),
        response_body: why.to_owned(),
        json: None,
        form: Vec::new(),
    }
}
