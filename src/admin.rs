//! Account, site and application administration shared by the CLI and the web pages: every input
//! is validated here, with a message that says what to fix, before anything is written.

use crate::domain::client_metadata::GrantType;
use crate::domain::input::{self, Field};
use crate::domain::random::{Random, alphanumeric, bytes};
use crate::domain::{crypto, password, redirect_uri, secret, site_url};
use crate::store::{App, AppChanges, NewApp, NewUser, Role, Site, Store, StoreError, Tx, User};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A field's value is unacceptable; the message says what to fix.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0} is already taken")]
    Conflict(&'static str),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AdminError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(what) => AdminError::Conflict(what),
            other => AdminError::Store(other),
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> AdminError {
    AdminError::Invalid {
        field,
        message: message.into(),
    }
}

pub type Result<T> = std::result::Result<T, AdminError>;

/// The input rule (`domain::input`) for a field, whoever sent it: the CLI, a page or the API.
fn follows_rule(field: &'static str, value: &str, kind: Field) -> Result<()> {
    input::check(value, kind).map_err(|problem| invalid(field, format!("this value {problem}")))
}

/// Usernames: 3–60 characters of letters, digits, `_`, `-` and `.`.
pub fn check_username(username: &str) -> Result<()> {
    let ok = (3..=60).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "username",
            "use 3 to 60 characters: letters, digits, '_', '-' or '.'",
        ))
    }
}

pub fn check_email(email: &str) -> Result<()> {
    let ok = email.len() <= 200
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
                && !domain.ends_with('.') && !domain.contains('@'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "email",
            "enter an address such as name@example.com",
        ))
    }
}

/// Passwords: 8 characters to 1 KiB, and not only spaces.
pub fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < 8 {
        return Err(invalid("password", "use at least 8 characters"));
    }
    if password.len() > password::MAX_PASSWORD_BYTES {
        return Err(invalid("password", "use at most 1024 bytes"));
    }
    if password.trim().is_empty() {
        return Err(invalid("password", "use something other than spaces"));
    }
    Ok(())
}

pub struct UserInput<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub display_name: Option<&'a str>,
}

/// Creates an account. Argon2 runs off the async runtime.
pub async fn create_user(
    tx: &mut Tx<'_>,
    random: &dyn Random,
    input: &UserInput<'_>,
    now: i64,
) -> Result<User> {
    follows_rule("username", input.username, Field::Line)?;
    follows_rule("email", input.email, Field::Line)?;
    follows_rule("password", input.password, Field::Line)?;
    check_username(input.username)?;
    check_email(input.email)?;
    check_password(input.password)?;
    let display_name = input.display_name.unwrap_or(input.username).trim();
    follows_rule("display-name", display_name, Field::Line)?;
    if display_name.is_empty() || display_name.len() > 100 {
        return Err(invalid("display-name", "use 1 to 100 characters"));
    }
    if tx.store().user_by_login(input.username).await?.is_some() {
        return Err(AdminError::Conflict("username"));
    }
    let salt: [u8; 16] = bytes(random);
    let pw = input.password.to_owned();
    let hash = crate::blocking::run(move || password::hash(&pw, salt))
        .await
        .map_err(|_| invalid("password", "could not be hashed"))?;
    let user = tx
        .create_user(
            &NewUser {
                username: input.username,
                email: input.email,
                display_name,
                password_hash: &hash,
            },
            now,
        )
        .await?;
    Ok(user)
}

/// Finds a user by username or email, or says who was not found.
pub async fn find_user(store: &Store, login: &str) -> Result<User> {
    store
        .user_by_login(login)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no user named {login:?}")))
}

/// Finds a site by numeric id or URL.
pub async fn find_site(store: &Store, id_or_url: &str) -> Result<Site> {
    let found = match site_url::parse_blog_param(id_or_url) {
        Ok(site_url::BlogRef::Id(id)) => store.site_by_id(id).await?,
        Ok(site_url::BlogRef::Url(key)) => store.site_by_url_key(&key).await?,
        Err(e) => return Err(invalid("site", e.to_string())),
    };
    found.ok_or_else(|| AdminError::NotFound(format!("no site {id_or_url:?}")))
}

pub async fn create_site(
    tx: &mut Tx<'_>,
    owner: &User,
    url: &str,
    name: &str,
    is_jetpack: bool,
    now: i64,
) -> Result<Site> {
    // Before URL parsing, which would silently drop tabs and line breaks.
    follows_rule("url", url, Field::Line)?;
    follows_rule("name", name, Field::Line)?;
    let parsed = url::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| invalid("url", "use an absolute http:// or https:// URL"))?;
    let key = site_url::normalise(url).map_err(|e| invalid("url", e.to_string()))?;
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(invalid("name", "use 1 to 200 characters"));
    }
    let canonical = parsed.as_str().trim_end_matches('/');
    Ok(tx
        .create_site(owner.id, canonical, &key, name, is_jetpack, now)
        .await?)
}

