//! Client metadata (RFC 7591 §2; oauth21.md §5): what a client may register about itself at
//! `/oauth2-1/register`, or publish in a Client ID Metadata Document, checked into a
//! [`ClientMetadata`]; and the closed sets an app's 2.1 columns hold (grant types, the token
//! endpoint's authentication method, who registered the app).
//!
//! Unknown metadata is ignored (RFC 7591 §2: "the authorization server MUST ignore any client
//! metadata sent by the client that it does not understand"); a known field of the wrong type or
//! with a value Latchkey does not implement is `invalid_client_metadata`, a bad redirect URI
//! `invalid_redirect_uri` (RFC 7591 §3.2.2). A `null` counts as absent.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::domain::app::AppType;
use crate::domain::redirect_uri;

/// A value outside one of the closed sets below.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value {0:?}")]
pub struct UnknownValue(pub String);

macro_rules! closed_set {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The wire and stored spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| UnknownValue(s.to_owned()))
            }
        }
    };
}

closed_set! {
    /// The grants of the 2.1 token endpoint an app may use (oauth21.md §3).
    GrantType {
        AuthorizationCode = "authorization_code",
        /// Every code grant of the app yields a refresh token (oauth21.md §2).
        RefreshToken = "refresh_token",
        /// Confidential clients only.
        ClientCredentials = "client_credentials",
    }
}

closed_set! {
    /// How a client authenticates at the token endpoint (RFC 7591 §2). Apps registered by an owner
    /// are `client_secret_basic` and, as in the legacy dialect, may send their secret either way.
    AuthMethod {
        ClientSecretBasic = "client_secret_basic",
        ClientSecretPost = "client_secret_post",
        /// A public client: no secret, PKCE only.
        None = "none",
    }
}

closed_set! {
    /// Who registered an app.
    RegistrationKind {
        /// Its owner, on the applications page or with the CLI: the app is verified.
        Manual = "manual",
        /// The client itself, at `/oauth2-1/register` (RFC 7591).
        Dynamic = "dynamic",
        /// Nobody: its `client_id` is the URL of a Client ID Metadata Document.
        MetadataDocument = "metadata_document",
    }
}

impl RegistrationKind {
    /// Registered by an owner: the consent page need not warn about it.
    pub fn is_verified(self) -> bool {
        self == RegistrationKind::Manual
    }

    /// Whether a user's earlier approval of an app for `approved_redirect_uri` may stand for a
    /// request to `redirect_uri` (oauth21.md §5): for an unverified client only the very same
    /// redirect URI, byte for byte.
    pub fn earlier_approval_covers(self, approved_redirect_uri: &str, redirect_uri: &str) -> bool {
        self.is_verified() || approved_redirect_uri == redirect_uri
    }
}

/// Space-separated grant types, as stored, with the unknown ones skipped.
pub fn parse_grant_types(stored: &str) -> Vec<GrantType> {
    stored
        .split_ascii_whitespace()
        .filter_map(|g| g.parse().ok())
        .collect()
}

/// The most redirect URIs, contacts, and the longest texts one client may register.
pub const MAX_REDIRECT_URIS: usize = 20;
pub const MAX_CONTACTS: usize = 10;
const MAX_NAME_CHARS: usize = 100;
const MAX_URL_LEN: usize = 2000;
const MAX_CONTACT_LEN: usize = 200;
const MAX_SCOPE_LEN: usize = 1000;

/// Registered metadata, checked. Absent optional fields stay `None` (or empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMetadata {
    pub redirect_uris: Vec<String>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub grant_types: Vec<GrantType>,
    /// Only `code` is implemented.
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: AuthMethod,
    pub scope: Option<String>,
    pub contacts: Vec<String>,
}

impl ClientMetadata {
    /// Public clients get the native app rules (loopback and private-use redirect URIs, PKCE).
    pub fn app_type(&self) -> AppType {
        app_type_for(self.token_endpoint_auth_method)
    }

    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == AuthMethod::None
    }

    /// The grant types, space-separated, as stored.
    pub fn grant_types_stored(&self) -> String {
        self.grant_types
            .iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn app_type_for(method: AuthMethod) -> AppType {
    match method {
        AuthMethod::None => AppType::Native,
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => AppType::Web,
    }
}

/// Why metadata was refused: the two error codes of RFC 7591 §3.2.2, with what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataError {
    InvalidRedirectUri(String),
    InvalidClientMetadata(String),
}

