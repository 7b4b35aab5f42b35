//! Which clients the playground may act as for this viewer: for OAuth2, the demo app and the
//! viewer's apps that register `<public URL>/playground/callback`; for OAuth1, the demo app and the
//! viewer's apps whose registered OAuth1 callback matches `<public URL>/playground/oauth1/callback`
//! (oauth1.md §7). An app registered with `oob` is not offered for OAuth1: its verifier is shown to
//! the user instead of coming back, and the redirect leg is what the playground is here to show.

use crate::admin::AdminError;
use crate::oauth1::callback;
use crate::state::AppState;
use crate::store::App;
use crate::web::error::PageError;
use crate::web::page::{Form, Viewer};

/// A client the playground can act as, for the select box.
pub(super) struct ClientChoice {
    pub(super) id: i64,
    pub(super) label: String,
    pub(super) demo: bool,
    pub(super) native: bool,
}

impl ClientChoice {
    /// Whether a code flow must be given the client secret to exchange the code: for the user's
    /// own confidential app (the demo app's stays on the server; a native app has none).
    pub(super) fn lacks_secret(&self, pasted: &str) -> bool {
        !self.demo && !self.native && pasted.is_empty()
    }

    /// The client secret a code flow keeps for its exchange: the one pasted for the user's own
    /// app; `None` for the demo app, whose secret stays on the server.
    pub(super) fn secret_to_keep(&self, pasted: &str) -> Option<String> {
        (!self.demo && !pasted.is_empty()).then(|| pasted.to_owned())
    }
}

/// Whether `scope` is one the OAuth2 flows' scope list offers (none, `global` or `auth`).
pub(super) fn listed_scope(scope: &str) -> bool {
    ["", "global", "auth"].contains(&scope)
}

/// Where the OAuth2 flows come back.
pub(super) fn callback_url(state: &AppState) -> String {
    format!("{}/playground/callback", state.settings.base_url())
}

/// Where the OAuth1 flow comes back.
pub(super) fn oauth1_callback_url(state: &AppState) -> String {
    format!("{}/playground/oauth1/callback", state.settings.base_url())
}

pub(super) fn admin_failure(e: AdminError) -> PageError {
    match e {
        AdminError::Store(e) => e.into(),
        other => PageError::invalid_request(other.to_string()),
    }
}

/// The demo app, then the viewer's apps, each once, where `fits(app, is_demo)`.
async fn choices(
    state: &AppState,
    viewer: &Viewer,
    fits: impl Fn(&App, bool) -> bool,
    label: impl Fn(&App, bool) -> String,
) -> Result<Vec<(ClientChoice, App)>, PageError> {
    let choice = |app: &App, demo: bool| ClientChoice {
        id: app.id,
        label: label(app, demo),
        demo,
        native: !demo && app.is_native(),
    };
    let mut out = Vec::new();
    if let Some(app) = crate::demo::demo_app(state).await.map_err(admin_failure)?
        && fits(&app, true)
    {
        out.push((choice(&app, true), app));
    }
    for app in state.store.list_apps(Some(viewer.0.user.id)).await? {
        if fits(&app, false) && !out.iter().any(|(c, _)| c.id == app.id) {
            out.push((choice(&app, false), app));
        }
    }
    Ok(out)
}

fn whose(demo: bool) -> &'static str {
    if demo {
        "built-in demo client"
    } else {
        "your app"
    }
}

/// The OAuth2 clients: the demo app and the viewer's apps that can come back to the playground.
pub(super) async fn clients(
    state: &AppState,
    viewer: &Viewer,
) -> Result<Vec<(ClientChoice, App)>, PageError> {
    let ours = callback_url(state);
    choices(
        state,
        viewer,
        // The demo app is offered whatever it registers: the server seeded it for this page.
        |app, demo| demo || app.redirect_uri_list().contains(&ours),
        |app, demo| format!("{} — {} ({})", app.name, whose(demo), app.id),
    )
    .await
}

/// The OAuth2 client chosen in a form: one the viewer may use here.
pub(super) async fn chosen(
    state: &AppState,
    viewer: &Viewer,
    form: &Form,
) -> Result<Option<(ClientChoice, App)>, PageError> {
    Ok(picked(form, clients(state, viewer).await?))
}

/// The one of `choices` that the form's `client_id` names.
pub(super) fn picked(
    form: &Form,
    choices: Vec<(ClientChoice, App)>,
) -> Option<(ClientChoice, App)> {
    let id = form.get("client_id").parse::<i64>().ok()?;
    choices.into_iter().find(|(c, _)| c.id == id)
}

/// The OAuth1 consumers: the demo app and the viewer's apps whose OAuth1 callback comes back to
/// the playground.
pub(super) async fn consumers(
    state: &AppState,
    viewer: &Viewer,
) -> Result<Vec<(ClientChoice, App)>, PageError> {
    let ours = oauth1_callback_url(state);
    choices(
        state,
        viewer,
        |app, _| {
            app.oauth1_key.is_some()
                && app
                    .oauth1_callback
                    .as_deref()
                    .is_some_and(|registered| callback::matches(registered, &ours))
        },
        |app, demo| {
            format!(
                "{} — {} (consumer key {})",
                app.name,
                whose(demo),
                app.oauth1_key.as_deref().unwrap_or("")
            )
        },
    )
    .await
}
