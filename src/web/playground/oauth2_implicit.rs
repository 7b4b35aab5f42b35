//! The implicit flow's way back (RFC 6749 §4.2.2). Its token comes in the URL fragment, which a
//! browser never sends to a server, and this site runs no script (its CSP forbids inline script).
//! So the callback page explains that and asks the user to paste the address from the address bar;
//! `POST /playground/implicit` reads the fragment from the pasted text and tries the token.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::flow::{self, Jar};
use super::oauth2::inspect;
use super::oauth2_start::Flow;
use super::page::{CSRF, Outcome, no_flow, posted, result};
use crate::http::peer::Peer;
use crate::oauth2::params::Params;
use crate::state::AppState;
use crate::web::error::PageError;
use crate::web::page::{self, Nav, Viewer};
use crate::web::session;

#[derive(Template, WebTemplate)]
#[template(path = "playground_implicit.html")]
struct ImplicitPage {
    nav: Nav,
    csrf: String,
    error: Option<&'static str>,
}

fn implicit_page(state: &AppState, viewer: &Viewer, error: Option<&'static str>) -> ImplicitPage {
    ImplicitPage {
        nav: Nav::new(state, viewer, "playground"),
        csrf: session::csrf_token(state, &viewer.0, CSRF),
        error,
    }
}

/// The callback page the implicit flow lands on: what happened, and where to paste the address.
pub(super) fn explain(state: &AppState, viewer: &Viewer) -> Response {
    page::render(implicit_page(state, viewer, None))
}

pub(super) async fn implicit(
    State(state): State<AppState>,
    viewer: Viewer,
    peer: Peer,
    jar: Jar,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    // The pasted address is free text (a paste may end in a line break).
    let form = posted(&state, &viewer, &body, &["address"])?;
    let pasted = form.get("address").trim();
    let fragment = pasted.split_once('#').map(|(_, f)| f).unwrap_or(pasted);
    let params = Params::decode(fragment.as_bytes())?;
    let get = |name| params.get(name).ok().flatten();
    let again = |error| {
        page::render_with(
            StatusCode::BAD_REQUEST,
            implicit_page(&state, &viewer, Some(error)),
        )
    };
    if get("access_token").is_none() && get("error").is_none() {
        return Ok(again(
            "That address has no access_token (or error) after its #. Copy the whole address from the address bar.",
        ));
    }
    let flow = flow::current::<Flow>(&state, &viewer, &jar)
        .filter(|f| f.implicit)
        .ok_or_else(no_flow)?;
    if get("state") != Some(flow.state.as_str()) {
        return Ok(again(
            "The state in that address does not match the flow this browser started.",
        ));
    }
    let spent = flow::end(&state);
    let browser = vec![
        ("Your browser was sent to", flow.authorize_url.clone()),
        ("and came back to (you pasted)", pasted.to_owned()),
    ];
    let (summary, token, exchanges) = match get("access_token") {
        Some(t) => (
            format!(
                "The token came in the fragment (expires in {} seconds, no refresh token); token-info and the REST API accept it.",
                get("expires_in").unwrap_or("?")
            ),
            Some(t.to_owned()),
            inspect(&state, peer, flow.client_id, t).await,
        ),
        None => (
            format!(
                "The authorization server answered with error {:?}: {}",
                get("error").unwrap_or(""),
                get("error_description").unwrap_or("")
            ),
            None,
            Vec::new(),
        ),
    };
    let outcome = Outcome {
        title: "Implicit flow",
        summary,
        browser,
        token,
        exchanges,
        client_id: flow.client_id,
    };
    Ok((spent, page::render(result(&state, &viewer, outcome))).into_response())
}
