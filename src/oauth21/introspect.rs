//! `POST /oauth2-1/token-info` and its alias `POST /oauth2/introspect`: token introspection
//! (RFC 7662, oauth21.md §4), for tokens of both dialects. (The legacy `GET /oauth2/token-info`
//! of `oauth2::token_info` is another endpoint with its own answer; a GET here is a 405 in the
//! OAuth JSON dialect, `server::fallback`.)
//!
//! The token is read through the validation cache (`Store::token_grant`), so a repeated
//! introspection costs no query. A refresh token of the 2.1 server is read from its table
//! (`Store::refresh_by_digest`): only a live one (unrotated, unexpired) is active. Every token that is not active *for this caller* answers exactly
//! `{"active":false}`: unknown, malformed, revoked, expired, lapsed (its user lost its blog,
//! `domain::reach::holds`) and foreign ones alike (RFC 7662 §2.2), so the answer leaks nothing.
//!
//! Who sees a token (oauth21.md §4): its own client, and for an access token also the resource
//! servers of its audiences, the apps that registered one of the URIs it is bound to (`latchkey
//! app update --resource`, `Store::resource_owner`). A refresh token is only ever shown to its own
//! client: a resource server is never sent one. Letting any authenticated client read any token
//! would turn introspection into a way to learn other users' names and scopes from a leaked token.
//!
//! An app-only token (`client_credentials`, oauth21.md §3) answers without `sub` and `username`:
//! it has no user, and a client id in `sub` could be taken for the user with the same number.

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::presented::{self, Presented};
use crate::domain::resource;
use crate::http::headers::no_store;
use crate::http::peer::Peer;
use crate::oauth2::client_auth::Client;
use crate::oauth2::error::OAuthError;
use crate::oauth2::tokens;
use crate::state::AppState;
use crate::store::{RefreshGrant, TokenGrant};

/// An active token, in RFC 7662 §2.2's members plus WordPress.com's `blog_id` (a string, as in
/// token-info and the token response).
#[derive(Debug, Serialize)]
struct Active {
    active: bool,
    /// Space-separated (RFC 7662); the stored form separates with commas (`domain::scope::wire`).
    scope: String,
    client_id: String,
    /// Absent for an app-only (`client_credentials`) token, which has no user.
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    token_type: &'static str,
    /// Absent for a token that does not expire (the legacy dialect's, oauth2.md §5).
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    iat: i64,
    /// The user's id; absent for an app-only token, so it is never taken for a user's.
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    aud: Vec<String>,
    iss: String,
    blog_id: String,
}

/// The one answer for every token that is not active for the caller.
#[derive(Debug, Serialize)]
struct Inactive {
    active: bool,
}

pub(crate) async fn introspect(
    State(state): State<AppState>,
    peer: Peer,
    request: Request,
) -> Result<Response, OAuthError> {
    let request = presented::read(&state, peer, request).await?;
    let now = state.now();
    let active = match request.token {
        Some(Presented::Access(digest)) => match state.store.token_grant(&digest, now).await? {
            Some(grant) => {
                let sees = sees(&state, &request.client, &grant).await?;
                active(&state, sees, &grant, "Bearer").await?
            }
            None => None,
        },
        Some(Presented::Refresh(digest)) => {
            match state.store.refresh_by_digest(&digest, now).await? {
                Some(refresh) => {
                    let grant = refresh_view(refresh);
                    let own = grant.app_id == request.client.app.id;
                    active(&state, own, &grant, "refresh_token").await?
                }
                None => None,
            }
        }
        None => None,
    };
    let mut response = match active {
        Some(active) => Json(active).into_response(),
        None => Json(Inactive { active: false }).into_response(),
    };
    no_store(response.headers_mut());
    Ok(response)
}

