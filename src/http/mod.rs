//! HTTP plumbing shared by every surface: request limits, query and form parameters, security
//! headers, tracing without query strings, the peer address, and the server loop with graceful
//! shutdown.

pub(crate) mod body;
pub(crate) mod error_code;
pub(crate) mod fallback;
pub(crate) mod headers;
pub(crate) mod observe;
pub(crate) mod params;
pub(crate) mod peer;
pub mod serve;
