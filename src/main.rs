//! `latchkey`: parse the command line, set up tracing, dispatch.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use latchkey::admin::{self, AdminError};
use latchkey::cli::{AppCommand, AuditArgs, Cli, Command, RevokeArgs, SiteCommand, TokenCommand};
use latchkey::config::{Config, Settings};
use latchkey::domain::clock::{Clock, SystemClock};
use latchkey::domain::random::OsRandom;
use latchkey::domain::secret::{self, Kind};
use latchkey::store::{Role, Store};
use latchkey::{AppState, demo};
use serde_json::json;

/// mimalloc rather than the system allocator: the request path allocates many small, short-lived
/// objects across threads, and each argon2id hash takes 19 MiB that glibc's arenas would keep
/// (the benchmark's end-of-run RSS), where mimalloc returns it to the system.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Config::load(cli.config.as_deref())?.validate()?;
    match cli.command {
        Command::Serve { demo } => serve(settings, demo).await,
        Command::Migrate => {
            let store = open_store(&settings).await?;
            store.migrate().await.context("migrating the database")?;
            eprintln!("migrations applied ({})", store.backend());
            Ok(())
        }
        Command::Gc => {
            let store = open_store(&settings).await?;
            let pause = latchkey::jobs::GC_PAUSE;
            let purged = store
                .collect_garbage(now(), latchkey::store::gc::BATCH, pause)
                .await
                .context("collecting garbage")?;
            let audit = match settings.audit_retention {
                Some(keep) => {
                    store
                        .expire_audit(now() - keep, latchkey::store::gc::BATCH, pause)
                        .await?
                }
                None => 0,
            };
            eprintln!(
                "purged {} codes, {} tokens and {audit} audit events",
                purged.codes, purged.tokens
            );
            let mut out = json!(purged);
            out["audit_events"] = json!(audit);
            print(out);
            Ok(())
        }
        Command::User(cmd) => {
            let store = open_store(&settings).await?;
            latchkey::cli::users::run(&store, &OsRandom, cmd, now())
                .await
                .map_err(explain)
        }
        Command::Site(cmd) => site(&open_store(&settings).await?, cmd).await,
        Command::App(cmd) => app(&settings, &open_store(&settings).await?, cmd).await,
        Command::Token(TokenCommand::Revoke(args)) => {
            revoke(&open_store(&settings).await?, args).await
        }
        Command::Audit(args) => audit(&open_store(&settings).await?, args).await,
    }
}

/// `latchkey audit`: the audit trail, newest first, as lines or (`--json`) one JSON array.
async fn audit(store: &Store, args: AuditArgs) -> anyhow::Result<()> {
    let mut filter = latchkey::store::AuditFilter {
        limit: args.limit.max(1),
        ..Default::default()
    };
    if let Some(login) = &args.user {
        filter.user_id = Some(admin::find_user(store, login).await.map_err(explain)?.id);
    }
    if let Some(id) = &args.app {
        // A number, not a lookup: the events of a deleted app are still worth reading.
        let id = id.trim().parse::<i64>();
        filter.app_id =
            Some(id.map_err(|_| anyhow::anyhow!("--app takes a client_id (a number)"))?);
    }
    if let Some(since) = &args.since {
        filter.since =
            Some(latchkey::audit::parse_since(since, now()).map_err(anyhow::Error::msg)?);
    }
    let events = store.audit_events(&filter).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&events)?);
    } else {
        for event in &events {
            println!("{}", latchkey::audit::line(event));
        }
        eprintln!("{} event(s)", events.len());
    }
    Ok(())
}

/// `latchkey token revoke`: one token by value, or a user's grants (for one app or all).
async fn revoke(store: &Store, args: RevokeArgs) -> anyhow::Result<()> {
    if let Some(token) = args.token {
        let token = if token == "-" {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim().to_owned()
        } else {
            token
        };
        if !secret::well_formed(Kind::AccessToken, &token) {
            anyhow::bail!("that is not a Latchkey access token (they start with lkat_)");
        }
        let grant = store
            .token_by_digest(&secret::digest(&token), now())
            .await?
            .context("no live access token has that value; nothing was revoked")?;
        let mut tx = store.begin();
        tx.revoke_token(grant.token_id).await?;
        cli_audit(
            &mut tx,
            "token_revoked",
            Some(grant.user_id),
            Some(grant.app_id),
        )
        .await?;
        tx.commit().await?;
        eprintln!(
            "revoked the token (user {}, app {})",
            grant.user_id, grant.app_id
        );
        print(json!({
            "token_id": grant.token_id,
            "user_id": grant.user_id.to_string(),
            "client_id": grant.app_id.to_string(),
            "revoked": true,
        }));
        return Ok(());
    }
    let login = args.user.context("give --token or --user")?;
    let user = admin::find_user(store, &login).await.map_err(explain)?;
    let apps: Vec<i64> = match args.app {
        Some(id) => vec![admin::find_app(store, &id).await.map_err(explain)?.id],
        None => {
            let mut apps: Vec<i64> = store
                .connections(user.id)
                .await?
                .iter()
                .map(|c| c.app_id)
                .collect();
            apps.sort_unstable();
            apps.dedup();
            apps
        }
    };
    let mut grants = 0;
    let mut tx = store.begin();
    for &app_id in &apps {
        grants += tx.revoke_app_for_user(user.id, app_id).await?;
        cli_audit(&mut tx, "app_disconnected", Some(user.id), Some(app_id)).await?;
    }
    tx.commit().await?;
    eprintln!(
        "revoked {grants} grant(s) of {} for {} app(s)",
        user.username,
        apps.len()
    );
    print(json!({
        "user_id": user.id.to_string(),
        "client_ids": apps.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "grants": grants,
    }));
    Ok(())
}

