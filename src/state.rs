//! The one `Clone` application state: cheap handles shared by every request. Cloning it (every
//! layer and extractor does, per request) is one reference-count increment on one `Arc`.

use std::sync::Arc;

use axum::http::HeaderValue;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::auth::{Auth, Throttle};
use crate::config::{SecretKey, Settings};
use crate::domain::clock::Clock;
use crate::domain::random::Random;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] shares; reached through `Deref` (`state.store`, `state.settings`, …).
pub struct Shared {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub key: Arc<SecretKey>,
    pub throttle: Arc<Throttle>,
    /// Set once the schema is known to be current; `/health/ready` answers 200 only after that.
    pub migrated: Arc<AtomicBool>,
    /// The playground's demo client secret, in memory only (`demo` keeps it, `web::playground`
    /// uses it).
    pub playground: Arc<PlaygroundClient>,
    /// The OAuth1 discovery `Link` every page and REST response carries, built once.
    pub discovery_link: Option<HeaderValue>,
    /// The resource identifiers of the REST API and of the MCP endpoint
    /// (`domain::resource::rest_api`, `mcp`), built once: every bearer check compares with them.
    pub rest_api: String,
    pub mcp_resource: String,
    /// The current ID token signer, read from the database at most once a minute
    /// (`oidc::keys::SignerCache`).
    pub signer: Arc<crate::oidc::keys::SignerCache>,
    /// Cancelled when the server begins its graceful shutdown (`server::run`), so responses that
    /// would stay open (the MCP endpoint's event streams) end at once instead of holding the
    /// drain until its deadline.
    pub shutdown: tokio_util::sync::CancellationToken,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(
        store: Store,
        settings: Settings,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        key: SecretKey,
    ) -> Self {
        let link = format!(
            "<{}/wp-json/>; rel=\"https://api.w.org/\"",
            settings.base_url()
        );
        Self(Arc::new(Shared {
            discovery_link: HeaderValue::from_str(&link).ok(),
            rest_api: crate::domain::resource::rest_api(settings.base_url()),
            mcp_resource: crate::domain::resource::mcp(settings.base_url()),
            store,
            settings: Arc::new(settings),
            clock,
            random,
            key: Arc::new(key),
            throttle: Arc::new(Throttle::default()),
            migrated: Arc::new(AtomicBool::new(true)),
            playground: Arc::default(),
            signer: Arc::default(),
            shutdown: tokio_util::sync::CancellationToken::new(),
        }))
    }

    pub fn is_migrated(&self) -> bool {
        self.migrated.load(Ordering::Relaxed)
    }

    /// The injected clock's time, in Unix seconds.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// What the credential services (`auth`) use, lent for one call.
    pub fn auth(&self) -> Auth<'_> {
        Auth {
            store: &self.store,
            limits: &self.settings.limits,
            clock: &*self.clock,
            random: &*self.random,
            key: &self.key,
            throttle: &self.throttle,
        }
    }
}

/// The demo client's secret, held in memory for the playground. Never printed: `Debug` hides it.
///
/// It lives with the state that holds it: `demo` fills it and the playground and the app pages read
/// or drop it, all through [`AppState`], so none of them imports another for it.
#[derive(Default)]
pub struct PlaygroundClient {
    slot: std::sync::Mutex<Option<(i64, String)>>,
}

impl std::fmt::Debug for PlaygroundClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlaygroundClient(..)")
    }
}

impl PlaygroundClient {
    pub fn remember(&self, app_id: i64, secret: String) {
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some((app_id, secret));
        }
    }

    pub fn secret_for(&self, app_id: i64) -> Option<String> {
        let slot = self.slot.lock().ok()?;
        slot.as_ref()
            .filter(|(id, _)| *id == app_id)
            .map(|(_, s)| s.clone())
    }

    /// Drops the kept secret when it belongs to `app_id` (its secret was reset or it was deleted).
    pub fn forget(&self, app_id: i64) {
        if let Ok(mut slot) = self.slot.lock()
            && slot.as_ref().is_some_and(|(id, _)| *id == app_id)
        {
            *slot = None;
        }
    }
}