pub async fn add_member(
    tx: &mut Tx<'_>,
    site: &Site,
    user: &User,
    role: Role,
    now: i64,
) -> Result<()> {
    if user.id == site.owner_id && role != Role::Administrator {
        return Err(invalid("role", "the site's owner stays an administrator"));
    }
    tx.set_membership(site.id, user.id, role, now).await?;
    Ok(())
}

/// Removes a member from a site. The owner cannot be removed, so a site always keeps an
/// administrator.
pub async fn remove_member(tx: &mut Tx<'_>, site: &Site, user_id: i64) -> Result<()> {
    if user_id == site.owner_id {
        return Err(invalid("member", "the site's owner cannot be removed"));
    }
    if !tx.remove_membership(site.id, user_id).await? {
        return Err(AdminError::NotFound("no such member".into()));
    }
    Ok(())
}

/// The editable fields of an app as given (the store's [`AppInput`]), checked by [`check_app`].
pub use crate::store::AppInput;

/// The fields stored for `input` (name and description trimmed), with the OAuth1 consumer the
/// caller decided on.
fn stored<'a>(
    input: &AppInput<'a>,
    oauth1_key: Option<&'a str>,
    oauth1_secret_enc: Option<&'a [u8]>,
) -> AppChanges<'a> {
    AppChanges {
        input: AppInput {
            name: input.name.trim(),
            description: input.description.trim(),
            ..*input
        },
        oauth1_key,
        oauth1_secret_enc,
    }
}

/// A newly created app with the secrets that are shown once.
pub struct CreatedApp {
    pub app: App,
    pub client_secret: String,
    pub consumer_secret: Option<String>,
}

/// Declared with the other sealing contexts; re-exported for callers that seal app secrets.
pub use crate::domain::crypto::CONSUMER_SECRET_CONTEXT;

/// The grants of `/oauth2-1/token` an owner chose for an app (`latchkey app create --grant-type`,
/// the app form's checkboxes): each one of the closed set (`GrantType`'s `FromStr`, which the CLI's
/// parser uses too), repeats dropped, at least one.
pub fn grant_types<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Vec<GrantType>> {
    let mut grants = Vec::new();
    for value in values {
        let grant: GrantType = value.parse().map_err(|_| {
            invalid(
                "grant-type",
                format!(
                    "{value:?} is not a grant of the OAuth 2.1 token endpoint: use \
                     authorization_code, refresh_token or client_credentials"
                ),
            )
        })?;
        if !grants.contains(&grant) {
            grants.push(grant);
        }
    }
    if grants.is_empty() {
        return Err(invalid("grant-type", "choose at least one grant type"));
    }
    Ok(grants)
}

/// Checks an app's fields against oauth2.md §2 and oauth1.md §7. `own_origin` is the server's
/// public origin, whose own pages (the playground) may use plain http.
pub fn check_app(input: &AppInput<'_>, own_origin: &str) -> Result<()> {
    follows_rule("name", input.name, Field::Line)?;
    follows_rule("description", input.description, Field::Text)?;
    follows_rule("website", input.website, Field::Line)?;
    follows_rule("icon-url", input.icon_url, Field::Line)?;
    let name = input.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(invalid("name", "use 1 to 100 characters"));
    }
    if input.description.len() > 2000 {
        return Err(invalid("description", "use at most 2000 characters"));
    }
    for (field, value) in [("website", input.website), ("icon-url", input.icon_url)] {
        if !value.is_empty() {
            let ok = url::Url::parse(value)
                .map(|u| matches!(u.scheme(), "http" | "https"))
                .unwrap_or(false);
            if !ok {
                return Err(invalid(field, "use an absolute http:// or https:// URL"));
            }
        }
    }
    if input.redirect_uris.is_empty() {
        return Err(invalid(
            "redirect-uri",
            "register at least one redirect URI",
        ));
    }
    for uri in input.redirect_uris {
        redirect_uri::validate_registration(uri, input.app_type, own_origin)
            .map_err(|e| invalid("redirect-uri", format!("{uri}: {e}")))?;
    }
    for origin in input.js_origins {
        follows_rule("js-origin", origin, Field::Line)?;
        check_origin(origin)?;
    }
    if let Some(callback) = input.oauth1_callback {
        crate::oauth1::callback::validate_registered(callback)
            .map_err(|e| invalid("oauth1-callback", e.to_string()))?;
    }
    Ok(())
}

/// A JavaScript origin is `scheme://host[:port]`, nothing more (RFC 6454).
fn check_origin(origin: &str) -> Result<()> {
    let parsed = url::Url::parse(origin).ok();
    let ok = parsed.as_ref().is_some_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.host_str().is_some()
            && u.username().is_empty()
            && u.query().is_none()
            && u.fragment().is_none()
            && u.path() == "/"
            && !origin.ends_with('/')
    });
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "js-origin",
            format!("{origin}: use an origin such as https://app.example (no path or slash)"),
        ))
    }
}

