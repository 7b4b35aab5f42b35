//! `/login` and `/logout` (oauth2.md §2 "Login", §7): the form, and its answers to the verdict of
//! `auth::password::login` (a session, the second step, the form again, or 429).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;

use super::error::PageError;
use super::redirect::{redirect_query, safe_redirect};
use super::second_step;
use super::session::{self, SessionUser};
use crate::auth::password::{self, Verdict};
use crate::domain::random::alphanumeric;
use crate::http::params::Params;
use crate::http::peer::Peer;
use crate::state::AppState;
use crate::store::StoreError;

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
pub(crate) async fn asking_app(state: &AppState, redirect_to: &str) -> Option<String> {
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
    super::page::render_with(status, (jar, page))
}

pub(crate) async fn form(
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

pub(crate) async fn submit(
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
    match password::login(&state.auth(), login, pw, peer.0).await? {
        Verdict::Accepted(user) => {
            let spent = session::login_cookie_name(&state);
            session::complete_login(&state, jar, user.id, peer, "", spent, &redirect_to).await
        }
        Verdict::NeedsSecondFactor(user) => {
            second_step::begin(&state, jar, &user, &redirect_to).await
        }
        Verdict::Throttled { retry_after } => Err(PageError::TooManyRequests { retry_after }),
        Verdict::Refused => Ok(login_form(
            &state,
            jar,
            &redirect_to,
            username,
            Some("Incorrect username or password."),
            StatusCode::UNAUTHORIZED,
        )
        .await),
    }
}

pub(crate) async fn logout(
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
