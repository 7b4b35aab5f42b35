//! `POST /oauth2-1/token` (oauth21.md §3): `authorization_code` (PKCE required), `refresh_token`
//! (rotation, reuse ends the family, a grace for lost responses; `store::oauth21`) and
//! `client_credentials` (confidential clients, a token for the app alone). Client authentication
//! and the error body (RFC 6749 §5.2, `Cache-Control: no-store`) are the legacy endpoint's.
//!
//! Every bad, used, expired or foreign code or refresh token is the same `invalid_grant`.

use axum::extract::{Request, State};
use axum::response::Response;
use serde::Serialize;

use super::authorize_request::checked_resources;
use crate::domain::client_metadata::GrantType;
use crate::domain::scope::{self, Oidc, Scope, Scope21};
use crate::domain::{pkce, redirect_uri, resource, secret};
use crate::http::params::Params;
use crate::http::peer::Peer;
use crate::oauth2::body::{self, param, read_form, required};
use crate::oauth2::client_auth::{self, Client, Method};
use crate::oauth2::error::OAuthError;
use crate::oauth2::token::{blog_fields, code_holds, record_refusal, token_response};
use crate::oauth2::tokens;
use crate::oidc::id_token::IdTokenInput;
use crate::state::AppState;
use crate::store::{Code21, Issue21, NewClientToken, RedeemRefusal, RefreshRefusal};

/// Parameters that may appear at most once (`resource` may repeat: RFC 8707 §2).
const SINGLE: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "client_id",
    "client_secret",
    "code_verifier",
    "scope",
    "refresh_token",
];

const BAD_GRANT: &str = "The authorization grant is invalid, expired, used or was issued to \
                         another client.";

/// The success body: RFC 6749 §5.1's order, then WordPress.com's `blog_id` and `blog_url`.
#[derive(Serialize)]
struct Issued {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    blog_id: String,
    blog_url: Option<String>,
}

pub(crate) async fn token(
    State(state): State<AppState>,
    peer: Peer,
    request: Request,
) -> Result<Response, OAuthError> {
    let (headers, params) = read_form(request, SINGLE).await?;
    let grant_type = body::grant_type(
        &params,
        &["authorization_code", "refresh_token", "client_credentials"],
    )?;
    let client = super::client_auth::authenticate(&state, &params, &headers, peer).await?;
    registered(&client, grant_type)?;
    let issued = match grant_type {
        "authorization_code" => authorization_code(&state, &client, &params, peer).await?,
        "refresh_token" => refresh_token(&state, &client, &params, peer).await?,
        _ => client_credentials(&state, &client, &params).await?,
    };
    Ok(token_response(issued))
}

/// `unauthorized_client` unless the app registered `grant_type` (oauth21.md §3; `app create
/// --grant-type`, the app form, RFC 7591 `grant_types`). `refresh_token` is not checked here: a
/// refresh token exists only when the code exchange issued one, which already follows the list
/// (or `offline_access`).
fn registered(client: &Client, grant_type: &str) -> Result<(), OAuthError> {
    let grant = match grant_type {
        "authorization_code" => GrantType::AuthorizationCode,
        "client_credentials" => GrantType::ClientCredentials,
        _ => return Ok(()),
    };
    match client.app.allows_grant(grant) {
        true => Ok(()),
        false => Err(OAuthError::unauthorized_client(format!(
            "This client did not register the {grant_type} grant."
        ))),
    }
}

/// The `resource` values of a token request, each one of `allowed` (RFC 8707 §2.2); all of
/// `allowed` when none is sent.
fn audiences(params: &Params, allowed: &[&str]) -> Result<Option<String>, OAuthError> {
    let requested = params.all("resource");
    if requested.is_empty() {
        return Ok(resource::encode(allowed));
    }
    let allowed: Vec<String> = allowed.iter().map(|s| (*s).to_owned()).collect();
    let chosen = resource::check(&requested, &allowed, &[])
        .map_err(|_| OAuthError::invalid_target("The resource is not one this grant allows."))?;
    Ok(resource::encode(&chosen))
}

async fn issued(
    state: &AppState,
    token: String,
    refresh_token: Option<String>,
    site_id: Option<i64>,
    scope: String,
    id_token: Option<String>,
) -> Result<Issued, OAuthError> {
    let (blog_id, blog_url) = blog_fields(state, site_id).await?;
    Ok(Issued {
        access_token: token,
        token_type: "Bearer",
        expires_in: state.settings.oauth21.access_token_ttl_secs,
        refresh_token,
        scope,
        id_token,
        blog_id,
        blog_url,
    })
}

