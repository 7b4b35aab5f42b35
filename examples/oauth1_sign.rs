//! Pre-signs the benchmark's `oauth1-call` requests (performance.md): `GET /wp-json/wp/v2/users/me`
//! with HMAC-SHA1, each with a fresh nonce and the current timestamp, one `Authorization` header
//! per line. wrk cannot compute HMAC-SHA1, so the signing happens here, with the same signature
//! code the server verifies with, right before the scenario runs; wrk then sends each line once
//! (a replayed nonce would be refused).
//!
//! `cargo run --release --example oauth1_sign -- --meta DIR/meta.json --count N --out FILE`
//! (`LATCHKEY_PUBLIC_URL` as the server's).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use latchkey::domain::clock::{Clock, SystemClock};
use latchkey::domain::random::{OsRandom, alphanumeric};
use latchkey::oauth1::client::{Credentials, Freshness, authorization_header};
use url::Url;

#[derive(Parser)]
struct Args {
    /// The `meta.json` that `bench_seed` wrote (its `oauth1` object).
    #[arg(long)]
    meta: PathBuf,
    #[arg(long)]
    count: usize,
    #[arg(long)]
    out: PathBuf,
}

const PATH: &str = "/wp-json/wp/v2/users/me";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let public = std::env::var("LATCHKEY_PUBLIC_URL").context("set LATCHKEY_PUBLIC_URL")?;
    let public = Url::parse(&public).context("LATCHKEY_PUBLIC_URL")?;
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&args.meta)?)?;
    let field = |name: &str| {
        meta["oauth1"][name]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("meta.json has no oauth1.{name}"))
    };
    let (consumer_key, consumer_secret) = (field("consumer_key")?, field("consumer_secret")?);
    let (token, token_secret) = (field("token")?, field("token_secret")?);
    let creds = Credentials {
        consumer_key: &consumer_key,
        consumer_secret: &consumer_secret,
        token: Some((&token, &token_secret)),
    };
    let timestamp = SystemClock.now();
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args.out)?);
    for _ in 0..args.count {
        let nonce = alphanumeric(&OsRandom, 24);
        let fresh = Freshness {
            timestamp,
            nonce: &nonce,
        };
        let header = authorization_header(&public, "GET", PATH, &[], &creds, &[], &fresh);
        writeln!(out, "{header}")?;
    }
    out.flush()?;
    Ok(())
}
