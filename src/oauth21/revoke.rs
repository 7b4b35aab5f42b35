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
    match request.token {
        Some(Presented::Access(digest)) => {
            revoke_access(&state, &request.client, &digest, peer).await?;
        }
        Some(Presented::Refresh(digest)) => {
            revoke_refresh(&state, &request.client, &digest, peer).await?;
        }
        None => {}
    }
    let mut response = ().into_response();
    no_store(response.headers_mut());
    Ok(response)
}

/// Ends the access token with this digest if `client` owns it; otherwise does nothing.
async fn revoke_access(
    state: &AppState,
    client: &Client,
    digest: &[u8; 32],
    peer: Peer,
) -> Result<(), OAuthError> {
    let now = state.now();
    let Some(grant) = state.store.token_grant(digest, now).await? else {
        return Ok(());
    };
    if grant.app_id != client.app.id {
        return Ok(());
    }
    let mut tx = state.store.begin();
    if tx.revoke_token(grant.token_id).await? {
        let event = AuditEvent {
            kind: "token_revoked",
            user_id: Some(grant.user_id),
            app_id: Some(grant.app_id),
            peer: Some(peer.to_string()),
            detail: "access token revoked by its client (RFC 7009)",
        };
        tx.audit(&event, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Ends the family of the live refresh token with this digest if `client` owns it: every access
/// and refresh token of its grant (RFC 7009 §2.1: revoking a refresh token should also end the
/// access tokens of the same grant); otherwise does nothing. A rotated refresh token is not live,
/// so presenting one here changes nothing (its reuse at the token endpoint is what ends a family).
async fn revoke_refresh(
    state: &AppState,
    client: &Client,
    digest: &[u8; 32],
    peer: Peer,
) -> Result<(), OAuthError> {
    let now = state.now();
    let Some(refresh) = state.store.refresh_by_digest(digest, now).await? else {
        return Ok(());
    };
    if refresh.app_id != client.app.id {
        return Ok(());
    }
    let mut tx = state.store.begin();
    if tx.revoke_refresh_family(refresh.grant_id).await? > 0 {
        let event = AuditEvent {
            kind: "token_revoked",
            user_id: Some(refresh.user_id),
            app_id: Some(refresh.app_id),
            peer: Some(peer.to_string()),
            detail: "refresh token and its family revoked by their client (RFC 7009)",
        };
        tx.audit(&event, now).await?;
    }
    tx.commit().await?;
    Ok(())
}
