//! Bearer secrets — access tokens, authorization codes, session ids and client secrets:
//! their format, minting, the allocation-free well-formedness check that runs before any database
//! lookup, and the SHA-256 digest they are stored as (oauth2.md §3, §5; security.md "Tokens";
//! performance.md `token-info-invalid`).
//!
//! Format: `prefix` (5 characters, e.g. `lkat_`) + BASE64URL-NOPAD of 32 random bytes (43 characters,
//! 256 bits) + a 6-character base62 CRC32 of the prefix and body — 54 characters, all of them in
//! `[A-Za-z0-9_-]`, so a token survives URLs, headers, forms and shells unescaped. The prefix lets
//! secret scanners recognise a leaked Latchkey token and its kind; the checksum lets the server turn
//! away a mistyped or made-up token without touching the database. Neither adds secrecy: all of it
//! comes from the 32 random bytes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::random::{self, Random};

/// Length of every prefix, `_` included.
pub const PREFIX_LEN: usize = 5;
/// Length of the random body: 32 bytes in unpadded base64url.
pub const BODY_LEN: usize = 43;
/// Length of the base62 CRC32 checksum (62⁶ > 2³², so six digits always suffice).
pub const CHECKSUM_LEN: usize = 6;
/// Length of every secret Latchkey mints.
pub const LEN: usize = PREFIX_LEN + BODY_LEN + CHECKSUM_LEN;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// What a secret is for. Each kind has its own prefix, so a token of one kind is never accepted
/// where another is expected, even before the database is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    AccessToken,
    AuthCode,
    Session,
    ClientSecret,
    /// A refresh token of the OAuth 2.1 server (oauth21.md §3).
    RefreshToken,
    /// RFC 7592's registration access token of a self-registered client.
    RegistrationAccess,
    /// An initial access token for RFC 7591 registration (`latchkey app registration-token`).
    InitialAccess,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::AccessToken,
        Kind::AuthCode,
        Kind::Session,
        Kind::ClientSecret,
        Kind::RegistrationAccess,
        Kind::InitialAccess,
        Kind::RefreshToken,
    ];

    /// The prefix of this kind's secrets ("latchkey" + the kind's initials + `_`).
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::AccessToken => "lkat_",
            Kind::AuthCode => "lkac_",
            Kind::Session => "lkss_",
            Kind::ClientSecret => "lkcs_",
            Kind::RegistrationAccess => "lkra_",
            Kind::InitialAccess => "lkia_",
            Kind::RefreshToken => "lkrt_",
        }
    }
}

/// A new secret of the given kind, from 32 bytes of `rng`.
pub fn mint(kind: Kind, rng: &dyn Random) -> String {
    let bytes = random::bytes::<32>(rng);
    let mut out = String::with_capacity(LEN);
    out.push_str(kind.prefix());
    URL_SAFE_NO_PAD.encode_string(bytes, &mut out);
    for digit in base62_checksum(crc32fast::hash(out.as_bytes())) {
        out.push(char::from(digit));
    }
    debug_assert_eq!(out.len(), LEN);
    out
}

/// Whether `s` has the shape of a secret of this kind: length, prefix, alphabet, canonical body and
/// checksum. No allocation: one pass over 54 bytes and a CRC of 48, cheap enough to run on every
/// request before any lookup, so scanning with made-up tokens never reaches the database. A `true`
/// says nothing about whether the secret exists: only the database knows that.
pub fn well_formed(kind: Kind, s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.len() != LEN || !bytes.starts_with(kind.prefix().as_bytes()) {
        return false;
    }
    let (signed, checksum) = bytes.split_at(PREFIX_LEN + BODY_LEN);
    let body = &signed[PREFIX_LEN..];
    let mut last = 0;
    for &c in body {
        match base64url_value(c) {
            Some(v) => last = v,
            None => return false,
        }
    }
    // 43 characters carry 258 bits for 256 of data: an encoder always leaves the last two zero.
    if last & 0b11 != 0 {
        return false;
    }
    let mut value: u64 = 0;
    for &c in checksum {
        match base62_value(c) {
            Some(v) => value = value * 62 + v,
            None => return false,
        }
    }
    value == u64::from(crc32fast::hash(signed))
}

