//! `/oauth2/authorize` and `/oauth2/authenticate` (oauth2.md §2): the login detour, the consent
//! page with its blog selector, and the code and implicit responses. The request's validation, in
//! the order the spec gives, and its refusals are in `authorize_request`; the consent form's POST
//! is `decision::post`, which issues through this dialect's [`ConsentRequest`].
//!
//! Until `client_id` and `redirect_uri` are validated, every error is an HTML page and nothing is
//! redirected; after that, errors go back to the redirect URI (query for `code`, fragment for
//! `token`) with `error`, `error_description`, `state` and `iss` (RFC 9207). GET only ever shows
//! the consent page; only a POST with a CSRF token bound to the session and to this very request
//! approves.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};

use super::authorize_request::{
    AuthzRequest, Endpoint, Refused, ResponseType, refused, respond_to, validate,
};
use super::decision::{ConsentRequest, code_response};
use super::error::ErrorCode;
use super::tokens;
use crate::domain::secret;
use crate::http::params::{Malformed, Params};
use crate::state::AppState;
use crate::store::{AuditEvent, NewCode, NewToken};
use crate::web::consent::{self, Consent};
use crate::web::error::PageError;
use crate::web::redirect::login_first;
use crate::web::session::SessionUser;

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

impl ConsentRequest for AuthzRequest {
    async fn validate(
        state: &AppState,
        params: &Params,
        malformed: &[Malformed],
    ) -> Result<Self, Refused> {
        validate(state, params, malformed, Endpoint::Authorize).await
    }

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

    fn app_id(&self) -> i64 {
        self.app.id
    }

    fn single_blog(&self) -> bool {
        self.scope.is_single_blog()
    }

    fn bounce(&self, error: ErrorCode, description: &str) -> Refused {
        Refused::bounce(
            &self.redirect_uri,
            self.response_type,
            self.state.as_deref(),
            error,
            description,
        )
    }

    /// A code (with its grant) or an implicit-flow token, in one transaction with the audit line.
    async fn issue(
        &self,
        state: &AppState,
        session: &SessionUser,
        site_id: Option<i64>,
    ) -> Result<Response, Refused> {
        let issuer = state.settings.issuer();
        let now = state.now();
        let user = &session.user;
        let wire = self.scope.wire();
        let state_param = self.state.as_deref().unwrap_or("");
        let event = AuditEvent::consent_granted(user.id, self.app.id, &wire);
        match self.response_type {
            ResponseType::Code => {
                let code = secret::mint(secret::Kind::AuthCode, &*state.random);
                let mut tx = state.store.begin();
                tx.grant_code(
                    &NewCode {
                        digest: &secret::digest(&code),
                        app_id: self.app.id,
                        user_id: user.id,
                        site_id,
                        scope: &wire,
                        redirect_uri: &self.redirect_uri,
                        code_challenge: self.code_challenge.as_deref(),
                        expires_at: now + state.settings.code_ttl,
                    },
                    now,
                )
                .await?;
                tx.audit(&event, now).await?;
                tx.commit().await?;
                Ok(code_response(
                    state,
                    &self.redirect_uri,
                    &code,
                    self.state.as_deref(),
                ))
            }
            ResponseType::Token => {
                let minted = tokens::mint(state);
                let ttl = state.settings.implicit_token_ttl;
                let mut tx = state.store.begin();
                tx.grant_token(
                    &NewToken {
                        digest: &minted.digest,
                        app_id: self.app.id,
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
                Ok(respond_to(&self.redirect_uri, ResponseType::Token, &params))
            }
        }
    }
}
