//! The second factor (oauth2.md §7, security.md PW05): TOTP codes refused on replay, single-use
//! recovery codes, the sealed seed, and the pending login between the password and the code.
//!
//! A pending login is a value (the web login carries it in a short-lived cookie): an HMAC under the
//! server key over the user, an expiry, a nonce and the account's current password hash and 2-step
//! state. Any completed second factor changes that state, so a pending login works once at most.
//! Wrong codes spend the same per-account budget as wrong passwords (`password::count_failure`).

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::Auth;
use super::password::{self, Failure};
use crate::domain::two_step as rules;
use crate::domain::{crypto, random, secret};
use crate::store::{AuditEvent, StoreError, User};

/// How long the second step may take after the password.
pub(crate) const PENDING_TTL: i64 = 300;

/// The outcome of a code typed at the login's second step.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// A current, unused TOTP code or an unused recovery code: now spent, and the account's
    /// failures forgotten.
    Accepted,
    /// Nothing was typed; nothing was counted.
    Missing,
    /// Wrong or already used; a failure was counted.
    Refused,
    /// Over the failure budget: nothing was checked.
    Throttled { retry_after: i64 },
}

/// The outcome of enabling 2-step authentication with a seed and a code it produced.
#[derive(Debug)]
pub(crate) enum Enabled {
    /// On, with these recovery codes, to be shown once.
    Now { recovery_codes: Vec<String> },
    /// The code does not match the seed; nothing changed.
    WrongCode,
    /// It was on already (another tab enabled it); nothing changed.
    Already,
}

/// The outcome of disabling 2-step authentication with a fresh code.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Disabled {
    Now,
    /// It was off already.
    Already,
    /// Wrong or already used; a failure was counted.
    Refused,
    /// Over the failure budget: nothing was checked.
    Throttled {
        retry_after: i64,
    },
}

