//! The authorization request of `/oauth2/authorize` and `/oauth2/authenticate` (oauth2.md §2):
//! its parameters validated in the order the spec gives, and the two ways of refusing one: an HTML
//! page while `client_id` and `redirect_uri` are not yet valid, a redirect back to the client
//! (query for `code`, fragment for `token`, with `state` and `iss`) once they are. The handlers,
//! the consent page and what is issued are in `authorize`.

use axum::response::{IntoResponse, Redirect, Response};

use super::authorize_pages::{
    MISSING_CLIENT_ID, UNKNOWN_CLIENT_ID, mismatch_message, scope_message,
};
use super::error::ErrorCode;
use crate::domain::scope::{self, Scope};
use crate::domain::site_url::{self, BlogRef};
use crate::domain::{pkce, redirect_uri};
use crate::http::headers::no_store;
use crate::http::params::{Malformed, Params};
use crate::state::AppState;
use crate::store::App;
use crate::web::error::PageError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseType {
    Code,
    Token,
}

/// Parameters of an authorization request that may appear at most once (oauth2.md §2); a repeat is
/// `invalid_request` at the redirect URI. The 2.1 server checks these and then its own
/// (`oauth21::authorize_request`).
pub(crate) const SINGLE: &[&str] = &[
    "scope",
    "state",
    "response_type",
    "blog",
    "code_challenge",
    "code_challenge_method",
];

/// Which endpoint the request came through: `authenticate` defaults the scope to `auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    Authorize,
    Authenticate,
}

/// A validated authorization request.
#[derive(Debug, Clone)]
pub(super) struct AuthzRequest {
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
pub(crate) struct Bounce {
    pub(crate) redirect_uri: String,
    pub(crate) response_type: ResponseType,
    pub(crate) state: Option<String>,
    pub(crate) error: ErrorCode,
    pub(crate) description: String,
}

pub(crate) enum Refused {
    Page(PageError),
    Bounce(Box<Bounce>),
}

impl Refused {
    /// The refusal of a request at its client's redirect URI, with `state` echoed (oauth2.md §2).
    pub(crate) fn bounce(
        redirect_uri: &str,
        response_type: ResponseType,
        state: Option<&str>,
        error: ErrorCode,
        description: &str,
    ) -> Self {
        Refused::Bounce(Box::new(Bounce {
            redirect_uri: redirect_uri.to_owned(),
            response_type,
            state: state.map(str::to_owned),
            error,
            description: description.to_owned(),
        }))
    }
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

/// The first steps of oauth2.md §2, shared with the 2.1 server (`oauth21::authorize`): the client
/// and its redirect URI, refused with an HTML page (never a redirect) while either is invalid.
pub(crate) async fn client_and_redirect(
    state: &AppState,
    params: &Params,
    malformed: &[Malformed],
) -> Result<(App, String), Refused> {
    let client_id = presented_client_id(params, malformed)?;
    let app = match client_id.parse::<i64>() {
        Ok(id) => state.store.app_by_id(id).await?,
        Err(_) => None,
    };
    let Some(app) = app else {
        return Err(PageError::invalid_request(UNKNOWN_CLIENT_ID).into());
    };
    let redirect_uri = registered_redirect_uri(state, &app, params).await?;
    Ok((app, redirect_uri))
}

/// The `client_id` of an authorization request, in both dialects (oauth2.md §2): a malformed
/// `client_id` or `redirect_uri`, a repeated or missing (or empty) `client_id` is an HTML page.
pub(crate) fn presented_client_id<'p>(
    params: &'p Params,
    malformed: &[Malformed],
) -> Result<&'p str, Refused> {
    if let Some(m) = malformed
        .iter()
        .find(|m| m.is("client_id") || m.is("redirect_uri"))
    {
        return Err(PageError::invalid_request(m.to_string()).into());
    }
    let client_id = params
        .get("client_id")
        .map_err(|e| PageError::invalid_request(e.to_string()))?;
    client_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| PageError::invalid_request(MISSING_CLIENT_ID).into())
}

/// The redirect URI of an authorization request from `app`, in both dialects (oauth2.md §2,
/// `redirect_uri::resolve`). A repeated or unregistered one is an HTML page, never a redirect,
/// and the refusal is audited.
pub(crate) async fn registered_redirect_uri(
    state: &AppState,
    app: &App,
    params: &Params,
) -> Result<String, Refused> {
    let presented = params
        .get("redirect_uri")
        .map_err(|e| PageError::invalid_request(e.to_string()))?;
    match redirect_uri::resolve(&app.redirect_uri_list(), presented, app.app_type) {
        Ok(uri) => Ok(uri),
        Err(e) => {
            crate::audit::redirect_refused(state, app.id).await?;
            Err(PageError::invalid_request(mismatch_message(e, presented)).into())
        }
    }
}

/// Validates the parameters in the order of oauth2.md §2. `malformed` are the parameters that broke
/// the input rule (`domain::input`): a page when one is `client_id` or `redirect_uri`, otherwise
/// `invalid_request` at the redirect URI, like a repeated parameter (catalogue BR04, IN01).
pub(super) async fn validate(
    state: &AppState,
    params: &Params,
    malformed: &[Malformed],
    endpoint: Endpoint,
) -> Result<AuthzRequest, Refused> {
    let page = |m: &str| Refused::Page(PageError::invalid_request(m));
    let (app, redirect_uri) = client_and_redirect(state, params, malformed).await?;

    // From here on, errors go back to the client (a malformed or repeated `state` is not echoed).
    let client_state = params.get("state").ok().flatten().map(str::to_owned);
    let response_type_raw = params.get("response_type");
    let response_type = match response_type_raw {
        Ok(Some("code")) => Some(ResponseType::Code),
        Ok(Some("token")) => Some(ResponseType::Token),
        _ => None,
    };
    let bounce = |error: ErrorCode, description: &str| {
        Refused::bounce(
            &redirect_uri,
            response_type.unwrap_or(ResponseType::Code),
            client_state.as_deref(),
            error,
            description,
        )
    };
    if let Some(m) = malformed.first() {
        return Err(bounce(ErrorCode::InvalidRequest, &m.to_string()));
    }
    if let Some(e) = params.first_repeated(SINGLE) {
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

/// Appends `params` to a redirect URI: to the query for codes, to the fragment for tokens.
pub(crate) fn respond_to(
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
    pub(crate) fn into_response(self, issuer: &str) -> Response {
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

pub(crate) fn refused(state: &AppState, r: Refused) -> Response {
    match r {
        Refused::Page(p) => p.into_response(),
        Refused::Bounce(b) => b.into_response(state.settings.issuer()),
    }
}
