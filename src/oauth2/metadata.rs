//! `GET /.well-known/oauth-authorization-server` (RFC 8414): what this server supports, with the
//! public URL as issuer. `authorization_response_iss_parameter_supported` tells clients that every
//! authorization response carries `iss` (RFC 9207).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::domain::scope::Area;
use crate::state::AppState;

pub(crate) async fn metadata(State(state): State<AppState>) -> Json<Value> {
    let base = state.settings.base_url();
    let mut scopes: Vec<&str> = vec!["global", "auth"];
    scopes.extend(Area::ALL.iter().map(|a| a.as_str()));
    Json(json!({
        "issuer": state.settings.issuer(),
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "token_endpoint": format!("{base}/oauth2/token"),
        "response_types_supported": ["code", "token"],
        "response_modes_supported": ["query", "fragment"],
        "grant_types_supported": ["authorization_code", "implicit", "password"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": scopes,
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": format!("{base}/"),
    }))
}
