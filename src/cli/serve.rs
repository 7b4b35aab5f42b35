//! `latchkey serve`: tracing (and the optional OTLP export), the store, the listener, the demo seed,
//! and the server until SIGINT/SIGTERM. An unreachable database does not stop the process (fault
//! F01): migrations are retried beside the server.

use std::sync::Arc;

use anyhow::Context;

use super::database::now;
use crate::config::Settings;
use crate::demo;
use crate::domain::clock::SystemClock;
use crate::domain::random::OsRandom;
use crate::state::AppState;
use crate::store::Store;

pub async fn run(mut settings: Settings, demo: bool) -> anyhow::Result<()> {
    // The demo is for trying things out: let visitors create their own accounts.
    settings.signup |= demo;
    let telemetry = init_tracing(&settings)?;
    if settings.icon_fetch_allow_loopback {
        tracing::warn!(
            "icon_fetch_allow_loopback is ON: app icons may be fetched from loopback addresses over plain http. This is for tests only; turn it off in production"
        );
    }
    if settings.oauth21.metadata_document_allow_loopback {
        tracing::warn!(
            "oauth21.metadata_document_allow_loopback is ON: Client ID Metadata Documents may be fetched from loopback addresses, over plain http too. This is for tests only; turn it off in production"
        );
    }
    let key = settings.secret_key(&OsRandom)?;
    let store = Store::connect(&settings.database)
        .await
        .context("opening the database")?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    let state = AppState::new(
        store,
        settings,
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        key,
    );
    // Fault F01: an unreachable database does not stop the process. It serves /health/live (and
    // 503 elsewhere) while migrations are retried with capped backoff, and gives up after 5 minutes.
    if let Err(e) = state.store.migrate().await {
        if !matches!(e, crate::store::StoreError::Unavailable(_)) {
            return Err(e).context("migrating the database");
        }
        tracing::warn!(error = %e, "database unavailable at start; retrying");
        state
            .migrated
            .store(false, std::sync::atomic::Ordering::Relaxed);
    } else {
        crate::keycheck::verify(&state.store, &state.key.0, now()).await?;
        ensure_signing_key(&state).await;
        if demo {
            let seeded = demo::seed(&state).await?;
            eprintln!("{seeded}");
        }
    }
    if state.settings.public_url_derived {
        let wildcard = state.settings.listen.ip().is_unspecified();
        tracing::warn!(
            public_url = %state.settings.public_url,
            "LATCHKEY_PUBLIC_URL is not set: the public URL was derived from the listen address. \
             Redirects, cookies and OAuth1 signatures use it{}; set public_url to the address \
             browsers and clients use",
            if wildcard { ", and it names no reachable host" } else { "" }
        );
    }
    tracing::info!(
        listen = %state.settings.listen,
        public_url = %state.settings.public_url,
        backend = state.store.backend(),
        "latchkey serving"
    );
    // Polled beside the server rather than spawned: sqlx's migrator future is not `Send`-general.
    let retry = async {
        if !state.is_migrated() {
            retry_migrations(&state).await;
        }
    };
    let served = crate::server::run(listener, state.clone(), crate::server::shutdown_signal());
    let (served, ()) = tokio::join!(served, retry);
    if let Some(provider) = telemetry.provider {
        // Flushes the last batch of spans; the exporter's HTTP client blocks.
        let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(e)) = flushed {
            tracing::warn!(error = %e, "OpenTelemetry export did not shut down cleanly");
        }
    }
    served?;
    Ok(())
}

/// Makes the ID token signing key on first start (oauth21.md §6), so the first JWKS or ID token does
/// not wait for it. A failure is logged, not fatal: the key is made on first need too.
async fn ensure_signing_key(state: &AppState) {
    if let Err(e) =
        crate::oidc::keys::ensure(&state.store, &state.key.0, &state.random, now()).await
    {
        tracing::warn!(error = %e, "could not make the ID token signing key at start; retried on first use");
    }
}

async fn retry_migrations(state: &AppState) {
    let started = std::time::Instant::now();
    let mut delay = std::time::Duration::from_millis(500);
    loop {
        tokio::time::sleep(delay).await;
        match state.store.migrate().await {
            Ok(()) => {
                state
                    .migrated
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                tracing::info!("database reachable; migrations applied");
                if let Err(e) = crate::keycheck::verify(&state.store, &state.key.0, now()).await {
                    tracing::error!(error = %e, "exiting");
                    eprintln!("error: {e}");
                    std::process::exit(1);
                }
                return;
            }
            Err(e) if started.elapsed() < std::time::Duration::from_secs(300) => {
                tracing::warn!(error = %e, "database still unavailable");
                delay = (delay * 2).min(std::time::Duration::from_secs(5));
            }
            Err(e) => {
                tracing::error!(error = %e, "database unavailable for 5 minutes; exiting");
                std::process::exit(1);
            }
        }
    }
}

/// What logging leaves running: the log writer's thread (flushed when this drops) and, with
/// `otel.endpoint` set, the trace provider to shut down.
struct Tracing {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
    _log_writer: crate::telemetry::FlushOnDrop,
}

/// Logs to stderr (JSON or text) at `log.level`; with `otel.endpoint` set, also exports INFO spans
/// (each request's, with its request id and route) over OTLP.
/// Lines go through `telemetry::BatchedStderr`: INFO lines (one per request) are written in
/// batches, WARN and ERROR lines at once.
fn init_tracing(settings: &Settings) -> anyhow::Result<Tracing> {
    use std::io::IsTerminal;
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&settings.log_level));
    let (provider, otel) = match &settings.otel_endpoint {
        Some(endpoint) => {
            let (provider, tracer) =
                crate::telemetry::tracer(endpoint, &settings.otel_service_name)?;
            let layer = tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
            (Some(provider), Some(layer))
        }
        None => (None, None),
    };
    let (writer, guard) = crate::telemetry::BatchedStderr::start();
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    let registry = tracing_subscriber::registry().with(otel);
    if settings.log_json {
        registry.with(fmt.json().with_filter(filter)).init();
    } else {
        registry.with(fmt.with_filter(filter)).init();
    }
    Ok(Tracing {
        provider,
        _log_writer: guard,
    })
}
