//! `/me/security`: the account's security overview (2-step authentication, application passwords)
//! and the password change form. Changing the password ends every session of the account (BR11);
//! the browser that changed it gets a new one.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::error::PageError;
use super::page::{Nav, checked_post, render_with};
use super::redirect::login_first;
use super::session::{self, SessionUser};
use crate::auth::password as credentials;
use crate::domain::password;
use crate::http::peer::Peer;
use crate::state::AppState;
use crate::store::AuditEvent;

const PAGE: &str = "/me/security";
const MIN_PASSWORD_CHARS: usize = 8;

/// Errors of the password form, each shown next to its field.
#[derive(Default)]
struct FieldErrors {
    current: Option<&'static str>,
    new: Option<&'static str>,
    confirm: Option<&'static str>,
}

#[derive(Template, WebTemplate)]
#[template(path = "security.html")]
struct SecurityPage {
    nav: Nav,
    username: String,
    two_step: bool,
    app_passwords: usize,
    csrf: String,
    changed: bool,
    errors: FieldErrors,
    activity: Vec<crate::audit::Activity>,
}

#[derive(Deserialize)]
pub(crate) struct SecurityQuery {
    done: Option<String>,
}

async fn render(
    state: &AppState,
    s: &SessionUser,
    changed: bool,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let page = SecurityPage {
        nav: Nav::of(state, s, "security"),
        username: s.user.username.clone(),
        two_step: state.store.two_step(s.user.id).await?.enabled(),
        app_passwords: state.store.app_passwords_of(s.user.id).await?.len(),
        csrf: session::csrf_token(state, s, "password"),
        changed,
        errors,
        activity: crate::audit::recent_activity(state, s.user.id).await?,
    };
    Ok(render_with(status, page))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    s: Option<SessionUser>,
    Query(q): Query<SecurityQuery>,
) -> Result<Response, PageError> {
    let Some(s) = s else {
        return Ok(login_first(PAGE));
    };
    let changed = q.done.as_deref() == Some("password");
    render(&state, &s, changed, FieldErrors::default(), StatusCode::OK).await
}

/// The rules a new password must meet, as a message for the field.
fn new_password_problem(new: &str, username: &str) -> Option<&'static str> {
    if new.chars().count() < MIN_PASSWORD_CHARS {
        Some("Use at least 8 characters.")
    } else if new.len() > password::MAX_PASSWORD_BYTES {
        Some("Use at most 1024 bytes.")
    } else if new.eq_ignore_ascii_case(username) {
        Some("Your password cannot be your username.")
    } else {
        None
    }
}

/// `POST /me/security/password`: current password, new password twice.
pub(crate) async fn change_password(
    State(state): State<AppState>,
    s: Option<SessionUser>,
    peer: Peer,
    jar: CookieJar,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let Some((s, form)) = checked_post(&state, s, &headers, &body, "password")? else {
        return Ok(login_first(PAGE));
    };
    let username = s.user.username.clone();
    let auth = state.auth();
    if let Some(retry_after) = credentials::over_budget(&auth, &username, peer.0) {
        return Err(PageError::TooManyRequests { retry_after });
    }
    let (current, new, confirm) = (
        form.get("current_password"),
        form.get("new_password"),
        form.get("confirm_password"),
    );
    let mut errors = FieldErrors {
        new: new_password_problem(new, &username),
        confirm: (new != confirm).then_some("The two new passwords differ."),
        ..Default::default()
    };
    if !credentials::confirm(&auth, &s.user, current, peer.0).await? {
        errors.current = Some("This is not your current password.");
    }
    if errors.current.is_some() || errors.new.is_some() || errors.confirm.is_some() {
        return render(&state, &s, false, errors, StatusCode::BAD_REQUEST).await;
    }
    let salt = crate::domain::random::bytes::<16>(&*state.random);
    let to_hash = new.to_owned();
    let hash = crate::blocking::run(move || password::hash(&to_hash, salt))
        .await
        .map_err(|_| PageError::Unavailable)?;
    let mut tx = state.store.begin();
    tx.set_password_ending_sessions(s.user.id, &hash).await?;
    let cookie = session::start(&state, &mut tx, s.user.id).await?;
    let event = AuditEvent {
        kind: "password_changed",
        user_id: Some(s.user.id),
        peer: Some(peer.to_string()),
        ..Default::default()
    };
    tx.audit(&event, state.now()).await?;
    tx.commit().await?;
    Ok((
        jar.add(cookie),
        Redirect::to(&format!("{PAGE}?done=password")),
    )
        .into_response())
}
