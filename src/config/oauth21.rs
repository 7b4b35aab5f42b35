//! The `[oauth21]` section: the OAuth 2.1 / OpenID Connect server under `/oauth2-1/`
//! (`../shared/spec/oauth21.md`). Every key is documented, with its default, in
//! `config/latchkey.toml`.

use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid};

/// Who may register a client at `/oauth2-1/register` (RFC 7591).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    /// Anyone (the default, as MCP clients expect).
    Open,
    /// Only a caller presenting an initial access token from `latchkey app registration-token`.
    Token,
    /// Nobody: the endpoint answers as if it did not exist.
    Off,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuth21Config {
    /// Lifetime of 2.1 access tokens (`expires_in`).
    pub access_token_ttl_secs: i64,
    /// A refresh token unused this long expires.
    pub refresh_idle_secs: i64,
    /// How long the immediately previous refresh token of a family still answers (a lost response).
    pub refresh_grace_secs: i64,
    /// Lifetime of ID tokens (`exp` - `iat`).
    pub id_token_ttl_secs: i64,
    /// How long a rotated-out signing key stays in the JWKS.
    pub key_overlap_secs: i64,
    /// `Cache-Control: public, max-age` of the JWKS and discovery documents.
    pub jwks_max_age_secs: i64,
    pub registration: Registration,
    /// Registrations one peer may make per `limits.window_secs`.
    pub registrations_per_ip: u32,
    /// Dynamically registered clients that never completed a grant are deleted after this long.
    pub unclaimed_client_ttl_secs: i64,
    /// Lets Client ID Metadata Documents be fetched from loopback addresses. For tests only: the
    /// server says so in its log at start-up.
    pub metadata_document_allow_loopback: bool,
}

impl Default for OAuth21Config {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 14 * 24 * 3600,
            refresh_idle_secs: 90 * 24 * 3600,
            refresh_grace_secs: 10,
            id_token_ttl_secs: 600,
            key_overlap_secs: 24 * 3600,
            jwks_max_age_secs: 3600,
            registration: Registration::Open,
            registrations_per_ip: 20,
            unclaimed_client_ttl_secs: 24 * 3600,
            metadata_document_allow_loopback: false,
        }
    }
}

impl OAuth21Config {
    /// Checks every key; the validated section is the same type.
    pub(super) fn validate(&self) -> Result<Self, ConfigError> {
        let positive = [
            ("oauth21.access_token_ttl_secs", self.access_token_ttl_secs),
            ("oauth21.refresh_idle_secs", self.refresh_idle_secs),
            ("oauth21.id_token_ttl_secs", self.id_token_ttl_secs),
            ("oauth21.jwks_max_age_secs", self.jwks_max_age_secs),
            (
                "oauth21.unclaimed_client_ttl_secs",
                self.unclaimed_client_ttl_secs,
            ),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v < 1) {
            return Err(invalid(key, "must be a positive number of seconds"));
        }
        if !(0..=300).contains(&self.refresh_grace_secs) {
            return Err(invalid(
                "oauth21.refresh_grace_secs",
                "must be between 0 and 300 seconds",
            ));
        }
        if self.key_overlap_secs < 0 {
            return Err(invalid(
                "oauth21.key_overlap_secs",
                "must be 0 or a number of seconds",
            ));
        }
        if self.registrations_per_ip == 0 {
            return Err(invalid(
                "oauth21.registrations_per_ip",
                "must be at least 1",
            ));
        }
        Ok(self.clone())
    }
}
