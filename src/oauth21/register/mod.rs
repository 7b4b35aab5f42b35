//! Dynamic client registration (oauth21.md §5): `POST /oauth2-1/register` (RFC 7591) and the
//! client configuration endpoint at each client's `registration_client_uri`,
//! `/oauth2-1/register/{client_id}` (RFC 7592: GET, PUT, DELETE with the registration access
//! token as a Bearer). Client ID Metadata Documents, the other way a client comes to be known, are
//! in `document`; the metadata rules in `domain::client_metadata`.
//!
//! A registered client has no owner: nobody's applications page lists it, and the consent page
//! marks it "Latchkey has not verified this app" until, like every self-registered client, it is
//! judged by the user who approves it. Clients no user connects within
//! `oauth21.unclaimed_client_ttl_secs` are deleted by the housekeeping job (`store::registrations`).
//!
//! Modes (`oauth21.registration`): `open`; `token`, where the request carries an initial access
//! token from `latchkey app registration-token` as a Bearer (each allows one registration); `off`,
//! where registration answers 404 (the configuration endpoint still serves existing clients, so
//! they can delete themselves). Every peer may register `oauth21.registrations_per_ip` clients per
//! `limits.window_secs` (429 with `Retry-After` after that).
//!
//! Deliberate choices: the registration access token does not rotate, and only its digest is kept,
//! so the RFC 7592 read and update responses do not repeat it; `logo_uri` is stored but not fetched
//! (the consent page shows the initials of an unverified app, whose logo would lend it credibility
//! it has not earned); a client cannot switch between public and confidential with PUT (register a
//! new one).

mod document;
mod error;

pub use document::{ResolveError, ResolvedClient, resolve_client};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use self::error::RegisterError;
use crate::config::Registration;
use crate::domain::client_metadata::{self, ClientMetadata, RegistrationKind, Source};
use crate::domain::secret;
use crate::http::headers::no_store;
use crate::http::peer::Peer;
use crate::state::AppState;
use crate::store::{App, AuditEvent, ClientApp, ClientRegistration, NewRegistration};

/// The client information response (RFC 7591 §3.2.1, RFC 7592 §3): the metadata as stored.
#[derive(Serialize)]
struct ClientInformation<'a> {
    client_id: String,
    client_id_issued_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<&'a str>,
    /// 0: the secret does not expire (RFC 7591 §3.2.1: required when a secret is issued).
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret_expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    registration_access_token: Option<&'a str>,
    registration_client_uri: String,
    redirect_uris: Vec<String>,
    client_name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    client_uri: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    logo_uri: &'a str,
    grant_types: Vec<&'static str>,
    response_types: Vec<String>,
    token_endpoint_auth_method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    contacts: Vec<String>,
}

fn information<'a>(
    state: &AppState,
    app: &'a App,
    registration: &'a ClientRegistration,
    client_secret: Option<&'a str>,
    access_token: Option<&'a str>,
) -> ClientInformation<'a> {
    ClientInformation {
        client_id: app.id.to_string(),
        client_id_issued_at: app.created_at,
        client_secret,
        client_secret_expires_at: client_secret.map(|_| 0),
        registration_access_token: access_token,
        registration_client_uri: format!(
            "{}/oauth2-1/register/{}",
            state.settings.issuer(),
            app.id
        ),
        redirect_uris: app.redirect_uri_list(),
        client_name: &app.name,
        client_uri: &app.website,
        logo_uri: &app.icon_url,
        grant_types: app.grant_type_list().iter().map(|g| g.as_str()).collect(),
        response_types: registration.response_type_list(),
        token_endpoint_auth_method: app.token_endpoint_auth_method.as_str(),
        scope: registration.scope.as_deref(),
        contacts: registration.contact_list(),
    }
}

fn answer(status: StatusCode, body: &ClientInformation<'_>) -> Response {
    let mut response = (status, Json(body)).into_response();
    no_store(response.headers_mut());
    response
}

/// The name a client is shown under when it gave none: the host of its first redirect URI (or
/// its private-use scheme), which the consent page shows in full anyway.
fn default_name(metadata: &ClientMetadata) -> String {
    let first = metadata.redirect_uris.first().map_or("", String::as_str);
    let host = client_metadata::redirect_host(first);
    let name: String = host.chars().take(100).collect();
    if name.is_empty() {
        "Unnamed application".to_owned()
    } else {
        name
    }
}

