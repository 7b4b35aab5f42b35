//! The consent page (`templates/consent.html`), one page for the three authorize endpoints:
//! `/oauth2/authorize`, `/oauth2-1/authorize` and `/oauth1/authorize`. Each endpoint validates its
//! own request and says what the form carries; this module picks the blog choices (and checks the
//! one the form posts back), binds the CSRF token to the request, marks an unverified (self-registered) app with its redirect host in full
//! (oauth21.md §5), and answers with `no-store`.

use askama::Template;
use askama_web::WebTemplate;
use axum::response::{IntoResponse, Response};

use super::error::PageError;
use super::session::{self, SessionUser};
use crate::domain::client_metadata::redirect_host;
use crate::domain::scope;
use crate::domain::site_url::BlogRef;
use crate::http::headers::no_store;
use crate::http::params::Params;
use crate::state::AppState;
use crate::store::{App, Site};

#[derive(Template, WebTemplate)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    /// Where the form posts.
    action: &'static str,
    app: &'a App,
    user: &'a str,
    permissions: Vec<&'static str>,
    /// The blog chosen for the user (the request named one they administer).
    fixed_blog: Option<&'a Site>,
    /// The blogs to choose from when none is fixed.
    choices: &'a [Site],
    needs_blog: bool,
    hidden: Vec<(&'static str, String)>,
    csrf: String,
    /// Where approval sends the user, shown in full when Latchkey has not verified the app.
    unverified_host: Option<String>,
    /// When the request names the MCP endpoint as its resource: what the AI agent may do there.
    agent: Vec<&'static str>,
    /// Whether the agent works on one site (else on every site the user administers).
    single_blog: bool,
    /// The other apps' APIs the access is for (a 2.1 request's registered `resource` values):
    /// each URI with the name of the app that serves it.
    elsewhere: Vec<(String, String)>,
}

/// What one authorize endpoint asks the user to approve.
pub(crate) struct Consent<'a> {
    /// The endpoint the form posts back to.
    pub action: &'static str,
    pub app: &'a App,
    pub permissions: Vec<&'static str>,
    /// Whether the grant is for one blog (the user picks it, or the request named it).
    pub single_blog: bool,
    /// The blog the request named (`blog`), fixed on the page when the user administers it.
    pub named_blog: Option<&'a BlogRef>,
    /// Where approval sends the user (shown for an unverified app).
    pub redirect_uri: &'a str,
    /// The request, carried through the form.
    pub hidden: Vec<(&'static str, String)>,
    /// What the CSRF token is bound to: this very request.
    pub purpose: &'a str,
}

/// What an AI agent may do through the MCP endpoint when the request (a 2.1 authorization
/// request, whose `resource` and `scope` ride in the form) names that endpoint as its resource;
/// empty otherwise, and for the dialects without resources.
fn agent_abilities(state: &AppState, consent: &Consent<'_>) -> Vec<&'static str> {
    let hidden = &consent.hidden;
    if !hidden
        .iter()
        .any(|(n, v)| *n == "resource" && *v == state.mcp_resource)
    {
        return Vec::new();
    }
    let scope = hidden
        .iter()
        .find(|(n, _)| *n == "scope")
        .map(|(_, v)| v.as_str());
    match scope::parse21(scope) {
        Ok(scope) => crate::mcp::abilities(&scope.base),
        Err(_) => Vec::new(),
    }
}

/// The APIs of other apps that a 2.1 request names as its resources (oauth21.md §2): the access
/// approved here is for them, so the page says whose they are.
async fn resource_servers(
    state: &AppState,
    consent: &Consent<'_>,
) -> Result<Vec<(String, String)>, PageError> {
    let mut out = Vec::new();
    for (name, uri) in &consent.hidden {
        if *name != "resource" {
            continue;
        }
        let Some(owner) = state.store.resource_owner(uri).await? else {
            continue;
        };
        if let Some(app) = state.store.app_by_id(owner).await? {
            out.push((uri.clone(), app.name));
        }
    }
    Ok(out)
}

/// The consent page for `consent`, shown to the signed-in `session`.
pub(crate) async fn page(
    state: &AppState,
    session: &SessionUser,
    consent: Consent<'_>,
) -> Result<Response, PageError> {
    let sites = state.store.administered_sites(session.user.id).await?;
    let single = consent.single_blog;
    let fixed_blog = match (consent.named_blog, single) {
        (Some(named), true) => sites.iter().find(|s| named.names(s.id, &s.url)),
        _ => None,
    };
    let agent = agent_abilities(state, &consent);
    let elsewhere = resource_servers(state, &consent).await?;
    let page = ConsentPage {
        action: consent.action,
        app: consent.app,
        user: &session.user.display_name,
        permissions: consent.permissions,
        fixed_blog,
        choices: if single && fixed_blog.is_none() {
            &sites
        } else {
            &[]
        },
        needs_blog: single && sites.is_empty(),
        hidden: consent.hidden,
        csrf: session::csrf_token(state, session, consent.purpose),
        unverified_host: (!consent.app.is_verified()).then(|| redirect_host(consent.redirect_uri)),
        agent,
        single_blog: single,
        elsewhere,
    };
    let mut response = page.into_response();
    no_store(response.headers_mut());
    Ok(response)
}

/// The blog the user chose on the consent form (`blog_id`) for a single-blog grant, in the three
/// authorize endpoints: one they administer.
pub(crate) async fn chosen_blog(
    state: &AppState,
    user_id: i64,
    params: &Params,
) -> Result<i64, PageError> {
    let chosen = params
        .get("blog_id")
        .ok()
        .flatten()
        .and_then(|b| b.parse::<i64>().ok());
    let Some(blog_id) = chosen else {
        return Err(PageError::invalid_request(
            "Choose the blog to grant access to.",
        ));
    };
    if !state.store.is_administrator(user_id, blog_id).await? {
        return Err(PageError::invalid_request(
            "You do not administer the chosen blog.",
        ));
    }
    Ok(blog_id)
}
