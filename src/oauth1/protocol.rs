//! The protocol (`oauth_*`) parameters of a request, gathered from the three places they may travel
//! (RFC 5849 §3.5, `spec/oauth1.md` §4), with the rules every signed endpoint shares. Checked before any
//! storage is touched, so a bad value is the same 400 on SQLite and PostgreSQL and never reaches the
//! shared nonce writer (security.md §3, issue 11). The vocabulary `signature` shares with it lives
//! here too: [`Location`] (where a parameter travelled) and [`ParamError`] (why the parameters were
//! refused); `signature` re-exports both, and uses this module, never the other way round.
//!
//! - **One place.** All protocol parameters travel in one place: the `Authorization` header, the form
//!   body, or the query string. A parameter sent twice, or parameters split over two places, is
//!   refused (RFC 5849 §3.5: "in exactly one"), as is the same parameter twice in one place.
//! - **One tolerated copy.** WP-API's own JavaScript client (`wordpress-rest-api-oauth-1`) sends
//!   `oauth_verifier` in the header and again in the form body. A form-body copy of `oauth_verifier` with
//!   the identical value is set aside: it is not a second parameter and is signed once, as that client
//!   signs it. Whether the endpoint takes it (only `/oauth1/access` does) is the caller's decision,
//!   through [`Gathered::verifier_copy`]; a differing value is a duplicate.
//! - **No control characters** in any protocol parameter's name or value: a NUL, another C0 or C1
//!   control character, or DEL. No client sends one, PostgreSQL refuses a NUL in text, and the values
//!   are stored (nonce, callback) or looked up (consumer key, token).

use std::collections::HashMap;
use std::fmt;

use super::problem_code::ProblemCode;

/// Echoed client input is cut to this many characters in error messages.
const ECHO_LIMIT: usize = 64;

/// Why a request's OAuth parameters were refused before any signature was computed. Every variant is a
/// 400 (RFC 5849 §3.2, `spec/oauth1.md` §5); the Display text is the `oauth_problem_advice`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("the Authorization header does not use the OAuth scheme")]
    NotOAuth,
    #[error(
        "the OAuth Authorization header is malformed: {0}; send OAuth name=\"value\" pairs separated \
         by commas (RFC 5849 §3.5.1)"
    )]
    MalformedHeader(&'static str),
    #[error(
        "the {0} holds a name or value that is not percent-encoded UTF-8; encode every name and \
         value as RFC 5849 §3.6 says"
    )]
    BadEncoding(Location),
    #[error(
        "the OAuth parameter {0} is sent more than once; send each protocol parameter once, in the \
         Authorization header, the form body or the query string"
    )]
    Duplicated(String),
    #[error(
        "the OAuth parameter {name} is in the {location} while oauth_signature is in the \
         {signature_location}; send every protocol parameter in one place (RFC 5849 §3.5)"
    )]
    Scattered {
        name: String,
        location: Location,
        signature_location: Location,
    },
    #[error(
        "the OAuth parameter {0} holds a NUL or another control character, which no protocol \
         parameter may contain"
    )]
    ControlCharacter(String),
    #[error("the required OAuth parameter {0} is missing")]
    Absent(&'static str),
    #[error("the signature method {0:?} is not supported; sign with HMAC-SHA1 or HMAC-SHA256")]
    UnsupportedSignatureMethod(String),
    #[error(
        "oauth_timestamp {0:?} is not a positive whole number of seconds since 1970 written in \
         digits only"
    )]
    BadTimestamp(String),
    #[error("oauth_version {0:?} is not supported; send 1.0 (or 1.0A) or leave it out")]
    BadVersion(String),
}

impl ParamError {
    /// The OAuth Problem Reporting code for `oauth_problem`.
    pub(crate) fn problem(&self) -> ProblemCode {
        match self {
            Self::NotOAuth | Self::Absent(_) => ProblemCode::ParameterAbsent,
            Self::MalformedHeader(_)
            | Self::BadEncoding(_)
            | Self::Duplicated(_)
            | Self::Scattered { .. }
            | Self::ControlCharacter(_) => ProblemCode::ParameterRejected,
            Self::UnsupportedSignatureMethod(_) => ProblemCode::SignatureMethodRejected,
            Self::BadTimestamp(_) => ProblemCode::TimestampRefused,
            Self::BadVersion(_) => ProblemCode::VersionRejected,
        }
    }
}

