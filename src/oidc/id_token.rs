//! ID tokens (OpenID Connect Core §2, oauth21.md §6): an RS256 JWT signed with the current key,
//! whose `kid` the JWKS lists. The token endpoint calls [`id_token`] when the grant holds `openid`.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::claims::{self, Granted};
use super::keys::{self, KeysError, Signer};
use crate::state::AppState;
use crate::store::StoreError;

/// What an ID token says, besides what the server knows itself (issuer, clock, key).
#[derive(Debug, Clone, Copy)]
pub struct IdTokenInput<'a> {
    /// The user the grant stands for (`sub`).
    pub user_id: i64,
    /// The client the token is for (`aud`).
    pub client_id: &'a str,
    /// The `nonce` of the authorization request, when it sent one.
    pub nonce: Option<&'a str>,
    /// When the user last authenticated (Unix seconds).
    pub auth_time: i64,
    /// The access token issued with it (`at_hash`).
    pub access_token: &'a str,
    /// The granted scope, as stored: `profile` and `email` add their claims.
    pub scope: &'a str,
}

/// `at_hash` (OpenID Connect Core §3.1.3.6): the left half of the SHA-256 of the access token's
/// ASCII, base64url without padding.
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// Signs an ID token for `input` with the current key (made first if there is none; cached for
/// [`keys::signer_ttl`], see `keys`). Fails when
/// the user is gone, the key cannot be opened, or the store cannot be read; the caller answers
/// [`KeysError::report`]'s outcome (500 or 503 `server_error`).
pub async fn id_token(state: &AppState, input: IdTokenInput<'_>) -> Result<String, KeysError> {
    let now = state.now();
    let signer = current_signer(state, now).await?;
    let granted = Granted::from_scope(input.scope);
    let mut claims = claims::user_claims(&state.store, input.user_id, granted)
        .await?
        .ok_or(StoreError::NotFound)?;
    claims.insert("iss".into(), state.settings.issuer().into());
    claims.insert("aud".into(), input.client_id.into());
    claims.insert(
        "exp".into(),
        (now + state.settings.oauth21.id_token_ttl_secs).into(),
    );
    claims.insert("iat".into(), now.into());
    claims.insert("auth_time".into(), input.auth_time.into());
    if let Some(nonce) = input.nonce {
        claims.insert("nonce".into(), nonce.into());
    }
    claims.insert("at_hash".into(), at_hash(input.access_token).into());
    sign(&signer, &Value::Object(claims))
}

/// The signer of the current key: the cached one while fresh, otherwise the stored current key
/// (made first if there is none), opened and kept for [`signer_ttl`].
async fn current_signer(state: &AppState, now: i64) -> Result<Arc<Signer>, KeysError> {
    let ttl = keys::signer_ttl(state.settings.oauth21.key_overlap_secs);
    if let Some(signer) = state.signer.fresh(now, ttl) {
        return Ok(signer);
    }
    let stored = keys::ensure(&state.store, &state.key.0, &state.random, now).await?;
    let signer = Arc::new(Signer::open(&stored, &state.key.0)?);
    state.signer.keep(&signer, now);
    Ok(signer)
}

fn sign(signer: &Signer, claims: &Value) -> Result<String, KeysError> {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(signer.kid.clone());
    Ok(jsonwebtoken::encode(&header, claims, &signer.key)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_openid_connect_example() {
        // OpenID Connect Core, Appendix A.3 (RS256 example of "code id_token token").
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
