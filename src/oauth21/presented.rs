//! What revocation (RFC 7009 §2.1) and introspection (RFC 7662 §2.1) requests share: a form body
//! (`oauth2::body`), an authenticated client (`oauth21::client_auth`: with a secret, Basic or body,
//! never both; without one, a public or native client by `client_id`, a metadata document's URL
//! included; failures spend the client-failure budget), and the
//! `token`, sorted by its kind.
//!
//! The kind comes from the token's own prefix (`domain::secret`), so `token_type_hint` is read
//! only to refuse a repeat and otherwise ignored: RFC 7009 §2.1 and RFC 7662 §2.1 let a server
//! search every kind, and an unknown hint must not fail the request (so `unsupported_token_type`
//! is never answered).

use axum::extract::Request;

use crate::domain::secret::{self, Kind};
use crate::http::peer::Peer;
use crate::oauth2::body::{read_form, required};
use crate::oauth2::client_auth::Client;
use crate::oauth2::error::{ErrorCode, OAuthError};
use crate::state::AppState;

/// Parameters that may appear at most once (RFC 6749 §3.2).
const SINGLE: &[&str] = &["token", "token_type_hint", "client_id", "client_secret"];

/// A token as a client presented it, by kind, as the digest it is stored under. Anything that is
/// not well formed for any kind is `None` before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Presented {
    /// An access token of either dialect (legacy `/oauth2` or `/oauth2-1`: one table, one prefix).
    Access([u8; 32]),
    /// A refresh token of the 2.1 server (`/oauth2-1/token`, oauth21.md §3).
    Refresh([u8; 32]),
}

/// Sorts `token` by its prefix and checksum.
pub(super) fn classify(token: &str) -> Option<Presented> {
    if secret::well_formed(Kind::AccessToken, token) {
        return Some(Presented::Access(secret::digest(token)));
    }
    if secret::well_formed(Kind::RefreshToken, token) {
        return Some(Presented::Refresh(secret::digest(token)));
    }
    None
}

/// An authenticated client and the token it presented.
pub(super) struct TokenRequest {
    pub client: Client,
    pub token: Option<Presented>,
}

/// Reads and checks a revocation or introspection request: body, client, then `token`.
pub(super) async fn read(
    state: &AppState,
    peer: Peer,
    request: Request,
) -> Result<TokenRequest, OAuthError> {
    let (headers, params) = read_form(request, SINGLE).await?;
    let client = super::client_auth::authenticate(state, &params, &headers, peer)
        .await
        .map_err(challenge)?;
    let token = required(&params, "token")?;
    Ok(TokenRequest {
        client,
        token: classify(token),
    })
}

/// A failed client authentication answers 401 with a challenge whichever method the client used
/// (RFC 6749 §5.2 allows it for every method; the legacy token endpoint keeps its 400 for body
/// credentials).
fn challenge(err: OAuthError) -> OAuthError {
    match err.code {
        ErrorCode::InvalidClient => err.with_basic_challenge(),
        _ => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::random::OsRandom;

    #[test]
    fn only_well_formed_access_and_refresh_tokens_are_looked_up() {
        let token = secret::mint(Kind::AccessToken, &OsRandom);
        assert_eq!(
            classify(&token),
            Some(Presented::Access(secret::digest(&token)))
        );
        let refresh = secret::mint(Kind::RefreshToken, &OsRandom);
        assert_eq!(
            classify(&refresh),
            Some(Presented::Refresh(secret::digest(&refresh)))
        );
        let code = secret::mint(Kind::AuthCode, &OsRandom);
        let mut typo = token.clone();
        typo.replace_range(10..11, if &token[10..11] == "A" { "B" } else { "A" });
        for bad in ["", "lkat_", "not a token", code.as_str(), typo.as_str()] {
            assert_eq!(classify(bad), None, "{bad:?}");
        }
    }
}
