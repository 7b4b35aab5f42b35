//! OAuth 1.0a as the WP REST API plugin speaks it, with the plugin's bugs fixed (RFC 5849,
//! `spec/oauth1.md`). The pure protocol rules live here (signatures, callbacks); the HTTP endpoints
//! are added beside them.

pub mod callback;
pub mod signature;
