//! Resetting an app's client secret and regenerating its OAuth 1.0a consumer secret. Each asks for
//! confirmation first (a GET page whose form posts the reset), and the POST answers with a redirect
//! to the app's page, where the new secret is shown once (post/redirect/get, `flash`): reloading
//! never resets again.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{MethodRouter, get};
use axum_extra::extract::cookie::CookieJar;

use super::apps::{admin_failure, audit, owned, owned_and_posted, purpose, redirect_to_app};
use super::error::PageError;
use super::flash::Flash;
use super::page::{self, Nav, Viewer};
use super::session;
use crate::admin;
use crate::state::AppState;
use crate::store::App;

/// Which secret a confirmation page resets.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    Client,
    Consumer,
}

#[derive(Template, WebTemplate)]
#[template(path = "app_reset.html")]
struct ConfirmPage {
    nav: Nav,
    app: App,
    which: Which,
    csrf: String,
}

impl ConfirmPage {
    fn action(&self) -> String {
        match self.which {
            Which::Client => format!("/apps/{}/reset-secret", self.app.id),
            Which::Consumer => format!("/apps/{}/regenerate-consumer-secret", self.app.id),
        }
    }
}

/// `/apps/{id}/reset-secret` and `/apps/{id}/regenerate-consumer-secret`: the GET asks "are you
/// sure?", the POST resets `which` secret.
pub(crate) fn routes(which: Which) -> MethodRouter<AppState> {
    get(
        move |State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>| async move {
            confirm_page(state, viewer, id, which).await
        },
    )
    .post(
        move |State(state): State<AppState>,
              viewer: Viewer,
              jar: CookieJar,
              Path(id): Path<String>,
              body: axum::body::Bytes| async move {
            reset(state, viewer, jar, id, body, which).await
        },
    )
}

async fn confirm_page(
    state: AppState,
    viewer: Viewer,
    id: String,
    which: Which,
) -> Result<Response, PageError> {
    let app = owned(&state, &viewer, &id).await?;
    if which == Which::Consumer && app.oauth1_key.is_none() {
        return Err(no_consumer());
    }
    Ok(page::render(ConfirmPage {
        nav: Nav::new(&state, &viewer, "apps"),
        csrf: session::csrf_token(&state, &viewer.0, &purpose(app.id)),
        app,
        which,
    }))
}

fn no_consumer() -> PageError {
    PageError::invalid_request(
        "This app has no OAuth 1.0a consumer: add an OAuth1 callback URL first.",
    )
}

/// Resets `which` secret of an owned app, audits it, and shows the new one once on the app's page.
async fn reset(
    state: AppState,
    viewer: Viewer,
    jar: CookieJar,
    id: String,
    body: axum::body::Bytes,
    which: Which,
) -> Result<Response, PageError> {
    let (app, _) = owned_and_posted(&state, &viewer, &id, &body, &[]).await?;
    if which == Which::Consumer && app.oauth1_key.is_none() {
        return Err(no_consumer());
    }
    let mut tx = state.store.begin();
    let secret = match which {
        Which::Client => admin::reset_secret(&mut tx, &*state.random, &app).await,
        Which::Consumer => {
            admin::regenerate_consumer_secret(&mut tx, &*state.random, &state.key.0, &app).await
        }
    }
    .map_err(admin_failure)?;
    let event = match which {
        Which::Client => "client_secret_reset",
        Which::Consumer => "consumer_secret_reset",
    };
    audit(&mut tx, &viewer, app.id, event, state.now()).await?;
    tx.commit().await?;
    let issued = match which {
        Which::Client => {
            // The playground keeps the client secret it was last given: that one is void now.
            state.playground.forget(app.id);
            Flash {
                client_secret: Some(secret),
                notice: Some("A new client secret was issued. The old one no longer works.".into()),
                ..Flash::default()
            }
        }
        Which::Consumer => Flash {
            consumer_secret: Some(secret),
            notice: Some(
                "A new consumer secret was issued; the consumer key is unchanged. The old secret \
                 no longer works."
                    .into(),
            ),
            ..Flash::default()
        },
    };
    Ok(redirect_to_app(&state, &viewer, jar, app.id, issued))
}
