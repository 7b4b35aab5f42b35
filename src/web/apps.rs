//! The applications manager (product.md "Surfaces"; reference wpcom-oauth2.md §6.1): `/apps`,
//! `/apps/new`, `/apps/{client_id}` with edit, secret reset, OAuth1 secret regeneration and delete.
//!
//! Only the owner sees or changes an app: anyone else gets the same 404 as for an app that does not
//! exist, so client ids cannot be probed. Validation is `admin::check_app`, shared with the CLI;
//! the icon URL is fetched when it is new or changed (`icons`). Every POST answers with a redirect
//! (post/redirect/get): a secret it issued travels in a sealed one-time cookie (`flash`) and is
//! shown once by the GET of the app's page, with `no-store`. Reloading that page shows it no more,
//! and creates or resets nothing. Secret resets ask for confirmation first (`app_secrets`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;

use super::app_fields::{AppFields, Parsed};
use super::error::PageError;
use super::flash::{self, Flash};
use super::icons::{self, IconChange};
use super::page::{self, FieldError, Form, Nav, Viewer};
use super::session;
use crate::admin;
use crate::domain::client_metadata::GrantType;
use crate::state::AppState;
use crate::store::{App, AuditEvent, Tx};

#[derive(Template, WebTemplate)]
#[template(path = "apps.html")]
struct AppsPage {
    nav: Nav,
    apps: Vec<(App, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "app_form.html")]
struct AppFormPage {
    nav: Nav,
    /// `None` for a new app.
    app_id: Option<i64>,
    fields: AppFields,
    error: FieldError,
    csrf: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "app.html")]