/// Where a parameter travelled (RFC 5849 §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Location {
    Header,
    Form,
    Query,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Header => "Authorization header",
            Self::Form => "form body",
            Self::Query => "query string",
        })
    }
}

/// The protocol parameters of one request: each name once, with its decoded value and where it was.
#[derive(Debug)]
pub(super) struct Gathered<'a> {
    by_name: HashMap<&'a str, (&'a str, Location)>,
    /// A form-body copy of `oauth_verifier`, identical to the one sent elsewhere, was set aside.
    pub verifier_copy: bool,
}

impl<'a> Gathered<'a> {
    /// Gathers the `oauth_*` parameters of the decoded header, form body and query string.
    pub(super) fn gather(
        header: &'a [(String, String)],
        form: &'a [(String, String)],
        query: &'a [(String, String)],
    ) -> Result<Self, ParamError> {
        let mut by_name: HashMap<&str, (&str, Location)> = HashMap::new();
        let mut verifier_copy = false;
        for (location, list) in [
            (Location::Header, header),
            (Location::Form, form),
            (Location::Query, query),
        ] {
            for (name, value) in list.iter().filter(|(n, _)| n.starts_with("oauth_")) {
                if name.chars().chain(value.chars()).any(char::is_control) {
                    return Err(ParamError::ControlCharacter(clip(
                        &name.escape_default().to_string(),
                    )));
                }
                let Some(&(first, first_location)) = by_name.get(name.as_str()) else {
                    by_name.insert(name, (value, location));
                    continue;
                };
                let tolerated = name == "oauth_verifier"
                    && !verifier_copy
                    && first == value
                    && (first_location == Location::Form) != (location == Location::Form);
                if !tolerated {
                    return Err(ParamError::Duplicated(clip(name)));
                }
                verifier_copy = true;
                if location != Location::Form {
                    // The copy is the form-body one; the parameter travelled with the others.
                    by_name.insert(name, (value, location));
                }
            }
        }
        Ok(Self {
            by_name,
            verifier_copy,
        })
    }

    pub(super) fn get(&self, name: &str) -> Option<&'a str> {
        self.by_name.get(name).map(|&(value, _)| value)
    }

    pub(super) fn location(&self, name: &str) -> Option<Location> {
        self.by_name.get(name).map(|&(_, location)| location)
    }

    /// Every protocol parameter travelled where `oauth_signature` did (RFC 5849 §3.5).
    pub(super) fn in_one_place(&self) -> Result<Location, ParamError> {
        let signature_location = self
            .location("oauth_signature")
            .ok_or(ParamError::Absent("oauth_signature"))?;
        let mut strays: Vec<(&str, Location)> = self
            .by_name
            .iter()
            .filter(|(_, (_, location))| *location != signature_location)
            .map(|(&name, &(_, location))| (name, location))
            .collect();
        strays.sort_unstable_by_key(|&(name, _)| name);
        match strays.first() {
            None => Ok(signature_location),
            Some(&(name, location)) => Err(ParamError::Scattered {
                name: clip(name),
                location,
                signature_location,
            }),
        }
    }
}

