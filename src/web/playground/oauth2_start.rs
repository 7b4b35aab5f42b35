//! `POST /playground/start`: begins the code flow (RFC 6749 §4.1, with PKCE per RFC 7636 when asked
//! or when the client is native) or the implicit flow (§4.2) by sending the browser to
//! `/oauth2/authorize`, and keeps in the flow cookie what the way back needs.

use axum::extract::State;
use axum::response::Response;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::clients::{callback_url, chosen, listed_scope};
use super::flow::{self, Jar};
use super::page::{Posted, choose_a_client, form_error};
use crate::domain::random::alphanumeric;
use crate::state::AppState;
use crate::web::error::PageError;

/// An OAuth2 flow between the start and the way back.
#[derive(Serialize, Deserialize)]
pub(super) struct Flow {
    pub(super) client_id: i64,
    /// The client secret of the user's own app; `None` for the demo app (kept server-side).
    pub(super) secret: Option<String>,
    pub(super) state: String,
    pub(super) verifier: Option<String>,
    pub(super) implicit: bool,
    pub(super) authorize_url: String,
}

impl flow::Flow for Flow {
    const KIND: &'static str = "oauth2";
}

pub(super) fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub(super) async fn start(
    State(state): State<AppState>,
    jar: Jar,
    Posted { viewer, form }: Posted,
) -> Result<Response, PageError> {
    let Some((client, app)) = chosen(&state, &viewer, &form).await? else {
        return choose_a_client(&state, &viewer, &form, "client_id").await;
    };
    let implicit = form.get("flow") == "token";
    let secret = form.get("client_secret").trim();
    if implicit && !app.allow_implicit {
        return form_error(
            &state,
            &viewer,
            &form,
            "client_id",
            "This app does not allow the implicit flow: turn it on in the app's settings.",
        )
        .await;
    }
    if !implicit && client.lacks_secret(secret) {
        return form_error(
            &state,
            &viewer,
            &form,
            "client_secret",
            "Paste your app's client secret: the playground needs it to exchange the code.",
        )
        .await;
    }
    let scope = form.get("scope");
    if !listed_scope(scope) {
        return form_error(
            &state,
            &viewer,
            &form,
            "scope",
            "Choose one of the listed scopes.",
        )
        .await;
    }
    let flow_state = alphanumeric(&*state.random, 24);
    let verifier = (!implicit && (form.checked("pkce") || client.native))
        .then(|| alphanumeric(&*state.random, 64));
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", &app.id.to_string())
        .append_pair("redirect_uri", &callback_url(&state))
        .append_pair("response_type", if implicit { "token" } else { "code" });
    if !scope.is_empty() {
        q.append_pair("scope", scope);
    }
    q.append_pair("state", &flow_state);
    if let Some(v) = &verifier {
        q.append_pair("code_challenge", &challenge(v))
            .append_pair("code_challenge_method", "S256");
    }
    let path = format!("/oauth2/authorize?{}", q.finish());
    let secret = client.secret_to_keep(secret);
    Ok(flow::begin(&state, &viewer, jar, &path, |authorize_url| {
        Flow {
            client_id: app.id,
            secret,
            state: flow_state,
            verifier,
            implicit,
            authorize_url,
        }
    }))
}
