//! The discovery documents (oauth21.md §1): RFC 8414 authorization server metadata, OpenID Connect
//! Discovery 1.0, and RFC 9728 protected resource metadata. They list exactly what the `/oauth2-1/`
//! server implements; the legacy `/oauth2/` pair is no longer advertised (WordPress.com does the
//! same), though it keeps working.
//!
//! The protected resources and their identifiers (RFC 8707 `resource` values, RFC 9728 §3.1
//! metadata URLs):
//!
//! | resource identifier | what it covers | metadata document |
//! |---|---|---|
//! | `{public_url}/rest/v1` | the REST API: `/rest/v1/…`, `/rest/v1.1/…`, `/wp-json/…` | `/.well-known/oauth-protected-resource/rest/v1`, and the root `/.well-known/oauth-protected-resource` |
//! | `{public_url}/wpcom/v2/mcp/v1` | the MCP endpoint (§8) | `/.well-known/oauth-protected-resource/wpcom/v2/mcp/v1` |
//!
//! The REST API is one resource under one identifier, whichever version prefix a request uses: a
//! token is good for all of them alike. The root document repeats the REST API's (WordPress.com
//! publishes one at the root, and clients that look there first find the API they expect). The MCP
//! endpoint's document is served by `mcp` itself, whose tools decide its `scopes_supported`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::config::Settings;
use crate::domain::scope::Area;
use crate::domain::signing_key::ALG;
use crate::state::AppState;

/// The REST API's resource path (its identifier is the public URL followed by it).
pub(crate) const REST_RESOURCE_PATH: &str = "/rest/v1";
/// The MCP endpoint's resource path (oauth21.md §8).
pub(crate) const MCP_RESOURCE_PATH: &str = "/wpcom/v2/mcp/v1";

/// The resource identifier (RFC 8707) of the resource at `path` ([`REST_RESOURCE_PATH`] or
/// [`MCP_RESOURCE_PATH`]).
pub(crate) fn resource_identifier(settings: &Settings, path: &str) -> String {
    format!("{}{path}", settings.base_url())
}

/// The URL of the RFC 9728 metadata of the resource at `path`: the well-known name inserted between
/// the host and the path (RFC 9728 §3.1).
pub(crate) fn resource_metadata_url(settings: &Settings, path: &str) -> String {
    format!(
        "{}/.well-known/oauth-protected-resource{path}",
        settings.base_url()
    )
}

/// The `WWW-Authenticate` challenge of a 401 from the resource at `path` (oauth21.md §4, RFC 9728
/// §5.1): it names the resource's metadata, and `error="invalid_token"` when a token was sent.
pub(crate) fn bearer_challenge(settings: &Settings, path: &str, token_sent: bool) -> HeaderValue {
    let url = resource_metadata_url(settings, path);
    let value = if token_sent {
        format!("Bearer resource_metadata=\"{url}\", error=\"invalid_token\"")
    } else {
        format!("Bearer resource_metadata=\"{url}\"")
    };
    // The public URL is a validated URL: no quote, no control character.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

/// The scope values a client may ask for: WordPress.com's forms and areas, and OpenID Connect's.
fn scopes_supported() -> Vec<&'static str> {
    let mut scopes = vec!["global", "auth"];
    scopes.extend(Area::ALL.iter().map(|a| a.as_str()));
    scopes.extend(["openid", "profile", "email", "offline_access"]);
    scopes
}

/// The claims of ID tokens and UserInfo (`super::claims`).
const CLAIMS_SUPPORTED: [&str; 14] = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "name",
    "preferred_username",
    "picture",
    "updated_at",
    "email",
    "email_verified",
];

/// The RFC 8414 document: oauth21.md §1's fields, and nothing the server does not do.
pub(crate) fn authorization_server(settings: &Settings) -> Value {
    let base = settings.base_url();
    json!({
        "issuer": settings.issuer(),
        "authorization_endpoint": format!("{base}/oauth2-1/authorize"),
        "token_endpoint": format!("{base}/oauth2-1/token"),
        "revocation_endpoint": format!("{base}/oauth2-1/revoke"),
        "introspection_endpoint": format!("{base}/oauth2-1/token-info"),
        "registration_endpoint": format!("{base}/oauth2-1/register"),
        "userinfo_endpoint": format!("{base}/oauth2-1/userinfo"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": scopes_supported(),
        "claims_supported": CLAIMS_SUPPORTED,
        "id_token_signing_alg_values_supported": [ALG],
        "subject_types_supported": ["public"],
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": true,
        "resource_indicators_supported": true,
    })
}

/// The OpenID Connect Discovery document: the RFC 8414 one plus the OIDC fields whose defaults
/// would claim more than the server does (`request_uri_parameter_supported` defaults to true).
pub(crate) fn openid_configuration(settings: &Settings) -> Value {
    let mut doc = authorization_server(settings);
    if let Some(fields) = doc.as_object_mut() {
        fields.insert("claims_parameter_supported".into(), false.into());
        fields.insert("request_parameter_supported".into(), false.into());
        fields.insert("request_uri_parameter_supported".into(), false.into());
    }
    doc
}

/// The RFC 9728 document of the resource at `path`, which `scopes` (its `scopes_supported`) serve.
pub(crate) fn protected_resource(settings: &Settings, path: &str, scopes: &[&str]) -> Value {
    let base = settings.base_url();
    let (name, documentation) = if path == MCP_RESOURCE_PATH {
        ("Latchkey MCP server", format!("{base}/"))
    } else {
        (
            "Latchkey REST API",
            format!("{base}{REST_RESOURCE_PATH}/me/help"),
        )
    };
    json!({
        "resource": resource_identifier(settings, path),
        "authorization_servers": [settings.issuer()],
        "bearer_methods_supported": ["header"],
        "scopes_supported": scopes,
        "resource_name": name,
        "resource_documentation": documentation,
    })
}

/// A public document clients may cache for `oauth21.jwks_max_age_secs`.
pub(crate) fn cacheable(settings: &Settings, body: Value) -> Response {
    let mut response = Json(body).into_response();
    let max_age = format!("public, max-age={}", settings.oauth21.jwks_max_age_secs);
    if let Ok(value) = HeaderValue::from_str(&max_age) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

/// `GET /.well-known/oauth-authorization-server`.
pub(crate) async fn authorization_server_metadata(State(state): State<AppState>) -> Response {
    cacheable(&state.settings, authorization_server(&state.settings))
}

/// `GET /.well-known/openid-configuration`.
pub(crate) async fn openid_configuration_metadata(State(state): State<AppState>) -> Response {
    cacheable(&state.settings, openid_configuration(&state.settings))
}

/// `GET /.well-known/oauth-protected-resource/rest/v1`, and the root
/// `/.well-known/oauth-protected-resource` (see the module docs).
pub(crate) async fn rest_protected_resource(State(state): State<AppState>) -> Response {
    cacheable(
        &state.settings,
        protected_resource(&state.settings, REST_RESOURCE_PATH, &scopes_supported()),
    )
}
