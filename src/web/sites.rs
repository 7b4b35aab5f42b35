//! Sites (`/sites`): the user's sites and roles, creating a site, and — for administrators — adding,
//! re-roling and removing members. Rules and validation are `admin`'s, shared with the CLI. A site
//! the user is not a member of is a 404, like one that does not exist.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::error::PageError;
use super::page::{self, FieldError, Form, Nav, Viewer};
use super::session;
use crate::admin;
use crate::state::AppState;
use crate::store::{Membership, Role, Site, SiteMember};

#[derive(Template, WebTemplate)]
#[template(path = "sites.html")]
struct SitesPage {
    nav: Nav,
    sites: Vec<Membership>,
    url: String,
    name: String,
    error: FieldError,
    csrf: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "site.html")]
struct SitePage {
    nav: Nav,
    site: Site,
    role: Role,
    is_admin: bool,
    viewer_id: i64,
    members: Vec<SiteMember>,
    roles: [Role; 4],
    member: String,
    member_role: String,
    error: FieldError,
    notice: Option<&'static str>,
    csrf: String,
}

fn purpose(site_id: i64) -> String {
    format!("site:{site_id}")
}

async fn sites_page(
    state: &AppState,
    viewer: &Viewer,
    url: String,
    name: String,
    error: FieldError,
) -> Result<SitesPage, PageError> {
    Ok(SitesPage {
        nav: Nav::new(state, viewer, "sites"),
        sites: state.store.memberships(viewer.0.user.id).await?,
        url,
        name,
        error,
        csrf: session::csrf_token(state, &viewer.0, "sites:new"),
    })
}

pub(crate) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    let page = sites_page(
        &state,
        &viewer,
        String::new(),
        String::new(),
        FieldError::default(),
    )
    .await?;
    Ok(page::render(page))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let form = match Form::parse(&body) {
        Ok(form) => form,
        Err(m) => {
            // Nothing to verify the CSRF token against; the page is shown again, nothing written.
            let error = FieldError::malformed(&m, &["url", "name"]);
            let page = sites_page(&state, &viewer, String::new(), String::new(), error).await?;
            return Ok(page::render_with(StatusCode::BAD_REQUEST, page));
        }
    };
    session::verify_csrf(&state, &viewer.0, "sites:new", form.csrf())?;
    let (url, name) = (form.get("url").trim(), form.get("name"));
    let mut tx = state.store.begin();
    match admin::create_site(&mut tx, &viewer.0.user, url, name, false, state.now()).await {
        Ok(site) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/sites/{}", site.id)).into_response())
        }
        Err(e) => {
            let error = FieldError::from_admin(e)?;
            let page = sites_page(&state, &viewer, url.to_owned(), name.to_owned(), error).await?;
            Ok(page::render_with(StatusCode::BAD_REQUEST, page))
        }
    }
}

/// The site and the viewer's role there; 404 for non-members.
async fn membership(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
) -> Result<(Site, Role), PageError> {
    let Some(id) = id.parse::<i64>().ok() else {
        return Err(PageError::NotFound);
    };
    let Some(role) = state.store.role_at(id, viewer.0.user.id).await? else {
        return Err(PageError::NotFound);
    };
    let site = state
        .store
        .site_by_id(id)
        .await?
        .ok_or(PageError::NotFound)?;
    Ok((site, role))
}

/// What the member form shows again: the input as typed, the error beside its field, or the notice
/// of the change just made.
struct MemberForm<'a> {
    member: &'a str,
    role: &'a str,
    error: FieldError,
    notice: Option<&'static str>,
}

impl MemberForm<'_> {
    /// The empty form, with the role most members get.
    fn blank(error: FieldError, notice: Option<&'static str>) -> Self {
        MemberForm {
            member: "",
            role: "editor",
            error,
            notice,
        }
    }
}

