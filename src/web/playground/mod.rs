//! The playground (`/playground`): a built-in demo client that runs, against this very server, the
//! code flow (with PKCE), the implicit flow, the password grant, token-info and `/rest/v1.1/me`,
//! and the OAuth 1.0a flow (`oauth1`), and shows each request and response (see `call` for how the
//! calls are made).
//!
//! It acts as the demo app seeded by `serve --demo` (whose secret it keeps server-side, see
//! `demo::PlaygroundClient`) or as one of the user's own apps that registers
//! `<public URL>/playground/callback`; for those, the user pastes the client secret, which travels
//! only inside an encrypted, HttpOnly cookie for the length of the flow.
//!
//! The implicit flow returns its token in the URL fragment, which a browser never sends to a
//! server, and this site runs no script (its CSP forbids inline script). So the callback page
//! explains that and asks the user to paste the address from the address bar; the server reads the
//! fragment from the pasted text.

mod call;
pub mod oauth1;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use self::call::{Call, Exchange};
use super::error::PageError;
use super::page::{self, FieldError, Form, Nav, Viewer};
use super::session;
use crate::domain::crypto::{self, PLAYGROUND_FLOW_CONTEXT as FLOW_CONTEXT};
use crate::domain::random::alphanumeric;
use crate::http::params::Params;
use crate::http::peer::Peer;
use crate::state::AppState;
use crate::store::App;

const FLOW_TTL: i64 = 900;
const CSRF: &str = "playground";

fn cookie_name(state: &AppState) -> &'static str {
    if state.settings.is_https() {
        "__Host-latchkey_playground"
    } else {
        "latchkey_playground"
    }
}

/// A flow in progress, sealed into a cookie between the start and the callback.
#[derive(Serialize, Deserialize)]
struct Flow {
    user_id: i64,
    client_id: i64,
    /// The client secret of the user's own app; `None` for the demo app (kept server-side).
    secret: Option<String>,
    state: String,
    verifier: Option<String>,
    implicit: bool,
    authorize_url: String,
    started: i64,
}

/// A client the playground can act as, for the select box.
pub struct ClientChoice {
    pub id: i64,
    pub label: String,
    pub demo: bool,
    pub native: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "playground.html")]
struct PlaygroundPage {
    nav: Nav,
    clients: Vec<ClientChoice>,
    callback: String,
    /// The apps the OAuth1 flow can act as, and the callback they must register.
    consumers: Vec<ClientChoice>,
    oauth1_callback: String,
    has_sites: bool,
    csrf: String,
    error: FieldError,
    /// What the user typed, kept when a form comes back with an error.
    client_id: String,
    username: String,
    token: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "playground_result.html")]
struct ResultPage {
    nav: Nav,
    title: &'static str,
    summary: String,
    browser: Vec<(&'static str, String)>,
    token: Option<String>,
    exchanges: Vec<Exchange>,
    client_id: i64,
    csrf: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "playground_implicit.html")]
struct ImplicitPage {
    nav: Nav,
    csrf: String,
    error: Option<&'static str>,
}

fn callback_url(state: &AppState) -> String {
    format!("{}/playground/callback", state.settings.base_url())
}

/// The demo app and the viewer's apps that can come back to the playground.
async fn clients(state: &AppState, viewer: &Viewer) -> Result<Vec<(ClientChoice, App)>, PageError> {
    let callback = callback_url(state);
    let mut out = Vec::new();
    if let Some(app) = crate::demo::demo_app(state).await.map_err(admin_failure)? {
        out.push((
            ClientChoice {
                id: app.id,
                label: format!("{} — built-in demo client ({})", app.name, app.id),
                demo: true,
                native: false,
            },
            app,
        ));
    }
    for app in state.store.list_apps(Some(viewer.0.user.id)).await? {
        if out.iter().any(|(c, _)| c.id == app.id) || !app.redirect_uri_list().contains(&callback) {
            continue;
        }
        out.push((
            ClientChoice {
                id: app.id,
                label: format!("{} — your app ({})", app.name, app.id),
                demo: false,
                native: app.is_native(),
            },
            app,
        ));
    }
    Ok(out)
}

