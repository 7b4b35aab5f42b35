//! `GET` and `POST /oauth2-1/userinfo` (OpenID Connect Core §5.3, oauth21.md §6): the claims about
//! the user for the scopes the access token was granted, when they include `openid`. The token is
//! validated through the one validation cache, as the REST API does, and is taken from the
//! `Authorization: Bearer` header only (RFC 6750 §2.1); errors are RFC 6750 §3's.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::claims::{self, Granted};
use super::error::OidcError;
use crate::http::headers::no_store;
use crate::oauth2::tokens;
use crate::state::AppState;

/// The bearer token of a request, or why there is none to use.
fn bearer<'a>(headers: &'a HeaderMap, uri: &Uri) -> Result<&'a str, OidcError> {
    if uri.query().is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(name, _)| name == "access_token")
    }) {
        return Err(OidcError::InvalidRequest(
            "Send the access token in an Authorization: Bearer header, not in the URL.",
        ));
    }
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(OidcError::MissingToken);
    };
    if values.next().is_some() {
        return Err(OidcError::InvalidRequest(
            "Send exactly one Authorization header.",
        ));
    }
    let value = value.to_str().map_err(|_| OidcError::InvalidToken)?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            let token = token.trim();
            if token.is_empty() {
                Err(OidcError::InvalidToken)
            } else {
                Ok(token)
            }
        }
        // Another scheme is no credential UserInfo takes: answered as no token (a bare challenge).
        _ => Err(OidcError::MissingToken),
    }
}

/// `GET` and `POST /oauth2-1/userinfo`.
pub(crate) async fn userinfo(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, OidcError> {
    let token = bearer(&headers, &uri)?;
    let grant = tokens::validate(&state, token, state.now())
        .await?
        .ok_or(OidcError::InvalidToken)?;
    let granted = Granted::from_scope(&grant.scope);
    if !granted.openid {
        return Err(OidcError::InsufficientScope);
    }
    let claims = claims::user_claims(&state.store, grant.user_id, granted)
        .await?
        .ok_or(OidcError::InvalidToken)?;
    let mut response = Json(Value::Object(claims)).into_response();
    no_store(response.headers_mut());
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_is_taken_from_one_authorization_header_only() {
        let uri: Uri = "/oauth2-1/userinfo".parse().unwrap();
        let with = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append(header::AUTHORIZATION, v.parse().unwrap());
            }
            headers
        };
        let cases: [(&[&str], Result<&str, OidcError>); 6] = [
            (&["Bearer lkat_x"], Ok("lkat_x")),
            (&["bearer  lkat_x "], Ok("lkat_x")),
            (&[], Err(OidcError::MissingToken)),
            (&["Basic YTpi"], Err(OidcError::MissingToken)),
            (&["Bearer "], Err(OidcError::InvalidToken)),
            (
                &["Bearer a", "Bearer b"],
                Err(OidcError::InvalidRequest(
                    "Send exactly one Authorization header.",
                )),
            ),
        ];
        for (values, want) in cases {
            let headers = with(values);
            assert_eq!(bearer(&headers, &uri), want, "{values:?}");
        }
        let in_query: Uri = "/oauth2-1/userinfo?access_token=lkat_x".parse().unwrap();
        assert!(matches!(
            bearer(&with(&["Bearer lkat_x"]), &in_query),
            Err(OidcError::InvalidRequest(_))
        ));
    }
}
