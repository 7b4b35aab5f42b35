//! Client authentication at `/oauth2-1/token` (oauth21.md §3, §5): a request with a secret (HTTP
//! Basic or `client_secret` in the body) is the legacy check of `oauth2::client_auth`; one without
//! names its client by `client_id` alone, looked up by `resolve_client` (a numeric id or a Client
//! ID Metadata Document's URL), and only a public client may do that: PKCE then proves possession.
//! A public client's stored digest is of a secret nobody was told, so it never authenticates with
//! one. Unknown clients and unusable documents are `invalid_client`, counted like bad secrets.

use axum::http::{HeaderMap, header};

use super::register::{ResolveError, resolve_client};
use crate::http::params::Params;
use crate::http::peer::Peer;
use crate::oauth2::client_auth::{self, Client, Method};
use crate::oauth2::error::OAuthError;
use crate::state::AppState;

/// Authenticates the client of a 2.1 token request.
pub(super) async fn authenticate(
    state: &AppState,
    params: &Params,
    headers: &HeaderMap,
    peer: Peer,
) -> Result<Client, OAuthError> {
    let secret_sent = headers.contains_key(header::AUTHORIZATION)
        || !matches!(params.get("client_secret"), Ok(None));
    let client_id = match params.get("client_id") {
        Ok(Some(id)) if !secret_sent => id,
        _ => return client_auth::authenticate(state, params, headers, peer).await,
    };
    let budgets = state.auth().budgets();
    if let Some(retry_after) = budgets.client_over(client_id, peer.0, state.now()) {
        return Err(OAuthError::throttled(retry_after));
    }
    let fail = |err: OAuthError| {
        client_auth::record_failure(state, client_id, peer);
        err
    };
    match resolve_client(state, client_id).await {
        // A native app registered by its owner keeps the legacy rule: PKCE instead of a secret.
        Ok(resolved) if resolved.app.is_public() || resolved.app.is_native() => {
            // Guessed codes are counted under the app's numeric id (`token`): a document's client
            // is held to that budget too.
            let by_app = budgets.client_over(&resolved.app.id.to_string(), peer.0, state.now());
            if let Some(retry_after) = by_app {
                return Err(OAuthError::throttled(retry_after));
            }
            Ok(Client {
                app: std::sync::Arc::new(resolved.app),
                method: Method::None,
            })
        }
        Ok(_) => Err(fail(OAuthError::invalid_client(
            "The client_secret parameter is required for this client.",
        ))),
        Err(ResolveError::Unknown) => Err(fail(OAuthError::invalid_client("Unknown client_id."))),
        Err(e @ ResolveError::Document(_)) => Err(fail(OAuthError::invalid_client(format!(
            "Unusable client_id: {e}."
        )))),
        Err(ResolveError::Store(e)) => Err(e.into()),
    }
}