fn admin_failure(e: crate::admin::AdminError) -> PageError {
    match e {
        crate::admin::AdminError::Store(e) => e.into(),
        other => PageError::invalid_request(other.to_string()),
    }
}

async fn playground_page(
    state: &AppState,
    viewer: &Viewer,
    error: FieldError,
    form: Option<&Form>,
) -> Result<PlaygroundPage, PageError> {
    let clients = clients(state, viewer)
        .await?
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    let consumers = oauth1::consumers(state, viewer)
        .await?
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    let has_sites = !state
        .store
        .administered_sites(viewer.0.user.id)
        .await?
        .is_empty();
    Ok(PlaygroundPage {
        nav: Nav::new(state, viewer, "playground"),
        clients,
        callback: callback_url(state),
        consumers,
        oauth1_callback: oauth1::callback_url(state),
        has_sites,
        csrf: session::csrf_token(state, &viewer.0, CSRF),
        error,
        client_id: form
            .map(|f| f.get("client_id").to_owned())
            .unwrap_or_default(),
        username: form
            .map(|f| f.get("username").to_owned())
            .unwrap_or_default(),
        token: form.map(|f| f.get("token").to_owned()).unwrap_or_default(),
    })
}

pub async fn index(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let page = playground_page(&state, &viewer, FieldError::default(), None).await?;
    Ok(page::render(page))
}

async fn form_error(
    state: &AppState,
    viewer: &Viewer,
    form: &Form,
    field: &'static str,
    message: &str,
) -> Result<Response, PageError> {
    let page = playground_page(state, viewer, FieldError::new(field, message), Some(form)).await?;
    Ok(page::render_with(StatusCode::BAD_REQUEST, page))
}

/// The client chosen in a form: one the viewer may use here.
async fn chosen(
    state: &AppState,
    viewer: &Viewer,
    form: &Form,
) -> Result<Option<(ClientChoice, App)>, PageError> {
    let Ok(id) = form.get("client_id").parse::<i64>() else {
        return Ok(None);
    };
    Ok(clients(state, viewer)
        .await?
        .into_iter()
        .find(|(c, _)| c.id == id))
}

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `POST /playground/start`: begins the code or implicit flow by sending the browser to
/// `/oauth2/authorize`.
pub async fn start(
    State(state): State<AppState>,
    viewer: Viewer,
    jar: CookieJar,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body)?;
    session::verify_csrf(&state, &viewer.0, CSRF, form.csrf())?;
    let Some((client, app)) = chosen(&state, &viewer, &form).await? else {
        return form_error(
            &state,
            &viewer,
            &form,
            "client_id",
            "Choose one of the listed clients.",
        )
        .await;
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
    if !implicit && !client.demo && !client.native && secret.is_empty() {
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
    if !["", "global", "auth"].contains(&scope) {
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
    let flow = Flow {
        user_id: viewer.0.user.id,
        client_id: app.id,
        secret: (!client.demo && !secret.is_empty()).then(|| secret.to_owned()),
        state: flow_state,
        verifier,
        implicit,
        authorize_url: format!("{}{path}", state.settings.base_url()),
        started: state.now(),
    };
    let jar = seal_cookie(&state, jar, FLOW_CONTEXT, &flow);
    Ok((jar, Redirect::to(&path)).into_response())
}

/// Seals `flow` (encrypted and authenticated, under `context`) into the playground's cookie. One
/// flow at a time per browser: starting another replaces it.
fn seal_cookie<T: Serialize>(
    state: &AppState,
    jar: CookieJar,
    context: &str,
    flow: &T,
) -> CookieJar {
    let sealed = crypto::seal(
        &state.key.0,
        context,
        &serde_json::to_vec(flow).unwrap_or_default(),
        &*state.random,
    );
    let value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed);
    jar.add(session::cookie(
        state,
        cookie_name(state),
        value,
        Some(FLOW_TTL),
    ))
}

/// What the playground's cookie holds, if it is present, intact and was sealed under `context`
/// (so an OAuth2 flow is never read as an OAuth1 one).
fn open_cookie<T: DeserializeOwned>(state: &AppState, jar: &CookieJar, context: &str) -> Option<T> {
    let raw = jar.get(cookie_name(state))?;
    let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw.value())
        .ok()?;
    let plain = crypto::open(&state.key.0, context, &sealed)?;
    serde_json::from_slice(&plain).ok()
}

