//! The consumer's side of a signed request (RFC 5849 §3.1, §3.5.1): the protocol parameters and the
//! `Authorization: OAuth …` header of an outgoing request, signed with [`signature`]'s base string
//! and HMAC, so a request built here verifies with the same code the endpoints use. The playground
//! uses it to act as a client of this very server; no endpoint calls it.

use url::Url;

use super::signature::{self, SignatureMethod};

/// Who signs: the consumer, and the token (request or access) once the client holds one.
pub struct Credentials<'a> {
    pub consumer_key: &'a str,
    pub consumer_secret: &'a str,
    /// The token and its secret.
    pub token: Option<(&'a str, &'a str)>,
}

/// What the caller supplies fresh for every request (RFC 5849 §3.3): the clock and the random
/// source are theirs, so this stays a pure function.
pub struct Freshness<'a> {
    pub timestamp: i64,
    pub nonce: &'a str,
}

/// The `Authorization` header value for `method path_and_query`, with HMAC-SHA1, every protocol
/// parameter (`extra` adds `oauth_callback` or `oauth_verifier`) in the header and `form` (the
/// `application/x-www-form-urlencoded` body, if any) signed too. The base string URI is built from
/// `public_url` exactly as the server builds it (`signature::base_string_uri`).
pub fn authorization_header(
    public_url: &Url,
    method: &str,
    path_and_query: &str,
    form: &[(String, String)],
    creds: &Credentials<'_>,
    extra: &[(&str, &str)],
    fresh: &Freshness<'_>,
) -> String {
    let mut oauth: Vec<(String, String)> = vec![
        ("oauth_consumer_key".into(), creds.consumer_key.into()),
        ("oauth_nonce".into(), fresh.nonce.into()),
        (
            "oauth_signature_method".into(),
            SignatureMethod::HmacSha1.as_str().into(),
        ),
        ("oauth_timestamp".into(), fresh.timestamp.to_string()),
        ("oauth_version".into(), "1.0".into()),
    ];
    if let Some((token, _)) = creds.token {
        oauth.push(("oauth_token".into(), token.into()));
    }
    oauth.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));

    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.extend(form.iter().cloned());
    params.extend(oauth.iter().cloned());
    let uri = signature::base_string_uri(public_url, path);
    let base = signature::base_string(method, &uri, &params);
    let token_secret = creds.token.map_or("", |(_, secret)| secret);
    let sig = signature::sign(
        SignatureMethod::HmacSha1,
        &base,
        creds.consumer_secret,
        token_secret,
    );
    oauth.push(("oauth_signature".into(), sig));
    oauth.sort();
    let fields: Vec<String> = oauth
        .iter()
        .map(|(k, v)| format!("{}=\"{}\"", signature::encode(k), signature::encode(v)))
        .collect();
    format!("OAuth {}", fields.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth1::signature::{RequestParts, collect};

    fn public() -> Url {
        Url::parse("https://auth.example:8443/").unwrap()
    }

    /// Signs, then verifies with the server's own collection and check.
    fn round_trip(creds: &Credentials<'_>, path: &str, form: &[(String, String)]) -> bool {
        let header = authorization_header(
            &public(),
            "POST",
            path,
            form,
            creds,
            &[(
                "oauth_callback",
                "https://auth.example:8443/playground/oauth1/callback",
            )],
            &Freshness {
                timestamp: 1_767_225_600,
                nonce: "n0nce",
            },
        );
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let (path, query) = path
            .split_once('?')
            .map_or((path, None), |(p, q)| (p, Some(q)));
        let parts = RequestParts {
            method: "POST",
            path,
            query,
            form_body: (!form.is_empty()).then_some(body.as_bytes()),
            authorization: Some(&header),
        };
        let collected = collect(&parts).unwrap();
        assert_eq!(
            collected.oauth.callback.as_deref(),
            Some("https://auth.example:8443/playground/oauth1/callback")
        );
        let base = collected.base_string(&parts, &public());
        collected.signature_matches(
            &base,
            creds.consumer_secret,
            creds.token.map_or("", |t| t.1),
        )
    }

    #[test]
    fn a_signed_request_verifies_with_the_servers_own_check() {
        let consumer = Credentials {
            consumer_key: "key",
            consumer_secret: "consumer secret&more",
            token: None,
        };
        assert!(round_trip(&consumer, "/oauth1/request", &[]));
        let with_token = Credentials {
            token: Some(("tok", "token secret")),
            ..consumer
        };
        let form = vec![("title".to_owned(), "a + b = c".to_owned())];
        assert!(round_trip(
            &with_token,
            "/wp-json/wp/v2/posts?x=1&x=2",
            &form
        ));
    }

    #[test]
    fn another_secret_does_not_verify() {
        let creds = Credentials {
            consumer_key: "key",
            consumer_secret: "right",
            token: Some(("tok", "secret")),
        };
        let header = authorization_header(
            &public(),
            "GET",
            "/wp-json/wp/v2/users/me",
            &[],
            &creds,
            &[],
            &Freshness {
                timestamp: 1,
                nonce: "n",
            },
        );
        let parts = RequestParts {
            method: "GET",
            path: "/wp-json/wp/v2/users/me",
            query: None,
            form_body: None,
            authorization: Some(&header),
        };
        let collected = collect(&parts).unwrap();
        let base = collected.base_string(&parts, &public());
        assert!(collected.signature_matches(&base, "right", "secret"));
        assert!(!collected.signature_matches(&base, "wrong", "secret"));
        assert!(header.starts_with("OAuth oauth_consumer_key=\"key\", oauth_nonce=\"n\", "));
    }
}
