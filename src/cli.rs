//! The `latchkey` command line (product.md, "The binary"): every command that changes data prints
//! one JSON object on stdout and human messages on stderr, and exits non-zero on bad input. List
//! commands print pretty-printed JSON, or a table with `--table`. This file holds the arguments;
//! each command's body lives in a child module (`serve`, `database` for `migrate` and `gc`,
//! [`users`], [`sites`], [`apps`], [`tokens`], [`audit`], [`keys`]), and `main` only parses and dispatches.

pub mod apps;
pub mod audit;
pub mod database;
pub mod keys;
pub mod output;
pub mod serve;
pub mod sites;
pub mod tokens;
pub mod users;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::domain::app::AppType;
use crate::store::Role;

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
    /// The OpenID Connect signing keys: rotate, list.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new current ID token signing key; the previous one stays in the JWKS for
    /// `oauth21.key_overlap_secs`. Prints {"kid":…, "retired_kid":…, "retired_published_until":…}.
    Rotate,
    /// List every signing key (never a private part): current, published (rotated out, still in
    /// the JWKS) or retired.
    List(ListArgs),
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
        /// 3 to 60 letters, digits, '_', '-' or '.'.
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// The name shown on pages (default: the username).
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List every user (never a password or secret).
    List(ListArgs),
    /// Show one user: account, 2-step state, sites, apps, connections and application passwords.
    Show {
        /// Username or email.
        user: String,
    },
    /// Delete a user and end everything they hold: grants, tokens, codes, OAuth1 tokens, sessions
    /// and application passwords, on every instance at once. A user who owns sites or apps is
    /// refused unless --force, which deletes those too (with other users' grants for them).
    Delete {
        /// Username or email.
        user: String,
        /// Also delete the sites and apps the user owns.
        #[arg(long)]
        force: bool,
    },
    /// Set a user's password (from standard input or a prompt, never the command line); ends
    /// their web sessions.
    SetPassword {
        /// Username or email.
        user: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Turn off a user's 2-step authentication (a locked-out user); their recovery codes go too.
    DisableTwoStep {
        /// Username or email.
        user: String,
    },
}

/// Where a new password comes from: `--password` (kept for scripts; visible in `ps` and shell
/// history), `--password-stdin`, or else a prompt on the terminal.
#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// The password (prefer --password-stdin: arguments show in `ps` and shell history).
    #[arg(long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

/// Options of the list commands.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print a table for people instead of JSON.
    #[arg(long)]
    pub table: bool,
}

/// `--role`: the four roles of a site member ("administrative access" is `administrator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Administrator,
    Editor,
    Author,
    Subscriber,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Administrator => Role::Administrator,
            RoleArg::Editor => Role::Editor,
            RoleArg::Author => Role::Author,
            RoleArg::Subscriber => Role::Subscriber,
        }
    }
}

/// `--type`: a confidential `web` app, or a `native` app (no secret; PKCE; loopback redirects).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AppTypeArg {
    Web,
    Native,
}

impl From<AppTypeArg> for AppType {
    fn from(app_type: AppTypeArg) -> Self {
        match app_type {
            AppTypeArg::Web => AppType::Web,
            AppTypeArg::Native => AppType::Native,
        }
    }
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
        /// The member's role; `administrator` is what grants need.
        #[arg(long, value_enum)]
        role: RoleArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Register an app; prints {"client_id":…, "client_secret":…} (plus the OAuth1 consumer).
    Create(AppCreate),
    /// List every app (secrets are never shown again).
    List(ListArgs),
    /// Change an app's registration: only the options given change. Prints the app (and the
    /// OAuth1 consumer secret, once, when the update creates a consumer).
    Update(AppUpdate),
    /// Issue a new client secret; the old one stops working at once.
    ResetSecret {
        /// The app's client_id.
        client_id: String,
    },
    /// Issue a new OAuth1 consumer secret (the key and existing tokens stay).
    RegenerateConsumerSecret {
        /// The app's client_id.
        client_id: String,
    },
    /// Delete an app with its grants, codes and tokens.
    Delete {
        /// The app's client_id.
        client_id: String,
    },
    /// Make an initial access token for `/oauth2-1/register` when `oauth21.registration` is
    /// "token" (RFC 7591 §3): good for one registration; prints {"registration_token":…,
    /// "expires_at":…}. Only its digest is stored.
    RegistrationToken {
        /// How long the token stays usable.
        #[arg(long, default_value_t = 7 * 24 * 3600)]
        ttl_secs: i64,
    },
}

#[derive(Debug, Args)]
pub struct AppUpdate {
    /// The app's client_id.
    pub client_id: String,
    #[arg(long)]
    pub name: Option<String>,
    /// Replace the redirect URIs (repeat for several); matched byte for byte.
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// Replace the JavaScript origins (repeatable).
    #[arg(long = "js-origin", conflicts_with = "no_js_origins")]
    pub js_origins: Vec<String>,
    /// Remove every JavaScript origin.
    #[arg(long)]
    pub no_js_origins: bool,
    #[arg(long = "type", value_enum)]
    pub app_type: Option<AppTypeArg>,
    #[arg(long)]
    pub description: Option<String>,
    #[arg(long)]
    pub website: Option<String>,
    #[arg(long = "icon-url")]
    pub icon_url: Option<String>,
    /// Allow (true) or refuse (false) the implicit flow.
    #[arg(long, value_name = "BOOL")]
    pub implicit: Option<bool>,
    /// Set the OAuth 1.0a callback URL (or `oob`); creates a consumer if the app has none.
    #[arg(long = "oauth1-callback", conflicts_with = "no_oauth1")]
    pub oauth1_callback: Option<String>,
    /// Remove the OAuth1 consumer (its key and secret stop working).
    #[arg(long)]
    pub no_oauth1: bool,
    /// Replace the grants of the OAuth 2.1 token endpoint (repeatable): authorization_code,
    /// refresh_token or client_credentials, as `app create --grant-type`.
    #[arg(long = "grant-type")]
    pub grant_types: Vec<crate::domain::client_metadata::GrantType>,
    /// Replace the URIs of the APIs this app serves as a resource server (repeatable): clients
    /// may ask for tokens bound to them (`resource`, RFC 8707) and this app may introspect those
    /// tokens (oauth21.md §4).
    #[arg(long = "resource", conflicts_with = "no_resources")]
    pub resources: Vec<String>,
    /// Remove every resource URI of this app.
    #[arg(long)]
    pub no_resources: bool,
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
    #[arg(long = "type", value_enum, default_value_t = AppTypeArg::Web)]
    pub app_type: AppTypeArg,
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
    /// A grant of the OAuth 2.1 token endpoint (repeatable): authorization_code, refresh_token
    /// (every code grant yields a refresh token, even without offline_access) or
    /// client_credentials. Default: authorization_code alone.
    #[arg(long = "grant-type")]
    pub grant_types: Vec<crate::domain::client_metadata::GrantType>,
    /// The URI of an API this app serves as a resource server (repeatable), as `app update
    /// --resource`.
    #[arg(long = "resource")]
    pub resources: Vec<String>,
}
