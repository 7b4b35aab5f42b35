//! The playground as an OpenID Connect relying party (OpenID Connect Core §3.1.3.7): the ID token
//! of a 2.1 code flow, decoded (header and claims) and checked as a client would check it, against
//! the JWKS this server publishes (fetched through the router like every other call, and shown).
//!
//! All JOSE work is `jsonwebtoken`'s: the header, the key from the JWK named by `kid`, the RS256
//! signature, `iss`, `aud` and the required claims. Two checks are made here because they need what
//! the library does not have: `exp` against the server's injected clock (the library reads the
//! system clock, and tests move the server's), and `nonce` against the one the flow sent. `at_hash`
//! is compared with the access token's (`oidc::id_token::at_hash`, the issuer's own function).
//! When the signature does not verify, the claims are still shown, decoded without verification and
//! marked so.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// What the result page shows about an ID token.
pub(crate) struct IdTokenView {
    pub raw: String,
    /// The JOSE header, pretty JSON.
    pub header: String,
    /// The claims, pretty JSON (decoded without verification when `verified` is false).
    pub claims: String,
    pub verified: bool,
    /// What was checked and passed, or what failed.
    pub verdict: String,
}

/// What a relying party expects of the token.
pub(super) struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The nonce the authorization request sent (none on a refresh).
    pub nonce: Option<&'a str>,
    pub access_token: Option<&'a str>,
    pub now: i64,
}

fn pretty(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// The claims without verification: only to show what a token that failed says.
fn unverified_claims(token: &str) -> Option<Value> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.insecure_disable_signature_validation();
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_secret(&[]), &validation)
        .ok()
        .map(|t| t.claims)
}

