//! `/oauth2/authorize` and `/oauth2/authenticate` (oauth2.md §2): validation in the order the spec
//! gives, the login detour, the consent page with its blog selector, and the code and implicit
//! responses.
//!
//! Until `client_id` and `redirect_uri` are validated, every error is an HTML page and nothing is
//! redirected; after that, errors go back to the redirect URI (query for `code`, fragment for
//! `token`) with `error`, `error_description`, `state` and `iss` (RFC 9207). GET only ever shows
//! the consent page; only a POST with a CSRF token bound to the session and to this very request
//! approves.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use super::authorize_pages::{
    MISSING_CLIENT_ID, UNKNOWN_CLIENT_ID, mismatch_message, scope_message,
};
use super::error::ErrorCode;
use super::params::{Malformed, Params};
use super::tokens;
use crate::domain::scope::{self, Scope};
use crate::domain::site_url::{self, BlogRef};
use crate::domain::{pkce, redirect_uri, secret};
use crate::http::headers::no_store;
use crate::state::AppState;
use crate::store::{App, AuditEvent, NewCode, NewToken, Site};
use crate::web::error::PageError;
use crate::web::session::{self, SessionUser};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    Code,
    Token,
}

/// Which endpoint the request came through: `authenticate` defaults the scope to `auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Authorize,
    Authenticate,
}

/// A validated authorization request.
#[derive(Debug, Clone)]
pub struct AuthzRequest {
    pub app: App,
    pub redirect_uri: String,
    pub response_type: ResponseType,
    pub scope: Scope,
    pub blog: Option<BlogRef>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
}

/// An error once the redirect URI is known: sent back to the client.
#[derive(Debug)]
pub struct Bounce {
    redirect_uri: String,
    response_type: ResponseType,
    state: Option<String>,
    error: ErrorCode,
    description: String,
}

pub enum Refused {
    Page(PageError),
    Bounce(Box<Bounce>),
}

impl From<PageError> for Refused {
    fn from(e: PageError) -> Self {
        Refused::Page(e)
    }
}

impl From<crate::store::StoreError> for Refused {
    fn from(e: crate::store::StoreError) -> Self {
        Refused::Page(e.into())
    }
}

