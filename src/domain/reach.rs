//! What a token reaches on the REST API (oauth2.md §6, the table; security.md TK04, TK05, TK07).
//!
//! | token | `/me` | `/me/sites` | its blog | other blogs the user administers | likes and follows on any blog |
//! |---|---|---|---|---|---|
//! | `auth` | yes | no | no | no | no |
//! | single-blog (default or named scopes) | yes | its blog | yes | no | yes |
//! | `global` | yes | every blog the user administers | yes | yes | yes |
//!
//! Named scopes limit a single-blog token to areas; each endpoint needs the area its scope name
//! says (the mapping lives in `api`, next to the routes): `sites/{site}` and `me/sites` need
//! `sites`, the posts endpoints `posts`, likes and follows `follow`. The default grant and `global`
//! hold every area; `auth` none.
//!
//! Administration is a fact of *now*, not of the time of the grant: the caller looks up whether the
//! user administers a blog on every request, so a user who loses admin rights loses the blog at
//! once. A single-blog token whose user no longer administers its blog reaches nothing but `/me`
//! (its grant was given in that blog's name).
//!
//! [`holds`] is that last rule on its own: whether the grant a token (or a pending code) stands for
//! still holds. The REST API applies it through [`decide`]; token-info answers the uniform invalid
//! error and code redemption `invalid_grant` when it fails (issue 11, AC11).

use std::fmt;

use super::scope::{Area, Scope};

/// The grant a token stands for, as far as reach is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Token<'a> {
    pub scope: &'a Scope,
    /// The blog of a single-blog grant; `None` for `global` and `auth`.
    pub site_id: Option<i64>,
}

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `/me/sites`: list the blogs the token reaches.
    MySites,
    /// An endpoint of one blog (`sites/{site}`, its posts), in an area.
    Blog { site_id: i64, area: Area },
    /// Likes and follows: allowed on any blog to a token holding the area.
    AnyBlog { area: Area },
}

/// Why a token may not do what it asked. [`Refusal::message`] is the REST error's `message`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// An `auth` token outside `/me`.
    IdentityOnly,
    /// Named scopes without the area the endpoint needs.
    AreaNotGranted(Area),
    /// A single-blog token on another blog.
    OtherBlog { token_site_id: i64 },
    /// A `global` token on a blog the user does not administer (any more).
    NotAdministrator,
    /// A single-blog token whose user no longer administers its blog.
    TokenBlogLost,
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Refusal::IdentityOnly => {
                "This token was granted with scope \"auth\": it may only read \
                                      the /me endpoint."
                    .to_owned()
            }
            Refusal::AreaNotGranted(area) => format!(
                "This token was not granted the \"{area}\" scope, which this endpoint needs."
            ),
            Refusal::OtherBlog { token_site_id } => format!(
                "This token is for blog {token_site_id} only: on other blogs it may only like \
                 posts and follow the blog."
            ),
            Refusal::NotAdministrator => {
                "The user of this token does not administer this blog.".to_owned()
            }
            Refusal::TokenBlogLost => {
                "The user of this token no longer administers the blog it was issued for."
                    .to_owned()
            }
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// Whether the grant behind `token` still holds, whatever the request: a single-blog grant lapses
/// while its user does not administer its blog; `global` and `auth` hold as long as the account
/// does (a `global` token reaches the blogs administered *now*, which may be none).
pub fn holds(token: Token<'_>, administers: impl Fn(i64) -> bool) -> Result<(), Refusal> {
    match token.scope {
        // A single-blog grant without a blog cannot be issued; treat one as lost, never as wide.
        Scope::Blog(_) => match token.site_id {
            Some(id) if administers(id) => Ok(()),
            _ => Err(Refusal::TokenBlogLost),
        },
        Scope::Global | Scope::Auth => Ok(()),
    }
}

/// Decides whether `token` may do `target`. `administers(site_id)` says whether the token's user
/// administers that blog right now. When `MySites` is allowed, [`listed_sites`] says what it lists.
pub fn decide(
    token: Token<'_>,
    target: Target,
    administers: impl Fn(i64) -> bool,
) -> Result<(), Refusal> {
    let area = match target {
        Target::MySites => Area::Sites,
        Target::Blog { area, .. } | Target::AnyBlog { area } => area,
    };
    match token.scope {
        Scope::Auth => Err(Refusal::IdentityOnly),
        _ if !token.scope.allows(area) => Err(Refusal::AreaNotGranted(area)),
        Scope::Global => match target {
            Target::Blog { site_id, .. } if !administers(site_id) => Err(Refusal::NotAdministrator),
            _ => Ok(()),
        },
        Scope::Blog(_) => {
            holds(token, &administers)?;
            let own = token.site_id.ok_or(Refusal::TokenBlogLost)?;
            match target {
                Target::Blog { site_id, .. } if site_id != own => {
                    Err(Refusal::OtherBlog { token_site_id: own })
                }
                _ => Ok(()),
            }
        }
    }
}

