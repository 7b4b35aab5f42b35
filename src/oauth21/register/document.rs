//! Which app a 2.1 `client_id` names (oauth21.md §5), for the authorize and token endpoints: a
//! numeric id is an app registered by an owner or at `/oauth2-1/register`; an `https` URL with a
//! path is a Client ID Metadata Document (the MCP 2025-11-25 recommended registration), fetched
//! under the SSRF rules of `http::fetch` (GET, `Accept: application/json`, at most 5 KB, 3 s, no
//! redirects), whose `client_id` must equal the URL. The document's client is a public client,
//! kept as an ownerless app row (so grants, codes and tokens reference it like any app) and
//! refreshed when the document's cache lifetime has run out: `Cache-Control: max-age` (at most an
//! hour); `no-store`, `no-cache` or no `max-age` means it is fetched again at its next use. A
//! document that cannot be fetched or is not valid refuses the client (the stored row is not used).
//!
//! With `oauth21.metadata_document_allow_loopback` (tests only, a WARN at start-up) documents may
//! be served from loopback addresses, and there over plain `http`.

use std::time::Duration;

use axum::http::{HeaderMap, header};

use crate::domain::client_metadata::{self, RegistrationKind, Source};
use crate::domain::secret;
use crate::http::fetch::{self, FetchError};
use crate::state::AppState;
use crate::store::{App, ClientApp, NewRegistration, StoreError};

/// The largest metadata document Latchkey reads.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// The whole fetch of a document.
pub(crate) const DOCUMENT_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest a fetched document is trusted without fetching it again.
pub(crate) const MAX_DOCUMENT_AGE_SECS: i64 = 3600;

/// The app a `client_id` names.
#[derive(Debug, Clone)]
pub struct ResolvedClient {
    pub app: App,
    /// The `client_id` as the client sends it: the numeric id, or the document's URL.
    pub client_id: String,
}

