//! HTTP plumbing shared by every surface: request limits, security headers, tracing without query
//! strings, the peer address, and the server loop with graceful shutdown.

pub mod error_code;
pub mod fallback;
pub mod headers;
pub mod observe;
pub mod peer;
pub mod serve;
