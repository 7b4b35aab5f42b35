//! `POST /oauth2/token` (oauth2.md §4): the `authorization_code` and `password` grants.
//!
//! A redemption that fails because of what the client sent (another client's code, a `redirect_uri`
//! that differs or is missing) leaves the code redeemable, as a failed client authentication does
//! (CL01; issue 13): the claim is rolled back in the same transaction, so one code still yields at
//! most one token (I1). A failed PKCE proof burns the code (AC07), and so does a code whose grant no
//! longer holds (its user lost the blog, `domain::reach::holds`; AC11).

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::body::{self, param, read_form, required};
use super::client_auth::{self, Client, Method};
use super::error::OAuthError;
use super::tokens;
use crate::auth::app_passwords::{self, GrantVerdict};
use crate::domain::redirect_uri::{self, RedirectMismatch};
use crate::domain::scope::{self, Scope};
use crate::domain::{pkce, secret};
use crate::http::headers::no_store;
use crate::http::params::Params;
use crate::http::peer::Peer;
use crate::state::AppState;
use crate::store::{CodeToken, NewToken, RedeemRefusal, RedeemedCode, Site};

/// Parameters that may appear at most once (RFC 6749 §3.2).
const SINGLE: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "client_id",
    "client_secret",
    "code_verifier",
    "username",
    "password",
    "scope",
    "blog",
    "refresh_token",
    "wpcom_supports_2fa",
];

/// The success body, fields in WordPress.com's order.
#[derive(Serialize)]
struct Issued {
    access_token: String,
    token_type: &'static str,
    blog_id: String,
    blog_url: Option<String>,
    scope: String,
    /// Only with a configured `oauth2.access_token_ttl_secs` (RFC 6749 §5.1); WordPress.com's
    /// code-flow and password tokens do not expire, so by default it is absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<i64>,
}

pub(crate) async fn token(
    State(state): State<AppState>,
    peer: Peer,
    request: Request,
) -> Result<Response, OAuthError> {
    let (headers, params) = read_form(request, SINGLE).await?;
    let grant_type = body::grant_type(&params, &["authorization_code", "password"])?;
    let client = client_auth::authenticate(&state, &params, &headers, peer).await?;
    let issued = match grant_type {
        "authorization_code" => authorization_code(&state, &client, &params, peer).await?,
        _ => password(&state, &client, &params, peer).await?,
    };
    Ok(token_response(issued))
}

/// A token endpoint's success, in both dialects: the JSON body, never cached (RFC 6749 §5.1).
pub(crate) fn token_response(issued: impl Serialize) -> Response {
    let mut response = Json(issued).into_response();
    no_store(response.headers_mut());
    response
}

/// The `blog_id` and `blog_url` of a token response, in both dialects: `"0"` and none for a grant
/// tied to no blog (or to one since deleted, for the URL).
pub(crate) async fn blog_fields(
    state: &AppState,
    site_id: Option<i64>,
) -> Result<(String, Option<String>), OAuthError> {
    let site: Option<Site> = match site_id {
        Some(id) => state.store.site_by_id(id).await?,
        None => None,
    };
    Ok((site_id.unwrap_or(0).to_string(), site.map(|s| s.url)))
}

async fn issued(
    state: &AppState,
    token: String,
    site_id: Option<i64>,
    scope: String,
) -> Result<Issued, OAuthError> {
    let (blog_id, blog_url) = blog_fields(state, site_id).await?;
    Ok(Issued {
        access_token: token,
        token_type: "bearer",
        blog_id,
        blog_url,
        scope,
        expires_in: state.settings.access_token_ttl,
    })
}

