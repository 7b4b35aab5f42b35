use serde_json::json;

use super::*;

const OWN: &str = "https://latchkey.example";

fn check_registration(body: Value) -> Result<ClientMetadata, MetadataError> {
    check(&body, Source::Registration, OWN)
}

#[test]
fn a_minimal_registration_is_a_confidential_code_client() {
    let m = check_registration(json!({"redirect_uris": ["https://app.example/cb"]})).unwrap();
    assert_eq!(m.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
    assert_eq!(m.grant_types, vec![GrantType::AuthorizationCode]);
    assert_eq!(m.response_types, vec!["code".to_owned()]);
    assert_eq!(m.app_type(), AppType::Web);
    assert!(!m.is_public());
}

#[test]
fn a_public_client_may_use_loopback_and_private_use_redirects() {
    let m = check_registration(json!({
        "redirect_uris": ["http://127.0.0.1/cb", "com.example.app:/cb"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
    }))
    .unwrap();
    assert!(m.is_public());
    assert_eq!(m.grant_types_stored(), "authorization_code refresh_token");
}

#[test]
fn a_confidential_client_may_not_use_private_use_schemes() {
    let e = check_registration(json!({"redirect_uris": ["com.example.app:/cb"]})).unwrap_err();
    assert!(matches!(e, MetadataError::InvalidRedirectUri(_)), "{e:?}");
}

#[test]
fn each_bad_field_is_refused_with_its_code() {
    use MetadataError::{InvalidClientMetadata as M, InvalidRedirectUri as R};
    type Case = (&'static str, Value, fn(String) -> MetadataError);
    let cases: Vec<Case> = vec![
        ("not an object", json!(["x"]), M),
        ("redirect_uris missing", json!({}), R),
        ("redirect_uris empty", json!({"redirect_uris": []}), R),
        (
            "redirect_uris a string",
            json!({"redirect_uris": "https://a.example/cb"}),
            M,
        ),
        (
            "fragment",
            json!({"redirect_uris": ["https://a.example/cb#x"]}),
            R,
        ),
        (
            "javascript",
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            R,
        ),
        (
            "plain http",
            json!({"redirect_uris": ["http://a.example/cb"]}),
            R,
        ),
        (
            "implicit",
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["implicit"]}),
            M,
        ),
        (
            "token response",
            json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
            M,
        ),
        (
            "unknown auth method",
            json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
            M,
        ),
        (
            "public client credentials",
            json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "none",
                   "grant_types": ["client_credentials"], "response_types": []}),
            M,
        ),
        (
            "code without authorization_code",
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["refresh_token"]}),
            M,
        ),
        (
            "name a number",
            json!({"redirect_uris": ["https://a.example/cb"], "client_name": 7}),
            M,
        ),
        (
            "name empty",
            json!({"redirect_uris": ["https://a.example/cb"], "client_name": " "}),
            M,
        ),
        (
            "client_uri not a URL",
            json!({"redirect_uris": ["https://a.example/cb"], "client_uri": "not a url"}),
            M,
        ),
        (
            "logo_uri javascript",
            json!({"redirect_uris": ["https://a.example/cb"], "logo_uri": "javascript:x"}),
            M,
        ),
        (
            "bad scope",
            json!({"redirect_uris": ["https://a.example/cb"], "scope": "a  b"}),
            M,
        ),
        (
            "contacts a string",
            json!({"redirect_uris": ["https://a.example/cb"], "contacts": "x"}),
            M,
        ),
    ];
    for (what, body, expected) in cases {
        let got = check_registration(body).expect_err(what);
        let want = expected(got.description().to_owned());
        assert_eq!(got, want, "{what}");
        assert!(!got.description().is_empty(), "{what}");
    }
}

#[test]
fn unknown_fields_and_nulls_are_ignored() {
    let m = check_registration(json!({
        "redirect_uris": ["https://a.example/cb"],
        "jwks_uri": "https://a.example/jwks",
        "client_name": null,
        "software_id": 42,
    }))
    .unwrap();
    assert_eq!(m.client_name, None);
}

#[test]
fn a_metadata_document_is_always_a_public_client() {
    let m = check(
        &json!({"redirect_uris": ["http://127.0.0.1/cb"]}),
        Source::MetadataDocument,
        OWN,
    )
    .unwrap();
    assert!(m.is_public());
    let e = check(
        &json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_post"}),
        Source::MetadataDocument,
        OWN,
    )
    .unwrap_err();
    assert!(matches!(e, MetadataError::InvalidClientMetadata(_)));
}

#[test]
fn metadata_document_urls_are_https_with_a_path() {
    for yes in [
        "https://app.example/client.json",
        "https://app.example/a/b?x=1",
    ] {
        assert!(is_metadata_document_url(yes, false), "{yes}");
    }
    for no in [
        "42",
        "https://app.example",
        "https://app.example/",
        "http://app.example/client.json",
        "https://u@app.example/client.json",
        "https://app.example/client.json#x",
        "http://127.0.0.1:9/client.json",
    ] {
        assert!(!is_metadata_document_url(no, false), "{no}");
    }
    assert!(is_metadata_document_url(
        "http://127.0.0.1:9/client.json",
        true
    ));
    assert!(!is_metadata_document_url(
        "http://localhost:9/client.json",
        true
    ));
}

#[test]
fn the_shown_redirect_host_is_whole() {
    assert_eq!(
        redirect_host("https://app.example.com/cb"),
        "app.example.com"
    );
    assert_eq!(
        redirect_host("https://login.bank.example.attacker.net:8443/cb"),
        "login.bank.example.attacker.net:8443"
    );
    assert_eq!(redirect_host("http://127.0.0.1:5000/cb"), "127.0.0.1:5000");
    assert_eq!(redirect_host("com.example.app:/cb"), "com.example.app");
}

#[test]
fn an_earlier_approval_of_an_unverified_client_never_covers_another_redirect_uri() {
    let a = "https://app.example/cb";
    let b = "https://app.example/other";
    assert!(RegistrationKind::Manual.earlier_approval_covers(a, b));
    for unverified in [
        RegistrationKind::Dynamic,
        RegistrationKind::MetadataDocument,
    ] {
        assert!(unverified.earlier_approval_covers(a, a));
        assert!(!unverified.earlier_approval_covers(a, b));
        assert!(!unverified.earlier_approval_covers(a, "https://app.example/cb/"));
        assert!(!unverified.is_verified());
    }
}

#[test]
fn closed_sets_round_trip() {
    for g in GrantType::ALL {
        assert_eq!(g.as_str().parse::<GrantType>(), Ok(*g));
    }
    for m in AuthMethod::ALL {
        assert_eq!(m.as_str().parse::<AuthMethod>(), Ok(*m));
    }
    for k in RegistrationKind::ALL {
        assert_eq!(k.as_str().parse::<RegistrationKind>(), Ok(*k));
    }
    assert_eq!(
        parse_grant_types("authorization_code bogus refresh_token"),
        vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
    );
}