/// Opens the database and brings the schema up to date (administration commands need both).
async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = Store::connect(&settings.database)
        .await
        .context("opening the database")?;
    store.migrate().await.context("migrating the database")?;
    Ok(store)
}

/// Audits a change made from the command line (`detail` says so; there is no peer), in the
/// transaction that made it.
async fn cli_audit(
    tx: &mut latchkey::store::Tx<'_>,
    kind: &str,
    user_id: Option<i64>,
    app_id: Option<i64>,
) -> anyhow::Result<()> {
    let event = latchkey::store::AuditEvent {
        kind,
        user_id,
        app_id,
        peer: None,
        detail: "cli",
    };
    Ok(tx.audit(&event, now()).await?)
}

fn now() -> i64 {
    SystemClock.now()
}

fn print(value: serde_json::Value) {
    println!("{value}");
}

fn explain(err: AdminError) -> anyhow::Error {
    anyhow::anyhow!("{err}")
}

async fn site(store: &Store, cmd: SiteCommand) -> anyhow::Result<()> {
    match cmd {
        SiteCommand::Create {
            owner,
            url,
            name,
            jetpack,
        } => {
            let owner = admin::find_user(store, &owner).await.map_err(explain)?;
            let mut tx = store.begin();
            let site = admin::create_site(&mut tx, &owner, &url, &name, jetpack, now())
                .await
                .map_err(explain)?;
            tx.commit().await?;
            eprintln!("created site {} ({})", site.id, site.url);
            print(json!({"id": site.id, "url": site.url}));
        }
        SiteCommand::AddUser { site, user, role } => {
            let role: Role = role.into();
            let site = admin::find_site(store, &site).await.map_err(explain)?;
            let user = admin::find_user(store, &user).await.map_err(explain)?;
            let mut tx = store.begin();
            admin::add_member(&mut tx, &site, &user, role, now())
                .await
                .map_err(explain)?;
            tx.commit().await?;
            eprintln!("{} is now {} of site {}", user.username, role, site.id);
            print(json!({"site_id": site.id, "user_id": user.id, "role": role.as_str()}));
        }
    }
    Ok(())
}

