//! The MCP tools (oauth21.md §8): each one is a REST endpoint's rule called directly — the same
//! reach check (`api::sites::check` over `domain::reach`), the same post rules
//! (`api::posts::*_checked`), the same read models — so the two protocols cannot drift apart.
//!
//! | tool | needs (else 403 `insufficient_scope`) | REST counterpart |
//! |---|---|---|
//! | `get_profile` | every token | `GET me` |
//! | `list_sites` | `sites` | `GET me/sites` |
//! | `list_posts`, `get_post` | `posts` | `GET sites/{site}/posts`, `GET sites/{site}/posts/{id}` |
//! | `create_post`, `update_post` | `posts` | `POST sites/{site}/posts/new` |
//! | `list_connected_applications` | `global` or the full single-blog grant | `GET me/connected-applications` (browser only there) |
//!
//! The connected applications are read-only here, and only for a token that already holds the
//! user's full access (`global`, or the default single-blog grant): the REST API keeps them to the
//! browser so that a narrowly scoped app cannot enumerate the others; an agent the user gave full
//! access may list them, never disconnect one.
//!
//! Errors: a tool that ran and failed (unknown or unreached site, missing post, a post rule)
//! answers a result with `isError: true` and the REST error's slug and message, so the model can
//! correct itself; arguments that do not fit the input schema are such a result too (rmcp's
//! router: "failed to deserialize parameters: …"), as MCP 2025-11-25 asks of input validation
//! errors. An unknown tool is a JSON-RPC error (-32602), and a storage outage one too (-32603),
//! never a made-up result.

use axum::http::request::Parts;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, ProtocolVersion};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::error::ApiError;
use crate::api::posts::{self, PostFields, post_json};
use crate::api::principal::Principal;
use crate::api::{connections, me, sites};
use crate::domain::scope::{Area, Scope};
use crate::http::params::Params;
use crate::state::AppState;
use crate::store::Site;

/// What a tool needs of the token's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    Nothing,
    Area(Area),
    /// `global`, or the default single-blog grant (no named scopes).
    FullAccess,
}

/// The table above; `None` for a name that is no tool.
pub(crate) fn needs(tool: &str) -> Option<Needs> {
    Some(match tool {
        "get_profile" => Needs::Nothing,
        "list_sites" => Needs::Area(Area::Sites),
        "list_posts" | "get_post" | "create_post" | "update_post" => Needs::Area(Area::Posts),
        "list_connected_applications" => Needs::FullAccess,
        _ => return None,
    })
}

/// The scope to ask for when `scope` is too narrow for `tool` (the `scope` of the 403 challenge);
/// `None` when it suffices or the tool does not exist.
pub(crate) fn missing_scope(scope: &Scope, tool: &str) -> Option<&'static str> {
    match needs(tool)? {
        Needs::Nothing => None,
        Needs::Area(area) => (!scope.allows(area)).then_some(area.as_str()),
        Needs::FullAccess => match scope {
            Scope::Global => None,
            Scope::Blog(areas) if areas.is_empty() => None,
            _ => Some("global"),
        },
    }
}

/// Every scope a tool of the router needs (each value a 403 may name): the named areas in
/// `Area::ALL` order, then `global`. The endpoint's RFC 9728 `scopes_supported`.
pub(crate) fn scopes_needed() -> Vec<&'static str> {
    let needed: Vec<Needs> = Latchkey::tool_router()
        .list_all()
        .iter()
        .filter_map(|tool| needs(&tool.name))
        .collect();
    let mut scopes: Vec<&'static str> = Area::ALL
        .into_iter()
        .filter(|area| needed.contains(&Needs::Area(*area)))
        .map(Area::as_str)
        .collect();
    if needed.contains(&Needs::FullAccess) {
        scopes.push("global");
    }
    scopes
}