/// Why a `client_id` names no usable client. The endpoints answer `Unknown` and `Document` in
/// their dialect (the authorize error page, `invalid_client`), `Store` as a storage failure.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no client has this client_id")]
    Unknown,
    /// The metadata document could not be used; the text says why, for the error page.
    #[error("the client's metadata document {0}")]
    Document(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The app `client_id` names, fetching (and storing) its metadata document when it is a URL.
pub async fn resolve_client(
    state: &AppState,
    client_id: &str,
) -> Result<ResolvedClient, ResolveError> {
    if let Ok(id) = client_id.parse::<i64>() {
        let app = state
            .store
            .app_by_id(id)
            .await?
            // A document's client is known by its URL only, so it is always checked afresh.
            .filter(|a| id > 0 && a.registration != RegistrationKind::MetadataDocument)
            .ok_or(ResolveError::Unknown)?;
        return Ok(ResolvedClient {
            app,
            client_id: client_id.to_owned(),
        });
    }
    let allow_loopback = state.settings.oauth21.metadata_document_allow_loopback;
    if !client_metadata::is_metadata_document_url(client_id, allow_loopback) {
        return Err(ResolveError::Unknown);
    }
    let now = state.now();
    let stored = state.store.client_by_metadata_url(client_id).await?;
    if let Some((app, registration)) = &stored
        && registration.metadata_expires_at.is_some_and(|e| e > now)
    {
        return Ok(ResolvedClient {
            app: app.clone(),
            client_id: client_id.to_owned(),
        });
    }
    let rules = fetch::Rules {
        accept: "application/json",
        max_bytes: MAX_DOCUMENT_BYTES,
        timeout: DOCUMENT_TIMEOUT,
        allow_loopback,
        user_agent: "client metadata",
    };
    let fetched = fetch::get(client_id, &rules).await.map_err(|e| {
        ResolveError::Document(match e {
            FetchError::TooLarge => format!("is larger than {MAX_DOCUMENT_BYTES} bytes"),
            other => format!("could not be fetched: {other}"),
        })
    })?;
    let body: serde_json::Value = serde_json::from_slice(&fetched.bytes)
        .map_err(|_| ResolveError::Document("is not JSON".into()))?;
    if body.get("client_id").and_then(serde_json::Value::as_str) != Some(client_id) {
        return Err(ResolveError::Document(
            "does not name itself: its client_id must equal its URL".into(),
        ));
    }
    let metadata =
        client_metadata::check(&body, Source::MetadataDocument, state.settings.base_url())
            .map_err(|e| ResolveError::Document(format!("is not valid: {}", e.description())))?;
    let name = match &metadata.client_name {
        Some(n) => n.clone(),
        None => client_metadata::redirect_host(client_id),
    };
    let grant_types = metadata.grant_types_stored();
    let app_columns = ClientApp {
        name: &name,
        website: metadata.client_uri.as_deref().unwrap_or(""),
        icon_url: metadata.logo_uri.as_deref().unwrap_or(""),
        app_type: metadata.app_type(),
        redirect_uris: &metadata.redirect_uris,
        grant_types: &grant_types,
        token_endpoint_auth_method: metadata.token_endpoint_auth_method,
        registration: RegistrationKind::MetadataDocument,
    };
    let registration = NewRegistration {
        access_token_digest: None,
        scope: metadata.scope.as_deref(),
        contacts: &metadata.contacts,
        response_types: &metadata.response_types,
        metadata_url: Some(client_id),
        metadata_expires_at: Some(now + cache_lifetime(&fetched.headers)),
    };
    let mut tx = state.store.begin();
    let app = match &stored {
        Some((app, _)) => tx
            .update_client(app.id, &app_columns, &registration)
            .await?
            .ok_or(ResolveError::Unknown)?,
        None => {
            // A public client: the digest is of a secret nobody was ever told.
            let unusable =
                secret::digest(&secret::mint(secret::Kind::ClientSecret, &*state.random));
            match tx
                .create_client(&app_columns, &unusable, &registration, now)
                .await?
            {
                Some(app) => app,
                None => {
                    // Another request stored the same document meanwhile: use that one.
                    drop(tx);
                    let (app, _) = state
                        .store
                        .client_by_metadata_url(client_id)
                        .await?
                        .ok_or(ResolveError::Unknown)?;
                    return Ok(ResolvedClient {
                        app,
                        client_id: client_id.to_owned(),
                    });
                }
            }
        }
    };
    tx.commit().await?;
    Ok(ResolvedClient {
        app,
        client_id: client_id.to_owned(),
    })
}

/// How long a fetched document may be used: its `Cache-Control: max-age`, at most
/// [`MAX_DOCUMENT_AGE_SECS`]; 0 (fetch again at the next use) for `no-store`, `no-cache` or no
/// `max-age`.
fn cache_lifetime(headers: &HeaderMap) -> i64 {
    let mut max_age = 0;
    for value in headers.get_all(header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else {
            return 0;
        };
        for directive in value.split(',') {
            let directive = directive.trim().to_ascii_lowercase();
            if directive == "no-store" || directive == "no-cache" {
                return 0;
            }
            if let Some(secs) = directive.strip_prefix("max-age=") {
                max_age = secs.trim_matches('"').parse::<i64>().unwrap_or(0);
            }
        }
    }
    max_age.clamp(0, MAX_DOCUMENT_AGE_SECS)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with(cache_control: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_str(cache_control).unwrap(),
        );
        h
    }

    #[test]
    fn a_document_is_cached_by_its_max_age_for_at_most_an_hour() {
        assert_eq!(cache_lifetime(&HeaderMap::new()), 0);
        assert_eq!(cache_lifetime(&with("max-age=120")), 120);
        assert_eq!(cache_lifetime(&with("public, max-age=86400")), 3600);
        assert_eq!(cache_lifetime(&with("max-age=600, no-cache")), 0);
        assert_eq!(cache_lifetime(&with("no-store")), 0);
        assert_eq!(cache_lifetime(&with("max-age=-5")), 0);
        assert_eq!(cache_lifetime(&with("max-age=abc")), 0);
    }
}
