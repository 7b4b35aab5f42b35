//! `POST /playground/password`: the password grant (RFC 6749 §4.3), which this server grants only
//! to the app's owner (oauth2.md §4); the password is masked in the transcript.

use axum::extract::State;
use axum::response::Response;

use super::clients::chosen;
use super::oauth2::{token_request, with_checks};
use super::page::{Outcome, Posted, choose_a_client, form_error, result};
use crate::http::peer::Peer;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::page;

pub(super) async fn password(
    State(state): State<AppState>,
    peer: Peer,
    Posted { viewer, form }: Posted,
) -> Result<Response, PageError> {
    let Some((client, app)) = chosen(&state, &viewer, &form).await? else {
        return choose_a_client(&state, &viewer, &form, "password-client").await;
    };
    let secret = form.get("client_secret").trim();
    if !client.demo && secret.is_empty() {
        return form_error(
            &state,
            &viewer,
            &form,
            "password-secret",
            "Paste your app's client secret.",
        )
        .await;
    }
    let grant = vec![
        ("grant_type", "password".to_owned()),
        ("username", form.get("username").to_owned()),
        ("password", form.get("password").to_owned()),
    ];
    let flow_secret = (!client.demo).then_some(secret);
    let exchange = token_request(
        &state,
        peer,
        "/oauth2/token",
        &app,
        flow_secret,
        "Ask for a token with a username and password",
        grant,
    )
    .await?;
    let (token, exchanges) = with_checks(&state, peer, app.id, exchange).await;
    let summary = if token.is_some() {
        "The password grant issued a token."
    } else {
        "The token endpoint refused: see its answer below. The password grant works only for the app's owner."
    };
    let outcome = Outcome {
        title: "Password grant",
        summary: summary.to_owned(),
        browser: Vec::new(),
        token,
        exchanges,
        client_id: app.id,
    };
    Ok(page::render(result(&state, &viewer, outcome)))
}