/// The scope a 401 names: the named scopes of [`scopes_needed`], which one single-blog grant may
/// hold together. `global` is left out because it must stand alone (`domain::scope::parse`): MCP
/// 2025-11-25 clients (SEP-835) ask for the challenge's `scope` first, else for all of
/// `scopes_supported` joined, which would put `global` beside named scopes and be refused.
pub(crate) fn challenge_scope() -> String {
    scopes_needed()
        .into_iter()
        .filter(|scope| *scope != "global")
        .collect::<Vec<_>>()
        .join(" ")
}

/// What an agent holding `scope` may do through the tools, in plain words, for the consent page
/// (`web::consent`): one line per group of tools the scope allows, from the same table.
pub(crate) fn abilities(scope: &Scope) -> Vec<&'static str> {
    let lines = [
        (
            "get_profile",
            "Read your profile: your name, username and email address.",
        ),
        ("list_sites", "See which of your sites it can reach."),
        (
            "list_posts",
            "Read the posts there, drafts and private posts included.",
        ),
        (
            "create_post",
            "Write new posts there and change existing ones: publish them, or keep them as \
             drafts.",
        ),
        (
            "list_connected_applications",
            "See the list of applications connected to your account.",
        ),
    ];
    lines
        .into_iter()
        .filter(|(tool, _)| missing_scope(scope, tool).is_none())
        .map(|(_, line)| line)
        .collect()
}

/// A blog, by ID or by address (`example.com`, or `example.com::blog` for a path), as the REST
/// API's `{site}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(untagged)]
pub(crate) enum SiteRef {
    Id(i64),
    Address(String),
}