impl MetadataError {
    fn metadata(description: impl Into<String>) -> Self {
        MetadataError::InvalidClientMetadata(description.into())
    }

    pub fn description(&self) -> &str {
        match self {
            MetadataError::InvalidRedirectUri(d) | MetadataError::InvalidClientMetadata(d) => d,
        }
    }
}

/// Where the metadata comes from: a registration request, or a metadata document (always a public
/// client, oauth21.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Registration,
    MetadataDocument,
}

/// Checks the metadata of a registration request or a metadata document. `own_origin` is
/// Latchkey's public origin (see [`redirect_uri::validate_registration`]).
pub fn check(
    body: &Value,
    source: Source,
    own_origin: &str,
) -> Result<ClientMetadata, MetadataError> {
    let Value::Object(fields) = body else {
        return Err(MetadataError::metadata(
            "the client metadata must be a JSON object",
        ));
    };
    let method = match optional_string(fields, "token_endpoint_auth_method")? {
        None if source == Source::MetadataDocument => AuthMethod::None,
        // RFC 7591 §2: the default is client_secret_basic.
        None => AuthMethod::ClientSecretBasic,
        Some(m) => m.parse().map_err(|_| {
            MetadataError::metadata(format!(
                "token_endpoint_auth_method {m:?} is not supported; use \"none\" (a public client), \
                 \"client_secret_basic\" or \"client_secret_post\""
            ))
        })?,
    };
    if source == Source::MetadataDocument && method != AuthMethod::None {
        return Err(MetadataError::metadata(
            "a client identified by a metadata document is a public client: its \
             token_endpoint_auth_method must be \"none\"",
        ));
    }
    let redirect_uris = string_list(fields, "redirect_uris", MAX_REDIRECT_URIS, MAX_URL_LEN)?
        .filter(|l| !l.is_empty())
        .ok_or_else(|| {
            MetadataError::InvalidRedirectUri(
                "redirect_uris is required: register at least one redirect URI".into(),
            )
        })?;
    for uri in &redirect_uris {
        redirect_uri::validate_registration(uri, app_type_for(method), own_origin)
            .map_err(|e| MetadataError::InvalidRedirectUri(format!("{uri}: {e}")))?;
    }
    let grant_types = match string_list(fields, "grant_types", 8, 64)? {
        None => vec![GrantType::AuthorizationCode],
        Some(list) => {
            let mut grants = Vec::new();
            for g in list {
                let grant: GrantType = g.parse().map_err(|_| {
                    MetadataError::metadata(format!(
                        "grant type {g:?} is not supported; use authorization_code, refresh_token \
                         or client_credentials"
                    ))
                })?;
                if !grants.contains(&grant) {
                    grants.push(grant);
                }
            }
            grants
        }
    };
    let response_types = match string_list(fields, "response_types", 8, 64)? {
        None => vec!["code".to_owned()],
        Some(list) => {
            if let Some(other) = list.iter().find(|r| *r != "code") {
                return Err(MetadataError::metadata(format!(
                    "response type {other:?} is not supported; the only one is \"code\""
                )));
            }
            if list.is_empty() {
                vec![]
            } else {
                vec!["code".to_owned()]
            }
        }
    };
    // RFC 7591 §2.1: `code` goes with `authorization_code`.
    let has_code = grant_types.contains(&GrantType::AuthorizationCode);
    let wants_code = !response_types.is_empty();
    if has_code != wants_code {
        return Err(MetadataError::metadata(
            "grant_types and response_types disagree: the response type \"code\" goes with the \
             grant type \"authorization_code\" (RFC 7591 §2.1)",
        ));
    }
    if grant_types.is_empty() {
        return Err(MetadataError::metadata("register at least one grant type"));
    }
    if method == AuthMethod::None && grant_types.contains(&GrantType::ClientCredentials) {
        return Err(MetadataError::metadata(
            "client_credentials is for confidential clients: a public client (\"none\") has no \
             secret to authenticate with",
        ));
    }
    let client_name = match optional_string(fields, "client_name")? {
        None => None,
        Some(name) => {
            let name = name.trim();
            if name.is_empty()
                || name.chars().count() > MAX_NAME_CHARS
                || name.chars().any(char::is_control)
            {
                return Err(MetadataError::metadata(
                    "client_name must be 1 to 100 characters, without control characters",
                ));
            }
            Some(name.to_owned())
        }
    };
    let client_uri = web_url(fields, "client_uri")?;
    let logo_uri = web_url(fields, "logo_uri")?;
    let scope = match optional_string(fields, "scope")? {
        None => None,
        Some(s) => {
            // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), space-separated.
            let token_char =
                |c: char| c == '!' || ('#'..='[').contains(&c) || (']'..='~').contains(&c);
            let ok = s.len() <= MAX_SCOPE_LEN
                && s.split(' ')
                    .all(|t| !t.is_empty() && t.chars().all(token_char));
            if !ok {
                return Err(MetadataError::metadata(
                    "scope must be scope names separated by single spaces (RFC 6749 §3.3)",
                ));
            }
            Some(s.to_owned())
        }
    };
    let contacts =
        string_list(fields, "contacts", MAX_CONTACTS, MAX_CONTACT_LEN)?.unwrap_or_default();
    if contacts
        .iter()
        .any(|c| c.is_empty() || c.chars().any(char::is_control))
    {
        return Err(MetadataError::metadata(
            "each contact must be a non-empty line of text",
        ));
    }
    Ok(ClientMetadata {
        redirect_uris,
        client_name,
        client_uri,
        logo_uri,
        grant_types,
        response_types,
        token_endpoint_auth_method: method,
        scope,
        contacts,
    })
}