/// Client input cut short for an error message.
pub(super) fn clip(s: &str) -> String {
    match s.char_indices().nth(ECHO_LIMIT) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    const BASE: [(&str, &str); 3] = [
        ("oauth_consumer_key", "k"),
        ("oauth_nonce", "n"),
        ("oauth_signature", "s"),
    ];

    #[test]
    fn parameters_in_one_place_are_gathered_with_that_place() {
        let all = pairs(&BASE);
        for (header, form, query, place) in [
            (&all, &vec![], &vec![], Location::Header),
            (&vec![], &all, &vec![], Location::Form),
            (&vec![], &vec![], &all, Location::Query),
        ] {
            let gathered = Gathered::gather(header, form, query).unwrap();
            assert_eq!(gathered.in_one_place(), Ok(place));
            assert_eq!(gathered.get("oauth_nonce"), Some("n"));
            assert!(!gathered.verifier_copy);
        }
    }

    #[test]
    fn a_parameter_away_from_the_others_is_refused_by_name() {
        let header = pairs(&[("oauth_consumer_key", "k"), ("oauth_signature", "s")]);
        let elsewhere = pairs(&[("oauth_nonce", "n"), ("other", "x")]);
        for (form, query, location) in [
            (&elsewhere, &vec![], Location::Form),
            (&vec![], &elsewhere, Location::Query),
        ] {
            let err = Gathered::gather(&header, form, query)
                .unwrap()
                .in_one_place()
                .unwrap_err();
            assert_eq!(
                err,
                ParamError::Scattered {
                    name: "oauth_nonce".into(),
                    location,
                    signature_location: Location::Header,
                }
            );
            assert_eq!(err.problem().as_str(), "parameter_rejected");
            assert!(err.to_string().contains("one place"), "{err}");
        }
    }

    #[test]
    fn an_identical_form_copy_of_the_verifier_is_set_aside() {
        let mut header = pairs(&BASE);
        header.push(("oauth_verifier".into(), "v".into()));
        let form = pairs(&[("oauth_verifier", "v")]);
        let gathered = Gathered::gather(&header, &form, &[]).unwrap();
        assert!(gathered.verifier_copy);
        assert_eq!(gathered.location("oauth_verifier"), Some(Location::Header));
        assert_eq!(gathered.in_one_place(), Ok(Location::Header));
        // With the others in the query, the form copy is set aside just the same.
        let gathered = Gathered::gather(&[], &form, &header).unwrap();
        assert!(gathered.verifier_copy);
        assert_eq!(gathered.in_one_place(), Ok(Location::Query));
    }

    #[test]
    fn any_other_copy_or_a_differing_verifier_is_a_duplicate() {
        let mut header = pairs(&BASE);
        header.push(("oauth_verifier".into(), "v".into()));
        for (form, query) in [
            (pairs(&[("oauth_verifier", "w")]), vec![]),
            (vec![], pairs(&[("oauth_verifier", "v")])),
            (
                pairs(&[("oauth_verifier", "v"), ("oauth_verifier", "v")]),
                vec![],
            ),
            (pairs(&[("oauth_nonce", "n")]), vec![]),
            (pairs(&[("oauth_token", "t"), ("oauth_token", "t")]), vec![]),
        ] {
            let err = Gathered::gather(&header, &form, &query).unwrap_err();
            assert!(
                matches!(err, ParamError::Duplicated(_)),
                "{form:?} {query:?}"
            );
        }
    }

    #[test]
    fn control_characters_in_any_protocol_parameter_are_refused() {
        for (name, value) in [
            ("oauth_nonce", "a\0b"),
            ("oauth_consumer_key", "\0"),
            ("oauth_token", "t\x01"),
            ("oauth_callback", "https://client.example/\n"),
            ("oauth_verifier", "v\x7f"),
            ("oauth_version", "1.0\u{85}"),
            ("oauth_x\0", "v"),
            ("oauth_signature", "s\t"),
        ] {
            let mut query = pairs(&BASE);
            query.retain(|(n, _)| n != name);
            query.push((name.into(), value.into()));
            let err = Gathered::gather(&[], &[], &query).unwrap_err();
            assert!(matches!(err, ParamError::ControlCharacter(_)), "{name}");
            assert_eq!(err.problem().as_str(), "parameter_rejected");
            assert!(!err.to_string().contains('\0'), "{err}");
        }
        // Other parameters (a post's content) may hold line breaks; they are not protocol parameters.
        let form = pairs(&[("content", "line\nbreak")]);
        assert!(Gathered::gather(&pairs(&BASE), &form, &[]).is_ok());
    }
}