impl SiteRef {
    fn raw(&self) -> String {
        match self {
            SiteRef::Id(id) => id.to_string(),
            SiteRef::Address(address) => address.clone(),
        }
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub(crate) struct ListPosts {
    /// The site: its ID (from list_sites) or its address.
    pub site: SiteRef,
    /// Posts per page, 1 to 100 (default 20).
    pub number: Option<i64>,
    /// The page, from 1.
    pub page: Option<i64>,
    /// `any`, or a comma list of publish, draft, pending, private (default publish).
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub(crate) struct GetPost {
    /// The site: its ID (from list_sites) or its address.
    pub site: SiteRef,
    /// The post's ID.
    pub post_id: i64,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub(crate) struct CreatePost {
    /// The site: its ID (from list_sites) or its address.
    pub site: SiteRef,
    /// The title, one line of at most 1000 characters.
    pub title: Option<String>,
    /// The content (HTML or plain text).
    pub content: Option<String>,
    /// publish (default), draft, pending or private.
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdatePost {
    /// The site: its ID (from list_sites) or its address.
    pub site: SiteRef,
    /// The post's ID.
    pub post_id: i64,
    /// A new title; absent keeps the current one.
    pub title: Option<String>,
    /// New content; absent keeps the current one.
    pub content: Option<String>,
    /// A new status: publish, draft, pending or private; absent keeps the current one.
    pub status: Option<String>,
}

/// The MCP server of one session: the shared state, and the token's principal on each request.
#[derive(Clone)]
pub(crate) struct Latchkey {
    state: AppState,
    tool_router: ToolRouter<Self>,
}

impl Latchkey {
    pub(crate) fn new(state: AppState) -> Self {
        Self {
            state,
            tool_router: Self::tool_router(),
        }
    }

    /// Runs a tool's rule on the site its arguments name, for the request's principal: an unknown
    /// site and every refusal of the rule are the REST error as a tool result.
    async fn on_site(
        &self,
        parts: &Parts,
        site: &SiteRef,
        rule: impl AsyncFnOnce(&Principal, Site) -> Result<Value, ApiError>,
    ) -> ToolResult {
        let principal = principal(parts)?;
        let outcome = async {
            let site = sites::find(&self.state, &site.raw()).await?;
            rule(principal, site).await
        };
        answer(outcome.await)
    }
}

type ToolResult = Result<CallToolResult, ErrorData>;

/// The principal `mcp::guard` resolved for this HTTP request.
fn principal(parts: &Parts) -> Result<&Principal, ErrorData> {
    parts
        .extensions
        .get::<Principal>()
        .ok_or_else(|| ErrorData::internal_error("no authorized principal", None))
}

/// A REST refusal as a tool error the model can read; an outage as a JSON-RPC error.
fn refused(error: ApiError) -> ToolResult {
    if error.status.is_server_error() {
        return Err(ErrorData::internal_error(error.message, None));
    }
    Ok(CallToolResult::error(vec![ContentBlock::text(format!(
        "{}: {}",
        error.error.as_str(),
        error.message
    ))]))
}

fn answer(outcome: Result<Value, ApiError>) -> ToolResult {
    match outcome {
        Ok(value) => Ok(CallToolResult::structured(value)),
        Err(error) => refused(error),
    }
}

/// The REST API's paging parameters from the tool's arguments, read by the same rules.
fn paging(args: &ListPosts) -> Result<Params, ApiError> {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(number) = args.number {
        query.append_pair("number", &number.to_string());
    }
    if let Some(page) = args.page {
        query.append_pair("page", &page.to_string());
    }
    if let Some(status) = &args.status {
        query.append_pair("status", status);
    }
    Params::decode(query.finish().as_bytes()).map_err(|m| posts::invalid_input(m.to_string()))
}

#[tool_router]
impl Latchkey {
    #[tool(
        description = "The signed-in user's profile: ID, names, email, primary site, and what this \
                       token may do (token_site_id, token_scope).",
        annotations(read_only_hint = true)
    )]
    async fn get_profile(&self, Extension(parts): Extension<Parts>) -> ToolResult {
        let principal = principal(&parts)?;
        answer(me::me_value(&self.state, principal).await)
    }

    #[tool(
        description = "The sites this token reaches (the one site chosen at consent, or every site \
                       the user administers for a global token), with their IDs.",
        annotations(read_only_hint = true)
    )]
    async fn list_sites(&self, Extension(parts): Extension<Parts>) -> ToolResult {
        let principal = principal(&parts)?;
        answer(
            sites::reached_sites(&self.state, principal)
                .await
                .map(|sites| json!({ "sites": sites })),
        )
    }

    #[tool(
        description = "A page of a site's posts, newest first, and how many match in all.",
        annotations(read_only_hint = true)
    )]
    async fn list_posts(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<ListPosts>,
    ) -> ToolResult {
        self.on_site(&parts, &args.site, async |principal, site| {
            let params = paging(&args)?;
            let page = posts::page_of(&self.state, principal, &site, &params).await?;
            let posts: Vec<Value> = page.posts.iter().map(|p| post_json(&site, p)).collect();
            Ok(json!({ "found": page.found, "posts": posts }))
        })
        .await
    }

    #[tool(
        description = "One post of a site.",
        annotations(read_only_hint = true)
    )]
    async fn get_post(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<GetPost>,
    ) -> ToolResult {
        self.on_site(&parts, &args.site, async |principal, site| {
            let post = posts::read_checked(&self.state, principal, &site, args.post_id).await?;
            Ok(post_json(&site, &post))
        })
        .await
    }

    #[tool(
        description = "Creates a post on a site, published unless another status is given, and \
                       returns it.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false
        )
    )]
    async fn create_post(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<CreatePost>,
    ) -> ToolResult {
        let fields = PostFields {
            title: args.title,
            content: args.content,
            status: args.status,
        };
        self.on_site(&parts, &args.site, async |principal, site| {
            let post = posts::create_checked(&self.state, principal, &site, fields).await?;
            Ok(post_json(&site, &post))
        })
        .await
    }

    #[tool(
        description = "Changes the title, content or status of a post (only the fields given) and \
                       returns it.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true
        )
    )]
    async fn update_post(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<UpdatePost>,
    ) -> ToolResult {
        let fields = PostFields {
            title: args.title,
            content: args.content,
            status: args.status,
        };
        self.on_site(&parts, &args.site, async |principal, site| {
            let post =
                posts::update_checked(&self.state, principal, &site, args.post_id, fields).await?;
            Ok(post_json(&site, &post))
        })
        .await
    }

    #[tool(
        description = "The applications the user has connected to their account, newest approval \
                       first, with the site and permissions each was given.",
        annotations(read_only_hint = true)
    )]
    async fn list_connected_applications(&self, Extension(parts): Extension<Parts>) -> ToolResult {
        let principal = principal(&parts)?;
        answer(
            connections::connected_applications(&self.state, principal.user_id)
                .await
                .map(|apps| json!({ "connected_applications": apps })),
        )
    }
}

