//! 2-step authentication (oauth2.md §7, security.md PW05): the settings page
//! `/me/security/two-step` (enable by scanning a QR code and confirming a code, recovery codes
//! shown once, disable with a fresh code) and the login's second step `/login/two-step`.
//!
//! After a right password, `/login` starts no session for a 2-step account: it sets a short-lived
//! pending-login cookie, an HMAC under the server key over the user, an expiry and the account's
//! current password hash and 2-step state, and asks for a code. Any completed second factor changes
//! that state, so a pending cookie works for one login at most; a new session id is issued only
//! after the code. Wrong codes spend the same per-account budget as wrong passwords.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::error::PageError;
use super::login::{self, safe_redirect};
use super::page::Nav;
use super::session::{self, SessionUser};
use crate::domain::crypto::totp_seed_context as seed_context;
use crate::domain::two_step as rules;
use crate::domain::{crypto, random, secret};
use crate::http::headers::no_store;
use crate::http::params::Params;
use crate::http::peer::Peer;
use crate::state::AppState;
use crate::store::{AuditEvent, StoreError, User};

/// How long the second step may take after the password.
const PENDING_TTL: i64 = 300;
const PAGE: &str = "/me/security/two-step";

fn mac(state: &AppState, parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(&state.key.0).expect("HMAC takes any key length");
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn pending_cookie_name(state: &AppState) -> &'static str {
    if state.settings.is_https() {
        "__Host-latchkey_2fa"
    } else {
        "latchkey_2fa"
    }
}

fn recovery_digest(state: &AppState, user_id: i64, normalised: &str) -> [u8; 32] {
    mac(
        state,
        &[b"recovery", &user_id.to_be_bytes(), normalised.as_bytes()],
    )
}

/// Redirects to the login form, coming back to `path` afterwards.
pub fn login_first(path: &str) -> Response {
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("redirect_to", path)
        .finish();
    Redirect::to(&format!("/login?{q}")).into_response()
}

fn page(status: StatusCode, page: impl IntoResponse) -> Response {
    let mut response = (status, page).into_response();
    no_store(response.headers_mut());
    response
}

// ---- checking a code ----

/// Whether `typed` is a current TOTP code not used before, or an unused recovery code; either is
/// spent by a success.
async fn accept_code(state: &AppState, user: &User, typed: &str) -> Result<bool, StoreError> {
    if typed.len() > 64 {
        return Ok(false);
    }
    let two_step = state.store.two_step(user.id).await?;
    let Some(sealed) = two_step.totp_secret_enc else {
        return Ok(false);
    };
    let Some(seed) = crypto::open(&state.key.0, &seed_context(user.id, "seed"), &sealed) else {
        tracing::error!(
            user_id = user.id,
            "a 2-step seed does not open with the server key"
        );
        return Ok(false);
    };
    if let Some(step) = rules::verify_code(&seed, typed, state.now(), two_step.totp_last_step) {
        return state.store.claim_totp_step(user.id, step).await;
    }
    match rules::normalise_recovery_code(typed) {
        Some(code) => {
            let digest = recovery_digest(state, user.id, &code);
            state
                .store
                .use_recovery_code(user.id, &digest, state.now())
                .await
        }
        None => Ok(false),
    }
}

// ---- the login's second step ----

#[derive(Template, WebTemplate)]
#[template(path = "login_two_step.html")]
struct SecondStepPage<'a> {
    csrf: String,
    redirect_to: &'a str,
    error: Option<&'a str>,
}

/// The MAC of a pending login: it stops verifying once the password or the 2-step state changes.
async fn pending_mac(
    state: &AppState,
    user: &User,
    expires: i64,
    nonce: &str,
) -> Result<String, StoreError> {
    let two_step = state.store.two_step(user.id).await?;
    let left = state.store.recovery_codes_left(user.id).await?;
    let fingerprint = Sha256::digest(user.password_hash.as_bytes());
    let tag = mac(
        state,
        &[
            b"pending-login",
            &user.id.to_be_bytes(),
            &expires.to_be_bytes(),
            nonce.as_bytes(),
            &fingerprint,
            &two_step.totp_last_step.unwrap_or(-1).to_be_bytes(),
            &left.to_be_bytes(),
        ],
    );
    Ok(URL_SAFE_NO_PAD.encode(tag))
}

