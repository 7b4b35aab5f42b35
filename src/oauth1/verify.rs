//! Checking a signed request against storage (`spec/oauth1.md` §4), in the one order every endpoint
//! and every signed API call shares: parameters (400) → timestamp window → consumer → token → the
//! signature → the nonce. Every parameter is checked for shape (`signature::collect`: one place, no
//! control characters) before any storage is touched. The nonce is recorded only once the signature has verified, so a forged
//! request never burns a nonce its rightful sender might still use (security O102).

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, header};

use super::problem::Problem;
use super::signature::{self, Collected, ParamError, RequestParts};
use crate::domain::crypto::{
    self, ACCESS_SECRET_CONTEXT, CONSUMER_SECRET_CONTEXT, REQUEST_SECRET_CONTEXT,
};
use crate::domain::secret;
use crate::http::body::{MAX_BODY_BYTES, POST_BODY_LIMIT};
use crate::state::AppState;
use crate::store::{AccessToken, App, Nonce, RequestToken};

/// Nonces longer than this are refused before any lookup; clients send 8 to 64 characters.
const MAX_NONCE_LEN: usize = 255;

/// What a request needs to carry, as told by the endpoint it reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// `/oauth1/request`: signed by the consumer alone.
    Consumer,
    /// `/oauth1/access`: a request token and its verifier.
    RequestToken,
    /// A REST call: an access token.
    AccessToken,
}

#[derive(Debug)]
pub(crate) enum Token {
    None,
    Request(RequestToken),
    Access(std::sync::Arc<AccessToken>),
}

/// A request whose signature verified and whose nonce is now spent.
#[derive(Debug)]
pub(crate) struct Verified {
    pub app: std::sync::Arc<App>,
    pub collected: Collected,
    pub token: Token,
}

/// The parts of an HTTP request that a signature covers, owned.
#[derive(Debug, Clone, Default)]
pub(crate) struct Incoming {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub form_body: Option<Bytes>,
    pub authorization: Option<String>,
}

impl Incoming {
    pub(crate) fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            form_body: self.form_body.as_deref(),
            authorization: self.authorization.as_deref(),
        }
    }

    pub(crate) fn has_oauth(&self) -> bool {
        signature::has_oauth(&self.parts())
    }

    /// Reads the request, buffering a form body (the only kind that is signed, RFC 5849
    /// §3.4.1.3.1); returns the request rebuilt around the same body so it can still be served.
    pub(crate) async fn read(request: Request) -> Result<(Incoming, Request), Problem> {
        let (parts, body) = request.into_parts();
        let mut incoming = Incoming {
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            form_body: None,
            authorization: parts
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        };
        let limit = POST_BODY_LIMIT.max(MAX_BODY_BYTES);
        // A body announced as larger than any route takes is left for the route to refuse (413).
        let announced_too_large = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|len| len > limit);
        let body = if is_form(&parts.headers) && !announced_too_large {
            // The largest body any signed route takes (post creation); each route's own limit
            // still applies when its handler reads the body.
            let bytes = axum::body::to_bytes(body, limit)
                .await
                .map_err(|_| Problem::BodyUnreadable)?;
            incoming.form_body = Some(bytes.clone());
            axum::body::Body::from(bytes)
        } else {
            body
        };
        Ok((incoming, Request::from_parts(parts, body)))
    }
}

