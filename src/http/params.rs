//! Request parameters as OAuth2 reads them (RFC 6749 §3.1, §3.2): decoded once, an empty value
//! counts as absent, unknown parameters are ignored, and a parameter sent twice is an error.
//! Decoding follows `domain::input`: strict UTF-8 (never a U+FFFD in place of what was sent) and no
//! control character, except TAB, LF and CR in the free-text fields a caller names.

pub(crate) use crate::domain::input::Malformed;
use crate::domain::input::{Field, decode_form};

/// The decoded parameters of a query string or form body, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(Vec<(String, String)>);

/// A parameter that was sent more than once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("The \"{0}\" parameter was sent more than once.")]
pub(crate) struct Repeated(pub String);

impl Params {
    /// Every value an identifier or a protocol parameter; the first malformed parameter is the
    /// error.
    pub(crate) fn decode(raw: &[u8]) -> Result<Self, Malformed> {
        Self::decode_with_text(raw, &[])
    }

    /// As [`Params::decode`], with `text` naming the free-text fields (TAB, LF and CR allowed).
    pub(crate) fn decode_with_text(raw: &[u8], text: &[&str]) -> Result<Self, Malformed> {
        let (params, malformed) = Self::decode_partial(raw, text);
        Self::first(params, malformed)
    }

    fn first(params: Self, malformed: Vec<Malformed>) -> Result<Self, Malformed> {
        match malformed.into_iter().next() {
            None => Ok(params),
            Some(first) => Err(first),
        }
    }

    /// The well-formed parameters, and the malformed ones (left out), for an endpoint whose answer
    /// depends on which parameter was malformed (authorize: a page or a redirect).
    pub(crate) fn decode_partial(raw: &[u8], text: &[&str]) -> (Self, Vec<Malformed>) {
        let field_of = |name: &str| match text.contains(&name) {
            true => Field::Text,
            false => Field::Line,
        };
        let (pairs, malformed) = decode_form(raw, field_of);
        (Self(pairs), malformed)
    }

    /// The well-formed parameters only: a malformed one reads as absent. For callers not yet moved
    /// to [`Params::decode`], which says what was malformed; never the U+FFFD of lossy decoding.
    pub(crate) fn parse(raw: &[u8]) -> Self {
        Self::decode_partial(raw, &[]).0
    }

    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    /// The value of `name` when sent once with a non-empty value; `None` when absent or empty.
    pub(crate) fn get(&self, name: &str) -> Result<Option<&str>, Repeated> {
        let mut found = None;
        for (k, v) in &self.0 {
            if k == name {
                if found.is_some() {
                    return Err(Repeated(name.to_owned()));
                }
                found = Some(v.as_str());
            }
        }
        Ok(found.filter(|v| !v.is_empty()))
    }

    /// The first parameter, among `names`, that was sent more than once.
    pub(crate) fn first_repeated(&self, names: &[&str]) -> Option<Repeated> {
        names.iter().find_map(|n| self.get(n).err())
    }

    /// Every value of a parameter that may be sent more than once (`resource`: RFC 8707 §2), in
    /// order, empty values included.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_count_as_absent_and_repeats_are_errors() {
        let p = Params::decode(b"scope=&state=&code=A&code=B&extra=foobar&x=%41+b").unwrap();
        assert_eq!(p.get("scope"), Ok(None));
        assert_eq!(p.get("missing"), Ok(None));
        assert_eq!(p.get("code"), Err(Repeated("code".into())));
        assert_eq!(p.get("x"), Ok(Some("A b")));
        assert_eq!(
            p.first_repeated(&["state", "code"]),
            Some(Repeated("code".into()))
        );
    }

    #[test]
    fn malformed_values_are_refused_unless_free_text_allows_them() {
        let bad = Params::decode(b"client_id=1&state=%FF").unwrap_err();
        assert!(bad.is("state"));
        assert!(
            Params::decode(b"username=alice%00x")
                .unwrap_err()
                .is("username")
        );
        assert!(Params::decode(b"description=a%0Ab").is_err());
        let p = Params::decode_with_text(b"description=a%0Ab", &["description"]).unwrap();
        assert_eq!(p.get("description"), Ok(Some("a\nb")));
        assert!(Params::decode_with_text(b"description=a%00b", &["description"]).is_err());
        let (p, bad) = Params::decode_partial(b"client_id=1&scope=%C0%AF", &[]);
        assert_eq!(p.get("client_id"), Ok(Some("1")));
        assert_eq!(p.get("scope"), Ok(None));
        assert!(bad[0].is("scope"));
        assert_eq!(
            Params::parse(b"client_id=1&scope=%00").get("scope"),
            Ok(None)
        );
    }
}
