//! Minting and validating access tokens: URL-safe opaque strings with a type prefix and checksum,
//! stored only as SHA-256 digests (oauth2.md §5).

use std::sync::Arc;

use crate::domain::secret::{self, Kind};
use crate::domain::{reach, scope};
use crate::state::AppState;
use crate::store::{StoreError, TokenGrant};

/// A freshly minted access token and its digest.
pub struct Minted {
    pub token: String,
    pub digest: [u8; 32],
}

pub fn mint(state: &AppState) -> Minted {
    let token = secret::mint(Kind::AccessToken, &*state.random);
    let digest = secret::digest(&token);
    Minted { token, digest }
}

/// The live grant behind `token`, or `None`. Malformed tokens never reach the database.
pub async fn validate(
    state: &AppState,
    token: &str,
    now: i64,
) -> Result<Option<TokenGrant>, StoreError> {
    Ok(lookup(state, token, now)
        .await?
        .map(|g| TokenGrant::clone(&g)))
}

/// [`validate`] without copying the grant: the shared entry of the validation cache
/// (`store::cache`), so a hit allocates nothing. Malformed tokens never reach the cache or the
/// database; a well-formed one costs at most one indexed lookup by digest.
pub async fn lookup(
    state: &AppState,
    token: &str,
    now: i64,
) -> Result<Option<Arc<TokenGrant>>, StoreError> {
    let metrics = state.store.metrics();
    if !secret::well_formed(Kind::AccessToken, token) {
        metrics.token_malformed.increment(1);
        return Ok(None);
    }
    let grant = state.store.token_grant(&secret::digest(token), now).await?;
    match grant {
        Some(_) => metrics.token_valid.increment(1),
        None => metrics.token_invalid.increment(1),
    }
    Ok(grant)
}

/// Whether a grant still holds what it grants (`domain::reach::holds`), from what a token or code
/// carries: its scope, its blog, and whether its user administered that blog when it was read (or
/// cached; see `store::cache`). A single-blog grant whose user no longer administers its blog does
/// not (AC11). No query: token-info decides from the cached grant.
pub fn holds(scope: &str, site_id: Option<i64>, site_admin: bool) -> bool {
    scope::granted(scope).is_ok_and(|scope| {
        let token = reach::Token {
            scope: &scope,
            site_id,
        };
        reach::holds(token, |id| site_id == Some(id) && site_admin).is_ok()
    })
}
