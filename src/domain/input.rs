//! Input at the edge (issue 11, catalogue BR04 and IN01): the one rule every parameter passes
//! before a handler or the database sees it, so that SQLite and PostgreSQL (whose `text` refuses
//! NUL) answer the same 400, and nothing the client sent is silently changed.
//!
//! The rule:
//! - **Strict UTF-8.** A query string or form body is split on `&` and `=`, `+` reads as a space,
//!   `%XX` is decoded to its byte; the bytes of every name and value must then be UTF-8. Nothing
//!   is ever replaced with U+FFFD: a `state` goes back byte for byte, or the request is refused.
//! - **No control characters** (Unicode `Cc`: U+0000–U+001F and U+007F–U+009F) in a parameter
//!   name, nor in any value that is an identifier, a name or a protocol parameter ([`Field::Line`]):
//!   usernames, passwords, emails, site and app names, URLs, every OAuth parameter, CSRF tokens,
//!   REST query parameters and path segments, post titles and statuses.
//! - **Free text** ([`Field::Text`]) may also hold TAB, LF and CR, and nothing else of `Cc`. Free
//!   text is the exception and is named where it is read: a post's `content`, an app's
//!   `description`, the textareas that hold one value a line (`redirect_uris`, `js_origins`, each
//!   line then held to the one-line rule), and the playground's pasted `address`. A browser never
//!   sends a line break in any other field.
//!
//! Where the rule is applied: `http::params::Params` (every OAuth2 parameter; the login,
//! two-step, security and playground query strings and forms; `web::page::Form` for the other
//! pages), `oauth2::body` (multipart fields), `oauth2::token_info`, the REST edge layer
//! (`api::edge`) and post bodies, and `admin` for what the CLI passes in.

use std::borrow::Cow;

/// What kind of value a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// An identifier, a name or a protocol parameter: no control character at all.
    Line,
    /// Free text: TAB, LF and CR allowed, no other control character.
    Text,
}

/// Why a value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("is not valid UTF-8")]
    NotUtf8,
    #[error("contains a control character")]
    ControlCharacter,
}

/// A parameter that breaks the rule: `name` is `None` when the name itself is malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub name: Option<String>,
    pub problem: Problem,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "The \"{name}\" parameter {}.", self.problem),
            None => write!(f, "A parameter name {}.", self.problem),
        }
    }
}

impl std::error::Error for Malformed {}

impl Malformed {
    /// Whether the malformed parameter is `name`.
    pub fn is(&self, name: &str) -> bool {
        self.name.as_deref() == Some(name)
    }
}

/// Checks a decoded value against the rule for its kind of field.
pub fn check(value: &str, field: Field) -> Result<(), Problem> {
    let allowed = |c: char| field == Field::Text && matches!(c, '\t' | '\n' | '\r');
    if value.chars().any(|c| c.is_control() && !allowed(c)) {
        Err(Problem::ControlCharacter)
    } else {
        Ok(())
    }
}

fn hex(b: Option<&u8>) -> Option<u8> {
    (*b? as char).to_digit(16).map(|d| d as u8)
}

/// Percent-decodes one component (`+` is a space when `plus_is_space`), then applies the rule.
/// Borrows when there is nothing to decode, as on the hot path almost always.
pub fn decode(raw: &[u8], plus_is_space: bool, field: Field) -> Result<Cow<'_, str>, Problem> {
    let decoded: Cow<'_, [u8]> = if raw.contains(&b'%') || (plus_is_space && raw.contains(&b'+')) {
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            match raw[i] {
                b'+' if plus_is_space => out.push(b' '),
                b'%' => match (hex(raw.get(i + 1)), hex(raw.get(i + 2))) {
                    (Some(h), Some(l)) => {
                        out.push(h << 4 | l);
                        i += 2;
                    }
                    // A `%` that starts no escape stays as it is (WHATWG urlencoded parsing).
                    _ => out.push(b'%'),
                },
                b => out.push(b),
            }
            i += 1;
        }
        Cow::Owned(out)
    } else {
        Cow::Borrowed(raw)
    };
    let text = match decoded {
        Cow::Borrowed(b) => Cow::Borrowed(std::str::from_utf8(b).map_err(|_| Problem::NotUtf8)?),
        Cow::Owned(v) => Cow::Owned(String::from_utf8(v).map_err(|_| Problem::NotUtf8)?),
    };
    check(&text, field)?;
    Ok(text)
}

/// The raw `name`/`value` pieces of an `application/x-www-form-urlencoded` string, undecoded.
pub fn raw_pairs(raw: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    raw.split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| match piece.iter().position(|&b| b == b'=') {
            Some(at) => (&piece[..at], &piece[at + 1..]),
            None => (piece, &piece[piece.len()..]),
        })
}

