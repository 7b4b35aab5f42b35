//! `GET/POST /oauth2-1/authorize` (oauth21.md §2): the legacy consent page, login detour and CSRF
//! rules of `oauth2::authorize`, for the code flow only, with the OIDC `prompt` and `max_age`.
//! The request's validation is in `authorize_request`; the consent form's POST is
//! `oauth2::decision::post`, which issues through this dialect's [`ConsentRequest`].
//!
//! `prompt=none` (OIDC Core §3.1.2.6) never shows a page: it answers at the redirect URI, with
//! `state` and `iss`, `login_required` where the login page would come (no session, or a login
//! older than `max_age`), `consent_required` where the consent page would (no earlier identical
//! grant, or a client Latchkey has not verified), and otherwise a code. Latchkey has no other
//! interaction (one account per session, nothing to select), so `interaction_required` is never
//! the answer.
//!
//! An earlier grant of the same user to the same app for the same scope and audiences is taken as
//! consent (a code at once, and the answer to `prompt=none`) unless `prompt=consent` asks again.
//! `prompt=login` and `max_age` send the user through the login page again; the way back carries
//! `login_after` (when the fresh login was asked for), so the session that returns proves a login
//! at or after that moment and the detour cannot loop.

use axum::extract::{RawQuery, State};
use axum::response::Response;

use super::authorize_request::{Request21, validate};
use crate::domain::secret;
use crate::http::headers::no_store;
use crate::http::params::{Malformed, Params};
use crate::oauth2::authorize_request::{Refused, ResponseType, refused};
use crate::oauth2::decision::{ConsentRequest, code_response};
use crate::oauth2::error::ErrorCode;
use crate::state::AppState;
use crate::store::{AuditEvent, NewCode, NewCode21};
use crate::web::consent::{self, Consent};
use crate::web::error::PageError;
use crate::web::redirect::login_first;
use crate::web::session::SessionUser;

const PATH: &str = "/oauth2-1/authorize";

/// The legacy consent page (`templates/consent.html`), posting here.
pub(crate) async fn get_authorize(
    State(state): State<AppState>,
    session: Option<SessionUser>,
    RawQuery(query): RawQuery,
) -> Response {
    let raw = query.unwrap_or_default();
    let (params, malformed) = Params::decode_partial(raw.as_bytes(), &[]);
    match show(&state, session, &raw, &params, &malformed).await {
        Ok(r) => r,
        Err(r) => refused(&state, r),
    }
}

async fn show(
    state: &AppState,
    session: Option<SessionUser>,
    raw: &str,
    params: &Params,
    malformed: &[Malformed],
) -> Result<Response, Refused> {
    let request = validate(state, params, malformed).await?;
    let now = state.now();
    let Some(session) = session else {
        if request.prompt.none {
            return Err(request.bounce(ErrorCode::LoginRequired, "The user is not logged in."));
        }
        return Ok(to_login(raw, None));
    };
    let auth_time = auth_time(state, &session).await?;
    let login_after = params
        .get("login_after")
        .ok()
        .flatten()
        .and_then(|t| t.parse::<i64>().ok());
    let fresh_login_due = (request.prompt.login && login_after.is_none_or(|t| auth_time < t))
        || request.max_age.is_some_and(|max| now - auth_time > max);
    if fresh_login_due {
        if request.prompt.none {
            return Err(request.bounce(
                ErrorCode::LoginRequired,
                "The user's login is older than max_age allows.",
            ));
        }
        return Ok(to_login(raw, Some(now)));
    }
    if !request.prompt.consent
        && let Some(site_id) = earlier_approval(state, &request, session.user.id).await?
    {
        return issue_code(state, &request, session.user.id, site_id, auth_time).await;
    }
    if request.prompt.none {
        return Err(request.bounce(
            ErrorCode::ConsentRequired,
            "The user has to approve this application on the consent page.",
        ));
    }
    Ok(consent_page(state, &session, &request).await?)
}

/// The blog of an earlier grant of this very request (same user, app, scope and audiences), taken
/// as consent: `Some(site)` when one still holds and agrees with `blog`, `None` to ask again.
async fn earlier_approval(
    state: &AppState,
    request: &Request21,
    user_id: i64,
) -> Result<Option<Option<i64>>, Refused> {
    // A grant does not record the redirect URI it was approved for, and an earlier approval of an
    // unverified (self-registered) client must never cover another one (oauth21.md §5): such a
    // client always sees the consent page.
    if !request.app.is_verified() {
        return Ok(None);
    }
    let resources: Vec<&str> = request.resources.iter().map(String::as_str).collect();
    let resources = crate::domain::resource::encode(&resources);
    let wire = request.scope.wire();
    let Some(earlier) = state
        .store
        .earlier_grant(user_id, request.app.id, &wire, resources.as_deref())
        .await?
    else {
        return Ok(None);
    };
    if !crate::oauth2::tokens::holds(&wire, earlier.site_id, earlier.site_admin) {
        return Ok(None);
    }
    if let (Some(wanted), Some(site_id)) = (&request.blog, earlier.site_id) {
        let site = state.store.site_by_id(site_id).await?;
        if !site.is_some_and(|s| wanted.names(s.id, &s.url)) {
            return Ok(None);
        }
    }
    Ok(Some(earlier.site_id))
}