#[tool_handler(
    router = self.tool_router,
    name = "latchkey",
    instructions = "Acts on the user's Latchkey sites with the access they approved: read the \
                    profile, list the sites this token reaches, list, read, create and update \
                    posts, and list the user's connected applications."
)]
impl ServerHandler for Latchkey {
    /// The 2025-11-25 revision and the two before it, which share its session lifecycle.
    fn supported_protocol_versions(&self) -> std::borrow::Cow<'static, [ProtocolVersion]> {
        std::borrow::Cow::Borrowed(&[
            ProtocolVersion::V_2025_11_25,
            ProtocolVersion::V_2025_06_18,
            ProtocolVersion::V_2025_03_26,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scope::parse;

    #[test]
    fn each_tool_names_the_scope_a_token_lacks_for_it() {
        let scope = |raw: &str| parse(Some(raw)).unwrap();
        let full = Scope::full_blog();
        #[rustfmt::skip]
        let cases: &[(&Scope, &str, Option<&str>)] = &[
            (&full, "create_post", None),
            (&full, "list_connected_applications", None),
            (&Scope::Global, "update_post", None),
            (&Scope::Auth, "get_profile", None),
            (&Scope::Auth, "list_sites", Some("sites")),
            (&Scope::Auth, "get_post", Some("posts")),
            (&scope("sites"), "create_post", Some("posts")),
            (&scope("posts"), "create_post", None),
            (&scope("posts"), "list_sites", Some("sites")),
            (&scope("posts"), "list_connected_applications", Some("global")),
            (&full, "no_such_tool", None),
        ];
        for (scope, tool, want) in cases {
            assert_eq!(missing_scope(scope, tool), *want, "{scope:?} {tool}");
        }
        assert_eq!(needs("no_such_tool"), None);
    }

    #[test]
    fn every_tool_of_the_router_has_a_row_in_the_scope_table() {
        for tool in Latchkey::tool_router().list_all() {
            assert!(needs(&tool.name).is_some(), "{} has no row", tool.name);
        }
    }

    #[test]
    fn the_metadata_lists_exactly_the_scopes_a_tool_may_ask_for() {
        assert_eq!(scopes_needed(), ["sites", "posts", "global"]);
        assert_eq!(challenge_scope(), "sites posts");
        // Every scope a 403 may name is listed, and nothing else.
        let mut named: Vec<&str> = Latchkey::tool_router()
            .list_all()
            .iter()
            .filter_map(|tool| missing_scope(&Scope::Auth, &tool.name))
            .collect();
        named.sort_unstable();
        named.dedup();
        let mut listed = scopes_needed();
        listed.sort_unstable();
        assert_eq!(named, listed);
    }

    #[test]
    fn the_consent_page_promises_only_what_the_scope_allows() {
        assert_eq!(abilities(&Scope::Auth).len(), 1);
        assert_eq!(abilities(&Scope::full_blog()).len(), 5);
        let posts = abilities(&parse(Some("posts")).unwrap());
        assert!(posts.iter().any(|l| l.starts_with("Write new posts")));
        assert!(!posts.iter().any(|l| l.contains("applications")));
    }
}
