//! `/oauth1/authorize` (RFC 5849 §2.2, `spec/oauth1.md` §3): the browser step. It shares the login
//! detour and the consent page (blog selector included) with `/oauth2/authorize`; only a POST with a
//! CSRF token bound to the session, the request token and the callback approves. Approve → 303 to
//! the callback with `oauth_token`, `oauth_verifier` and `wp_scope=%2A`, or the verifier page for
//! `oob`; Deny → 303 with `oauth_problem=user_refused`, or a "request denied" page for `oob`.
//!
//! An already-approved token, opened again by the user who approved it, delivers its verifier again
//! (as the plugin does; the verifier is checked against a digest and kept sealed for this). Approving
//! it a second time, or opening it as someone else, gets an error page (security O120).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Redirect, Response};

use super::callback;
use crate::domain::crypto::{self, OAUTH1_VERIFIER_CONTEXT};
use crate::domain::random::alphanumeric;
use crate::domain::scope::Scope;
use crate::domain::secret;
use crate::http::headers::no_store;
use crate::http::params::Params;
use crate::state::AppState;
use crate::store::{App, Approval, AuditEvent, RequestToken};
use crate::web::consent::{self, Consent};
use crate::web::error::{ErrorCode, PageError};
use crate::web::redirect::login_first;
use crate::web::session::{self, SessionUser};

/// The `oob` result page: the verifier to copy, or (`None`) the denial.
#[derive(Template, WebTemplate)]
#[template(path = "oauth1_verifier.html")]
struct VerifierPage<'a> {
    app_name: &'a str,
    verifier: Option<&'a str>,
}

/// A request token waiting for the user's decision, with the callback that will receive it.
struct Pending {
    key: String,
    token: RequestToken,
    app: App,
    callback: String,
}

impl Pending {
    /// What the consent form's CSRF token is bound to.
    fn purpose(&self) -> String {
        format!(
            "oauth1-authorize\n{}\n{}",
            hex::encode(secret::digest(&self.key)),
            self.callback
        )
    }
}

fn bad(code: ErrorCode, message: &str) -> PageError {
    PageError::BadRequest {
        code,
        message: message.to_owned(),
    }
}

/// Finds the request token named by `oauth_token` and settles the callback: an `oauth_callback`
/// given here replaces the one given at request time, under the same rules; with none given at
/// either step, the consumer must be registered with `oob` (`callback::settle`).
async fn pending(state: &AppState, params: &Params) -> Result<Pending, PageError> {
    let repeated = |e: crate::http::params::Repeated| PageError::invalid_request(e.to_string());
    let key = params
        .get("oauth_token")
        .map_err(repeated)?
        .ok_or_else(|| PageError::invalid_request("Missing parameter oauth_token."))?;
    let invalid = || {
        bad(
            ErrorCode::InvalidToken,
            "Invalid token: start again from the application.",
        )
    };
    if key.len() > 64 {
        return Err(invalid());
    }
    let token = state
        .store
        .request_token(&secret::digest(key))
        .await?
        .ok_or_else(invalid)?;
    if token.expires_at <= state.now() {
        let mut tx = state.store.begin();
        tx.delete_request_token(token.id).await?;
        tx.commit().await?;
        return Err(bad(
            ErrorCode::ExpiredToken,
            "This request has expired: start again from the application.",
        ));
    }
    let app = state
        .store
        .app_by_id(token.app_id)
        .await?
        .ok_or_else(invalid)?;
    let callback = match params.get("oauth_callback").map_err(repeated)? {
        Some(supplied) => {
            let registered = app.oauth1_callback.as_deref().unwrap_or("");
            callback::check(registered, supplied).map_err(|e| {
                bad(
                    ErrorCode::CallbackRejected,
                    &format!("Callback URL is invalid: {e}."),
                )
            })?;
            supplied.to_owned()
        }
        None => {
            let registered = app.oauth1_callback.as_deref().unwrap_or("");
            callback::settle(registered, &token.callback).map_err(|e| {
                bad(
                    ErrorCode::CallbackRejected,
                    &format!("Callback URL is missing: {e}."),
                )
            })?
        }
    };
    Ok(Pending {
        key: key.to_owned(),
        token,
        app,
        callback,
    })
}

