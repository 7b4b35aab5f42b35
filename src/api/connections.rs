//! `GET me/connected-applications` and `POST me/connected-applications/{app_id}/delete`
//! (oauth2.md §6; wpcom-oauth2.md §6.2): the apps a user has granted access to, and disconnecting
//! one, which revokes every grant, code and token of that user for that app at once.
//!
//! Only for the user's own logged-in browser session, never for a token (an app must not be able to
//! list or disconnect the user's other apps). The delete is CSRF-protected: send the token from the
//! list's `csrf_token` (or `web::session::csrf_token` with [`CSRF_PURPOSE`]) in an `X-CSRF-Token`
//! header or a `csrf_token` form field. Requests from another origin are refused.

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::{Value, json};

use super::error::{ApiError, ErrorCode};
use super::principal::{FormBody, presents_credentials};
use crate::domain::clock::iso8601;
use crate::domain::scope;
use crate::state::AppState;
use crate::store::AuditEvent;
use crate::web::error::PageError;
use crate::web::session::{self, SessionUser};

pub(crate) const CSRF_PURPOSE: &str = "connected-applications";

type Session = Result<Option<SessionUser>, PageError>;

/// The logged-in user, refusing tokens, missing sessions and other origins.
fn session_only(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    session: Session,
) -> Result<SessionUser, ApiError> {
    if presents_credentials(headers, uri) {
        return Err(ApiError::unauthorized(
            "Connected applications are managed from a logged-in browser session only; tokens \
             are never accepted here.",
        ));
    }
    let session = session
        .map_err(|_| ApiError::unavailable())?
        .ok_or_else(|| {
            ApiError::authorization_required("Log in to manage your connected applications.")
        })?;
    session::same_origin(state, headers)
        .map_err(|_| ApiError::unauthorized("You cannot make requests from this origin."))?;
    Ok(session)
}

fn connection_json(c: &crate::store::Connection) -> Value {
    let permissions: Vec<Value> = scope::granted(&c.scope)
        .map(|s| s.permissions())
        .unwrap_or_default()
        .into_iter()
        .map(|line| json!({"name": c.scope, "description": line}))
        .collect();
    let site = match (c.site_id, &c.site_url, &c.site_name) {
        (Some(id), Some(url), Some(name)) => {
            json!({"site_ID": id, "site_URL": url, "site_name": name})
        }
        _ => Value::Bool(false),
    };
    json!({
        "ID": c.app_id.to_string(),
        "URL": c.app_website,
        "title": c.app_name,
        "description": c.app_description,
        "icon": c.app_icon_url,
        "permissions": permissions,
        "scope": c.scope,
        "authorized": iso8601(c.created_at),
        "site": site,
    })
}

/// The apps `user_id` has connected, one entry per app (its latest approval), newest first: what
/// this endpoint lists and the MCP endpoint's `list_connected_applications` tool answers.
pub(crate) async fn connected_applications(
    state: &AppState,
    user_id: i64,
) -> Result<Vec<Value>, ApiError> {
    // Grants come oldest first within each app.
    let mut latest: Vec<crate::store::Connection> = Vec::new();
    for grant in state.store.connections(user_id).await? {
        match latest.last_mut() {
            Some(last) if last.app_id == grant.app_id => *last = grant,
            _ => latest.push(grant),
        }
    }
    latest.sort_by_key(|c| std::cmp::Reverse(c.created_at));
    Ok(latest.iter().map(connection_json).collect())
}

/// `GET me/connected-applications`.
pub(crate) async fn list(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    session: Session,
) -> Result<Json<Value>, ApiError> {
    let session = session_only(&state, &headers, &uri, session)?;
    let apps = connected_applications(&state, session.user.id).await?;
    Ok(Json(json!({
        "connected_applications": apps,
        "csrf_token": session::csrf_token(&state, &session, CSRF_PURPOSE),
    })))
}

/// `POST me/connected-applications/{app_id}/delete`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    form: Option<Extension<FormBody>>,
    session: Session,
) -> Result<Json<Value>, ApiError> {
    let session = session_only(&state, &headers, &uri, session)?;
    let from_form = form.and_then(|Extension(FormBody(body))| {
        form_urlencoded::parse(&body)
            .find(|(name, _)| name == "csrf_token")
            .map(|(_, value)| value.into_owned())
    });
    let presented = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(from_form);
    session::verify_csrf(&state, &session, CSRF_PURPOSE, presented.as_deref()).map_err(|_| {
        ApiError::unauthorized(
            "The CSRF token is missing or wrong; reload the connected applications and try again.",
        )
    })?;
    let unknown = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::UnknownApp,
            "Unknown application",
        )
    };
    let app_id: i64 = app_id.parse().map_err(|_| unknown())?;
    let mut tx = state.store.begin();
    let revoked = tx.revoke_app_for_user(session.user.id, app_id).await?;
    if revoked == 0 {
        return Err(unknown());
    }
    let event = AuditEvent {
        kind: "app_disconnected",
        user_id: Some(session.user.id),
        app_id: Some(app_id),
        peer: None,
        detail: "",
    };
    tx.audit(&event, state.now()).await?;
    tx.commit().await?;
    Ok(Json(json!({ "success": true })))
}
