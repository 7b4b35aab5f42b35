//! `/oauth2/authorize` and `/oauth2/authenticate` (oauth2.md §2): the login detour, the consent
//! page with its blog selector, and the code and implicit responses. The request's validation, in
//! the order the spec gives, and its refusals are in `authorize_request`.
//!
//! Until `client_id` and `redirect_uri` are validated, every error is an HTML page and nothing is
//! redirected; after that, errors go back to the redirect URI (query for `code`, fragment for
//! `token`) with `error`, `error_description`, `state` and `iss` (RFC 9207). GET only ever shows
//! the consent page; only a POST with a CSRF token bound to the session and to this very request
//! approves.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::authorize_request::{
    AuthzRequest, Endpoint, Refused, ResponseType, refused, respond_to, validate,
};
use super::error::ErrorCode;
use super::tokens;
use crate::domain::secret;
use crate::http::params::{Malformed, Params};
use crate::state::AppState;
use crate::store::{AuditEvent, NewCode, NewToken};
use crate::web::consent::{self, Consent};
use crate::web::error::PageError;
use crate::web::redirect::login_first;
use crate::web::session::{self, SessionUser};

pub(crate) async fn get_authorize(
    state: State<AppState>,
    session: Option<SessionUser>,
    query: RawQuery,
) -> Response {
    show(state, session, query, Endpoint::Authorize).await
}

pub(crate) async fn get_authenticate(
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
        return login_first(&format!("{path}?{raw}"));
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
    let consent = Consent {
        action: "/oauth2/authorize",
        app: &request.app,
        permissions: request.scope.permissions(),
        single_blog: request.scope.is_single_blog(),
        named_blog: request.blog.as_ref(),
        redirect_uri: &request.redirect_uri,
        hidden,
        purpose: &request.purpose(),
    };
    consent::page(state, session, consent).await
}

/// The consent form's POST: re-validates everything, checks the CSRF token, then issues or denies.
pub(crate) async fn post_authorize(
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
    let session = deciding_user(state, session, &request.purpose(), params)?;
    let issuer = state.settings.issuer();
    let now = state.now();
    let user = &session.user;
    if !approves(state, params, user.id, request.app.id).await? {
        return Err(Refused::bounce(
            &request.redirect_uri,
            request.response_type,
            request.state.as_deref(),
            ErrorCode::AccessDenied,
            "The user denied access to this application.",
        ));
    }
    let site_id = chosen_blog(state, user.id, params, request.scope.is_single_blog()).await?;
    let wire = request.scope.wire();
    let state_param = request.state.as_deref().unwrap_or("");
    let event = AuditEvent::consent_granted(user.id, request.app.id, &wire);
    match request.response_type {
        ResponseType::Code => {
            let code = secret::mint(secret::Kind::AuthCode, &*state.random);
            let mut tx = state.store.begin();
            tx.grant_code(
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
            tx.audit(&event, now).await?;
            tx.commit().await?;
            Ok(code_response(
                state,
                &request.redirect_uri,
                &code,
                request.state.as_deref(),
            ))
        }
        ResponseType::Token => {
            let minted = tokens::mint(state);
            let ttl = state.settings.implicit_token_ttl;
            let mut tx = state.store.begin();
            tx.grant_token(
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
            tx.audit(&event, now).await?;
            tx.commit().await?;
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
            params.push(("iss", issuer));
            Ok(respond_to(
                &request.redirect_uri,
                ResponseType::Token,
                &params,
            ))
        }
    }
}

/// The user deciding on the consent form's POST, in both dialects: the session must still be there,
/// and the form's CSRF token bound to it and to this very request (`purpose`).
pub(crate) fn deciding_user(
    state: &AppState,
    session: Option<SessionUser>,
    purpose: &str,
    params: &Params,
) -> Result<SessionUser, Refused> {
    let Some(session) = session else {
        return Err(PageError::Forbidden(
            "Your session has ended. Log in and start again from the application.".into(),
        )
        .into());
    };
    session::verify_csrf(state, &session, purpose, params.get("csrf").ok().flatten())?;
    Ok(session)
}

/// Whether the consent form approves (`action=approve`), in both dialects. Anything else is the
/// user's denial, recorded in the audit log before the caller answers `access_denied`.
pub(crate) async fn approves(
    state: &AppState,
    params: &Params,
    user_id: i64,
    app_id: i64,
) -> Result<bool, Refused> {
    if params.get("action").ok().flatten() == Some("approve") {
        return Ok(true);
    }
    let event = AuditEvent::consent_denied(user_id, app_id, "");
    state.store.audit_alone(&event, state.now()).await?;
    Ok(false)
}

/// The code response at the redirect URI, in both dialects: `code`, the client's `state` unless
/// absent or empty, and `iss` (RFC 9207).
pub(crate) fn code_response(
    state: &AppState,
    redirect_uri: &str,
    code: &str,
    client_state: Option<&str>,
) -> Response {
    let issuer = state.settings.issuer();
    let mut params = vec![("code", code)];
    if let Some(s) = client_state.filter(|s| !s.is_empty()) {
        params.push(("state", s));
    }
    params.push(("iss", issuer));
    respond_to(redirect_uri, ResponseType::Code, &params)
}

/// The blog of a single-blog grant, chosen on the consent form (`blog_id`): one the user
/// administers. `None` when the grant is not tied to one blog. Shared with `oauth21::authorize`.
pub(crate) async fn chosen_blog(
    state: &AppState,
    user_id: i64,
    params: &Params,
    single: bool,
) -> Result<Option<i64>, Refused> {
    if !single {
        return Ok(None);
    }
    let chosen = params
        .get("blog_id")
        .ok()
        .flatten()
        .and_then(|b| b.parse::<i64>().ok());
    let Some(blog_id) = chosen else {
        return Err(PageError::invalid_request("Choose the blog to grant access to.").into());
    };
    if !state.store.is_administrator(user_id, blog_id).await? {
        return Err(PageError::invalid_request("You do not administer the chosen blog.").into());
    }
    Ok(Some(blog_id))
}