/// The user of a valid, unexpired pending-login cookie value.
async fn pending_user(state: &AppState, value: &str) -> Result<Option<User>, StoreError> {
    let mut parts = value.split('.');
    let (Some(id), Some(expires), Some(nonce), Some(tag), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Ok(None);
    };
    let (Ok(id), Ok(expires)) = (id.parse::<i64>(), expires.parse::<i64>()) else {
        return Ok(None);
    };
    if expires <= state.now() || nonce.len() != 32 {
        return Ok(None);
    }
    let Some(user) = state.store.user_by_id(id).await? else {
        return Ok(None);
    };
    let expected = pending_mac(state, &user, expires, nonce).await?;
    Ok(secret::digest_eq(expected.as_bytes(), tag.as_bytes()).then_some(user))
}

fn second_step_csrf(state: &AppState, cookie_value: &str) -> String {
    URL_SAFE_NO_PAD.encode(mac(state, &[b"second-step", cookie_value.as_bytes()]))
}

fn second_step_form(
    state: &AppState,
    cookie_value: &str,
    redirect_to: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    page(
        status,
        SecondStepPage {
            csrf: second_step_csrf(state, cookie_value),
            redirect_to: safe_redirect(Some(redirect_to)),
            error,
        },
    )
}

/// Called by `/login` after a right password: for a 2-step account, the response that asks for the
/// code instead of starting a session; `None` when the account has 2-step authentication off.
pub async fn begin(
    state: &AppState,
    jar: CookieJar,
    user: &User,
    redirect_to: &str,
) -> Result<Option<Response>, PageError> {
    if !state.store.two_step(user.id).await?.enabled() {
        return Ok(None);
    }
    let expires = state.now() + PENDING_TTL;
    let nonce = random::alphanumeric(&*state.random, 32);
    let tag = pending_mac(state, user, expires, &nonce).await?;
    let value = format!("{}.{expires}.{nonce}.{tag}", user.id);
    let jar = jar
        .add(session::cookie(
            state,
            pending_cookie_name(state),
            value.clone(),
            Some(PENDING_TTL),
        ))
        .add(session::cookie(
            state,
            session::login_cookie_name(state),
            String::new(),
            Some(0),
        ));
    let form = second_step_form(state, &value, redirect_to, None, StatusCode::OK);
    Ok(Some((jar, form).into_response()))
}

#[derive(serde::Deserialize)]
pub struct SecondStepQuery {
    redirect_to: Option<String>,
}

/// `GET /login/two-step`: the code form again (after a reload), while the pending login lasts.
pub async fn second_step_get(
    State(state): State<AppState>,
    jar: CookieJar,
    axum::extract::Query(q): axum::extract::Query<SecondStepQuery>,
) -> Result<Response, PageError> {
    let redirect_to = safe_redirect(q.redirect_to.as_deref()).to_owned();
    let value = jar
        .get(pending_cookie_name(&state))
        .map(|c| c.value().to_owned());
    match value {
        Some(v) if pending_user(&state, &v).await?.is_some() => Ok(second_step_form(
            &state,
            &v,
            &redirect_to,
            None,
            StatusCode::OK,
        )),
        _ => Ok(login_first(&redirect_to)),
    }
}

