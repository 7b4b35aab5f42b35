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
}

impl Default for McpConfig {
    fn default() -> Self {
        Self {
            max_sessions: 1000,
            session_idle_secs: 600,
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
        Ok(self.clone())
    }
}
