//! Blog references: the authorize and password-grant `blog` parameter (a blog ID or a URL), and the
//! normal form blog URLs are stored and compared in (oauth2.md §2 `blog`, §4; product.md data model:
//! site URLs are "normalised for lookup").

/// What a `blog` parameter names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BlogRef {
    /// A numeric blog ID (always positive).
    Id(i64),
    /// A blog URL in the normal form of [`normalise`].
    Url(String),
}

impl BlogRef {
    /// True when this names the site with `id` and `url`: the same ID, or the same normalised URL.
    pub fn names(&self, id: i64, url: &str) -> bool {
        match self {
            BlogRef::Id(wanted) => *wanted == id,
            BlogRef::Url(key) => normalise(url).is_ok_and(|k| &k == key),
        }
    }
}

/// Why a `blog` value or a site URL cannot be used. Each message says what to send instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBlog {
    #[error("the blog is empty; send a numeric blog ID or the blog's URL, e.g. example.com")]
    Empty,
    #[error(
        "blog ID {0:?} is not a positive number that fits in 64 bits; send an ID from the site list"
    )]
    BadId(String),
    #[error(
        "the blog URL contains whitespace or a control character at byte {position}; \
         send the URL alone, without spaces"
    )]
    ControlOrWhitespace { position: usize },
    #[error(
        "the blog URL uses the {scheme:?} scheme; send an http:// or https:// URL, or just the domain"
    )]
    UnsupportedScheme { scheme: String },
    #[error(
        "the blog URL contains user information ('…@' before the host); send only the host and path"
    )]
    Userinfo,
    #[error("the blog URL has no host; send it as example.com or https://example.com/path")]
    EmptyHost,
    #[error(
        "the blog URL's host contains {ch:?}; a host is letters, digits, '-', '.' and an optional \
         :port (write an internationalised name in its xn-- form)"
    )]
    HostCharacter { ch: char },
    #[error(
        "the blog URL has a query or fragment ('?' or '#'); send the blog's address without it"
    )]
    QueryOrFragment,
}

/// Reads the `blog` parameter: all ASCII digits is a blog ID, anything else a URL or bare domain.
pub fn parse_blog_param(raw: &str) -> Result<BlogRef, InvalidBlog> {
    if raw.is_empty() {
        return Err(InvalidBlog::Empty);
    }
    // A signed number is a mistaken ID, not a host name (no DNS label starts with '-' or '+').
    let signed = raw.starts_with(['-', '+']);
    let digits = if signed { &raw[1..] } else { raw };
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return match raw.parse::<i64>() {
            Ok(id) if id > 0 && !signed => Ok(BlogRef::Id(id)),
            _ => Err(InvalidBlog::BadId(raw.to_owned())),
        };
    }
    normalise(raw).map(BlogRef::Url)
}

/// The normal form of a blog URL: no scheme, host in lower case, path kept as written but without
/// trailing slashes. `HTTPS://Example.COM/` → `example.com`; `example.com/blog/` → `example.com/blog`.
///
/// The scheme goes because WordPress.com clients send a blog as `http://…`, `https://…` or a bare
/// domain interchangeably and mean the same blog. The port is kept as written (`:443` is not
/// dropped): a blog on a non-default port is a different address. The path keeps its case and
/// percent-encoding, as servers treat paths case-sensitively.
pub fn normalise(url: &str) -> Result<String, InvalidBlog> {
    if url.is_empty() {
        return Err(InvalidBlog::Empty);
    }
    if let Some((position, _)) = url
        .char_indices()
        .find(|(_, c)| c.is_whitespace() || c.is_control())
    {
        return Err(InvalidBlog::ControlOrWhitespace { position });
    }
    let rest = strip_scheme(url)?;
    if rest.contains(['?', '#']) {
        return Err(InvalidBlog::QueryOrFragment);
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.contains('@') {
        return Err(InvalidBlog::Userinfo);
    }
    check_authority(authority)?;
    let mut normal = authority.to_ascii_lowercase();
    normal.push_str(path.trim_end_matches('/'));
    Ok(normal)
}

/// Removes `http://` or `https://` in any case; refuses any other scheme.
fn strip_scheme(url: &str) -> Result<&str, InvalidBlog> {
    let Some(at) = url.find("://") else {
        return Ok(url);
    };
    let scheme = &url[..at];
    if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") {
        Ok(&url[at + 3..])
    } else if scheme.contains('/') {
        // `example.com/see://this`: the `://` is in the path, not a scheme.
        Ok(url)
    } else {
        Err(InvalidBlog::UnsupportedScheme {
            scheme: scheme.to_owned(),
        })
    }
}

