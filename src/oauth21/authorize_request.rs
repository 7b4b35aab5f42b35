//! The authorization request of `/oauth2-1/authorize` (oauth21.md §2): the legacy order of
//! oauth2.md §2 for the client and its redirect URI (an HTML page until both are valid), then the
//! 2.1 rules, each refused at the redirect URI with `iss` (RFC 9207): `code` only, a client that
//! registered the `authorization_code` grant, PKCE S256 for every client, the 2.1 scopes, resource indicators (RFC 8707), and the OIDC `nonce`, `prompt`
//! and `max_age`.

use super::register::{ResolveError, resolve_client};
use crate::domain::client_metadata::GrantType;
use crate::domain::pkce;
use crate::domain::resource;
use crate::domain::scope::{self, Scope21};
use crate::domain::site_url::{self, BlogRef};
use crate::http::params::{Malformed, Params};
use crate::oauth2::authorize_pages::UNKNOWN_CLIENT_ID;
use crate::oauth2::authorize_request::{
    Refused, ResponseType, SINGLE, presented_client_id, registered_redirect_uri,
};
use crate::oauth2::error::ErrorCode;
use crate::state::AppState;
use crate::store::{App, StoreError};
use crate::web::error::PageError;

/// The OIDC parameters that may appear at most once, after the legacy ones of
/// `oauth2::authorize_request::SINGLE` (`resource` may repeat: RFC 8707 §2).
const SINGLE_OIDC: &[&str] = &["nonce", "prompt", "max_age"];

/// The OIDC `prompt` (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Prompt {
    /// `none`: answer without showing any page.
    pub none: bool,
    /// `login`: a fresh login first.
    pub login: bool,
    /// `consent`: the consent page even for an earlier identical grant.
    pub consent: bool,
}

/// A validated 2.1 authorization request.
#[derive(Debug, Clone)]
pub(super) struct Request21 {
    pub app: App,
    /// The `client_id` as the client sent it: the numeric id, or its metadata document's URL.
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Scope21,
    pub blog: Option<BlogRef>,
    pub state: Option<String>,
    pub code_challenge: String,
    pub resources: Vec<String>,
    pub nonce: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
}

/// Checks the `resource` values of a 2.1 request (oauth21.md §2, RFC 8707 §2): each one Latchkey
/// protects or one an app registered as its own API (`latchkey app update --resource`, any app:
/// a client asks for tokens to call someone's resource server). Looks up no more than the
/// requested values up to the first unknown one.
pub(crate) async fn checked_resources(
    state: &AppState,
    requested: &[&str],
) -> Result<Result<Vec<String>, resource::InvalidTarget>, StoreError> {
    let protected = [state.rest_api.clone(), state.mcp_resource.clone()];
    let mut registered = Vec::new();
    for &r in requested {
        if protected.iter().any(|p| p == r) || registered.iter().any(|p| p == r) {
            continue;
        }
        if state.store.resource_owner(r).await?.is_none() {
            break;
        }
        registered.push(r.to_owned());
    }
    Ok(resource::check(requested, &protected, &registered)
        .map(|chosen| chosen.into_iter().map(str::to_owned).collect()))
}