/// Validates the parameters in the order of oauth2.md §2. `malformed` are the parameters that broke
/// the input rule (`domain::input`): a page when one is `client_id` or `redirect_uri`, otherwise
/// `invalid_request` at the redirect URI, like a repeated parameter (catalogue BR04, IN01).
pub async fn validate(
    state: &AppState,
    params: &Params,
    malformed: &[Malformed],
    endpoint: Endpoint,
) -> Result<AuthzRequest, Refused> {
    let page = |m: &str| Refused::Page(PageError::invalid_request(m));
    let repeated =
        |e: super::params::Repeated| Refused::Page(PageError::invalid_request(e.to_string()));
    if let Some(m) = malformed
        .iter()
        .find(|m| m.is("client_id") || m.is("redirect_uri"))
    {
        return Err(page(&m.to_string()));
    }
    let client_id = params.get("client_id").map_err(repeated)?;
    let Some(client_id) = client_id.filter(|id| !id.is_empty()) else {
        return Err(page(MISSING_CLIENT_ID));
    };
    let app = match client_id.parse::<i64>() {
        Ok(id) => state.store.app_by_id(id).await?,
        Err(_) => None,
    };
    let Some(app) = app else {
        return Err(page(UNKNOWN_CLIENT_ID));
    };
    let presented = params.get("redirect_uri").map_err(repeated)?;
    let redirect_uri =
        match redirect_uri::resolve(&app.redirect_uri_list(), presented, app.app_type) {
            Ok(uri) => uri,
            Err(e) => {
                crate::audit::redirect_refused(state, app.id).await?;
                return Err(page(&mismatch_message(e, presented)));
            }
        };

    // From here on, errors go back to the client (a malformed or repeated `state` is not echoed).
    let client_state = params.get("state").ok().flatten().map(str::to_owned);
    let response_type_raw = params.get("response_type");
    let response_type = match response_type_raw {
        Ok(Some("code")) => Some(ResponseType::Code),
        Ok(Some("token")) => Some(ResponseType::Token),
        _ => None,
    };
    let bounce = |error: ErrorCode, description: &str| {
        Refused::Bounce(Box::new(Bounce {
            redirect_uri: redirect_uri.clone(),
            response_type: response_type.unwrap_or(ResponseType::Code),
            state: client_state.clone(),
            error,
            description: description.to_owned(),
        }))
    };
    if let Some(m) = malformed.first() {
        return Err(bounce(ErrorCode::InvalidRequest, &m.to_string()));
    }
    if let Some(e) = params.first_repeated(&[
        "scope",
        "state",
        "response_type",
        "blog",
        "code_challenge",
        "code_challenge_method",
    ]) {
        return Err(bounce(ErrorCode::InvalidRequest, &e.to_string()));
    }
    let raw_scope = params.get("scope").ok().flatten();
    let raw_scope = match (raw_scope, endpoint) {
        (None, Endpoint::Authenticate) => Some("auth"),
        (raw, _) => raw,
    };
    let scope = scope::parse(raw_scope).map_err(|e| page(&scope_message(&e)))?;
    let response_type = match (response_type_raw, response_type) {
        (_, Some(rt)) => rt,
        (Ok(None), _) => {
            return Err(bounce(
                ErrorCode::InvalidRequest,
                "The response_type parameter is required.",
            ));
        }
        _ => {
            return Err(bounce(
                ErrorCode::UnsupportedResponseType,
                "The response_type must be code or token.",
            ));
        }
    };
    if response_type == ResponseType::Token && !app.allow_implicit {
        return Err(bounce(
            ErrorCode::UnauthorizedClient,
            "This client may not use the implicit flow (response_type=token).",
        ));
    }
    let challenge = params.get("code_challenge").ok().flatten();
    let method = params.get("code_challenge_method").ok().flatten();
    match (challenge, response_type) {
        (Some(_), ResponseType::Token) => {
            return Err(bounce(
                ErrorCode::InvalidRequest,
                "PKCE applies to the code flow only.",
            ));
        }
        (Some(c), ResponseType::Code) => {
            pkce::validate_challenge(c, method)
                .map_err(|e| bounce(ErrorCode::InvalidRequest, &e.to_string()))?;
        }
        (None, _) if method.is_some() => {
            return Err(bounce(
                ErrorCode::InvalidRequest,
                "A code_challenge_method was sent without a code_challenge.",
            ));
        }
        (None, ResponseType::Code) if app.is_native() => {
            return Err(bounce(
                ErrorCode::InvalidRequest,
                "Native apps must use PKCE: send a code_challenge with code_challenge_method=S256.",
            ));
        }
        (None, _) => {}
    }
    let blog = params
        .get("blog")
        .ok()
        .flatten()
        .and_then(|b| site_url::parse_blog_param(b).ok());
    Ok(AuthzRequest {
        app,
        redirect_uri,
        response_type,
        scope,
        blog,
        state: client_state,
        code_challenge: challenge.map(str::to_owned),
    })
}

impl AuthzRequest {
    /// What the CSRF token of the consent form is bound to: everything that will be issued.
    fn purpose(&self) -> String {
        format!(
            "authorize\n{}\n{}\n{:?}\n{}\n{}\n{}",
            self.app.id,
            self.redirect_uri,
            self.response_type,
            self.scope.wire(),
            self.state.as_deref().unwrap_or(""),
            self.code_challenge.as_deref().unwrap_or(""),
        )
    }
}

/// Appends `params` to a redirect URI: to the query for codes, to the fragment for tokens.
fn respond_to(
    redirect_uri: &str,
    response_type: ResponseType,
    params: &[(&str, &str)],
) -> Response {
    let encoded: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    let location = match response_type {
        ResponseType::Code if redirect_uri.contains('?') => format!("{redirect_uri}&{encoded}"),
        ResponseType::Code => format!("{redirect_uri}?{encoded}"),
        ResponseType::Token => format!("{redirect_uri}#{encoded}"),
    };
    let mut response = Redirect::to(&location).into_response();
    no_store(response.headers_mut());
    response
}