async fn site_page(
    state: &AppState,
    viewer: &Viewer,
    site: Site,
    role: Role,
    form: MemberForm<'_>,
) -> Result<SitePage, PageError> {
    Ok(SitePage {
        nav: Nav::new(state, viewer, "sites"),
        members: state.store.site_members(site.id).await?,
        csrf: session::csrf_token(state, &viewer.0, &purpose(site.id)),
        is_admin: role == Role::Administrator,
        viewer_id: viewer.0.user.id,
        roles: Role::ALL,
        site,
        role,
        member: form.member.to_owned(),
        member_role: form.role.to_owned(),
        error: form.error,
        notice: form.notice,
    })
}

pub(crate) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let (site, role) = membership(&state, &viewer, &id).await?;
    let notice = match query.as_deref() {
        Some("done=added") => Some("The member was added (or their role changed)."),
        Some("done=removed") => Some("The member was removed."),
        _ => None,
    };
    let form = MemberForm::blank(FieldError::default(), notice);
    let page = site_page(&state, &viewer, site, role, form).await?;
    Ok(page::render(page))
}

/// The site when the viewer administers it, and the form posted to it once its CSRF token is
/// checked: 404 for non-members, 403 for members who are not administrators.
async fn administered(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    body: &[u8],
) -> Result<(Site, Role, Form), PageError> {
    let (site, role) = membership(state, viewer, id).await?;
    let form = Form::parse(body)?;
    session::verify_csrf(state, &viewer.0, &purpose(site.id), form.csrf())?;
    if role != Role::Administrator {
        return Err(PageError::Forbidden(
            "Only administrators of this site can change its members.".into(),
        ));
    }
    Ok((site, role, form))
}

pub(crate) async fn add_member(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let (site, role, form) = administered(&state, &viewer, &id, &body).await?;
    let (member, member_role) = (form.get("member").trim(), form.get("role"));
    let outcome = match member_role.parse::<Role>() {
        Err(_) => Err(FieldError::new(
            "role",
            "Choose administrator, editor, author or subscriber.",
        )),
        Ok(new_role) if member.is_empty() => {
            let _ = new_role;
            Err(FieldError::new(
                "member",
                "Enter the username or email address of an existing user.",
            ))
        }
        Ok(new_role) => match admin::find_user(&state.store, member).await {
            Err(admin::AdminError::NotFound(_)) => Err(FieldError::new(
                "member",
                format!("There is no user named {member:?}."),
            )),
            Err(e) => Err(FieldError::from_admin(e)?),
            Ok(user) => {
                let mut tx = state.store.begin();
                match admin::add_member(&mut tx, &site, &user, new_role, state.now()).await {
                    Ok(()) => Ok(tx.commit().await?),
                    Err(e) => Err(FieldError::from_admin(e)?),
                }
            }
        },
    };
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!("/sites/{}?done=added", site.id)).into_response()),
        Err(error) => {
            let form = MemberForm {
                member,
                role: member_role,
                error,
                notice: None,
            };
            let page = site_page(&state, &viewer, site, role, form).await?;
            Ok(page::render_with(StatusCode::BAD_REQUEST, page))
        }
    }
}

pub(crate) async fn remove_member(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, user_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let (site, role, _) = administered(&state, &viewer, &id, &body).await?;
    let Ok(user_id) = user_id.parse::<i64>() else {
        return Err(PageError::NotFound);
    };
    let mut tx = state.store.begin();
    match admin::remove_member(&mut tx, &site, user_id).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/sites/{}?done=removed", site.id)).into_response())
        }
        Err(admin::AdminError::NotFound(_)) => Err(PageError::NotFound),
        Err(e) => {
            let mut error = FieldError::from_admin(e)?;
            error.field = "remove";
            let form = MemberForm::blank(error, None);
            let page = site_page(&state, &viewer, site, role, form).await?;
            Ok(page::render_with(StatusCode::BAD_REQUEST, page))
        }
    }
}
