//! How large a request body may be: the server-wide cap every route keeps, and the larger one the
//! REST routes that create a post take. The OAuth1 layer reads a signed form body up to the larger
//! of the two, so both live here, below `api` and `oauth1`.

/// Bodies on the OAuth endpoints are capped at 64 KiB (security.md, Limits).
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

/// The largest body `sites/{site}/posts/new` and `wp/v2/posts` take (other REST routes keep the
/// server's [`MAX_BODY_BYTES`]).
pub(crate) const POST_BODY_LIMIT: usize = 1024 * 1024;
