//! Post/redirect/get for pages that show a secret once (issue 13): the POST that issues a secret
//! puts it in a short-lived cookie sealed with the server key (AEAD, so the browser can neither read
//! nor forge it) and answers 303; the GET of the page it names shows it and clears the cookie. A
//! reload, or the back button, shows the page without the secret and issues nothing again.
//!
//! The cookie is bound to the user and to the path of the page, lives five minutes, is `HttpOnly`,
//! `SameSite=Lax`, `Path=/`, and `Secure` with the `__Host-` prefix over https, like every
//! Latchkey cookie. Nothing is kept on the server, so it works behind a load balancer too.

use axum_extra::extract::cookie::{Cookie, CookieJar};
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::session;
use crate::domain::crypto::{self, FLASH_CONTEXT};
use crate::state::AppState;

/// How long a flash waits for its GET.
pub(crate) const FLASH_TTL_SECS: i64 = 300;

/// What the next GET of `path` shows once.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct Flash {
    pub notice: Option<String>,
    pub client_secret: Option<String>,
    pub consumer_secret: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    user_id: i64,
    path: String,
    expires_at: i64,
    flash: Flash,
}

fn name(state: &AppState) -> &'static str {
    session::cookie_name(state, "__Host-latchkey_flash")
}

/// The cookie that carries `flash` to the next GET of `path` by `user_id`.
pub(crate) fn cookie(state: &AppState, user_id: i64, path: &str, flash: Flash) -> Cookie<'static> {
    let sealed = Sealed {
        user_id,
        path: path.to_owned(),
        expires_at: state.now() + FLASH_TTL_SECS,
        flash,
    };
    let json = serde_json::to_vec(&sealed).unwrap_or_default();
    let bytes = crypto::seal(&state.key.0, FLASH_CONTEXT, &json, &*state.random);
    let value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    session::cookie(state, name(state), value, Some(FLASH_TTL_SECS))
}

/// The flash for this GET of `path` by `user_id`, if one is waiting; the returned jar clears the
/// cookie whenever one was sent (used, expired, forged or for another page alike).
pub(crate) fn take(
    state: &AppState,
    jar: CookieJar,
    user_id: i64,
    path: &str,
) -> (CookieJar, Flash) {
    let Some(value) = jar.get(name(state)).map(|c| c.value().to_owned()) else {
        return (jar, Flash::default());
    };
    let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .ok()
        .and_then(|bytes| crypto::open(&state.key.0, FLASH_CONTEXT, &bytes))
        .and_then(|json| serde_json::from_slice::<Sealed>(&json).ok())
        .filter(|s| s.user_id == user_id && s.expires_at > state.now());
    let flash = match sealed {
        Some(s) if s.path == path => s.flash,
        // Meant for another page of this user: leave it for that page.
        Some(_) => return (jar, Flash::default()),
        None => Flash::default(),
    };
    let cleared = session::cookie(state, name(state), String::new(), Some(0));
    (jar.add(cleared), flash)
}
