//! Secrets that must be recoverable (OAuth1 consumer and token secrets are HMAC keys; TOTP seeds)
//! are sealed with XChaCha20-Poly1305 under the server's secret key. The stored form is
//! `nonce (24 bytes) || ciphertext+tag`.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::random::{Random, bytes};

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
}
