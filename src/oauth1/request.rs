//! `/oauth1/request`: temporary credentials (RFC 5849 §2.1, `spec/oauth1.md` §3). Signed by the
//! consumer alone; `oauth_callback` is optional (absent means `oob`, as in the plugin) and is checked
//! against the registered callback before anything is stored.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

use super::callback;
use super::problem::Problem;
use super::verify::{self, Expect, Incoming, REQUEST_SECRET_CONTEXT};
use crate::domain::random::alphanumeric;
use crate::domain::{crypto, secret};
use crate::state::AppState;
use crate::store::NewRequestToken;

pub async fn request(State(state): State<AppState>, request: Request) -> Response {
    match issue(&state, request).await {
        Ok(body) => super::form_response(body),
        Err(problem) => super::with_cors(problem.into_response()),
    }
}

async fn issue(state: &AppState, request: Request) -> Result<String, Problem> {
    let (incoming, _) = Incoming::read(request).await?;
    let verified = verify::verify(state, &incoming, Expect::Consumer).await?;
    let supplied = verified
        .collected
        .oauth
        .callback
        .as_deref()
        .unwrap_or("oob");
    let registered = verified.app.oauth1_callback.as_deref().unwrap_or("");
    callback::check(registered, supplied)?;

    let key = alphanumeric(&*state.random, 24);
    let token_secret = alphanumeric(&*state.random, 48);
    let sealed = crypto::seal(
        &state.key.0,
        REQUEST_SECRET_CONTEXT,
        token_secret.as_bytes(),
        &*state.random,
    );
    let now = state.now();
    state
        .store
        .create_request_token(
            &NewRequestToken {
                digest: &secret::digest(&key),
                secret_enc: &sealed,
                app_id: verified.app.id,
                callback: supplied,
                expires_at: now + state.settings.oauth1_request_token_ttl,
            },
            now,
        )
        .await?;
    Ok(form_urlencoded::Serializer::new(String::new())
        .append_pair("oauth_token", &key)
        .append_pair("oauth_token_secret", &token_secret)
        .append_pair("oauth_callback_confirmed", "true")
        .finish())
}