/// A live refresh token, seen as the access tokens' [`TokenGrant`] so both kinds answer alike.
///
/// Its `token_type` is `refresh_token`: an access token's `Bearer` (RFC 6749 §7.1) says how it is
/// presented to a resource, which a refresh token never is, so its answer names its kind in the
/// vocabulary of `token_type_hint` (RFC 7009 §2.1, RFC 7662 §2.1) instead, which RFC 7662 §2.2
/// leaves to the server. Its `exp` is its idle expiry (each rotation's successor gets a fresh one),
/// its `aud` the grant's audiences.
fn refresh_view(refresh: RefreshGrant) -> TokenGrant {
    TokenGrant {
        token_id: refresh.id,
        app_id: refresh.app_id,
        user_id: refresh.user_id,
        grant_id: refresh.grant_id,
        site_id: refresh.site_id,
        scope: refresh.scope,
        expires_at: Some(refresh.expires_at),
        issued_at: refresh.issued_at,
        site_admin: refresh.site_admin,
        audiences: refresh.resources,
    }
}

/// Whether `client` may see the access token of `grant`: it is the token's own client, or it
/// registered one of the token's audiences as its resource.
async fn sees(state: &AppState, client: &Client, grant: &TokenGrant) -> Result<bool, OAuthError> {
    if grant.app_id == client.app.id {
        return Ok(true);
    }
    for audience in resource::decode(grant.audiences.as_deref()) {
        if state.store.resource_owner(audience).await? == Some(client.app.id) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The answer for a live token: `None` unless the caller `sees` it, it still holds
/// (`domain::reach::holds`) and its user still exists.
async fn active(
    state: &AppState,
    sees: bool,
    grant: &TokenGrant,
    token_type: &'static str,
) -> Result<Option<Active>, OAuthError> {
    if !sees || !tokens::holds(&grant.scope, grant.site_id, grant.site_admin) {
        return Ok(None);
    }
    // A token outlives its user only until the deletion's revocation lands: then it is inactive.
    let username = match grant.has_user() {
        true => match state.store.profile(grant.user_id).await? {
            Some(profile) => Some(profile.username.clone()),
            None => return Ok(None),
        },
        false => None,
    };
    Ok(Some(Active {
        active: true,
        scope: grant.scope.replace(',', " "),
        client_id: grant.app_id.to_string(),
        sub: username.as_ref().map(|_| grant.user_id.to_string()),
        username,
        token_type,
        exp: grant.expires_at,
        iat: grant.issued_at,
        aud: audiences(state, grant.audiences.as_deref()),
        iss: state.settings.issuer().to_owned(),
        blog_id: grant.site_id.unwrap_or(0).to_string(),
    }))
}

/// A token's audiences: those it was bound to with `resource` (RFC 8707), else the REST API only
/// (oauth21.md §4), by the identifier its protected resource metadata publishes
/// (`oidc::discovery`, `{public_url}/rest/v1`, also at the bare
/// `/.well-known/oauth-protected-resource`) and the REST API checks (`domain::resource::admits`).
fn audiences(state: &AppState, stored: Option<&str>) -> Vec<String> {
    let bound = resource::decode(stored);
    if bound.is_empty() {
        return vec![state.rest_api.clone()];
    }
    bound.into_iter().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inactive_token_is_exactly_active_false() {
        let body = serde_json::to_string(&Inactive { active: false }).unwrap();
        assert_eq!(body, r#"{"active":false}"#);
    }

    #[test]
    fn a_token_without_expiry_has_no_exp_member() {
        let active = Active {
            active: true,
            scope: "global".into(),
            client_id: "7".into(),
            username: Some("alice".into()),
            token_type: "Bearer",
            exp: None,
            iat: 1,
            sub: Some("3".into()),
            aud: vec!["https://example.com".into()],
            iss: "https://example.com".into(),
            blog_id: "0".into(),
        };
        let json = serde_json::to_value(&active).unwrap();
        assert!(json.get("exp").is_none());
        assert_eq!(json["sub"], "3");
    }
}
