//! The `latchkey` command line (product.md, "The binary"): every command that changes data prints
//! one JSON object on stdout and human messages on stderr, and exits non-zero on bad input.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::domain::app::AppType;

#[derive(Debug, Parser)]
#[command(
    name = "latchkey",
    version,
    about = "A standalone OAuth2 and OAuth 1.0a authorization server"
)]
pub struct Cli {
    /// Configuration file (default: config/latchkey.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server; migrations run on start.
    Serve {
        /// Seed a demo user, site and app (idempotent) and print how to try them.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Purge expired codes and tokens now (`serve` also does it every few minutes); prints
    /// {"codes":…, "tokens":…}.
    Gc,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage sites (blogs) and their members.
    #[command(subcommand)]
    Site(SiteCommand),
    /// Manage applications (OAuth2 clients and OAuth1 consumers).
    #[command(subcommand)]
    App(AppCommand),
    /// Revoke access (on every instance at once, like a disconnect).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Read the audit trail, newest first: logins and failures, 2-step changes, app changes,
    /// grants, disconnects and revocations.
    Audit(AuditArgs),
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this user's events (username or email).
    #[arg(long)]
    pub user: Option<String>,
    /// Only this app's events (client_id).
    #[arg(long)]
    pub app: Option<String>,
    /// Only events since then: Unix seconds, a date (2026-01-31), or an age (30m, 24h, 7d).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// At most this many events.
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    /// One JSON array instead of one line per event.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Revoke one OAuth2 access token by its value, or every grant of a user (for one app, or for
    /// all): their tokens, codes and OAuth1 tokens. Prints what was revoked.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The access token; `-` reads it from standard input (keeps it out of shell history).
    #[arg(long, required_unless_present = "user", conflicts_with = "user")]
    pub token: Option<String>,
    /// Username or email: revoke this user's grants.
    #[arg(long)]
    pub user: Option<String>,
    /// With --user: only the grants for this app (client_id).
    #[arg(long, requires = "user")]
    pub app: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; prints {"id":…, "username":…}.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        display_name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SiteCommand {
    /// Create a site owned (and administered) by a user; prints {"id":…, "url":…}.
    Create {
        /// Username or email of the owner.
        #[arg(long)]
        owner: String,
        #[arg(long)]
        url: String,
        #[arg(long)]
        name: String,
        /// The site is a Jetpack-connected self-hosted site.
        #[arg(long)]
        jetpack: bool,
    },
    /// Add a user to a site, or change their role.
    AddUser {
        /// Site id or URL.
        #[arg(long)]
        site: String,
        /// Username or email.
        #[arg(long)]
        user: String,
        /// administrator, editor, author or subscriber.
        #[arg(long)]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Register an app; prints {"client_id":…, "client_secret":…} (plus the OAuth1 consumer).
    Create(AppCreate),
    /// List every app (secrets are never shown again).
    List,
    /// Issue a new client secret; the old one stops working at once.
    ResetSecret { client_id: String },
    /// Issue a new OAuth1 consumer secret (the key and existing tokens stay).
    RegenerateConsumerSecret { client_id: String },
    /// Delete an app with its grants, codes and tokens.
    Delete { client_id: String },
}

#[derive(Debug, Args)]
pub struct AppCreate {
    /// Username or email of the owner.
    #[arg(long)]
    pub owner: String,
    #[arg(long)]
    pub name: String,
    /// A redirect URI (repeat for several); matched byte for byte.
    #[arg(long = "redirect-uri", required = true)]
    pub redirect_uris: Vec<String>,
    /// A JavaScript origin allowed to call the REST API with a bearer (repeatable).
    #[arg(long = "js-origin")]
    pub js_origins: Vec<String>,
    #[arg(long = "type", default_value = "web")]
    pub app_type: AppType,
    #[arg(long, default_value = "")]
    pub description: String,
    #[arg(long, default_value = "")]
    pub website: String,
    #[arg(long = "icon-url", default_value = "")]
    pub icon_url: String,
    /// Refuse the implicit flow (response_type=token) for this app.
    #[arg(long)]
    pub no_implicit: bool,
    /// Enable OAuth 1.0a with this callback URL, or `oob`.
    #[arg(long = "oauth1-callback")]
    pub oauth1_callback: Option<String>,
}