/// A keyed MAC over length-prefixed parts, so no two part lists collide.
fn mac(auth: &Auth<'_>, parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(&auth.key.0).expect("HMAC takes any key length");
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn recovery_digest(auth: &Auth<'_>, user_id: i64, normalised: &str) -> [u8; 32] {
    mac(
        auth,
        &[b"recovery", &user_id.to_be_bytes(), normalised.as_bytes()],
    )
}

/// Whether `typed` is a current TOTP code not used before, or an unused recovery code; either is
/// spent by a success.
async fn accept_code(auth: &Auth<'_>, user: &User, typed: &str) -> Result<bool, StoreError> {
    if typed.len() > 64 {
        return Ok(false);
    }
    let two_step = auth.store.two_step(user.id).await?;
    let Some(sealed) = two_step.totp_secret_enc else {
        return Ok(false);
    };
    let Some(seed) = crypto::open(
        &auth.key.0,
        &crypto::totp_seed_context(user.id, "seed"),
        &sealed,
    ) else {
        tracing::error!(
            user_id = user.id,
            "a 2-step seed does not open with the server key"
        );
        return Ok(false);
    };
    if let Some(step) = rules::verify_code(&seed, typed, auth.now(), two_step.totp_last_step) {
        let mut tx = auth.store.begin();
        let claimed = tx.claim_totp_step(user.id, step).await?;
        tx.commit().await?;
        return Ok(claimed);
    }
    match rules::normalise_recovery_code(typed) {
        Some(code) => {
            let digest = recovery_digest(auth, user.id, &code);
            let mut tx = auth.store.begin();
            let used = tx.use_recovery_code(user.id, &digest, auth.now()).await?;
            tx.commit().await?;
            Ok(used)
        }
        None => Ok(false),
    }
}

/// Spends `typed` if it is a valid code, or counts a failure against the account's username
/// (whatever login the password was given with).
async fn spend_code(
    auth: &Auth<'_>,
    user: &User,
    typed: &str,
    peer: IpAddr,
) -> Result<bool, StoreError> {
    let accepted = accept_code(auth, user, typed).await?;
    if !accepted {
        let failure = Failure::SecondFactor;
        password::count_failure(auth, &user.username, peer, Some(user.id), failure).await?;
    }
    Ok(accepted)
}

/// The login's second step: `typed` is a TOTP code or a recovery code of the pending login's user.
pub(crate) async fn second_step(
    auth: &Auth<'_>,
    user: &User,
    typed: &str,
    peer: IpAddr,
) -> Result<Check, StoreError> {
    if let Some(retry_after) = password::over_budget(auth, &user.username, peer) {
        return Ok(Check::Throttled { retry_after });
    }
    if typed.trim().is_empty() {
        return Ok(Check::Missing);
    }
    if !spend_code(auth, user, typed, peer).await? {
        return Ok(Check::Refused);
    }
    password::clear_failures(auth, &user.username);
    Ok(Check::Accepted)
}

// ---- the pending login ----

/// The MAC of a pending login: it stops verifying once the password or the 2-step state changes.
async fn pending_tag(
    auth: &Auth<'_>,
    user: &User,
    expires: i64,
    nonce: &str,
) -> Result<String, StoreError> {
    let two_step = auth.store.two_step(user.id).await?;
    let left = auth.store.recovery_codes_left(user.id).await?;
    let fingerprint = Sha256::digest(user.password_hash.as_bytes());
    let tag = mac(
        auth,
        &[
            b"pending-login",
            &user.id.to_be_bytes(),
            &expires.to_be_bytes(),
            nonce.as_bytes(),
            &fingerprint,
            &two_step.totp_last_step.unwrap_or(-1).to_be_bytes(),
            &left.to_be_bytes(),
        ],
    );
    Ok(URL_SAFE_NO_PAD.encode(tag))
}

/// A pending login for `user`, valid for [`PENDING_TTL`] seconds: `id.expires.nonce.tag`.
pub(crate) async fn pending_login(auth: &Auth<'_>, user: &User) -> Result<String, StoreError> {
    let expires = auth.now() + PENDING_TTL;
    let nonce = random::alphanumeric(auth.random, 32);
    let tag = pending_tag(auth, user, expires, &nonce).await?;
    Ok(format!("{}.{expires}.{nonce}.{tag}", user.id))
}

/// The user of a valid, unexpired pending login.
pub(crate) async fn pending_user(auth: &Auth<'_>, value: &str) -> Result<Option<User>, StoreError> {
    let mut parts = value.split('.');
    let (Some(id), Some(expires), Some(nonce), Some(tag), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Ok(None);
    };
    let (Ok(id), Ok(expires)) = (id.parse::<i64>(), expires.parse::<i64>()) else {
        return Ok(None);
    };
    if expires <= auth.now() || nonce.len() != 32 {
        return Ok(None);
    }
    let Some(user) = auth.store.user_by_id(id).await? else {
        return Ok(None);
    };
    let expected = pending_tag(auth, &user, expires, nonce).await?;
    Ok(secret::digest_eq(expected.as_bytes(), tag.as_bytes()).then_some(user))
}

// ---- enabling and disabling ----

/// A fresh seed to scan.
pub(crate) fn new_seed(auth: &Auth<'_>) -> Vec<u8> {
    random::bytes::<{ rules::SECRET_BYTES }>(auth.random).to_vec()
}

/// A seed being set up, sealed to the user so the settings form can carry it back.
pub(crate) fn seal_setup(auth: &Auth<'_>, user_id: i64, seed: &[u8]) -> String {
    let context = crypto::totp_seed_context(user_id, "setup");
    URL_SAFE_NO_PAD.encode(crypto::seal(&auth.key.0, &context, seed, auth.random))
}

/// The seed a settings form carried back, if it is intact and the user's.
pub(crate) fn open_setup(auth: &Auth<'_>, user_id: i64, sealed: &str) -> Option<Vec<u8>> {
    let sealed = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    crypto::open(
        &auth.key.0,
        &crypto::totp_seed_context(user_id, "setup"),
        &sealed,
    )
    .filter(|seed| seed.len() == rules::SECRET_BYTES)
}

/// Turns 2-step authentication on with `seed`, if `code` is one it produces now.
pub(crate) async fn enable(
    auth: &Auth<'_>,
    user_id: i64,
    seed: &[u8],
    code: &str,
) -> Result<Enabled, StoreError> {
    let Some(step) = rules::verify_code(seed, code, auth.now(), None) else {
        return Ok(Enabled::WrongCode);
    };
    let codes: Vec<String> = (0..rules::RECOVERY_CODES)
        .map(|_| rules::new_recovery_code(auth.random))
        .collect();
    let digests: Vec<[u8; 32]> = codes
        .iter()
        .filter_map(|c| rules::normalise_recovery_code(c))
        .map(|c| recovery_digest(auth, user_id, &c))
        .collect();
    let sealed = crypto::seal(
        &auth.key.0,
        &crypto::totp_seed_context(user_id, "seed"),
        seed,
        auth.random,
    );
    let now = auth.now();
    let mut tx = auth.store.begin();
    if !tx
        .enable_two_step(user_id, &sealed, step, &digests, now)
        .await?
    {
        return Ok(Enabled::Already);
    }
    let event = AuditEvent {
        kind: "two_step_enabled",
        user_id: Some(user_id),
        ..Default::default()
    };
    tx.audit(&event, now).await?;
    tx.commit().await?;
    Ok(Enabled::Now {
        recovery_codes: codes,
    })
}

/// Turns 2-step authentication off, if `code` is a fresh code; throttled like a login.
pub(crate) async fn disable(
    auth: &Auth<'_>,
    user: &User,
    code: &str,
    peer: IpAddr,
) -> Result<Disabled, StoreError> {
    if let Some(retry_after) = password::over_budget(auth, &user.username, peer) {
        return Ok(Disabled::Throttled { retry_after });
    }
    if !auth.store.two_step(user.id).await?.enabled() {
        return Ok(Disabled::Already);
    }
    if !spend_code(auth, user, code, peer).await? {
        return Ok(Disabled::Refused);
    }
    let mut tx = auth.store.begin();
    tx.disable_two_step(user.id).await?;
    let event = AuditEvent {
        kind: "two_step_disabled",
        user_id: Some(user.id),
        peer: Some(peer.to_string()),
        ..Default::default()
    };
    tx.audit(&event, auth.now()).await?;
    tx.commit().await?;
    Ok(Disabled::Now)
}
