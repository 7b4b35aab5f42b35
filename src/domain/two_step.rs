//! 2-step authentication rules (oauth2.md §7): TOTP codes (RFC 6238: HMAC-SHA1, 6 digits, 30 s
//! steps, one step of drift either way), the enrolment QR code, recovery codes and application
//! passwords. Pure functions over plain values; the clock and random source are passed in.

use base64::Engine;
use qrcode::QrCode;
use qrcode::render::svg;
use totp_rs::{Algorithm, TOTP};

use super::random::Random;
use super::secret::digest_eq;

/// The RFC 6238 time step, in seconds.
pub const STEP_SECS: i64 = 30;
/// Steps of clock drift accepted on either side of the current one.
const SKEW: i64 = 1;
/// Length of a new TOTP seed: 160 bits, the HMAC-SHA1 block RFC 4226 §4 recommends.
pub const SECRET_BYTES: usize = 20;
/// How many recovery codes a user gets when enabling 2-step authentication.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code, without the separator.
const RECOVERY_LEN: usize = 10;
/// Characters of an application password, without spaces.
pub const APP_PASSWORD_LEN: usize = 16;

/// Lowercase letters and digits without the look-alikes `0 o 1 l i`: 31 symbols, easy to read
/// aloud and to type from a screen.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

fn totp(secret: &[u8]) -> Option<TOTP> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        SKEW as u8,
        STEP_SECS as u64,
        secret.to_vec(),
    )
    .ok()
}

/// The RFC 6238 time step of a Unix time.
pub fn step_of(now: i64) -> i64 {
    now.div_euclid(STEP_SECS)
}

/// The code for time step `step` (what an authenticator app shows then).
pub fn code_at(secret: &[u8], step: i64) -> Option<String> {
    let time = u64::try_from(step.checked_mul(STEP_SECS)?).ok()?;
    Some(totp(secret)?.generate(time))
}

/// The time step whose code `code` is, among the steps around `now` that come after `last_step`
/// (so a code, once used, never verifies again). Spaces are ignored; anything but six digits fails.
pub fn verify_code(secret: &[u8], code: &str, now: i64, last_step: Option<i64>) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step_of(now);
    let mut matched = None;
    // Every candidate is computed and compared, so the time taken does not depend on which matched.
    for step in (current - SKEW)..=(current + SKEW) {
        if last_step.is_some_and(|last| step <= last) {
            continue;
        }
        if let Some(expected) = code_at(secret, step)
            && digest_eq(expected.as_bytes(), code.as_bytes())
            && matched.is_none()
        {
            matched = Some(step);
        }
    }
    matched
}

/// A seed in RFC 4648 base32 without padding, as authenticator apps expect it typed.
pub fn base32(secret: &[u8]) -> String {
    totp_rs::Secret::Raw(secret.to_vec())
        .to_encoded()
        .to_string()
}

/// The same base32 seed in groups of four, for reading it off the screen.
pub fn base32_grouped(secret: &[u8]) -> String {
    group(&base32(secret), 4)
}

/// The `otpauth://` URI of the Key Uri Format that authenticator apps scan.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| {
        url::form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period={STEP_SECS}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

/// A QR code of `data` as an SVG `data:` URI, for an `<img>` under the page's CSP (`img-src data:`).
pub fn qr_data_uri(data: &str) -> Option<String> {
    let code = QrCode::new(data.as_bytes()).ok()?;
    let image = code
        .render::<svg::Color>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(image)
    ))
}

fn random_chars(random: &dyn Random, len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 32];
    while out.len() < len {
        random.fill(&mut buf);
        for &b in &buf {
            // 31 * 8 = 248: rejection sampling keeps every symbol equally likely.
            if b < 248 && out.len() < len {
                out.push(ALPHABET[(b % 31) as usize] as char);
            }
        }
    }
    out
}