pub async fn create_app(
    tx: &mut Tx<'_>,
    random: &dyn Random,
    key: &[u8; 32],
    owner: &User,
    input: &AppInput<'_>,
    own_origin: &str,
    now: i64,
) -> Result<CreatedApp> {
    check_app(input, own_origin)?;
    let client_secret = secret::mint(secret::Kind::ClientSecret, random);
    let digest = secret::digest(&client_secret);
    let (consumer_key, consumer_secret, sealed) = match input.oauth1_callback {
        Some(_) => {
            let (consumer_secret, sealed) = new_consumer_secret(random, key);
            (
                Some(alphanumeric(random, 12)),
                Some(consumer_secret),
                Some(sealed),
            )
        }
        None => (None, None, None),
    };
    let new = NewApp {
        owner_id: owner.id,
        secret_digest: &digest,
        fields: stored(input, consumer_key.as_deref(), sealed.as_deref()),
    };
    let app = tx.create_app(&new, now).await?;
    Ok(CreatedApp {
        app,
        client_secret,
        consumer_secret,
    })
}

pub async fn find_app(store: &Store, id: &str) -> Result<App> {
    let id: i64 = id
        .parse()
        .map_err(|_| invalid("client_id", format!("{id:?} is not a numeric client id")))?;
    store
        .app_by_id(id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no app with client_id {id}")))
}

/// Issues a new client secret; the old one stops working at once. Returns the new secret.
pub async fn reset_secret(tx: &mut Tx<'_>, random: &dyn Random, app: &App) -> Result<String> {
    let client_secret = secret::mint(secret::Kind::ClientSecret, random);
    tx.set_app_secret(app.id, &secret::digest(&client_secret))
        .await?;
    Ok(client_secret)
}

/// An edited app, with the consumer secret when the edit turned OAuth1 on (shown once).
pub struct UpdatedApp {
    pub app: App,
    pub consumer_secret: Option<String>,
}

fn new_consumer_secret(random: &dyn Random, key: &[u8; 32]) -> (String, Vec<u8>) {
    let consumer_secret = alphanumeric(random, 48);
    let sealed = crypto::seal(
        key,
        CONSUMER_SECRET_CONTEXT,
        consumer_secret.as_bytes(),
        random,
    );
    (consumer_secret, sealed)
}

/// Edits an app under the same rules as [`create_app`]. Giving an OAuth1 callback to an app without
/// a consumer creates one (key and secret); removing the callback removes the consumer, and with
/// it the consumer key and secret.
pub async fn update_app(
    tx: &mut Tx<'_>,
    random: &dyn Random,
    key: &[u8; 32],
    app: &App,
    input: &AppInput<'_>,
    own_origin: &str,
) -> Result<UpdatedApp> {
    check_app(input, own_origin)?;
    let (oauth1_key, sealed, consumer_secret) = match (input.oauth1_callback, &app.oauth1_key) {
        (None, _) => (None, None, None),
        (Some(_), Some(existing)) => (Some(existing.clone()), app.oauth1_secret_enc.clone(), None),
        (Some(_), None) => {
            let (secret, sealed) = new_consumer_secret(random, key);
            (Some(alphanumeric(random, 12)), Some(sealed), Some(secret))
        }
    };
    let changes = stored(input, oauth1_key.as_deref(), sealed.as_deref());
    let app = tx
        .update_app(app.id, &changes)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no app with client_id {}", app.id)))?;
    Ok(UpdatedApp {
        app,
        consumer_secret,
    })
}

/// Issues a new OAuth1 consumer secret (the consumer key stays); the old one stops working at
/// once. Returns the new secret.
pub async fn regenerate_consumer_secret(
    tx: &mut Tx<'_>,
    random: &dyn Random,
    key: &[u8; 32],
    app: &App,
) -> Result<String> {
    if app.oauth1_key.is_none() {
        return Err(invalid(
            "oauth1-callback",
            "this app has no OAuth1 consumer",
        ));
    }
    let (secret, sealed) = new_consumer_secret(random, key);
    if !tx.set_consumer_secret(app.id, &sealed).await? {
        return Err(AdminError::NotFound(format!(
            "no app with client_id {}",
            app.id
        )));
    }
    Ok(secret)
}

/// Sets a user's password under the same rules as sign-up, and ends their web sessions. Argon2 runs
/// off the async runtime.
pub async fn set_password(
    tx: &mut Tx<'_>,
    random: &dyn Random,
    user: &User,
    new_password: &str,
) -> Result<()> {
    check_password(new_password)?;
    let salt: [u8; 16] = bytes(random);
    let pw = new_password.to_owned();
    let hash = crate::blocking::run(move || password::hash(&pw, salt))
        .await
        .map_err(|_| invalid("password", "could not be hashed"))?;
    if !tx.set_password_ending_sessions(user.id, &hash).await? {
        return Err(AdminError::NotFound(format!("no user {:?}", user.username)));
    }
    Ok(())
}
