//! Typed settings: `config/latchkey.toml` (or `--config FILE`) overlaid by `LATCHKEY_*` environment
//! variables (nested keys with `__`, e.g. `LATCHKEY_OAUTH2__CODE_TTL_SECS`), validated before serving.
//! Every key, with its default, is documented in `config/latchkey.toml`. The secret key's source
//! and its file are in `secret_key`.

mod mcp;
mod oauth21;
mod secret_key;
mod sections;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::store::DbOptions;
pub use mcp::McpConfig;
pub use oauth21::{OAuth21Config, Registration};
pub use secret_key::{SecretKey, SecretKeySource};
use secret_key::{default_key_file, load_or_create_key};
pub use sections::{
    AuditConfig, DatabaseConfig, LimitsConfig, LogConfig, MetricsConfig, OAuth1Config,
    OAuth2Config, OtelConfig, SessionConfig,
};

pub const DEFAULT_CONFIG_FILE: &str = "config/latchkey.toml";

/// The settings as read; see [`Settings`] for the validated form the server runs with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub database_url: String,
    pub listen: String,
    pub public_url: String,
    pub secret_key: String,
    pub secret_key_file: PathBuf,
    pub signup: bool,
    pub trusted_proxies: Vec<String>,
    /// Lets app icons be fetched from loopback addresses over plain HTTP: for tests only.
    pub icon_fetch_allow_loopback: bool,
    pub log: LogConfig,
    pub database: DatabaseConfig,
    pub oauth2: OAuth2Config,
    pub oauth1: OAuth1Config,
    pub oauth21: OAuth21Config,
    pub mcp: McpConfig,
    pub session: SessionConfig,
    pub limits: LimitsConfig,
    pub metrics: MetricsConfig,
    pub audit: AuditConfig,
    pub otel: OtelConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://data/latchkey.db".into(),
            listen: "127.0.0.1:8080".into(),
            public_url: String::new(),
            secret_key: String::new(),
            secret_key_file: PathBuf::new(),
            signup: false,
            trusted_proxies: Vec::new(),
            icon_fetch_allow_loopback: false,
            log: LogConfig::default(),
            database: DatabaseConfig::default(),
            oauth2: OAuth2Config::default(),
            oauth1: OAuth1Config::default(),
            oauth21: OAuth21Config::default(),
            mcp: McpConfig::default(),
            session: SessionConfig::default(),
            limits: LimitsConfig::default(),
            metrics: MetricsConfig::default(),
            audit: AuditConfig::default(),
            otel: OtelConfig::default(),
        }
    }
}

/// A configuration problem, naming the key to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {key}: {message}")]
    Invalid { key: &'static str, message: String },
    #[error("invalid configuration: {0}")]
    Parse(String),
    #[error("cannot read or write the secret key file {path}: {source}")]
    SecretKeyFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

/// Validated settings, as the server and CLI use them.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DbOptions,
    pub listen: SocketAddr,
    /// Canonical origin (and optional path prefix) for every absolute URL; no trailing slash.
    pub public_url: Url,
    pub secret_key_source: SecretKeySource,
    pub signup: bool,
    pub trusted_proxies: Vec<IpAddr>,
    pub icon_fetch_allow_loopback: bool,
    pub log_json: bool,
    pub log_level: String,
    pub code_ttl: i64,
    pub implicit_token_ttl: i64,
    /// `None`: code-flow and password tokens do not expire (WordPress.com behaviour).
    pub access_token_ttl: Option<i64>,
    pub oauth1_timestamp_window: i64,
    pub oauth1_request_token_ttl: i64,
    /// The OAuth 2.1 / OIDC server's section, validated.
    pub oauth21: OAuth21Config,
    /// The MCP endpoint's section, validated.
    pub mcp: McpConfig,
    pub session_ttl: i64,
    pub limits: LimitsConfig,
    /// One INFO line per request (`log.requests`).
    pub log_requests: bool,
    /// Where `/metrics` is served when not on `listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// How long audit events are kept, in seconds; `None`: for ever.
    pub audit_retention: Option<i64>,
    /// True when `public_url` was not given and was derived from `listen`.
    pub public_url_derived: bool,
    /// OTLP/HTTP base URL for traces; `None`: no export.
    pub otel_endpoint: Option<Url>,
    pub otel_service_name: String,
}

