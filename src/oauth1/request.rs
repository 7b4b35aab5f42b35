//! `/oauth1/request`: temporary credentials (RFC 5849 §2.1, `spec/oauth1.md` §3). Signed by the
//! consumer alone; `oauth_callback` is optional and, when given, checked against the registered
//! callback before anything is stored. Absent means "given later at `/oauth1/authorize`", as WP-API's
//! own JavaScript client does; when it is not given there either, the consumer must be registered
//! with `oob` (`authorize`).

use axum::extract::{Request, State};
use axum::response::Response;

use super::NewCredentials;
use super::callback;
use super::problem::Problem;
use super::verify::{self, Expect, Incoming};
use crate::domain::crypto::REQUEST_SECRET_CONTEXT;
use crate::domain::secret;
use crate::state::AppState;
use crate::store::NewRequestToken;

pub(crate) async fn request(State(state): State<AppState>, request: Request) -> Response {
    super::credentials_response(issue(&state, request).await)
}

async fn issue(state: &AppState, request: Request) -> Result<String, Problem> {
    let (incoming, _) = Incoming::read(request).await?;
    let verified = verify::verify(state, &incoming, Expect::Consumer).await?;
    // No callback yet: it may come with the authorize step (`GIVEN_LATER`), checked there.
    let supplied = verified.collected.oauth.callback.as_deref();
    if let Some(supplied) = supplied {
        let registered = verified.app.oauth1_callback.as_deref().unwrap_or("");
        callback::check(registered, supplied)?;
    }
    let supplied = supplied.unwrap_or(callback::GIVEN_LATER);

    let minted = NewCredentials::mint(state, REQUEST_SECRET_CONTEXT);
    let now = state.now();
    let mut tx = state.store.begin();
    tx.create_request_token(
        &NewRequestToken {
            digest: &secret::digest(&minted.token),
            secret_enc: &minted.sealed,
            app_id: verified.app.id,
            callback: supplied,
            expires_at: now + state.settings.oauth1_request_token_ttl,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(minted.body(&[("oauth_callback_confirmed", "true")]))
}