impl Bounce {
    fn into_response(self, issuer: &str) -> Response {
        let mut params = vec![
            ("error", self.error.as_str()),
            ("error_description", self.description.as_str()),
        ];
        if let Some(s) = self.state.as_deref() {
            params.push(("state", s));
        }
        params.push(("iss", issuer));
        respond_to(&self.redirect_uri, self.response_type, &params)
    }
}

fn refused(state: &AppState, r: Refused) -> Response {
    match r {
        Refused::Page(p) => p.into_response(),
        Refused::Bounce(b) => b.into_response(&state.settings.issuer()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    /// Where the form posts: this page is shared with `/oauth1/authorize`.
    action: &'static str,
    app: &'a App,
    user: &'a str,
    permissions: Vec<&'static str>,
    /// The blog chosen for the user (the `blog` parameter named one they administer).
    fixed_blog: Option<&'a Site>,
    /// The blogs to choose from when none is fixed.
    choices: &'a [Site],
    needs_blog: bool,
    hidden: Vec<(&'static str, String)>,
    csrf: String,
}

pub async fn get_authorize(
    state: State<AppState>,
    session: Option<SessionUser>,
    query: RawQuery,
) -> Response {
    show(state, session, query, Endpoint::Authorize).await
}

pub async fn get_authenticate(
    state: State<AppState>,
    session: Option<SessionUser>,
    query: RawQuery,
) -> Response {
    show(state, session, query, Endpoint::Authenticate).await
}

async fn show(
    State(state): State<AppState>,
    session: Option<SessionUser>,
    RawQuery(query): RawQuery,
    endpoint: Endpoint,
) -> Response {
    let raw = query.unwrap_or_default();
    let (params, malformed) = Params::decode_partial(raw.as_bytes(), &[]);
    let request = match validate(&state, &params, &malformed, endpoint).await {
        Ok(r) => r,
        Err(r) => return refused(&state, r),
    };
    let Some(session) = session else {
        let path = match endpoint {
            Endpoint::Authorize => "/oauth2/authorize",
            Endpoint::Authenticate => "/oauth2/authenticate",
        };
        let back = format!("{path}?{raw}");
        let target: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("redirect_to", &back)
            .finish();
        return Redirect::to(&format!("/login?{target}")).into_response();
    };
    match consent_page(&state, &session, &request).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn consent_page(
    state: &AppState,
    session: &SessionUser,
    request: &AuthzRequest,
) -> Result<Response, PageError> {
    let sites = state.store.administered_sites(session.user.id).await?;
    let single = request.scope.is_single_blog();
    let fixed_blog = match (&request.blog, single) {
        (Some(wanted), true) => sites.iter().find(|s| super::blog::is(wanted, s)),
        _ => None,
    };
    let mut hidden = vec![
        ("client_id", request.app.id.to_string()),
        ("redirect_uri", request.redirect_uri.clone()),
        (
            "response_type",
            match request.response_type {
                ResponseType::Code => "code".to_owned(),
                ResponseType::Token => "token".to_owned(),
            },
        ),
        ("scope", request.scope.wire()),
    ];
    if let Some(s) = &request.state {
        hidden.push(("state", s.clone()));
    }
    if let Some(c) = &request.code_challenge {
        hidden.push(("code_challenge", c.clone()));
        hidden.push(("code_challenge_method", "S256".to_owned()));
    }
    let page = ConsentPage {
        action: "/oauth2/authorize",
        app: &request.app,
        user: &session.user.display_name,
        permissions: request.scope.permissions(),
        fixed_blog,
        choices: if single && fixed_blog.is_none() {
            &sites
        } else {
            &[]
        },
        needs_blog: single && sites.is_empty(),
        hidden,
        csrf: session::csrf_token(state, session, &request.purpose()),
    };
    let mut response = page.into_response();
    no_store(response.headers_mut());
    Ok(response)
}

/// The consent form's POST: re-validates everything, checks the CSRF token, then issues or denies.
pub async fn post_authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Option<SessionUser>,
    body: axum::body::Bytes,
) -> Response {
    let (params, malformed) = Params::decode_partial(&body, &[]);
    match decide(&state, &headers, session, &params, &malformed).await {
        Ok(r) => r,
        Err(r) => refused(&state, r),
    }
}

async fn decide(
    state: &AppState,
    headers: &HeaderMap,
    session: Option<SessionUser>,
    params: &Params,
    malformed: &[Malformed],
) -> Result<Response, Refused> {
    session::same_origin(state, headers)?;
    let request = validate(state, params, malformed, Endpoint::Authorize).await?;
    let Some(session) = session else {
        return Err(PageError::Forbidden(
            "Your session has ended. Log in and start again from the application.".into(),
        )
        .into());
    };
    session::verify_csrf(
        state,
        &session,
        &request.purpose(),
        params.get("csrf").ok().flatten(),
    )?;
    let issuer = state.settings.issuer();
    let now = state.now();
    let user = &session.user;
    let action = params.get("action").ok().flatten();
    if action != Some("approve") {
        let event = AuditEvent {
            kind: "consent_denied",
            user_id: Some(user.id),
            app_id: Some(request.app.id),
            ..Default::default()
        };
        state.store.audit(&event, now).await?;
        return Err(Refused::Bounce(Box::new(Bounce {
            redirect_uri: request.redirect_uri,
            response_type: request.response_type,
            state: request.state,
            error: ErrorCode::AccessDenied,
            description: "The user denied access to this application.".into(),
        })));
    }
    let site_id = if request.scope.is_single_blog() {
        let chosen = params
            .get("blog_id")
            .ok()
            .flatten()
            .and_then(|b| b.parse::<i64>().ok());
        let Some(blog_id) = chosen else {
            return Err(PageError::invalid_request("Choose the blog to grant access to.").into());
        };
        if !state.store.is_administrator(user.id, blog_id).await? {
            return Err(
                PageError::invalid_request("You do not administer the chosen blog.").into(),
            );
        }
        Some(blog_id)
    } else {
        None
    };
    let wire = request.scope.wire();
    let state_param = request.state.as_deref().unwrap_or("");
    let event = AuditEvent {
        kind: "consent_granted",
        user_id: Some(user.id),
        app_id: Some(request.app.id),
        detail: &wire,
        ..Default::default()
    };
    match request.response_type {
        ResponseType::Code => {
            let code = secret::mint(secret::Kind::AuthCode, &*state.random);
            state
                .store
                .grant_code(
                    &NewCode {
                        digest: &secret::digest(&code),
                        app_id: request.app.id,
                        user_id: user.id,
                        site_id,
                        scope: &wire,
                        redirect_uri: &request.redirect_uri,
                        code_challenge: request.code_challenge.as_deref(),
                        expires_at: now + state.settings.code_ttl,
                    },
                    now,
                )
                .await?;
            state.store.audit(&event, now).await?;
            let mut params = vec![("code", code.as_str())];
            if !state_param.is_empty() {
                params.push(("state", state_param));
            }
            params.push(("iss", &issuer));
            Ok(respond_to(
                &request.redirect_uri,
                ResponseType::Code,
                &params,
            ))
        }
        ResponseType::Token => {
            let minted = tokens::mint(state);
            let ttl = state.settings.implicit_token_ttl;
            state
                .store
                .grant_token(
                    &NewToken {
                        digest: &minted.digest,
                        app_id: request.app.id,
                        user_id: user.id,
                        site_id,
                        scope: &wire,
                        origin: "implicit",
                        expires_at: Some(now + ttl),
                    },
                    now,
                )
                .await?;
            state.store.audit(&event, now).await?;
            let ttl = ttl.to_string();
            let site = site_id.unwrap_or(0).to_string();
            let mut params = vec![
                ("access_token", minted.token.as_str()),
                ("expires_in", ttl.as_str()),
                ("token_type", "bearer"),
                ("site_id", site.as_str()),
                ("scope", wire.as_str()),
            ];
            if !state_param.is_empty() {
                params.push(("state", state_param));
            }
            params.push(("iss", &issuer));
            Ok(respond_to(
                &request.redirect_uri,
                ResponseType::Token,
                &params,
            ))
        }
    }
}
