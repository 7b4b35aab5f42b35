//! What every signed-in page shares: the `Viewer` extractor (a logged-in user, or a redirect to the
//! login page that comes back here), the navigation bar, form fields and field-level errors.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::error::PageError;
use super::session::{self, SessionUser};
use crate::admin::AdminError;
use crate::http::params::{Malformed, Params};
use crate::state::AppState;

/// The logged-in user of a page. Without a session, GET requests are sent to the login page with a
/// `redirect_to` back here; other methods are refused (their form would be lost anyway).
pub(crate) struct Viewer(pub SessionUser);

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let found =
            <SessionUser as OptionalFromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .map_err(IntoResponse::into_response)?;
        match found {
            Some(s) => Ok(Viewer(s)),
            None if parts.method == axum::http::Method::GET => {
                let back = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                Err(super::redirect::login_first(back))
            }
            None => Err(PageError::Forbidden(
                "Your session has ended. Log in and try again.".into(),
            )
            .into_response()),
        }
    }
}

/// The navigation bar of a signed-in page (templates/layout.html).
pub(crate) struct Nav {
    pub username: String,
    pub logout_csrf: String,
    /// Which entry is the current page: `apps`, `connections`, `sites`, `security`, `playground`.
    pub current: &'static str,
}

impl Nav {
    pub(crate) fn new(state: &AppState, viewer: &Viewer, current: &'static str) -> Self {
        Nav::of(state, &viewer.0, current)
    }

    /// For pages that take the session themselves (the security pages send visitors to the login
    /// page their own way).
    pub(crate) fn of(state: &AppState, s: &SessionUser, current: &'static str) -> Self {
        Nav {
            username: s.user.username.clone(),
            logout_csrf: session::csrf_token(state, s, "logout"),
            current,
        }
    }
}

/// A message shown next to the form field that caused it.
#[derive(Debug, Default, Clone)]
pub(crate) struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field,
            message: message.into(),
        }
    }

    /// The message when it belongs to `field`.
    pub(crate) fn on(&self, field: &str) -> Option<&str> {
        (self.field == field && !self.message.is_empty()).then_some(self.message.as_str())
    }

    /// The error beside the field of a malformed form: the first of `fields` it names, else the
    /// form as a whole.
    pub(crate) fn malformed(m: &Malformed, fields: &[&'static str]) -> Self {
        let field = fields.iter().find(|f| m.is(f)).copied().unwrap_or("form");
        FieldError::new(field, m.to_string())
    }

    /// Turns an administration error into a field error, or passes on what no field explains.
    /// Field names are those of `admin`; forms use the same names.
    pub(crate) fn from_admin(err: AdminError) -> Result<FieldError, PageError> {
        match err {
            AdminError::Invalid { field, message } => {
                Ok(FieldError::new(field, capitalise(&message)))
            }
            AdminError::Conflict(what) => {
                let field = match what {
                    "username" => "username",
                    "email" => "email",
                    "site URL" => "url",
                    _ => "form",
                };
                Ok(FieldError::new(
                    field,
                    format!("This {what} is already taken."),
                ))
            }
            AdminError::NotFound(message) => Ok(FieldError::new("form", capitalise(&message))),
            AdminError::Store(e) => Err(e.into()),
        }
    }
}

/// Every field's message at once, for forms that check all their fields before answering.
#[derive(Debug, Default, Clone)]
pub(crate) struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// The first message that belongs to `field`.
    pub(crate) fn on(&self, field: &str) -> Option<&str> {
        self.0.iter().find_map(|e| e.on(field))
    }

    /// Adds `error` unless its field already has a message.
    pub(crate) fn push(&mut self, error: FieldError) {
        if self.on(error.field).is_none() {
            self.0.push(error);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Starts a message with a capital and ends it with a full stop, unless it starts with a value the
/// user typed (a URL, say), which stays as typed.
pub(crate) fn capitalise(s: &str) -> String {
    let first_word = s.split_whitespace().next().unwrap_or("");
    if !first_word.chars().all(|c| c.is_alphabetic() || c == '\'') {
        return s.to_owned();
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => {
            let mut out: String = first.to_uppercase().collect();
            out.push_str(chars.as_str());
            if !out.ends_with('.') {
                out.push('.');
            }
            out
        }
        None => String::new(),
    }
}

/// A posted form. Missing fields read as empty; a field sent twice reads as empty too, so a
/// doctored form fails validation instead of picking one of the values. A field that is not UTF-8
/// or holds a control character (`domain::input`) refuses the whole form: a 400 page through `?`,
/// or an error beside the field (see [`FieldError::malformed`]).
pub(crate) struct Form(Params);

impl Form {
    /// Every field an identifier or a one-line value.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, Malformed> {
        Params::decode(body).map(Form)
    }

    /// As [`Form::parse`], with `text` naming the free-text fields (textareas: TAB, LF, CR).
    pub(crate) fn parse_with_text(body: &[u8], text: &[&str]) -> Result<Self, Malformed> {
        Params::decode_with_text(body, text).map(Form)
    }

    pub(crate) fn get(&self, name: &str) -> &str {
        self.0.get(name).ok().flatten().unwrap_or("")
    }

    pub(crate) fn checked(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }

    /// The CSRF token field, when present once.
    pub(crate) fn csrf(&self) -> Option<&str> {
        self.value("csrf")
    }

    /// A field sent once with a value; `None` when missing, empty or sent twice.
    pub(crate) fn value(&self, name: &str) -> Option<&str> {
        self.0.get(name).ok().flatten()
    }

    /// Every value of a field meant to repeat (a group of checkboxes sharing one name), in the
    /// order sent; empty values are skipped.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .pairs()
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A form posted by a signed-in user to a page that takes the session itself (the security pages),
/// checked in the order each of them checks: a cross-site post is refused (403); without a session,
/// `None`, and the caller sends the browser to the login page its own way; a malformed body is a
/// 400 page; a CSRF token not minted for `purpose` in this session is a 403.
pub(crate) fn checked_post(
    state: &AppState,
    s: Option<SessionUser>,
    headers: &HeaderMap,
    body: &[u8],
    purpose: &str,
) -> Result<Option<(SessionUser, Form)>, PageError> {
    session::same_origin(state, headers)?;
    let Some(s) = s else {
        return Ok(None);
    };
    let form = Form::parse(body)?;
    session::verify_csrf(state, &s, purpose, form.csrf())?;
    Ok(Some((s, form)))
}

/// Non-empty, trimmed lines of a textarea.
pub(crate) fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A date as people read it: `2026-01-01 00:00 UTC`.
pub(crate) fn date(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// Renders a page that must not be cached (it holds CSRF tokens, and sometimes secrets).
pub(crate) fn render(page: impl IntoResponse) -> Response {
    let mut response = page.into_response();
    crate::http::headers::no_store(response.headers_mut());
    response
}

/// Renders a page with a status other than 200 (a form sent back with its errors).
pub(crate) fn render_with(status: axum::http::StatusCode, page: impl IntoResponse) -> Response {
    let mut response = (status, page).into_response();
    crate::http::headers::no_store(response.headers_mut());
    response
}