impl Config {
    /// Reads the file (missing is fine only for the default path) and the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                if !path.exists() {
                    return Err(ConfigError::Parse(format!(
                        "config file {} does not exist",
                        path.display()
                    )));
                }
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file(DEFAULT_CONFIG_FILE)),
        }
        // `LATCHKEY_TEST_*` variables belong to the test suite, not to the server.
        figment = figment.merge(
            Env::prefixed("LATCHKEY_")
                .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_"))
                .split("__"),
        );
        figment
            .extract()
            .map_err(|e| ConfigError::Parse(e.to_string()))
    }

    /// Checks every key and resolves defaults that depend on others.
    pub fn validate(&self) -> Result<Settings, ConfigError> {
        let url = self.database_url.trim();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database_url",
                "must start with sqlite:// or postgres://",
            ));
        }
        let listen: SocketAddr = self
            .listen
            .parse()
            .map_err(|_| invalid("listen", "must be a socket address such as 127.0.0.1:8080"))?;
        let public_url = if self.public_url.trim().is_empty() {
            Url::parse(&format!("http://{listen}")).map_err(|e| invalid("listen", e.to_string()))?
        } else {
            parse_public_url(self.public_url.trim())?
        };
        let secret_key_source = if self.secret_key.trim().is_empty() {
            SecretKeySource::File(if self.secret_key_file.as_os_str().is_empty() {
                default_key_file(url)
            } else {
                self.secret_key_file.clone()
            })
        } else {
            SecretKeySource::Given(SecretKey::from_hex("secret_key", &self.secret_key)?)
        };
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|p| {
                p.parse()
                    .map_err(|_| invalid("trusted_proxies", format!("{p:?} is not an IP address")))
            })
            .collect::<Result<_, _>>()?;
        let log_json = match self.log.format.as_str() {
            "text" => false,
            "json" => true,
            _ => return Err(invalid("log.format", "must be \"text\" or \"json\"")),
        };
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(invalid(
                "log.level",
                "must be a level such as info or debug",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        let sqlite_full_sync = match self.database.sqlite_synchronous.as_str() {
            "normal" => false,
            "full" => true,
            _ => {
                return Err(invalid(
                    "database.sqlite_synchronous",
                    "must be normal or full",
                ));
            }
        };
        if !(1..=600).contains(&self.oauth2.code_ttl_secs) {
            return Err(invalid(
                "oauth2.code_ttl_secs",
                "must be between 1 and 600 seconds",
            ));
        }
        if self.oauth2.implicit_token_ttl_secs < 1 {
            return Err(invalid(
                "oauth2.implicit_token_ttl_secs",
                "must be positive",
            ));
        }
        if self.oauth2.access_token_ttl_secs < 0 {
            return Err(invalid(
                "oauth2.access_token_ttl_secs",
                "must be 0 (never expire) or a positive number of seconds",
            ));
        }
        if !(1..=3600).contains(&self.oauth1.timestamp_window_secs) {
            return Err(invalid(
                "oauth1.timestamp_window_secs",
                "must be between 1 and 3600",
            ));
        }
        if !(60..=86_400).contains(&self.oauth1.request_token_ttl_secs) {
            return Err(invalid(
                "oauth1.request_token_ttl_secs",
                "must be between 60 and 86400",
            ));
        }
        if self.session.ttl_secs < 60 {
            return Err(invalid("session.ttl_secs", "must be at least 60 seconds"));
        }
        if self.limits.window_secs < 1 {
            return Err(invalid("limits.window_secs", "must be positive"));
        }
        if !(1..=3600).contains(&self.limits.request_timeout_secs) {
            return Err(invalid(
                "limits.request_timeout_secs",
                "must be between 1 and 3600",
            ));
        }
        let metrics_listen = match self.metrics.listen.trim() {
            "" => None,
            addr => Some(addr.parse().map_err(|_| {
                invalid(
                    "metrics.listen",
                    "must be empty or a socket address such as 127.0.0.1:9090",
                )
            })?),
        };
        if self.audit.retention_days < 0 {
            return Err(invalid(
                "audit.retention_days",
                "must be 0 (keep for ever) or a number of days",
            ));
        }
        let otel_endpoint = match self.otel.endpoint.trim() {
            "" => None,
            raw => Some(
                Url::parse(raw)
                    .ok()
                    .filter(|u| {
                        matches!(u.scheme(), "http" | "https")
                            && u.host().is_some()
                            && u.query().is_none()
                            && u.fragment().is_none()
                    })
                    .ok_or_else(|| {
                        invalid(
                            "otel.endpoint",
                            "must be empty or an http(s) base URL such as http://127.0.0.1:4318",
                        )
                    })?,
            ),
        };
        let otel_service_name = self.otel.service_name.trim();
        if otel_service_name.is_empty() {
            return Err(invalid("otel.service_name", "must not be empty"));
        }

        Ok(Settings {
            database: DbOptions {
                url: url.to_owned(),
                max_connections: self.database.max_connections,
                acquire_timeout: Duration::from_secs(self.database.acquire_timeout_secs.max(1)),
                sqlite_full_sync,
            },
            listen,
            public_url,
            secret_key_source,
            signup: self.signup,
            trusted_proxies,
            icon_fetch_allow_loopback: self.icon_fetch_allow_loopback,
            log_json,
            log_level: self.log.level.clone(),
            code_ttl: self.oauth2.code_ttl_secs,
            implicit_token_ttl: self.oauth2.implicit_token_ttl_secs,
            access_token_ttl: (self.oauth2.access_token_ttl_secs > 0)
                .then_some(self.oauth2.access_token_ttl_secs),
            oauth1_timestamp_window: self.oauth1.timestamp_window_secs,
            oauth1_request_token_ttl: self.oauth1.request_token_ttl_secs,
            oauth21: self.oauth21.validate()?,
            mcp: self.mcp.validate()?,
            session_ttl: self.session.ttl_secs,
            limits: self.limits.clone(),
            log_requests: self.log.requests,
            metrics_listen,
            audit_retention: (self.audit.retention_days > 0)
                .then_some(self.audit.retention_days * 86_400),
            public_url_derived: self.public_url.trim().is_empty(),
            otel_endpoint,
            otel_service_name: otel_service_name.to_owned(),
        })
    }
}

