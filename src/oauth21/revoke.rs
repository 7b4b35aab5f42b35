//! `POST /oauth2-1/revoke` and its alias `POST /oauth2/revoke`: token revocation (RFC 7009,
//! oauth21.md §4). The owning client ends its token; an unknown, malformed or already dead token,
//! and another client's token, all answer the same empty 200 and change nothing (RFC 7009 §2.2), so
//! the answer tells a caller nothing about tokens that are not its own.
//!
//! A refresh token of the 2.1 server ends its whole family: every access and refresh token of its
//! grant (the grant itself, the app's connection, stays).
//!
//! The revocation, its announcement to every instance (`Tx::revoke_token` and
//! `Tx::revoke_refresh_family` announce on the transaction, see `store::notify`) and its audit
//! event commit together.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

use super::presented::{self, Presented};
use crate::http::headers::no_store;
use crate::http::peer::Peer;
use crate::oauth2::client_auth::Client;
use crate::oauth2::error::OAuthError;
use crate::state::AppState;
use crate::store::AuditEvent;

pub(crate) async fn revoke(
    State(state): State<AppState>,
    peer: Peer,
    request: Request,
) -> Result<Response, OAuthError> {
    let request = presented::read(&state, peer, request).await?;
    if let Some(presented) = &request.token {
        revoke_owned(&state, &request.client, presented, peer).await?;
    }
    let mut response = ().into_response();
    no_store(response.headers_mut());
    Ok(response)
}

/// What a live token's revocation ends.
enum Ends {
    /// An access token alone (its id).
    Access(i64),
    /// Every access and refresh token of a grant (its id): RFC 7009 §2.1, revoking a refresh
    /// token should also end the access tokens of the same grant.
    Family(i64),
}

/// Ends the presented token if it is live and `client` owns it; otherwise does nothing. A rotated
/// refresh token is not live, so presenting one here changes nothing (its reuse at the token
/// endpoint is what ends a family).
async fn revoke_owned(
    state: &AppState,
    client: &Client,
    presented: &Presented,
    peer: Peer,
) -> Result<(), OAuthError> {
    let now = state.now();
    let live = match presented {
        Presented::Access(digest) => state
            .store
            .token_grant(digest, now)
            .await?
            .map(|g| (g.user_id, g.app_id, Ends::Access(g.token_id))),
        Presented::Refresh(digest) => state
            .store
            .refresh_by_digest(digest, now)
            .await?
            .map(|r| (r.user_id, r.app_id, Ends::Family(r.grant_id))),
    };
    let Some((user_id, app_id, ends)) = live.filter(|(_, app_id, _)| *app_id == client.app.id)
    else {
        return Ok(());
    };
    let mut tx = state.store.begin();
    let (ended, detail) = match ends {
        Ends::Access(token_id) => (
            tx.revoke_token(token_id).await?,
            "access token revoked by its client (RFC 7009)",
        ),
        Ends::Family(grant_id) => (
            tx.revoke_refresh_family(grant_id).await? > 0,
            "refresh token and its family revoked by their client (RFC 7009)",
        ),
    };
    if ended {
        let event = AuditEvent {
            kind: "token_revoked",
            user_id: Some(user_id),
            app_id: Some(app_id),
            peer: Some(peer.to_string()),
            detail,
        };
        tx.audit(&event, now).await?;
    }
    tx.commit().await?;
    Ok(())
}
