//! HTTP plumbing shared by every surface: request limits, query and form parameters, security
//! headers, tracing without query strings, the peer address, and the server loop with graceful
//! shutdown.

pub mod body;
pub mod error_code;
pub mod fallback;
pub mod headers;
pub mod observe;
pub mod params;
pub mod peer;
pub mod serve;
