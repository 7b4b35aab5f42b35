//! OAuth2 scopes in the WordPress.com dialect: parsing the `scope` parameter, its wire forms, the
//! consent page's wording, and which API areas a token reaches (oauth2.md §2 `scope`, §4, §5, §6;
//! RFC 6749 §3.3).

use std::fmt;
use std::str::FromStr;

/// What a token may do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One blog, chosen on the consent page. An empty list is WordPress.com's default grant: full
    /// access to that blog. A non-empty list limits the token to those areas of it.
    Blog(Vec<Area>),
    /// Every blog the user administers, including Jetpack sites.
    Global,
    /// Only the `/me` endpoints ("log in with Latchkey").
    Auth,
}

/// The named scopes of oauth2.md §2 (WordPress.com's documented list): areas of one blog, or of
/// the user's account, that a single-blog token can be limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Area {
    Users,
    Sites,
    Posts,
    Comments,
    Taxonomy,
    Follow,
    Sharing,
    FreshlyPressed,
    Notifications,
    Insights,
    Read,
    Stats,
    Media,
    Menus,
    Batch,
    Videos,
}

impl Area {
    /// Every area, in the order oauth2.md §2 lists them.
    pub const ALL: [Area; 16] = [
        Area::Users,
        Area::Sites,
        Area::Posts,
        Area::Comments,
        Area::Taxonomy,
        Area::Follow,
        Area::Sharing,
        Area::FreshlyPressed,
        Area::Notifications,
        Area::Insights,
        Area::Read,
        Area::Stats,
        Area::Media,
        Area::Menus,
        Area::Batch,
        Area::Videos,
    ];

    /// The scope name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Area::Users => "users",
            Area::Sites => "sites",
            Area::Posts => "posts",
            Area::Comments => "comments",
            Area::Taxonomy => "taxonomy",
            Area::Follow => "follow",
            Area::Sharing => "sharing",
            Area::FreshlyPressed => "freshly-pressed",
            Area::Notifications => "notifications",
            Area::Insights => "insights",
            Area::Read => "read",
            Area::Stats => "stats",
            Area::Media => "media",
            Area::Menus => "menus",
            Area::Batch => "batch",
            Area::Videos => "videos",
        }
    }

    /// The consent page's sentence for this area.
    pub fn permission(self) -> &'static str {
        match self {
            Area::Users => "Manage the users of the site you choose and their roles.",
            Area::Sites => "See and change the settings of the site you choose.",
            Area::Posts => {
                "Read, write, publish and delete posts and pages on the site you choose."
            }
            Area::Comments => "Read, write and moderate comments on the site you choose.",
            Area::Taxonomy => "Create and change categories and tags on the site you choose.",
            Area::Follow => "Follow and unfollow sites for you.",
            Area::Sharing => {
                "Manage sharing buttons and social connections of the site you choose."
            }
            Area::FreshlyPressed => "Read the Freshly Pressed selection of posts.",
            Area::Notifications => "Read your notifications and mark them as read.",
            Area::Insights => "See audience insights for the site you choose.",
            Area::Read => "Read the posts of the sites you follow in the Reader.",
            Area::Stats => "See visitor statistics for the site you choose.",
            Area::Media => "Upload, change and delete media files on the site you choose.",
            Area::Menus => "Create and change navigation menus on the site you choose.",
            Area::Batch => "Send several of the requests above in one batch request.",
            Area::Videos => "Upload and manage videos on the site you choose.",
        }
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Area {
    type Err = InvalidScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Area::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| InvalidScope::Unknown(s.to_owned()))
    }
}

/// A `scope` parameter Latchkey cannot grant. The Display text is WordPress.com's error-page line,
/// byte for byte (oauth2.md §2), so clients that match on it keep working; [`InvalidScope::detail`]
/// tells the developer what was wrong, for logs and for `error_description` where a dialect allows it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidScope {
    #[error("Invalid \"scope\".")]
    Unknown(String),
    #[error("Invalid \"scope\".")]
    Combined(&'static str),
}

impl InvalidScope {
    /// What to fix, in a sentence.
    pub fn detail(&self) -> String {
        match self {
            InvalidScope::Unknown(name) => format!(
                "unknown scope {name:?}: use \"global\", \"auth\", or names from: {} \
                 (lower case, separated by spaces or commas)",
                Area::ALL.map(Area::as_str).join(" ")
            ),
            InvalidScope::Combined(special) => format!(
                "\"{special}\" cannot be combined with other scopes: send it alone, or send only \
                 named scopes"
            ),
        }
    }
}

