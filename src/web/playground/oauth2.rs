//! The OAuth2 calls that several flows make: the token endpoint as the chosen client (with the
//! secret the user pasted, or the demo app's kept on the server), and token-info and
//! `/rest/v1.1/me` for the token a flow obtained.

use axum::http::Method;

use super::call::{self, Call, Exchange};
use super::clients::admin_failure;
use crate::http::peer::Peer;
use crate::state::AppState;
use crate::store::App;
use crate::web::error::PageError;

/// The client secret to use for `app`: the user's, or the demo app's kept in memory.
async fn client_secret(
    state: &AppState,
    app: &App,
    flow_secret: Option<&str>,
) -> Result<Option<String>, PageError> {
    if let Some(s) = flow_secret {
        return Ok(Some(s.to_owned()));
    }
    match crate::demo::demo_app(state).await.map_err(admin_failure)? {
        Some(demo) if demo.id == app.id => Ok(Some(
            crate::demo::demo_secret(state, &demo)
                .await
                .map_err(admin_failure)?,
        )),
        _ => Ok(None),
    }
}

/// Calls a token endpoint (`/oauth2/token` or `/oauth2-1/token`); for the demo app, a stale secret
/// (reset elsewhere) is replaced once.
pub(super) async fn token_request(
    state: &AppState,
    peer: Peer,
    endpoint: &str,
    app: &App,
    flow_secret: Option<&str>,
    title: &str,
    grant: Vec<(&'static str, String)>,
) -> Result<Exchange, PageError> {
    let mut retried = false;
    loop {
        let secret = client_secret(state, app, flow_secret).await?;
        let mut form = vec![("client_id", app.id.to_string())];
        if let Some(s) = secret {
            form.push(("client_secret", s));
        }
        form.extend(grant.iter().cloned());
        let exchange = call::send(
            state,
            peer,
            Call {
                title: title.to_owned(),
                method: Method::POST,
                path: endpoint.to_owned(),
                authorization: None,
                form: Some(form),
            },
        )
        .await;
        if exchange.field("error") == Some("invalid_client") && flow_secret.is_none() && !retried {
            state.playground.forget(app.id);
            retried = true;
            continue;
        }
        return Ok(exchange);
    }
}

/// The token endpoint's answer, then token-info and `/rest/v1.1/me` for the token it issued, if
/// it issued one.
pub(super) async fn with_checks(
    state: &AppState,
    peer: Peer,
    client_id: i64,
    answer: Exchange,
) -> (Option<String>, Vec<Exchange>) {
    let token = answer.field("access_token").map(str::to_owned);
    let mut exchanges = vec![answer];
    if let Some(t) = &token {
        exchanges.extend(inspect(state, peer, client_id, t).await);
    }
    (token, exchanges)
}

/// token-info and `/rest/v1.1/me` for a token.
pub(super) async fn inspect(
    state: &AppState,
    peer: Peer,
    client_id: i64,
    token: &str,
) -> Vec<Exchange> {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &client_id.to_string())
        .append_pair("token", token)
        .finish();
    let info = call::send(
        state,
        peer,
        Call {
            title: "Validate the token (token-info)".into(),
            method: Method::GET,
            path: format!("/oauth2/token-info?{query}"),
            authorization: None,
            form: None,
        },
    )
    .await;
    let me = call::send(
        state,
        peer,
        Call {
            title: "Call the REST API as the user".into(),
            method: Method::GET,
            path: "/rest/v1.1/me".into(),
            authorization: Some(format!("Bearer {token}")),
            form: None,
        },
    )
    .await;
    vec![info, me]
}