/// Why a claimed code was refused: mapped to `invalid_grant` with a precise description.
enum CodeMismatch {
    OtherClient,
    RedirectUri(RedirectMismatch),
    Pkce(&'static str),
    /// The grant no longer holds: the user lost the blog it was given for.
    GrantLapsed,
}

async fn authorization_code(
    state: &AppState,
    client: &Client,
    params: &Params,
    peer: Peer,
) -> Result<Issued, OAuthError> {
    let code = required(params, "code")?;
    if !secret::well_formed(secret::Kind::AuthCode, code) {
        return Err(OAuthError::invalid_request(
            "The code parameter is malformed.",
        ));
    }
    let redirect_uri = param(params, "redirect_uri");
    let verifier = param(params, "code_verifier");
    if let Some(v) = verifier {
        pkce::validate_verifier(v).map_err(|e| OAuthError::invalid_grant(e.to_string()))?;
    }
    let app = &client.app;
    let registered = app.redirect_uri_list();
    let now = state.now();
    let minted = tokens::mint(state);
    let expires_at = state.settings.access_token_ttl.map(|ttl| now + ttl);
    let outcome = state
        .store
        .redeem_code(&secret::digest(code), now, |claimed| {
            if claimed.app_id != app.id {
                // Another client's code: refuse without burning it for its rightful owner.
                return Err((CodeMismatch::OtherClient, false));
            }
            // Rolled back, not burnt: the client can retry with the right value (issue 13).
            redirect_uri::same_as_authorized(redirect_uri, &registered, &claimed.redirect_uri)
                .map_err(|m| (CodeMismatch::RedirectUri(m), false))?;
            match (&claimed.code_challenge, verifier) {
                (Some(challenge), Some(v)) if pkce::verify(v, challenge) => {}
                (Some(_), Some(_)) => return Err((CodeMismatch::Pkce("The code_verifier does not match the code_challenge."), true)),
                (Some(_), None) => return Err((CodeMismatch::Pkce("The code_verifier parameter is required: this code was issued with a code_challenge."), true)),
                (None, Some(_)) => return Err((CodeMismatch::Pkce("A code_verifier was sent but this code was issued without a code_challenge."), true)),
                (None, None) if client.method == Method::None => {
                    return Err((CodeMismatch::Pkce("This client has no secret, so it must use PKCE."), true));
                }
                (None, None) => {}
            }
            if !code_holds(claimed) {
                return Err((CodeMismatch::GrantLapsed, true));
            }
            Ok(CodeToken {
                digest: &minted.digest,
                expires_at,
            })
        })
        .await?;
    let refusal = match outcome {
        Ok((claimed, _token_id)) => {
            return issued(state, minted.token, claimed.site_id, claimed.scope).await;
        }
        Err(refusal) => refusal,
    };
    record_refusal(state, app.id, peer, &refusal).await?;
    Err(OAuthError::invalid_grant(match refusal {
        RedeemRefusal::Invalid => "The authorization code is invalid or has expired.",
        RedeemRefusal::Replayed => {
            "The authorization code was already used; the token issued from it has been revoked."
        }
        RedeemRefusal::Spent => {
            "The authorization code is no longer valid: an earlier attempt to redeem it failed."
        }
        RedeemRefusal::Rejected { reason, .. } => match reason {
            CodeMismatch::OtherClient => "The authorization code was issued to another client.",
            CodeMismatch::RedirectUri(RedirectMismatch::Mismatch) => {
                "The redirect_uri does not match the one used at authorization: it must be \
                 byte for byte the same."
            }
            CodeMismatch::RedirectUri(RedirectMismatch::Missing) => {
                "The redirect_uri parameter is missing: send the one used at authorization."
            }
            CodeMismatch::Pkce(why) => why,
            CodeMismatch::GrantLapsed => {
                "The authorization code is no longer valid: its user no longer administers \
                 the blog it was issued for."
            }
        },
    }))
}

/// What a refused code redemption costs, in both dialects: guessing codes spends the client's
/// and the address's failure budgets (AC06), and a replay (whose token the store has just
/// revoked) goes to the audit log. The other refusals cost nothing more.
pub(crate) async fn record_refusal<R>(
    state: &AppState,
    app_id: i64,
    peer: Peer,
    refusal: &RedeemRefusal<R>,
) -> Result<(), OAuthError> {
    match refusal {
        RedeemRefusal::Invalid => client_auth::record_failure(state, &app_id.to_string(), peer),
        RedeemRefusal::Replayed => crate::audit::code_replayed(state, app_id, peer).await?,
        RedeemRefusal::Spent | RedeemRefusal::Rejected { .. } => {}
    }
    Ok(())
}

/// Whether the grant a claimed code carries still holds (AC11), by the rule the REST API applies.
/// The account, the app and the connection need no check here: deleting any of them deletes the
/// code (foreign keys), so it can no longer be claimed. Shared with `oauth21::token`.
pub(crate) fn code_holds(code: &RedeemedCode) -> bool {
    tokens::holds(&code.scope, code.site_id, code.site_admin)
}

/// The password grant: for the app's owner only, to test their own app (oauth2.md §4).
async fn password(
    state: &AppState,
    client: &Client,
    params: &Params,
    peer: Peer,
) -> Result<Issued, OAuthError> {
    if client.method == Method::None {
        return Err(OAuthError::unauthorized_client(
            "A client without a secret may not use the password grant.",
        ));
    }
    let (Some(username), Some(password)) = (param(params, "username"), param(params, "password"))
    else {
        return Err(OAuthError::invalid_request(
            "The username and password parameters are required.",
        ));
    };
    let scope = scope::parse(param(params, "scope"))
        .map_err(|e| OAuthError::invalid_scope(e.to_string()))?;
    let auth = state.auth();
    let verdict = app_passwords::authenticate_grant(&auth, username, password, peer.0).await?;
    let (user, app_password_id) = match verdict {
        GrantVerdict::Accepted { user, app_password } => (user, app_password),
        GrantVerdict::Throttled { retry_after } => {
            return Err(OAuthError::throttled(retry_after));
        }
        // PW05: only a first-party client that says it handles 2-step learns that the
        // password was right; everyone else gets the generic answer.
        GrantVerdict::NeedsSecondFactor if param(params, "wpcom_supports_2fa") == Some("true") => {
            return Err(OAuthError::needs_2fa(
                "This account has 2-step authentication: create an application password at \
                 /me/security/application-passwords and use it as the password.",
            ));
        }
        GrantVerdict::Refused | GrantVerdict::NeedsSecondFactor => {
            return Err(OAuthError::invalid_request(
                "Incorrect username or password.",
            ));
        }
    };
    if client.app.owner_id != Some(user.id) {
        return Err(OAuthError::unsupported_grant_type(
            "This client does not allow the password grant for this user.",
        ));
    }
    let site_id = match scope {
        Scope::Global | Scope::Auth => None,
        Scope::Blog(_) => Some(password_grant_blog(state, user.id, param(params, "blog")).await?),
    };
    let now = state.now();
    let minted = tokens::mint(state);
    let wire = scope.wire();
    let token = NewToken {
        digest: &minted.digest,
        app_id: client.app.id,
        user_id: user.id,
        site_id,
        scope: &wire,
        origin: "password",
        expires_at: state.settings.access_token_ttl.map(|ttl| now + ttl),
    };
    let mut tx = state.store.begin();
    match app_password_id {
        None => {
            tx.grant_token(&token, now).await?;
        }
        // Tied to the application password, so revoking it revokes the token.
        Some(id) => {
            if tx
                .grant_token_with_app_password(&token, id, now)
                .await?
                .is_none()
            {
                return Err(OAuthError::invalid_request(
                    "Incorrect username or password.",
                ));
            }
        }
    }
    tx.commit().await?;
    issued(state, minted.token, site_id, wire).await
}

/// The blog of a single-blog password grant: the one named, if the user administers it, or else
/// the user's primary blog (the first they administer).
async fn password_grant_blog(
    state: &AppState,
    user_id: i64,
    blog: Option<&str>,
) -> Result<i64, OAuthError> {
    let sites = state.store.administered_sites(user_id).await?;
    match blog {
        Some(raw) => {
            let wanted = crate::domain::site_url::parse_blog_param(raw)
                .map_err(|e| OAuthError::invalid_request(e.to_string()))?;
            sites
                .iter()
                .find(|s| wanted.names(s.id, &s.url))
                .map(|s| s.id)
                .ok_or_else(|| {
                    OAuthError::invalid_request(
                        "You do not administer the blog named by the blog parameter.",
                    )
                })
        }
        None => sites.first().map(|s| s.id).ok_or_else(|| {
            OAuthError::invalid_scope(
                "This user administers no blog: request scope=auth or scope=global instead.",
            )
        }),
    }
}
