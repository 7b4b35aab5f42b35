//! The OAuth 2.1 / OpenID Connect code flow (oauth21.md §2, §3, §6) as a client runs it:
//!
//! - `POST /playground/oauth21/start` sends the browser to `/oauth2-1/authorize` with PKCE S256
//!   (always: 2.1 requires it), `openid` (plus `profile`, `email`, `offline_access` as ticked), a
//!   `state` and a `nonce`, all kept in the flow cookie;
//! - the way back is `/playground/callback`, shared with the legacy code flow (the redirect URI apps
//!   already register): when the flow cookie holds a 2.1 flow, [`callback`] takes over. It checks
//!   `state` and `iss` (RFC 9207), exchanges the code at `/oauth2-1/token`, fetches the JWKS and
//!   verifies the ID token (`id_token`), then calls UserInfo and `/rest/v1.1/me`;
//! - `POST /playground/oauth21/refresh` redeems the refresh token, shows the new pair, and
//!   introspects the old refresh token to show it is no longer active (rotation, §3). Introspection
//!   is not a use, so this does not set off reuse detection.
//!
//! Between the callback and a refresh the flow cookie holds the client, its pasted secret (if any)
//! and the current refresh token, encrypted and HttpOnly like every flow cookie, for the same 15
//! minutes; each refresh keeps the new refresh token in it. The page shows the tokens, as the
//! legacy flows show theirs: the playground is the user's own client, in their own session.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::call::{self, Call, Exchange};
use super::clients::{callback_url, chosen, listed_scope};
use super::flow::{self, Jar};
use super::id_token::{self, Expected, IdTokenView};
use super::oauth2::token_request;
use super::oauth2_start::challenge;
use super::page::{CSRF, Outcome, Posted, choose_a_client, form_error, no_flow};
use crate::domain::random::alphanumeric;
use crate::http::params::Params;
use crate::http::peer::Peer;
use crate::state::AppState;
use crate::store::App;
use crate::web::error::PageError;
use crate::web::page::{self, Nav, Viewer};
use crate::web::session;

const TOKEN: &str = "/oauth2-1/token";

/// A 2.1 code flow between the start and the way back.
#[derive(Serialize, Deserialize)]
pub(super) struct Flow21 {
    client_id: i64,
    /// The client secret of the user's own app; `None` for the demo app and native apps.
    secret: Option<String>,
    state: String,
    verifier: String,
    nonce: String,
    authorize_url: String,
}

impl flow::Flow for Flow21 {
    const KIND: &'static str = "oauth21";
}

/// What a refresh needs after the code flow came back.
#[derive(Serialize, Deserialize)]
struct Refresh21 {
    client_id: i64,
    secret: Option<String>,
    refresh_token: String,
}

impl flow::Flow for Refresh21 {
    const KIND: &'static str = "oauth21-refresh";
}

/// The refresh token the page shows, with the one it replaced after a rotation.
pub(crate) struct RefreshView {
    pub token: String,
    pub replaced: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "playground_result21.html")]
struct Result21Page {
    nav: Nav,
    outcome: Outcome,
    csrf: String,
    id_token: Option<IdTokenView>,
    refresh: Option<RefreshView>,
}

/// The OIDC scopes a user may tick besides `openid`.
const OPTIONAL: [&str; 3] = ["profile", "email", "offline_access"];

pub(super) async fn start(
    State(state): State<AppState>,
    jar: Jar,
    Posted { viewer, form }: Posted,
) -> Result<Response, PageError> {
    let Some((client, app)) = chosen(&state, &viewer, &form).await? else {
        return choose_a_client(&state, &viewer, &form, "oauth21-client").await;
    };
    let secret = form.get("client_secret").trim();
    if client.lacks_secret(secret) {
        let why = "Paste your app's client secret: the playground needs it to exchange the code.";
        return form_error(&state, &viewer, &form, "oauth21-secret", why).await;
    }
    let base = form.get("scope");
    if !listed_scope(base) {
        let why = "Choose one of the listed scopes.";
        return form_error(&state, &viewer, &form, "oauth21-scope", why).await;
    }
    let mut scope: Vec<&str> = vec![base, "openid"];
    scope.extend(OPTIONAL.iter().filter(|s| form.checked(s)));
    let scope = scope.join(" ").trim().to_owned();
    let flow_state = alphanumeric(&*state.random, 24);
    let verifier = alphanumeric(&*state.random, 64);
    let nonce = alphanumeric(&*state.random, 24);
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &app.id.to_string())
        .append_pair("redirect_uri", &callback_url(&state))
        .append_pair("response_type", "code")
        .append_pair("scope", &scope)
        .append_pair("state", &flow_state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge(&verifier))
        .append_pair("code_challenge_method", "S256")
        .finish();
    let path = format!("/oauth2-1/authorize?{query}");
    let secret = client.secret_to_keep(secret);
    Ok(flow::begin(&state, &viewer, jar, &path, |authorize_url| {
        Flow21 {
            client_id: app.id,
            secret,
            state: flow_state,
            verifier,
            nonce,
            authorize_url,
        }
    }))
}