/// Inserts a space every `n` characters.
pub fn group(s: &str, n: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars
        .chunks(n)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A new recovery code, shown as `xxxxx-xxxxx` (about 49 bits).
pub fn new_recovery_code(random: &dyn Random) -> String {
    let raw = random_chars(random, RECOVERY_LEN);
    format!("{}-{}", &raw[..5], &raw[5..])
}

/// A typed recovery code reduced to what is stored: spaces and hyphens dropped, lowercased. `None`
/// when it cannot be a recovery code.
pub fn normalise_recovery_code(typed: &str) -> Option<String> {
    let s: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    (s.len() == RECOVERY_LEN && s.bytes().all(|b| ALPHABET.contains(&b))).then_some(s)
}

/// A new application password: 16 characters (about 79 bits).
pub fn new_app_password(random: &dyn Random) -> String {
    random_chars(random, APP_PASSWORD_LEN)
}

/// A typed application password without its spaces, or `None` when it cannot be one (so an account
/// password is not checked against application passwords for nothing). Case is kept: verification
/// is exact.
pub fn normalise_app_password(typed: &str) -> Option<String> {
    if typed.len() > 64 {
        return None;
    }
    let s: String = typed.chars().filter(|c| *c != ' ').collect();
    (s.len() == APP_PASSWORD_LEN && s.bytes().all(|b| ALPHABET.contains(&b))).then_some(s)
}

/// The part of an application password kept in clear to find its row: the first four characters.
pub fn app_password_lookup(normalised: &str) -> &str {
    &normalised[..4]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::random::OsRandom;

    /// RFC 6238 Appendix B, SHA-1 seed, truncated to the 6 digits used here.
    const RFC_SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(
                code_at(RFC_SEED, step_of(time)).as_deref(),
                Some(code),
                "{time}"
            );
        }
    }

    #[test]
    fn a_code_verifies_within_one_step_of_drift_and_only_after_the_last_used_step() {
        let now = 1_767_225_600;
        let step = step_of(now);
        let code = code_at(RFC_SEED, step).unwrap();
        assert_eq!(verify_code(RFC_SEED, &code, now, None), Some(step));
        assert_eq!(
            verify_code(
                RFC_SEED,
                &format!("{} {}", &code[..3], &code[3..]),
                now,
                None
            ),
            Some(step)
        );
        assert_eq!(verify_code(RFC_SEED, &code, now + 30, None), Some(step));
        assert_eq!(verify_code(RFC_SEED, &code, now - 30, None), Some(step));
        assert_eq!(verify_code(RFC_SEED, &code, now + 90, None), None);
        assert_eq!(verify_code(RFC_SEED, &code, now, Some(step)), None);
        let next = code_at(RFC_SEED, step + 1).unwrap();
        assert_eq!(
            verify_code(RFC_SEED, &next, now, Some(step)),
            Some(step + 1)
        );
        for bad in [
            "",
            "12345",
            "1234567",
            "abcdef",
            "１２３４５６",
            &"9".repeat(10_000),
        ] {
            assert_eq!(verify_code(RFC_SEED, bad, now, None), None, "{bad:?}");
        }
    }

    #[test]
    fn the_enrolment_uri_and_qr_code_carry_the_seed() {
        let uri = otpauth_uri("Latchkey", "alice smith", RFC_SEED);
        assert_eq!(
            uri,
            "otpauth://totp/Latchkey:alice%20smith?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Latchkey&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(
            base32_grouped(RFC_SEED),
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
        );
        assert!(
            qr_data_uri(&uri)
                .unwrap()
                .starts_with("data:image/svg+xml;base64,")
        );
    }

    #[test]
    fn recovery_codes_are_read_back_whatever_the_spacing_and_case() {
        let code = new_recovery_code(&OsRandom);
        assert_eq!(code.len(), 11);
        let plain = code.replace('-', "");
        assert_eq!(normalise_recovery_code(&code).as_deref(), Some(&plain[..]));
        assert_eq!(
            normalise_recovery_code(&format!(" {} ", code.to_uppercase())).as_deref(),
            Some(&plain[..])
        );
        assert_eq!(normalise_recovery_code("123456"), None);
        assert_eq!(normalise_recovery_code("abcde-fghi0"), None);
    }

    #[test]
    fn application_passwords_ignore_spaces_and_nothing_else() {
        let pw = new_app_password(&OsRandom);
        assert_eq!(pw.len(), 16);
        let grouped = group(&pw, 4);
        assert_eq!(grouped.len(), 19);
        assert_eq!(normalise_app_password(&grouped).as_deref(), Some(&pw[..]));
        assert_eq!(normalise_app_password(&pw).as_deref(), Some(&pw[..]));
        assert_eq!(normalise_app_password(&pw.to_uppercase()), None);
        assert_eq!(normalise_app_password(&pw[..15]), None);
        assert_eq!(normalise_app_password("correct horse battery"), None);
        assert_eq!(app_password_lookup(&pw), &pw[..4]);
    }
}