/// The login page, coming back to this very request (with `login_after` when a fresh login is
/// required).
fn to_login(raw: &str, login_after: Option<i64>) -> Response {
    let mut back = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(raw.as_bytes()).filter(|(k, _)| k != "login_after") {
        back.append_pair(&k, &v);
    }
    if let Some(t) = login_after {
        back.append_pair("login_after", &t.to_string());
    }
    let mut response = login_first(&format!("{PATH}?{}", back.finish()));
    no_store(response.headers_mut());
    response
}

/// When the session's user logged in (OIDC `auth_time`): the session's creation.
async fn auth_time(state: &AppState, session: &SessionUser) -> Result<i64, Refused> {
    let now = state.now();
    Ok(state
        .store
        .session(&session.digest, now)
        .await?
        .map_or(now, |s| s.created_at))
}

async fn consent_page(
    state: &AppState,
    session: &SessionUser,
    request: &Request21,
) -> Result<Response, PageError> {
    let mut hidden = vec![
        ("client_id", request.client_id.clone()),
        ("redirect_uri", request.redirect_uri.clone()),
        ("response_type", "code".to_owned()),
        ("scope", request.scope.wire()),
        ("code_challenge", request.code_challenge.clone()),
        ("code_challenge_method", "S256".to_owned()),
    ];
    if let Some(s) = &request.state {
        hidden.push(("state", s.clone()));
    }
    if let Some(n) = &request.nonce {
        hidden.push(("nonce", n.clone()));
    }
    for r in &request.resources {
        hidden.push(("resource", r.clone()));
    }
    let consent = Consent {
        action: PATH,
        app: &request.app,
        permissions: request.scope.permissions(),
        single_blog: request.scope.base.is_single_blog(),
        named_blog: request.blog.as_ref(),
        redirect_uri: &request.redirect_uri,
        hidden,
        purpose: &request.purpose(),
    };
    consent::page(state, session, consent).await
}

impl ConsentRequest for Request21 {
    async fn validate(
        state: &AppState,
        params: &Params,
        malformed: &[Malformed],
    ) -> Result<Self, Refused> {
        validate(state, params, malformed).await
    }

    fn purpose(&self) -> String {
        format!(
            "authorize21\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.app.id,
            self.redirect_uri,
            self.scope.wire(),
            self.state.as_deref().unwrap_or(""),
            self.code_challenge,
            self.resources.join(" "),
            self.nonce.as_deref().unwrap_or(""),
        )
    }

    fn app_id(&self) -> i64 {
        self.app.id
    }

    fn single_blog(&self) -> bool {
        self.scope.base.is_single_blog()
    }

    fn bounce(&self, error: ErrorCode, description: &str) -> Refused {
        Refused::bounce(
            &self.redirect_uri,
            ResponseType::Code,
            self.state.as_deref(),
            error,
            description,
        )
    }

    /// A code, with the OIDC `auth_time` of the session that approved.
    async fn issue(
        &self,
        state: &AppState,
        session: &SessionUser,
        site_id: Option<i64>,
    ) -> Result<Response, Refused> {
        let auth_time = auth_time(state, session).await?;
        issue_code(state, self, session.user.id, site_id, auth_time).await
    }
}

/// Records the grant and its code, and sends the code back with `state` and `iss`.
async fn issue_code(
    state: &AppState,
    request: &Request21,
    user_id: i64,
    site_id: Option<i64>,
    auth_time: i64,
) -> Result<Response, Refused> {
    let now = state.now();
    let wire = request.scope.wire();
    let resources: Vec<&str> = request.resources.iter().map(String::as_str).collect();
    let resources = crate::domain::resource::encode(&resources);
    let code = secret::mint(secret::Kind::AuthCode, &*state.random);
    let event = AuditEvent::consent_granted(user_id, request.app.id, &wire);
    let mut tx = state.store.begin();
    tx.grant_code21(
        &NewCode21 {
            code: NewCode {
                digest: &secret::digest(&code),
                app_id: request.app.id,
                user_id,
                site_id,
                scope: &wire,
                redirect_uri: &request.redirect_uri,
                code_challenge: Some(&request.code_challenge),
                expires_at: now + state.settings.code_ttl,
            },
            resources: resources.as_deref(),
            nonce: request.nonce.as_deref(),
            auth_time,
        },
        now,
    )
    .await?;
    tx.audit(&event, now).await?;
    tx.commit().await?;
    Ok(code_response(
        state,
        &request.redirect_uri,
        &code,
        request.state.as_deref(),
    ))
}
