//! `GET /.well-known/jwks.json` (RFC 7517): the public keys that verify ID tokens, the current one
//! and those rotated out less than `oauth21.key_overlap_secs` ago, so a token signed just before a
//! rotation still verifies. Cached by clients for `oauth21.jwks_max_age_secs`.

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use super::discovery::cacheable;
use super::error::OidcError;
use super::keys;
use crate::state::AppState;
use crate::store::SigningKey;

/// The JWK of a stored key's public part.
pub(crate) fn jwk(key: &SigningKey) -> Value {
    json!({
        "kty": "RSA",
        "use": "sig",
        "alg": key.alg,
        "kid": key.kid,
        "n": key.public_n,
        "e": key.public_e,
    })
}

pub(crate) async fn jwks(State(state): State<AppState>) -> Result<Response, OidcError> {
    let keys = keys::published(
        &state.store,
        &state.key.0,
        &state.random,
        state.settings.oauth21.key_overlap_secs,
        state.now(),
    )
    .await?;
    let keys: Vec<Value> = keys.iter().map(jwk).collect();
    Ok(cacheable(&state.settings, json!({ "keys": keys })))
}