/// Whether a flow begun by `user_id` at `started` may go on for this viewer.
fn is_current(state: &AppState, viewer: &Viewer, user_id: i64, started: i64) -> bool {
    user_id == viewer.0.user.id && state.now() - started <= FLOW_TTL
}

/// The flow in progress for this viewer, if its cookie is present, intact, theirs and fresh.
fn flow(state: &AppState, viewer: &Viewer, jar: &CookieJar) -> Option<Flow> {
    let flow: Flow = open_cookie(state, jar, FLOW_CONTEXT)?;
    is_current(state, viewer, flow.user_id, flow.started).then_some(flow)
}

fn no_flow() -> PageError {
    PageError::invalid_request(
        "No playground flow is in progress in this browser (or it is more than 15 minutes old). Start again from the playground.",
    )
}

fn clear(state: &AppState, jar: CookieJar) -> CookieJar {
    jar.add(session::cookie(
        state,
        cookie_name(state),
        String::new(),
        Some(0),
    ))
}

/// The client secret to use for `client_id`: the user's, or the demo app's kept in memory.
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

/// Calls the token endpoint; for the demo app, a stale secret (reset elsewhere) is replaced once.
async fn token_request(
    state: &AppState,
    peer: Peer,
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
                path: "/oauth2/token".into(),
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

/// token-info and `/rest/v1.1/me` for a token.
async fn inspect(state: &AppState, peer: Peer, client_id: i64, token: &str) -> Vec<Exchange> {
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

#[allow(clippy::too_many_arguments)]
fn result(
    state: &AppState,
    viewer: &Viewer,
    title: &'static str,
    summary: String,
    browser: Vec<(&'static str, String)>,
    token: Option<String>,
    exchanges: Vec<Exchange>,
    client_id: i64,
) -> ResultPage {
    ResultPage {
        nav: Nav::new(state, viewer, "playground"),
        title,
        summary,
        browser,
        token,
        exchanges,
        client_id,
        csrf: session::csrf_token(state, &viewer.0, CSRF),
    }
}

/// `GET /playground/callback`: where the authorization server sends the browser back.
pub async fn callback(
    State(state): State<AppState>,
    viewer: Viewer,
    peer: Peer,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let raw = query.unwrap_or_default();
    let params = Params::decode(raw.as_bytes())?;
    let get = |name| params.get(name).ok().flatten();
    if get("code").is_none() && get("error").is_none() {
        // The implicit flow's answer is in the fragment, which never reaches the server.
        return Ok(page::render(ImplicitPage {
            nav: Nav::new(&state, &viewer, "playground"),
            csrf: session::csrf_token(&state, &viewer.0, CSRF),
            error: None,
        }));
    }
    let flow = flow(&state, &viewer, &jar).ok_or_else(no_flow)?;
    if get("state") != Some(flow.state.as_str()) {
        return Err(PageError::invalid_request(
            "The state parameter does not match the flow this browser started: the response was not for this request.",
        ));
    }
    let jar = clear(&state, jar);
    let app = state
        .store
        .app_by_id(flow.client_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let back = format!("{}{}?{raw}", callback_url(&state), "");
    let browser = vec![
        ("Your browser was sent to", flow.authorize_url.clone()),
        ("and came back to", back),
    ];
    if let Some(error) = get("error") {
        let summary = format!(
            "The authorization server answered with error {error:?}: {}",
            get("error_description").unwrap_or("")
        );
        let page = result(
            &state,
            &viewer,
            "Code flow: refused",
            summary,
            browser,
            None,
            Vec::new(),
            app.id,
        );
        return Ok((jar, page::render(page)).into_response());
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
        &app,
        flow.secret.as_deref(),
        "Exchange the code for a token",
        grant,
    )
    .await?;
    let token = exchange.field("access_token").map(str::to_owned);
    let mut exchanges = vec![exchange];
    let summary = match &token {
        Some(t) => {
            exchanges.extend(inspect(&state, peer, app.id, t).await);
            "The code was exchanged for an access token; token-info and the REST API accept it."
                .to_owned()
        }
        None => "The token endpoint refused the code: see its answer below.".to_owned(),
    };
    let page = result(
        &state,
        &viewer,
        "Code flow",
        summary,
        browser,
        token,
        exchanges,
        app.id,
    );
    Ok((jar, page::render(page)).into_response())
}

/// `POST /playground/implicit`: reads the fragment from the address the user pasted.
pub async fn implicit(
    State(state): State<AppState>,
    viewer: Viewer,
    peer: Peer,
    jar: CookieJar,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    // The pasted address is free text (a paste may end in a line break).
    let form = Form::parse_with_text(&body, &["address"])?;
    session::verify_csrf(&state, &viewer.0, CSRF, form.csrf())?;
    let pasted = form.get("address").trim();
    let fragment = pasted.split_once('#').map(|(_, f)| f).unwrap_or(pasted);
    let params = Params::decode(fragment.as_bytes())?;
    let get = |name| params.get(name).ok().flatten();
    let again = |error| {
        page::render_with(
            StatusCode::BAD_REQUEST,
            ImplicitPage {
                nav: Nav::new(&state, &viewer, "playground"),
                csrf: session::csrf_token(&state, &viewer.0, CSRF),
                error: Some(error),
            },
        )
    };
    if get("access_token").is_none() && get("error").is_none() {
        return Ok(again(
            "That address has no access_token (or error) after its #. Copy the whole address from the address bar.",
        ));
    }
    let flow = flow(&state, &viewer, &jar)
        .filter(|f| f.implicit)
        .ok_or_else(no_flow)?;
    if get("state") != Some(flow.state.as_str()) {
        return Ok(again(
            "The state in that address does not match the flow this browser started.",
        ));
    }
    let jar = clear(&state, jar);
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
    let page = result(
        &state,
        &viewer,
        "Implicit flow",
        summary,
        browser,
        token,
        exchanges,
        flow.client_id,
    );
    Ok((jar, page::render(page)).into_response())
}

/// `POST /playground/password`: the password grant (for the app's owner only, oauth2.md §4).
pub async fn password(
    State(state): State<AppState>,
    viewer: Viewer,
    peer: Peer,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body)?;
    session::verify_csrf(&state, &viewer.0, CSRF, form.csrf())?;
    let Some((client, app)) = chosen(&state, &viewer, &form).await? else {
        return form_error(
            &state,
            &viewer,
            &form,
            "password-client",
            "Choose one of the listed clients.",
        )
        .await;
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
        &app,
        flow_secret,
        "Ask for a token with a username and password",
        grant,
    )
    .await?;
    let token = exchange.field("access_token").map(str::to_owned);
    let mut exchanges = vec![exchange];
    let summary = match &token {
        Some(t) => {
            exchanges.extend(inspect(&state, peer, app.id, t).await);
            "The password grant issued a token.".to_owned()
        }
        None => "The token endpoint refused: see its answer below. The password grant works only for the app's owner.".to_owned(),
    };
    let page = result(
        &state,
        &viewer,
        "Password grant",
        summary,
        Vec::new(),
        token,
        exchanges,
        app.id,
    );
    Ok(page::render(page))
}

/// `POST /playground/token`: token-info and `/me` for any token.
pub async fn inspect_token(
    State(state): State<AppState>,
    viewer: Viewer,
    peer: Peer,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body)?;
    session::verify_csrf(&state, &viewer.0, CSRF, form.csrf())?;
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
    let page = result(
        &state,
        &viewer,
        "Token check",
        summary.to_owned(),
        Vec::new(),
        Some(token.to_owned()),
        exchanges,
        client_id,
    );
    Ok(page::render(page))
}
