//! The 2-step authentication settings page `/me/security/two-step` (oauth2.md §7, security.md
//! PW05): enable by scanning a QR code and confirming a code, recovery codes shown once, disable
//! with a fresh code. The seed, the codes and their budget are `auth::two_step`; the login's second
//! step is `second_step`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::error::PageError;
use super::page::{Nav, checked_post, render_with};
use super::redirect::login_first;
use super::session::{self, SessionUser};
use crate::auth::two_step::{self, Disabled, Enabled};
use crate::domain::two_step as rules;
use crate::http::peer::Peer;
use crate::state::AppState;

const PAGE: &str = "/me/security/two-step";

#[derive(Template, WebTemplate)]
#[template(path = "two_step.html")]
struct SettingsPage<'a> {
    nav: Nav,
    enabled: bool,
    csrf: String,
    /// Setting up: the QR code as a `data:` URI, the seed for typing, and the sealed seed.
    qr: String,
    seed: String,
    setup: String,
    codes_left: i64,
    error: Option<&'a str>,
}

#[derive(Template, WebTemplate)]
#[template(path = "two_step_codes.html")]
struct RecoveryCodesPage {
    nav: Nav,
    codes: Vec<String>,
}

/// The settings page with a fresh seed to scan (2-step off) or the disable form (on).
async fn settings(
    state: &AppState,
    s: &SessionUser,
    seed: Option<Vec<u8>>,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let auth = state.auth();
    let enabled = state.store.two_step(s.user.id).await?.enabled();
    let (qr, seed_text, setup, purpose) = if enabled {
        (
            String::new(),
            String::new(),
            String::new(),
            "two-step-disable",
        )
    } else {
        let seed = seed.unwrap_or_else(|| two_step::new_seed(&auth));
        let uri = rules::otpauth_uri("Latchkey", &s.user.username, &seed);
        let sealed = two_step::seal_setup(&auth, s.user.id, &seed);
        (
            rules::qr_data_uri(&uri).unwrap_or_default(),
            rules::base32_grouped(&seed),
            sealed,
            "two-step-enable",
        )
    };
    let codes_left = if enabled {
        state.store.recovery_codes_left(s.user.id).await?
    } else {
        0
    };
    Ok(render_with(
        status,
        SettingsPage {
            nav: Nav::of(state, s, "security"),
            enabled,
            csrf: session::csrf_token(state, s, purpose),
            qr,
            seed: seed_text,
            setup,
            codes_left,
            error,
        },
    ))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    s: Option<SessionUser>,
) -> Result<Response, PageError> {
    let Some(s) = s else {
        return Ok(login_first(PAGE));
    };
    settings(&state, &s, None, None, StatusCode::OK).await
}

/// `POST /me/security/two-step/enable`: the sealed seed from the page and a code it produced.
pub(crate) async fn enable(
    State(state): State<AppState>,
    s: Option<SessionUser>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let Some((s, form)) = checked_post(&state, s, &headers, &body, "two-step-enable")? else {
        return Ok(login_first(PAGE));
    };
    let auth = state.auth();
    let seed = form
        .value("setup")
        .and_then(|v| two_step::open_setup(&auth, s.user.id, v));
    let Some(seed) = seed else {
        return Err(PageError::invalid_request(
            "The setup form is damaged. Reload the page and scan the new QR code.",
        ));
    };
    let code = form.get("code");
    match two_step::enable(&auth, s.user.id, &seed, code).await? {
        Enabled::Now { recovery_codes } => Ok(render_with(
            StatusCode::OK,
            RecoveryCodesPage {
                nav: Nav::of(&state, &s, "security"),
                codes: recovery_codes,
            },
        )),
        Enabled::Already => Ok(Redirect::to(PAGE).into_response()),
        Enabled::WrongCode => {
            let error = if code.trim().is_empty() {
                "Enter the 6-digit code your authenticator app shows."
            } else {
                "That code does not match. Check the time on your phone and enter the current code."
            };
            settings(&state, &s, Some(seed), Some(error), StatusCode::BAD_REQUEST).await
        }
    }
}

/// `POST /me/security/two-step/disable`: needs a fresh code, throttled like a login.
pub(crate) async fn disable(
    State(state): State<AppState>,
    s: Option<SessionUser>,
    peer: Peer,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let Some((s, form)) = checked_post(&state, s, &headers, &body, "two-step-disable")? else {
        return Ok(login_first(PAGE));
    };
    let code = form.get("code");
    match two_step::disable(&state.auth(), &s.user, code, peer.0).await? {
        Disabled::Now | Disabled::Already => Ok(Redirect::to(PAGE).into_response()),
        Disabled::Throttled { retry_after } => Err(PageError::TooManyRequests { retry_after }),
        Disabled::Refused => {
            settings(
                &state,
                &s,
                None,
                Some("That code is not right, or it was already used. Enter a new code."),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}