/// The 2.1 flow in the cookie, if that is the flow this browser started.
pub(super) fn current(state: &AppState, viewer: &Viewer, jar: &Jar) -> Option<Flow21> {
    flow::current(state, viewer, jar)
}

async fn flow_app(state: &AppState, client_id: i64) -> Result<App, PageError> {
    state
        .store
        .app_by_id(client_id)
        .await?
        .ok_or(PageError::NotFound)
}

fn result_page(
    state: &AppState,
    viewer: &Viewer,
    outcome: Outcome,
    id_token: Option<IdTokenView>,
    refresh: Option<RefreshView>,
) -> Result21Page {
    Result21Page {
        nav: Nav::new(state, viewer, "playground"),
        outcome,
        csrf: session::csrf_token(state, &viewer.0, CSRF),
        id_token,
        refresh,
    }
}

/// The JWKS, fetched as a relying party fetches it, then the ID token checked against it.
async fn verify_id_token(
    state: &AppState,
    peer: Peer,
    app: &App,
    answer: &Exchange,
    nonce: Option<&str>,
) -> (Option<IdTokenView>, Option<Exchange>) {
    let Some(token) = answer.field("id_token") else {
        return (None, None);
    };
    let jwks = get(
        state,
        peer,
        "Fetch the signing keys (JWKS)",
        "/.well-known/jwks.json",
        None,
    )
    .await;
    let issuer = state.settings.issuer();
    let client_id = app.id.to_string();
    let expected = Expected {
        issuer,
        client_id: &client_id,
        nonce,
        access_token: answer.field("access_token"),
        now: state.now(),
    };
    let view = id_token::check(token, jwks.json.as_ref(), &expected);
    (Some(view), Some(jwks))
}

async fn get(
    state: &AppState,
    peer: Peer,
    title: &str,
    path: &str,
    bearer: Option<&str>,
) -> Exchange {
    let call = Call {
        title: title.to_owned(),
        method: Method::GET,
        path: path.to_owned(),
        authorization: bearer.map(|t| format!("Bearer {t}")),
        form: None,
    };
    call::send(state, peer, call).await
}

/// UserInfo (when the token holds `openid`) and `/rest/v1.1/me` with the new access token.
async fn use_token(state: &AppState, peer: Peer, answer: &Exchange) -> Vec<Exchange> {
    let Some(token) = answer.field("access_token") else {
        return Vec::new();
    };
    let mut calls = Vec::new();
    let scope = answer.field("scope").unwrap_or("");
    if scope.split(' ').any(|s| s == "openid") {
        let title = "Read the user's claims (UserInfo)";
        calls.push(get(state, peer, title, "/oauth2-1/userinfo", Some(token)).await);
    }
    let title = "Call the REST API as the user";
    calls.push(get(state, peer, title, "/rest/v1.1/me", Some(token)).await);
    calls
}

