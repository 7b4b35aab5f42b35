//! The principal of a REST request: the grant a request's credentials stand for (user, app, blog,
//! scope). One extractor, whatever the credential:
//!
//! - an OAuth2 bearer (`Authorization: Bearer`, scheme case-insensitive; never a token in the query
//!   or body, oauth2.md §6), checked here;
//! - an OAuth 1.0a signature (`Authorization: OAuth …` or `oauth_*` parameters in the query or form
//!   body), verified by the `api::oauth1` layer that runs before this one and leaves the
//!   `Principal` in the request's extensions (errors there are the WordPress JSON shape).
//!
//! A request presenting two kinds of credentials (two `Authorization` headers, or a bearer plus
//! `oauth_*` parameters) or a token in the URL or body is refused with 400 `invalid_request`
//! (RFC 6750 §2, §3.1): guessing which one the client meant would let one credential ride on
//! another's checks.
//!
//! [`resolve_once`] resolves the credentials once per request, before the CORS check (which needs
//! the token's app), and leaves the outcome in the request's extensions for the extractor.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ErrorCode};
use crate::domain::resource;
use crate::domain::scope::{self, Scope};
use crate::http::body::POST_BODY_LIMIT;
use crate::oauth1::signature::{self, RequestParts};
use crate::oauth2::tokens;
use crate::state::AppState;

#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub user_id: i64,
    pub app_id: i64,
    /// The blog of a single-blog grant; `None` for `global` and `auth`.
    pub site_id: Option<i64>,
    pub scope: Scope,
    /// The OAuth2 access token presented (`None` for an OAuth1 signature), so what it opened can
    /// end with it.
    pub token_id: Option<i64>,
}

/// The credentials a request presents, before any of them is checked.
#[derive(Debug)]
pub(crate) enum Presented<'a> {
    None,
    Bearer(&'a str),
    /// OAuth 1.0a protocol parameters somewhere in the request (verified by the `api::oauth1` layer).
    OAuth1,
}

/// The raw `application/x-www-form-urlencoded` body of a REST request, kept by [`resolve_once`]:
/// OAuth1 signs its parameters, and a bearer request must not smuggle `oauth_*` ones in it.
#[derive(Debug, Clone)]
pub(crate) struct FormBody(pub Bytes);

/// The outcome of resolving a request's credentials, shared by the CORS check and the extractor.
#[derive(Debug, Clone)]
struct Resolved(Result<Option<Principal>, ApiError>);

fn two_kinds() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidRequest,
        "The request carries more than one kind of credentials; send exactly one: an \
         Authorization: Bearer header or an OAuth 1.0a signature.",
    )
}

fn token_in_params() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidRequest,
        "Send the access token in an Authorization: Bearer header; tokens in the URL or the body \
         are not accepted.",
    )
}

fn names(raw: &[u8], wanted: &str) -> bool {
    form_urlencoded::parse(raw).any(|(name, _)| name == wanted)
}

/// Sorts out which credentials a request presents (pure: no lookup).
pub(crate) fn presented<'a>(
    parts: &'a Parts,
    form_body: Option<&'a [u8]>,
) -> Result<Presented<'a>, ApiError> {
    let mut headers = parts.headers.get_all(header::AUTHORIZATION).iter();
    let authorization = headers.next();
    if headers.next().is_some() {
        return Err(two_kinds());
    }
    let authorization = match authorization {
        Some(value) => Some(value.to_str().map_err(|_| ApiError::invalid_token())?),
        None => None,
    };
    let query = parts.uri.query();
    if query.is_some_and(|q| names(q.as_bytes(), "access_token"))
        || form_body.is_some_and(|b| names(b, "access_token"))
    {
        return Err(token_in_params());
    }
    let request = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query,
        form_body,
        authorization,
    };
    let bearer = authorization.and_then(|value| {
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    match (bearer, signature::has_oauth(&request)) {
        (Some(_), true) => Err(two_kinds()),
        (Some(token), false) => Ok(Presented::Bearer(token)),
        (None, true) => Ok(Presented::OAuth1),
        // Another scheme (Basic, …) is a credential this API does not take.
        (None, false) if authorization.is_some() => Err(ApiError::invalid_token()),
        (None, false) => Ok(Presented::None),
    }
}

/// Whether the request presents any credential at all, even a malformed one: an `Authorization`
/// header, or a token or OAuth1 parameter in the query.
pub(crate) fn presents_credentials(headers: &HeaderMap, uri: &Uri) -> bool {
    headers.contains_key(header::AUTHORIZATION)
        || uri.query().is_some_and(|q| {
            form_urlencoded::parse(q.as_bytes())
                .any(|(name, _)| name.starts_with("oauth_") || name == "access_token")
        })
}

async fn bearer(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    bearer_for(state, token, &state.rest_api).await
}

/// The principal behind a bearer token presented to the Latchkey resource `resource` (the REST
/// API, or the MCP endpoint): the token must be valid through the one validation cache, name
/// `resource` among its audiences (oauth21.md §4), and stand for a user.
pub(crate) async fn bearer_for(
    state: &AppState,
    token: &str,
    resource: &str,
) -> Result<Principal, ApiError> {
    // The cached grant itself (`tokens::lookup`), not a copy: only its ids and scope are kept.
    let grant = tokens::lookup(state, token, state.now())
        .await?
        .ok_or_else(ApiError::invalid_token)?;
    if !resource::admits(grant.audiences.as_deref(), resource, &state.rest_api) {
        return Err(ApiError::invalid_token());
    }
    if !grant.has_user() {
        return Err(ApiError::unauthorized(
            "This token stands for an application alone (client_credentials); this endpoint \
             needs a user.",
        ));
    }
    let scope = scope::granted(&grant.scope).map_err(|_| ApiError::invalid_token())?;
    Ok(Principal {
        user_id: grant.user_id,
        app_id: grant.app_id,
        site_id: grant.site_id,
        scope,
        token_id: Some(grant.token_id),
    })
}

/// The principal behind a request's credentials: `None` when it presents none.
pub(crate) async fn resolve(
    state: &AppState,
    parts: &Parts,
    form_body: Option<&[u8]>,
) -> Result<Option<Principal>, ApiError> {
    match presented(parts, form_body)? {
        Presented::None => Ok(None),
        Presented::Bearer(token) => bearer(state, token).await.map(Some),
        // Verified by the `api::oauth1` layer, which runs first and leaves the principal here.
        Presented::OAuth1 => parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Some)
            .ok_or_else(ApiError::invalid_token),
    }
}