/// The SHA-256 digest a secret is stored and looked up by. A plain hash (not a password KDF) is
/// enough: the secret has 256 random bits, so there is nothing to brute-force (oauth2.md §4).
pub fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Constant-time equality of two digests (or any byte strings); different lengths are unequal.
pub fn digest_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// `crc` as six base62 digits, most significant first, zero-padded.
fn base62_checksum(mut crc: u32) -> [u8; CHECKSUM_LEN] {
    let mut digits = [BASE62[0]; CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(crc % 62) as usize];
        crc /= 62;
    }
    digits
}

fn base62_value(c: u8) -> Option<u64> {
    let v = match c {
        b'0'..=b'9' => c - b'0',
        b'A'..=b'Z' => c - b'A' + 10,
        b'a'..=b'z' => c - b'a' + 36,
        _ => return None,
    };
    Some(u64::from(v))
}

fn base64url_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::random::OsRandom;
    use proptest::prelude::*;

    /// Hands out the same bytes again and again, so a minted secret is predictable.
    struct Fixed([u8; 32]);

    impl Random for Fixed {
        fn fill(&self, buf: &mut [u8]) {
            for (b, v) in buf.iter_mut().zip(self.0.iter().cycle()) {
                *b = *v;
            }
        }
    }

    const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    fn counting() -> Fixed {
        Fixed(std::array::from_fn(|i| i as u8))
    }

    #[test]
    fn the_format_is_prefix_body_and_checksum() {
        let token = mint(Kind::AccessToken, &counting());
        let body = URL_SAFE_NO_PAD.encode(std::array::from_fn::<u8, 32, _>(|i| i as u8));
        let crc = crc32fast::hash(format!("lkat_{body}").as_bytes());
        let checksum = String::from_utf8(base62_checksum(crc).to_vec()).unwrap();
        assert_eq!(token, format!("lkat_{body}{checksum}"));
        assert_eq!(
            token,
            "lkat_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh84JQ9Ie"
        );
    }

    #[test]
    fn base62_checksums_are_six_zero_padded_digits() {
        assert_eq!(&base62_checksum(0), b"000000");
        assert_eq!(&base62_checksum(61), b"00000z");
        assert_eq!(&base62_checksum(62), b"000010");
        assert_eq!(&base62_checksum(u32::MAX), b"4gfFC3");
    }

    #[test]
    fn minted_secrets_are_well_formed_for_their_own_kind_only() {
        for kind in Kind::ALL {
            let s = mint(kind, &OsRandom);
            assert_eq!(s.len(), LEN);
            assert!(s.starts_with(kind.prefix()));
            assert!(s.bytes().all(|b| URL_SAFE.contains(&b)), "{s}");
            assert!(well_formed(kind, &s), "{s}");
            for other in Kind::ALL.into_iter().filter(|k| *k != kind) {
                assert!(!well_formed(other, &s), "{s} as {other:?}");
            }
        }
    }

    #[test]
    fn prefixes_are_distinct_and_five_characters_long() {
        for kind in Kind::ALL {
            assert_eq!(kind.prefix().len(), PREFIX_LEN, "{kind:?}");
            let same = Kind::ALL
                .iter()
                .filter(|k| k.prefix() == kind.prefix())
                .count();
            assert_eq!(same, 1, "{kind:?}");
        }
    }

    #[test]
    fn two_mints_differ() {
        assert_ne!(
            mint(Kind::AuthCode, &OsRandom),
            mint(Kind::AuthCode, &OsRandom)
        );
    }

    #[test]
    fn flipping_any_single_character_breaks_well_formed() {
        for kind in Kind::ALL {
            let token = mint(kind, &OsRandom);
            for position in 0..token.len() {
                for &replacement in URL_SAFE.iter().chain(b"=+/.~ ") {
                    if replacement == token.as_bytes()[position] {
                        continue;
                    }
                    let mut flipped = token.clone().into_bytes();
                    flipped[position] = replacement;
                    let flipped = String::from_utf8(flipped).unwrap();
                    assert!(!well_formed(kind, &flipped), "{flipped}");
                }
            }
        }
    }

    #[test]
    fn a_secret_with_another_prefix_and_a_matching_checksum_is_still_refused() {
        let access = mint(Kind::AccessToken, &OsRandom);
        let body = &access[PREFIX_LEN..PREFIX_LEN + BODY_LEN];
        let signed = format!("lkxx_{body}");
        let checksum = base62_checksum(crc32fast::hash(signed.as_bytes()));
        let forged = format!("{signed}{}", std::str::from_utf8(&checksum).unwrap());
        for kind in Kind::ALL {
            assert!(!well_formed(kind, &forged), "{kind:?}");
        }
    }

    #[test]
    fn malformed_shapes_are_refused() {
        let token = mint(Kind::AccessToken, &OsRandom);
        let cases = [
            String::new(),
            "lkat_".to_owned(),
            token[..LEN - 1].to_owned(),
            format!("{token}A"),
            format!("{token}="),
            format!(" {}", &token[1..]),
            token.to_uppercase(),
            "lkat_".to_owned() + &"é".repeat(24) + "000000",
            "x".repeat(10_000),
        ];
        for s in cases {
            assert!(!well_formed(Kind::AccessToken, &s), "{s:?}");
        }
    }

    #[test]
    fn a_body_with_non_zero_padding_bits_is_refused_even_with_a_correct_checksum() {
        let token = mint(Kind::AccessToken, &counting());
        // The body ends in '8' (0b111100); '9' (0b111101) sets a padding bit.
        let mut signed = token[..PREFIX_LEN + BODY_LEN].to_owned();
        assert_eq!(signed.pop(), Some('8'));
        signed.push('9');
        let checksum = base62_checksum(crc32fast::hash(signed.as_bytes()));
        let forged = format!("{signed}{}", std::str::from_utf8(&checksum).unwrap());
        assert!(!well_formed(Kind::AccessToken, &forged));
    }

    #[test]
    fn digest_is_sha_256() {
        let expected: [u8; 32] = [
            0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
            0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
            0xf2, 0x00, 0x15, 0xad,
        ];
        assert_eq!(digest("abc"), expected);
    }

    #[test]
    fn digest_eq_is_equality_and_unequal_lengths_are_unequal() {
        let a = digest("one");
        assert!(digest_eq(&a, &digest("one")));
        assert!(!digest_eq(&a, &digest("two")));
        assert!(!digest_eq(&a, &a[..31]));
        assert!(digest_eq(&[], &[]));
    }

    proptest! {
        #[test]
        fn well_formed_never_panics(s in any::<String>()) {
            for kind in Kind::ALL {
                let _ = well_formed(kind, &s);
            }
        }

        #[test]
        fn well_formed_never_panics_on_near_misses(s in "lk(at|rt|ac|ss|cs)_[A-Za-z0-9_=é-]{40,52}") {
            for kind in Kind::ALL {
                let _ = well_formed(kind, &s);
            }
        }

        #[test]
        fn any_minted_secret_is_well_formed_and_any_single_change_breaks_it(
            bytes in any::<[u8; 32]>(),
            position in 0..LEN,
            replacement in prop::sample::select(URL_SAFE.to_vec()),
        ) {
            let token = mint(Kind::AccessToken, &Fixed(bytes));
            prop_assert!(well_formed(Kind::AccessToken, &token));
            let mut changed = token.clone().into_bytes();
            changed[position] = replacement;
            let changed = String::from_utf8(changed).unwrap();
            prop_assert_eq!(well_formed(Kind::AccessToken, &changed), changed == token);
        }
    }
}
