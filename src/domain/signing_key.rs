//! RSA key material for OpenID Connect ID tokens (oauth21.md §6): generation from the injected
//! random source, the PKCS#8 form that is sealed and stored, the PKCS#1 form the signer takes, and
//! the public JWK members (`n`, `e`) with the RFC 7638 thumbprint that serves as `kid`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use rsa::traits::PublicKeyParts as _;
use sha2::{Digest, Sha256};

use super::random::Random;

/// The only signing algorithm (`id_token_signing_alg_values_supported`).
pub const ALG: &str = "RS256";
/// Modulus size of new keys: the RS256 minimum of RFC 7518 §3.3, and what every peer uses.
pub const BITS: usize = 2048;

/// A freshly made key: the private part (PKCS#8 DER, to be sealed) and its public JWK members.
pub struct KeyMaterial {
    pub kid: String,
    pub pkcs8_der: Vec<u8>,
    pub n: String,
    pub e: String,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("RSA key generation failed: {0}")]
    Generate(rsa::Error),
    #[error("the stored signing key is not a PKCS#8 RSA private key")]
    Malformed,
}

/// The injected [`Random`] as the `rand_core` generator `rsa` takes, so key generation uses the
/// same source as every other secret (tests may inject their own).
struct Rng<'a>(&'a dyn Random);

impl rand::RngCore for Rng<'_> {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.0.fill(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.0.fill(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.0.fill(dest);
        Ok(())
    }
}

/// `Random` promises a cryptographically secure source.
impl rand::CryptoRng for Rng<'_> {}

/// Makes a new [`BITS`]-bit RSA key (e = 65537). CPU-heavy (a fraction of a second to seconds):
/// callers run it off the async runtime.
pub fn generate(random: &dyn Random) -> Result<KeyMaterial, KeyError> {
    let key = rsa::RsaPrivateKey::new(&mut Rng(random), BITS).map_err(KeyError::Generate)?;
    let pkcs8_der = key
        .to_pkcs8_der()
        .map_err(|_| KeyError::Malformed)?
        .as_bytes()
        .to_vec();
    let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
    Ok(KeyMaterial {
        kid: thumbprint(&n, &e),
        pkcs8_der,
        n,
        e,
    })
}

/// The RFC 7638 JWK thumbprint (SHA-256, base64url) of an RSA public key: a `kid` that names the
/// key itself, so two instances can never give one `kid` to two keys.
pub fn thumbprint(n: &str, e: &str) -> String {
    // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The PKCS#1 DER form of a stored PKCS#8 key, which the RS256 signer (ring) takes.
pub fn pkcs1_der(pkcs8_der: &[u8]) -> Result<Vec<u8>, KeyError> {
    let key = rsa::RsaPrivateKey::from_pkcs8_der(pkcs8_der).map_err(|_| KeyError::Malformed)?;
    Ok(key
        .to_pkcs1_der()
        .map_err(|_| KeyError::Malformed)?
        .as_bytes()
        .to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::random::OsRandom;

    #[test]
    fn a_generated_key_round_trips_and_its_kid_is_its_thumbprint() {
        let key = generate(&OsRandom).unwrap();
        assert_eq!(key.e, "AQAB", "e = 65537");
        assert_eq!(URL_SAFE_NO_PAD.decode(&key.n).unwrap().len(), BITS / 8);
        assert_eq!(key.kid, thumbprint(&key.n, &key.e));
        assert!(!pkcs1_der(&key.pkcs8_der).unwrap().is_empty());
        assert!(matches!(pkcs1_der(b"junk"), Err(KeyError::Malformed)));
    }

    #[test]
    fn the_thumbprint_matches_rfc_7638s_example() {
        // RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