/// Whether the body is `application/x-www-form-urlencoded` (parameters such as `charset` allowed).
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Verifies `incoming` as `expect` says, and spends its nonce.
pub(crate) async fn verify(
    state: &AppState,
    incoming: &Incoming,
    expect: Expect,
) -> Result<Verified, Problem> {
    let parts = incoming.parts();
    let collected = signature::collect(&parts)?;
    if collected.verifier_copy && expect != Expect::RequestToken {
        // Only `/oauth1/access` takes WP-API's copy of the verifier in the form body.
        return Err(ParamError::Duplicated("oauth_verifier".to_owned()).into());
    }
    let oauth = &collected.oauth;
    if expect != Expect::Consumer && oauth.token.is_none() {
        return Err(Problem::Absent("oauth_token"));
    }
    if expect == Expect::RequestToken && oauth.verifier.as_deref().is_none_or(str::is_empty) {
        return Err(Problem::Absent("oauth_verifier"));
    }
    if oauth.nonce.is_empty() || oauth.nonce.len() > MAX_NONCE_LEN {
        return Err(Problem::NonceRejected);
    }
    let now = state.now();
    let window = state.settings.oauth1_timestamp_window;
    if oauth.timestamp.abs_diff(now) > window.unsigned_abs() {
        return Err(Problem::TimestampRefused(window));
    }

    let app = match oauth.consumer_key.len() {
        1..=64 => state.store.consumer(&oauth.consumer_key).await?,
        _ => None,
    };
    let Some(app) = app else {
        return Err(Problem::ConsumerUnknown);
    };
    // Opened once per cache fill and kept with the cached app (`store::cache::Opened`).
    let consumer_secret = app
        .oauth1_secret
        .get_or_open(|| {
            let sealed = app.oauth1_secret_enc.as_deref()?;
            open(state, CONSUMER_SECRET_CONTEXT, sealed)
        })
        .ok_or(Problem::ConsumerUnknown)?;

    let token_digest = oauth.token.as_deref().map(secret::digest);
    let (token, token_secret): (Token, std::borrow::Cow<'_, str>) = match (expect, &token_digest) {
        (Expect::Consumer, _) | (_, None) => (Token::None, "".into()),
        (Expect::RequestToken, Some(digest)) => {
            let rt = state
                .store
                .request_token(digest)
                .await?
                .ok_or(Problem::TokenRejected)?;
            if rt.app_id != app.id {
                return Err(Problem::ConsumerMismatch);
            }
            if rt.expires_at <= now {
                let mut tx = state.store.begin();
                tx.delete_request_token(rt.id).await?;
                tx.commit().await?;
                return Err(Problem::TokenExpired);
            }
            let secret = open(state, REQUEST_SECRET_CONTEXT, &rt.secret_enc)
                .ok_or(Problem::TokenRejected)?;
            (Token::Request(rt), secret.into())
        }
        (Expect::AccessToken, Some(digest)) => {
            let at = state
                .store
                .oauth1_access_token(digest)
                .await?
                .ok_or(Problem::TokenRejected)?;
            if at.app_id != app.id {
                return Err(Problem::ConsumerMismatch);
            }
            let secret = at
                .opened_secret
                .get_or_open(|| open(state, ACCESS_SECRET_CONTEXT, &at.secret_enc))
                .ok_or(Problem::TokenRejected)?
                .to_owned();
            (Token::Access(at), secret.into())
        }
    };

    let base_string = collected.base_string(&parts, &state.settings.public_url);
    if !collected.signature_matches(&base_string, consumer_secret, &token_secret) {
        return Err(Problem::SignatureInvalid { base_string });
    }

    let fresh = state
        .store
        .record_nonce(&Nonce {
            consumer_key: &oauth.consumer_key,
            token: token_digest.as_ref().map_or(&[][..], |d| &d[..]),
            timestamp: oauth.timestamp,
            nonce: &oauth.nonce,
            expires_at: oauth.timestamp.saturating_add(window),
        })
        .await?;
    if !fresh {
        return Err(Problem::NonceUsed);
    }
    Ok(Verified {
        app,
        collected,
        token,
    })
}

/// Opens a sealed secret; a failure means the server key changed, which is logged (without the
/// secret) and answered as an unknown credential.
fn open(state: &AppState, context: &'static str, sealed: &[u8]) -> Option<String> {
    let opened =
        crypto::open(&state.key.0, context, sealed).and_then(|b| String::from_utf8(b).ok());
    if opened.is_none() {
        tracing::error!(
            context,
            "a sealed OAuth1 secret could not be opened: was the server key changed?"
        );
    }
    opened
}