/// The ID token of a code exchange whose scope has `openid` (oauth21.md §6): for the code's user,
/// with the authorization request's `nonce` and the login time it recorded.
async fn id_token(
    state: &AppState,
    client_id: &str,
    claimed: &Code21,
    access_token: &str,
) -> Result<Option<String>, OAuthError> {
    let scope = scope::parse21(Some(&claimed.code.scope)).unwrap_or_default();
    if !scope.has(Oidc::OpenId) {
        return Ok(None);
    }
    let input = IdTokenInput {
        user_id: claimed.code.user_id,
        client_id,
        nonce: claimed.nonce.as_deref(),
        auth_time: claimed.auth_time.unwrap_or_else(|| state.now()),
        access_token,
        scope: &claimed.code.scope,
    };
    match crate::oidc::id_token::id_token(state, input).await {
        Ok(token) => Ok(Some(token)),
        Err(e) => Err(e
            .report()
            .answer(OAuthError::unavailable, OAuthError::internal)),
    }
}

/// Why a claimed code was refused.
enum CodeMismatch {
    OtherClient,
    RedirectUri,
    Pkce,
    GrantLapsed,
    Target,
}

async fn authorization_code(
    state: &AppState,
    client: &Client,
    params: &Params,
    peer: Peer,
) -> Result<Issued, OAuthError> {
    let code = required(params, "code")?;
    let Some(verifier) = param(params, "code_verifier") else {
        return Err(OAuthError::invalid_request(
            "The code_verifier parameter is required (PKCE).",
        ));
    };
    if !secret::well_formed(secret::Kind::AuthCode, code) {
        return Err(OAuthError::invalid_grant(BAD_GRANT));
    }
    pkce::validate_verifier(verifier).map_err(|e| OAuthError::invalid_grant(e.to_string()))?;
    let redirect_uri = param(params, "redirect_uri");
    let app = &client.app;
    let registered = app.redirect_uri_list();
    let now = state.now();
    let settings = &state.settings.oauth21;
    let access = tokens::mint(state);
    let refresh = secret::mint(secret::Kind::RefreshToken, &*state.random);
    let refresh_digest = secret::digest(&refresh);
    let mut with_refresh = false;
    let outcome = state
        .store
        .redeem_code21(&secret::digest(code), now, |claimed| {
            let code = &claimed.code;
            if code.app_id != app.id {
                return Err((CodeMismatch::OtherClient, false));
            }
            redirect_uri::same_as_authorized(redirect_uri, &registered, &code.redirect_uri)
                .map_err(|_| (CodeMismatch::RedirectUri, false))?;
            match &code.code_challenge {
                Some(challenge) if pkce::verify(verifier, challenge) => {}
                _ => return Err((CodeMismatch::Pkce, true)),
            }
            if !code_holds(code) {
                return Err((CodeMismatch::GrantLapsed, true));
            }
            let allowed = resource::decode(claimed.resources.as_deref());
            let audiences =
                audiences(params, &allowed).map_err(|_| (CodeMismatch::Target, false))?;
            let scope = scope::parse21(Some(&code.scope)).unwrap_or_default();
            // `offline_access`, or an app registered with the refresh_token grant (oauth21.md
            // §2). Owner-created apps hold `authorization_code` alone (migration 0012's default),
            // so they get refresh tokens only with `offline_access`.
            with_refresh =
                scope.has(Oidc::OfflineAccess) || app.allows_grant(GrantType::RefreshToken);
            Ok(Issue21 {
                access_digest: access.digest,
                access_expires_at: now + settings.access_token_ttl_secs,
                scope: code.scope.clone(),
                audiences,
                refresh: with_refresh.then_some((refresh_digest, now + settings.refresh_idle_secs)),
            })
        })
        .await?;
    match outcome {
        Ok((claimed, _)) => {
            let refresh = with_refresh.then_some(refresh);
            let id_token = id_token(state, &app.id.to_string(), &claimed, &access.token).await?;
            let site_id = claimed.code.site_id;
            issued(
                state,
                access.token,
                refresh,
                site_id,
                claimed.code.scope,
                id_token,
            )
            .await
        }
        Err(refusal) => {
            record_refusal(state, app.id, peer, &refusal).await?;
            Err(match refusal {
                RedeemRefusal::Rejected { reason, .. } => match reason {
                    CodeMismatch::Target => {
                        OAuthError::invalid_target("The resource is not one this grant allows.")
                    }
                    CodeMismatch::RedirectUri => OAuthError::invalid_grant(
                        "The redirect_uri must be the one sent to authorize, byte for byte.",
                    ),
                    CodeMismatch::Pkce => OAuthError::invalid_grant(
                        "The code_verifier does not match the code_challenge.",
                    ),
                    CodeMismatch::OtherClient | CodeMismatch::GrantLapsed => {
                        OAuthError::invalid_grant(BAD_GRANT)
                    }
                },
                RedeemRefusal::Invalid | RedeemRefusal::Replayed | RedeemRefusal::Spent => {
                    OAuthError::invalid_grant(BAD_GRANT)
                }
            })
        }
    }
}

/// Why a refresh was refused after its token was found.
enum RefreshMismatch {
    Scope,
    Target,
    GrantLapsed,
}

