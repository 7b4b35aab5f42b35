//! `/login` and `/logout` (oauth2.md §2 "Login", §7), and the password check the password grant
//! shares: argon2id off the async runtime, a dummy verification for unknown users, and failure
//! budgets per account and per address that both the web login and the password grant spend.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::error::PageError;
use super::session::{self, SessionUser};
use crate::domain::password;
use crate::domain::random::alphanumeric;
use crate::http::peer::Peer;
use crate::oauth2::params::Params;
use crate::state::AppState;
use crate::store::{AuditEvent, StoreError, User};

/// Why a password check failed.
#[derive(Debug)]
pub enum Refusal {
    /// Over the failure budget: retry after this many seconds. No credential was checked.
    Throttled(i64),
    Incorrect,
    Store(StoreError),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Store(e)
    }
}

/// Checks a username-or-email and password, spending the shared failure budgets.
pub async fn check_password(
    state: &AppState,
    login: &str,
    pw: &str,
    peer: Peer,
) -> Result<User, Refusal> {
    let limits = &state.settings.limits;
    let now = state.now();
    let account_key = format!("login:account:{}", login.to_lowercase());
    let peer_key = format!("login:peer:{peer}");
    let throttled = state
        .throttle
        .check(
            &account_key,
            limits.login_failures_per_account,
            limits.window_secs,
            now,
        )
        .or_else(|| {
            state.throttle.check(
                &peer_key,
                limits.login_failures_per_ip,
                limits.window_secs,
                now,
            )
        });
    if let Some(retry_after) = throttled {
        return Err(Refusal::Throttled(retry_after));
    }
    let user = if pw.len() > password::MAX_PASSWORD_BYTES || login.len() > 200 {
        None
    } else {
        state.store.user_by_login(login).await?
    };
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::dummy_hash().to_owned());
    let candidate = pw.to_owned();
    let ok = crate::blocking::run(move || password::verify(&candidate, &hash))
        .await
        .unwrap_or(false);
    match user {
        Some(user) if ok => {
            state.throttle.clear(&account_key);
            if password::needs_rehash(&user.password_hash) {
                let salt = crate::domain::random::bytes::<16>(&*state.random);
                let candidate = pw.to_owned();
                if let Ok(new_hash) =
                    crate::blocking::run(move || password::hash(&candidate, salt)).await
                {
                    state.store.update_password_hash(user.id, &new_hash).await?;
                }
            }
            Ok(user)
        }
        user => {
            state.throttle.fail(&account_key, limits.window_secs, now);
            state.throttle.fail(&peer_key, limits.window_secs, now);
            let event = AuditEvent {
                kind: "login_failed",
                user_id: user.map(|u| u.id),
                peer: Some(peer.to_string()),
                ..Default::default()
            };
            state.store.audit(&event, now).await?;
            Err(Refusal::Incorrect)
        }
    }
}

/// A `redirect_to` is honoured only as a relative path starting with a single `/`.
pub fn safe_redirect(target: Option<&str>) -> &str {
    match target {
        Some(t)
            if t.starts_with('/')
                && !t.starts_with("//")
                && !t.starts_with("/\\")
                && !t.chars().any(|c| c.is_control() || c == '\\') =>
        {
            t
        }
        _ => "/",
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    redirect_to: &'a str,
    csrf: String,
    username: &'a str,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    redirect_to: Option<String>,
}

/// Renders the form with a fresh pre-login cookie and the CSRF token bound to it.
fn login_form(
    state: &AppState,
    jar: CookieJar,
    redirect_to: &str,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let value = alphanumeric(&*state.random, 32);
    let csrf = session::login_csrf_token(state, &value);
    let jar = jar.add(session::cookie(
        state,
        session::login_cookie_name(state),
        value,
        None,
    ));
    let page = LoginPage {
        redirect_to: safe_redirect(Some(redirect_to)),
        csrf,
        username,
        error,
    };
    let mut response = (status, jar, page).into_response();
    crate::http::headers::no_store(response.headers_mut());
    response
}

pub async fn form(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(q): Query<LoginQuery>,
) -> Response {
    login_form(
        &state,
        jar,
        safe_redirect(q.redirect_to.as_deref()),
        "",
        None,
        StatusCode::OK,
    )
}

pub async fn submit(
    State(state): State<AppState>,
    peer: Peer,
    jar: CookieJar,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    session::same_origin(&state, &headers)?;
    let params = Params::parse(&body);
    let field = |name| params.get(name).ok().flatten();
    let cookie_value = jar
        .get(session::login_cookie_name(&state))
        .map(|c| c.value().to_owned());
    let expected = cookie_value
        .as_deref()
        .map(|v| session::login_csrf_token(&state, v));
    let csrf_ok = matches!((expected.as_deref(), field("csrf")),
        (Some(e), Some(p)) if crate::domain::secret::digest_eq(e.as_bytes(), p.as_bytes()));
    if !csrf_ok {
        return Err(PageError::Forbidden(
            "The login form has expired or did not come from this site. Reload the page and try again.".into(),
        ));
    }
    let redirect_to = safe_redirect(field("redirect_to")).to_owned();
    let username = field("username").unwrap_or("");
    let (Some(login), Some(pw)) = (field("username"), field("password")) else {
        return Ok(login_form(
            &state,
            jar,
            &redirect_to,
            username,
            Some("Enter your username or email address and your password."),
            StatusCode::BAD_REQUEST,
        ));
    };
    match check_password(&state, login, pw, peer).await {
        Ok(user) => {
            let c = session::start(&state, user.id).await?;
            let event = AuditEvent {
                kind: "login",
                user_id: Some(user.id),
                peer: Some(peer.to_string()),
                ..Default::default()
            };
            state.store.audit(&event, state.now()).await?;
            let jar = jar.add(c).add(session::cookie(
                &state,
                session::login_cookie_name(&state),
                String::new(),
                Some(0),
            ));
            Ok((jar, Redirect::to(&redirect_to)).into_response())
        }
        Err(Refusal::Throttled(retry_after)) => Err(PageError::TooManyRequests { retry_after }),
        Err(Refusal::Incorrect) => Ok(login_form(
            &state,
            jar,
            &redirect_to,
            username,
            Some("Incorrect username or password."),
            StatusCode::UNAUTHORIZED,
        )),
        Err(Refusal::Store(e)) => Err(e.into()),
    }
}

pub async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    session: Option<SessionUser>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    session::same_origin(&state, &headers)?;
    if let Some(s) = &session {
        let params = Params::parse(&body);
        session::verify_csrf(&state, s, "logout", params.get("csrf").ok().flatten())?;
    }
    let cleared = session::end(&state, &jar).await?;
    Ok((jar.add(cleared), Redirect::to("/login")).into_response())
}