struct AppPage {
    nav: Nav,
    app: App,
    redirect_uris: Vec<String>,
    js_origins: Vec<String>,
    created: String,
    endpoints: Vec<(&'static str, String)>,
    oauth21_endpoints: Vec<(&'static str, String)>,
    /// The grants of `/oauth2-1/token` the app may use.
    grant_types: Vec<&'static str>,
    /// Whether every code grant at `/oauth2-1/token` yields a refresh token (the `refresh_token`
    /// grant); without it, only a request with `offline_access` gets one (oauth21.md §2).
    refresh_tokens: bool,
    /// The URIs of the APIs the app serves as a resource server (`latchkey app update
    /// --resource`; oauth21.md §2, §4): shown, set only through the CLI.
    resources: Vec<String>,
    oauth1_endpoints: Vec<(&'static str, String)>,
    example: String,
    /// What the POST before this GET issued or said: shown this once.
    issued: Flash,
}

#[derive(Template, WebTemplate)]
#[template(path = "app_delete.html")]
struct DeletePage {
    nav: Nav,
    app: App,
    users: i64,
    csrf: String,
}

pub(super) fn purpose(app_id: i64) -> String {
    format!("app:{app_id}")
}

/// The app's page, where a POST sends the browser with what it issued.
pub(super) fn redirect_to_app(
    state: &AppState,
    viewer: &Viewer,
    jar: CookieJar,
    app_id: i64,
    issued: Flash,
) -> Response {
    let path = format!("/apps/{app_id}");
    let jar = jar.add(flash::cookie(state, viewer.0.user.id, &path, issued));
    (jar, Redirect::to(&path)).into_response()
}

/// The app when `viewer` owns it; 404 otherwise (unknown, malformed and foreign ids alike).
pub(super) async fn owned(state: &AppState, viewer: &Viewer, id: &str) -> Result<App, PageError> {
    let Some(id) = id.parse::<i64>().ok().filter(|id| *id > 0) else {
        return Err(PageError::NotFound);
    };
    match state.store.app_by_id(id).await? {
        Some(app) if app.owner_id == Some(viewer.0.user.id) => Ok(app),
        _ => Err(PageError::NotFound),
    }
}

/// The app when `viewer` owns it, and the form posted to it once its CSRF token is checked; `text`
/// names the form's free-text fields (see `Form::parse_with_text`).
pub(super) async fn owned_and_posted(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    body: &[u8],
    text: &[&str],
) -> Result<(App, Form), PageError> {
    let app = owned(state, viewer, id).await?;
    let form = Form::parse_with_text(body, text)?;
    session::verify_csrf(state, &viewer.0, &purpose(app.id), form.csrf())?;
    Ok((app, form))
}

pub(crate) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    let apps = state
        .store
        .list_apps(Some(viewer.0.user.id))
        .await?
        .into_iter()
        .map(|a| {
            let created = page::date(a.created_at);
            (a, created)
        })
        .collect();
    Ok(page::render(AppsPage {
        nav: Nav::new(&state, &viewer, "apps"),
        apps,
    }))
}

/// The app form's free-text fields (`domain::input`): the description, and the textareas that
/// hold one redirect URI or origin a line (each line is then checked as a URL).
const APP_TEXT_FIELDS: &[&str] = &["description", "redirect_uris", "js_origins"];

pub(crate) async fn new_form(State(state): State<AppState>, viewer: Viewer) -> Response {
    page::render(AppFormPage {
        nav: Nav::new(&state, &viewer, "apps"),
        app_id: None,
        fields: AppFields::default(),
        error: FieldError::default(),
        csrf: session::csrf_token(&state, &viewer.0, "apps:new"),
    })
}

pub(crate) async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    jar: CookieJar,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse_with_text(&body, APP_TEXT_FIELDS)?;
    session::verify_csrf(&state, &viewer.0, "apps:new", form.csrf())?;
    let fields = AppFields::from_form(&form, None);
    let base = state.settings.base_url();
    let mut tx = state.store.begin();
    let result = match checked(&state, &fields, None).await {
        Ok((parsed, icon)) => admin::create_app(
            &mut tx,
            &*state.random,
            &state.key.0,
            &viewer.0.user,
            &fields.input(&parsed),
            base,
            state.now(),
        )
        .await
        .map(|created| (created, icon, parsed.grant_types.clone()))
        .map_err(FieldError::from_admin),
        Err(e) => Err(e),
    };
    match result {
        Ok((created, icon, grants)) => {
            let id = created.app.id;
            // The column's default is the code grant alone (migration 0012).
            if grants != [GrantType::AuthorizationCode] {
                tx.set_app_grant_types(id, &grants).await?;
            }
            icons::apply(&mut tx, id, icon, state.now()).await?;
            audit(&mut tx, &viewer, id, "app_created", state.now()).await?;
            tx.commit().await?;
            let issued = Flash {
                client_secret: Some(created.client_secret),
                consumer_secret: created.consumer_secret,
                notice: Some("Your application was created.".into()),
            };
            Ok(redirect_to_app(&state, &viewer, jar, id, issued))
        }
        Err(error) => Ok(page::render_with(
            StatusCode::BAD_REQUEST,
            AppFormPage {
                nav: Nav::new(&state, &viewer, "apps"),
                app_id: None,
                fields,
                error: error?,
                csrf: session::csrf_token(&state, &viewer.0, "apps:new"),
            },
        )),
    }
}

/// Parses and checks the form (the rules of `admin::check_app`), then fetches the icon when its URL
/// is new or changed. The error is the one field error to show (or a failure no field explains).
async fn checked(
    state: &AppState,
    fields: &AppFields,
    old_icon_url: Option<&str>,
) -> Result<(Parsed, IconChange), Result<FieldError, PageError>> {
    let parsed = fields.parse().map_err(Ok)?;
    admin::check_app(&fields.input(&parsed), state.settings.base_url())
        .map_err(FieldError::from_admin)?;
    let icon = icons::prepare(state, old_icon_url, &fields.icon_url)
        .await
        .map_err(|e| {
            Ok(FieldError::new(
                "icon-url",
                page::capitalise(&e.to_string()),
            ))
        })?;
    Ok((parsed, icon))
}

fn app_page(
    state: &AppState,
    viewer: &Viewer,
    app: App,
    resources: Vec<String>,
    issued: Flash,
) -> AppPage {
    let base = state.settings.base_url();
    let endpoints = vec![
        ("Authorize URL", format!("{base}/oauth2/authorize")),
        ("Authenticate URL", format!("{base}/oauth2/authenticate")),
        ("Token URL", format!("{base}/oauth2/token")),
        ("Token info URL", format!("{base}/oauth2/token-info")),
        ("Current user (REST)", format!("{base}/rest/v1.1/me")),
    ];
    let oauth21_endpoints = vec![
        ("Authorize URL", format!("{base}/oauth2-1/authorize")),
        ("Token URL", format!("{base}/oauth2-1/token")),
        (
            "Discovery",
            format!("{base}/.well-known/openid-configuration"),
        ),
    ];
    let oauth1_endpoints = if app.oauth1_key.is_some() {
        vec![
            ("Request token URL", format!("{base}/oauth1/request")),
            ("Authorize URL", format!("{base}/oauth1/authorize")),
            ("Access token URL", format!("{base}/oauth1/access")),
        ]
    } else {
        Vec::new()
    };
    let redirect_uris = app.redirect_uri_list();
    let example = {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("client_id", &app.id.to_string());
        if let Some(r) = redirect_uris.first() {
            q.append_pair("redirect_uri", r);
        }
        q.append_pair("response_type", "code");
        format!("{base}/oauth2/authorize?{}", q.finish())
    };
    AppPage {
        nav: Nav::new(state, viewer, "apps"),
        js_origins: app.js_origin_list(),
        created: page::date(app.created_at),
        redirect_uris,
        endpoints,
        oauth21_endpoints,
        grant_types: app.grant_type_list().iter().map(|g| g.as_str()).collect(),
        refresh_tokens: app.allows_grant(GrantType::RefreshToken),
        resources,
        oauth1_endpoints,
        example,
        issued,
        app,
    }
}

pub(crate) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    jar: CookieJar,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let app = owned(&state, &viewer, &id).await?;
    let path = format!("/apps/{}", app.id);
    let (jar, issued) = flash::take(&state, jar, viewer.0.user.id, &path);
    let resources = state.store.app_resources(app.id).await?;
    Ok(page::render((
        jar,
        app_page(&state, &viewer, app, resources, issued),
    )))
}

