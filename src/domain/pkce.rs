//! PKCE (RFC 7636) under Latchkey's S256-only policy: checking the challenge at authorize, the
//! verifier's syntax at the token endpoint, and the verification itself (oauth2.md §8; security.md
//! AC07–AC09; RFC 9700 §2.1.1).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Length of BASE64URL-NOPAD(SHA-256(…)): 32 bytes → 43 characters.
pub const CHALLENGE_LEN: usize = 43;
/// Shortest `code_verifier` RFC 7636 §4.1 allows.
pub const VERIFIER_MIN_LEN: usize = 43;
/// Longest `code_verifier` RFC 7636 §4.1 allows.
pub const VERIFIER_MAX_LEN: usize = 128;

/// Why a PKCE parameter is refused. Each message says what the client should send instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    #[error(
        "code_challenge_method is missing, which RFC 7636 §4.3 reads as \"plain\"; Latchkey accepts \
         only S256: send code_challenge_method=S256 with code_challenge = \
         BASE64URL(SHA256(code_verifier))"
    )]
    MethodMissing,
    #[error(
        "code_challenge_method \"plain\" is refused because it does not protect an intercepted code; \
         send code_challenge_method=S256 with code_challenge = BASE64URL(SHA256(code_verifier))"
    )]
    PlainRefused,
    #[error(
        "code_challenge_method {0:?} is not supported; the only accepted value is \"S256\" (case-sensitive)"
    )]
    UnsupportedMethod(String),
    #[error(
        "code_challenge is {len} characters long; an S256 challenge is BASE64URL(SHA256(code_verifier)) \
         without '=' padding, exactly 43 characters"
    )]
    ChallengeLength { len: usize },
    #[error(
        "code_challenge has {ch:?} at position {position}; an S256 challenge uses only the base64url \
         alphabet A-Z a-z 0-9 '-' '_' without '=' padding"
    )]
    ChallengeCharacter { ch: char, position: usize },
    #[error(
        "code_challenge is not the base64url encoding of a 32-byte SHA-256 digest (its last character \
         carries non-zero padding bits); compute it as BASE64URL-NOPAD(SHA256(code_verifier))"
    )]
    ChallengeNotDigest,
    #[error(
        "code_verifier is {len} characters long; RFC 7636 §4.1 requires 43 to 128 characters \
         (e.g. BASE64URL of 32 random bytes)"
    )]
    VerifierLength { len: usize },
    #[error(
        "code_verifier has {ch:?} at position {position}; RFC 7636 §4.1 allows only A-Z a-z 0-9 and \
         '-' '.' '_' '~'"
    )]
    VerifierCharacter { ch: char, position: usize },
}

/// Checks `code_challenge` and `code_challenge_method` at authorize (RFC 7636 §4.2–§4.4, security.md
/// AC09). An absent or empty method is RFC 7636's default, `plain`, so it is refused like `plain`.
///
/// Beyond the RFC's `[A-Za-z0-9-._~]{43,128}`, the challenge must be exactly what S256 produces: 43
/// base64url characters decoding to 32 bytes. Anything else could never verify, so refusing it here
/// tells the client at once instead of failing later at the token endpoint.
pub fn validate_challenge(challenge: &str, method: Option<&str>) -> Result<(), PkceError> {
    match method {
        None | Some("") => return Err(PkceError::MethodMissing),
        Some("S256") => {}
        Some("plain") => return Err(PkceError::PlainRefused),
        Some(other) => return Err(PkceError::UnsupportedMethod(other.to_owned())),
    }
    let len = challenge.chars().count();
    if len != CHALLENGE_LEN {
        return Err(PkceError::ChallengeLength { len });
    }
    if let Some((position, ch)) = challenge
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(PkceError::ChallengeCharacter { ch, position });
    }
    // The base64 engine refuses non-canonical trailing bits, so this is "is a 32-byte digest".
    let mut digest = [0u8; 32];
    match URL_SAFE_NO_PAD.decode_slice(challenge, &mut digest) {
        Ok(32) => Ok(()),
        _ => Err(PkceError::ChallengeNotDigest),
    }
}

/// Checks `code_verifier`'s syntax at the token endpoint (RFC 7636 §4.1): 43–128 characters of
/// `[A-Za-z0-9-._~]`.
pub fn validate_verifier(verifier: &str) -> Result<(), PkceError> {
    let len = verifier.chars().count();
    if !(VERIFIER_MIN_LEN..=VERIFIER_MAX_LEN).contains(&len) {
        return Err(PkceError::VerifierLength { len });
    }
    match verifier
        .chars()
        .enumerate()
        .find(|(_, c)| !is_unreserved(*c))
    {
        Some((position, ch)) => Err(PkceError::VerifierCharacter { ch, position }),
        None => Ok(()),
    }
}

/// Whether `verifier` answers `challenge` (RFC 7636 §4.6): BASE64URL-NOPAD(SHA256(verifier)) equals
/// the stored challenge, compared in constant time. A verifier that fails [`validate_verifier`] never
/// verifies, so a client that hashed a too-short secret cannot get a token with it.
pub fn verify(verifier: &str, challenge: &str) -> bool {
    if validate_verifier(verifier).is_err() {
        return false;
    }
    let digest = Sha256::digest(verifier.as_bytes());
    let mut computed = [0u8; CHALLENGE_LEN];
    match URL_SAFE_NO_PAD.encode_slice(digest, &mut computed) {
        Ok(CHALLENGE_LEN) => computed.ct_eq(challenge.as_bytes()).into(),
        _ => false,
    }
}