/// Parses the `scope` parameter of authorize and the password grant (oauth2.md §2, §4).
///
/// Absent, empty, or only separators: the default single-blog grant. Names are separated by any run
/// of commas and ASCII whitespace (WordPress.com's examples use both `posts media` and `posts,media`),
/// are case-sensitive, and repeat harmlessly: duplicates collapse, keeping the first occurrence's
/// place. `global` and `auth` must stand alone (after collapsing duplicates).
pub fn parse(raw: Option<&str>) -> Result<Scope, InvalidScope> {
    let mut names: Vec<&str> = Vec::new();
    for name in raw
        .unwrap_or("")
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|n| !n.is_empty())
    {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    for special in ["global", "auth"] {
        if names.contains(&special) && names.len() > 1 {
            return Err(InvalidScope::Combined(special));
        }
    }
    match names.as_slice() {
        ["global"] => Ok(Scope::Global),
        ["auth"] => Ok(Scope::Auth),
        _ => names
            .iter()
            .map(|n| n.parse::<Area>())
            .collect::<Result<Vec<_>, _>>()
            .map(Scope::Blog),
    }
}

const SEE_PROFILE: &str = "See your username, email address and profile.";
const LIKE_AND_FOLLOW: &str = "Like posts and follow sites for you.";
const FULL_BLOG: &str =
    "Read and change everything on the site you choose: posts, pages, comments, media, settings.";
const EVERY_BLOG: &str = "Read and change everything on every site you administer, including \
                          connected Jetpack sites: posts, pages, comments, media, settings.";

impl Scope {
    /// The full single-blog grant, WordPress.com's default.
    pub fn full_blog() -> Scope {
        Scope::Blog(Vec::new())
    }

    /// The string form used in the token response's and token-info's `scope` field, and in storage:
    /// `""` for the default grant, `"global"`, `"auth"`, or the names joined with `,` (no space).
    /// Commas, because WordPress.com's token-info shows `"scope":"posts,media"` and clients split
    /// on `/[ ,]+/`; and a comma needs no escaping in a query string. [`parse`] reads every form back.
    pub fn wire(&self) -> String {
        match self {
            Scope::Blog(areas) => areas
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(","),
            Scope::Global => "global".to_owned(),
            Scope::Auth => "auth".to_owned(),
        }
    }

    /// `/me`'s `token_scope` array (oauth2.md §6): `[""]` for the default grant, `["global"]`,
    /// `["auth"]`, or one element per named area.
    pub fn token_scope(&self) -> Vec<String> {
        match self {
            Scope::Blog(areas) if areas.is_empty() => vec![String::new()],
            Scope::Blog(areas) => areas.iter().map(|a| a.as_str().to_owned()).collect(),
            Scope::Global => vec!["global".to_owned()],
            Scope::Auth => vec!["auth".to_owned()],
        }
    }

    /// Whether the grant is tied to one blog, so the consent page needs a blog selector and the
    /// token carries a `blog_id` (oauth2.md §2 `blog`, §4).
    pub fn is_single_blog(&self) -> bool {
        matches!(self, Scope::Blog(_))
    }

    /// What the consent page tells the user, one plain sentence per line. Every token reaches `/me`;
    /// single-blog and global tokens also like and follow on any blog (oauth2.md §6's table), so the
    /// page says so.
    pub fn permissions(&self) -> Vec<&'static str> {
        let mut lines = match self {
            Scope::Auth => return vec![SEE_PROFILE],
            Scope::Global => vec![EVERY_BLOG],
            Scope::Blog(areas) if areas.is_empty() => vec![FULL_BLOG],
            Scope::Blog(areas) => areas.iter().map(|a| a.permission()).collect(),
        };
        lines.push(LIKE_AND_FOLLOW);
        lines.push(SEE_PROFILE);
        lines
    }

    /// Whether the token may use an area of the blogs it reaches (oauth2.md §6): the default grant
    /// and `global` allow every area, `auth` none, named scopes their own.
    pub fn allows(&self, area: Area) -> bool {
        match self {
            Scope::Blog(areas) => areas.is_empty() || areas.contains(&area),
            Scope::Global => true,
            Scope::Auth => false,
        }
    }
}

impl Default for Scope {
    fn default() -> Self {
        Scope::full_blog()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.wire())
    }
}