pub(crate) async fn edit_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let app = owned(&state, &viewer, &id).await?;
    Ok(page::render(AppFormPage {
        nav: Nav::new(&state, &viewer, "apps"),
        app_id: Some(app.id),
        fields: AppFields::from_app(&app),
        error: FieldError::default(),
        csrf: session::csrf_token(&state, &viewer.0, &purpose(app.id)),
    }))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    jar: CookieJar,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let (app, form) = owned_and_posted(&state, &viewer, &id, &body, APP_TEXT_FIELDS).await?;
    let fields = AppFields::from_form(&form, Some(&app));
    let base = state.settings.base_url();
    let mut tx = state.store.begin();
    let result = match checked(&state, &fields, Some(&app.icon_url)).await {
        Ok((parsed, icon)) => admin::update_app(
            &mut tx,
            &*state.random,
            &state.key.0,
            &app,
            &fields.input(&parsed),
            base,
        )
        .await
        .map(|updated| (updated, icon, parsed.grant_types.clone()))
        .map_err(FieldError::from_admin),
        Err(e) => Err(e),
    };
    match result {
        Ok((updated, icon, grants)) => {
            // The grants of `/oauth2-1/token` are their own column (migration 0012); writing them
            // announces the app as stale to every instance, so only a change is written.
            if grants != app.grant_type_list() {
                tx.set_app_grant_types(app.id, &grants).await?;
            }
            icons::apply(&mut tx, app.id, icon, state.now()).await?;
            audit(&mut tx, &viewer, app.id, "app_updated", state.now()).await?;
            tx.commit().await?;
            let notice = match updated.consumer_secret {
                Some(_) => "Your changes were saved. OAuth 1.0a is now on for this app.",
                None => "Your changes were saved.",
            };
            let issued = Flash {
                consumer_secret: updated.consumer_secret,
                notice: Some(notice.into()),
                ..Flash::default()
            };
            Ok(redirect_to_app(&state, &viewer, jar, app.id, issued))
        }
        Err(error) => Ok(page::render_with(
            StatusCode::BAD_REQUEST,
            AppFormPage {
                nav: Nav::new(&state, &viewer, "apps"),
                app_id: Some(app.id),
                fields,
                error: error?,
                csrf: session::csrf_token(&state, &viewer.0, &purpose(app.id)),
            },
        )),
    }
}

pub(crate) async fn confirm_delete(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let app = owned(&state, &viewer, &id).await?;
    let users = state.store.connected_users(app.id).await?;
    Ok(page::render(DeletePage {
        nav: Nav::new(&state, &viewer, "apps"),
        csrf: session::csrf_token(&state, &viewer.0, &format!("app-delete:{}", app.id)),
        app,
        users,
    }))
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let app = owned(&state, &viewer, &id).await?;
    let form = Form::parse(&body)?;
    session::verify_csrf(
        &state,
        &viewer.0,
        &format!("app-delete:{}", app.id),
        form.csrf(),
    )?;
    let mut tx = state.store.begin();
    tx.delete_app(app.id).await?;
    audit(&mut tx, &viewer, app.id, "app_deleted", state.now()).await?;
    tx.commit().await?;
    state.playground.forget(app.id);
    Ok(Redirect::to("/apps").into_response())
}

/// Writes an event about the viewer's app on the transaction that changed it.
pub(super) async fn audit(
    tx: &mut Tx<'_>,
    viewer: &Viewer,
    app_id: i64,
    kind: &str,
    now: i64,
) -> Result<(), PageError> {
    let event = AuditEvent {
        kind,
        user_id: Some(viewer.0.user.id),
        app_id: Some(app_id),
        ..Default::default()
    };
    Ok(tx.audit(&event, now).await?)
}

/// Errors of administration calls that have no form field to show them next to.
pub(super) fn admin_failure(e: admin::AdminError) -> PageError {
    match FieldError::from_admin(e) {
        Ok(f) => PageError::invalid_request(f.message),
        Err(p) => p,
    }
}
