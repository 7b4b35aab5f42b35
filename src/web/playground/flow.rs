//! The flow cookie: what a flow must remember between sending the browser away and its coming back
//! (the `state`, the PKCE verifier, a pasted client secret, an OAuth1 request-token secret). One
//! flow at a time per browser: starting another replaces it.
//!
//! The cookie is axum-extra's [`PrivateCookieJar`]: AES-256-GCM under a key of its own, with the
//! cookie's name as associated data, so a tampered cookie, or one made under another key, is not
//! in the jar and reads as no flow. The key is derived from the server key for this one purpose
//! (see [`FlowKey`]), so it is not the key that seals anything else. The encryption's nonce comes
//! from the cookie crate (the operating system's generator), not the injected random source: no
//! test needs to predict it. The clearing cookie carries nothing and is written as a plain one.

use axum::extract::FromRef;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{CookieJar, Key, PrivateCookieJar};
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha512;

use crate::state::AppState;
use crate::web::page::Viewer;
use crate::web::session;

/// How long a flow may take, start to callback.
const TTL: i64 = 900;

/// HKDF's `info` for the cookie key: what makes this key differ from every other use of the server
/// key.
const KEY_INFO: &[u8] = b"latchkey playground flow cookie";

/// The playground's cookie jar: the flow cookie, opened with [`FlowKey`].
pub(super) type Jar = PrivateCookieJar<FlowKey>;

/// The flow cookie's key: HKDF-Expand-SHA512 (RFC 5869 §2.3) of the server key with [`KEY_INFO`],
/// 64 bytes in one block, as `Key` wants (half signs, half encrypts; the private jar uses the
/// second). The server key is 32 uniformly random bytes, so it serves as the pseudorandom key and
/// the extract step is skipped (RFC 5869 §3.3).
#[derive(Clone)]
pub(super) struct FlowKey(Key);

impl FlowKey {
    fn derive(server_key: &[u8; 32]) -> Self {
        let mut t1 = <Hmac<Sha512> as Mac>::new_from_slice(server_key)
            .expect("HMAC accepts a key of any length");
        t1.update(KEY_INFO);
        t1.update(&[1]);
        Self(Key::from(&t1.finalize().into_bytes()))
    }
}

impl FromRef<AppState> for FlowKey {
    fn from_ref(state: &AppState) -> Self {
        Self::derive(&state.key.0)
    }
}

impl From<FlowKey> for Key {
    fn from(key: FlowKey) -> Key {
        key.0
    }
}

/// A kind of flow the cookie carries.
pub(super) trait Flow: Serialize + DeserializeOwned {
    /// Tells the kinds apart, so that an OAuth2 flow's cookie is never read as an OAuth1 one.
    const KIND: &'static str;
}

/// What the cookie holds: the flow, whose it is and when it began.
#[derive(Serialize, Deserialize)]
struct Envelope<F> {
    kind: String,
    user_id: i64,
    started: i64,
    flow: F,
}

fn cookie_name(state: &AppState) -> &'static str {
    session::cookie_name(state, "__Host-latchkey_playground")
}

/// Puts `flow`, begun now by the viewer, into the cookie.
pub(super) fn keep<F: Flow>(state: &AppState, viewer: &Viewer, jar: Jar, flow: F) -> Jar {
    let envelope = Envelope {
        kind: F::KIND.to_owned(),
        user_id: viewer.0.user.id,
        started: state.now(),
        flow,
    };
    let value = serde_json::to_string(&envelope).unwrap_or_default();
    jar.add(session::cookie(state, cookie_name(state), value, Some(TTL)))
}

/// Begins a flow: keeps it (made by `flow` from the absolute address of `path`, which it shows in
/// the transcript) in the cookie and sends the browser to `path`, an authorize endpoint here.
pub(super) fn begin<F: Flow>(
    state: &AppState,
    viewer: &Viewer,
    jar: Jar,
    path: &str,
    flow: impl FnOnce(String) -> F,
) -> Response {
    let flow = flow(format!("{}{path}", state.settings.base_url()));
    let jar = keep(state, viewer, jar, flow);
    (jar, Redirect::to(path)).into_response()
}

/// The flow of kind `F` in progress for this viewer, if the cookie is present, intact, of that
/// kind, theirs and fresh.
pub(super) fn current<F: Flow>(state: &AppState, viewer: &Viewer, jar: &Jar) -> Option<F> {
    let cookie = jar.get(cookie_name(state))?;
    let envelope: Envelope<F> = serde_json::from_str(cookie.value()).ok()?;
    (envelope.kind == F::KIND
        && envelope.user_id == viewer.0.user.id
        && state.now() - envelope.started <= TTL)
        .then_some(envelope.flow)
}

/// The cookie that ends the flow: spent, it cannot be replayed.
pub(super) fn end(state: &AppState) -> CookieJar {
    CookieJar::new().add(session::cookie(
        state,
        cookie_name(state),
        String::new(),
        Some(0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_key_is_fixed_by_the_server_key_and_is_not_the_server_key() {
        let key = FlowKey::derive(&[7; 32]).0;
        assert_eq!(
            key,
            FlowKey::derive(&[7; 32]).0,
            "the same on every request and instance"
        );
        assert_ne!(key, FlowKey::derive(&[8; 32]).0);
        assert!(!key.master().windows(32).any(|w| w == [7; 32]));
    }
}