/// Decodes `token` and verifies it against `jwks` (the JSON body of `/.well-known/jwks.json`).
pub(super) fn check(token: &str, jwks: Option<&Value>, expected: &Expected<'_>) -> IdTokenView {
    let header = match jsonwebtoken::decode_header(token) {
        Ok(h) => h,
        Err(e) => {
            return IdTokenView {
                raw: token.to_owned(),
                header: String::new(),
                claims: String::new(),
                verified: false,
                verdict: format!("Not a JWT this playground can read: {e}."),
            };
        }
    };
    let shown_header = pretty(&header);
    let failed = |why: String| IdTokenView {
        raw: token.to_owned(),
        header: shown_header.clone(),
        claims: unverified_claims(token)
            .map(|c| pretty(&c))
            .unwrap_or_default(),
        verified: false,
        verdict: why,
    };
    let Some(set) = jwks.and_then(|j| serde_json::from_value::<JwkSet>(j.clone()).ok()) else {
        return failed("The JWKS could not be read, so the signature was not checked.".into());
    };
    let Some(kid) = header.kid.as_deref() else {
        return failed("The header names no key (kid).".into());
    };
    let Some(jwk) = set.find(kid) else {
        return failed(format!("The JWKS has no key {kid}."));
    };
    let key = match DecodingKey::from_jwk(jwk) {
        Ok(k) => k,
        Err(e) => return failed(format!("The JWKS key {kid} is unusable: {e}.")),
    };
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[expected.issuer]);
    validation.set_audience(&[expected.client_id]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    // `exp` is compared below with the server's clock.
    validation.validate_exp = false;
    let claims = match jsonwebtoken::decode::<Value>(token, &key, &validation) {
        Ok(t) => t.claims,
        Err(e) => return failed(format!("Verification failed: {e}.")),
    };
    let mut checks = vec![
        format!("RS256 signature verified with key {kid} from the JWKS"),
        format!("iss is {}", expected.issuer),
        format!("aud is {}", expected.client_id),
    ];
    let exp = claims["exp"].as_i64().unwrap_or(0);
    if exp <= expected.now {
        return failed(format!(
            "The token expired at {exp} (now is {}).",
            expected.now
        ));
    }
    checks.push(format!("not expired (exp in {} s)", exp - expected.now));
    if let Some(sent) = expected.nonce {
        if claims["nonce"].as_str() != Some(sent) {
            return failed("The nonce is not the one the authorization request sent.".into());
        }
        checks.push("nonce matches the request's".into());
    }
    if let (Some(access), Some(at_hash)) = (expected.access_token, claims["at_hash"].as_str()) {
        if crate::oidc::id_token::at_hash(access) != at_hash {
            return failed("at_hash does not match the access token.".into());
        }
        checks.push("at_hash matches the access token".into());
    }
    IdTokenView {
        raw: token.to_owned(),
        header: shown_header,
        claims: pretty(&claims),
        verified: true,
        verdict: format!("Valid: {}.", checks.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;

    fn expected() -> Expected<'static> {
        Expected {
            issuer: "https://latchkey.example",
            client_id: "42",
            nonce: Some("n-0S6_WzA2Mj"),
            access_token: None,
            now: 1_800_000_000,
        }
    }

    /// A token the playground did not get from this server: HS256, signed with a shared secret.
    fn foreign(kid: Option<&str>) -> String {
        let header = Header {
            kid: kid.map(str::to_owned),
            ..Header::new(Algorithm::HS256)
        };
        let claims = json!({"iss": "https://latchkey.example", "aud": "42", "sub": "7",
                            "exp": 1_800_000_600, "iat": 1_800_000_000, "nonce": "n-0S6_WzA2Mj"});
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(b"shared")).unwrap()
    }

    #[test]
    fn what_is_not_a_jwt_is_said_so_and_nothing_is_decoded() {
        let view = check("not-a-jwt", None, &expected());
        assert!(!view.verified);
        assert!(view.verdict.starts_with("Not a JWT"), "{}", view.verdict);
        assert!(view.claims.is_empty());
    }

    #[test]
    fn without_a_jwks_the_claims_are_shown_but_not_called_verified() {
        let view = check(&foreign(Some("k1")), None, &expected());
        assert!(!view.verified);
        assert!(view.verdict.contains("not checked"), "{}", view.verdict);
        assert!(view.claims.contains("\"sub\": \"7\""), "{}", view.claims);
        assert!(view.header.contains("HS256"));
    }

    #[test]
    fn a_token_naming_no_key_or_a_key_the_jwks_lacks_is_not_verified() {
        let jwks = json!({"keys": []});
        let no_kid = check(&foreign(None), Some(&jwks), &expected());
        assert!(!no_kid.verified);
        assert!(
            no_kid.verdict.contains("names no key"),
            "{}",
            no_kid.verdict
        );
        let unknown = check(&foreign(Some("k1")), Some(&jwks), &expected());
        assert!(!unknown.verified);
        assert!(unknown.verdict.contains("no key k1"), "{}", unknown.verdict);
    }

    #[test]
    fn a_good_rs256_signature_is_valid_and_a_forged_payload_is_not() {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;

        use crate::domain::random::OsRandom;
        use crate::domain::signing_key;

        let key = signing_key::generate(&OsRandom).unwrap();
        let der = signing_key::pkcs1_der(&key.pkcs8_der).unwrap();
        let header = Header {
            kid: Some(key.kid.clone()),
            ..Header::new(Algorithm::RS256)
        };
        let claims = json!({"iss": "https://latchkey.example", "aud": "42", "sub": "7",
                            "exp": 1_800_000_600, "iat": 1_800_000_000, "nonce": "n-0S6_WzA2Mj"});
        let token =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_der(&der)).unwrap();
        let jwks = json!({"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig",
                                    "kid": key.kid, "n": key.n, "e": key.e}]});
        let good = check(&token, Some(&jwks), &expected());
        assert!(good.verified, "{}", good.verdict);
        assert!(good.verdict.starts_with("Valid: RS256 signature verified"));

        // The same header and signature over other claims: someone else's `sub`.
        let mut forged_claims = claims.clone();
        forged_claims["sub"] = json!("8");
        let payload = URL_SAFE_NO_PAD.encode(forged_claims.to_string());
        let parts: Vec<&str> = token.split('.').collect();
        let forged = [parts[0], payload.as_str(), parts[2]].join(".");
        let bad = check(&forged, Some(&jwks), &expected());
        assert!(!bad.verified);
        assert!(
            bad.verdict.starts_with("Verification failed"),
            "{}",
            bad.verdict
        );
        assert!(
            bad.claims.contains("\"sub\": \"8\""),
            "shown, marked unverified: {}",
            bad.claims
        );
    }
}
