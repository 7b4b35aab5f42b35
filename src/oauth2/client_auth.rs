//! Client authentication at the token endpoint (RFC 6749 §2.3.1, oauth2.md §4): `client_id` and
//! `client_secret` in the body (WordPress.com style) or HTTP Basic, never both. Secrets compare in
//! constant time against a SHA-256 digest; unknown clients cost the same comparison. Failures are
//! throttled per client and per address, and a throttled client is refused before any check.
//!
//! The app is read through the validation cache (`Store::client_app`), so an authenticated request
//! costs one SHA-256 and no query: every write to an app (a new secret above all) is announced and
//! drops the cached copy on every instance (`store::cache`), as a revocation drops a token.

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use base64::Engine;

use super::error::OAuthError;
use crate::domain::secret;
use crate::http::params::Params;
use crate::http::peer::Peer;
use crate::state::AppState;
use crate::store::App;

/// How the client authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Basic,
    Body,
    /// A native app without a secret; PKCE must then prove possession.
    None,
}

pub(crate) struct Client {
    pub app: Arc<App>,
    pub method: Method,
}

struct Presented {
    client_id: String,
    secret: Option<String>,
    basic: bool,
}

fn presented(params: &Params, headers: &HeaderMap) -> Result<Presented, OAuthError> {
    let bad = |e: crate::http::params::Repeated| OAuthError::invalid_request(e.to_string());
    let body_id = params.get("client_id").map_err(bad)?;
    let body_secret = params.get("client_secret").map_err(bad)?;
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, creds)| creds.trim());
    match basic {
        Some(creds) => {
            if body_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "Use one client authentication method: HTTP Basic or client_secret in the body, not both.",
                ));
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(creds)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    OAuthError::invalid_client("The Basic credentials are not valid base64.")
                        .with_basic_challenge()
                })?;
            let (id, secret) = decoded.split_once(':').ok_or_else(|| {
                OAuthError::invalid_client("The Basic credentials must be client_id:client_secret.")
                    .with_basic_challenge()
            })?;
            // RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
            let decode = |s: &str| {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            let (id, secret) = (decode(id), decode(secret));
            if body_id.is_some_and(|b| b != id) {
                return Err(OAuthError::invalid_request(
                    "The client_id in the body differs from the one in the Authorization header.",
                ));
            }
            Ok(Presented {
                client_id: id,
                secret: Some(secret),
                basic: true,
            })
        }
        None => Ok(Presented {
            client_id: body_id
                .ok_or_else(|| OAuthError::invalid_request("The client_id parameter is required."))?
                .to_owned(),
            secret: body_secret.map(str::to_owned),
            basic: false,
        }),
    }
}

/// Counts a failure against the client's and the address's budgets: bad client credentials, and
/// guessed codes (catalogue CL07, AC06).
pub(crate) fn record_failure(state: &AppState, client_id: &str, peer: Peer) {
    let budgets = state.auth().budgets();
    budgets.client_spend(client_id, peer.0, state.now());
}

/// Authenticates the client of a token-endpoint request.
pub(crate) async fn authenticate(
    state: &AppState,
    params: &Params,
    headers: &HeaderMap,
    peer: Peer,
) -> Result<Client, OAuthError> {
    let presented = presented(params, headers)?;
    let budgets = state.auth().budgets();
    let throttled = budgets.client_over(&presented.client_id, peer.0, state.now());
    if let Some(retry_after) = throttled {
        return Err(OAuthError::throttled(retry_after));
    }
    let fail = |err: OAuthError| {
        record_failure(state, &presented.client_id, peer);
        if presented.basic {
            err.with_basic_challenge()
        } else {
            err
        }
    };
    let app = match presented.client_id.parse::<i64>() {
        Ok(id) => state.store.client_app(id).await?,
        Err(_) => None,
    };
    let presented_digest = presented.secret.as_deref().map(secret::digest);
    let Some(app) = app else {
        // Spend the same comparison as for a known client, so timing tells nothing.
        if let Some(d) = &presented_digest {
            let _ = secret::digest_eq(d, &[0u8; 32]);
        }
        return Err(fail(OAuthError::invalid_client("Unknown client_id.")));
    };
    match presented_digest {
        Some(digest) if secret::digest_eq(&digest, &app.secret_digest) => Ok(Client {
            method: if presented.basic {
                Method::Basic
            } else {
                Method::Body
            },
            app,
        }),
        Some(_) => Err(fail(OAuthError::invalid_client("Incorrect client_secret."))),
        None if app.is_native() => Ok(Client {
            app,
            method: Method::None,
        }),
        None => Err(fail(OAuthError::invalid_client(
            "The client_secret parameter is required for this client.",
        ))),
    }
}