pub(super) async fn validate(
    state: &AppState,
    params: &Params,
    malformed: &[Malformed],
) -> Result<Request21, Refused> {
    let (app, client_id, redirect_uri) = client_and_redirect(state, params, malformed).await?;
    let client_state = params.get("state").ok().flatten().map(str::to_owned);
    let bounce = |error: ErrorCode, description: &str| {
        Refused::bounce(
            &redirect_uri,
            ResponseType::Code,
            client_state.as_deref(),
            error,
            description,
        )
    };
    if let Some(m) = malformed.first() {
        return Err(bounce(ErrorCode::InvalidRequest, &m.to_string()));
    }
    if let Some(e) = params
        .first_repeated(SINGLE)
        .or_else(|| params.first_repeated(SINGLE_OIDC))
    {
        return Err(bounce(ErrorCode::InvalidRequest, &e.to_string()));
    }
    let get = |name: &str| params.get(name).ok().flatten();
    match get("response_type") {
        Some("code") => {}
        None => {
            return Err(bounce(
                ErrorCode::InvalidRequest,
                "The response_type parameter is required.",
            ));
        }
        Some(_) => {
            return Err(bounce(
                ErrorCode::UnsupportedResponseType,
                "The response_type must be code: the OAuth 2.1 server has no implicit flow.",
            ));
        }
    }
    // The redirect URI is the client's own by now, so the refusal goes there (oauth21.md §3:
    // the app's registered grants, as at the token endpoint).
    if !app.allows_grant(GrantType::AuthorizationCode) {
        return Err(bounce(
            ErrorCode::UnauthorizedClient,
            "This client did not register the authorization_code grant.",
        ));
    }
    let scope =
        scope::parse21(get("scope")).map_err(|e| bounce(ErrorCode::InvalidScope, &e.detail()))?;
    let Some(challenge) = get("code_challenge") else {
        return Err(bounce(
            ErrorCode::InvalidRequest,
            "PKCE is required for every client: send a code_challenge with \
             code_challenge_method=S256.",
        ));
    };
    pkce::validate_challenge(challenge, get("code_challenge_method"))
        .map_err(|e| bounce(ErrorCode::InvalidRequest, &e.to_string()))?;
    let resources = checked_resources(state, &params.all("resource"))
        .await?
        .map_err(|e| bounce(ErrorCode::InvalidTarget, &e.to_string()))?;
    let prompt = parse_prompt(get("prompt")).map_err(|m| bounce(ErrorCode::InvalidRequest, m))?;
    let max_age = match get("max_age") {
        None => None,
        Some(raw) => match raw.parse::<i64>() {
            Ok(secs) if secs >= 0 => Some(secs),
            _ => {
                return Err(bounce(
                    ErrorCode::InvalidRequest,
                    "The max_age parameter must be a number of seconds.",
                ));
            }
        },
    };
    let blog = get("blog").and_then(|b| site_url::parse_blog_param(b).ok());
    Ok(Request21 {
        app,
        client_id,
        redirect_uri,
        scope,
        blog,
        state: client_state,
        code_challenge: challenge.to_owned(),
        resources,
        nonce: get("nonce").map(str::to_owned),
        prompt,
        max_age,
    })
}

/// The legacy first steps (oauth2.md §2, `oauth2::authorize_request::client_and_redirect`) with
/// the 2.1 client lookup, `resolve_client`: a numeric id or a Client ID Metadata Document's URL.
/// An unknown client, an unusable document or a redirect URI the client did not register is an
/// HTML page, never a redirect.
async fn client_and_redirect(
    state: &AppState,
    params: &Params,
    malformed: &[Malformed],
) -> Result<(App, String, String), Refused> {
    let page = |m: &str| Refused::Page(PageError::invalid_request(m));
    let client_id = presented_client_id(params, malformed)?;
    let resolved = match resolve_client(state, client_id).await {
        Ok(resolved) => resolved,
        Err(ResolveError::Unknown) => return Err(page(UNKNOWN_CLIENT_ID)),
        Err(e @ ResolveError::Document(_)) => {
            return Err(page(&format!("Unusable client_id: {e}.")));
        }
        Err(ResolveError::Store(e)) => return Err(e.into()),
    };
    let app = resolved.app;
    let redirect_uri = registered_redirect_uri(state, &app, params).await?;
    Ok((app, resolved.client_id, redirect_uri))
}

fn parse_prompt(raw: Option<&str>) -> Result<Prompt, &'static str> {
    let mut prompt = Prompt::default();
    let mut values = 0;
    for value in raw.unwrap_or("").split(' ').filter(|v| !v.is_empty()) {
        values += 1;
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            // One account per session: there is nothing to select.
            "select_account" => {}
            _ => {
                return Err("The prompt parameter must be none, login, consent or select_account.");
            }
        }
    }
    // OIDC Core §3.1.2.1: `none` with any other value, `select_account` included, is an error.
    if prompt.none && values > 1 {
        return Err("prompt=none cannot be combined with other values.");
    }
    Ok(prompt)
}