/// The `apps` columns of checked metadata.
fn client_app<'a>(
    metadata: &'a ClientMetadata,
    name: &'a str,
    grant_types: &'a str,
    registration: RegistrationKind,
) -> ClientApp<'a> {
    ClientApp {
        name,
        website: metadata.client_uri.as_deref().unwrap_or(""),
        icon_url: metadata.logo_uri.as_deref().unwrap_or(""),
        app_type: metadata.app_type(),
        redirect_uris: &metadata.redirect_uris,
        grant_types,
        token_endpoint_auth_method: metadata.token_endpoint_auth_method,
        registration,
    }
}

/// The Bearer token of the request, if it sent one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The JSON body of a registration or update request.
fn json_body(body: &[u8]) -> Result<Value, RegisterError> {
    serde_json::from_slice(body).map_err(|_| {
        RegisterError::metadata(
            "the request body must be a JSON object of client metadata \
             (Content-Type: application/json, RFC 7591 §3.1)",
        )
    })
}

/// `POST /oauth2-1/register`.
pub(crate) async fn register(
    State(state): State<AppState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match register_client(&state, peer, &headers, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn register_client(
    state: &AppState,
    peer: std::net::IpAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, RegisterError> {
    let settings = &state.settings.oauth21;
    if settings.registration == Registration::Off {
        return Err(RegisterError::off());
    }
    let now = state.now();
    let auth = state.auth();
    let budgets = auth.budgets();
    if let Some(retry_after) = budgets.registration_over(peer, settings.registrations_per_ip, now) {
        return Err(RegisterError::throttled(retry_after));
    }
    let initial_token = match settings.registration {
        Registration::Token => {
            let token = bearer(headers)
                .filter(|t| secret::well_formed(secret::Kind::InitialAccess, t))
                .ok_or_else(|| {
                    RegisterError::invalid_token(
                        "Registration on this server needs an initial access token (from \
                         `latchkey app registration-token`) as a Bearer token.",
                    )
                })?;
            Some(secret::digest(token))
        }
        Registration::Open | Registration::Off => None,
    };
    let metadata = client_metadata::check(
        &json_body(body)?,
        Source::Registration,
        state.settings.base_url(),
    )?;
    let client_secret =
        (!metadata.is_public()).then(|| secret::mint(secret::Kind::ClientSecret, &*state.random));
    // A public client has no secret: its stored digest is of one nobody was ever told.
    let secret_digest = match &client_secret {
        Some(s) => secret::digest(s),
        None => secret::digest(&secret::mint(secret::Kind::ClientSecret, &*state.random)),
    };
    let access_token = secret::mint(secret::Kind::RegistrationAccess, &*state.random);
    let name = match &metadata.client_name {
        Some(n) => n.clone(),
        None => default_name(&metadata),
    };
    let grant_types = metadata.grant_types_stored();
    let mut tx = state.store.begin();
    if let Some(digest) = &initial_token
        && !tx.use_registration_token(digest, now).await?
    {
        return Err(RegisterError::invalid_token(
            "The initial access token is unknown, expired or already used.",
        ));
    }
    let registration = NewRegistration {
        access_token_digest: Some(&secret::digest(&access_token)),
        scope: metadata.scope.as_deref(),
        contacts: &metadata.contacts,
        response_types: &metadata.response_types,
        metadata_url: None,
        metadata_expires_at: None,
    };
    let app = tx
        .create_client(
            &client_app(&metadata, &name, &grant_types, RegistrationKind::Dynamic),
            &secret_digest,
            &registration,
            now,
        )
        .await?
        .ok_or_else(|| {
            RegisterError::from(crate::store::StoreError::Conflict("client registration"))
        })?;
    tx.audit(
        &AuditEvent {
            kind: "client_registered",
            app_id: Some(app.id),
            peer: Some(peer.to_string()),
            detail: app.token_endpoint_auth_method.as_str(),
            ..Default::default()
        },
        now,
    )
    .await?;
    tx.commit().await?;
    budgets.registration_spend(peer, now);
    let stored = ClientRegistration {
        app_id: app.id,
        access_token_digest: None,
        scope: metadata.scope.clone(),
        contacts: metadata.contacts.join("\n"),
        response_types: metadata.response_types.join(" "),
        metadata_url: None,
        metadata_expires_at: None,
    };
    Ok(answer(
        StatusCode::CREATED,
        &information(
            state,
            &app,
            &stored,
            client_secret.as_deref(),
            Some(&access_token),
        ),
    ))
}

/// The client the registration access token of the request manages (RFC 7592 §2): a wrong token,
/// an unknown client and a client that did not register itself all answer the same 401.
async fn managed(
    state: &AppState,
    client_id: &str,
    headers: &HeaderMap,
) -> Result<(App, ClientRegistration), RegisterError> {
    let refused = || {
        RegisterError::invalid_token(
            "The registration access token is missing, invalid, or not this client's.",
        )
    };
    let token = bearer(headers)
        .filter(|t| secret::well_formed(secret::Kind::RegistrationAccess, t))
        .ok_or_else(refused)?;
    let id = client_id
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(refused)?;
    let Some(registration) = state.store.client_registration(id).await? else {
        return Err(refused());
    };
    let matches = registration
        .access_token_digest
        .as_deref()
        .is_some_and(|d| secret::digest_eq(d, &secret::digest(token)));
    if !matches {
        return Err(refused());
    }
    let app = state.store.app_by_id(id).await?.ok_or_else(refused)?;
    Ok((app, registration))
}

/// `GET /oauth2-1/register/{client_id}` (RFC 7592 §2.1).
pub(crate) async fn read(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match managed(&state, &client_id, &headers).await {
        Ok((app, registration)) => answer(
            StatusCode::OK,
            &information(&state, &app, &registration, None, None),
        ),
        Err(e) => e.into_response(),
    }
}

/// `PUT /oauth2-1/register/{client_id}` (RFC 7592 §2.2): the body replaces the metadata.
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match update_client(&state, &client_id, &headers, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn update_client(
    state: &AppState,
    client_id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, RegisterError> {
    let (app, _) = managed(state, client_id, headers).await?;
    let body = json_body(body)?;
    // RFC 7592 §2.2: the request names the client it updates.
    if body.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return Err(RegisterError::metadata(format!(
            "the request must carry this client's client_id ({client_id:?})"
        )));
    }
    if let Some(sent) = body.get("client_secret").filter(|v| !v.is_null()) {
        let ok = sent
            .as_str()
            .is_some_and(|s| secret::digest_eq(&app.secret_digest, &secret::digest(s)));
        if !ok {
            return Err(RegisterError::metadata(
                "client_secret does not match this client's secret; leave it out",
            ));
        }
    }
    let metadata = client_metadata::check(&body, Source::Registration, state.settings.base_url())?;
    if metadata.is_public() != app.is_public() {
        return Err(RegisterError::metadata(
            "a client cannot switch between public (\"none\") and confidential: register a new \
             client instead",
        ));
    }
    let name = match &metadata.client_name {
        Some(n) => n.clone(),
        None => default_name(&metadata),
    };
    let grant_types = metadata.grant_types_stored();
    let registration = NewRegistration {
        access_token_digest: None,
        scope: metadata.scope.as_deref(),
        contacts: &metadata.contacts,
        response_types: &metadata.response_types,
        metadata_url: None,
        metadata_expires_at: None,
    };
    let now = state.now();
    let mut tx = state.store.begin();
    let Some(updated) = tx
        .update_client(
            app.id,
            &client_app(&metadata, &name, &grant_types, app.registration),
            &registration,
        )
        .await?
    else {
        return Err(RegisterError::invalid_token(
            "The registration access token is missing, invalid, or not this client's.",
        ));
    };
    tx.audit(
        &AuditEvent {
            kind: "client_updated",
            app_id: Some(app.id),
            detail: "rfc7592",
            ..Default::default()
        },
        now,
    )
    .await?;
    tx.commit().await?;
    let stored = state
        .store
        .client_registration(app.id)
        .await?
        .ok_or_else(|| RegisterError::from(crate::store::StoreError::NotFound))?;
    Ok(answer(
        StatusCode::OK,
        &information(state, &updated, &stored, None, None),
    ))
}

/// `DELETE /oauth2-1/register/{client_id}` (RFC 7592 §2.3): the client, its grants and tokens go.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let deleted: Result<(), RegisterError> = async {
        let (app, _) = managed(&state, &client_id, &headers).await?;
        let now = state.now();
        let mut tx = state.store.begin();
        tx.delete_app(app.id).await?;
        tx.audit(
            &AuditEvent {
                kind: "client_deleted",
                app_id: None,
                detail: "rfc7592",
                ..Default::default()
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    match deleted {
        Ok(()) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            no_store(response.headers_mut());
            response
        }
        Err(e) => e.into_response(),
    }
}
