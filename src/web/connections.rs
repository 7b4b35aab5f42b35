//! Connected applications (`/me/security/connected-applications`; oauth2.md §5, reference
//! wpcom-oauth2.md §6.2): every app the user approved, for which site or scope, when, and what it
//! may do in plain words. Disconnect revokes every grant, code and token of the user for that app
//! at once (`Store::revoke_app_for_user`).
//!
//! An app that registered itself (RFC 7591) or is known by its Client ID Metadata Document, and
//! that the user approved through `/oauth2-1/`, is listed like any other, marked as unverified as
//! the consent page marks it (its name and website are its own claims), with the URL it is known by
//! for a metadata-document client. Disconnecting it deletes its grants; its 2.1 access and refresh
//! tokens go with them (foreign keys cascade), announced to every instance as for any app.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};

use super::error::PageError;
use super::page::{self, Form, Nav, Viewer};
use super::session;
use crate::domain::client_metadata::RegistrationKind;
use crate::domain::scope::{self, Scope};
use crate::state::AppState;
use crate::store::{AuditEvent, Connection};

/// One approval, as the page words it.
pub(crate) struct GrantView {
    /// The site name and URL, or what a `global`/`auth` grant reaches.
    pub target: String,
    pub scope: String,
    pub authorized: String,
    pub last_used: Option<String>,
    pub permissions: Vec<&'static str>,
}

/// An app with every approval the user gave it.
pub(crate) struct AppConnection {
    pub app_id: i64,
    pub name: String,
    pub description: String,
    pub website: String,
    /// Registered by its owner (not by itself, nor known by a metadata document).
    pub verified: bool,
    /// How it registered, in words, when unverified.
    pub registration: &'static str,
    /// The `client_id` URL of a metadata-document client.
    pub metadata_url: Option<String>,
    pub grants: Vec<GrantView>,
}

/// How an unverified app came to Latchkey, as the page says it.
pub(crate) fn registration_words(kind: RegistrationKind) -> &'static str {
    match kind {
        RegistrationKind::Manual => "registered by its developer",
        RegistrationKind::Dynamic => "registered itself (dynamic client registration)",
        RegistrationKind::MetadataDocument => "known by its client metadata document",
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "connections.html")]
struct ConnectionsPage {
    nav: Nav,
    apps: Vec<AppConnection>,
    csrf: String,
    disconnected: bool,
}

fn view(c: &Connection) -> GrantView {
    let parsed = scope::granted(&c.scope);
    let target = match (&parsed, &c.site_name, &c.site_url) {
        (Ok(Scope::Global), ..) => "All your sites (global)".to_owned(),
        (Ok(Scope::Auth), ..) => "Your profile only (auth)".to_owned(),
        (_, Some(name), Some(url)) => format!("{name} ({url})"),
        _ => "A site".to_owned(),
    };
    GrantView {
        target,
        scope: match c.scope.as_str() {
            "" => "the whole site".to_owned(),
            s => s.to_owned(),
        },
        authorized: page::date(c.created_at),
        last_used: c.last_used_at.map(page::date),
        permissions: parsed.map(|s| s.permissions()).unwrap_or_default(),
    }
}

/// Groups the user's grants by app, keeping the store's order.
pub(crate) fn group(connections: &[Connection]) -> Vec<AppConnection> {
    let mut apps: Vec<AppConnection> = Vec::new();
    for c in connections {
        match apps.last_mut() {
            Some(last) if last.app_id == c.app_id => last.grants.push(view(c)),
            _ => apps.push(AppConnection {
                app_id: c.app_id,
                name: c.app_name.clone(),
                description: c.app_description.clone(),
                website: c.app_website.clone(),
                verified: c.app_registration.is_verified(),
                registration: registration_words(c.app_registration),
                metadata_url: c.app_metadata_url.clone(),
                grants: vec![view(c)],
            }),
        }
    }
    apps
}

pub(crate) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let connections = state.store.connections(viewer.0.user.id).await?;
    Ok(page::render(ConnectionsPage {
        nav: Nav::new(&state, &viewer, "connections"),
        apps: group(&connections),
        csrf: session::csrf_token(&state, &viewer.0, "connections"),
        disconnected: query.is_some_and(|q| q == "disconnected=1"),
    }))
}

pub(crate) async fn disconnect(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(app_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body)?;
    session::verify_csrf(&state, &viewer.0, "connections", form.csrf())?;
    let Ok(app_id) = app_id.parse::<i64>() else {
        return Err(PageError::NotFound);
    };
    let mut tx = state.store.begin();
    let revoked = tx.revoke_app_for_user(viewer.0.user.id, app_id).await?;
    if revoked == 0 {
        return Err(PageError::NotFound);
    }
    let event = AuditEvent {
        kind: "app_disconnected",
        user_id: Some(viewer.0.user.id),
        app_id: Some(app_id),
        ..Default::default()
    };
    tx.audit(&event, state.now()).await?;
    tx.commit().await?;
    Ok(Redirect::to("/me/security/connected-applications?disconnected=1").into_response())
}