/// RFC 3986 §2.3 unreserved characters, the verifier's alphabet.
fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 7636 Appendix B.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn the_rfc_7636_appendix_b_vector_verifies() {
        assert_eq!(validate_verifier(RFC_VERIFIER), Ok(()));
        assert_eq!(validate_challenge(RFC_CHALLENGE, Some("S256")), Ok(()));
        assert!(verify(RFC_VERIFIER, RFC_CHALLENGE));
    }

    #[test]
    fn a_wrong_verifier_or_a_changed_challenge_does_not_verify() {
        let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
        assert!(!verify(wrong, RFC_CHALLENGE));
        assert!(!verify(
            RFC_VERIFIER,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cA"
        ));
        assert!(!verify(RFC_VERIFIER, ""));
        assert!(!verify(RFC_VERIFIER, &format!("{RFC_CHALLENGE}=")));
        assert!(!verify(RFC_VERIFIER, RFC_VERIFIER));
    }

    #[test]
    fn a_malformed_verifier_never_verifies_even_against_its_own_hash() {
        let short = "abc";
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(short));
        assert!(!verify(short, &challenge));
    }

    #[test]
    fn only_the_s256_method_is_accepted() {
        let cases: &[(Option<&str>, PkceError)] = &[
            (None, PkceError::MethodMissing),
            (Some(""), PkceError::MethodMissing),
            (Some("plain"), PkceError::PlainRefused),
            (Some("s256"), PkceError::UnsupportedMethod("s256".into())),
            (Some("S512"), PkceError::UnsupportedMethod("S512".into())),
            (Some("S256 "), PkceError::UnsupportedMethod("S256 ".into())),
        ];
        for (method, expected) in cases {
            let err = validate_challenge(RFC_CHALLENGE, *method).unwrap_err();
            assert_eq!(&err, expected, "{method:?}");
            assert!(err.to_string().contains("S256"), "{err}");
        }
    }

    #[test]
    fn malformed_challenges_are_refused() {
        let c42 = &RFC_CHALLENGE[..42];
        let c129 = "A".repeat(129);
        let with = |i: usize, ch: char| {
            let mut s: Vec<char> = RFC_CHALLENGE.chars().collect();
            s[i] = ch;
            s.into_iter().collect::<String>()
        };
        let cases: Vec<(String, PkceError)> = vec![
            (String::new(), PkceError::ChallengeLength { len: 0 }),
            (c42.into(), PkceError::ChallengeLength { len: 42 }),
            (c129, PkceError::ChallengeLength { len: 129 }),
            (
                format!("{RFC_CHALLENGE}="),
                PkceError::ChallengeLength { len: 44 },
            ),
            (
                with(5, '.'),
                PkceError::ChallengeCharacter {
                    ch: '.',
                    position: 5,
                },
            ),
            (
                with(0, '~'),
                PkceError::ChallengeCharacter {
                    ch: '~',
                    position: 0,
                },
            ),
            (
                with(7, '+'),
                PkceError::ChallengeCharacter {
                    ch: '+',
                    position: 7,
                },
            ),
            (
                with(9, '/'),
                PkceError::ChallengeCharacter {
                    ch: '/',
                    position: 9,
                },
            ),
            (
                with(3, ' '),
                PkceError::ChallengeCharacter {
                    ch: ' ',
                    position: 3,
                },
            ),
            (
                with(42, 'é'),
                PkceError::ChallengeCharacter {
                    ch: 'é',
                    position: 42,
                },
            ),
            (with(42, 'N'), PkceError::ChallengeNotDigest),
        ];
        for (challenge, expected) in cases {
            assert_eq!(
                validate_challenge(&challenge, Some("S256")),
                Err(expected),
                "{challenge:?}"
            );
        }
    }

    #[test]
    fn verifier_length_and_alphabet_follow_rfc_7636() {
        assert_eq!(validate_verifier(&"a".repeat(43)), Ok(()));
        assert_eq!(validate_verifier(&"~._-Az9".repeat(19)[..128]), Ok(()));
        let cases: Vec<(String, PkceError)> = vec![
            (String::new(), PkceError::VerifierLength { len: 0 }),
            ("a".repeat(42), PkceError::VerifierLength { len: 42 }),
            ("a".repeat(129), PkceError::VerifierLength { len: 129 }),
            (
                format!("{}+", "a".repeat(42)),
                PkceError::VerifierCharacter {
                    ch: '+',
                    position: 42,
                },
            ),
            (
                format!("={}", "a".repeat(42)),
                PkceError::VerifierCharacter {
                    ch: '=',
                    position: 0,
                },
            ),
            (
                format!("{}é", "a".repeat(42)),
                PkceError::VerifierCharacter {
                    ch: 'é',
                    position: 42,
                },
            ),
        ];
        for (verifier, expected) in cases {
            assert_eq!(validate_verifier(&verifier), Err(expected), "{verifier:?}");
        }
    }

    proptest! {
        #[test]
        fn any_valid_verifier_verifies_against_its_own_challenge(v in "[A-Za-z0-9._~-]{43,128}") {
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(&v));
            prop_assert_eq!(validate_challenge(&challenge, Some("S256")), Ok(()));
            prop_assert!(verify(&v, &challenge));
        }

        #[test]
        fn checks_never_panic(s in any::<String>(), t in any::<String>()) {
            let _ = validate_challenge(&s, Some("S256"));
            let _ = validate_verifier(&s);
            let _ = verify(&s, &t);
        }
    }
}