/// Decodes one pair: the name always as a [`Field::Line`], the value as `field_of(name)` says.
pub fn decode_pair<'a>(
    name: &'a [u8],
    value: &'a [u8],
    field_of: impl Fn(&str) -> Field,
) -> Result<(Cow<'a, str>, Cow<'a, str>), Malformed> {
    let name = decode(name, true, Field::Line).map_err(|problem| Malformed {
        name: None,
        problem,
    })?;
    let field = field_of(&name);
    match decode(value, true, field) {
        Ok(value) => Ok((name, value)),
        Err(problem) => Err(Malformed {
            name: Some(name.into_owned()),
            problem,
        }),
    }
}

/// Decodes a form-urlencoded string: the well-formed pairs in order, and the malformed parameters
/// (left out of the pairs). `field_of` says which rule a parameter's value follows.
pub fn decode_form(
    raw: &[u8],
    field_of: impl Fn(&str) -> Field,
) -> (Vec<(String, String)>, Vec<Malformed>) {
    let mut pairs = Vec::new();
    let mut malformed = Vec::new();
    for (name, value) in raw_pairs(raw) {
        match decode_pair(name, value, &field_of) {
            Ok((n, v)) => pairs.push((n.into_owned(), v.into_owned())),
            Err(m) => malformed.push(m),
        }
    }
    (pairs, malformed)
}

/// Checks the segments of a request path: percent-decoded (a `+` stays a `+`), each must be
/// UTF-8 without control characters.
pub fn check_path(path: &str) -> Result<(), Problem> {
    path.split('/')
        .try_for_each(|segment| decode(segment.as_bytes(), false, Field::Line).map(drop))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_except_layout_in_free_text() {
        for bad in ["a\0b", "\u{1}", "x\u{1b}[31m", "\u{7f}", "\u{85}", "\u{9f}"] {
            assert_eq!(
                check(bad, Field::Line),
                Err(Problem::ControlCharacter),
                "{bad:?}"
            );
            assert_eq!(
                check(bad, Field::Text),
                Err(Problem::ControlCharacter),
                "{bad:?}"
            );
        }
        for layout in ["a\tb", "line\nline", "crlf\r\n"] {
            assert_eq!(check(layout, Field::Line), Err(Problem::ControlCharacter));
            assert_eq!(check(layout, Field::Text), Ok(()));
        }
        for fine in [
            "",
            "alice",
            "Zoë's blog ☕",
            "a b",
            "\u{a0}",
            "\u{200b}",
            "\u{fffd}",
        ] {
            assert_eq!(check(fine, Field::Line), Ok(()), "{fine:?}");
        }
    }

    #[test]
    fn decoding_is_strict_utf8_and_never_replaces_bytes() {
        for bad in ["%FF", "%C3%28", "%C0%AF", "%ED%A0%80", "abc%E2%82"] {
            assert_eq!(
                decode(bad.as_bytes(), true, Field::Line),
                Err(Problem::NotUtf8),
                "{bad}"
            );
        }
        assert_eq!(
            decode(b"alice%00x", true, Field::Line),
            Err(Problem::ControlCharacter)
        );
        assert_eq!(decode(b"a%0Ab", true, Field::Text).unwrap(), "a\nb");
        assert_eq!(
            decode(b"Zo%C3%AB+b%2B", true, Field::Line).unwrap(),
            "Zoë b+"
        );
        assert_eq!(decode(b"a+b", false, Field::Line).unwrap(), "a+b");
        assert_eq!(
            decode(b"100%+%zz%4", true, Field::Line).unwrap(),
            "100% %zz%4"
        );
        assert!(matches!(
            decode(b"lkat_x", true, Field::Line),
            Ok(Cow::Borrowed("lkat_x"))
        ));
        assert_eq!(
            decode(&[b'a', 0xff], true, Field::Line),
            Err(Problem::NotUtf8)
        );
    }

    #[test]
    fn a_form_keeps_its_good_pairs_and_reports_the_bad_ones() {
        let note_is_text = |name: &str| match name {
            "note" => Field::Text,
            _ => Field::Line,
        };
        let (pairs, bad) = decode_form(b"a=1&&state=%FF&b&note=x%0Ay&c=%00", note_is_text);
        assert_eq!(
            pairs,
            [("a", "1"), ("b", ""), ("note", "x\ny")].map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
        assert_eq!(bad.len(), 2);
        assert!(bad[0].is("state") && bad[1].is("c"));
        assert_eq!(
            bad[0].to_string(),
            "The \"state\" parameter is not valid UTF-8."
        );
        assert_eq!(
            bad[1].to_string(),
            "The \"c\" parameter contains a control character."
        );
        let (_, bad) = decode_form(b"x%00=1", |_| Field::Text);
        assert_eq!(
            bad[0].to_string(),
            "A parameter name contains a control character."
        );
        assert_eq!(decode_form(b"", |_| Field::Line), (vec![], vec![]));
    }

    #[test]
    fn path_segments_follow_the_rule() {
        assert_eq!(check_path("/rest/v1.1/sites/a%20b+c"), Ok(()));
        assert_eq!(check_path("/rest/v1.1/sites/%FF"), Err(Problem::NotUtf8));
        assert_eq!(
            check_path("/rest/v1.1/sites/x%00"),
            Err(Problem::ControlCharacter)
        );
    }
}
