//! The application passwords page `/me/security/application-passwords` (oauth2.md §4 and §7,
//! security.md PW05): create with a name, shown once in groups of four, listed with creation and
//! last-used dates, revoked one by one. Checking one (the password grant) is
//! `auth::app_passwords`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::error::PageError;
use super::page::{Nav, checked_post, render_with};
use super::redirect::login_first;
use super::session::{self, SessionUser};
use crate::domain::password;
use crate::domain::two_step as rules;
use crate::state::AppState;
use crate::store::AuditEvent;

const PAGE: &str = "/me/security/application-passwords";
/// Enough for every device and script a person runs, and a bound on the list.
const MAX_PER_USER: usize = 50;
const MAX_NAME_CHARS: usize = 100;

struct Row {
    id: i64,
    name: String,
    created: String,
    last_used: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "app_passwords.html")]
struct AppPasswordsPage<'a> {
    nav: Nav,
    csrf: String,
    rows: Vec<Row>,
    two_step: bool,
    /// A password just created: its name and its characters in groups of four, shown once.
    created: Option<(String, String)>,
    name: &'a str,
    error: Option<&'a str>,
}

/// A Unix time as a UTC date and time for people.
pub(crate) fn when(t: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(format).ok())
        .unwrap_or_default()
}

async fn render(
    state: &AppState,
    s: &SessionUser,
    created: Option<(String, String)>,
    name: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let rows = state
        .store
        .app_passwords_of(s.user.id)
        .await?
        .into_iter()
        .map(|p| Row {
            id: p.id,
            name: p.name,
            created: when(p.created_at),
            last_used: p.last_used_at.map(when).unwrap_or_else(|| "Never".into()),
        })
        .collect();
    let page = AppPasswordsPage {
        nav: Nav::of(state, s, "security"),
        csrf: session::csrf_token(state, s, "app-passwords"),
        rows,
        two_step: state.store.two_step(s.user.id).await?.enabled(),
        created,
        name,
        error,
    };
    Ok(render_with(status, page))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    s: Option<SessionUser>,
) -> Result<Response, PageError> {
    let Some(s) = s else {
        return Ok(login_first(PAGE));
    };
    render(&state, &s, None, "", None, StatusCode::OK).await
}

/// `POST /me/security/application-passwords`: creates one named `name` and shows it once.
pub(crate) async fn create(
    State(state): State<AppState>,
    s: Option<SessionUser>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let Some((s, form)) = checked_post(&state, s, &headers, &body, "app-passwords")? else {
        return Ok(login_first(PAGE));
    };
    let typed = form.get("name");
    let name = typed.trim();
    let error = if name.is_empty() {
        Some("Give it a name, such as the app or device that will use it.")
    } else if name.chars().count() > MAX_NAME_CHARS {
        Some("The name is too long: keep it under 100 characters.")
    } else if name.chars().any(char::is_control) {
        Some("The name cannot contain control characters.")
    } else if state.store.app_passwords_of(s.user.id).await?.len() >= MAX_PER_USER {
        Some("You have 50 application passwords already: revoke one you no longer use first.")
    } else {
        None
    };
    if let Some(error) = error {
        let kept: String = typed.chars().take(MAX_NAME_CHARS * 2).collect();
        return render(
            &state,
            &s,
            None,
            &kept,
            Some(error),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let plain = rules::new_app_password(&*state.random);
    let salt = crate::domain::random::bytes::<16>(&*state.random);
    let to_hash = plain.clone();
    let hash = crate::blocking::run(move || password::hash(&to_hash, salt))
        .await
        .map_err(|_| PageError::Unavailable)?;
    let now = state.now();
    let mut tx = state.store.begin();
    let id = tx
        .create_app_password(
            s.user.id,
            name,
            rules::app_password_lookup(&plain),
            &hash,
            now,
        )
        .await?;
    let detail = format!("app password {id}");
    let event = AuditEvent {
        kind: "app_password_created",
        user_id: Some(s.user.id),
        detail: &detail,
        ..Default::default()
    };
    tx.audit(&event, now).await?;
    tx.commit().await?;
    let shown = (name.to_owned(), rules::group(&plain, 4));
    render(&state, &s, Some(shown), "", None, StatusCode::OK).await
}

/// `POST /me/security/application-passwords/{id}/revoke`: revokes it and the tokens issued with it.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    s: Option<SessionUser>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let Some((s, _)) = checked_post(&state, s, &headers, &body, "app-passwords")? else {
        return Ok(login_first(PAGE));
    };
    let Ok(id) = id.parse::<i64>() else {
        return Err(PageError::NotFound);
    };
    let mut tx = state.store.begin();
    if !tx.revoke_app_password(s.user.id, id).await? {
        return Err(PageError::NotFound);
    }
    let detail = format!("app password {id}");
    let event = AuditEvent {
        kind: "app_password_revoked",
        user_id: Some(s.user.id),
        detail: &detail,
        ..Default::default()
    };
    tx.audit(&event, state.now()).await?;
    tx.commit().await?;
    Ok(Redirect::to(PAGE).into_response())
}
