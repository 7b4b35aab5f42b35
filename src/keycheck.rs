//! Does this process hold the key the database's sealed secrets were sealed with?
//!
//! The first process that opens a database with a key (`serve`, or a CLI command that seals or
//! opens secrets) records an HMAC-SHA256 of a fixed label under that key in `key_check`. Every
//! later such process compares its own value and stops, with a message naming the settings to
//! fix, when it differs: a CLI run without the server's `LATCHKEY_SECRET_KEY` would otherwise seal
//! a consumer secret no server can open, and a server started with another key would answer
//! `consumer_key_unknown` to every OAuth1 client. A database from before the check is tested
//! against one of its sealed consumer secrets before the value is recorded.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::crypto::{self, CONSUMER_SECRET_CONTEXT};
use crate::store::{Store, StoreError};

const LABEL: &[u8] = b"latchkey key check v1";

#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyCheckError {
    #[error(
        "the secret key cannot open this database's sealed secrets (OAuth1 consumer secrets, \
         2-step seeds): it is not the key the server uses. Give this command the server's key \
         (LATCHKEY_SECRET_KEY, or secret_key_file) with the same LATCHKEY_DATABASE_URL"
    )]
    WrongKey,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The value recorded for `key`: it identifies the key without revealing it.
pub(crate) fn check_value(key: &[u8; 32]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(LABEL);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks `key` against the database, recording it when the database has no value yet.
pub(crate) async fn verify(store: &Store, key: &[u8; 32], now: i64) -> Result<(), KeyCheckError> {
    let mine = check_value(key);
    let recorded = match store.key_check().await? {
        Some(value) => value,
        None => {
            if let Some(sealed) = store.any_sealed_consumer_secret().await?
                && crypto::open(key, CONSUMER_SECRET_CONTEXT, &sealed).is_none()
            {
                return Err(KeyCheckError::WrongKey);
            }
            store.record_key_check(&mine, now).await?
        }
    };
    if bool::from(recorded.as_bytes().ct_eq(mine.as_bytes())) {
        Ok(())
    } else {
        Err(KeyCheckError::WrongKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_value_differs_per_key_and_hides_it() {
        let one = check_value(&[1; 32]);
        assert_eq!(one, check_value(&[1; 32]));
        assert_ne!(one, check_value(&[2; 32]));
        assert!(!one.contains(&hex::encode([1u8; 32])));
    }
}
