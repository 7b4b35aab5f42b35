//! The sections of the settings file other than `[oauth21]` (`oauth21`), each with its defaults as
//! documented in `config/latchkey.toml`; `Config` gathers them and `Config::validate` checks them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtelConfig {
    /// OTLP/HTTP base URL (traces go to `{endpoint}/v1/traces`); empty: no export.
    pub endpoint: String,
    pub service_name: String,
}

impl Default for OtelConfig {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            service_name: "latchkey".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub format: String,
    pub level: String,
    /// One INFO line per request.
    pub requests: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Empty: `/metrics` is served on `listen`; an address: only there.
    pub listen: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// How long audit events are kept; 0 keeps them for ever.
    pub retention_days: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
    /// SQLite only: `normal` or `full` (see `config/latchkey.toml`).
    pub sqlite_synchronous: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuth2Config {
    pub code_ttl_secs: i64,
    pub implicit_token_ttl_secs: i64,
    pub access_token_ttl_secs: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuth1Config {
    pub timestamp_window_secs: i64,
    pub request_token_ttl_secs: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    pub ttl_secs: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub window_secs: i64,
    pub login_failures_per_account: u32,
    pub login_failures_per_ip: u32,
    pub client_failures_per_client: u32,
    pub client_failures_per_ip: u32,
    pub token_info_failures_per_ip: u32,
    /// How long a request may take, its body included, before it is answered 408 (slow-loris
    /// bodies), on the full stack and the lean one alike.
    pub request_timeout_secs: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            retention_days: 365,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: "text".into(),
            level: "info".into(),
            requests: true,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout_secs: 5,
            sqlite_synchronous: "normal".into(),
        }
    }
}

impl Default for OAuth2Config {
    fn default() -> Self {
        Self {
            code_ttl_secs: 300,
            implicit_token_ttl_secs: 1_209_600,
            access_token_ttl_secs: 0,
        }
    }
}

impl Default for OAuth1Config {
    fn default() -> Self {
        Self {
            timestamp_window_secs: 900,
            request_token_ttl_secs: 3600,
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            ttl_secs: 14 * 24 * 3600,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            window_secs: 900,
            login_failures_per_account: 5,
            login_failures_per_ip: 50,
            client_failures_per_client: 20,
            client_failures_per_ip: 50,
            token_info_failures_per_ip: 1000,
            request_timeout_secs: 30,
        }
    }
}
