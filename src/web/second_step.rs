//! The login's second step `/login/two-step` (oauth2.md §7, security.md PW05): after a right
//! password for a 2-step account, `/login` starts no session but sets a short-lived pending-login
//! cookie (`auth::two_step::pending_login`) and asks for a code; a new session id is issued only
//! after the code. The code check and its failure budget are `auth::two_step::second_step`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;

use super::error::PageError;
use super::page::render_with;
use super::redirect::{login_first, safe_redirect};
use super::session;
use crate::auth::two_step::{self, Check, PENDING_TTL};
use crate::domain::secret;
use crate::http::params::Params;
use crate::http::peer::Peer;
use crate::state::AppState;
use crate::store::User;

#[derive(Template, WebTemplate)]
#[template(path = "login_two_step.html")]
struct SecondStepPage<'a> {
    csrf: String,
    redirect_to: &'a str,
    error: Option<&'a str>,
}

fn pending_cookie_name(state: &AppState) -> &'static str {
    session::cookie_name(state, "__Host-latchkey_2fa")
}

fn second_step_form(
    state: &AppState,
    cookie_value: &str,
    redirect_to: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    render_with(
        status,
        SecondStepPage {
            csrf: session::second_step_csrf_token(state, cookie_value),
            redirect_to: safe_redirect(Some(redirect_to)),
            error,
        },
    )
}

/// Called by `/login` after a right password for a 2-step account: the response that asks for
/// the code instead of starting a session.
pub(crate) async fn begin(
    state: &AppState,
    jar: CookieJar,
    user: &User,
    redirect_to: &str,
) -> Result<Response, PageError> {
    let value = two_step::pending_login(&state.auth(), user).await?;
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
    Ok((jar, form).into_response())
}

#[derive(serde::Deserialize)]
pub(crate) struct SecondStepQuery {
    redirect_to: Option<String>,
}

/// `GET /login/two-step`: the code form again (after a reload), while the pending login lasts.
pub(crate) async fn form(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(q): Query<SecondStepQuery>,
) -> Result<Response, PageError> {
    let redirect_to = safe_redirect(q.redirect_to.as_deref()).to_owned();
    let value = jar
        .get(pending_cookie_name(&state))
        .map(|c| c.value().to_owned());
    match value {
        Some(v) if two_step::pending_user(&state.auth(), &v).await?.is_some() => Ok(
            second_step_form(&state, &v, &redirect_to, None, StatusCode::OK),
        ),
        _ => Ok(login_first(&redirect_to)),
    }
}

/// `POST /login/two-step`: checks the code (`otp`: a TOTP code or a recovery code) and only then
/// starts a session, with a new id.
pub(crate) async fn submit(
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
    let expected = session::second_step_csrf_token(&state, &value);
    let csrf_ok =
        field("csrf").is_some_and(|p| secret::digest_eq(p.as_bytes(), expected.as_bytes()));
    if !csrf_ok {
        return Err(PageError::Forbidden(
            "The form has expired or did not come from this site. Log in again.".into(),
        ));
    }
    let auth = state.auth();
    let Some(user) = two_step::pending_user(&auth, &value).await? else {
        return Ok(login_first(&redirect_to));
    };
    let typed = field("otp").unwrap_or("");
    let (error, status) = match two_step::second_step(&auth, &user, typed, peer.0).await? {
        Check::Accepted => {
            let spent = pending_cookie_name(&state);
            return session::complete_login(
                &state,
                jar,
                user.id,
                peer,
                "2-step",
                spent,
                &redirect_to,
            )
            .await;
        }
        Check::Throttled { retry_after } => return Err(PageError::TooManyRequests { retry_after }),
        Check::Missing => (
            "Enter the code from your authenticator app, or a recovery code.",
            StatusCode::BAD_REQUEST,
        ),
        Check::Refused => (
            "That code is not right, or it was already used. Try the current code.",
            StatusCode::UNAUTHORIZED,
        ),
    };
    Ok(second_step_form(
        &state,
        &value,
        &redirect_to,
        Some(error),
        status,
    ))
}
