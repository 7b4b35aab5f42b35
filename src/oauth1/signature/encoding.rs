//! The text of a signed request: RFC 5849 §3.6 percent-encoding, the once-only percent-decoding of
//! §3.4.1.3.1 for the query string and form body, and the `Authorization: OAuth` header parser
//! (§3.5.1). The decisions they follow are in the parent module's documentation.

use std::collections::HashSet;

use super::{Location, ParamError, clip};

/// RFC 5849 §3.6 percent-encoding: `A-Z a-z 0-9 - . _ ~` stay, every other UTF-8 byte becomes `%XX`
/// with upper-case hex.
pub fn encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0x0f)] as char);
        }
    }
    out
}

/// Parses an `Authorization: OAuth …` value (RFC 5849 §3.5.1) into decoded pairs, in order, without
/// `realm`. A parameter given twice is an error; so is anything that is not `name="value"` pairs
/// separated by commas and optional blanks. [`ParamError::NotOAuth`] when the scheme is another one.
pub fn parse_authorization_header(value: &str) -> Result<Vec<(String, String)>, ParamError> {
    let rest = oauth_scheme_rest(value).ok_or(ParamError::NotOAuth)?;
    let b = rest.as_bytes();
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut i = 0;
    loop {
        i = skip_blanks(b, i);
        if i == b.len() {
            break;
        }
        if b[i] == b',' {
            // Empty list elements are allowed (RFC 7230 §7).
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !matches!(b[i], b' ' | b'\t' | b'=' | b',' | b'"') {
            i += 1;
        }
        if i == start {
            return Err(ParamError::MalformedHeader("a parameter has no name"));
        }
        let raw_name = &rest[start..i];
        i = skip_blanks(b, i);
        if i == b.len() || b[i] != b'=' {
            return Err(ParamError::MalformedHeader("a parameter has no value"));
        }
        i = skip_blanks(b, i + 1);
        let raw_value = if i < b.len() && b[i] == b'"' {
            let start = i + 1;
            i = start;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    return Err(ParamError::MalformedHeader(
                        "a quoted value holds a backslash",
                    ));
                }
                i += 1;
            }
            if i == b.len() {
                return Err(ParamError::MalformedHeader("a quoted value is not closed"));
            }
            i += 1;
            &rest[start..i - 1]
        } else {
            let start = i;
            while i < b.len() && !matches!(b[i], b' ' | b'\t' | b'=' | b',' | b'"') {
                i += 1;
            }
            &rest[start..i]
        };
        i = skip_blanks(b, i);
        if i < b.len() {
            if b[i] != b',' {
                return Err(ParamError::MalformedHeader(
                    "parameters must be separated by commas",
                ));
            }
            i += 1;
        }
        let bad = || ParamError::BadEncoding(Location::Header);
        let name = percent_decode(raw_name.as_bytes(), false).ok_or_else(bad)?;
        let value = percent_decode(raw_value.as_bytes(), false).ok_or_else(bad)?;
        if !seen.insert(name.clone()) {
            return Err(ParamError::Duplicated(clip(&name)));
        }
        if name != "realm" {
            out.push((name, value));
        }
    }
    Ok(out)
}

/// The part after the `OAuth` scheme name (matched case-insensitively), or `None` for another scheme.
pub(super) fn oauth_scheme_rest(value: &str) -> Option<&str> {
    let value = value.trim_matches([' ', '\t']);
    let (scheme, rest) = value.split_at(value.find([' ', '\t']).unwrap_or(value.len()));
    scheme.eq_ignore_ascii_case("OAuth").then_some(rest)
}

fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t') {
        i += 1;
    }
    i
}

/// `application/x-www-form-urlencoded` pairs (§3.4.1.3.1): `&`-separated, a name without `=` has an
/// empty value, empty pieces are skipped, and everything is decoded once with `+` as a space.
pub(super) fn parse_urlencoded(
    raw: &[u8],
    location: Location,
) -> Result<Vec<(String, String)>, ParamError> {
    raw.split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = match piece.iter().position(|&b| b == b'=') {
                Some(eq) => (&piece[..eq], &piece[eq + 1..]),
                None => (piece, &[][..]),
            };
            let decode = |raw| percent_decode(raw, true).ok_or(ParamError::BadEncoding(location));
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

/// Percent-decodes once; `None` for a `%` not followed by two hex digits or for non-UTF-8 output.
pub(super) fn percent_decode(raw: &[u8], plus_is_space: bool) -> Option<String> {
    fn hex(b: u8) -> Option<u8> {
        char::from(b).to_digit(16).map(|d| d as u8)
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'%' => {
                let hi = hex(*raw.get(i + 1)?)?;
                let lo = hex(*raw.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}
