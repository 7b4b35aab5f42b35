//! HTTP plumbing shared by every surface, below all of them: request limits, query and form
//! parameters, error-code declarations, security headers, the observing layer (metrics, the
//! request log line, security events), and the peer address. The server loop and the per-dialect
//! fallbacks, which know every surface, are `crate::server`.

pub(crate) mod body;
pub(crate) mod error_code;
pub(crate) mod fetch;
pub(crate) mod headers;
pub(crate) mod observe;
pub(crate) mod params;
pub(crate) mod peer;
