//! The playground's OAuth 1.0a flow (`spec/oauth1.md` §3), acting as the consumer:
//!
//! 1. `POST /playground/oauth1/start` asks for a request token — a signed `POST /oauth1/request`
//!    with `oauth_callback` = `<public URL>/playground/oauth1/callback` — and sends the browser to
//!    `/oauth1/authorize?oauth_token=…`;
//! 2. `GET /playground/oauth1/callback` takes `oauth_token` and `oauth_verifier`, exchanges them in
//!    a signed `POST /oauth1/access`, and calls `GET /wp-json/wp/v2/users/me` signed with the
//!    access token. The result page shows all three exchanges.
//!
//! Which consumers it offers is `clients::consumers`.
//!
//! Secrets: the consumer secret is opened server-side from its sealed column for each signature
//! and never shown (the viewer owns the app and may regenerate it at any time, so signing with it
//! on their behalf reveals nothing; unlike an OAuth2 client secret, which is stored as a digest,
//! it can be opened, so the user is not asked to paste it). The request-token secret travels
//! between the two steps only inside the encrypted, HttpOnly flow cookie (`flow`); every
//! `oauth_token_secret` is masked in the transcript. Signatures use `oauth1::client`, i.e. the
//! server's own base string and HMAC; nonces and timestamps come from the injected random source
//! and clock.