/// `host[:port]`, where host is a DNS name, an IPv4 address or a bracketed IPv6 address.
fn check_authority(authority: &str) -> Result<(), InvalidBlog> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let end = v6.find(']').ok_or(InvalidBlog::HostCharacter { ch: '[' })?;
        let (inside, after) = (&v6[..end], &v6[end + 1..]);
        if let Some(ch) = inside
            .chars()
            .find(|c| !(c.is_ascii_hexdigit() || *c == ':'))
        {
            return Err(InvalidBlog::HostCharacter { ch });
        }
        (inside, after)
    } else {
        let colon = authority.find(':').unwrap_or(authority.len());
        authority.split_at(colon)
    };
    if host.is_empty() {
        return Err(InvalidBlog::EmptyHost);
    }
    if !authority.starts_with('[')
        && let Some(ch) = host
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        return Err(InvalidBlog::HostCharacter { ch });
    }
    match port.strip_prefix(':') {
        None if port.is_empty() => Ok(()),
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err(InvalidBlog::HostCharacter { ch: ':' }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn digits_are_blog_ids() {
        assert_eq!(parse_blog_param("101"), Ok(BlogRef::Id(101)));
        assert_eq!(parse_blog_param("007"), Ok(BlogRef::Id(7)));
        assert_eq!(
            parse_blog_param("9223372036854775807"),
            Ok(BlogRef::Id(i64::MAX))
        );
    }

    #[test]
    fn zero_and_out_of_range_ids_are_refused() {
        for raw in [
            "0",
            "000",
            "-5",
            "+5",
            "9223372036854775808",
            "99999999999999999999999",
        ] {
            assert_eq!(
                parse_blog_param(raw),
                Err(InvalidBlog::BadId(raw.into())),
                "{raw}"
            );
        }
    }

    #[test]
    fn anything_else_is_a_normalised_url() {
        assert_eq!(
            parse_blog_param("HTTPS://Example.COM/"),
            Ok(BlogRef::Url("example.com".into()))
        );
        assert_eq!(
            parse_blog_param("101.example"),
            Ok(BlogRef::Url("101.example".into()))
        );
        assert_eq!(parse_blog_param(""), Err(InvalidBlog::Empty));
    }

    #[test]
    fn urls_normalise_to_scheme_less_lower_case_host_without_trailing_slash() {
        let cases: &[(&str, &str)] = &[
            ("HTTPS://Example.COM/", "example.com"),
            ("http://example.com", "example.com"),
            ("https://example.com", "example.com"),
            ("example.com", "example.com"),
            ("Example.com//", "example.com"),
            ("example.com/blog/", "example.com/blog"),
            ("https://Example.com/Blog/", "example.com/Blog"),
            ("example.com/a%20b", "example.com/a%20b"),
            ("example.com:8080/", "example.com:8080"),
            ("https://example.com:443", "example.com:443"),
            ("127.0.0.1:8080/site", "127.0.0.1:8080/site"),
            ("http://[::1]:8080/", "[::1]:8080"),
            ("http://[2001:DB8::1]/", "[2001:db8::1]"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
            ("my_site.example", "my_site.example"),
            ("example.com/see://this", "example.com/see://this"),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalise(raw).as_deref(), Ok(*expected), "{raw}");
        }
    }

    #[test]
    fn unusable_urls_are_refused_with_the_reason() {
        let unsupported = |s: &str| InvalidBlog::UnsupportedScheme {
            scheme: s.to_owned(),
        };
        #[rustfmt::skip]
        let cases: &[(&str, InvalidBlog)] = &[
            ("", InvalidBlog::Empty),
            (" example.com", InvalidBlog::ControlOrWhitespace { position: 0 }),
            ("example.com ", InvalidBlog::ControlOrWhitespace { position: 11 }),
            ("exam ple.com", InvalidBlog::ControlOrWhitespace { position: 4 }),
            ("example.com/\n", InvalidBlog::ControlOrWhitespace { position: 12 }),
            ("example.com\u{0}", InvalidBlog::ControlOrWhitespace { position: 11 }),
            ("https://", InvalidBlog::EmptyHost),
            ("https:///path", InvalidBlog::EmptyHost),
            ("/path", InvalidBlog::EmptyHost),
            (":8080", InvalidBlog::EmptyHost),
            ("https://user@example.com", InvalidBlog::Userinfo),
            ("user:pw@example.com/x", InvalidBlog::Userinfo),
            ("ftp://example.com", unsupported("ftp")),
            ("javascript://x", unsupported("javascript")),
            ("example.com/?p=1", InvalidBlog::QueryOrFragment),
            ("example.com#top", InvalidBlog::QueryOrFragment),
            ("bücher.example", InvalidBlog::HostCharacter { ch: 'ü' }),
            ("exa\\mple.com", InvalidBlog::HostCharacter { ch: '\\' }),
            ("example.com:", InvalidBlog::HostCharacter { ch: ':' }),
            ("example.com:80a", InvalidBlog::HostCharacter { ch: ':' }),
            ("[::1", InvalidBlog::HostCharacter { ch: '[' }),
            ("[::g]", InvalidBlog::HostCharacter { ch: 'g' }),
            ("[]", InvalidBlog::EmptyHost),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalise(raw).as_ref(), Err(expected), "{raw:?}");
        }
    }

    #[test]
    fn the_same_blog_written_differently_normalises_to_the_same_string() {
        let forms = [
            "example.com/blog",
            "http://example.com/blog",
            "https://EXAMPLE.com/blog/",
            "HTTP://Example.Com/blog//",
        ];
        for form in forms {
            assert_eq!(normalise(form).as_deref(), Ok("example.com/blog"), "{form}");
        }
    }

    proptest! {
        #[test]
        fn normalise_never_panics_and_is_idempotent(raw in any::<String>()) {
            if let Ok(once) = normalise(&raw) {
                prop_assert_eq!(normalise(&once), Ok(once.clone()));
            }
        }

        #[test]
        fn normalising_url_like_input_is_idempotent(
            raw in "(https?://)?[A-Za-z0-9.-]{1,12}(:[0-9]{1,4})?(/[A-Za-z0-9%-]{0,4}){0,3}/?"
        ) {
            if let Ok(once) = normalise(&raw) {
                prop_assert!(!once.ends_with('/'));
                prop_assert_eq!(normalise(&once), Ok(once.clone()));
            }
        }

        #[test]
        fn parse_blog_param_never_panics(raw in any::<String>()) {
            let _ = parse_blog_param(&raw);
        }
    }
}