/// `POST /login/two-step`: checks the code (`otp`: a TOTP code or a recovery code) and only then
/// starts a session, with a new id.
pub async fn second_step(
    State(state): State<AppState>,
    peer: Peer,
    jar: CookieJar,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    session::same_origin(&state, &headers)?;
    let params = Params::decode(&body)?;
    let field = |name| params.get(name).ok().flatten();
    let redirect_to = safe_redirect(field("redirect_to")).to_owned();
    let Some(value) = jar
        .get(pending_cookie_name(&state))
        .map(|c| c.value().to_owned())
    else {
        return Ok(login_first(&redirect_to));
    };
    let csrf_ok = field("csrf").is_some_and(|p| {
        secret::digest_eq(p.as_bytes(), second_step_csrf(&state, &value).as_bytes())
    });
    if !csrf_ok {
        return Err(PageError::Forbidden(
            "The form has expired or did not come from this site. Log in again.".into(),
        ));
    }
    let Some(user) = pending_user(&state, &value).await? else {
        return Ok(login_first(&redirect_to));
    };
    // Codes spend the budget of the account's username, whatever the login form was given.
    if let Some(retry_after) = login::over_budget(&state, &user.username, peer) {
        return Err(PageError::TooManyRequests { retry_after });
    }
    let typed = field("otp").unwrap_or("");
    if typed.trim().is_empty() {
        return Ok(second_step_form(
            &state,
            &value,
            &redirect_to,
            Some("Enter the code from your authenticator app, or a recovery code."),
            StatusCode::BAD_REQUEST,
        ));
    }
    if !accept_code(&state, &user, typed).await? {
        login::count_failure(
            &state,
            &user.username,
            peer,
            Some(user.id),
            "two_step_failed",
        )
        .await?;
        return Ok(second_step_form(
            &state,
            &value,
            &redirect_to,
            Some("That code is not right, or it was already used. Try the current code."),
            StatusCode::UNAUTHORIZED,
        ));
    }
    login::clear_failures(&state, &user.username);
    let c = session::start(&state, user.id).await?;
    let event = AuditEvent {
        kind: "login",
        user_id: Some(user.id),
        peer: Some(peer.to_string()),
        detail: "2-step",
        ..Default::default()
    };
    state.store.audit(&event, state.now()).await?;
    let jar = jar.add(c).add(session::cookie(
        &state,
        pending_cookie_name(&state),
        String::new(),
        Some(0),
    ));
    Ok((jar, Redirect::to(&redirect_to)).into_response())
}

// ---- the settings page ----

#[derive(Template, WebTemplate)]
#[template(path = "two_step.html")]
struct SettingsPage<'a> {
    nav: Nav,
    enabled: bool,
    csrf: String,
    /// Setting up: the QR code as a `data:` URI, the seed for typing, and the sealed seed.
    qr: String,
    seed: String,
    setup: String,
    codes_left: i64,
    error: Option<&'a str>,
}

#[derive(Template, WebTemplate)]
#[template(path = "two_step_codes.html")]
struct RecoveryCodesPage {
    nav: Nav,
    codes: Vec<String>,
}

/// The settings page with a fresh seed to scan (2-step off) or the disable form (on).
async fn settings(
    state: &AppState,
    s: &SessionUser,
    seed: Option<Vec<u8>>,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let enabled = state.store.two_step(s.user.id).await?.enabled();
    let (qr, seed_text, setup, purpose) = if enabled {
        (
            String::new(),
            String::new(),
            String::new(),
            "two-step-disable",
        )
    } else {
        let seed = seed
            .unwrap_or_else(|| random::bytes::<{ rules::SECRET_BYTES }>(&*state.random).to_vec());
        let uri = rules::otpauth_uri("Latchkey", &s.user.username, &seed);
        let sealed = crypto::seal(
            &state.key.0,
            &seed_context(s.user.id, "setup"),
            &seed,
            &*state.random,
        );
        (
            rules::qr_data_uri(&uri).unwrap_or_default(),
            rules::base32_grouped(&seed),
            URL_SAFE_NO_PAD.encode(sealed),
            "two-step-enable",
        )
    };
    let codes_left = if enabled {
        state.store.recovery_codes_left(s.user.id).await?
    } else {
        0
    };
    Ok(page(
        status,
        SettingsPage {
            nav: Nav::of(state, s, "security"),
            enabled,
            csrf: session::csrf_token(state, s, purpose),
            qr,
            seed: seed_text,
            setup,
            codes_left,
            error,
        },
    ))
}

