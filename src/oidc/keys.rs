//! The signing keys of ID tokens (oauth21.md §6): made on first need (and at `serve` start), stored
//! sealed in the database so every instance signs with the same key, rotated by `latchkey keys
//! rotate`, and published in the JWKS while current or within `oauth21.key_overlap_secs` of their
//! retirement.
//!
//! Signing does not read the database: each process keeps the current signer (the key opened from
//! its seal) in [`SignerCache`] for [`signer_ttl`] — [`SIGNER_TTL_SECS`], or the overlap when that
//! is shorter — then reads the current key again. So a `keys rotate` run by any process takes
//! effect on every instance within that time; until then an instance may still sign with the key
//! just retired, which the JWKS keeps publishing for the whole overlap, so those ID tokens verify.

use std::sync::Arc;

use crate::domain::crypto::{self, SIGNING_KEY_CONTEXT};
use crate::domain::random::Random;
use crate::domain::signing_key::{self, ALG, KeyError, KeyMaterial};
use crate::store::{AuditEvent, NewSigningKey, Reported, SigningKey, Store, StoreError};

/// Why a signing key could not be made, read or used.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(
        "the current signing key cannot be opened with this server's secret key (was it made by a \
         process holding another LATCHKEY_SECRET_KEY?)"
    )]
    Sealed,
    #[error("the RS256 signer refused the key or the claims: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
    #[error("key generation did not complete")]
    Canceled,
    #[error("another rotation made a new key at the same time; run `latchkey keys list`")]
    RotatedConcurrently,
}

impl KeysError {
    /// Logs the failure once and says how a request answers it (as [`StoreError::report`]).
    pub fn report(self) -> Reported {
        match self {
            KeysError::Store(e) => e.report(),
            other => {
                tracing::error!(error = %other, "signing key failure");
                Reported::Internal
            }
        }
    }
}

/// Makes a key on a blocking thread: generation takes from a fraction of a second to seconds.
async fn generate(random: Arc<dyn Random>) -> Result<KeyMaterial, KeysError> {
    tokio::task::spawn_blocking(move || signing_key::generate(&*random))
        .await
        .map_err(|_| KeysError::Canceled)?
        .map_err(KeysError::from)
}

fn sealed(key: &[u8; 32], made: &KeyMaterial, random: &dyn Random) -> Vec<u8> {
    crypto::seal(key, SIGNING_KEY_CONTEXT, &made.pkcs8_der, random)
}

fn new_key<'a>(made: &'a KeyMaterial, private_key_enc: &'a [u8]) -> NewSigningKey<'a> {
    NewSigningKey {
        kid: &made.kid,
        alg: ALG,
        private_key_enc,
        public_n: &made.n,
        public_e: &made.e,
    }
}

/// The current signing key, made and stored first if there is none. Instances racing to make the
/// first key all end with the one that was stored first (insert-if-none on a unique column).
pub(crate) async fn ensure(
    store: &Store,
    key: &[u8; 32],
    random: &Arc<dyn Random>,
    now: i64,
) -> Result<SigningKey, KeysError> {
    if let Some(current) = store.current_signing_key().await? {
        return Ok(current);
    }
    // One generation at a time in this process: requests that arrive together while there is no
    // key wait for the first one's instead of each spending a second of CPU on a key that loses
    // the insert. (Other instances are settled by the unique column.)
    static MAKING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _making = MAKING.lock().await;
    if let Some(current) = store.current_signing_key().await? {
        return Ok(current);
    }
    let made = generate(Arc::clone(random)).await?;
    let enc = sealed(key, &made, &**random);
    let mut tx = store.begin();
    let stored = tx
        .insert_first_signing_key(&new_key(&made, &enc), now)
        .await?;
    tx.commit().await?;
    if stored {
        tracing::info!(kid = %made.kid, "made the first ID token signing key");
    }
    store
        .current_signing_key()
        .await?
        .ok_or(KeysError::RotatedConcurrently)
}

/// What a rotation did.
#[derive(Debug)]
pub(crate) struct Rotated {
    pub kid: String,
    pub retired: Option<String>,
}

