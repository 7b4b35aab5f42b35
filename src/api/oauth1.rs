//! OAuth1-signed REST calls (`spec/oauth1.md` §6): a step of the REST routes' layer that verifies a
//! signature made with an access token and hands the handler the same `Principal` an OAuth2
//! single-blog bearer for that blog would give. Requests without any OAuth parameter pass through
//! untouched (anonymous or bearer); errors are the WordPress JSON shape, 401.

use axum::extract::Request;
use axum::http::header;
use axum::response::Response;

use super::principal::Principal;
use crate::domain::scope::Scope;
use crate::oauth1::problem::Problem;
use crate::oauth1::signature::{self, RequestParts};
use crate::oauth1::verify::{self, Expect, Incoming, Token};
use crate::state::AppState;

/// The request, with the `Principal` of its verified signature when it carries OAuth parameters;
/// a bad signature is refused.
pub(crate) async fn authenticate(state: &AppState, request: Request) -> Result<Request, Response> {
    if !verify::is_form(request.headers()) && !signature::has_oauth(&unsigned_parts(&request)) {
        // Most calls carry a bearer or nothing, and no body to read: decided on the request as it
        // is, without the copy of its parts that verifying a signature needs.
        return Ok(request);
    }
    let (incoming, mut request) = match Incoming::read(request).await {
        Ok(read) => read,
        Err(problem) => return Err(problem.into_rest_response()),
    };
    if !incoming.has_oauth() {
        return Ok(request);
    }
    let other_scheme = request
        .headers()
        .get_all(header::AUTHORIZATION)
        .iter()
        .any(|v| {
            !v.as_bytes()
                .get(..6)
                .is_some_and(|s| s.eq_ignore_ascii_case(b"oauth "))
        });
    if other_scheme {
        // Two kinds of credentials: the credential resolution refuses them (400 invalid_request,
        // RFC 6750 §3.1) in the shape of the route.
        return Ok(request);
    }
    match principal(state, &incoming).await {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            Ok(request)
        }
        Err(problem) => Err(problem.into_rest_response()),
    }
}

/// The parts of a request without a form body that a signature would cover, borrowed (what
/// `Incoming::read` copies).
fn unsigned_parts(request: &Request) -> RequestParts<'_> {
    RequestParts {
        method: request.method().as_str(),
        path: request.uri().path(),
        query: request.uri().query(),
        form_body: None,
        authorization: request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    }
}

async fn principal(state: &AppState, incoming: &Incoming) -> Result<Principal, Problem> {
    let verified = verify::verify(state, incoming, Expect::AccessToken).await?;
    let Token::Access(token) = verified.token else {
        return Err(Problem::TokenRejected);
    };
    Ok(Principal {
        user_id: token.user_id,
        app_id: token.app_id,
        site_id: token.site_id,
        scope: Scope::full_blog(),
        token_id: None,
    })
}
