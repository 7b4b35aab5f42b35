//! Seeds a database for the benchmark (performance.md, "The benchmark") through the storage layer:
//! a user, a site, an app, `--tokens` access tokens and `--codes` authorization codes, in batched
//! transactions with a progress bar. Writes into `--out`: `meta.json` (client credentials, the
//! login), `tokens.txt` (at most `--sample` live tokens spread evenly over the seeded set),
//! `malformed.txt` (tokens of the right shape with a broken checksum), `unknown.txt` (well-formed
//! tokens that were never issued), `codes.txt` and `refresh.txt` (`--refresh` live refresh tokens
//! of the 2.1 server, each under a grant of its own).
//!
//! The database comes from the usual configuration (`LATCHKEY_DATABASE_URL`, …) and should be
//! fresh: `bench/run` creates one per run.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use latchkey::admin::{self, AppInput, CreatedApp, UserInput};
use latchkey::config::Config;
use latchkey::domain::app::AppType;
use latchkey::domain::clock::{Clock, SystemClock};
use latchkey::domain::crypto::{self, ACCESS_SECRET_CONTEXT, REQUEST_SECRET_CONTEXT};
use latchkey::domain::random::OsRandom;
use latchkey::domain::random::alphanumeric;
use latchkey::domain::scope::Scope;
use latchkey::domain::secret::{self, Kind};
use latchkey::store::{
    App, Approval, NewAccessToken, NewCode, NewRequestToken, NewToken, OneTime, Store, User,
};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 1_000)]
    tokens: usize,
    #[arg(long, default_value_t = 0)]
    codes: usize,
    /// Refresh tokens of the 2.1 server (`refresh` scenario), each used once.
    #[arg(long, default_value_t = 0)]
    refresh: usize,
    /// How many of the seeded tokens the load generator draws from.
    #[arg(long, default_value_t = 100_000)]
    sample: usize,
    #[arg(long)]
    out: PathBuf,
}

const PASSWORD: &str = "bench-password-1234";
const REDIRECT: &str = "https://bench.example/callback";
/// Rows per transaction.
const BATCH: usize = 10_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings = Config::load(None)?.validate()?;
    let store = Store::connect(&settings.database).await?;
    store.migrate().await?;
    let now = SystemClock.now();
    std::fs::create_dir_all(&args.out)?;

    let user = match admin::find_user(&store, "bench").await {
        Ok(user) => user,
        Err(_) => {
            let input = UserInput {
                username: "bench",
                email: "bench@example.com",
                password: PASSWORD,
                display_name: Some("Bench"),
            };
            let mut tx = store.begin();
            let user = admin::create_user(&mut tx, &OsRandom, &input, now)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            tx.commit().await?;
            user
        }
    };
    let key = settings.secret_key(&OsRandom)?;
    let input = AppInput {
        name: "Bench",
        description: "Benchmark client",
        website: "https://bench.example",
        icon_url: "",
        app_type: AppType::Web,
        redirect_uris: &[REDIRECT.to_owned()],
        js_origins: &[],
        allow_implicit: true,
        oauth1_callback: Some("oob"),
    };
    let mut tx = store.begin();
    let created = admin::create_app(
        &mut tx,
        &OsRandom,
        &key.0,
        &user,
        &input,
        settings.base_url(),
        now,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let app = created.app.clone();

    // One grant, then every token under it.
    let first = secret::mint(Kind::AccessToken, &OsRandom);
    let grant = tx
        .grant_token(
            &NewToken {
                digest: &secret::digest(&first),
                app_id: app.id,
                user_id: user.id,
                site_id: None,
                scope: "global",
                origin: "code",
                expires_at: None,
            },
            now,
        )
        .await?;
    tx.commit().await?;
    let stride = (args.tokens / args.sample.max(1)).max(1);
    let mut sample = std::io::BufWriter::new(std::fs::File::create(args.out.join("tokens.txt"))?);
    let mut progress = Progress::new("tokens", args.tokens);
    let mut done = 1;
    writeln!(sample, "{first}")?;
    progress.show(done);
    let rng = Arc::new(OsRandom);
    while done < args.tokens {
        let n = BATCH.min(args.tokens - done);
        let mut digests = Vec::with_capacity(n);
        for i in 0..n {
            let token = secret::mint(Kind::AccessToken, &*rng);
            if (done + i) % stride == 0 {
                writeln!(sample, "{token}")?;
            }
            digests.push(secret::digest(&token));
        }
        store.seed_tokens(&grant, &digests, now).await?;
        done += n;
        progress.show(done);
    }
    sample.flush()?;
    progress.finish();

    let mut malformed = std::fs::File::create(args.out.join("malformed.txt"))?;
    let mut unknown = std::fs::File::create(args.out.join("unknown.txt"))?;
    for _ in 0..1_000 {
        let token = secret::mint(Kind::AccessToken, &OsRandom);
        writeln!(unknown, "{token}")?;
        // Same shape, last checksum digit changed: what a scanner guessing tokens sends.
        let (head, last) = token.split_at(token.len() - 1);
        let other = if last == "0" { "1" } else { "0" };
        writeln!(malformed, "{head}{other}")?;
    }

    // Codes live long enough for any run; a refresh token's idle expiry likewise.
    seed_one_time(
        &store,
        &args,
        OneTime::Codes,
        &app,
        &user,
        now + 3 * 3600,
        now,
    )
    .await?;
    seed_one_time(
        &store,
        &args,
        OneTime::Refresh,
        &app,
        &user,
        now + 24 * 3600,
        now,
    )
    .await?;

    let oauth1 = seed_oauth1(&store, &key.0, &user, &app, &created, now).await?;

    let meta = serde_json::json!({
        "oauth1": oauth1,
        "client_id": app.id.to_string(),
        "client_secret": created.client_secret,
        "redirect_uri": REDIRECT,
        "username": "bench",
        "password": PASSWORD,
        "user_id": user.id,
        "tokens": args.tokens,
        "codes": args.codes,
        "refresh": args.refresh,
    });
    std::fs::write(args.out.join("meta.json"), meta.to_string()).context("writing meta.json")?;
    store.close().await;
    Ok(())
}