/// The OpenID Connect scopes the OAuth 2.1 server accepts beside the WordPress.com forms
/// (oauth21.md §2). The legacy endpoints never accept them ([`parse`] refuses them as unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Oidc {
    /// An ID token is issued.
    OpenId,
    /// The ID token and UserInfo carry the profile claims.
    Profile,
    /// The ID token and UserInfo carry the email claims.
    Email,
    /// A refresh token is issued.
    OfflineAccess,
}

impl Oidc {
    pub const ALL: [Oidc; 4] = [
        Oidc::OpenId,
        Oidc::Profile,
        Oidc::Email,
        Oidc::OfflineAccess,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Oidc::OpenId => "openid",
            Oidc::Profile => "profile",
            Oidc::Email => "email",
            Oidc::OfflineAccess => "offline_access",
        }
    }

    fn permission(self) -> Option<&'static str> {
        match self {
            Oidc::OpenId => None,
            Oidc::Profile => Some("See your name, username and picture."),
            Oidc::Email => Some("See your email address."),
            Oidc::OfflineAccess => Some("Stay connected when you are not using the app."),
        }
    }
}

/// A scope of the OAuth 2.1 server: one WordPress.com form plus any OpenID Connect scopes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Scope21 {
    pub base: Scope,
    /// In [`Oidc::ALL`]'s order, without duplicates.
    pub oidc: Vec<Oidc>,
}

/// Parses the `scope` parameter of `/oauth2-1/authorize` and `/oauth2-1/token`: [`parse`]'s rules
/// for the WordPress.com form, with `openid`, `profile`, `email` and `offline_access` taken out
/// first, so they may join any form (`auth openid`, `global offline_access`, `openid` alone is the
/// default single-blog grant plus an ID token).
pub fn parse21(raw: Option<&str>) -> Result<Scope21, InvalidScope> {
    let mut oidc = Vec::new();
    let mut rest = Vec::new();
    for name in raw
        .unwrap_or("")
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|n| !n.is_empty())
    {
        match Oidc::ALL.into_iter().find(|o| o.as_str() == name) {
            Some(o) if !oidc.contains(&o) => oidc.push(o),
            Some(_) => {}
            None => rest.push(name),
        }
    }
    oidc.sort();
    let base = parse(Some(&rest.join(" ")))?;
    Ok(Scope21 { base, oidc })
}

/// The WordPress.com form of a stored scope, whichever server granted it: what the REST API, the
/// connections pages and token-info apply. A legacy scope reads exactly as [`parse`] reads it.
pub fn granted(stored: &str) -> Result<Scope, InvalidScope> {
    parse21(Some(stored)).map(|s| s.base)
}