pub async fn show(
    State(state): State<AppState>,
    s: Option<SessionUser>,
) -> Result<Response, PageError> {
    let Some(s) = s else {
        return Ok(login_first(PAGE));
    };
    settings(&state, &s, None, None, StatusCode::OK).await
}

/// `POST /me/security/two-step/enable`: the sealed seed from the page and a code it produced.
pub async fn enable(
    State(state): State<AppState>,
    s: Option<SessionUser>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    session::same_origin(&state, &headers)?;
    let Some(s) = s else {
        return Ok(login_first(PAGE));
    };
    let params = Params::decode(&body)?;
    let field = |name| params.get(name).ok().flatten();
    session::verify_csrf(&state, &s, "two-step-enable", field("csrf"))?;
    let seed = field("setup")
        .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
        .and_then(|sealed| crypto::open(&state.key.0, &seed_context(s.user.id, "setup"), &sealed))
        .filter(|seed| seed.len() == rules::SECRET_BYTES);
    let Some(seed) = seed else {
        return Err(PageError::invalid_request(
            "The setup form is damaged. Reload the page and scan the new QR code.",
        ));
    };
    let code = field("code").unwrap_or("");
    let Some(step) = rules::verify_code(&seed, code, state.now(), None) else {
        let error = if code.trim().is_empty() {
            "Enter the 6-digit code your authenticator app shows."
        } else {
            "That code does not match. Check the time on your phone and enter the current code."
        };
        return settings(&state, &s, Some(seed), Some(error), StatusCode::BAD_REQUEST).await;
    };
    let codes: Vec<String> = (0..rules::RECOVERY_CODES)
        .map(|_| rules::new_recovery_code(&*state.random))
        .collect();
    let digests: Vec<[u8; 32]> = codes
        .iter()
        .filter_map(|c| rules::normalise_recovery_code(c))
        .map(|c| recovery_digest(&state, s.user.id, &c))
        .collect();
    let sealed = crypto::seal(
        &state.key.0,
        &seed_context(s.user.id, "seed"),
        &seed,
        &*state.random,
    );
    let now = state.now();
    if !state
        .store
        .enable_two_step(s.user.id, &sealed, step, &digests, now)
        .await?
    {
        return Ok(Redirect::to(PAGE).into_response());
    }
    let event = AuditEvent {
        kind: "two_step_enabled",
        user_id: Some(s.user.id),
        ..Default::default()
    };
    state.store.audit(&event, now).await?;
    Ok(page(
        StatusCode::OK,
        RecoveryCodesPage {
            nav: Nav::of(&state, &s, "security"),
            codes,
        },
    ))
}

/// `POST /me/security/two-step/disable`: needs a fresh code, throttled like a login.
pub async fn disable(
    State(state): State<AppState>,
    s: Option<SessionUser>,
    peer: Peer,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    session::same_origin(&state, &headers)?;
    let Some(s) = s else {
        return Ok(login_first(PAGE));
    };
    let params = Params::decode(&body)?;
    let field = |name| params.get(name).ok().flatten();
    session::verify_csrf(&state, &s, "two-step-disable", field("csrf"))?;
    if let Some(retry_after) = login::over_budget(&state, &s.user.username, peer) {
        return Err(PageError::TooManyRequests { retry_after });
    }
    if !state.store.two_step(s.user.id).await?.enabled() {
        return Ok(Redirect::to(PAGE).into_response());
    }
    let code = field("code").unwrap_or("");
    if !accept_code(&state, &s.user, code).await? {
        login::count_failure(
            &state,
            &s.user.username,
            peer,
            Some(s.user.id),
            "two_step_failed",
        )
        .await?;
        return settings(
            &state,
            &s,
            None,
            Some("That code is not right, or it was already used. Enter a new code."),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    state.store.disable_two_step(s.user.id).await?;
    let event = AuditEvent {
        kind: "two_step_disabled",
        user_id: Some(s.user.id),
        peer: Some(peer.to_string()),
        ..Default::default()
    };
    state.store.audit(&event, state.now()).await?;
    Ok(Redirect::to(PAGE).into_response())
}
