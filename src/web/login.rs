//! `/login` and `/logout` (oauth2.md §2 "Login", §7), and the password check the password grant
//! shares: argon2id off the async runtime, a dummy verification for unknown users, and failure
//! budgets per account and per address that both the web login and the password grant spend.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;

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

/// The throttle keys of a login: the account as typed (lowercased) and the client address.
fn budget_keys(login: &str, peer: Peer) -> (String, String) {
    (account_key(login), format!("login:peer:{peer}"))
}

fn account_key(login: &str) -> String {
    format!("login:account:{}", login.to_lowercase())
}

/// `Some(retry_after)` when the account's or the address's failure budget is spent.
pub fn over_budget(state: &AppState, login: &str, peer: Peer) -> Option<i64> {
    let limits = &state.settings.limits;
    let now = state.now();
    let (account_key, peer_key) = budget_keys(login, peer);
    state
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
        })
}

/// Spends one failure of the account's and the address's budgets and audits it as `kind`. Wrong
/// passwords, wrong 2-step codes and `needs_2fa` answers all spend the same budgets.
pub async fn count_failure(
    state: &AppState,
    login: &str,
    peer: Peer,
    user_id: Option<i64>,
    kind: &str,
) -> Result<(), StoreError> {
    let window = state.settings.limits.window_secs;
    let now = state.now();
    let (account_key, peer_key) = budget_keys(login, peer);
    state.throttle.fail(&account_key, window, now);
    state.throttle.fail(&peer_key, window, now);
    let event = AuditEvent {
        kind,
        user_id,
        peer: Some(peer.to_string()),
        ..Default::default()
    };
    state.store.audit(&event, now).await?;
    crate::audit::lockout_if_spent(state, user_id, peer, &account_key).await
}

/// Forgets the account's failures after a complete login.
pub fn clear_failures(state: &AppState, login: &str) {
    state.throttle.clear(&account_key(login));
}

/// Looks the account up and verifies its password (against a dummy hash for unknown accounts, so
/// the time taken does not tell which exist). No budget is checked or spent here.
pub async fn verify_account_password(
    state: &AppState,
    login: &str,
    pw: &str,
) -> Result<(Option<User>, bool), StoreError> {
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
    if let Some(user) = user.as_ref().filter(|_| ok)
        && password::needs_rehash(&user.password_hash)
    {
        let salt = crate::domain::random::bytes::<16>(&*state.random);
        let candidate = pw.to_owned();
        if let Ok(new_hash) = crate::blocking::run(move || password::hash(&candidate, salt)).await {
            state.store.update_password_hash(user.id, &new_hash).await?;
        }
    }
    Ok((user, ok))
}

/// Checks a username-or-email and password, spending the shared failure budgets. For an account
/// with 2-step authentication the budget is kept until the second factor is through, so that
/// knowing the password does not buy fresh guesses at the code.
pub async fn check_password(
    state: &AppState,
    login: &str,
    pw: &str,
    peer: Peer,
) -> Result<User, Refusal> {
    if let Some(retry_after) = over_budget(state, login, peer) {
        return Err(Refusal::Throttled(retry_after));
    }
    match verify_account_password(state, login, pw).await? {
        (Some(user), true) => {
            if !state.store.two_step(user.id).await?.enabled() {
                clear_failures(state, login);
            }
            Ok(user)
        }
        (user, _) => {
            count_failure(state, login, peer, user.map(|u| u.id), "login_failed").await?;
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
    /// The app that sent the user here, when the login interrupts its authorization.
    app_name: Option<String>,
    signup_enabled: bool,
    /// `?redirect_to=…` for the sign-up link, so a new account continues where the login would.
    login_query: String,
    public_current: &'static str,
}

/// The name of the app whose authorization (`/oauth2/authorize`, `/oauth2/authenticate` or
/// `/oauth1/authorize`) the login interrupts, read from the page it returns to.
pub async fn asking_app(state: &AppState, redirect_to: &str) -> Option<String> {
    let (path, query) = redirect_to.split_once('?')?;
    let params = Params::parse(query.as_bytes());
    let app_id = match path {
        "/oauth2/authorize" | "/oauth2/authenticate" => params
            .get("client_id")
            .ok()
            .flatten()?
            .parse::<i64>()
            .ok()?,
        "/oauth1/authorize" => {
            let key = params
                .get("oauth_token")
                .ok()
                .flatten()
                .filter(|k| k.len() <= 64)?;
            let digest = crate::domain::secret::digest(key);
            state
                .store
                .request_token(&digest)
                .await
                .map_err(StoreError::report)
                .ok()??
                .app_id
        }
        _ => return None,
    };
    let app = state
        .store
        .app_by_id(app_id)
        .await
        .map_err(StoreError::report)
        .ok()??;
    Some(app.name)
}

/// `?redirect_to=…` for a link to the login or sign-up page (empty when it returns home).
pub fn redirect_query(redirect_to: &str) -> String {
    if redirect_to == "/" {
        return String::new();
    }
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("redirect_to", redirect_to)
        .finish();
    format!("?{query}")
}

/// Renders the form with a fresh pre-login cookie and the CSRF token bound to it.
async fn login_form(
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
    let redirect_to = safe_redirect(Some(redirect_to));
    let page = LoginPage {
        redirect_to,
        csrf,
        username,
        error,
        app_name: asking_app(state, redirect_to).await,
        signup_enabled: state.settings.signup,
        login_query: redirect_query(redirect_to),
        public_current: "login",
    };
    let mut response = (status, jar, page).into_response();
    crate::http::headers::no_store(response.headers_mut());
    response
}

pub async fn form(
    State(state): State<AppState>,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let params = Params::decode(query.unwrap_or_default().as_bytes())?;
    Ok(login_form(
        &state,
        jar,
        safe_redirect(params.get("redirect_to").ok().flatten()),
        "",
        None,
        StatusCode::OK,
    )
    .await)
}

pub async fn submit(
    State(state): State<AppState>,
    peer: Peer,
    jar: CookieJar,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    session::same_origin(&state, &headers)?;
    let params = match Params::decode(&body) {
        Ok(params) => params,
        Err(m) => {
            // Nothing was checked or counted: the form comes back with what was wrong.
            let message = m.to_string();
            return Ok(login_form(
                &state,
                jar,
                "/",
                "",
                Some(&message),
                StatusCode::BAD_REQUEST,
            )
            .await);
        }
    };
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
        )
        .await);
    };
    match check_password(&state, login, pw, peer).await {
        Ok(user) => {
            if let Some(second_step) =
                super::two_step::begin(&state, jar.clone(), &user, &redirect_to).await?
            {
                return Ok(second_step);
            }
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
        )
        .await),
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
        let params = Params::decode(&body)?;
        session::verify_csrf(&state, s, "logout", params.get("csrf").ok().flatten())?;
    }
    let cleared = session::end(&state, &jar).await?;
    Ok((jar.add(cleared), Redirect::to("/login")).into_response())
}

#[cfg(test)]
mod tests {
    use super::safe_redirect;

    #[test]
    fn redirect_to_accepts_only_relative_paths_with_a_single_slash() {
        assert_eq!(
            safe_redirect(Some("/oauth2/authorize?client_id=1")),
            "/oauth2/authorize?client_id=1"
        );
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "evil",
            "",
            "/a\\b",
            "/\u{0}x",
        ] {
            assert_eq!(safe_redirect(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_redirect(None), "/");
    }
}
