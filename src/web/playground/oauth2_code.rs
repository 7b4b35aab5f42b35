//! `GET /playground/callback`: where `/oauth2/authorize` sends the browser back. With a `code`
//! (RFC 6749 §4.1.2) it is exchanged at the token endpoint (§4.1.3, with the PKCE verifier if the
//! flow has one) and the token is tried; with an `error`, the refusal is shown. With neither, this
//! is the implicit flow coming back, whose answer is in the fragment (`oauth2_implicit`). When the
//! flow cookie holds an OAuth 2.1 flow, `oauth21` handles the way back.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};

use super::clients::callback_url;
use super::flow::{self, Jar};
use super::oauth2::{token_request, with_checks};
use super::oauth2_implicit;
use super::oauth2_start::Flow;
use super::oauth21;
use super::page::{Outcome, no_flow, result};
use crate::http::params::Params;
use crate::http::peer::Peer;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::page::{self, Viewer};

pub(super) async fn callback(
    State(state): State<AppState>,
    viewer: Viewer,
    peer: Peer,
    jar: Jar,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let raw = query.unwrap_or_default();
    let params = Params::decode(raw.as_bytes())?;
    let get = |name| params.get(name).ok().flatten();
    if get("code").is_none() && get("error").is_none() {
        // The implicit flow's answer is in the fragment, which never reaches the server.
        return Ok(oauth2_implicit::explain(&state, &viewer));
    }
    if let Some(flow) = oauth21::current(&state, &viewer, &jar) {
        return oauth21::callback(&state, &viewer, peer, jar, flow, &params, &raw).await;
    }
    let flow: Flow = flow::current(&state, &viewer, &jar).ok_or_else(no_flow)?;
    if get("state") != Some(flow.state.as_str()) {
        return Err(PageError::invalid_request(
            "The state parameter does not match the flow this browser started: the response was not for this request.",
        ));
    }
    let spent = flow::end(&state);
    let app = state
        .store
        .app_by_id(flow.client_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let browser = vec![
        ("Your browser was sent to", flow.authorize_url.clone()),
        (
            "and came back to",
            format!("{}?{raw}", callback_url(&state)),
        ),
    ];
    if let Some(error) = get("error") {
        let summary = format!(
            "The authorization server answered with error {error:?}: {}",
            get("error_description").unwrap_or("")
        );
        let outcome = Outcome {
            title: "Code flow: refused",
            summary,
            browser,
            token: None,
            exchanges: Vec::new(),
            client_id: app.id,
        };
        return Ok((spent, page::render(result(&state, &viewer, outcome))).into_response());
    }
    let mut grant = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", get("code").unwrap_or("").to_owned()),
        ("redirect_uri", callback_url(&state)),
    ];
    if let Some(v) = &flow.verifier {
        grant.push(("code_verifier", v.clone()));
    }
    let exchange = token_request(
        &state,
        peer,
        "/oauth2/token",
        &app,
        flow.secret.as_deref(),
        "Exchange the code for a token",
        grant,
    )
    .await?;
    let (token, exchanges) = with_checks(&state, peer, app.id, exchange).await;
    let summary = if token.is_some() {
        "The code was exchanged for an access token; token-info and the REST API accept it."
    } else {
        "The token endpoint refused the code: see its answer below."
    };
    let outcome = Outcome {
        title: "Code flow",
        summary: summary.to_owned(),
        browser,
        token,
        exchanges,
        client_id: app.id,
    };
    Ok((spent, page::render(result(&state, &viewer, outcome))).into_response())
}