/// Mints `--codes` authorization codes or `--refresh` refresh tokens, each under a grant of the
/// bench app, writes them one per line to `codes.txt` / `refresh.txt` and stores their digests
/// in batches.
async fn seed_one_time(
    store: &Store,
    args: &Args,
    what: OneTime,
    app: &App,
    user: &User,
    expires_at: i64,
    now: i64,
) -> anyhow::Result<()> {
    let (name, count, kind) = match what {
        OneTime::Codes => ("codes", args.codes, Kind::AuthCode),
        OneTime::Refresh => ("refresh", args.refresh, Kind::RefreshToken),
    };
    let file = std::fs::File::create(args.out.join(format!("{name}.txt")))?;
    let mut out = std::io::BufWriter::new(file);
    let mut progress = Progress::new(name, count);
    let mut done = 0;
    while done < count {
        let n = BATCH.min(count - done);
        let mut digests = Vec::with_capacity(n);
        for _ in 0..n {
            let secret = secret::mint(kind, &OsRandom);
            writeln!(out, "{secret}")?;
            digests.push(secret::digest(&secret));
        }
        let template = NewCode {
            digest: &[],
            app_id: app.id,
            user_id: user.id,
            site_id: None,
            scope: "global",
            redirect_uri: REDIRECT,
            code_challenge: None,
            // The store does not cap what it is given.
            expires_at,
        };
        store
            .seed_under_grants(what, &template, &digests, now)
            .await?;
        done += n;
        progress.show(done);
    }
    out.flush()?;
    progress.finish();
    Ok(())
}

/// An OAuth1 access token of the bench user for the bench app on the user's site, stored as
/// `/oauth1/access` stores one (request token, approval, exchange), with what a consumer signs
/// with: `{consumer_key, consumer_secret, token, token_secret}`.
async fn seed_oauth1(
    store: &Store,
    key: &[u8; 32],
    user: &User,
    app: &App,
    created: &CreatedApp,
    now: i64,
) -> anyhow::Result<serde_json::Value> {
    let site = match admin::find_site(store, "https://bench.example/blog").await {
        Ok(site) => site,
        Err(_) => {
            let mut tx = store.begin();
            let site = admin::create_site(
                &mut tx,
                user,
                "https://bench.example/blog",
                "Bench",
                false,
                now,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            tx.commit().await?;
            site
        }
    };
    let (consumer_key, consumer_secret) = app
        .oauth1_key
        .clone()
        .zip(created.consumer_secret.clone())
        .context("the bench app has no OAuth1 consumer")?;
    let sealed =
        |context: &str, secret: &str| crypto::seal(key, context, secret.as_bytes(), &OsRandom);
    let request = alphanumeric(&OsRandom, 24);
    let mut tx = store.begin();
    tx.create_request_token(
        &NewRequestToken {
            digest: &secret::digest(&request),
            secret_enc: &sealed(REQUEST_SECRET_CONTEXT, &alphanumeric(&OsRandom, 48)),
            app_id: app.id,
            callback: "oob",
            expires_at: now + 600,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    let pending = store
        .request_token(&secret::digest(&request))
        .await?
        .context("the request token just stored")?;
    let verifier = alphanumeric(&OsRandom, 24);
    let mut tx = store.begin();
    tx.approve_request_token(
        pending.id,
        &Approval {
            verifier_digest: &secret::digest(&verifier),
            verifier_enc: &sealed(REQUEST_SECRET_CONTEXT, &verifier),
            user_id: user.id,
            site_id: site.id,
            callback: "oob",
        },
        now,
    )
    .await?;
    let token = alphanumeric(&OsRandom, 24);
    let token_secret = alphanumeric(&OsRandom, 48);
    tx.exchange_request_token(
        pending.id,
        &NewAccessToken {
            digest: &secret::digest(&token),
            secret_enc: &sealed(ACCESS_SECRET_CONTEXT, &token_secret),
            scope: &Scope::full_blog().wire(),
        },
        now,
    )
    .await?
    .context("exchanging the approved request token")?;
    tx.commit().await?;
    Ok(serde_json::json!({
        "consumer_key": consumer_key,
        "consumer_secret": consumer_secret,
        "token": token,
        "token_secret": token_secret,
    }))
}

/// A one-line progress bar on stderr.
struct Progress {
    what: &'static str,
    total: usize,
    shown: usize,
    started: std::time::Instant,
}

impl Progress {
    fn new(what: &'static str, total: usize) -> Self {
        Self {
            what,
            total,
            shown: usize::MAX,
            started: std::time::Instant::now(),
        }
    }

    fn show(&mut self, done: usize) {
        let percent = (done * 100).checked_div(self.total).unwrap_or(100);
        if percent == self.shown {
            return;
        }
        self.shown = percent;
        let bar = "#".repeat(percent / 4) + &" ".repeat(25 - percent / 4);
        eprint!(
            "\r  seeding {:<6} [{bar}] {percent:>3}% {done}/{} ({:.1} s)",
            self.what,
            self.total,
            self.started.elapsed().as_secs_f64()
        );
    }

    fn finish(&self) {
        if self.total > 0 {
            eprintln!();
        }
    }
}
