//! `/oauth1/access`: token credentials (RFC 5849 §2.3, `spec/oauth1.md` §3). The request token must
//! belong to the signing consumer, be approved, unexpired and unused; the verifier is compared in
//! constant time and five wrong ones destroy the request token; the request token's deletion, the
//! grant and the access token are written in one transaction.

use axum::extract::{Request, State};
use axum::response::Response;

use super::NewCredentials;
use super::problem::Problem;
use super::verify::{self, Expect, Incoming, Token};
use crate::domain::crypto::ACCESS_SECRET_CONTEXT;
use crate::domain::scope::Scope;
use crate::domain::secret;
use crate::state::AppState;
use crate::store::{AuditEvent, NewAccessToken};

pub(crate) async fn access(State(state): State<AppState>, request: Request) -> Response {
    super::credentials_response(exchange(&state, request).await)
}

async fn exchange(state: &AppState, request: Request) -> Result<String, Problem> {
    let (incoming, _) = Incoming::read(request).await?;
    let verified = verify::verify(state, &incoming, Expect::RequestToken).await?;
    let Token::Request(rt) = verified.token else {
        return Err(Problem::TokenRejected);
    };
    let (Some(expected), true) = (rt.verifier_digest.as_deref(), rt.is_approved()) else {
        return Err(Problem::NotApproved);
    };
    let presented = verified.collected.oauth.verifier.as_deref().unwrap_or("");
    if !secret::digest_eq(&secret::digest(presented), expected) {
        let mut tx = state.store.begin();
        tx.fail_verifier(rt.id).await?;
        tx.commit().await?;
        return Err(Problem::VerifierInvalid);
    }

    let minted = NewCredentials::mint(state, ACCESS_SECRET_CONTEXT);
    let now = state.now();
    let mut tx = state.store.begin();
    let issued = tx
        .exchange_request_token(
            rt.id,
            &NewAccessToken {
                digest: &secret::digest(&minted.token),
                secret_enc: &minted.sealed,
                scope: &Scope::full_blog().wire(),
            },
            now,
        )
        .await?
        .ok_or(Problem::TokenRejected)?;
    let event = AuditEvent {
        kind: "oauth1_token_issued",
        user_id: Some(issued.user_id),
        app_id: Some(issued.app_id),
        ..Default::default()
    };
    tx.audit(&event, now).await?;
    tx.commit().await?;
    Ok(minted.body(&[]))
}
