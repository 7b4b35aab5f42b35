//! Sign-up (`/signup`), switched on by the `signup` setting (on with `serve --demo`). The rules are
//! `admin::create_user`'s, shared with the CLI; each message appears next to its field with the
//! input kept (never the password). Like the login form, the form's CSRF token is bound to a
//! pre-login cookie and cross-site posts are refused. Account creation spends a per-address budget
//! so one client cannot mint accounts in bulk. The new user is logged in with a fresh session.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;

use super::error::PageError;
use super::page::{FieldError, FieldErrors, Form};
use super::redirect::{redirect_query, safe_redirect};
use super::session::{self, SessionUser};
use crate::admin::{self, UserInput};
use crate::domain::random::alphanumeric;
use crate::http::peer::Peer;
use crate::state::AppState;
use crate::store::AuditEvent;

#[derive(Template, WebTemplate)]
#[template(path = "signup.html")]
struct SignupPage<'a> {
    csrf: String,
    redirect_to: &'a str,
    username: &'a str,
    email: &'a str,
    /// Every field's message at once.
    error: FieldErrors,
    signup_enabled: bool,
    login_query: String,
    public_current: &'static str,
}

fn enabled(state: &AppState) -> Result<(), PageError> {
    if state.settings.signup {
        Ok(())
    } else {
        Err(PageError::NotFound)
    }
}

fn form_page(
    state: &AppState,
    jar: CookieJar,
    page: SignupPage<'_>,
    status: StatusCode,
) -> Response {
    let value = alphanumeric(&*state.random, 32);
    let page = SignupPage {
        csrf: session::login_csrf_token(state, &value),
        ..page
    };
    let jar = jar.add(session::cookie(
        state,
        session::login_cookie_name(state),
        value,
        None,
    ));
    super::page::render_with(status, (jar, page))
}

pub(crate) async fn form(
    State(state): State<AppState>,
    jar: CookieJar,
    session: Option<SessionUser>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    enabled(&state)?;
    let params = crate::http::params::Params::decode(query.unwrap_or_default().as_bytes())?;
    let redirect_to = safe_redirect(params.get("redirect_to").ok().flatten()).to_owned();
    let redirect_to = redirect_to.as_str();
    if session.is_some() {
        return Ok(Redirect::to(redirect_to).into_response());
    }
    let page = SignupPage {
        csrf: String::new(),
        redirect_to,
        username: "",
        email: "",
        error: FieldErrors::default(),
        signup_enabled: true,
        login_query: redirect_query(redirect_to),
        public_current: "signup",
    };
    Ok(form_page(&state, jar, page, StatusCode::OK))
}

pub(crate) async fn submit(
    State(state): State<AppState>,
    peer: Peer,
    jar: CookieJar,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    enabled(&state)?;
    session::same_origin(&state, &headers)?;
    let form = match Form::parse(&body) {
        Ok(form) => form,
        Err(m) => {
            let page = SignupPage {
                csrf: String::new(),
                redirect_to: "/",
                username: "",
                email: "",
                error: FieldErrors(vec![FieldError::malformed(
                    &m,
                    &["username", "email", "password"],
                )]),
                signup_enabled: true,
                login_query: String::new(),
                public_current: "signup",
            };
            return Ok(form_page(&state, jar, page, StatusCode::BAD_REQUEST));
        }
    };
    let expected = jar
        .get(session::login_cookie_name(&state))
        .map(|c| session::login_csrf_token(&state, c.value()));
    let csrf_ok = matches!((expected.as_deref(), form.csrf()),
        (Some(e), Some(p)) if crate::domain::secret::digest_eq(e.as_bytes(), p.as_bytes()));
    if !csrf_ok {
        return Err(PageError::Forbidden(
            "The sign-up form has expired or did not come from this site. Reload the page and try again.".into(),
        ));
    }
    let now = state.now();
    let budgets = state.auth().budgets();
    if let Some(retry_after) = budgets.signup_over(peer.0, now) {
        return Err(PageError::TooManyRequests { retry_after });
    }
    let redirect_to = safe_redirect(Some(form.get("redirect_to")));
    let (username, email, password) = (
        form.get("username").trim(),
        form.get("email").trim(),
        form.get("password"),
    );
    let input = UserInput {
        username,
        email,
        password,
        display_name: None,
    };
    let mut error = check_all(&state, &input).await?;
    if error.is_empty() {
        let mut tx = state.store.begin();
        match admin::create_user(&mut tx, &*state.random, &input, now).await {
            Ok(user) => {
                budgets.signup_spend(peer.0, now);
                let event = AuditEvent {
                    kind: "signup",
                    user_id: Some(user.id),
                    peer: Some(peer.to_string()),
                    ..Default::default()
                };
                tx.audit(&event, now).await?;
                let c = session::start(&state, &mut tx, user.id).await?;
                tx.commit().await?;
                let jar = jar.add(c).add(session::cookie(
                    &state,
                    session::login_cookie_name(&state),
                    String::new(),
                    Some(0),
                ));
                return Ok((jar, Redirect::to(redirect_to)).into_response());
            }
            Err(e) => error.push(signup_error(e)?),
        }
    }
    let page = SignupPage {
        csrf: String::new(),
        redirect_to,
        username,
        email,
        error,
        signup_enabled: true,
        login_query: redirect_query(redirect_to),
        public_current: "signup",
    };
    Ok(form_page(&state, jar, page, StatusCode::BAD_REQUEST))
}

/// Every field's problem at once (the rules of `admin::create_user`, and whether the username or
/// the email address is taken), so one submit shows them all.
async fn check_all(state: &AppState, input: &UserInput<'_>) -> Result<FieldErrors, PageError> {
    let mut errors = FieldErrors::default();
    for check in [
        admin::check_username(input.username),
        admin::check_email(input.email),
        admin::check_password(input.password),
    ] {
        if let Err(e) = check {
            errors.push(signup_error(e)?);
        }
    }
    for (field, value) in [("username", input.username), ("email", input.email)] {
        if errors.on(field).is_none() && state.store.user_by_login(value).await?.is_some() {
            errors.push(FieldError::new(
                field,
                format!("This {field} is already taken."),
            ));
        }
    }
    Ok(errors)
}

/// An administration error as a message next to a sign-up field (the display name is the
/// username here).
fn signup_error(e: admin::AdminError) -> Result<FieldError, PageError> {
    let mut error = FieldError::from_admin(e)?;
    if error.field == "display-name" {
        error.field = "username";
    }
    Ok(error)
}