/// GET: the login detour, then the consent page.
pub(crate) async fn show(
    State(state): State<AppState>,
    session: Option<SessionUser>,
    uri: Uri,
) -> Response {
    let params = match Params::decode(uri.query().unwrap_or("").as_bytes()) {
        Ok(params) => params,
        Err(m) => return PageError::from(m).into_response(),
    };
    let pending = match pending(&state, &params).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let Some(session) = session else {
        return login_first(uri.path_and_query().map_or("/", |pq| pq.as_str()));
    };
    if pending.token.is_approved() {
        return redeliver(&state, &session, &pending).unwrap_or_else(IntoResponse::into_response);
    }
    consent_page(&state, &session, &pending)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn consent_page(
    state: &AppState,
    session: &SessionUser,
    pending: &Pending,
) -> Result<Response, PageError> {
    let consent = Consent {
        action: "/oauth1/authorize",
        app: &pending.app,
        permissions: Scope::full_blog().permissions(),
        single_blog: true,
        named_blog: None,
        redirect_uri: &pending.callback,
        hidden: vec![
            ("oauth_token", pending.key.clone()),
            ("oauth_callback", pending.callback.clone()),
        ],
        purpose: &pending.purpose(),
    };
    consent::page(state, session, consent).await
}

fn already_approved() -> PageError {
    bad(
        ErrorCode::InvalidToken,
        "This request was already approved: start again from the application.",
    )
}

/// An approved token opened again by its approver: the same callback (or `oob` page) again.
fn redeliver(
    state: &AppState,
    session: &SessionUser,
    pending: &Pending,
) -> Result<Response, PageError> {
    if pending.token.user_id != Some(session.user.id) {
        return Err(already_approved());
    }
    let verifier = pending
        .token
        .verifier_enc
        .as_deref()
        .and_then(|sealed| crypto::open(&state.key.0, OAUTH1_VERIFIER_CONTEXT, sealed))
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(already_approved)?;
    Ok(deliver(
        pending,
        &[
            ("oauth_token", &pending.key),
            ("oauth_verifier", &verifier),
            ("wp_scope", "*"),
        ],
        Some(&verifier),
    ))
}

/// POST: the consent form's answer.
pub(crate) async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Option<SessionUser>,
    body: axum::body::Bytes,
) -> Response {
    let params = match Params::decode(&body) {
        Ok(params) => params,
        Err(m) => return PageError::from(m).into_response(),
    };
    match answer(&state, &headers, session, &params).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn answer(
    state: &AppState,
    headers: &HeaderMap,
    session: Option<SessionUser>,
    params: &Params,
) -> Result<Response, PageError> {
    session::same_origin(state, headers)?;
    let Some(session) = session else {
        return Err(PageError::Forbidden(
            "Your session has ended. Log in and start again from the application.".into(),
        ));
    };
    let pending = pending(state, params).await?;
    if pending.token.is_approved() {
        return Err(already_approved());
    }
    session::verify_csrf(
        state,
        &session,
        &pending.purpose(),
        params.get("csrf").ok().flatten(),
    )?;
    let user = &session.user;
    let now = state.now();
    if params.get("action").ok().flatten() != Some("approve") {
        let mut tx = state.store.begin();
        tx.delete_request_token(pending.token.id).await?;
        let event = AuditEvent::consent_denied(user.id, pending.app.id, "oauth1");
        tx.audit(&event, now).await?;
        tx.commit().await?;
        return Ok(deliver(
            &pending,
            &[
                ("oauth_token", &pending.key),
                ("oauth_problem", "user_refused"),
            ],
            None,
        ));
    }
    let blog_id = consent::chosen_blog(state, user.id, params).await?;
    let verifier = alphanumeric(&*state.random, 24);
    let sealed = crypto::seal(
        &state.key.0,
        OAUTH1_VERIFIER_CONTEXT,
        verifier.as_bytes(),
        &*state.random,
    );
    let approval = Approval {
        verifier_digest: &secret::digest(&verifier),
        verifier_enc: &sealed,
        user_id: user.id,
        site_id: blog_id,
        callback: &pending.callback,
    };
    let mut tx = state.store.begin();
    if !tx
        .approve_request_token(pending.token.id, &approval, now)
        .await?
    {
        return Err(bad(
            ErrorCode::InvalidToken,
            "This request was already approved or has expired: start again from the application.",
        ));
    }
    let event = AuditEvent::consent_granted(user.id, pending.app.id, "oauth1");
    tx.audit(&event, now).await?;
    tx.commit().await?;
    Ok(deliver(
        &pending,
        &[
            ("oauth_token", &pending.key),
            ("oauth_verifier", &verifier),
            ("wp_scope", "*"),
        ],
        Some(&verifier),
    ))
}

/// Sends the decision to the client: a 303 to its callback, or the `oob` page.
fn deliver(pending: &Pending, params: &[(&str, &str)], verifier: Option<&str>) -> Response {
    let mut response = if pending.callback == "oob" {
        VerifierPage {
            app_name: &pending.app.name,
            verifier,
        }
        .into_response()
    } else {
        Redirect::to(&callback::append_params(&pending.callback, params)).into_response()
    };
    no_store(response.headers_mut());
    response
}
