//! The consent form's POST, one flow for both authorize dialects (oauth2.md §2, oauth21.md §2):
//! the same origin, the request validated again, the session and the form's CSRF token bound to
//! this very request, the user's approval or denial, the blog chosen for a single-blog grant
//! (`web::consent::chosen_blog`, as for OAuth1); then the dialect issues what its request asks for
//! ([`ConsentRequest`]). Also the code response both dialects send back on approval.

use std::future::Future;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::authorize_request::{Refused, ResponseType, refused, respond_to};
use super::error::ErrorCode;
use crate::http::params::{Malformed, Params};
use crate::state::AppState;
use crate::store::AuditEvent;
use crate::web::consent;
use crate::web::error::PageError;
use crate::web::session::{self, SessionUser};

/// A validated authorization request of one dialect, as the consent form's POST decides on it.
pub(crate) trait ConsentRequest: Sized + Send + Sync + 'static {
    /// Validates the request the form carries, by the rules of the dialect's GET.
    fn validate(
        state: &AppState,
        params: &Params,
        malformed: &[Malformed],
    ) -> impl Future<Output = Result<Self, Refused>> + Send;

    /// What the CSRF token of the consent form is bound to: everything that will be issued.
    fn purpose(&self) -> String;

    /// The app the user decides on.
    fn app_id(&self) -> i64;

    /// Whether the grant is for one blog, chosen on the form.
    fn single_blog(&self) -> bool;

    /// The refusal of this request at its redirect URI.
    fn bounce(&self, error: ErrorCode, description: &str) -> Refused;

    /// Records the approved grant and answers at the redirect URI with what it issued.
    fn issue(
        &self,
        state: &AppState,
        session: &SessionUser,
        site_id: Option<i64>,
    ) -> impl Future<Output = Result<Response, Refused>> + Send;
}

/// `POST` of a dialect's authorize endpoint (the consent form): re-validates everything, checks
/// the CSRF token, then issues or denies.
pub(crate) async fn post<R: ConsentRequest>(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Option<SessionUser>,
    body: axum::body::Bytes,
) -> Response {
    let (params, malformed) = Params::decode_partial(&body, &[]);
    match decide::<R>(&state, &headers, session, &params, &malformed).await {
        Ok(r) => r,
        Err(r) => refused(&state, r),
    }
}

async fn decide<R: ConsentRequest>(
    state: &AppState,
    headers: &HeaderMap,
    session: Option<SessionUser>,
    params: &Params,
    malformed: &[Malformed],
) -> Result<Response, Refused> {
    session::same_origin(state, headers)?;
    let request = R::validate(state, params, malformed).await?;
    let session = deciding_user(state, session, &request.purpose(), params)?;
    let user_id = session.user.id;
    if !approves(state, params, user_id, request.app_id()).await? {
        return Err(request.bounce(
            ErrorCode::AccessDenied,
            "The user denied access to this application.",
        ));
    }
    let site_id = if request.single_blog() {
        Some(consent::chosen_blog(state, user_id, params).await?)
    } else {
        None
    };
    request.issue(state, &session, site_id).await
}

/// The user deciding on the consent form's POST: the session must still be there, and the form's
/// CSRF token bound to it and to this very request (`purpose`).
fn deciding_user(
    state: &AppState,
    session: Option<SessionUser>,
    purpose: &str,
    params: &Params,
) -> Result<SessionUser, Refused> {
    let Some(session) = session else {
        return Err(PageError::Forbidden(
            "Your session has ended. Log in and start again from the application.".into(),
        )
        .into());
    };
    session::verify_csrf(state, &session, purpose, params.get("csrf").ok().flatten())?;
    Ok(session)
}

/// Whether the consent form approves (`action=approve`). Anything else is the user's denial,
/// recorded in the audit log before the caller answers `access_denied`.
async fn approves(
    state: &AppState,
    params: &Params,
    user_id: i64,
    app_id: i64,
) -> Result<bool, Refused> {
    if params.get("action").ok().flatten() == Some("approve") {
        return Ok(true);
    }
    let event = AuditEvent::consent_denied(user_id, app_id, "");
    state.store.audit_alone(&event, state.now()).await?;
    Ok(false)
}

/// The code response at the redirect URI, in both dialects: `code`, the client's `state` unless
/// absent or empty, and `iss` (RFC 9207).
pub(crate) fn code_response(
    state: &AppState,
    redirect_uri: &str,
    code: &str,
    client_state: Option<&str>,
) -> Response {
    let issuer = state.settings.issuer();
    let mut params = vec![("code", code)];
    if let Some(s) = client_state.filter(|s| !s.is_empty()) {
        params.push(("state", s));
    }
    params.push(("iss", issuer));
    respond_to(redirect_uri, ResponseType::Code, &params)
}
