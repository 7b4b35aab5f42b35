//! The `[mcp]` section: the MCP endpoint at `/wpcom/v2/mcp/v1` (`../shared/spec/oauth21.md` §8).
//! Every key is documented, with its default, in `config/latchkey.toml`.

use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpConfig {
    /// Live MCP sessions one instance keeps at most; an `initialize` beyond answers 503.
    pub max_sessions: usize,
    /// A session that sees no message this long is closed and forgotten.
    pub session_idle_secs: u64,
    /// Browser origins (`scheme://host[:port]`) besides the public URL's that may call the
    /// endpoint: they pass its Origin check and get CORS answers (MCP Inspector's, for one).
    pub allowed_origins: Vec<String>,
}

impl Default for McpConfig {
    fn default() -> Self {
        Self {
            max_sessions: 1000,
            session_idle_secs: 600,
            allowed_origins: Vec::new(),
        }
    }
}

impl McpConfig {
    /// Checks every key; the validated section is the same type.
    pub(super) fn validate(&self) -> Result<Self, ConfigError> {
        if !(1..=1_000_000).contains(&self.max_sessions) {
            return Err(invalid("mcp.max_sessions", "must be between 1 and 1000000"));
        }
        if !(1..=86_400).contains(&self.session_idle_secs) {
            return Err(invalid(
                "mcp.session_idle_secs",
                "must be between 1 and 86400 seconds",
            ));
        }
        for origin in &self.allowed_origins {
            if !is_origin(origin) {
                return Err(invalid(
                    "mcp.allowed_origins",
                    format!(
                        "{origin:?} is not an origin: write scheme://host or scheme://host:port \
                         (http or https), without a path"
                    ),
                ));
            }
        }
        Ok(self.clone())
    }
}

/// Whether `raw` is a web origin as browsers send it in `Origin`: http(s), a host, an optional
/// port, nothing after.
fn is_origin(raw: &str) -> bool {
    url::Url::parse(raw).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some()
            && url.username().is_empty()
            && url.password().is_none()
            && url.path() == "/"
            && url.query().is_none()
            && url.fragment().is_none()
            && !raw.ends_with(':')
            && !raw.ends_with('/')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_origins_must_be_bare_origins() {
        for good in [
            "http://localhost:6274",
            "https://inspector.example",
            "http://[::1]:6274",
        ] {
            assert!(is_origin(good), "{good}");
        }
        for bad in [
            "localhost:6274",
            "ftp://x.example",
            "https://x.example/",
            "https://x.example/path",
            "https://x.example?q",
            "https://u@x.example",
            "*",
            "null",
            "",
        ] {
            assert!(!is_origin(bad), "{bad}");
        }
    }
}