async fn app(settings: &Settings, store: &Store, cmd: AppCommand) -> anyhow::Result<()> {
    match cmd {
        AppCommand::Create(args) => {
            let owner = admin::find_user(store, &args.owner)
                .await
                .map_err(explain)?;
            let key = settings.secret_key(&OsRandom)?;
            latchkey::keycheck::verify(store, &key.0, now()).await?;
            let input = admin::AppInput {
                name: &args.name,
                description: &args.description,
                website: &args.website,
                icon_url: &args.icon_url,
                app_type: args.app_type.into(),
                redirect_uris: &args.redirect_uris,
                js_origins: &args.js_origins,
                allow_implicit: !args.no_implicit,
                oauth1_callback: args.oauth1_callback.as_deref(),
            };
            let mut tx = store.begin();
            let created = admin::create_app(
                &mut tx,
                &OsRandom,
                &key.0,
                &owner,
                &input,
                &settings.base_url(),
                now(),
            )
            .await
            .map_err(explain)?;
            cli_audit(&mut tx, "app_created", Some(owner.id), Some(created.app.id)).await?;
            tx.commit().await?;
            eprintln!(
                "created app {} (client_id {}); the secret is shown only now",
                created.app.name, created.app.id
            );
            let mut out = json!({
                "client_id": created.app.id.to_string(),
                "client_secret": created.client_secret,
            });
            if let (Some(key), Some(secret)) = (&created.app.oauth1_key, &created.consumer_secret) {
                out["consumer_key"] = json!(key);
                out["consumer_secret"] = json!(secret);
            }
            print(out);
        }
        AppCommand::List(args) => {
            latchkey::cli::apps::list(store, &args)
                .await
                .map_err(explain)?;
        }
        AppCommand::Update(args) => {
            let key = settings.secret_key(&OsRandom)?;
            latchkey::cli::apps::update(store, &OsRandom, &key.0, &settings.base_url(), args)
                .await
                .map_err(explain)?;
        }
        AppCommand::ResetSecret { client_id } => {
            let app = admin::find_app(store, &client_id).await.map_err(explain)?;
            let mut tx = store.begin();
            let secret = admin::reset_secret(&mut tx, &OsRandom, &app)
                .await
                .map_err(explain)?;
            cli_audit(&mut tx, "client_secret_reset", None, Some(app.id)).await?;
            tx.commit().await?;
            eprintln!("new secret for app {}; the old one no longer works", app.id);
            print(json!({"client_id": app.id.to_string(), "client_secret": secret}));
        }
        AppCommand::RegenerateConsumerSecret { client_id } => {
            let app = admin::find_app(store, &client_id).await.map_err(explain)?;
            let key = settings.secret_key(&OsRandom)?;
            latchkey::keycheck::verify(store, &key.0, now()).await?;
            let mut tx = store.begin();
            let secret = admin::regenerate_consumer_secret(&mut tx, &OsRandom, &key.0, &app)
                .await
                .map_err(explain)?;
            cli_audit(&mut tx, "consumer_secret_reset", None, Some(app.id)).await?;
            tx.commit().await?;
            eprintln!("new consumer secret for app {}; the key stays", app.id);
            print(json!({
                "client_id": app.id.to_string(),
                "consumer_key": app.oauth1_key,
                "consumer_secret": secret,
            }));
        }
        AppCommand::Delete { client_id } => {
            let app = admin::find_app(store, &client_id).await.map_err(explain)?;
            let mut tx = store.begin();
            tx.delete_app(app.id).await?;
            cli_audit(&mut tx, "app_deleted", Some(app.owner_id), Some(app.id)).await?;
            tx.commit().await?;
            eprintln!("deleted app {} with its grants, codes and tokens", app.id);
            print(json!({"client_id": app.id.to_string(), "deleted": true}));
        }
    }
    Ok(())
}

async fn serve(mut settings: Settings, demo: bool) -> anyhow::Result<()> {
    // The demo is for trying things out: let visitors create their own accounts.
    settings.signup |= demo;
    let telemetry = init_tracing(&settings)?;
    if settings.icon_fetch_allow_loopback {
        tracing::warn!(
            "icon_fetch_allow_loopback is ON: app icons may be fetched from loopback addresses over plain http. This is for tests only; turn it off in production"
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
        if !matches!(e, latchkey::store::StoreError::Unavailable(_)) {
            return Err(e).context("migrating the database");
        }
        tracing::warn!(error = %e, "database unavailable at start; retrying");
        state
            .migrated
            .store(false, std::sync::atomic::Ordering::Relaxed);
    } else {
        latchkey::keycheck::verify(&state.store, &state.key.0, now()).await?;
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
    let served = latchkey::http::serve::run(
        listener,
        state.clone(),
        latchkey::http::serve::shutdown_signal(),
    );
    let (served, ()) = tokio::join!(served, retry);
    if let Some(provider) = telemetry {
        // Flushes the last batch of spans; the exporter's HTTP client blocks.
        let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(e)) = flushed {
            tracing::warn!(error = %e, "OpenTelemetry export did not shut down cleanly");
        }
    }
    served?;
    Ok(())
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
                if let Err(e) = latchkey::keycheck::verify(&state.store, &state.key.0, now()).await
                {
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

/// Logs to stderr (JSON or text) at `log.level`; with `otel.endpoint` set, also exports INFO spans
/// (each request's, with its request id and route) over OTLP. Returns the provider to shut down.
fn init_tracing(
    settings: &Settings,
) -> anyhow::Result<Option<opentelemetry_sdk::trace::SdkTracerProvider>> {
    use std::io::IsTerminal;
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&settings.log_level));
    let (provider, otel) = match &settings.otel_endpoint {
        Some(endpoint) => {
            let (provider, tracer) =
                latchkey::telemetry::tracer(endpoint, &settings.otel_service_name)?;
            let layer = tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
            (Some(provider), Some(layer))
        }
        None => (None, None),
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(otel);
    if settings.log_json {
        registry.with(fmt.json().with_filter(filter)).init();
    } else {
        registry.with(fmt.with_filter(filter)).init();
    }
    Ok(provider)
}
