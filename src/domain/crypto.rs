//! Secrets that must be recoverable (OAuth1 consumer and token secrets are HMAC keys; TOTP seeds)
//! are sealed with XChaCha20-Poly1305 under the server's secret key. The stored form is
//! `nonce (24 bytes) || ciphertext+tag`.
//!
//! Every purpose a value is sealed for has its context declared here, in one list, so that no two
//! purposes share one: a value sealed for one purpose never opens as another.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::random::{Random, bytes};

/// OAuth1 consumer secrets (`apps.oauth1_secret_enc`).
pub const CONSUMER_SECRET_CONTEXT: &str = "oauth1-consumer-secret";
/// OAuth1 request-token secrets.
pub const REQUEST_SECRET_CONTEXT: &str = "oauth1-request-token-secret";
/// OAuth1 access-token secrets.
pub const ACCESS_SECRET_CONTEXT: &str = "oauth1-access-token-secret";
/// OAuth1 verifiers, kept sealed until the access-token exchange.
pub const OAUTH1_VERIFIER_CONTEXT: &str = "oauth1-verifier";
/// The one-time flash message cookie of the pages.
pub const FLASH_CONTEXT: &str = "page-flash";
/// OpenID Connect signing keys' private parts (`signing_keys.private_key_enc`, PKCS#8 DER).
pub const SIGNING_KEY_CONTEXT: &str = "oidc-signing-key";

/// The fixed contexts above, for the test that keeps them apart.
#[cfg(test)]
const FIXED_CONTEXTS: [&str; 6] = [
    CONSUMER_SECRET_CONTEXT,
    REQUEST_SECRET_CONTEXT,
    ACCESS_SECRET_CONTEXT,
    OAUTH1_VERIFIER_CONTEXT,
    FLASH_CONTEXT,
    SIGNING_KEY_CONTEXT,
];

/// A user's TOTP seed (`purpose` `"seed"` once enabled, `"setup"` while being set up), bound to the
/// account so a sealed seed cannot be moved to another one.
pub fn totp_seed_context(user_id: i64, purpose: &str) -> String {
    format!("{TOTP_PREFIX}{purpose}:{user_id}")
}

const TOTP_PREFIX: &str = "totp-";

/// Encrypts `plaintext`; `context` (e.g. `"oauth1-consumer"`) is bound as associated data so a
/// value sealed for one purpose cannot be replayed into another column.
pub fn seal(key: &[u8; 32], context: &str, plaintext: &[u8], random: &dyn Random) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let nonce: [u8; 24] = bytes(random);
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: context.as_bytes(),
            },
        )
        .expect("XChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
    let mut out = Vec::with_capacity(24 + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

/// Decrypts what [`seal`] produced; `None` when the key, context or data do not match.
pub fn open(key: &[u8; 32], context: &str, sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < 24 {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(24);
    XChaCha20Poly1305::new(key.into())
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: context.as_bytes(),
            },
        )
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::random::OsRandom;

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_context() {
        let key = [9u8; 32];
        let sealed = seal(&key, "oauth1-consumer", b"ks1", &OsRandom);
        assert!(!sealed.windows(3).any(|w| w == b"ks1"));
        assert_eq!(
            open(&key, "oauth1-consumer", &sealed).as_deref(),
            Some(&b"ks1"[..])
        );
        assert_eq!(open(&[8u8; 32], "oauth1-consumer", &sealed), None);
        assert_eq!(open(&key, "totp", &sealed), None);
        assert_eq!(open(&key, "oauth1-consumer", &sealed[..10]), None);
    }

    #[test]
    fn no_two_purposes_share_a_sealing_context() {
        let mut seen = std::collections::HashSet::new();
        for context in FIXED_CONTEXTS {
            assert!(seen.insert(context), "{context} is declared twice");
            assert!(
                !context.starts_with(TOTP_PREFIX),
                "{context} could be taken for a TOTP seed's context"
            );
        }
        assert_ne!(totp_seed_context(1, "seed"), totp_seed_context(1, "setup"));
        assert_ne!(totp_seed_context(1, "seed"), totp_seed_context(2, "seed"));
    }
}