/// The way back of a 2.1 flow (see the module's documentation); `raw` is the callback's query.
pub(super) async fn callback(
    state: &AppState,
    viewer: &Viewer,
    peer: Peer,
    jar: Jar,
    flow: Flow21,
    params: &Params,
    raw: &str,
) -> Result<Response, PageError> {
    let get_param = |name| params.get(name).ok().flatten();
    if get_param("state") != Some(flow.state.as_str()) {
        return Err(PageError::invalid_request(
            "The state parameter does not match the flow this browser started: the response was not for this request.",
        ));
    }
    let spent = flow::end(state);
    let app = flow_app(state, flow.client_id).await?;
    let browser = vec![
        ("Your browser was sent to", flow.authorize_url.clone()),
        ("and came back to", format!("{}?{raw}", callback_url(state))),
    ];
    let outcome = |title, summary: String, exchanges| Outcome {
        title,
        summary,
        browser: browser.clone(),
        token: None,
        exchanges,
        client_id: app.id,
    };
    // RFC 9207: the response names its issuer; a client refuses one from another server.
    let issuer = state.settings.issuer();
    if get_param("iss") != Some(issuer) {
        let summary = format!(
            "The response's iss is {:?}, not this server's issuer {issuer:?}: a client must not use it (RFC 9207).",
            get_param("iss").unwrap_or("")
        );
        let outcome = outcome("OAuth 2.1: refused", summary, Vec::new());
        let page = result_page(state, viewer, outcome, None, None);
        return Ok((spent, page::render(page)).into_response());
    }
    if let Some(error) = get_param("error") {
        let summary = format!(
            "The authorization server answered with error {error:?}: {}",
            get_param("error_description").unwrap_or("")
        );
        let outcome = outcome("OAuth 2.1: refused", summary, Vec::new());
        let page = result_page(state, viewer, outcome, None, None);
        return Ok((spent, page::render(page)).into_response());
    }
    let grant = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", get_param("code").unwrap_or("").to_owned()),
        ("redirect_uri", callback_url(state)),
        ("code_verifier", flow.verifier.clone()),
    ];
    let title = "Exchange the code for tokens (with the PKCE verifier)";
    let answer = token_request(
        state,
        peer,
        TOKEN,
        &app,
        flow.secret.as_deref(),
        title,
        grant,
    )
    .await?;
    let (id_token, jwks) = verify_id_token(state, peer, &app, &answer, Some(&flow.nonce)).await;
    let token = answer.field("access_token").map(str::to_owned);
    let refresh = answer.field("refresh_token").map(|t| RefreshView {
        token: t.to_owned(),
        replaced: None,
    });
    let summary = match (&token, &id_token, &refresh) {
        (None, ..) => "The token endpoint refused the code: see its answer below.".to_owned(),
        (Some(_), Some(v), r) => format!(
            "The code was exchanged for an access token{}; {}",
            if r.is_some() {
                ", a refresh token and an ID token"
            } else {
                " and an ID token"
            },
            if v.verified {
                "the ID token's signature verifies against the JWKS."
            } else {
                "the ID token did NOT verify: see below."
            }
        ),
        (Some(_), None, _) => {
            "The code was exchanged for an access token, but no ID token came with it.".to_owned()
        }
    };
    let mut exchanges = vec![];
    let used = use_token(state, peer, &answer).await;
    exchanges.push(answer);
    exchanges.extend(jwks);
    exchanges.extend(used);
    let mut outcome = outcome("OAuth 2.1 code flow", summary, exchanges);
    outcome.token = token;
    // The cookie now carries what a refresh needs (or ends, when there is nothing to refresh).
    let kept = refresh.as_ref().map(|r| Refresh21 {
        client_id: app.id,
        secret: flow.secret.clone(),
        refresh_token: r.token.clone(),
    });
    let page = page::render(result_page(state, viewer, outcome, id_token, refresh));
    Ok(match kept {
        Some(kept) => (flow::keep(state, viewer, jar, kept), page).into_response(),
        None => (spent, page).into_response(),
    })
}

/// `POST /playground/oauth21/refresh`: rotates the refresh token the last 2.1 flow obtained.
pub(super) async fn refresh(
    State(state): State<AppState>,
    peer: Peer,
    jar: Jar,
    Posted { viewer, form: _ }: Posted,
) -> Result<Response, PageError> {
    let kept: Refresh21 = flow::current(&state, &viewer, &jar).ok_or_else(no_flow)?;
    let app = flow_app(&state, kept.client_id).await?;
    let old = kept.refresh_token;
    let grant = vec![
        ("grant_type", "refresh_token".to_owned()),
        ("refresh_token", old.clone()),
    ];
    let title = "Redeem the refresh token";
    let answer = token_request(
        &state,
        peer,
        TOKEN,
        &app,
        kept.secret.as_deref(),
        title,
        grant,
    )
    .await?;
    let new = answer.field("refresh_token").map(str::to_owned);
    let (id_token, jwks) = verify_id_token(&state, peer, &app, &answer, None).await;
    let token = answer.field("access_token").map(str::to_owned);
    let used = use_token(&state, peer, &answer).await;
    let mut exchanges = vec![answer];
    exchanges.extend(jwks);
    if new.is_some() {
        let introspect = vec![
            ("token", old.clone()),
            ("token_type_hint", "refresh_token".to_owned()),
        ];
        let title = "Introspect the old refresh token: rotated, it is no longer active";
        let endpoint = "/oauth2-1/token-info";
        exchanges.push(
            token_request(
                &state,
                peer,
                endpoint,
                &app,
                kept.secret.as_deref(),
                title,
                introspect,
            )
            .await?,
        );
    }
    exchanges.extend(used);
    let summary = match &new {
        Some(_) => "The refresh token was rotated: the answer carries a new access token and a new refresh token, and the old refresh token is no longer active.".to_owned(),
        None => "The token endpoint refused the refresh token: see its answer below.".to_owned(),
    };
    let outcome = Outcome {
        title: "OAuth 2.1: refresh",
        summary,
        browser: Vec::new(),
        token,
        exchanges,
        client_id: app.id,
    };
    let refresh = new.as_ref().map(|t| RefreshView {
        token: t.clone(),
        replaced: Some(old),
    });
    let page = page::render(result_page(&state, &viewer, outcome, id_token, refresh));
    Ok(match new {
        Some(refresh_token) => {
            let kept = Refresh21 {
                client_id: app.id,
                secret: kept.secret,
                refresh_token,
            };
            (flow::keep(&state, &viewer, jar, kept), page).into_response()
        }
        // Refused: the family may be revoked; nothing is left to refresh.
        None => (flow::end(&state), page).into_response(),
    })
}