fn parse_public_url(raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|e| invalid("public_url", e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(
            "public_url",
            "must be an http:// or https:// URL with a host",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(invalid(
            "public_url",
            "must not have a query, fragment or user name",
        ));
    }
    Ok(url)
}

impl Settings {
    /// The public URL without a trailing slash, for building absolute URLs.
    pub fn base_url(&self) -> &str {
        self.public_url.as_str().trim_end_matches('/')
    }

    /// The issuer identifier (RFC 8414, RFC 9207): the public URL without a trailing slash.
    pub fn issuer(&self) -> &str {
        self.base_url()
    }

    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// Resolves the secret key, generating and saving one (mode 0600) on first start.
    pub fn secret_key(
        &self,
        random: &dyn crate::domain::random::Random,
    ) -> Result<SecretKey, ConfigError> {
        match &self.secret_key_source {
            SecretKeySource::Given(key) => Ok(key.clone()),
            SecretKeySource::File(path) => load_or_create_key(path, random),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_public_url_follows_listen() {
        let settings = Config::default().validate().unwrap();
        assert_eq!(settings.public_url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(settings.base_url(), "http://127.0.0.1:8080");
        assert!(matches!(
            settings.secret_key_source,
            SecretKeySource::File(ref p) if p == Path::new("data/secret.key")
        ));
    }

    #[test]
    fn each_invalid_key_is_named_in_the_error() {
        type Mutation = Box<dyn Fn(&mut Config)>;
        let cases: Vec<(&str, Mutation)> = vec![
            (
                "database_url",
                Box::new(|c| c.database_url = "mysql://x".into()),
            ),
            ("listen", Box::new(|c| c.listen = "nowhere".into())),
            ("public_url", Box::new(|c| c.public_url = "ftp://x".into())),
            (
                "public_url",
                Box::new(|c| c.public_url = "https://x/?q=1".into()),
            ),
            ("secret_key", Box::new(|c| c.secret_key = "abc".into())),
            ("log.format", Box::new(|c| c.log.format = "xml".into())),
            (
                "metrics.listen",
                Box::new(|c| c.metrics.listen = "everywhere".into()),
            ),
            (
                "audit.retention_days",
                Box::new(|c| c.audit.retention_days = -1),
            ),
            (
                "otel.endpoint",
                Box::new(|c| c.otel.endpoint = "localhost:4318".into()),
            ),
            (
                "otel.service_name",
                Box::new(|c| c.otel.service_name = " ".into()),
            ),
            (
                "oauth2.code_ttl_secs",
                Box::new(|c| c.oauth2.code_ttl_secs = 601),
            ),
            (
                "trusted_proxies",
                Box::new(|c| c.trusted_proxies = vec!["proxy".into()]),
            ),
            (
                "limits.request_timeout_secs",
                Box::new(|c| c.limits.request_timeout_secs = 0),
            ),
        ];
        for (key, mutate) in cases {
            let mut config = Config::default();
            mutate(&mut config);
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
    }

    #[test]
    fn secret_key_file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/secret.key");
        let first = load_or_create_key(&path, &crate::domain::random::OsRandom).unwrap();
        let second = load_or_create_key(&path, &crate::domain::random::OsRandom).unwrap();
        assert_eq!(first.0, second.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(format!("{first:?}"), "SecretKey(redacted)");
    }
}