/// Makes a new current key; the previous one stays published for the overlap (`latchkey keys
/// rotate`). The rotation is audited (`signing_key_rotated`, with both kids: they are public, in
/// the JWKS) on the rotation's transaction; `by` says who rotated (the CLI writes `cli`).
pub(crate) async fn rotate(
    store: &Store,
    key: &[u8; 32],
    random: &Arc<dyn Random>,
    by: &str,
    now: i64,
) -> Result<Rotated, KeysError> {
    let made = generate(Arc::clone(random)).await?;
    let enc = sealed(key, &made, &**random);
    let mut tx = store.begin();
    let retired = tx
        .rotate_signing_key(&new_key(&made, &enc), now)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => KeysError::RotatedConcurrently,
            other => KeysError::Store(other),
        })?;
    let detail = match &retired {
        Some(old) => format!("{by}: kid {} replaces {old}", made.kid),
        None => format!("{by}: kid {} (the first key)", made.kid),
    };
    let event = AuditEvent {
        kind: "signing_key_rotated",
        detail: &detail,
        ..Default::default()
    };
    tx.audit(&event, now).await?;
    tx.commit().await?;
    Ok(Rotated {
        kid: made.kid,
        retired,
    })
}

/// The keys a JWKS lists now: the current one (made if missing) and those retired less than
/// `overlap` seconds ago.
pub(crate) async fn published(
    store: &Store,
    key: &[u8; 32],
    random: &Arc<dyn Random>,
    overlap: i64,
    now: i64,
) -> Result<Vec<SigningKey>, KeysError> {
    let keys = store.published_signing_keys(now - overlap).await?;
    if keys.iter().any(|k| k.is_current) {
        return Ok(keys);
    }
    ensure(store, key, random, now).await?;
    Ok(store.published_signing_keys(now - overlap).await?)
}

/// The current key, ready to sign: its `kid` and the RS256 signer.
pub(crate) struct Signer {
    pub kid: String,
    pub key: jsonwebtoken::EncodingKey,
}

impl Signer {
    pub(crate) fn open(stored: &SigningKey, key: &[u8; 32]) -> Result<Self, KeysError> {
        let pkcs8 = crypto::open(key, SIGNING_KEY_CONTEXT, &stored.private_key_enc)
            .ok_or(KeysError::Sealed)?;
        let pkcs1 = signing_key::pkcs1_der(&pkcs8)?;
        Ok(Signer {
            kid: stored.kid.clone(),
            key: jsonwebtoken::EncodingKey::from_rsa_der(&pkcs1),
        })
    }
}

/// How long a process signs with the signer it last read before reading the current key again.
pub const SIGNER_TTL_SECS: i64 = 60;

/// The cache lifetime under an overlap of `overlap` seconds: never longer than the overlap, so a
/// token signed with a cached, just-retired key verifies against the JWKS for as long as any
/// other token signed before the rotation does (an overlap of 0 turns the cache off).
pub fn signer_ttl(overlap: i64) -> i64 {
    SIGNER_TTL_SECS.min(overlap).max(0)
}

/// The current signer of this process and when it was read (see the module doc).
#[derive(Default)]
pub struct SignerCache {
    slot: std::sync::Mutex<Option<(Arc<Signer>, i64)>>,
}

impl std::fmt::Debug for SignerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignerCache(..)")
    }
}

impl SignerCache {
    /// The cached signer while it is younger than `ttl` (and the clock has not gone back).
    pub(crate) fn fresh(&self, now: i64, ttl: i64) -> Option<Arc<Signer>> {
        let slot = self.slot.lock().ok()?;
        slot.as_ref()
            .filter(|(_, read_at)| now >= *read_at && now - *read_at < ttl)
            .map(|(signer, _)| Arc::clone(signer))
    }

    pub(crate) fn keep(&self, signer: &Arc<Signer>, now: i64) {
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some((Arc::clone(signer), now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signer_ttl_is_a_minute_capped_by_the_key_overlap() {
        assert_eq!(signer_ttl(24 * 3600), SIGNER_TTL_SECS);
        assert_eq!(signer_ttl(10), 10);
        assert_eq!(signer_ttl(0), 0);
    }

    #[test]
    fn a_cached_signer_is_fresh_for_the_ttl_only_and_never_when_the_clock_went_back() {
        let cache = SignerCache::default();
        assert!(cache.fresh(100, 60).is_none());
        let signer = Arc::new(Signer {
            kid: "k".into(),
            key: jsonwebtoken::EncodingKey::from_secret(b"unused"),
        });
        cache.keep(&signer, 100);
        assert!(cache.fresh(100, 60).is_some());
        assert!(cache.fresh(159, 60).is_some());
        assert!(cache.fresh(160, 60).is_none());
        assert!(cache.fresh(99, 60).is_none());
        assert!(cache.fresh(100, 0).is_none());
    }
}