async fn refresh_token(
    state: &AppState,
    client: &Client,
    params: &Params,
    peer: Peer,
) -> Result<Issued, OAuthError> {
    let presented = required(params, "refresh_token")?;
    if !secret::well_formed(secret::Kind::RefreshToken, presented) {
        return Err(OAuthError::invalid_grant(BAD_GRANT));
    }
    let requested_scope = match param(params, "scope") {
        None => None,
        Some(raw) => {
            Some(scope::parse21(Some(raw)).map_err(|e| OAuthError::invalid_scope(e.detail()))?)
        }
    };
    let now = state.now();
    let settings = &state.settings.oauth21;
    let access = tokens::mint(state);
    let refresh = secret::mint(secret::Kind::RefreshToken, &*state.random);
    let refresh_digest = secret::digest(&refresh);
    let mut scope_wire = String::new();
    let outcome = state
        .store
        .refresh(
            &secret::digest(presented),
            client.app.id,
            now,
            settings.refresh_grace_secs,
            |grant| {
                let granted = scope::parse21(Some(&grant.scope)).unwrap_or_default();
                let scope = match &requested_scope {
                    Some(s) if !granted.covers(s) => return Err(RefreshMismatch::Scope),
                    Some(s) => s.clone(),
                    None => granted,
                };
                if !tokens::holds(&grant.scope, grant.site_id, grant.site_admin) {
                    return Err(RefreshMismatch::GrantLapsed);
                }
                let allowed = resource::decode(grant.resources.as_deref());
                let audiences_of_token =
                    audiences(params, &allowed).map_err(|_| RefreshMismatch::Target)?;
                scope_wire = scope.wire();
                Ok(Issue21 {
                    access_digest: access.digest,
                    access_expires_at: now + settings.access_token_ttl_secs,
                    scope: scope_wire.clone(),
                    audiences: audiences_of_token,
                    refresh: Some((refresh_digest, now + settings.refresh_idle_secs)),
                })
            },
        )
        .await?;
    match outcome {
        Ok((grant, _)) => {
            issued(
                state,
                access.token,
                Some(refresh),
                grant.site_id,
                scope_wire,
                // The ID token comes with the code exchange only (oauth21.md §3).
                None,
            )
            .await
        }
        Err(RefreshRefusal::Invalid) => {
            // Guessing refresh tokens spends the client's and the address's failure budgets.
            client_auth::record_failure(state, &client.app.id.to_string(), peer);
            Err(OAuthError::invalid_grant(BAD_GRANT))
        }
        Err(RefreshRefusal::Reused) => Err(OAuthError::invalid_grant(BAD_GRANT)),
        Err(RefreshRefusal::Rejected(RefreshMismatch::Scope)) => Err(OAuthError::invalid_scope(
            "The scope may only narrow the scope granted, never widen it.",
        )),
        Err(RefreshRefusal::Rejected(RefreshMismatch::Target)) => Err(OAuthError::invalid_target(
            "The resource is not one this grant allows.",
        )),
        Err(RefreshRefusal::Rejected(RefreshMismatch::GrantLapsed)) => {
            Err(OAuthError::invalid_grant(BAD_GRANT))
        }
    }
}

/// `client_credentials`: a token for the app itself, with no user and no blog.
async fn client_credentials(
    state: &AppState,
    client: &Client,
    params: &Params,
) -> Result<Issued, OAuthError> {
    if client.method == Method::None {
        return Err(OAuthError::unauthorized_client(
            "Only a confidential client (one with a secret) may use client_credentials.",
        ));
    }
    let scope = match param(params, "scope") {
        None => Scope21 {
            base: Scope::Auth,
            oidc: Vec::new(),
        },
        Some(raw) => {
            scope::parse21(Some(raw)).map_err(|e| OAuthError::invalid_scope(e.detail()))?
        }
    };
    if !scope.oidc.is_empty() || scope.base.is_single_blog() {
        return Err(OAuthError::invalid_scope(
            "A client_credentials token stands for the app alone: its scope is auth or global.",
        ));
    }
    let requested = params.all("resource");
    let audiences = match requested.is_empty() {
        true => None,
        false => {
            let chosen = checked_resources(state, &requested)
                .await?
                .map_err(|e| OAuthError::invalid_target(e.to_string()))?;
            let chosen: Vec<&str> = chosen.iter().map(String::as_str).collect();
            resource::encode(&chosen)
        }
    };
    let now = state.now();
    let access = tokens::mint(state);
    let wire = scope.wire();
    let mut tx = state.store.begin();
    tx.issue_client_token(
        &NewClientToken {
            digest: &access.digest,
            app_id: client.app.id,
            scope: &wire,
            audiences: audiences.as_deref(),
            expires_at: now + state.settings.oauth21.access_token_ttl_secs,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    issued(state, access.token, None, None, wire, None).await
}
