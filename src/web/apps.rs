//! The applications manager (product.md "Surfaces"; reference wpcom-oauth2.md §6.1): `/apps`,
//! `/apps/new`, `/apps/{client_id}` with edit, secret reset, OAuth1 secret regeneration and delete.
//!
//! Only the owner sees or changes an app: anyone else gets the same 404 as for an app that does not
//! exist, so client ids cannot be probed. Validation is `admin::check_app`, shared with the CLI.
//! Secrets are shown once, in the response to the POST that issued them, with `no-store`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::error::PageError;
use super::page::{self, FieldError, Form, Nav, Viewer};
use super::session;
use crate::admin::{self, AppInput};
use crate::domain::app::AppType;
use crate::state::AppState;
use crate::store::{App, AuditEvent};

/// What the app form shows: the user's input, kept as typed.
#[derive(Debug, Clone)]
pub struct AppFields {
    pub name: String,
    pub description: String,
    pub website: String,
    pub icon_url: String,
    pub app_type: String,
    pub redirect_uris: String,
    pub js_origins: String,
    pub allow_implicit: bool,
    pub oauth1_callback: String,
}

impl Default for AppFields {
    fn default() -> Self {
        AppFields {
            name: String::new(),
            description: String::new(),
            website: String::new(),
            icon_url: String::new(),
            app_type: "web".into(),
            redirect_uris: String::new(),
            js_origins: String::new(),
            allow_implicit: true,
            oauth1_callback: String::new(),
        }
    }
}

impl AppFields {
    fn from_form(form: &Form) -> Self {
        AppFields {
            name: form.get("name").to_owned(),
            description: form.get("description").to_owned(),
            website: form.get("website").trim().to_owned(),
            icon_url: form.get("icon_url").trim().to_owned(),
            app_type: form.get("app_type").to_owned(),
            redirect_uris: form.get("redirect_uris").to_owned(),
            js_origins: form.get("js_origins").to_owned(),
            allow_implicit: form.checked("allow_implicit"),
            oauth1_callback: form.get("oauth1_callback").trim().to_owned(),
        }
    }

    fn from_app(app: &App) -> Self {
        AppFields {
            name: app.name.clone(),
            description: app.description.clone(),
            website: app.website.clone(),
            icon_url: app.icon_url.clone(),
            app_type: app.app_type.clone(),
            redirect_uris: app.redirect_uris.clone(),
            js_origins: app.js_origins.clone(),
            allow_implicit: app.allow_implicit,
            oauth1_callback: app.oauth1_callback.clone().unwrap_or_default(),
        }
    }

    /// The parts of the input that need parsing before `admin` sees them.
    fn parse(&self) -> Result<Parsed, FieldError> {
        let app_type = self
            .app_type
            .parse::<AppType>()
            .map_err(|_| FieldError::new("type", "Choose Web or Native."))?;
        Ok(Parsed {
            app_type,
            redirect_uris: page::lines(&self.redirect_uris),
            js_origins: page::lines(&self.js_origins),
        })
    }

    fn input<'a>(&'a self, parsed: &'a Parsed) -> AppInput<'a> {
        AppInput {
            name: &self.name,
            description: &self.description,
            website: &self.website,
            icon_url: &self.icon_url,
            app_type: parsed.app_type,
            redirect_uris: &parsed.redirect_uris,
            js_origins: &parsed.js_origins,
            allow_implicit: self.allow_implicit,
            oauth1_callback: (!self.oauth1_callback.is_empty())
                .then_some(self.oauth1_callback.as_str()),
        }
    }
}

struct Parsed {
    app_type: AppType,
    redirect_uris: Vec<String>,
    js_origins: Vec<String>,
}

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

/// Secrets issued by the request that renders the page: shown this once.
#[derive(Default)]
struct Issued {
    client_secret: Option<String>,
    consumer_secret: Option<String>,
    notice: Option<&'static str>,
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
    oauth1_endpoints: Vec<(&'static str, String)>,
    example: String,
    issued: Issued,
    csrf: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "app_delete.html")]
struct DeletePage {
    nav: Nav,
    app: App,
    users: i64,
    csrf: String,
}

fn purpose(app_id: i64) -> String {
    format!("app:{app_id}")
}

/// The app when `viewer` owns it; 404 otherwise (unknown, malformed and foreign ids alike).
async fn owned(state: &AppState, viewer: &Viewer, id: &str) -> Result<App, PageError> {
    let Some(id) = id.parse::<i64>().ok().filter(|id| *id > 0) else {
        return Err(PageError::NotFound);
    };
    match state.store.app_by_id(id).await? {
        Some(app) if app.owner_id == viewer.0.user.id => Ok(app),
        _ => Err(PageError::NotFound),
    }
}

pub async fn list(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
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

pub async fn new_form(State(state): State<AppState>, viewer: Viewer) -> Response {
    page::render(AppFormPage {
        nav: Nav::new(&state, &viewer, "apps"),
        app_id: None,
        fields: AppFields::default(),
        error: FieldError::default(),
        csrf: session::csrf_token(&state, &viewer.0, "apps:new"),
    })
}

pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse_with_text(&body, APP_TEXT_FIELDS)?;
    session::verify_csrf(&state, &viewer.0, "apps:new", form.csrf())?;
    let fields = AppFields::from_form(&form);
    let base = state.settings.base_url();
    let now = state.now();
    let user = &viewer.0.user;
    let result = match fields.parse() {
        Ok(parsed) => admin::create_app(
            &state.store,
            &*state.random,
            &state.key.0,
            user,
            &fields.input(&parsed),
            &base,
            now,
        )
        .await
        .map_err(FieldError::from_admin),
        Err(e) => Err(Ok(e)),
    };
    let result = match result {
        Ok(v) => Ok(v),
        Err(e) => Err(e?),
    };
    match result {
        Ok(created) => {
            audit(&state, &viewer, created.app.id, "app_created").await?;
            let issued = Issued {
                client_secret: Some(created.client_secret),
                consumer_secret: created.consumer_secret,
                notice: Some("Your application was created."),
            };
            Ok(page::render(app_page(&state, &viewer, created.app, issued)))
        }
        Err(error) => Ok(page::render_with(
            StatusCode::BAD_REQUEST,
            AppFormPage {
                nav: Nav::new(&state, &viewer, "apps"),
                app_id: None,
                fields,
                error,
                csrf: session::csrf_token(&state, &viewer.0, "apps:new"),
            },
        )),
    }
}