impl Scope21 {
    /// The wire and storage form: the form's names then the OIDC names, separated by spaces
    /// (RFC 6749 §3.3); `""` for the default single-blog grant without OIDC scopes.
    pub fn wire(&self) -> String {
        let base = self.base.wire();
        base.split(',')
            .filter(|n| !n.is_empty())
            .chain(self.oidc.iter().map(|o| o.as_str()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn has(&self, oidc: Oidc) -> bool {
        self.oidc.contains(&oidc)
    }

    /// The consent page's lines: the form's, then one per OIDC scope that shows the user more.
    pub fn permissions(&self) -> Vec<&'static str> {
        let mut lines = self.base.permissions();
        lines.extend(self.oidc.iter().filter_map(|o| o.permission()));
        lines
    }

    /// Whether `narrower` asks for no more than `self` grants (a refresh's `scope`, RFC 6749 §6):
    /// every OIDC scope granted, and the same form, or named areas within a single-blog grant.
    pub fn covers(&self, narrower: &Scope21) -> bool {
        let oidc = narrower.oidc.iter().all(|o| self.oidc.contains(o));
        let base = match (&self.base, &narrower.base) {
            (a, b) if a == b => true,
            (Scope::Blog(all), Scope::Blog(some)) => {
                !some.is_empty() && (all.is_empty() || some.iter().all(|a| all.contains(a)))
            }
            _ => false,
        };
        oidc && base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Area::*;
    use proptest::prelude::*;

    #[test]
    fn the_named_areas_are_exactly_the_list_in_the_spec() {
        let spec = "users sites posts comments taxonomy follow sharing freshly-pressed notifications \
                    insights read stats media menus batch videos";
        let ours: Vec<&str> = Area::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(ours, spec.split(' ').collect::<Vec<_>>());
    }

    #[test]
    fn absent_empty_or_blank_scope_is_full_access_to_one_blog() {
        for raw in [
            None,
            Some(""),
            Some(" "),
            Some("  \t"),
            Some(","),
            Some(" , ,"),
        ] {
            assert_eq!(parse(raw), Ok(Scope::Blog(vec![])), "{raw:?}");
        }
    }

    #[test]
    fn valid_scopes_parse_to_what_they_grant() {
        let cases: &[(&str, Scope)] = &[
            ("global", Scope::Global),
            ("auth", Scope::Auth),
            (" global ", Scope::Global),
            ("global global", Scope::Global),
            ("auth,auth", Scope::Auth),
            ("posts", Scope::Blog(vec![Posts])),
            ("posts media", Scope::Blog(vec![Posts, Media])),
            ("posts,media", Scope::Blog(vec![Posts, Media])),
            ("posts, media", Scope::Blog(vec![Posts, Media])),
            (",posts,,,media,", Scope::Blog(vec![Posts, Media])),
            ("media posts", Scope::Blog(vec![Media, Posts])),
            ("posts media posts", Scope::Blog(vec![Posts, Media])),
            ("freshly-pressed", Scope::Blog(vec![FreshlyPressed])),
            (
                "posts\tmedia\nstats",
                Scope::Blog(vec![Posts, Media, Stats]),
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(parse(Some(raw)).as_ref(), Ok(expected), "{raw:?}");
        }
    }

    #[test]
    fn bad_scopes_are_refused_with_a_detail_that_says_what_to_fix() {
        let unknown = |name: &str| InvalidScope::Unknown(name.to_owned());
        #[rustfmt::skip]
        let cases: &[(&str, InvalidScope, &str)] = &[
            ("global posts", InvalidScope::Combined("global"), "alone"),
            ("posts,global", InvalidScope::Combined("global"), "alone"),
            ("auth media", InvalidScope::Combined("auth"), "alone"),
            ("global auth", InvalidScope::Combined("global"), "alone"),
            ("bogus", unknown("bogus"), "freshly-pressed"),
            ("POSTS", unknown("POSTS"), "lower case"),
            ("Global", unknown("Global"), "\"global\""),
            ("posts read:stats", unknown("read:stats"), "unknown"),
            ("posts+media", unknown("posts+media"), "unknown"),
            ("posts;media", unknown("posts;media"), "unknown"),
            ("openid", unknown("openid"), "unknown"),
            ("posts\u{a0}media", unknown("posts\u{a0}media"), "unknown"),
        ];
        for (raw, expected, hint) in cases {
            let err = parse(Some(raw)).unwrap_err();
            assert_eq!(&err, expected, "{raw:?}");
            assert!(err.detail().contains(hint), "{raw:?}: {}", err.detail());
        }
    }

    #[test]
    fn the_error_text_is_the_wordpress_com_text_byte_for_byte() {
        assert_eq!(
            parse(Some("nope")).unwrap_err().to_string(),
            "Invalid \"scope\"."
        );
        assert_eq!(
            parse(Some("auth posts")).unwrap_err().to_string(),
            "Invalid \"scope\"."
        );
    }

    #[test]
    fn wire_forms_match_what_wordpress_com_clients_read() {
        assert_eq!(Scope::Blog(vec![]).wire(), "");
        assert_eq!(Scope::Global.wire(), "global");
        assert_eq!(Scope::Auth.wire(), "auth");
        assert_eq!(Scope::Blog(vec![Posts, Media]).wire(), "posts,media");
        assert_eq!(Scope::Blog(vec![Posts, Media]).to_string(), "posts,media");
    }

    #[test]
    fn token_scope_is_the_me_endpoint_array() {
        assert_eq!(Scope::Blog(vec![]).token_scope(), vec![""]);
        assert_eq!(Scope::Auth.token_scope(), vec!["auth"]);
        assert_eq!(Scope::Global.token_scope(), vec!["global"]);
        assert_eq!(
            Scope::Blog(vec![Posts, Media]).token_scope(),
            vec!["posts", "media"]
        );
    }

    #[test]
    fn only_blog_scopes_are_single_blog() {
        assert!(Scope::Blog(vec![]).is_single_blog());
        assert!(Scope::Blog(vec![Stats]).is_single_blog());
        assert!(!Scope::Global.is_single_blog());
        assert!(!Scope::Auth.is_single_blog());
    }

    #[test]
    fn full_blog_and_global_allow_every_area_auth_none_named_their_own() {
        for area in Area::ALL {
            assert!(Scope::Blog(vec![]).allows(area), "{area}");
            assert!(Scope::Global.allows(area), "{area}");
            assert!(!Scope::Auth.allows(area), "{area}");
            assert_eq!(
                Scope::Blog(vec![Posts, Media]).allows(area),
                matches!(area, Posts | Media)
            );
        }
    }

    #[test]
    fn consent_wording_names_the_reach_of_each_kind_of_grant() {
        assert_eq!(Scope::Auth.permissions(), vec![SEE_PROFILE]);
        assert_eq!(Scope::Blog(vec![]).permissions()[0], FULL_BLOG);
        assert!(Scope::Global.permissions()[0].contains("every site you administer"));
        let named = Scope::Blog(vec![Posts, Media]).permissions();
        assert_eq!(named[..2], [Posts.permission(), Media.permission()]);
        for scope in [Scope::Blog(vec![]), Scope::Global, Scope::Blog(vec![Stats])] {
            assert!(scope.permissions().contains(&SEE_PROFILE), "{scope:?}");
            assert!(scope.permissions().contains(&LIKE_AND_FOLLOW), "{scope:?}");
        }
    }

    #[test]
    fn every_area_has_its_own_sentence() {
        let mut sentences: Vec<&str> = Area::ALL.iter().map(|a| a.permission()).collect();
        assert!(sentences.iter().all(|s| s.ends_with('.')));
        sentences.sort();
        sentences.dedup();
        assert_eq!(sentences.len(), Area::ALL.len());
    }

    fn scope() -> impl Strategy<Value = Scope> {
        prop_oneof![
            Just(Scope::Global),
            Just(Scope::Auth),
            prop::sample::subsequence(Area::ALL.to_vec(), 0..=Area::ALL.len())
                .prop_shuffle()
                .prop_map(Scope::Blog),
        ]
    }

    proptest! {
        #[test]
        fn every_wire_form_parses_back_to_the_same_scope(s in scope()) {
            prop_assert_eq!(parse(Some(&s.wire())), Ok(s));
        }

        #[test]
        fn space_separated_forms_parse_back_too(s in scope()) {
            prop_assert_eq!(parse(Some(&s.token_scope().join(" "))), Ok(s));
        }

        #[test]
        fn parse_never_panics(raw in any::<String>()) {
            let _ = parse(Some(&raw));
        }

        #[test]
        fn parse_never_panics_on_scope_like_input(raw in "[a-z ,\\-]{0,60}") {
            if let Ok(s) = parse(Some(&raw)) {
                prop_assert_eq!(parse(Some(&s.wire())), Ok(s));
            }
        }
    }

    #[test]
    fn oidc_scopes_join_any_form_on_the_oauth21_server_only() {
        let s = parse21(Some("openid posts,media offline_access openid")).unwrap();
        assert_eq!(s.base, Scope::Blog(vec![Posts, Media]));
        assert_eq!(s.oidc, vec![Oidc::OpenId, Oidc::OfflineAccess]);
        assert_eq!(s.wire(), "posts media openid offline_access");
        assert_eq!(parse21(Some(&s.wire())), Ok(s));
        assert_eq!(parse21(Some("openid")).unwrap().base, Scope::full_blog());
        assert_eq!(parse21(Some("auth email")).unwrap().wire(), "auth email");
        assert_eq!(parse21(Some("global")).unwrap().wire(), "global");
        assert!(parse21(Some("global auth openid")).is_err());
        assert!(
            parse(Some("openid")).is_err(),
            "the legacy parser refuses OIDC scopes"
        );
        assert_eq!(granted("posts,media"), Ok(Scope::Blog(vec![Posts, Media])));
        assert_eq!(granted("auth openid"), Ok(Scope::Auth));
    }

    #[test]
    fn a_refresh_scope_may_narrow_but_never_widen() {
        let p = |s: &str| parse21(Some(s)).unwrap();
        assert!(p("openid profile").covers(&p("openid")));
        assert!(p("").covers(&p("posts")));
        assert!(p("posts media").covers(&p("media")));
        assert!(p("global").covers(&p("global")));
        assert!(!p("openid").covers(&p("openid email")));
        assert!(!p("posts").covers(&p("posts media")));
        assert!(!p("posts").covers(&p("")));
        assert!(!p("auth").covers(&p("global")));
        assert!(!p("global").covers(&p("posts")));
    }
}
