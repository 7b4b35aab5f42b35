//! The claims about the user that ID tokens and UserInfo share (OpenID Connect Core §5.1, §5.4):
//! `sub` always; with `profile`, `name`, `preferred_username`, `picture`, `updated_at`; with `email`,
//! `email`, `email_verified`. `sub` is the user's numeric id as a string: stable across apps and
//! dialects (the legacy `/me` answers the same id).

use serde_json::{Map, Value};

use crate::store::{Store, StoreError};

/// The OpenID Connect scope values a grant holds, read from its stored scope words. (The scope
/// parser of `domain::scope` knows the WordPress.com forms; these words ride beside them.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Granted {
    pub openid: bool,
    pub profile: bool,
    pub email: bool,
}

impl Granted {
    /// Reads a stored scope: words separated by spaces (or commas, as WordPress.com's forms allow).
    pub fn from_scope(scope: &str) -> Self {
        let mut granted = Granted::default();
        for word in scope.split([' ', ',']).filter(|w| !w.is_empty()) {
            match word {
                "openid" => granted.openid = true,
                "profile" => granted.profile = true,
                "email" => granted.email = true,
                _ => {}
            }
        }
        granted
    }
}

/// The user claims for `granted`, or `None` when the user no longer exists.
pub(crate) async fn user_claims(
    store: &Store,
    user_id: i64,
    granted: Granted,
) -> Result<Option<Map<String, Value>>, StoreError> {
    let Some(profile) = store.profile(user_id).await? else {
        return Ok(None);
    };
    let mut claims = Map::new();
    claims.insert("sub".into(), profile.user_id.to_string().into());
    if granted.profile {
        claims.insert("name".into(), profile.display_name.clone().into());
        claims.insert("preferred_username".into(), profile.username.clone().into());
        // The avatar `/me` answers (`avatar_URL`).
        let picture = format!(
            "https://gravatar.com/avatar/{}?s=96&d=identicon",
            profile.email_hash
        );
        claims.insert("picture".into(), picture.into());
        // No profile change is timestamped; the account's creation is the last one recorded.
        claims.insert("updated_at".into(), profile.created_at.into());
    }
    if granted.email {
        claims.insert("email".into(), profile.email.clone().into());
        // Latchkey never verifies addresses (`/me` answers `email_verified: false` too).
        claims.insert("email_verified".into(), false.into());
    }
    Ok(Some(claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openid_scope_values_are_read_from_the_stored_scope_words() {
        let cases = [
            ("", Granted::default()),
            ("global", Granted::default()),
            (
                "openid",
                Granted {
                    openid: true,
                    ..Granted::default()
                },
            ),
            (
                "global openid profile email offline_access",
                Granted {
                    openid: true,
                    profile: true,
                    email: true,
                },
            ),
            (
                "posts,openid,email",
                Granted {
                    openid: true,
                    profile: false,
                    email: true,
                },
            ),
            ("openidprofile emails", Granted::default()),
        ];
        for (scope, want) in cases {
            assert_eq!(Granted::from_scope(scope), want, "{scope:?}");
        }
    }
}
