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
//! Who sees a token: its own client only. oauth21.md §4 also lets the registered resource servers of
//! a token's audiences see it, but Latchkey has no registry of resource servers yet (its audiences
//! are its own REST API and MCP endpoint, which validate tokens in-process), so no other client can
//! be recognised as one; letting any authenticated client read any token would turn
//! introspection into a way to learn other users' names and scopes from a leaked token.

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
    username: String,
    token_type: &'static str,
    /// Absent for a token that does not expire (the legacy dialect's, oauth2.md §5).
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    iat: i64,
    sub: String,
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
            Some(grant) => active(&state, &request.client, &grant, "Bearer").await?,
            None => None,
        },
        Some(Presented::Refresh(digest)) => {
            match state.store.refresh_by_digest(&digest, now).await? {
                Some(refresh) => {
                    let grant = refresh_view(refresh);
                    active(&state, &request.client, &grant, "refresh_token").await?
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

/// The answer for a live token: `None` unless it belongs to `client`, still holds
/// (`domain::reach::holds`) and its user still exists.
async fn active(
    state: &AppState,
    client: &Client,
    grant: &TokenGrant,
    token_type: &'static str,
) -> Result<Option<Active>, OAuthError> {
    if grant.app_id != client.app.id
        || !tokens::holds(&grant.scope, grant.site_id, grant.site_admin)
    {
        return Ok(None);
    }
    // A token outlives its user only until the deletion's revocation lands: then it is inactive.
    let Some(profile) = state.store.profile(grant.user_id).await? else {
        return Ok(None);
    };
    Ok(Some(Active {
        active: true,
        scope: grant.scope.replace(',', " "),
        client_id: grant.app_id.to_string(),
        username: profile.username.clone(),
        token_type,
        exp: grant.expires_at,
        iat: grant.issued_at,
        sub: grant.user_id.to_string(),
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
            username: "alice".into(),
            token_type: "Bearer",
            exp: None,
            iat: 1,
            sub: "3".into(),
            aud: vec!["https://example.com".into()],
            iss: "https://example.com".into(),
            blog_id: "0".into(),
        };
        let json = serde_json::to_value(&active).unwrap();
        assert!(json.get("exp").is_none());
        assert_eq!(json["sub"], "3");
    }
}
