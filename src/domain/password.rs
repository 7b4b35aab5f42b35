//! Password hashing: argon2id with the OWASP minimum parameters (m=19456 KiB, t=2, p=1), PHC strings
//! at rest. Verification is exact: no trimming, truncation or case folding.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Passwords longer than this are refused before any hashing (security.md, limits).
pub const MAX_PASSWORD_BYTES: usize = 1024;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string with a fresh 16-byte salt from `salt`.
pub fn hash(password: &str, salt: [u8; 16]) -> String {
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt length");
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id hashing with valid parameters cannot fail")
        .to_string()
}

/// Verifies a password against a PHC string. A malformed stored hash never verifies.
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A fixed hash to verify against when the user does not exist, so that the time taken does not
/// reveal which usernames exist.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("latchkey-dummy-password", [7u8; 16]))
}

/// True when the stored hash uses weaker parameters than today's, so it should be rehashed.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm.as_str() != "argon2id" || params.m_cost() < 19_456 || params.t_cost() < 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_phc_strings_with_owasp_parameters() {
        let phc = hash("correct horse battery", [1u8; 16]);
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse battery", &phc));
        assert!(!needs_rehash(&phc));
    }

    #[test]
    fn verification_is_exact() {
        let phc = hash("Secret pass", [2u8; 16]);
        for wrong in [
            "secret pass",
            "Secret pass ",
            " Secret pass",
            "Secret pas",
            "",
        ] {
            assert!(!verify(wrong, &phc), "{wrong:?} must not verify");
        }
        assert!(!verify("x", "not a phc string"));
    }
}
