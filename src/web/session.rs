//! Browser sessions and CSRF tokens (security.md, Decisions: cookies).
//!
//! The session cookie carries a random id (`lkss_…`); the database keeps only its digest. The
//! cookie is `HttpOnly; SameSite=Lax; Path=/`, plus `Secure` and the `__Host-` prefix whenever the
//! public URL is https. A new id is issued at every login. CSRF tokens are HMACs under the server
//! key over the session and the purpose of the form (for consent: the authorization request), so a
//! token from another session or another request never verifies. The login form, which has no
//! session yet, binds its token to a separate pre-login cookie and also refuses cross-site posts.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use axum::response::{IntoResponse, Redirect, Response};

use super::error::PageError;
use crate::domain::secret::{self, Kind};
use crate::http::peer::Peer;
use crate::state::AppState;
use crate::store::{AuditEvent, StoreError, Tx, User};

/// The logged-in user of a request, with the digest of their session id.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub user: User,
    pub digest: [u8; 32],
}

/// The name of a Latchkey cookie, given with its `__Host-` prefix: kept over https (the prefix
/// binds the cookie to this host, `Secure` and `Path=/`), dropped over plain http, where browsers
/// refuse a prefixed cookie.
pub(crate) fn cookie_name(state: &AppState, prefixed: &'static str) -> &'static str {
    if state.settings.is_https() {
        prefixed
    } else {
        prefixed.strip_prefix("__Host-").unwrap_or(prefixed)
    }
}

pub(crate) fn session_cookie_name(state: &AppState) -> &'static str {
    cookie_name(state, "__Host-latchkey_session")
}

pub(crate) fn login_cookie_name(state: &AppState) -> &'static str {
    cookie_name(state, "__Host-latchkey_login")
}

/// A cookie with the attributes every Latchkey cookie has.
pub(crate) fn cookie(
    state: &AppState,
    name: &'static str,
    value: String,
    max_age: Option<i64>,
) -> Cookie<'static> {
    let mut c = Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(state.settings.is_https())
        .build();
    if let Some(secs) = max_age {
        c.set_max_age(time::Duration::seconds(secs));
    }
    c
}

/// Starts a session for `user_id` in `tx` (it exists once `tx` commits) and returns the cookie
/// that carries it.
pub async fn start(
    state: &AppState,
    tx: &mut Tx<'_>,
    user_id: i64,
) -> Result<Cookie<'static>, StoreError> {
    let id = secret::mint(Kind::Session, &*state.random);
    let now = state.now();
    let ttl = state.settings.session_ttl;
    tx.create_session(&secret::digest(&id), user_id, now, now + ttl)
        .await?;
    Ok(cookie(state, session_cookie_name(state), id, Some(ttl)))
}

/// Ends the session of this request, if any, and returns the cookie that clears it.
pub(crate) async fn end(state: &AppState, jar: &CookieJar) -> Result<Cookie<'static>, PageError> {
    if let Some(c) = jar.get(session_cookie_name(state)) {
        let mut tx = state.store.begin();
        tx.delete_session(&secret::digest(c.value())).await?;
        tx.commit().await?;
    }
    Ok(cookie(
        state,
        session_cookie_name(state),
        String::new(),
        Some(0),
    ))
}

async fn current(parts: &Parts, state: &AppState) -> Result<Option<SessionUser>, PageError> {
    let jar = CookieJar::from_headers(&parts.headers);
    let Some(c) = jar.get(session_cookie_name(state)) else {
        return Ok(None);
    };
    if !secret::well_formed(Kind::Session, c.value()) {
        return Ok(None);
    }
    let digest = secret::digest(c.value());
    let Some(session) = state.store.session(&digest, state.now()).await? else {
        return Ok(None);
    };
    Ok(state
        .store
        .user_by_id(session.user_id)
        .await?
        .map(|user| SessionUser { user, digest }))
}

impl OptionalFromRequestParts<AppState> for SessionUser {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, PageError> {
        current(parts, state).await
    }
}

impl FromRequestParts<AppState> for SessionUser {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        current(parts, state)
            .await?
            .ok_or_else(|| PageError::Forbidden("Log in first.".into()))
    }
}

fn mac(state: &AppState, parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&state.key.0).expect("HMAC takes any key length");
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The CSRF token for a form of `purpose` in this session.
pub fn csrf_token(state: &AppState, session: &SessionUser, purpose: &str) -> String {
    mac(state, &[b"csrf", &session.digest, purpose.as_bytes()])
}

/// Checks a posted CSRF token in constant time.
pub(crate) fn verify_csrf(
    state: &AppState,
    session: &SessionUser,
    purpose: &str,
    presented: Option<&str>,
) -> Result<(), PageError> {
    let expected = csrf_token(state, session, purpose);
    match presented {
        Some(p) if secret::digest_eq(p.as_bytes(), expected.as_bytes()) => Ok(()),
        _ => Err(PageError::Forbidden(
            "The form has expired or did not come from this site. Go back, reload the page and try again.".into(),
        )),
    }
}

/// The login form's CSRF token, bound to the pre-login cookie value.
pub(crate) fn login_csrf_token(state: &AppState, cookie_value: &str) -> String {
    mac(state, &[b"login", cookie_value.as_bytes()])
}

/// The second-step form's CSRF token, bound to the pending-login cookie value.
pub(crate) fn second_step_csrf_token(state: &AppState, cookie_value: &str) -> String {
    mac(state, &[b"second-step", cookie_value.as_bytes()])
}

/// Completes a login (the password, or the password and then the code): a session with a new id,
/// the `login` audit event, the cookie `spent` that carried the login so far cleared, and on to
/// `redirect_to`.
pub(crate) async fn complete_login(
    state: &AppState,
    jar: CookieJar,
    user_id: i64,
    peer: Peer,
    detail: &str,
    spent: &'static str,
    redirect_to: &str,
) -> Result<Response, PageError> {
    let mut tx = state.store.begin();
    let c = start(state, &mut tx, user_id).await?;
    let event = AuditEvent {
        kind: "login",
        user_id: Some(user_id),
        peer: Some(peer.to_string()),
        detail,
        ..Default::default()
    };
    tx.audit(&event, state.now()).await?;
    tx.commit().await?;
    let jar = jar.add(c).add(cookie(state, spent, String::new(), Some(0)));
    Ok((jar, Redirect::to(redirect_to)).into_response())
}

/// Refuses requests that a browser marks as cross-site, or whose `Origin` is not ours.
pub(crate) fn same_origin(state: &AppState, headers: &HeaderMap) -> Result<(), PageError> {
    let refused = || PageError::Forbidden("Cross-site form submissions are refused.".into());
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
    {
        return Err(refused());
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let ours = state.settings.public_url.origin().ascii_serialization();
        // Under `Referrer-Policy: no-referrer` browsers send `Origin: null` on same-origin form
        // posts; such a post is accepted only when the browser vouches that it is same-origin.
        let vouched = origin == "null"
            && headers
                .get("sec-fetch-site")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("same-origin"));
        if origin != ours && !vouched {
            return Err(refused());
        }
    }
    Ok(())
}
