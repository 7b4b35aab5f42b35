//! The pages every flow shares: the playground itself (`GET /playground`, also shown again with a
//! form's error) and the result page that lists a flow's exchanges.

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::call::Exchange;
use super::clients::{self, ClientChoice};
use crate::state::AppState;
use crate::store::App;
use crate::web::error::PageError;
use crate::web::page::{self, FieldError, Form, Nav, Viewer};
use crate::web::session;

/// The CSRF purpose of every playground form.
pub(super) const CSRF: &str = "playground";

#[derive(Template, WebTemplate)]
#[template(path = "playground.html")]
struct PlaygroundPage {
    nav: Nav,
    clients: Vec<ClientChoice>,
    callback: String,
    /// The apps the OAuth1 flow can act as, and the callback they must register.
    consumers: Vec<ClientChoice>,
    oauth1_callback: String,
    has_sites: bool,
    csrf: String,
    error: FieldError,
    /// What the user typed, kept when a form comes back with an error.
    client_id: String,
    username: String,
    token: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "playground_result.html")]
pub(super) struct ResultPage {
    nav: Nav,
    outcome: Outcome,
    csrf: String,
}

async fn playground_page(
    state: &AppState,
    viewer: &Viewer,
    error: FieldError,
    form: Option<&Form>,
) -> Result<PlaygroundPage, PageError> {
    let names = |choices: Vec<(ClientChoice, App)>| -> Vec<ClientChoice> {
        choices.into_iter().map(|(c, _)| c).collect()
    };
    let clients = names(clients::clients(state, viewer).await?);
    let consumers = names(clients::consumers(state, viewer).await?);
    let has_sites = !state
        .store
        .administered_sites(viewer.0.user.id)
        .await?
        .is_empty();
    let typed = |name: &str| form.map(|f| f.get(name).to_owned()).unwrap_or_default();
    Ok(PlaygroundPage {
        nav: Nav::new(state, viewer, "playground"),
        clients,
        callback: clients::callback_url(state),
        consumers,
        oauth1_callback: clients::oauth1_callback_url(state),
        has_sites,
        csrf: session::csrf_token(state, &viewer.0, CSRF),
        error,
        client_id: typed("client_id"),
        username: typed("username"),
        token: typed("token"),
    })
}

/// `GET /playground`.
pub(super) async fn index(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    let page = playground_page(&state, &viewer, FieldError::default(), None).await?;
    Ok(page::render(page))
}

/// The playground again, with `message` at `field` and what the user typed.
pub(super) async fn form_error(
    state: &AppState,
    viewer: &Viewer,
    form: &Form,
    field: &'static str,
    message: &str,
) -> Result<Response, PageError> {
    let page = playground_page(state, viewer, FieldError::new(field, message), Some(form)).await?;
    Ok(page::render_with(StatusCode::BAD_REQUEST, page))
}

/// The playground again, asking for one of the listed clients at `field`.
pub(super) async fn choose_a_client(
    state: &AppState,
    viewer: &Viewer,
    form: &Form,
    field: &'static str,
) -> Result<Response, PageError> {
    form_error(
        state,
        viewer,
        form,
        field,
        "Choose one of the listed clients.",
    )
    .await
}

/// What a result page shows, apart from the navigation and the form token.
pub(super) struct Outcome {
    pub(super) title: &'static str,
    pub(super) summary: String,
    /// Where the browser went and came back, as label and address.
    pub(super) browser: Vec<(&'static str, String)>,
    pub(super) token: Option<String>,
    pub(super) exchanges: Vec<Exchange>,
    pub(super) client_id: i64,
}

pub(super) fn result(state: &AppState, viewer: &Viewer, outcome: Outcome) -> ResultPage {
    ResultPage {
        nav: Nav::new(state, viewer, "playground"),
        outcome,
        csrf: session::csrf_token(state, &viewer.0, CSRF),
    }
}

/// A playground form as posted, once its CSRF token is checked; `text` names its free-text fields
/// (see `Form::parse_with_text`).
pub(super) fn posted(
    state: &AppState,
    viewer: &Viewer,
    body: &[u8],
    text: &[&str],
) -> Result<Form, PageError> {
    let form = Form::parse_with_text(body, text)?;
    session::verify_csrf(state, &viewer.0, CSRF, form.csrf())?;
    Ok(form)
}

/// A playground form posted by the viewer, once its CSRF token is checked: every form but the
/// implicit flow's, whose pasted address is free text (`posted` with its field).
pub(super) struct Posted {
    pub(super) viewer: Viewer,
    pub(super) form: Form,
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let form = posted(state, &viewer, &body, &[]).map_err(IntoResponse::into_response)?;
        Ok(Posted { viewer, form })
    }
}

pub(super) fn no_flow() -> PageError {
    PageError::invalid_request(
        "No playground flow is in progress in this browser (or it is more than 15 minutes old). Start again from the playground.",
    )
}