/// How [`resolve_once`] resolved this request's credentials, if it ran.
pub(crate) fn resolved(
    extensions: &axum::http::Extensions,
) -> Option<&Result<Option<Principal>, ApiError>> {
    extensions.get::<Resolved>().map(|r| &r.0)
}

fn is_form(parts: &Parts) -> bool {
    parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Keeps a form body (up to [`POST_BODY_LIMIT`]) and resolves the credentials once, for the CORS
/// check and the handler; a body over the limit is refused.
pub(crate) async fn resolve_once(state: &AppState, request: Request) -> Result<Request, Response> {
    let (mut parts, body) = request.into_parts();
    let (body, form) = if is_form(&parts) {
        match axum::body::to_bytes(body, POST_BODY_LIMIT).await {
            Ok(bytes) => (Body::from(bytes.clone()), Some(bytes)),
            Err(_) => return Err(super::too_large().into_response()),
        }
    } else {
        (body, None)
    };
    let resolved = resolve(state, &parts, form.as_deref()).await;
    parts.extensions.insert(Resolved(resolved));
    if let Some(bytes) = form {
        parts.extensions.insert(FormBody(bytes));
    }
    Ok(Request::from_parts(parts, body))
}

impl OptionalFromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, ApiError> {
        if let Some(Resolved(resolved)) = parts.extensions.get::<Resolved>() {
            return resolved.clone();
        }
        let form = parts.extensions.get::<FormBody>().map(|f| f.0.clone());
        resolve(state, parts, form.as_deref()).await
    }
}

/// Extracting `Principal` directly requires credentials; endpoints word their own "missing" error
/// by extracting `Option<Principal>` instead.
impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        <Principal as OptionalFromRequestParts<AppState>>::from_request_parts(parts, state)
            .await?
            .ok_or_else(|| {
                ApiError::authorization_required(
                    "An active access token must be used to access this endpoint.",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request as HttpRequest;

    fn parts(uri: &str, authorization: &[&str]) -> Parts {
        let mut builder = HttpRequest::builder().method("POST").uri(uri);
        for value in authorization {
            builder = builder.header(header::AUTHORIZATION, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    fn kind(p: &Parts, body: Option<&[u8]>) -> Result<&'static str, String> {
        match presented(p, body) {
            Ok(Presented::None) => Ok("none"),
            Ok(Presented::Bearer(_)) => Ok("bearer"),
            Ok(Presented::OAuth1) => Ok("oauth1"),
            Err(e) => Err(e.error.as_str().to_owned()),
        }
    }

    /// URI, `Authorization` headers, form body, expected kind or error slug.
    type Case<'a> = (
        &'a str,
        &'a [&'a str],
        Option<&'a [u8]>,
        Result<&'a str, &'a str>,
    );

    #[test]
    fn each_request_presents_exactly_one_kind_of_credentials_or_is_refused() {
        let oauth = "OAuth oauth_consumer_key=\"k\", oauth_signature=\"s\"";
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("/me", &[], None, Ok("none")),
            ("/me", &["Bearer abc"], None, Ok("bearer")),
            ("/me", &["bEaReR abc"], None, Ok("bearer")),
            ("/me", &[oauth], None, Ok("oauth1")),
            ("/me?oauth_consumer_key=k", &[], None, Ok("oauth1")),
            ("/me", &[], Some(b"oauth_token=t&x=1"), Ok("oauth1")),
            ("/me", &["Bearer a", "Bearer b"], None, Err("invalid_request")),
            ("/me", &["Bearer a", oauth], None, Err("invalid_request")),
            ("/me?oauth_token=t", &["Bearer a"], None, Err("invalid_request")),
            ("/me", &["Bearer a"], Some(b"oauth_signature=x"), Err("invalid_request")),
            ("/me?access_token=a", &[], None, Err("invalid_request")),
            ("/me?access_token=a", &["Bearer a"], None, Err("invalid_request")),
            ("/me", &[], Some(b"title=x&access_token=a"), Err("invalid_request")),
            ("/me", &["Basic YTpi"], None, Err("invalid_token")),
        ];
        for (uri, auth, body, expected) in cases {
            let p = parts(uri, auth);
            assert_eq!(
                kind(&p, *body),
                expected.map_err(str::to_owned),
                "{uri} {auth:?} {body:?}"
            );
        }
    }
}