use axum::extract::{RawQuery, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::call::{self, Call, Exchange};
use super::clients::{consumers, oauth1_callback_url, picked};
use super::flow::{self, Jar};
use super::page::{Outcome, Posted, form_error, no_flow, result};
use crate::admin::CONSUMER_SECRET_CONTEXT;
use crate::domain::crypto;
use crate::domain::random::alphanumeric;
use crate::http::params::Params;
use crate::http::peer::Peer;
use crate::oauth1::client::{self, Credentials, Freshness};
use crate::state::AppState;
use crate::store::App;
use crate::web::error::PageError;
use crate::web::page::{self, Viewer};

const NONCE_CHARS: usize = 32;

/// An OAuth1 flow between the request token and the callback, kept in the flow cookie.
#[derive(Serialize, Deserialize)]
struct Flow {
    app_id: i64,
    token: String,
    token_secret: String,
    authorize_url: String,
    /// Step 1's transcript (masked), shown on the result page.
    request: Exchange,
}

impl flow::Flow for Flow {
    const KIND: &'static str = "oauth1";
}

/// The app's consumer key and secret, opened from storage; `None` when the server key changed.
fn consumer(state: &AppState, app: &App) -> Option<(String, String)> {
    let key = app.oauth1_key.clone()?;
    let secret = app
        .oauth1_secret_enc
        .as_deref()
        .and_then(|sealed| crypto::open(&state.key.0, CONSUMER_SECRET_CONTEXT, sealed))
        .and_then(|plain| String::from_utf8(plain).ok());
    if secret.is_none() {
        tracing::error!(
            app_id = app.id,
            "the playground cannot open a consumer secret: was the server key changed?"
        );
    }
    Some((key, secret?))
}

const UNREADABLE: &str = "This app's consumer secret cannot be opened with the server's key (was the key changed?): regenerate it on the app's page.";

/// A call signed as `creds`, with a fresh nonce and the current time.
fn signed(
    state: &AppState,
    title: &str,
    method: Method,
    path: &str,
    creds: &Credentials<'_>,
    extra: &[(&str, &str)],
) -> Call {
    let nonce = alphanumeric(&*state.random, NONCE_CHARS);
    let header = client::authorization_header(
        &state.settings.public_url,
        method.as_str(),
        path,
        &[],
        creds,
        extra,
        &Freshness {
            timestamp: state.now(),
            nonce: &nonce,
        },
    );
    Call {
        title: title.to_owned(),
        method,
        path: path.to_owned(),
        authorization: Some(header),
        form: None,
    }
}

/// `POST /playground/oauth1/start`: gets a request token, then sends the browser to authorize it.
pub(super) async fn start(
    State(state): State<AppState>,
    peer: Peer,
    jar: Jar,
    Posted { viewer, form }: Posted,
) -> Result<Response, PageError> {
    let Some((_, app)) = picked(&form, consumers(&state, &viewer).await?) else {
        return form_error(
            &state,
            &viewer,
            &form,
            "oauth1-client",
            "Choose one of the listed OAuth1 clients.",
        )
        .await;
    };
    let Some((key, secret)) = consumer(&state, &app) else {
        return form_error(&state, &viewer, &form, "oauth1-client", UNREADABLE).await;
    };
    let ours = oauth1_callback_url(&state);
    let creds = Credentials {
        consumer_key: &key,
        consumer_secret: &secret,
        token: None,
    };
    let call = signed(
        &state,
        "Ask for a request token (temporary credentials)",
        Method::POST,
        "/oauth1/request",
        &creds,
        &[("oauth_callback", &ours)],
    );
    let request = call::send(&state, peer, call).await;
    let (Some(token), Some(token_secret)) = (
        request.form_field("oauth_token").map(str::to_owned),
        request.form_field("oauth_token_secret").map(str::to_owned),
    ) else {
        let outcome = Outcome {
            title: "OAuth 1.0a flow: refused",
            summary: "The request-token endpoint refused: see its answer below.".to_owned(),
            browser: Vec::new(),
            token: None,
            exchanges: vec![request],
            client_id: app.id,
        };
        return Ok(page::render(result(&state, &viewer, outcome)));
    };
    let path = format!(
        "/oauth1/authorize?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("oauth_token", &token)
            .finish()
    );
    Ok(flow::begin(&state, &viewer, jar, &path, |authorize_url| {
        Flow {
            app_id: app.id,
            token,
            token_secret,
            authorize_url,
            request,
        }
    }))
}

/// `GET /playground/oauth1/callback`: exchanges the verifier, then calls the REST API.
pub(super) async fn callback(
    State(state): State<AppState>,
    viewer: Viewer,
    peer: Peer,
    jar: Jar,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let raw = query.unwrap_or_default();
    let params = Params::decode(raw.as_bytes())?;
    let get = |name| params.get(name).ok().flatten().filter(|v| !v.is_empty());
    // Every refusal below comes before any call and leaves the flow cookie alone, so a forged
    // address neither spends a request token nor ends the flow in progress.
    let flow: Flow = flow::current(&state, &viewer, &jar).ok_or_else(no_flow)?;
    if get("oauth_token") != Some(flow.token.as_str()) {
        return Err(PageError::invalid_request(
            "The oauth_token in this address is not the request token this browser's flow obtained: the answer was not for this request.",
        ));
    }
    let verifier = match (get("oauth_problem"), get("oauth_verifier")) {
        (Some(problem), _) => Err(problem),
        (None, Some(verifier)) => Ok(verifier),
        (None, None) => {
            return Err(PageError::invalid_request(
                "This address has no oauth_verifier (the authorization server adds one when you approve) and no oauth_problem.",
            ));
        }
    };
    let app = state
        .store
        .app_by_id(flow.app_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let Some((key, secret)) = consumer(&state, &app) else {
        return Err(PageError::invalid_request(UNREADABLE));
    };
    let spent = flow::end(&state);
    let mut browser = vec![
        ("Your browser was sent to", flow.authorize_url.clone()),
        (
            "and came back to",
            format!("{}?{raw}", oauth1_callback_url(&state)),
        ),
    ];
    let mut exchanges = vec![flow.request];
    let (title, summary) = match verifier {
        Err(problem) => (
            "OAuth 1.0a flow: refused",
            format!(
                "The authorization server answered with oauth_problem={problem:?}: the request token is gone, and no access token was issued."
            ),
        ),
        Ok(verifier) => {
            let creds = Credentials {
                consumer_key: &key,
                consumer_secret: &secret,
                token: Some((&flow.token, &flow.token_secret)),
            };
            let call = signed(
                &state,
                "Exchange the verifier for an access token (token credentials)",
                Method::POST,
                "/oauth1/access",
                &creds,
                &[("oauth_verifier", verifier)],
            );
            let access = call::send(&state, peer, call).await;
            let token = access
                .form_field("oauth_token")
                .zip(access.form_field("oauth_token_secret"))
                .map(|(t, s)| (t.to_owned(), s.to_owned()));
            exchanges.push(access);
            match token {
                Some((token, token_secret)) => {
                    let creds = Credentials {
                        token: Some((&token, &token_secret)),
                        ..creds
                    };
                    let call = signed(
                        &state,
                        "Call the REST API as the user (signed with the access token)",
                        Method::GET,
                        "/wp-json/wp/v2/users/me",
                        &creds,
                        &[],
                    );
                    exchanges.push(call::send(&state, peer, call).await);
                    browser.push(("Access token (its secret stays on the server)", token));
                    (
                        "OAuth 1.0a flow",
                        "The verifier was exchanged for an access token, and the REST API accepts requests signed with it.".to_owned(),
                    )
                }
                None => (
                    "OAuth 1.0a flow: refused",
                    "The access endpoint refused the verifier: see its answer below.".to_owned(),
                ),
            }
        }
    };
    let outcome = Outcome {
        title,
        summary,
        browser,
        token: None,
        exchanges,
        client_id: app.id,
    };
    Ok((spent, page::render(result(&state, &viewer, outcome))).into_response())
}
