//! `POST /playground/token`: token-info and `/rest/v1.1/me` for any token the user pastes.

use axum::extract::State;
use axum::response::Response;

use super::call::Exchange;
use super::oauth2::inspect;
use super::page::{Outcome, Posted, form_error, result};
use crate::http::peer::Peer;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::page;

pub(super) async fn inspect_token(
    State(state): State<AppState>,
    peer: Peer,
    Posted { viewer, form }: Posted,
) -> Result<Response, PageError> {
    let token = form.get("token").trim();
    let Ok(client_id) = form.get("client_id").parse::<i64>() else {
        return form_error(
            &state,
            &viewer,
            &form,
            "token-client",
            "Choose the client the token was issued to.",
        )
        .await;
    };
    if token.is_empty() {
        return form_error(&state, &viewer, &form, "token", "Paste an access token.").await;
    }
    let exchanges = inspect(&state, peer, client_id, token).await;
    let summary = if exchanges.iter().all(Exchange::ok) {
        "The token is valid."
    } else {
        "The token was refused: see the answers below."
    };
    let outcome = Outcome {
        title: "Token check",
        summary: summary.to_owned(),
        browser: Vec::new(),
        token: Some(token.to_owned()),
        exchanges,
        client_id,
    };
    Ok(page::render(result(&state, &viewer, outcome)))
}