/// A string field, `None` when absent or `null`.
fn optional_string<'a>(
    fields: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, MetadataError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(MetadataError::metadata(format!("{name} must be a string"))),
    }
}

/// An array-of-strings field, `None` when absent or `null`.
fn string_list(
    fields: &Map<String, Value>,
    name: &str,
    max_items: usize,
    max_len: usize,
) -> Result<Option<Vec<String>>, MetadataError> {
    let wrong = || MetadataError::metadata(format!("{name} must be an array of strings"));
    let items = match fields.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(wrong()),
    };
    if items.len() > max_items {
        return Err(MetadataError::metadata(format!(
            "{name} may hold at most {max_items} values"
        )));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(s) = item else {
            return Err(wrong());
        };
        if s.len() > max_len {
            return Err(MetadataError::metadata(format!(
                "each value of {name} must be at most {max_len} bytes"
            )));
        }
        out.push(s.clone());
    }
    Ok(Some(out))
}

/// An absolute `http:`/`https:` URL field (a web page or an image), as the app form asks.
fn web_url(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, MetadataError> {
    let Some(raw) = optional_string(fields, name)? else {
        return Ok(None);
    };
    let ok = raw.len() <= MAX_URL_LEN
        && !raw.chars().any(|c| c.is_control() || c.is_whitespace())
        && url::Url::parse(raw).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.username().is_empty()
        });
    if !ok {
        return Err(MetadataError::metadata(format!(
            "{name} must be an absolute http:// or https:// URL"
        )));
    }
    Ok(Some(raw.to_owned()))
}

/// What the consent page shows of a redirect URI (oauth21.md §5, "showing the redirect host in
/// full"): its host with the port when one is written (`app.example.com:8443`), or, for a
/// private-use URI (`com.example.app:/cb`), its scheme. Never shortened.
pub fn redirect_host(uri: &str) -> String {
    match url::Url::parse(uri) {
        Ok(url) => match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) if !host.is_empty() => host.to_owned(),
            _ => url.scheme().to_owned(),
        },
        Err(_) => uri.split(':').next().unwrap_or("").to_owned(),
    }
}

/// Whether a `client_id` names a Client ID Metadata Document: an `https` URL with a path other than
/// `/` (oauth21.md §5), without fragment or user information. `allow_http_loopback` (the test
/// switch) also accepts `http` URLs on the loopback IP literals.
pub fn is_metadata_document_url(client_id: &str, allow_http_loopback: bool) -> bool {
    let Ok(url) = url::Url::parse(client_id) else {
        return false;
    };
    let scheme_ok = match url.scheme() {
        "https" => true,
        "http" => {
            allow_http_loopback
                && match url.host() {
                    Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                    Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                    _ => false,
                }
        }
        _ => false,
    };
    scheme_ok
        && url.host().is_some()
        && url.path() != "/"
        && !url.path().is_empty()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
}

#[cfg(test)]
mod tests;
