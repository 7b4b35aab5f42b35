//! The kind of client an app is — `web` or `native` — which decides its redirect-URI rules
//! (oauth2.md §2, RFC 8252 §7) and whether it needs PKCE instead of a client secret (oauth2.md §8).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Web apps keep a client secret on a server and redirect to `https:` URIs; native apps (desktop and
/// mobile) cannot keep a secret, so they use PKCE and may redirect to loopback or private-use URIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppType {
    Web,
    Native,
}

impl AppType {
    /// The stored and displayed name: `web` or `native`.
    pub fn as_str(self) -> &'static str {
        match self {
            AppType::Web => "web",
            AppType::Native => "native",
        }
    }
}

impl fmt::Display for AppType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An app type name other than the two Latchkey knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown app type {0:?}: use \"web\" or \"native\" (lower case)")]
pub struct UnknownAppType(pub String);

impl FromStr for AppType {
    type Err = UnknownAppType;

    /// Exact, case-sensitive: the same spelling serde reads and writes, so a value that parses here
    /// round-trips through the database and JSON unchanged.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "web" => Ok(AppType::Web),
            "native" => Ok(AppType::Native),
            other => Err(UnknownAppType(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_as_str_and_from_str() {
        for t in [AppType::Web, AppType::Native] {
            assert_eq!(t.as_str().parse::<AppType>(), Ok(t));
            assert_eq!(t.to_string(), t.as_str());
        }
    }

    #[test]
    fn unknown_or_differently_cased_names_are_refused_with_the_allowed_values() {
        for bad in ["", "Web", "NATIVE", "spa", " web", "web "] {
            let err = bad.parse::<AppType>().unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains("\"web\"") && msg.contains("\"native\""),
                "{bad:?}: {msg}"
            );
        }
    }

    #[test]
    fn serde_uses_the_lower_case_names() {
        assert_eq!(
            serde_json::to_string(&AppType::Native).unwrap(),
            "\"native\""
        );
        assert_eq!(
            serde_json::from_str::<AppType>("\"web\"").unwrap(),
            AppType::Web
        );
        assert!(serde_json::from_str::<AppType>("\"Web\"").is_err());
    }
}