/// The blogs `/me/sites` lists for a token allowed [`Target::MySites`]: every blog the user
/// administers for `global`, the token's own blog for a single-blog token.
pub fn listed_sites(token: Token<'_>, administered: &[i64]) -> Vec<i64> {
    match token.scope {
        Scope::Global => administered.to_vec(),
        Scope::Blog(_) => token
            .site_id
            .filter(|id| administered.contains(id))
            .into_iter()
            .collect(),
        Scope::Auth => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Area::*;

    const OWN: i64 = 101;
    const OTHER_ADMIN: i64 = 102;
    const FOREIGN: i64 = 103;

    fn admin_of(id: i64) -> bool {
        id == OWN || id == OTHER_ADMIN
    }

    fn check(scope: &Scope, site_id: Option<i64>, target: Target) -> Result<(), Refusal> {
        decide(Token { scope, site_id }, target, admin_of)
    }

    fn blog(site_id: i64, area: Area) -> Target {
        Target::Blog { site_id, area }
    }

    #[test]
    fn auth_tokens_reach_nothing_beyond_me() {
        for target in [
            Target::MySites,
            blog(OWN, Posts),
            blog(OWN, Sites),
            Target::AnyBlog { area: Follow },
        ] {
            assert_eq!(
                check(&Scope::Auth, None, target),
                Err(Refusal::IdentityOnly),
                "{target:?}"
            );
        }
    }

    #[test]
    fn a_default_single_blog_token_reaches_its_blog_and_likes_and_follows_anywhere() {
        let scope = Scope::full_blog();
        let own = Some(OWN);
        for area in Area::ALL {
            assert_eq!(check(&scope, own, blog(OWN, area)), Ok(()), "{area}");
        }
        assert_eq!(check(&scope, own, Target::MySites), Ok(()));
        assert_eq!(check(&scope, own, Target::AnyBlog { area: Follow }), Ok(()));
        for other in [OTHER_ADMIN, FOREIGN] {
            assert_eq!(
                check(&scope, own, blog(other, Posts)),
                Err(Refusal::OtherBlog { token_site_id: OWN }),
                "{other}"
            );
        }
    }

    #[test]
    fn named_scopes_limit_the_areas_of_the_token_blog() {
        let posts = Scope::Blog(vec![Posts]);
        let own = Some(OWN);
        assert_eq!(check(&posts, own, blog(OWN, Posts)), Ok(()));
        assert_eq!(
            check(&posts, own, blog(OWN, Sites)),
            Err(Refusal::AreaNotGranted(Sites))
        );
        assert_eq!(
            check(&posts, own, Target::MySites),
            Err(Refusal::AreaNotGranted(Sites))
        );
        assert_eq!(
            check(&posts, own, Target::AnyBlog { area: Follow }),
            Err(Refusal::AreaNotGranted(Follow))
        );
        let follow = Scope::Blog(vec![Follow, Sites]);
        assert_eq!(
            check(&follow, own, Target::AnyBlog { area: Follow }),
            Ok(())
        );
        assert_eq!(check(&follow, own, Target::MySites), Ok(()));
        assert_eq!(
            check(&follow, own, blog(OWN, Posts)),
            Err(Refusal::AreaNotGranted(Posts))
        );
    }

    #[test]
    fn global_tokens_reach_every_blog_the_user_administers_now() {
        for site in [OWN, OTHER_ADMIN] {
            assert_eq!(check(&Scope::Global, None, blog(site, Posts)), Ok(()));
        }
        assert_eq!(
            check(&Scope::Global, None, blog(FOREIGN, Posts)),
            Err(Refusal::NotAdministrator)
        );
        assert_eq!(
            check(&Scope::Global, None, Target::AnyBlog { area: Follow }),
            Ok(())
        );
        assert_eq!(check(&Scope::Global, None, Target::MySites), Ok(()));
    }

    #[test]
    fn a_single_blog_token_loses_everything_but_me_with_its_blog() {
        let scope = Scope::full_blog();
        let lost = Some(FOREIGN);
        for target in [
            blog(FOREIGN, Posts),
            Target::MySites,
            Target::AnyBlog { area: Follow },
        ] {
            assert_eq!(
                check(&scope, lost, target),
                Err(Refusal::TokenBlogLost),
                "{target:?}"
            );
        }
        assert_eq!(
            check(&scope, None, blog(OWN, Posts)),
            Err(Refusal::TokenBlogLost)
        );
    }

    #[test]
    fn a_grant_holds_while_its_user_administers_its_blog_and_global_and_auth_always() {
        let full = Scope::full_blog();
        let posts = Scope::Blog(vec![Posts]);
        let token = |scope, site_id| Token { scope, site_id };
        assert_eq!(holds(token(&full, Some(OWN)), admin_of), Ok(()));
        assert_eq!(
            holds(token(&posts, Some(FOREIGN)), admin_of),
            Err(Refusal::TokenBlogLost)
        );
        assert_eq!(
            holds(token(&full, None), admin_of),
            Err(Refusal::TokenBlogLost)
        );
        assert_eq!(holds(token(&Scope::Global, None), |_| false), Ok(()));
        assert_eq!(holds(token(&Scope::Auth, None), |_| false), Ok(()));
    }

    #[test]
    fn me_sites_lists_what_the_token_reaches() {
        let admin = [OWN, OTHER_ADMIN];
        let full = Scope::full_blog();
        let token = |scope, site_id| Token { scope, site_id };
        assert_eq!(listed_sites(token(&Scope::Global, None), &admin), admin);
        assert_eq!(listed_sites(token(&full, Some(OWN)), &admin), [OWN]);
        assert!(listed_sites(token(&full, Some(FOREIGN)), &admin).is_empty());
        assert!(listed_sites(token(&Scope::Auth, None), &admin).is_empty());
    }

    #[test]
    fn every_refusal_says_why() {
        let messages = [
            Refusal::IdentityOnly.message(),
            Refusal::AreaNotGranted(Posts).message(),
            Refusal::OtherBlog { token_site_id: 7 }.message(),
            Refusal::NotAdministrator.message(),
            Refusal::TokenBlogLost.message(),
        ];
        assert!(messages[0].contains("auth"));
        assert!(messages[1].contains("\"posts\""));
        assert!(messages[2].contains("blog 7"));
        assert!(messages.iter().all(|m| m.ends_with('.')));
    }
}