fn app_page(state: &AppState, viewer: &Viewer, app: App, issued: Issued) -> AppPage {
    let base = state.settings.base_url();
    let endpoints = vec![
        ("Authorize URL", format!("{base}/oauth2/authorize")),
        ("Authenticate URL", format!("{base}/oauth2/authenticate")),
        ("Token URL", format!("{base}/oauth2/token")),
        ("Token info URL", format!("{base}/oauth2/token-info")),
        ("Current user (REST)", format!("{base}/rest/v1.1/me")),
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
        csrf: session::csrf_token(state, &viewer.0, &purpose(app.id)),
        redirect_uris,
        endpoints,
        oauth1_endpoints,
        example,
        issued,
        app,
    }
}

pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let app = owned(&state, &viewer, &id).await?;
    Ok(page::render(app_page(
        &state,
        &viewer,
        app,
        Issued::default(),
    )))
}

pub async fn edit_form(
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

pub async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let app = owned(&state, &viewer, &id).await?;
    let form = Form::parse_with_text(&body, APP_TEXT_FIELDS)?;
    session::verify_csrf(&state, &viewer.0, &purpose(app.id), form.csrf())?;
    let fields = AppFields::from_form(&form);
    let base = state.settings.base_url();
    let result = match fields.parse() {
        Ok(parsed) => admin::update_app(
            &state.store,
            &*state.random,
            &state.key.0,
            &app,
            &fields.input(&parsed),
            &base,
        )
        .await
        .map_err(FieldError::from_admin),
        Err(e) => Err(Ok(e)),
    };
    let result = match result {
        Ok(v) => Ok(v),
        Err(e) => Err(e?),
    };
    match result {
        Ok(updated) => {
            audit(&state, &viewer, app.id, "app_updated").await?;
            if updated.consumer_secret.is_none() {
                return Ok(Redirect::to(&format!("/apps/{}", app.id)).into_response());
            }
            let issued = Issued {
                consumer_secret: updated.consumer_secret,
                notice: Some("Your changes were saved. OAuth 1.0a is now on for this app."),
                ..Issued::default()
            };
            Ok(page::render(app_page(&state, &viewer, updated.app, issued)))
        }
        Err(error) => Ok(page::render_with(
            StatusCode::BAD_REQUEST,
            AppFormPage {
                nav: Nav::new(&state, &viewer, "apps"),
                app_id: Some(app.id),
                fields,
                error,
                csrf: session::csrf_token(&state, &viewer.0, &purpose(app.id)),
            },
        )),
    }
}

pub async fn reset_secret(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let app = owned(&state, &viewer, &id).await?;
    let form = Form::parse(&body)?;
    session::verify_csrf(&state, &viewer.0, &purpose(app.id), form.csrf())?;
    let secret = admin::reset_secret(&state.store, &*state.random, &app)
        .await
        .map_err(admin_failure)?;
    audit(&state, &viewer, app.id, "client_secret_reset").await?;
    state.playground.forget(app.id);
    let issued = Issued {
        client_secret: Some(secret),
        notice: Some("A new client secret was issued. The old one no longer works."),
        ..Issued::default()
    };
    Ok(page::render(app_page(&state, &viewer, app, issued)))
}

pub async fn regenerate_consumer_secret(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let app = owned(&state, &viewer, &id).await?;
    let form = Form::parse(&body)?;
    session::verify_csrf(&state, &viewer.0, &purpose(app.id), form.csrf())?;
    if app.oauth1_key.is_none() {
        return Err(PageError::invalid_request(
            "This app has no OAuth 1.0a consumer: add an OAuth1 callback URL first.",
        ));
    }
    let secret =
        admin::regenerate_consumer_secret(&state.store, &*state.random, &state.key.0, &app)
            .await
            .map_err(admin_failure)?;
    audit(&state, &viewer, app.id, "consumer_secret_reset").await?;
    let issued = Issued {
        consumer_secret: Some(secret),
        notice: Some(
            "A new consumer secret was issued; the consumer key is unchanged. The old secret no longer works.",
        ),
        ..Issued::default()
    };
    Ok(page::render(app_page(&state, &viewer, app, issued)))
}

pub async fn confirm_delete(
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

pub async fn delete(
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
    state.store.delete_app(app.id).await?;
    state.playground.forget(app.id);
    audit(&state, &viewer, app.id, "app_deleted").await?;
    Ok(Redirect::to("/apps").into_response())
}

async fn audit(
    state: &AppState,
    viewer: &Viewer,
    app_id: i64,
    kind: &str,
) -> Result<(), PageError> {
    let event = AuditEvent {
        kind,
        user_id: Some(viewer.0.user.id),
        app_id: Some(app_id),
        ..Default::default()
    };
    Ok(state.store.audit(&event, state.now()).await?)
}

/// Errors of administration calls that have no form field to show them next to.
fn admin_failure(e: admin::AdminError) -> PageError {
    match FieldError::from_admin(e) {
        Ok(f) => PageError::invalid_request(f.message),
        Err(p) => p,
    }
}
